"""Posting to a Slack incoming webhook on 127.0.0.1: rate limits, server errors, bursts."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.alerts import channels as publishers
from scrubwatch.alerts import slack
from scrubwatch.alerts.channels import Route, SlackPublisher
from scrubwatch.alerts.slack import SlackDeliveryFailed
from scrubwatch.core.events import Event
from scrubwatch.core.render import DIGEST_OVER, slack_message

from . import samples
from .support import Sleeps, Webhook

PATH = "/services/T000/B000/XXXX"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def bodies(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def test_429_retry_after_is_waited_out_then_posted_once(
    slack_server: HTTPServer, client: httpx.Client, sleeps: Sleeps
) -> None:
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "1"}
    )
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data("ok")
    payload = slack_message(samples.gone_404())

    slack.post(client, slack_server.url_for(PATH), payload, sleep=sleeps)

    slack_server.check_assertions()
    assert bodies(slack_server) == [payload, payload]  # one refused, one accepted
    assert sleeps.waits == [1.0]


def test_a_longer_retry_after_is_honoured(
    slack_server: HTTPServer, client: httpx.Client, sleeps: Sleeps
) -> None:
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "7"}
    )
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data("ok")

    slack.post(client, slack_server.url_for(PATH), {"text": "hi"}, sleep=sleeps)

    slack_server.check_assertions()
    assert sleeps.waits == [7.0]


def test_5xx_is_retried_until_it_posts(
    slack_server: HTTPServer, client: httpx.Client, sleeps: Sleeps
) -> None:
    for _ in range(2):
        slack_server.expect_ordered_request(PATH, method="POST").respond_with_data(
            "server_error", status=500
        )
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data("ok")

    slack.post(client, slack_server.url_for(PATH), {"text": "hi"}, sleep=sleeps)

    slack_server.check_assertions()
    assert len(slack_server.log) == 3
    assert len(sleeps.waits) == 2
    assert all(0 < w <= 30 for w in sleeps.waits)
    assert sleeps.waits[1] >= sleeps.waits[0]  # backing off, not hammering


def test_400_fails_at_once_without_retry(
    slack_server: HTTPServer, client: httpx.Client, sleeps: Sleeps
) -> None:
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data(
        "invalid_blocks", status=400
    )

    with pytest.raises(SlackDeliveryFailed, match="400"):
        slack.post(client, slack_server.url_for(PATH), {"text": "hi"}, sleep=sleeps)

    assert len(slack_server.log) == 1
    assert sleeps.waits == []


def test_5xx_every_time_gives_up_after_the_attempts(
    slack_server: HTTPServer, client: httpx.Client, sleeps: Sleeps
) -> None:
    slack_server.expect_request(PATH, method="POST").respond_with_data("down", status=503)

    with pytest.raises(SlackDeliveryFailed, match="503"):
        slack.post(client, slack_server.url_for(PATH), {"text": "hi"}, attempts=3, sleep=sleeps)

    assert len(slack_server.log) == 3


def test_a_webhook_nobody_answers_fails(
    client: httpx.Client, sleeps: Sleeps, closed_port: int
) -> None:
    with pytest.raises(SlackDeliveryFailed, match="ConnectError"):
        slack.post(client, f"http://127.0.0.1:{closed_port}{PATH}", {"text": "hi"}, sleep=sleeps)

    # Four attempts, a wait between each, none after the last (it would only delay the news).
    assert len(sleeps.waits) == 3


# --- SlackPublisher ------------------------------------------------------------------------


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps) -> Sleeps:
    """SlackPublisher's retries, with the waits recorded instead of slept."""
    monkeypatch.setattr(publishers, "post", functools.partial(slack.post, sleep=sleeps))
    return sleeps


def to_slack(min_severity: str = "low") -> Route:
    return Route("slack", lambda watch: ("email", "slack"), min_severity)


def gone_events(n: int) -> list[Event]:
    base = samples.gone_404()
    return [
        replace(
            base,
            event_id=f"{i:032x}",
            watch=f"ad-{i}",
            name=f"Agency ad {i}",
            summary=f"GONE: Agency ad {i} now answers 404 Not Found.",
        )
        for i in range(n)
    ]


def test_more_events_than_the_digest_threshold_become_one_digest(webhook: Webhook) -> None:
    events = gone_events(DIGEST_OVER + 1)

    done = SlackPublisher(webhook.url, to_slack()).publish(events)

    assert done == [e.event_id for e in events]
    (digest,) = webhook.delivered()
    n = DIGEST_OVER + 1
    assert digest["blocks"][0]["text"]["text"] == f"scrubwatch: {n} alerts ({n} GONE)"
    for i in range(n):
        assert any(f"GONE: Agency ad {i} now" in b["text"]["text"] for b in digest["blocks"])


def test_up_to_the_digest_threshold_events_are_posted_one_by_one(webhook: Webhook) -> None:
    events = gone_events(DIGEST_OVER)

    done = SlackPublisher(webhook.url, to_slack()).publish(events)

    assert done == [e.event_id for e in events]
    assert [p["blocks"][0]["text"]["text"] for p in webhook.delivered()] == [
        f"GONE: Agency ad {i}" for i in range(DIGEST_OVER)
    ]


def test_first_sightings_do_not_count_towards_a_digest(webhook: Webhook) -> None:
    events = [samples.first_seen(), *gone_events(DIGEST_OVER)]

    done = SlackPublisher(webhook.url, to_slack()).publish(events)

    assert sorted(done) == sorted(e.event_id for e in events)
    assert len(webhook.delivered()) == DIGEST_OVER
    assert all(p["blocks"][0]["text"]["text"].startswith("GONE") for p in webhook.delivered())


def test_a_failed_post_keeps_the_event(webhook: Webhook, fast_retries: Sleeps) -> None:
    webhook.status = 500
    events = [samples.gone_404(), samples.changed()]

    done = SlackPublisher(webhook.url, to_slack()).publish(events)

    assert done == []
    assert len(webhook.posts) == 4  # slack.post's attempts, then it gives up
    assert webhook.delivered() == []


def test_a_failed_digest_keeps_every_event(webhook: Webhook) -> None:
    webhook.status = 400

    done = SlackPublisher(webhook.url, to_slack()).publish(gone_events(8))

    assert done == []
    assert len(webhook.posts) == 1


def test_events_posted_before_a_failure_are_done_the_rest_kept(
    slack_server: HTTPServer, fast_retries: Sleeps
) -> None:
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data("ok")
    slack_server.expect_ordered_request(PATH, method="POST").respond_with_data(
        "invalid_payload", status=400
    )
    events = gone_events(3)

    done = SlackPublisher(slack_server.url_for(PATH), to_slack()).publish(events)

    assert done == [events[0].event_id]
    assert len(slack_server.log) == 2


def test_events_not_for_slack_are_done_without_a_post(webhook: Webhook) -> None:
    only_email = Route("slack", lambda watch: ("email",), "low")
    high_only = to_slack("high")
    changed = samples.changed()

    assert SlackPublisher(webhook.url, only_email).publish([samples.gone_404()]) == [
        samples.gone_404().event_id
    ]
    assert SlackPublisher(webhook.url, high_only).publish([changed]) == [changed.event_id]
    assert webhook.posts == []
