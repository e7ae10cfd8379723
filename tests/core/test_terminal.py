"""Page text printed on a terminal carries no escape sequences and no control characters."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from scrubwatch.core.events import Event, VersionRef
from scrubwatch.core.reader import ReadSpec, read_page
from scrubwatch.core.render import console_text
from scrubwatch.core.terminal import PLACEHOLDER, safe

# What a terminal acts on: C0 but tab and newline, DEL, C1, and the bidi controls.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

EVIL = (
    "Job \x1b]0;evil\x07ad"  # retitles the window
    " \x1b[2J"  # clears the screen
    "\x9b31mred"  # CSI in its one-character C1 form
    " Paid\rUnpaid"  # \r: "Unpaid" printed over "Paid"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "plain text, 新疆 and tabs\tstay\nas they are",
            "plain text, 新疆 and tabs\tstay\nas they are",
        ),
        ("\x1b]0;evil\x07title", "title"),
        ("\x1b]0;evil\x1b\\title", "title"),
        ("\x9d0;evil\x9ctitle", "title"),
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # a hyperlink
        ("\x1bP+q544e\x1b\\answer", "answer"),  # DCS: asks the terminal to answer back
        ("\x1b[2J\x1b[1;31mred\x1b[0m", "red"),
        ("\x9b31mred", "red"),
        ("\x1b[?1049h", ""),
        ("\x1bc reset", " reset"),
        ("\x1b(0 charset", " charset"),
        ("Paid\rUnpaid", f"Paid{PLACEHOLDER}Unpaid"),
        ("ding\x07 back\x08\x08", f"ding{PLACEHOLDER} back{PLACEHOLDER}{PLACEHOLDER}"),
        ("nul\x00 del\x7f nel\x85", f"nul{PLACEHOLDER} del{PLACEHOLDER} nel{PLACEHOLDER}"),
        (
            "\u202eevil\u202c \u2066x\u2069",
            f"{PLACEHOLDER}evil{PLACEHOLDER} {PLACEHOLDER}x{PLACEHOLDER}",
        ),
    ],
)
def test_safe(text: str, expected: str) -> None:
    assert safe(text) == expected


def test_an_unterminated_sequence_does_not_swallow_the_lines_after_it() -> None:
    out = safe("\x1b]0;no end\nJob A\nJob B")
    assert out == "0;no end\nJob A\nJob B"
    assert safe("\x1b[31") == "31"
    assert safe("trailing \x1b") == f"trailing {PLACEHOLDER}"


def test_nothing_unsafe_survives_whatever_the_input() -> None:
    every_char = "".join(map(chr, range(0x00, 0xA0))) + "\u202a\u202b\u202c\u202d\u202e"
    for text in (every_char, every_char[::-1], "\x1b" * 3 + "[[]]" + "\x9b" * 3, EVIL * 3):
        assert not UNSAFE.search(safe(text))


def test_a_page_of_introducers_stays_linear() -> None:
    # Each introducer's payload ends at the next one: nothing is scanned twice. Never
    # terminated, each introducer is a stray control character.
    assert safe("\x9dpayload " * 20_000) == f"{PLACEHOLDER}payload " * 20_000


def event_with(line: str) -> Event:
    return Event(
        event_id="5e1f",
        watch="ads",
        name=f"Ads {line}",
        url="https://jobs.example.com/ads",
        kind="changed",
        reason=None,
        detected_at="2024-05-02T06:00:00.000Z",
        summary=f"CHANGED: Ads: 1 line removed; 1 line added. {line}",
        removed=[line, "Driver"],
        added=[line],
        previous=VersionRef("v1", "2024-05-01T06:00:00.000Z", 200, "https://x.example", "e1"),
        current=VersionRef("v2", "2024-05-02T06:00:00.000Z", 200, "https://x.example", "e2"),
    )


def test_the_console_rendering_of_an_evil_page_line_is_safe() -> None:
    out = console_text(event_with(EVIL))

    assert not UNSAFE.search(out)
    assert "\x1b" not in out and "\x9b" not in out and "\r" not in out
    assert f"      - Job ad red Paid{PLACEHOLDER}Unpaid\n" in out
    assert out.startswith("[CHANGED] Ads: 1 line removed; 1 line added. Job ad")


def test_an_evil_page_read_and_rendered_for_the_console_is_safe() -> None:
    body = f"<html><body><p>{EVIL}</p><p>Driver</p></body></html>".encode()
    reading = read_page(body, {"content-type": "text/html"}, "https://x.example", ReadSpec())
    assert any("\x1b" in line for line in reading.lines)  # the reader keeps page text as is

    out = console_text(replace(event_with("x"), removed=list(reading.lines)))

    assert not UNSAFE.search(out)
    assert "Job ad red" in out


def test_the_console_rendering_of_an_ordinary_event_is_unchanged() -> None:
    event = replace(event_with("Cook"), removed=[f"Job {i}" for i in range(7)])
    assert console_text(event, shown=2) == (
        "[CHANGED] Ads: 1 line removed; 1 line added. Cook\n"
        "    https://jobs.example.com/ads\n"
        "    removed:\n"
        "      - Job 0\n"
        "      - Job 1\n"
        "      ... and 5 more\n"
        "    added:\n"
        "      - Cook\n"
        "    evidence (before): e1\n"
        "    evidence (now):    e2\n"
        "\n"
    )
