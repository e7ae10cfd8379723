"""The AWS clock: a slot per watch within its `every`, and which state changes are worth a
write."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from scrubwatch.core.config import Watch, parse_watchlist
from scrubwatch.core.decide import WatchState, settled
from scrubwatch.core.due import due_on_aws, is_due, next_due_on_aws, slot, slot_passed


def watch(watch_id: str) -> Watch:
    text = f"watches:\n  - id: {watch_id}\n    url: https://example.org/a\n    every: 1h\n"
    return parse_watchlist(text).watches[0]


def test_each_watch_comes_round_once_per_every_whatever_the_ticks() -> None:
    for ticks in ([0, 900, 1800, 2700, 3600], [0, 17, 1000, 1001, 3600], [0, 3600]):
        for n in range(50):
            w = watch(f"w-{n}")
            passes = sum(slot_passed(w, a, b) for a, b in pairwise(ticks))
            assert passes == 1


def test_slots_spread_over_the_interval() -> None:
    slots = [slot(watch(f"w-{n}")) for n in range(400)]
    assert all(0 <= s < 3600 for s in slots)
    quarters = [sum(q * 900 <= s < (q + 1) * 900 for s in slots) for q in range(4)]
    assert min(quarters) > 60  # about 100 each


def test_only_what_a_quiet_check_updates_leaves_a_state_settled() -> None:
    before = WatchState(watch_id="a", condition="up", fingerprint="f", last_checked=1.0, rev=3)
    quiet = replace(before, last_checked=9.0, last_success=9.0, etag='"x"', body_sha256="b")
    assert settled(before, quiet)
    assert not settled(before, replace(quiet, error_streak=1, error_reason="timeout"))
    assert not settled(before, replace(quiet, fingerprint="g"))
    assert not settled(before, replace(quiet, region_found=False))


def test_on_aws_a_settled_watch_is_next_due_at_its_slot() -> None:
    w = watch("w-1")
    checked = WatchState(watch_id="w-1", condition="up", last_checked=1000.0, settings_hash=None)
    due = next_due_on_aws(w, checked, 5000.0, recheck=600.0)
    assert 5000.0 < due <= 5000.0 + 3600 and (due - slot(w)) % 3600 == 0
    assert next_due_on_aws(w, WatchState(watch_id="w-1"), 5000.0, 600.0) == 5000.0  # unseen
    suspect = replace(checked, gone_streak=1)
    assert next_due_on_aws(w, suspect, 5000.0, 600.0) == 1600.0  # recheck after 10 min


def test_on_aws_a_watch_written_away_from_its_slot_is_still_checked_at_the_next() -> None:
    """Its first check (or a recheck) wrote its state five minutes before its slot: the
    slot's check goes ahead; only a duplicate moments after a check is skipped."""
    w = watch("w-1")
    checked = WatchState(watch_id="w-1", condition="up", last_checked=1000.0, rev=1)
    assert due_on_aws(w, checked, 1000.0 + 300, recheck=600.0)
    assert not due_on_aws(w, checked, 1000.0 + 5, recheck=600.0)
    assert not is_due(w, checked, 1000.0 + 300, 600.0)  # what the local rule would say
    suspect = replace(checked, gone_streak=1)
    assert not due_on_aws(w, suspect, 1000.0 + 300, 600.0)  # its recheck is not yet due
    assert due_on_aws(w, suspect, 1000.0 + 600, 600.0)


def test_one_site_is_one_host_whatever_the_port_or_scheme() -> None:
    """What the scheduler groups messages by and the engine limits `per_host` by."""
    listed = parse_watchlist(
        "watches:\n"
        "  - {id: a, url: 'http://Jobs.Example.com:8080/a'}\n"
        "  - {id: b, url: 'https://jobs.example.com/b'}\n"
        "  - {id: c, url: 'https://cdn.example.com/c'}\n",
        "w.yaml",
    )
    assert [w.host for w in listed.watches] == [
        "jobs.example.com",
        "jobs.example.com",
        "cdn.example.com",
    ]
