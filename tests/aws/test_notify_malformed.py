"""Slack on AWS, issue 10 M6: a malformed record fails alone, before anything is claimed,
and a post that fails for any reason releases its claim (posted once, on the next try)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from pytest_httpserver import HTTPServer
from scrubwatch.aws import notify as aws_notify

from .support import LambdaContext, Stack
from .test_slack_notifier import HOOK, alerts, posts, sqs_batch

PARAM = "/scrubwatch/hook"


class ShortLived(LambdaContext):
    """An invocation about to time out: its claims in progress lapse a millisecond after
    they are made, so the next delivery finds them expired (as SQS's next one would)."""

    def get_remaining_time_in_millis(self) -> int:
        return 1


@pytest.fixture(autouse=True)
def _send_to_the_last_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    """These invocations are "about to time out" only so that their claims lapse at once;
    they still send (the margin itself is tested in test_email_notifier.py)."""
    monkeypatch.setattr(aws_notify, "SEND_MARGIN_S", 0.0)


def lapse() -> None:
    time.sleep(0.01)


def set_webhook(url: str) -> None:
    boto3.client("ssm").put_parameter(Name=PARAM, Type="SecureString", Value=url, Overwrite=True)
    parameters.clear_caches()  # the notifier keeps the URL for minutes otherwise


@pytest.fixture
def webhook(aws: Stack, slack_hook: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    set_webhook(slack_hook.url_for(HOOK))
    monkeypatch.setenv("SLACK_WEBHOOK_PARAM", PARAM)
    slack_hook.expect_request(HOOK, method="POST").respond_with_data("ok")
    return slack_hook


def valid_body() -> dict[str, Any]:
    [event] = alerts(1)
    return event.to_json()


def with_current(**fields: Any) -> dict[str, Any]:
    body = valid_body()
    body["current"] = {**body["current"], **fields}
    return body


# What the old reader did with each: the fields passed it, then raised while posting (after
# the batch's events were claimed, and none was released) or were posted as if sound; the
# bodies that are not an object made the reader itself raise, failing the whole batch.
MALFORMED: dict[str, str] = {
    "unknown kind": json.dumps({**valid_body(), "kind": "vanished"}),
    "removed not a list": json.dumps({**valid_body(), "removed": 5}),
    "removed holds a number": json.dumps({**valid_body(), "removed": ["a line", 5]}),
    "event_id a number": json.dumps({**valid_body(), "event_id": 5}),
    "event_id empty": json.dumps({**valid_body(), "event_id": ""}),
    "VersionRef status a string": json.dumps(with_current(status="404")),
    "VersionRef evidence a number": json.dumps(with_current(evidence=5)),
    "a list": "[]",
    "null": "null",
    "a string": '"x"',
    "a number": "5",
}


def batch_around(body: str) -> dict[str, Any]:
    """Two valid events with the malformed record between them."""
    batch = sqs_batch(alerts(3)[1:], ["m-0", "m-1"])
    bad = {**batch["Records"][0], "messageId": "m-bad", "body": body}
    batch["Records"].insert(1, bad)
    return batch


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_record_fails_alone_and_the_valid_ones_post_once(
    handlers: SimpleNamespace, webhook: HTTPServer, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    batch = batch_around(body)

    first = handlers.notifier.lambda_handler(batch, ShortLived())
    lapse()  # a claim left in progress by the first delivery would be taken over now
    again = handlers.notifier.lambda_handler(batch, ShortLived())

    assert first == again == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert sorted(p["text"] for p in posts(webhook)) == ["GONE: GONE 1", "GONE: GONE 2"]
    assert "malformed alert m-bad" in caplog.text


@pytest.mark.parametrize("count", [1, 5], ids=["single post", "digest"])
def test_a_post_that_raises_releases_its_claims(
    handlers: SimpleNamespace, webhook: HTTPServer, count: int
) -> None:
    """An address httpx cannot even parse raises InvalidURL, not an HTTP error: the claims
    are released all the same, so once it is corrected the next delivery posts once."""
    batch = sqs_batch(alerts(count))
    set_webhook("http://[::1/services/T0/B0/notifier")

    reply = handlers.notifier.lambda_handler(batch, LambdaContext())

    assert reply == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in range(count)]}
    assert posts(webhook) == []

    set_webhook(webhook.url_for(HOOK))
    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert handlers.notifier.lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}
    assert len(posts(webhook)) == 1


# --- the claim's bookkeeping fails (DynamoDB throttles the notifier's client) -------------


def throttle(notifier: aws_notify.Notifier, operation: str) -> None:
    """Every ``operation`` call of this notifier's table client fails (moto serves the
    rest); Powertools makes its own client, so the stack's session hooks miss it."""

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, operation)

    notifier.persistence.client.meta.events.register(f"before-call.dynamodb.{operation}", fail)


def notifier_for(aws: Stack, hook: HTTPServer, context: LambdaContext) -> aws_notify.Notifier:
    return aws_notify.slack_notifier(aws.table, hook.url_for(HOOK), lambda_context=context)


def test_a_post_whose_completion_cannot_be_recorded_does_not_fail_its_record(
    aws: Stack, webhook: HTTPServer
) -> None:
    """Failing it would bring it back once its claim lapsed, and post it a second time."""
    alerts_, malformed = aws_notify.parse(sqs_batch(alerts(2))["Records"])
    notifier = notifier_for(aws, webhook, LambdaContext())
    throttle(notifier, "UpdateItem")  # save_success

    assert notifier.notify(alerts_) == []
    assert malformed == []
    assert len(posts(webhook)) == 2


def test_a_claim_that_cannot_be_released_lapses_and_is_posted_once_later(
    aws: Stack, webhook: HTTPServer
) -> None:
    webhook.clear()
    webhook.expect_request(HOOK, method="POST").respond_with_data("down", status=400)
    alerts_, _ = aws_notify.parse(sqs_batch(alerts(2))["Records"])
    first = notifier_for(aws, webhook, ShortLived())
    throttle(first, "DeleteItem")  # delete_record, the release

    assert first.notify(alerts_) == ["m-0", "m-1"]

    lapse()
    webhook.clear()
    webhook.expect_request(HOOK, method="POST").respond_with_data("ok")
    second = notifier_for(aws, webhook, LambdaContext())
    assert second.notify(alerts_) == []
    assert second.notify(alerts_) == []
    assert sorted(p["text"] for p in posts(webhook)) == ["GONE: GONE 0", "GONE: GONE 1"]
