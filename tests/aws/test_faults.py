"""Faults on AWS: nothing is lost, nothing is doubled, and a bad record fails alone.

Each fault is injected into the real (moto) service or with a botocore event hook on the
session the handlers' clients come from; the test's own clients never see the hooks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.check.ports import Commit
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, Delivery, LambdaContext, Stack

pytestmark = IGNORE_EMPTY_METRICS

ORIGINAL = page("Minutes", "<main><h1>Council minutes</h1><p>Item 4: budget approved.</p></main>")
AGENDA = page("Agenda", "<main><h1>Agenda</h1><p>1. Budget. 2. Roads.</p></main>")
EDITED = page("Minutes", "<main><h1>Council minutes</h1><p>Item 4: budget deferred.</p></main>")


def body(*watch_ids: str) -> str:
    return CheckRequest(host="127.0.0.1", watches=watch_ids).body()


@pytest.fixture
def minutes(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> Iterator[str]:
    """Two watches checked once (first_seen, rev 1): "minutes", which the faults hit, and
    "agenda", a page that stays as it is (so checking it stores and publishes nothing)."""
    site.pages["/minutes.html"] = ORIGINAL
    site.pages["/agenda.html"] = AGENDA
    watchlist(
        [
            {"id": "minutes", "name": "Council minutes", "url": site.url("/minutes.html")},
            {"id": "agenda", "name": "Council agenda", "url": site.url("/agenda.html")},
        ]
    )
    aws.send_checks(body("minutes"), body("agenda"))
    delivery = aws.deliver(handlers.checker)
    assert delivery.reply == {"batchItemFailures": []}
    assert aws.state("minutes")["_rev"] == 1
    assert aws.state("agenda")["_rev"] == 1
    clock(7 * 3600)  # both due again: the checker skips watches that are not
    yield "minutes"


def make_visible(aws: Stack, delivery: Delivery) -> None:
    """The visibility timeout of the failed messages runs out (without waiting 12 minutes)."""
    for m in delivery.messages:
        if m["MessageId"] not in delivery.failed:
            continue
        aws.sqs.change_message_visibility(
            QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )


def published_event_ids(aws: Stack) -> list[str]:
    return [json.loads(json.loads(p["Message"])["default"])["event_id"] for p in aws.published]


# --- SNS publish fails ----------------------------------------------------------------


def _delete_topic(aws: Stack) -> Callable[[], None]:
    aws.sns.delete_topic(TopicArn=aws.topic_arn)
    return aws.create_topic  # same name, same ARN, subscriptions made again


def _throttle(aws: Stack) -> Callable[[], None]:
    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")

    aws.hook("before-call.sns.Publish", fail)
    return lambda: aws.unhook("before-call.sns.Publish", fail)


@pytest.mark.parametrize("fault", [_delete_topic, _throttle], ids=["topic-deleted", "throttled"])
def test_publish_failure_retries_with_state_untouched_and_same_event_id(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    minutes: str,
    fault: Callable[[Stack], Callable[[], None]],
) -> None:
    before = aws.state_item(minutes)
    del site.pages["/minutes.html"]
    repair = fault(aws)

    failing, _ = aws.send_checks(body(minutes), body("agenda"))
    delivery = aws.deliver(handlers.checker)

    assert delivery.reply == {"batchItemFailures": [{"itemIdentifier": failing}]}
    assert aws.state_item(minutes) == before  # rev, state and last_checked as they were
    assert len(aws.history(minutes)) == 1
    assert aws.state("agenda")["_rev"] == 1  # checked: nothing new, so nothing written
    assert len(site.seen("/agenda.html")) == 2  # the rest of the batch went through
    assert aws.envelopes() == []
    attempted = published_event_ids(aws)
    assert len(attempted) == 1

    # The queue hands the same message back once its visibility timeout is over.
    repair()
    make_visible(aws, delivery)
    again = aws.deliver(handlers.checker)

    assert [m["MessageId"] for m in again.messages] == [failing]
    assert again.messages[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again.reply == {"batchItemFailures": []}
    envelopes = aws.envelopes()
    assert len(envelopes) == 1
    event = json.loads(envelopes[0]["Message"])
    assert event["kind"] == "gone"
    assert event["event_id"] == attempted[0]  # subscribers can drop the duplicate
    after = aws.state(minutes)
    assert after["condition"] == "gone"
    assert after["_rev"] == 2
    assert aws.receive_all(aws.queue_url) == []


# --- S3 put fails ---------------------------------------------------------------------


def test_evidence_failure_fails_the_record_and_publishes_nothing(
    aws: Stack, handlers: SimpleNamespace, site: Site, minutes: str
) -> None:
    before = aws.state_item(minutes)
    keys_before = aws.object_keys()
    site.pages["/minutes.html"] = EDITED

    def deny(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject"
        )

    aws.hook("before-call.s3.PutObject", deny)
    failing, _ = aws.send_checks(body(minutes), body("agenda"))
    delivery = aws.deliver(handlers.checker)

    assert delivery.reply == {"batchItemFailures": [{"itemIdentifier": failing}]}
    assert aws.state_item(minutes) == before
    assert aws.state("agenda")["_rev"] == 1
    assert len(site.seen("/agenda.html")) == 2
    assert len(aws.history(minutes)) == 1
    assert aws.object_keys() == keys_before
    # No alert may point at evidence that was never stored.
    assert aws.published == []
    assert aws.envelopes() == []

    aws.unhook("before-call.s3.PutObject", deny)
    make_visible(aws, delivery)
    again = aws.deliver(handlers.checker)

    assert [m["MessageId"] for m in again.messages] == [failing]
    assert again.reply == {"batchItemFailures": []}
    after = aws.state(minutes)
    assert after["_rev"] == 2
    version = after["current"]["version"]
    assert f"evidence/{minutes}/{version}.warc.gz" in aws.object_keys()
    [envelope] = aws.envelopes()
    event = json.loads(envelope["Message"])
    assert event["kind"] == "changed"
    assert event["current"]["evidence"] == f"s3://{aws.bucket}/evidence/{minutes}/{version}.warc.gz"


# --- a conditional write loses a race ---------------------------------------------------


def test_lost_race_is_stale_not_an_error(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    minutes: str,
    caplog: pytest.LogCaptureFixture,
    clock: Callable[[float], None],
) -> None:
    """Another checker commits the watch between this one's load and its commit."""
    site.pages["/minutes.html"] = EDITED
    # The other checker has its own client; the hook below is not on it.
    other = DynamoStateStore(aws.table, boto3.session.Session().client("dynamodb"))
    raced: list[int] = []

    def other_checker_commits_first(**_: Any) -> None:
        if raced:
            return
        state = other.load([minutes])[minutes]
        # It checked a moment before the edit and timed out once (unconfirmed: no event).
        moved = replace(state, last_checked=1_800_000_000.0, error_streak=1, error_reason="timeout")
        assert other.commit([Commit(state=moved)]) == []
        raced.append(state.rev + 1)

    aws.hook("before-parameter-build.dynamodb.TransactWriteItems", other_checker_commits_first)
    aws.send_checks(body(minutes))
    delivery = aws.deliver(handlers.checker)

    assert raced == [2]
    assert delivery.reply == {"batchItemFailures": []}  # a lost race is not a failure
    state = aws.state(minutes)
    assert state["_rev"] == 2
    assert state["error_streak"] == 1  # the other checker's state stands
    assert len(aws.history(minutes)) == 1  # the loser's version row went with its update
    assert any("committed minutes first" in r.getMessage() for r in caplog.records)
    lost = published_event_ids(aws)
    assert len(lost) == 1

    # The edit is not lost: the next check finds it again and derives the same event id.
    aws.unhook("before-parameter-build.dynamodb.TransactWriteItems", other_checker_commits_first)
    aws.envelopes()
    clock(1_800_000_000.0 + 7 * 3600 - time.time())  # due again after the other's check
    aws.send_checks(body(minutes))
    assert aws.deliver(handlers.checker).reply == {"batchItemFailures": []}
    assert published_event_ids(aws)[-1] == lost[0]
    assert aws.state(minutes)["_rev"] == 3
    assert len(aws.history(minutes)) == 2


