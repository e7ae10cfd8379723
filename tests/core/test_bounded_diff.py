"""A page that changes wholesale makes a bounded diff and a bounded event, quickly.

difflib is quadratic: a page that gained a row after each of its 40,000 rows once took four
minutes in the engine's event loop, and a 10 MB page whose every line changed made a 13.7 MB
event. These go through ``decide`` the way the engine does and check what comes out.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from scrubwatch.core.classify import Outcome
from scrubwatch.core.config import Settings, Watch
from scrubwatch.core.decide import Observation, WatchState, decide
from scrubwatch.core.diff import MAX_DIFF_LINES, MAX_DIFFLIB_LINES, unified, vanished
from scrubwatch.core.events import (
    MAX_ENTRIES,
    MAX_ENTRY_CHARS,
    MAX_LIST_BYTES,
    Event,
    VersionRef,
    capped,
)
from scrubwatch.core.reader import Reading, ReadSpec, read_page

URL = "https://jobs.example.com/all-rows.txt"
EVENT_LIMIT = 200 * 1024  # an event line must fit one SNS message (256 KB) with room
WHOLESALE = re.compile(
    r"@@ the page changed too much for a line-by-line diff: "
    r"(\d+) lines? removed, (\d+) lines? added @@"
)


def make_watch() -> Watch:
    return Watch(
        id="rows",
        name="All rows",
        url=URL,
        select=None,
        exclude=(),
        ignore=(),
        items=None,
        keywords=(),
        every=3600.0,
        notify=("email",),
        tags=(),
    )


def reading(lines: list[str]) -> Reading:
    body = ("\n".join(lines) + "\n").encode()
    return read_page(body, {"content-type": "text/plain; charset=utf-8"}, URL, ReadSpec())


def observe(read: Reading, previous: Reading | None, digest: str) -> Observation:
    version = VersionRef(digest, "2024-05-01T08:00:00.000Z", 200, URL, None)
    return Observation(Outcome("ok"), datetime(2024, 5, 1, 8, tzinfo=UTC), version, read, previous)


def change(before: list[str], after: list[str]) -> Event:
    """The event ``decide`` makes when a page that said ``before`` now says ``after``."""
    watch, settings = make_watch(), Settings()
    old, new = reading(before), reading(after)
    first = decide(watch, settings, WatchState(watch.id), observe(old, None, "v1"))
    second = decide(watch, settings, first.state, observe(new, old, "v2"))
    assert second.event is not None
    return second.event


def size(event: Event) -> int:
    line = event.dumps()
    assert Event.from_json(json.loads(line)) == event
    return len(line.encode())


# --- through decide ---------------------------------------------------------------------


def test_a_new_row_after_each_of_40000_rows() -> None:
    rows = [f"r{i}" for i in range(40_000)]
    after = [line for i in range(40_000) for line in (f"r{i}", f"new row {i}")]

    event = change(rows, after)

    assert event.summary == "CHANGED: All rows: 40000 lines added."
    assert (event.removed, event.removed_count) == ([], None)
    assert event.added_count == 40_000
    assert event.added == [f"new row {i}" for i in range(len(event.added))]
    lines = event.diff.split("\n")
    # Too much for difflib: the linear listing, with the true counts.
    assert lines[:3] == [
        "--- previous",
        "+++ current",
        "@@ the page changed too much for a line-by-line diff: "
        "0 lines removed, 40000 lines added @@",
    ]
    assert lines[3:-1] == [f"+new row {i}" for i in range(MAX_DIFF_LINES - 3)]
    assert lines[-1] == f"... diff truncated: {3 + 40_000 - MAX_DIFF_LINES} more lines"
    assert size(event) < EVENT_LIMIT


def test_a_10_mb_page_whose_every_line_changed() -> None:
    n = 200_000
    before = [f"{i:07d} position open, apply by 31 May, ref A{i:08d}" for i in range(n)]
    after = [f"{i:07d} position filled, thank you, ref B{i:08d}xx" for i in range(n)]
    assert len(("\n".join(after) + "\n").encode()) <= Settings().max_bytes

    event = change(before, after)

    assert event.summary == f"CHANGED: All rows: {n} lines removed; {n} lines added."
    assert (event.removed_count, event.added_count) == (n, n)
    assert event.removed == before[: len(event.removed)]
    assert event.added == after[: len(event.added)]
    match = WHOLESALE.search(event.diff)
    assert match and match.groups() == (str(n), str(n))
    assert size(event) < EVENT_LIMIT


@pytest.mark.parametrize(
    "fill", ["x", "删", '"', "\x01"], ids=["ascii", "cjk", "json-quoted", "json-escaped"]
)
@pytest.mark.parametrize("rows", [300, 3000], ids=["line-by-line", "wholesale"])
def test_the_event_line_stays_small_however_the_lines_are_written(fill: str, rows: int) -> None:
    # Long lines of the costliest characters: 3 bytes in UTF-8, 2 or 6 escaped in JSON.
    before = [f"{i} old " + fill * 2000 for i in range(rows)]
    after = [f"{i} new " + fill * 2000 for i in range(rows)]

    event = change(before, after)

    assert (event.removed_total, event.added_total) == (rows, rows)
    assert f"{rows} lines removed; {rows} lines added" in event.summary
    assert all(len(e) <= MAX_ENTRY_CHARS for e in event.removed + event.added)
    assert event.removed[0] == before[0][: MAX_ENTRY_CHARS - 1] + "…"
    assert size(event) < EVENT_LIMIT


def test_a_page_that_went_lists_what_it_said_within_bounds() -> None:
    watch, settings = make_watch(), Settings()
    old = reading([f"job {i}" for i in range(50_000)])
    state = decide(watch, settings, WatchState(watch.id), observe(old, None, "v1")).state
    gone = Observation(
        Outcome("gone", "http_404"), datetime(2024, 5, 2, tzinfo=UTC), previous_reading=old
    )
    for _ in range(settings.confirm_gone):
        t = decide(watch, settings, state, gone)
        state = t.state

    assert t.event is not None and t.event.kind == "gone"
    assert len(t.event.removed) == MAX_ENTRIES and t.event.removed_count == 50_000
    assert size(t.event) < EVENT_LIMIT


# --- the diff itself -----------------------------------------------------------------------


def test_one_line_changed_in_a_long_page_is_an_exact_hunk() -> None:
    before = [f"row {i}" for i in range(100_000)]
    after = [*before[:50_000], "row 50000, edited", *before[50_001:]]

    assert unified(before, after).split("\n") == [
        "--- previous",
        "+++ current",
        "@@ -49999,5 +49999,5 @@",
        " row 49998",
        " row 49999",
        "-row 50000",
        "+row 50000, edited",
        " row 50001",
        " row 50002",
    ]


def test_rows_only_added_are_a_real_hunk_however_many() -> None:
    before = ["top", "bottom"]
    after = ["top", *(f"new {i}" for i in range(50_000)), "bottom"]

    lines = unified(before, after, max_lines=10).split("\n")

    assert lines[:5] == ["--- previous", "+++ current", "@@ -1,2 +1,50002 @@", " top", "+new 0"]
    assert lines[-1] == f"... diff truncated: {3 + 50_002 - 10} more lines"


def test_just_within_the_bound_difflib_lines_them_up() -> None:
    rows = (MAX_DIFFLIB_LINES - 2) // 3  # the middle is rows - 1 old lines and 2 * rows new
    after = [line for i in range(rows) for line in (f"r{i}", f"new {i}")]

    out = unified([f"r{i}" for i in range(rows)], after, max_lines=10_000)

    assert "too much" not in out
    assert out.count("\n+new ") == rows and "\n-" not in out


def test_past_the_bound_lines_are_listed_as_removed_then_added_in_page_order() -> None:
    # Repeats count: two of "x3" went and one came, so one is listed as removed.
    before = [f"x{i % 7}" for i in range(MAX_DIFFLIB_LINES)]
    after = [f"x{i % 5}" for i in range(MAX_DIFFLIB_LINES)]

    lines = unified(before, after, max_lines=10_000).split("\n")

    removed, added = vanished(before, after), vanished(after, before)
    assert Counter(removed) == Counter(before) - Counter(after)
    match = WHOLESALE.fullmatch(lines[2])
    assert match and match.groups() == (str(len(removed)), str(len(added)))
    assert lines[3:] == [f"-{r}" for r in removed] + [f"+{a}" for a in added]


def test_past_the_bound_only_a_new_order_says_so() -> None:
    rows = [f"row {i}" for i in range(MAX_DIFFLIB_LINES)]

    lines = unified(rows, rows[::-1]).split("\n")

    assert lines == [
        "--- previous",
        "+++ current",
        "@@ the page changed too much for a line-by-line diff: only the order of lines changed @@",
    ]


def test_the_character_cap_counts_what_the_event_carries() -> None:
    # A control character takes six bytes in JSON (\u0001): the cap holds in those bytes.
    out = unified([], ["\x01" * 100] * 100, max_chars=1000)
    body = out.rsplit("\n", 1)[0]
    assert len(json.dumps(body, ensure_ascii=False).encode()) <= 1000
    assert out.endswith("more lines")


# --- capped lists and the event record ---------------------------------------------------


def test_capped_keeps_a_short_list_whole() -> None:
    assert capped(["a", "b"]) == (["a", "b"], None)
    assert capped([]) == ([], None)


def test_capped_keeps_the_first_entries_and_the_true_count() -> None:
    entries = [f"job {i}" for i in range(MAX_ENTRIES + 1)]
    assert capped(entries) == (entries[:MAX_ENTRIES], MAX_ENTRIES + 1)


def test_capped_clips_long_entries_and_stays_within_its_bytes() -> None:
    kept, count = capped(["删" * 1000] * MAX_ENTRIES)
    assert kept[0] == "删" * (MAX_ENTRY_CHARS - 1) + "…"
    assert count == MAX_ENTRIES and len(kept) < MAX_ENTRIES
    assert len(json.dumps(kept, ensure_ascii=False).encode()) <= MAX_LIST_BYTES


def test_the_counts_are_written_only_when_a_list_was_cut() -> None:
    event = Event("id", "w", "W", URL, "changed", None, "t", "s", removed=["a"])
    assert not {"removed_count", "added_count"} & set(event.to_json())
    cut = Event("id", "w", "W", URL, "changed", None, "t", "s", ["a"], ["b"], 5000, 7)
    data = json.loads(cut.dumps())
    assert (data["removed_count"], data["added_count"]) == (5000, 7)
    assert Event.from_json(data) == cut
    assert (cut.removed_total, cut.added_total) == (5000, 7)


def test_an_event_from_an_older_release_still_reads() -> None:
    old = {
        "schema": "scrubwatch.event/1",
        "event_id": "1a2b",
        "watch": "w",
        "name": "W",
        "url": URL,
        "kind": "changed",
        "reason": None,
        "detected_at": "2024-05-02T06:00:00.000Z",
        "summary": "CHANGED: W: 1 line removed.",
        "removed": ["a"],
        "added": [],
        "keywords_removed": [],
        "keywords_added": [],
        "previous": None,
        "current": None,
        "diff": "",
    }
    event = Event.from_json(old)
    assert (event.removed_count, event.removed_total, event.added_total) == (None, 1, 0)
    assert event.to_json() == old
