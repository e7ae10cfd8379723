"""What went and what came: removed/added lists and a bounded unified diff."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

MAX_DIFF_LINES = 400
MAX_DIFF_CHARS = 64_000


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
    lines = list(difflib.unified_diff(before, after, from_label, to_label, n=2, lineterm=""))
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        if i >= max_lines or size + len(line) + 1 > max_chars:
            out.append(f"... diff truncated: {len(lines) - i} more lines")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
