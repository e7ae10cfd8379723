"""Slack's limits: 3,000 characters a section, 50 blocks, a message well under 12,000.

Whatever a page throws at the formatter (thousands of removed lines, a huge diff, text
that grows when escaped), the message still posts, and says what it had to leave out.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from scrubwatch.core.events import Event
from scrubwatch.core.render import escape, slack_digest, slack_message

from . import samples
from .slackcheck import all_texts, total_text

# Plain text, and text that grows 4x or 5x when escaped, and text that is 3 bytes a char.
FILLERS = {"ascii": "x", "lt": "<", "amp": "&", "cjk": "删"}


def huge(event: Event, fill: str) -> Event:
    line = (fill * 500)[:500]
    return replace(
        event,
        name=fill * 3000,
        summary=f"CHANGED: {event.name}: " + fill * 5000,
        removed=[f"{i} {line}"[:500] for i in range(5000)],
        added=[f"{i} {line}"[:500] for i in range(5000)],
        keywords_removed=[line] * 200,
        keywords_added=[line] * 200,
        diff="\n".join(f"-{line}" for _ in range(10_000)),
    )


def assert_within_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        for element in block.get("elements", []):
            assert 0 < len(element["text"]) <= 3000
    assert len(message["text"]) <= 3000
    assert total_text(message) < 12_000


@pytest.mark.parametrize("fill", FILLERS.values(), ids=FILLERS.keys())
def test_one_huge_event_fits_slacks_limits(fill: str) -> None:
    event = huge(samples.changed(), fill)

    message = slack_message(event)

    assert_within_limits(message)
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][-1]["type"] == "context"  # times, evidence and ids stay
    assert event.event_id[:12] in message["blocks"][-1]["elements"][0]["text"]


def test_a_huge_event_says_how_many_items_it_left_out() -> None:
    message = slack_message(huge(samples.changed(), "x"))

    removed = next(t for t in all_texts(message) if t.startswith("*Removed*"))
    assert removed.endswith("… and 4990 more")
    assert len(removed.splitlines()) == 12


@pytest.mark.parametrize("fill", FILLERS.values(), ids=FILLERS.keys())
def test_a_huge_summary_does_not_push_out_the_link_to_the_page(fill: str) -> None:
    # The reporter has to be able to open the page: a long summary (a gone page that now
    # redirects to a 5,000-character URL, say) must be shortened, not the link after it.
    event = huge(samples.changed(), fill)

    summary = slack_message(event)["blocks"][1]["text"]["text"]

    link = escape(event.url)
    assert f"<{link}|{link}>" in summary
    assert len(summary) <= 3000


def many_events(n: int, fill: str = "", removed: int = 3) -> list[Event]:
    base = samples.gone_404()
    return [
        replace(
            base,
            event_id=f"{i:032x}",
            watch=f"ad-{i}",
            name=f"Agency ad {i}",
            url=f"https://jobs.example.org/agency/ads/{i}.html",
            summary=(
                f"GONE: Agency ad {i} now answers 404 Not Found.{fill}"
                if i % 3
                else f"CHANGED: Agency ad {i} now lists other jobs.{fill}"
            ),
            removed=[f"Job {j} of ad {i}{fill}" for j in range(removed)],
            kind="gone" if i % 3 else "changed",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("fill", "removed"), [("", 3), ("<" * 400, 3), ("x" * 3000, 5000)], ids=["plain", "lt", "big"]
)
def test_a_digest_of_200_events_fits_slacks_limits(fill: str, removed: int) -> None:
    message = slack_digest(many_events(200, fill, removed))

    assert_within_limits(message)
    assert message["blocks"][0]["text"]["text"] == "scrubwatch: 200 alerts (67 CHANGED, 133 GONE)"


@pytest.mark.parametrize(
    "events",
    [
        many_events(200),
        # The sample ad's own removed lines: what a scrubbed agency's ads look like.
        [replace(e, removed=samples.gone_404().removed) for e in many_events(200)],
        many_events(200, "x" * 3000, 5000),
    ],
    ids=["short", "ads", "big"],
)
def test_a_digest_accounts_for_every_event(events: list[Event]) -> None:
    # The digest may show only some of the events, but "... and N more alerts" must count
    # the rest: nothing may vanish from the message without a trace.
    message = slack_digest(events)

    texts = list(all_texts(message))
    shown = [e for e in events if any(f"Agency ad {e.watch[3:]} now" in t for t in texts)]
    more = re.fullmatch(r"… and (\d+) more alerts", texts[-1])
    assert more, texts[-1]
    assert len(shown) + int(more.group(1)) == 200, (len(shown), texts[-1])


def test_a_small_digest_shows_every_event() -> None:
    events = many_events(6)

    message = slack_digest(events)

    assert len(message["blocks"]) == 7
    assert not any("more alerts" in t for t in all_texts(message))
    for event in events:
        assert any(f"Agency ad {event.watch[3:]} now" in t for t in all_texts(message))
