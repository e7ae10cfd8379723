"""Page text made safe to print on a terminal (pure).

A page is untrusted, and a terminal obeys what it prints: an escape sequence in a job ad can
clear the screen, retitle the window, plant a hyperlink or, on some terminals, answer back
as if typed. ``\\r`` overwrites a line with another, and bidi overrides make text read in an
order other than the one it is in. ``safe`` removes escape sequences and shows every other
control character as a visible placeholder, so what a person reads is what the page said.
"""

from __future__ import annotations

import re

# What stands in for a control character: visible, and not something a page could be
# taken to have written as text.
PLACEHOLDER = "\ufffd"

# String sequences (OSC, DCS, SOS, PM, APC): an introducer, a payload, then BEL or ST
# (ESC \ or U+009C). The payload stops at a line end and at any other control: an
# unterminated sequence does not swallow the text after it (its introducer goes on its
# own, below), and no payload is scanned twice, so a page of introducers stays linear.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)"
# CSI (ESC [ or U+009B): parameter bytes, intermediate bytes, one final byte.
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
# Any other escape: ESC, intermediate bytes, one final byte (ESC c resets the terminal).
_ESCAPE = r"\x1b[\x20-\x2f]*[\x30-\x7e]"
_SEQUENCE = re.compile(f"{_STRING}|{_CSI}|{_ESCAPE}")

# C0 but tab and line feed, DEL, C1, and the bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) that reorder what follows them.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """``text`` without escape sequences, its other control characters made visible."""
    return _CONTROL.sub(PLACEHOLDER, _SEQUENCE.sub("", text))


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` on one line (runs of white space as one space), cut to ``limit`` characters
    with a closing "…": for messages that must stay one line, whatever they quote."""
    flat = " ".join(str(text).split())
    if limit is None or len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 0)] + "…"