# --- one malformed record in a batch --------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        '{"schema":"scrubwatch.check/2","host":"127.0.0.1","watches":["a"]}',
        '{"schema":"scrubwatch.check/1","host":"127.0.0.1","watches":[]}',
        '{"schema":"scrubwatch.check/1","host":"127.0.0.1","watches":["a"],"extra":1}',
    ],
    ids=["not-json", "wrong-schema", "no-watches", "unknown-key"],
)
def test_malformed_record_fails_alone(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    site.pages["/a.html"] = ORIGINAL
    site.pages["/b.html"] = EDITED
    watchlist(
        [
            {"id": "a", "url": site.url("/a.html")},
            {"id": "b", "url": site.url("/b.html")},
        ]
    )
    _, malformed, _ = aws.send_checks(body("a"), bad, body("b"))

    delivery = aws.deliver(handlers.checker)

    assert len(delivery.messages) == 3
    assert delivery.reply == {"batchItemFailures": [{"itemIdentifier": malformed}]}
    assert aws.state("a")["_rev"] == 1
    assert aws.state("b")["_rev"] == 1
    # Logged once, with its message id, in the checker's JSON log format.
    logged = [r for r in caplog.records if r.getMessage() == "malformed check message"]
    assert len(logged) == 1
    line = json.loads(handlers.checker.logger.registered_formatter.format(logged[0]))
    assert line["level"] == "ERROR"
    assert line["message_id"] == malformed
    assert "exception" in line
    make_visible(aws, delivery)
    left = aws.receive_all(aws.queue_url)
    assert [m["MessageId"] for m in left] == [malformed]  # only it is retried


def test_malformed_record_reaches_dead_letter_queue_after_three_receives(
    aws: Stack, handlers: SimpleNamespace, watchlist: Callable[..., Any]
) -> None:
    watchlist([{"id": "a", "url": "http://127.0.0.1:9/a"}])
    [malformed] = aws.send_checks("{not json")

    for receive in (1, 2, 3):
        delivery = aws.deliver(handlers.checker)
        assert [m["MessageId"] for m in delivery.messages] == [malformed]
        assert delivery.messages[0]["Attributes"]["ApproximateReceiveCount"] == str(receive)
        assert delivery.failed == [malformed]
        make_visible(aws, delivery)

    # maxReceiveCount 3: the next receive moves it to the dead-letter queue instead.
    assert aws.receive_all(aws.queue_url) == []
    dead = aws.receive_all(aws.dlq_url)
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(malformed, "{not json")]


