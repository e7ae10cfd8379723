"""Email on AWS: alert topic -> email queue -> notifier -> email topic, once per event.

The email topic stands for the address: every message on it is one email. Faults are
injected with botocore hooks on the session the handlers' clients come from, or by cutting
an invocation off with an exception no handler catches, as the Lambda runtime would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from scrubwatch.aws import notify as aws_notify
from scrubwatch.core.events import Event

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack
from .test_faults import body, make_visible, minutes  # noqa: F401  (minutes: a fixture)
from .test_slack_notifier import alerts

pytestmark = IGNORE_EMPTY_METRICS


class CutOff(BaseException):
    """The runtime ending an invocation (its timeout, say): no handler code catches it."""


class Invocation(LambdaContext):
    """An invocation with ``remaining_ms`` left."""

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def ad(n: int) -> str:
    """The subject of the email for alerts(...)[n]."""
    return f"[scrubwatch] GONE: Agency ad {n} (404)"


def queue_alerts(aws: Stack, events: list[Event]) -> None:
    """What SNS hands the email queue for these events (raw delivery: the event JSON)."""
    for event in events:
        aws.sqs.send_message(QueueUrl=aws.email_queue_url, MessageBody=event.dumps())


_handed_out: list[dict[str, Any]] = []  # what the last deliver() received


def deliver(aws: Stack, handlers: SimpleNamespace, context: LambdaContext | None = None) -> Any:
    """One invocation of the notifier on what the email queue holds, as the event source
    mapping makes it: records it does not report failed are deleted."""
    messages = aws.receive_all(aws.email_queue_url)
    _handed_out[:] = messages
    reply = handlers.notifier.lambda_handler(
        aws.notifier_event(messages), context or LambdaContext()
    )
    failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.email_queue_url, ReceiptHandle=m["ReceiptHandle"])
    return reply


def hand_back(aws: Stack, messages: list[dict[str, Any]] | None = None) -> None:
    """The visibility timeout of what the email queue handed out last runs out."""
    for m in _handed_out if messages is None else messages:
        with contextlib.suppress(ClientError):  # deleted: delivered
            aws.sqs.change_message_visibility(
                QueueUrl=aws.email_queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )


def test_a_commit_that_fails_after_publishing_is_emailed_once(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Any,
    minutes: str,  # noqa: F811
) -> None:
    """The checker publishes, then its commit fails: the retry publishes the same event
    again, and the address still gets one email."""
    del site.pages["/minutes.html"]

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "Tx")

    aws.hook("before-call.dynamodb.TransactWriteItems", fail)
    [failing] = aws.send_checks(body(minutes))
    first = aws.deliver(handlers.checker)
    assert first.failed == [failing]
    aws.unhook("before-call.dynamodb.TransactWriteItems", fail)
    make_visible(aws, first)
    assert aws.deliver(handlers.checker).failed == []

    received = aws.receive_all(aws.email_queue_url)
    queued = [json.loads(m["Body"]) for m in received]
    hand_back(aws, received)
    assert [e["kind"] for e in queued] == ["gone", "gone"]
    assert queued[0]["event_id"] == queued[1]["event_id"]

    assert deliver(aws, handlers) == {"batchItemFailures": []}
    [email] = aws.emails()
    assert email["Subject"] == "[scrubwatch] GONE: Council minutes (404)"
    assert queued[0]["event_id"] in email["Message"]


def test_a_redelivered_batch_is_emailed_once(aws: Stack, handlers: SimpleNamespace) -> None:
    events = alerts(2)
    queue_alerts(aws, events)
    assert deliver(aws, handlers) == {"batchItemFailures": []}
    queue_alerts(aws, events)  # SQS delivers at least once
    assert deliver(aws, handlers) == {"batchItemFailures": []}

    assert sorted(e["Subject"] for e in aws.emails()) == [
        ad(0),
        ad(1),
    ]


def test_a_notifier_cut_off_after_sending_sends_nothing_twice(
    aws: Stack, handlers: SimpleNamespace
) -> None:
    """Cut off after the first email went and before the second: the batch comes back
    whole, the first is not sent again and the second is sent once."""
    queue_alerts(aws, alerts(2))
    calls: list[str] = []

    def cut_off_at_the_second(**_: Any) -> None:
        calls.append("publish")
        if len(calls) == 2:
            raise CutOff

    aws.hook("before-call.sns.Publish", cut_off_at_the_second)
    with pytest.raises(CutOff):
        deliver(aws, handlers, Invocation(remaining_ms=int(aws_notify.SEND_MARGIN_S * 1000) + 1000))
    assert [e["Subject"] for e in aws.emails()] == [ad(0)]
    aws.unhook("before-call.sns.Publish", cut_off_at_the_second)

    hand_back(aws)
    lapse_claims(aws)
    assert deliver(aws, handlers) == {"batchItemFailures": []}
    assert [e["Subject"] for e in aws.emails()] == [ad(1)]
    assert aws.receive_all(aws.email_queue_url) == []


def test_a_notifier_killed_between_sending_and_recording_sends_again_never_not_at_all(
    aws: Stack, handlers: SimpleNamespace
) -> None:
    """The one window left (documented in aws/notify.py): a process that dies in the
    milliseconds after SNS took the email and before its claim was recorded. Its
    redelivery sends that email a second time rather than losing it."""
    [event] = alerts(1)
    queue_alerts(aws, [event])

    def killed(**_: Any) -> None:
        raise CutOff

    aws.hook("after-call.sns.Publish", killed)  # SNS has taken it; the reply never comes
    with pytest.raises(CutOff):
        deliver(aws, handlers, Invocation(remaining_ms=int(aws_notify.SEND_MARGIN_S * 1000) + 1000))
    aws.unhook("after-call.sns.Publish", killed)
    hand_back(aws)
    lapse_claims(aws)
    assert deliver(aws, handlers) == {"batchItemFailures": []}

    assert [e["Subject"] for e in aws.emails()] == [
        ad(0),
        ad(0),
    ]


def test_with_too_little_time_left_nothing_is_started_and_all_comes_back(
    aws: Stack, handlers: SimpleNamespace
) -> None:
    """A send that the function's timeout could cut off half-way is not started: the
    records fail, their claims are released, and the next invocation sends each once."""
    queue_alerts(aws, alerts(2))
    short = Invocation(remaining_ms=int(aws_notify.SEND_MARGIN_S * 1000) - 1)

    reply = deliver(aws, handlers, short)

    assert len(reply["batchItemFailures"]) == 2
    assert aws.emails() == []
    hand_back(aws)
    assert deliver(aws, handlers) == {"batchItemFailures": []}  # no claim holds them back
    assert len(aws.emails()) == 2


def test_a_burst_is_one_digest_email(aws: Stack, handlers: SimpleNamespace) -> None:
    events = [dataclasses.replace(e, removed=[f"Job ad {e.watch}"]) for e in alerts(8)]
    queue_alerts(aws, events)

    assert deliver(aws, handlers) == {"batchItemFailures": []}

    [email] = aws.emails()
    assert email["Subject"] == "scrubwatch: 8 alerts (8 GONE)"
    for e in events:
        assert e.summary in email["Message"]
        assert f"Job ad {e.watch}" in email["Message"]


def test_email_and_slack_each_get_the_event_once(
    aws: Stack,
    handlers: SimpleNamespace,
    slack_hook: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The claims are per channel: the email sent does not stop the Slack post."""
    from .test_slack_notifier import HOOK, posts, sqs_batch

    boto3.client("ssm").put_parameter(
        Name="/scrubwatch/hook", Type="SecureString", Value=slack_hook.url_for(HOOK)
    )
    monkeypatch.setenv("SLACK_WEBHOOK_PARAM", "/scrubwatch/hook")
    slack_hook.expect_request(HOOK, method="POST").respond_with_data("ok")
    [event] = alerts(1)
    queue_alerts(aws, [event])

    assert deliver(aws, handlers) == {"batchItemFailures": []}
    for _ in range(2):
        reply = handlers.notifier.lambda_handler(sqs_batch([event]), LambdaContext())
        assert reply == {"batchItemFailures": []}

    assert len(aws.emails()) == 1
    assert len(posts(slack_hook)) == 1


def lapse_claims(aws: Stack) -> None:
    """Moves every claim's in-progress expiry into the past: the time between an
    invocation cut off and SQS handing its records back (six function timeouts)."""
    scan = aws.ddb.scan(TableName=aws.table)["Items"]
    for item in scan:
        if item["pk"]["S"].startswith(aws_notify.CLAIM_PREFIX) and "in_progress_expiration" in item:
            aws.ddb.update_item(
                TableName=aws.table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "1"}},
            )
