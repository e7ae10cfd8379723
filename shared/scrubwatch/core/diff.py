"""What went and what came: removed/added lists and a bounded unified diff.

A diff of two page versions must stay cheap however a page changes: it runs in the engine's
event loop, and difflib is quadratic (a page that gained a row after each of its 40,000
rows took four minutes). So the lines both versions share at the start and at the end are
set aside first, in linear time, and difflib only sees the middle that differs, and only
when that middle is small. Past that, the diff says the page changed too much for a
line-by-line diff and lists what was removed and what was added, each in page order.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

from .events import json_size

MAX_DIFF_LINES = 400
MAX_DIFF_CHARS = 64_000
# The most lines (both sides of the middle together) difflib is given. On the worst inputs
# found (a new row after or before each row, every other row changed) difflib took 0.05 s
# of CPU for 1,500 lines, 0.075 s for 2,000, 0.18 s for 3,000, twice that on a busy
# machine; reordered rows, rows all new or many repeats are far quicker.
MAX_DIFFLIB_LINES = 1_500
CONTEXT = 2  # unchanged lines shown around each change

Opcode = tuple[str, int, int, int, int]  # difflib's (tag, i1, i2, j1, j2)


def vanished(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """Entries of ``before`` missing from ``after``, counting repeats, in original order."""
    left = Counter(after)
    out = []
    for entry in before:
        if left[entry] > 0:
            left[entry] -= 1
        else:
            out.append(entry)
    return out


def unified(
    before: Sequence[str],
    after: Sequence[str],
    from_label: str = "previous",
    to_label: str = "current",
    max_lines: int = MAX_DIFF_LINES,
    max_chars: int = MAX_DIFF_CHARS,
) -> str:
    """A unified diff of two versions' lines, "" when they are the same, cut with a marker
    after ``max_lines`` lines or ``max_chars`` characters."""
    start, end_before, end_after = _differing_middle(before, after)
    middle_before, middle_after = before[start:end_before], after[start:end_after]
    if not middle_before and not middle_after:
        return ""
    head = [f"--- {from_label}", f"+++ {to_label}"]
    # Lines only added or only removed line up without difflib, however many they are.
    if len(middle_before) + len(middle_after) <= MAX_DIFFLIB_LINES or not (
        middle_before and middle_after
    ):
        ops = _opcodes(before, after, start, end_before, end_after)
        groups = list(_grouped(ops, CONTEXT))
        total = 2 + sum(1 + sum(_lines_of(op) for op in group) for group in groups)
        return _capped(chain(head, _hunks(before, after, groups)), total, max_lines, max_chars)
    removed, added = vanished(middle_before, middle_after), vanished(middle_after, middle_before)
    total = 2 + 1 + len(removed) + len(added)
    return _capped(chain(head, _wholesale(removed, added)), total, max_lines, max_chars)


def _differing_middle(before: Sequence[str], after: Sequence[str]) -> tuple[int, int, int]:
    """Where the lines the two versions share at their start and at their end leave off:
    ``start``, and the end of the differing middle in ``before`` and in ``after``."""
    shortest = min(len(before), len(after))
    start = 0
    while start < shortest and before[start] == after[start]:
        start += 1
    end_before, end_after = len(before), len(after)
    while (
        end_before > start and end_after > start and before[end_before - 1] == after[end_after - 1]
    ):
        end_before -= 1
        end_after -= 1
    return start, end_before, end_after


def _opcodes(
    before: Sequence[str], after: Sequence[str], start: int, end_before: int, end_after: int
) -> list[Opcode]:
    """difflib's opcodes for the whole of both versions, difflib run on the middle only."""
    middle_before, middle_after = before[start:end_before], after[start:end_after]
    middle: Sequence[Opcode]
    if not middle_after:
        middle = [("delete", 0, len(middle_before), 0, 0)]
    elif not middle_before:
        middle = [("insert", 0, 0, 0, len(middle_after))]
    else:
        matcher = difflib.SequenceMatcher(None, middle_before, middle_after)
        middle = matcher.get_opcodes()
    ops: list[Opcode] = [("equal", 0, start, 0, start)] if start else []
    ops += [(tag, i1 + start, i2 + start, j1 + start, j2 + start) for tag, i1, i2, j1, j2 in middle]
    if end_before < len(before):
        ops.append(("equal", end_before, len(before), end_after, len(after)))
    return ops


def _hunks(
    before: Sequence[str], after: Sequence[str], groups: list[list[Opcode]]
) -> Iterator[str]:
    """The ``@@`` hunks of a unified diff, as ``difflib.unified_diff`` writes them."""
    for group in groups:
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in before[i1:i2])
                continue
            yield from ("-" + line for line in before[i1:i2])
            yield from ("+" + line for line in after[j1:j2])


def _grouped(ops: list[Opcode], context: int) -> Iterator[list[Opcode]]:
    """Changes with ``context`` equal lines around them, nearby ones in one group
    (``SequenceMatcher.get_grouped_opcodes``, for opcodes made here rather than by it)."""
    group: list[Opcode] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            if n == 0:  # leading context only
                i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
            if n == len(ops) - 1:  # trailing context only
                i2, j2 = min(i2, i1 + context), min(j2, j1 + context)
            elif i2 - i1 > 2 * context and group:
                # A long stretch of equal lines ends one group and starts the next.
                group.append((tag, i1, i1 + context, j1, j1 + context))
                yield group
                group = []
                i1, j1 = i2 - context, j2 - context
        group.append((tag, i1, i2, j1, j2))
    if any(op[0] != "equal" for op in group):
        yield group


def _lines_of(op: Opcode) -> int:
    """How many lines of a hunk one opcode writes."""
    tag, i1, i2, j1, j2 = op
    return i2 - i1 if tag == "equal" else (i2 - i1) + (j2 - j1)


def _range(start: int, stop: int) -> str:
    """A hunk's line range, 1-based: ``3`` for one line, ``3,4`` for four, ``2,0`` for none."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start if length == 0 else start + 1},{length}"


def _wholesale(removed: list[str], added: list[str]) -> Iterator[str]:
    """Too much changed to line up: what went, then what came, each in page order."""
    what = f"{_lines(len(removed))} removed, {_lines(len(added))} added"
    if not (removed or added):
        what = "only the order of lines changed"
    yield f"@@ the page changed too much for a line-by-line diff: {what} @@"
    yield from ("-" + line for line in removed)
    yield from ("+" + line for line in added)


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def _capped(lines: Iterable[str], total: int, max_lines: int, max_chars: int) -> str:
    """The first lines of a diff of ``total`` lines, within ``max_lines`` and ``max_chars``.

    A line's size is what it takes in an event's JSON (UTF-8, escapes included), never less
    than its length in characters, so the cap bounds both what a person reads and the bytes
    an event carries, however the page is written.
    """
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        cost = json_size(line) + 1
        if i >= max_lines or size + cost > max_chars:
            out.append(f"... diff truncated: {total - i} more lines")
            break
        out.append(line)
        size += cost
    return "\n".join(out)
