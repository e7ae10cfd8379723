"""Page text cannot ping a channel, mention someone, or forge a link in Slack.

Slack parses ``<...>`` in mrkdwn (``<!channel>``, ``<@U123>``, ``<url|label>``) and decodes
``&amp;``, ``&lt;`` and ``&gt;``. Everything a page controls must reach Slack with ``&``,
``<`` and ``>`` escaped; the only ``<...>`` left are links the formatter makes from the
watched URL, labelled with that URL.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from scrubwatch.core.events import Event
from scrubwatch.core.render import email_text, escape, slack_digest, slack_message, subject

from . import samples
from .slackcheck import mrkdwn_texts

HOSTILE = [
    "<!channel>",
    "<!here> <!everyone>",
    "<https://evil.example|click here>",
    "Benefits &amp; pay",
    "<@U123> please call",
    "<!subteam^S0123> <#C0123|general>",
    "<!date^1392734382^{date}|Feb 18> & <mailto:a@evil.example|the editor>",
]
# The watched URL itself may carry `|` and mrkdwn: a label forged from it must not appear.
HOSTILE_URL = "https://jobs.example.org/ad?id=1|Official notice: click here&ref=<!channel>"
TAG = re.compile(r"<([^<>]*)>")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def hostile(event: Event, url: str = HOSTILE_URL) -> Event:
    return replace(
        event,
        name="Ad <!channel> & <@U123> <https://evil.example|click here>",
        url=url,
        summary="GONE: page says " + " ".join(HOSTILE),
        removed=list(HOSTILE),
        added=list(reversed(HOSTILE)),
        keywords_removed=["<!channel>", "&amp;"],
        keywords_added=["<@U123>"],
        diff="\n".join(f"-{line}" for line in HOSTILE),
    )


def own_link(url: str) -> str:
    """The one link the formatter may make: the watched URL, labelled with itself."""
    safe = escape(url).replace("|", "%7C")
    return f"<{safe}|{safe}>"


def assert_inert(message: dict[str, Any], urls: list[str]) -> None:
    links = {own_link(url) for url in urls}
    for text in mrkdwn_texts(message):
        for tag in TAG.findall(text):
            # Every tag Slack would parse is one of ours: target and label both the URL.
            assert f"<{tag}>" in links, f"page text made a Slack tag: <{tag}> in {text!r}"
        rest = text
        for link in links:
            rest = rest.replace(link, "")
        for danger in ("<!", "<@", "<#", "<http", "<mailto", "<", ">"):
            assert danger not in rest, f"{danger!r} reaches Slack unescaped in {text!r}"
        assert not ENTITY.search(rest), f"a bare '&' reaches Slack in {text!r}"


@pytest.mark.parametrize("case", samples.BUILDERS)
def test_slack_message_shows_page_text_literally(case: str) -> None:
    event = hostile(samples.BUILDERS[case]())

    message = slack_message(event)

    assert_inert(message, [event.url])
    body = "\n".join(mrkdwn_texts(message))
    assert "&lt;!channel&gt;" in body
    assert "&lt;https://evil.example|click here&gt;" in body
    assert "&lt;@U123&gt;" in body
    assert "Benefits &amp;amp; pay" in body  # `&amp;` on the page shows as `&amp;`


def test_the_watched_url_is_linked_but_cannot_choose_its_label() -> None:
    event = hostile(samples.gone_404())

    message = slack_message(event)

    summary = message["blocks"][1]["text"]["text"]
    tags = TAG.findall(summary)
    assert len(tags) == 1
    target, label = tags[0].split("|")
    assert target == label  # the label is the URL, whatever the URL contains
    assert "Official notice: click here" not in label.split("%7C")[0]
    assert label == escape(HOSTILE_URL).replace("|", "%7C")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/|Your editor asks you to log in here",
        "https://evil.example/a>b|<!channel>",
        "https://evil.example/%7C|x|y|z",
    ],
)
def test_no_url_can_forge_a_label(url: str) -> None:
    message = slack_message(replace(samples.gone_404(), url=url))

    summary = message["blocks"][1]["text"]["text"]
    (tag,) = TAG.findall(summary)
    assert tag.count("|") == 1
    target, label = tag.split("|")
    assert target == label
    assert_inert(message, [url])


def test_header_is_plain_text_so_the_name_shows_as_written() -> None:
    # plain_text is never parsed for mentions or links; escaping it would show "&lt;".
    event = hostile(samples.gone_404())

    header = slack_message(event)["blocks"][0]["text"]

    assert header["type"] == "plain_text"
    assert header["text"] == f"GONE: {event.name}"


def test_digest_shows_page_text_literally() -> None:
    events = [
        hostile(replace(samples.gone_404(), event_id=f"{i:032x}", watch=f"ad-{i}"), url=url)
        for i, url in enumerate(
            [HOSTILE_URL, "https://evil.example/|forged", "https://jobs.example.org/<!here>"] * 3
        )
    ]

    message = slack_digest(events)

    assert_inert(message, [e.url for e in events])
    assert "&lt;!channel&gt;" in "\n".join(mrkdwn_texts(message))


def test_email_is_plain_text_and_shows_page_text_unescaped() -> None:
    event = hostile(samples.gone_404())

    body = email_text(event)

    for text in HOSTILE:
        assert f"  - {text}" in body
    assert "&lt;" not in body
    assert "<!channel>" in subject(event)
