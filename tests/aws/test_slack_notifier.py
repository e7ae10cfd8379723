"""Slack on AWS: once per event, a digest for a burst, 429 and 5xx handled, nothing dropped."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.core.events import Event
from werkzeug import Response

from .support import LambdaContext, Stack, sample_event

HOOK = "/services/T0/B0/notifier"


@pytest.fixture
def webhook(aws: Stack, slack_hook: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    boto3.client("ssm").put_parameter(
        Name="/scrubwatch/hook", Type="SecureString", Value=slack_hook.url_for(HOOK)
    )
    monkeypatch.setenv("SLACK_WEBHOOK_PARAM", "/scrubwatch/hook")
    return slack_hook


def alerts(n: int) -> list[Event]:
    base = Event.from_json(json.loads(sample_event("sqs-slack.json")["Records"][0]["body"]))
    return [
        dataclasses.replace(
            base, event_id=f"{i:032x}", watch=f"ad-{i}", name=f"Agency ad {i}", summary=f"GONE {i}"
        )
        for i in range(n)
    ]


def sqs_batch(events: list[Event], ids: list[str] | None = None) -> dict[str, Any]:
    template = sample_event("sqs-slack.json")["Records"][0]
    records = []
    for i, event in enumerate(events):
        record = copy.deepcopy(template)
        record["messageId"] = ids[i] if ids else f"m-{i}"
        record["body"] = event.dumps()
        records.append(record)
    return {"Records": records}


def posts(hook: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in hook.log]


def test_a_burst_is_one_digest_posted_once(handlers: SimpleNamespace, webhook: HTTPServer) -> None:
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    batch = sqs_batch(alerts(8))

    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}

    [digest] = posts(webhook)
    assert digest["text"].startswith("scrubwatch: 8 alerts")
    bodies = "\n".join(b["text"]["text"] for b in digest["blocks"][1:])
    assert all(f"GONE {i}" in bodies for i in range(8))


def test_the_same_event_twice_is_posted_once(
    handlers: SimpleNamespace, webhook: HTTPServer
) -> None:
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    [event] = alerts(1)

    first = handlers.notifier.lambda_handler(sqs_batch([event, event]), LambdaContext())
    again = handlers.notifier.lambda_handler(sqs_batch([event], ["m-9"]), LambdaContext())

    assert first == again == {"batchItemFailures": []}
    assert len(posts(webhook)) == 1


def test_rate_limited_then_posted(handlers: SimpleNamespace, webhook: HTTPServer) -> None:
    webhook.expect_ordered_request(HOOK, method="POST").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "0"})
    )
    webhook.expect_ordered_request(HOOK, method="POST").respond_with_data("ok")

    reply = handlers.notifier.lambda_handler(sqs_batch(alerts(1)), LambdaContext())

    assert reply == {"batchItemFailures": []}
    assert [r.status_code for _, r in webhook.log] == [429, 200]


def test_undeliverable_alerts_fail_their_records_and_are_posted_on_retry(
    handlers: SimpleNamespace, webhook: HTTPServer
) -> None:
    webhook.expect_request(HOOK, method="POST").respond_with_data("down", status=400)
    events = alerts(2)
    batch = sqs_batch(events)

    reply = handlers.notifier.lambda_handler(batch, LambdaContext())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}

    webhook.clear()
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert sorted(p["text"] for p in posts(webhook)) == ["GONE: GONE 0", "GONE: GONE 1"]


def test_a_malformed_record_fails_alone(handlers: SimpleNamespace, webhook: HTTPServer) -> None:
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    batch = sqs_batch(alerts(1))
    bad = copy.deepcopy(batch["Records"][0])
    bad["messageId"], bad["body"] = "m-bad", '{"not": "an event"}'
    batch["Records"].append(bad)

    reply = handlers.notifier.lambda_handler(batch, LambdaContext())

    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert len(posts(webhook)) == 1


def test_an_event_posted_in_a_digest_is_never_posted_again(
    handlers: SimpleNamespace, webhook: HTTPServer
) -> None:
    """The checker republishes after a failed commit, and SQS regroups messages: every
    event is posted once whichever batch, digest or single post it comes back in."""
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    events = alerts(6)
    handlers.notifier.lambda_handler(sqs_batch(events[:4]), LambdaContext())
    handlers.notifier.lambda_handler(sqs_batch([events[0]], ["m-again"]), LambdaContext())
    batch = sqs_batch([events[0], events[1], events[4], events[5]], ["a", "b", "c", "d"])
    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}

    texts = [p["text"] for p in posts(webhook)]
    assert texts == ["scrubwatch: 4 alerts (4 GONE)", "GONE: GONE 4", "GONE: GONE 5"]
