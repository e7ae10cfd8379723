"""Expected output: the email and the Slack message of every event kind.

The files in ``expected/`` were written after reading each rendering as a reporter on a
phone would. Where the product's output reads worse than the file, the file is right.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.core.events import KINDS, Event
from scrubwatch.core.render import email_text, slack_message, subject

from . import samples

EXPECTED = Path(__file__).parent / "expected"
CASES = samples.BUILDERS

# 500 characters of Chinese with every kind of line break a page title can smuggle in.
LONG_NAME = ("招聘广告\n乌鲁木齐\r\n研发中心\u2028职位\t" * 50)[:500]


def expected_email(case: str) -> tuple[str, str]:
    text = (EXPECTED / f"{case}.email.txt").read_text("utf-8")
    head, body = text.split("\n\n", 1)
    assert head.startswith("Subject: ")
    return head.removeprefix("Subject: "), body


def expected_slack(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED / f"{case}.slack.json").read_text("utf-8"))
    return data


def test_every_kind_has_an_expected_email_and_slack_message() -> None:
    kinds = {CASES[case]().kind for case in CASES}
    assert kinds == set(KINDS)
    gone_reasons = {CASES[c]().reason for c in CASES if CASES[c]().kind == "gone"}
    assert gone_reasons == {"http_404", "redirect"}
    for case in CASES:
        assert (EXPECTED / f"{case}.email.txt").is_file()
        assert (EXPECTED / f"{case}.slack.json").is_file()


@pytest.mark.parametrize("case", CASES)
def test_email_subject_and_body(case: str) -> None:
    event = CASES[case]()
    want_subject, want_body = expected_email(case)

    assert subject(event) == want_subject
    assert email_text(event) == want_body


@pytest.mark.parametrize("case", CASES)
def test_slack_blocks(case: str) -> None:
    assert slack_message(CASES[case]())["blocks"] == expected_slack(case)["blocks"]


@pytest.mark.parametrize("case", CASES)
def test_slack_notification_text(case: str) -> None:
    # `text` is what a phone shows in the notification banner. The summaries already begin
    # with the label ("GONE: Agency ad 1001 now answers 404 Not Found."): it must not be
    # said twice ("GONE: GONE: ...").
    assert slack_message(CASES[case]())["text"] == expected_slack(case)["text"]


@pytest.mark.parametrize("case", CASES)
def test_subject_is_one_short_line_even_for_a_long_multiline_name(case: str) -> None:
    event = replace(CASES[case](), name=LONG_NAME)

    line = subject(event)

    assert len(line) < 100
    assert not any(ch in line for ch in "\r\n\u2028\u2029\x85\x0b\x0c\t")
    assert line.startswith("[scrubwatch] ")
    assert "招聘广告 乌鲁木齐 研发中心 职位" in line  # the name is still recognisable
    if event.reason == "http_404":
        assert line.endswith("… (404)")  # the reason survives the cut
    if event.reason == "redirect":
        assert line.endswith("… (redirected)")


@pytest.mark.parametrize("case", CASES)
def test_slack_header_is_one_line_within_slacks_150_characters(case: str) -> None:
    header = slack_message(replace(CASES[case](), name=LONG_NAME))["blocks"][0]

    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert "\n" not in header["text"]["text"]


def many(event: Event) -> Event:
    return replace(
        event,
        removed=[f"Removed job {i}" for i in range(1, 26)],
        added=[f"Added job {i}" for i in range(1, 15)],
        keywords_removed=[f"gone{i}" for i in range(1, 13)],
        keywords_added=[f"new{i}" for i in range(1, 12)],
    )


def test_email_lists_the_first_items_then_how_many_more() -> None:
    body = email_text(many(samples.changed()))

    removed = body.split("Removed:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert removed == [f"  - Removed job {i}" for i in range(1, 11)] + ["  ... and 15 more"]
    added = body.split("Added:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert added == [f"  - Added job {i}" for i in range(1, 11)] + ["  ... and 4 more"]
    assert "  - gone10\n  ... and 2 more\n" in body
    assert "  - new10\n  ... and 1 more\n" in body
    assert "Removed job 11" not in body


def test_slack_lists_the_first_items_then_how_many_more() -> None:
    message = slack_message(many(samples.changed()))
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]

    removed = next(s for s in sections if s.startswith("*Removed*"))
    assert removed.splitlines() == (
        ["*Removed*"] + [f"• Removed job {i}" for i in range(1, 11)] + ["… and 15 more"]
    )
    added = next(s for s in sections if s.startswith("*Added*"))
    assert added.splitlines()[-1] == "… and 4 more"
    vanished = next(s for s in sections if s.startswith("*Keywords that vanished*"))
    assert vanished.splitlines()[-1] == "… and 2 more"
    appeared = next(s for s in sections if s.startswith("*Keywords that appeared*"))
    assert appeared.splitlines()[-1] == "… and 1 more"


def test_exactly_ten_items_need_no_more_line() -> None:
    event = replace(samples.changed(), removed=[f"job {i}" for i in range(10)])

    assert "more" not in email_text(event).split("Removed:", 1)[1].split("\n\n", 1)[0]
    removed = slack_message(event)["blocks"][2]["text"]["text"]
    assert removed.startswith("*Removed*") and "more" not in removed
