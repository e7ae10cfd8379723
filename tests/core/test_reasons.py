"""Every reason a check can give is worded once, in one table (core/reasons.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from scrubwatch.core.classify import classify
from scrubwatch.core.exchange import Fetch
from scrubwatch.core.reasons import (
    BLOCKED_STATUS,
    GONE_STATUS,
    WORDING,
    BlockedReason,
    DiscoveryReason,
    ErrorReason,
    FetchFailure,
    GoneReason,
    Reason,
    failed,
    short,
    wording,
)


def answer(**fields: object) -> Fetch:
    url = "http://127.0.0.1/"
    return Fetch(url=url, final_url=url, fetched_at=datetime(2026, 1, 1, tzinfo=UTC), **fields)  # type: ignore[arg-type]


def flat(literal: object) -> set[str]:
    out: set[str] = set()
    for arg in get_args(literal):
        out.update(flat(arg) if get_args(arg) else {arg})
    return out


def test_the_table_words_exactly_the_known_reasons() -> None:
    assert set(WORDING) == flat(Reason)
    assert flat(Reason) == (
        flat(GoneReason)
        | flat(BlockedReason)
        | flat(ErrorReason)
        | flat(DiscoveryReason)
        | {"reordered", "pages_unlinked"}
    )


def test_a_gone_reason_says_what_the_page_does_now_and_an_error_how_the_check_failed() -> None:
    assert all(wording(r).gone != "is gone" for r in flat(GoneReason))
    assert all(wording(r).failed for r in flat(ErrorReason))


def test_every_fetch_failure_is_a_reason_the_check_reports() -> None:
    # "dns" (a name that does not resolve) is gone; every other failure is an error.
    for failure in flat(FetchFailure):
        fetch = answer(error=failure)
        outcome = classify(fetch, None, None)
        assert outcome.reason == failure
        assert outcome.kind == ("gone" if failure == "dns" else "error")


def test_statuses_map_to_their_reasons() -> None:
    for status, reason in {**GONE_STATUS, **BLOCKED_STATUS}.items():
        fetch = answer(status=status)
        assert classify(fetch, None, None).reason == reason


def test_an_unknown_reason_from_a_newer_release_reads_as_its_name() -> None:
    assert (short("quantum"), failed("quantum")) == ("quantum", "failed (quantum)")
    assert (short("http_404"), short("timeout")) == ("404", "timeout")