def test_message_for_watch_no_longer_listed_succeeds_quietly(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    """The list changed between scheduling and checking: nothing to check, nothing to retry."""
    site.pages["/a.html"] = ORIGINAL
    watchlist([{"id": "a", "url": site.url("/a.html")}])
    aws.send_checks(body("removed-since"), body("a", "removed-too"))

    assert aws.deliver(handlers.checker).reply == {"batchItemFailures": []}
    assert aws.state_item("removed-since") is None
    assert aws.state_item("removed-too") is None
    assert aws.state("a")["_rev"] == 1
    assert site.paths == ["/a.html"]


def test_malformed_record_is_not_logged_under_another_records_watch(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The malformed record's log line must not carry the watch and host of the record
    processed before it in the same batch: it is about no watch at all."""
    site.pages["/a.html"] = ORIGINAL
    watchlist([{"id": "a", "url": site.url("/a.html")}])
    good, malformed = aws.send_checks(body("a"), "{not json")
    received = {m["MessageId"]: m for m in aws.receive_all(aws.queue_url)}
    batch = aws.sqs_event([received[good], received[malformed]])  # the good one first

    reply = handlers.checker.lambda_handler(batch, LambdaContext())

    assert reply == {"batchItemFailures": [{"itemIdentifier": malformed}]}
    [record] = [r for r in caplog.records if r.getMessage() == "malformed check message"]
    line = json.loads(handlers.checker.logger.registered_formatter.format(record))
    assert line["message_id"] == malformed
    assert line.get("watch") is None, f"logged under watch {line.get('watch')!r}"
    assert line.get("host") is None, f"logged under host {line.get('host')!r}"


def test_a_message_delivered_twice_checks_once(
    aws: Stack, handlers: SimpleNamespace, site: Site, minutes: str
) -> None:
    """SQS delivers at least once, and two scheduler ticks may queue the same watch: a
    second check moments after the first is skipped, so two quick looks never confirm a
    deletion between them."""
    site.pages["/minutes.html"] = EDITED
    aws.send_checks(body(minutes))
    assert aws.deliver(handlers.checker).reply == {"batchItemFailures": []}
    assert aws.state(minutes)["_rev"] == 2
    published = len(published_event_ids(aws))

    del site.pages["/minutes.html"]
    aws.send_checks(body(minutes))
    assert aws.deliver(handlers.checker).reply == {"batchItemFailures": []}
    assert aws.state(minutes)["_rev"] == 2  # not checked again
    assert len(published_event_ids(aws)) == published


# --- a page that crashes its reader ------------------------------------------------------


def test_a_page_that_crashes_its_reader_is_that_watchs_error_alone(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import scrubwatch.check.engine
    from check.test_worker_pool import analyse_or_crash

    site.pages["/p5.html"] = ORIGINAL  # analyse_or_crash takes its worker down on /p5.html
    site.pages["/agenda.html"] = AGENDA
    watchlist(
        [
            {"id": "p5", "name": "Council minutes", "url": site.url("/p5.html")},
            {"id": "agenda", "name": "Council agenda", "url": site.url("/agenda.html")},
        ],
        confirm_errors=1,
    )
    # The checker's worker looks the function up by name: it must find the tests.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setattr(scrubwatch.check.engine, "analyse", analyse_or_crash)
    aws.send_checks(body("p5", "agenda"))
    delivery = aws.deliver(handlers.checker)
    assert delivery.reply == {"batchItemFailures": []}  # one bad page is not the message
    kinds = sorted(
        (e["watch"], e["kind"], e["reason"])
        for e in (json.loads(json.loads(p["Message"])["default"]) for p in aws.published)
    )
    assert kinds == [("p5", "error", "read_failed")]
    assert aws.state("p5")["error_reason"] == "read_failed"
    assert aws.state("agenda")["condition"] == "up"  # read and kept beside it
