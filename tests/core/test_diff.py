"""Removed/added lists (multisets, in order) and the bounded unified diff."""

from __future__ import annotations

import difflib
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from scrubwatch.core.diff import MAX_DIFF_LINES, unified, vanished

# --- vanished ----------------------------------------------------------------------------


def test_vanished_basic() -> None:
    assert vanished(["a", "b", "c"], ["a", "c"]) == ["b"]
    assert vanished(["a", "b"], ["a", "b", "c"]) == []
    assert vanished([], ["a"]) == []
    assert vanished(["a", "b"], []) == ["a", "b"]


def test_vanished_counts_repeats() -> None:
    # Two identical job ads, one deleted: one of them vanished.
    assert vanished(["Driver", "Driver", "Cook"], ["Driver", "Cook"]) == ["Driver"]
    assert vanished(["x", "x", "x"], ["x"]) == ["x", "x"]
    assert vanished(["x"], ["x", "x"]) == []


def test_vanished_keeps_the_original_order() -> None:
    before = ["e", "d", "c", "b", "a"]
    assert vanished(before, ["c"]) == ["e", "d", "b", "a"]


def test_vanished_ignores_reordering() -> None:
    assert vanished(["a", "b", "c"], ["c", "b", "a"]) == []


def test_vanished_keeps_the_later_copy_of_a_repeat() -> None:
    # Matches are consumed from the front: the first "a" is matched, the second vanished.
    assert vanished(["a", "b", "a"], ["a"]) == ["b", "a"]


def test_vanished_is_exact_about_text() -> None:
    assert vanished(["Job A"], ["job a", "Job A "]) == ["Job A"]


_ENTRIES = st.lists(st.sampled_from(["a", "b", "c", "d", "新疆", ""]), max_size=20)


@settings(deadline=None)
@given(_ENTRIES, _ENTRIES)
def test_vanished_is_multiset_difference_in_order(before: list[str], after: list[str]) -> None:
    gone = vanished(before, after)
    assert Counter(gone) == Counter(before) - Counter(after)
    # A subsequence of `before`.
    it = iter(before)
    assert all(any(entry == b for b in it) for entry in gone)


@settings(deadline=None)
@given(_ENTRIES, _ENTRIES)
def test_vanished_both_ways_accounts_for_everything(before: list[str], after: list[str]) -> None:
    removed, added = vanished(before, after), vanished(after, before)
    assert Counter(before) - Counter(removed) == Counter(after) - Counter(added)


# --- unified --------------------------------------------------------------------------------


def test_unified_no_change_is_empty() -> None:
    assert unified(["a", "b"], ["a", "b"]) == ""


def test_unified_labels_and_lines() -> None:
    out = unified(["a", "b", "c"], ["a", "c", "d"])
    lines = out.split("\n")
    assert lines[:2] == ["--- previous", "+++ current"]
    assert "-b" in lines
    assert "+d" in lines
    assert not out.endswith("\n")


def test_unified_custom_labels() -> None:
    out = unified(["a"], ["b"], from_label="v1", to_label="v2")
    assert out.startswith("--- v1\n+++ v2\n")


def test_unified_truncates_by_lines_with_a_marker() -> None:
    before = [f"line {i}" for i in range(100)]
    after: list[str] = []
    full = unified(before, after)
    total = len(full.split("\n"))
    out = unified(before, after, max_lines=10)
    lines = out.split("\n")
    assert len(lines) == 11
    assert lines[:10] == full.split("\n")[:10]
    assert lines[-1] == f"... diff truncated: {total - 10} more lines"


def test_unified_truncates_by_characters_with_a_marker() -> None:
    before = ["x" * 100 for _ in range(50)]
    out = unified(before, [], max_chars=1000)
    assert len(out) <= 1000 + len("... diff truncated: 99999 more lines") + 1
    marker = out.split("\n")[-1]
    assert re.fullmatch(r"\.\.\. diff truncated: \d+ more lines", marker)


def test_unified_default_limit_on_a_huge_diff() -> None:
    before = [f"job {i}" for i in range(5000)]
    out = unified(before, [])
    lines = out.split("\n")
    assert len(lines) == MAX_DIFF_LINES + 1
    assert lines[-1].startswith("... diff truncated: ")


def test_unified_within_limits_has_no_marker() -> None:
    out = unified(["a"] * 5, ["b"] * 5, max_lines=100)
    assert "truncated" not in out


_LINES = st.lists(st.text(st.characters(blacklist_characters="\n"), max_size=30), max_size=40)


@settings(deadline=None)
@given(_LINES, _LINES, st.integers(min_value=1, max_value=50))
def test_unified_never_exceeds_its_line_budget(
    before: list[str], after: list[str], max_lines: int
) -> None:
    full = unified(before, after, max_lines=10_000)
    out = unified(before, after, max_lines=max_lines)
    if not full:
        assert out == ""
        return
    full_lines, lines = full.split("\n"), out.split("\n")
    if len(full_lines) <= max_lines:
        assert out == full
    else:
        assert lines[:max_lines] == full_lines[:max_lines]
        assert lines[max_lines:] == [
            f"... diff truncated: {len(full_lines) - max_lines} more lines"
        ]


_SHORT = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=15)


def _applied(before: list[str], diff: str) -> list[str]:
    """``before`` with a unified diff applied, checking each hunk's header on the way."""
    out: list[str] = []
    at = 0
    for hunk in re.split(r"\n(?=@@ )", diff)[1:]:
        header, *body = hunk.split("\n")
        m = re.fullmatch(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", header)
        assert m, header
        old_len = int(m.group(2) if m.group(2) is not None else 1)
        new_len = int(m.group(4) if m.group(4) is not None else 1)
        assert sum(line[0] in " -" for line in body) == old_len
        assert sum(line[0] in " +" for line in body) == new_len
        start = int(m.group(1)) - (1 if old_len else 0)
        out += before[at:start]
        at = start
        for line in body:
            if line[0] in " -":
                assert before[at] == line[1:]
                at += 1
            if line[0] in " +":
                out.append(line[1:])
    return out + before[at:]


@settings(deadline=None)
@given(_SHORT, _SHORT)
def test_unified_is_a_diff_that_applies(before: list[str], after: list[str]) -> None:
    # Lines shared at both ends are set aside before difflib runs: the hunks still apply.
    out = unified(before, after, max_lines=10_000)
    assert (out == "") == (before == after)
    if out:
        assert _applied(before, out) == after


@settings(deadline=None)
@given(_SHORT, _SHORT)
def test_unified_is_difflibs_when_nothing_is_shared_at_the_ends(
    before: list[str], after: list[str]
) -> None:
    if before and after and before[0] != after[0] and before[-1] != after[-1]:
        expected = difflib.unified_diff(before, after, "previous", "current", n=2, lineterm="")
        assert unified(before, after, max_lines=10_000) == "\n".join(expected)
