"""The whole AWS path in one process: schedule, queue, checker, DynamoDB, S3, SNS, notifier.

Pages come from an HTTP server on 127.0.0.1; SNS deliveries are captured through SQS
subscriptions (raw message delivery off, so the envelope is what a subscriber gets).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.aws.environment import stack
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.core.events import SCHEMA, Event
from scrubwatch.evidence.packed import unpack
from support import Site, page
from warcio.archiveiterator import ArchiveIterator

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, emf_metrics, sample_event

pytestmark = IGNORE_EMPTY_METRICS

PAGES = {
    "/notices/a.html": page(
        "Notice A",
        "<main><h1>Tender 2026/17</h1><p>Bids close on 31 March.</p>"
        "<p>Contact the procurement office.</p></main>",
    ),
    "/notices/b.html": page(
        "Notice B",
        "<main><h1>Road works on Mill Lane</h1><p>Closed from 2 to 6 June.</p></main>",
    ),
    "/notices/c.html": page(
        "Notice C",
        "<main><h1>Library hours</h1><p>Open 9 to 5, Monday to Saturday.</p></main>",
    ),
}
B_CHANGED = page(
    "Notice B",
    "<main><h1>Road works on Mill Lane</h1><p>Closed from 2 to 20 June.</p></main>",
)
HOUR = 3600.0


def watches(site: Site) -> list[dict[str, Any]]:
    return [
        {
            "id": "notice-a",
            "name": "Notice A",
            "url": site.url("/notices/a.html"),
            "notify": ["email", "slack"],
        },
        {"id": "notice-b", "name": "Notice B", "url": site.url("/notices/b.html")},
        {"id": "notice-c", "name": "Notice C", "url": site.url("/notices/c.html")},
    ]


def schedule_and_check(
    aws: Stack, handlers: SimpleNamespace
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """One scheduled tick: the scheduler's reply, the messages it queued, the checker's reply."""
    scheduled = handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    messages = aws.receive_all(aws.queue_url)
    checked = handlers.checker.lambda_handler(aws.sqs_event(messages), LambdaContext())
    for m in messages:
        if m["MessageId"] not in {f["itemIdentifier"] for f in checked["batchItemFailures"]}:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return scheduled, messages, checked


def run_until_gone(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> list[dict[str, Any]]:
    """First check of every page, then seven hours on: A is removed and B edited."""
    site.pages.update(PAGES)
    watchlist(watches(site))
    schedule_and_check(aws, handlers)
    del site.pages["/notices/a.html"]
    site.pages["/notices/b.html"] = B_CHANGED
    clock(7 * HOUR)
    schedule_and_check(aws, handlers)
    return aws.envelopes()


def test_schedule_check_store_publish(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.pages.update(PAGES)
    listed = watches(site)
    watchlist(listed)
    ids = [w["id"] for w in listed]

    # --- first tick: everything is due; the three pages share a host, so one message ---
    scheduled, messages, checked = schedule_and_check(aws, handlers)
    assert scheduled == {"due": 3, "messages": 1}
    assert len(messages) == 1
    request = CheckRequest.model_validate_json(messages[0]["Body"])
    assert request.host == "127.0.0.1"
    assert sorted(request.watches) == sorted(ids)
    assert checked == {"batchItemFailures": []}
    assert sorted(site.paths) == sorted(PAGES)

    for watch_id, path in zip(ids, PAGES, strict=True):
        state = aws.state(watch_id)
        assert state["_rev"] == 1
        assert state["condition"] == "up"
        assert state["last_checked"] > 0
        version = state["current"]["version"]
        prefix = f"evidence/{watch_id}/{version}"
        assert state["current"]["evidence"] == f"s3://{aws.bucket}/{prefix}.warc.gz"
        # One object per version: the WARC, with the text, reading and manifest appended.
        assert aws.object_keys(f"evidence/{watch_id}/") == [f"{prefix}.warc.gz"]
        parts = unpack(aws.get(f"{prefix}.warc.gz"))
        assert parts is not None
        responses = [
            (r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(io.BytesIO(parts["warc"]))
            if r.rec_type == "response"
        ]
        assert responses == [(site.url(path), PAGES[path].encode())]
        text = parts["text"].decode()
        assert PAGES[path].split("<p>")[1].split("</p>")[0] in text
        manifest = json.loads(parts["manifest"])
        assert manifest["files"]["warc"]["sha256"] == hashlib.sha256(parts["warc"]).hexdigest()
        reading = json.loads(parts["reading"])
        assert reading["fingerprint"] == state["fingerprint"]
        assert len(aws.history(watch_id)) == 1

    # A first sighting is recorded, never alerted: nothing was even sent to SNS.
    assert aws.published == []
    assert aws.envelopes() == []

    # --- a tick a minute later: nothing is due, nothing is queued ---
    clock(60)
    assert handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext()) == {
        "due": 0,
        "messages": 0,
    }
    assert aws.receive_all(aws.queue_url) == []

    # --- seven hours on: A is gone (404), B was edited, C is as it was ---
    del site.pages["/notices/a.html"]
    site.pages["/notices/b.html"] = B_CHANGED
    clock(7 * HOUR)
    capsys.readouterr()
    scheduled, messages, checked = schedule_and_check(aws, handlers)
    assert scheduled == {"due": 3, "messages": 1}
    assert checked == {"batchItemFailures": []}
    out = capsys.readouterr().out

    assert aws.state("notice-a")["condition"] == "gone"
    assert aws.state("notice-a")["_rev"] == 2
    assert aws.state("notice-b")["condition"] == "up"
    assert aws.state("notice-b")["_rev"] == 2
    assert aws.state("notice-c")["_rev"] == 1  # checked, nothing new: nothing written
    assert len(aws.history("notice-b")) == 2

    # What the checker sent: MessageStructure json, a `default` (the event) and an `email`.
    assert len(aws.published) == 2
    sent: dict[str, dict[str, Any]] = {}
    for params in aws.published:
        assert params["TopicArn"] == aws.topic_arn
        assert params["MessageStructure"] == "json"
        structured = json.loads(params["Message"])
        assert set(structured) == {"default", "email"}
        event = Event.from_json(json.loads(structured["default"]))
        assert event.summary in structured["email"]
        assert params["Subject"].startswith("[scrubwatch] ")
        assert len(params["Subject"]) < 100
        sent[event.watch] = {"params": params, "default": structured["default"], "event": event}
    assert sent.keys() == {"notice-a", "notice-b"}

    # What a subscriber got: the envelope's Message is the `default` JSON.
    envelopes = aws.envelopes()
    assert len(envelopes) == 2
    by_watch = {}
    for envelope in envelopes:
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == aws.topic_arn
        data = json.loads(envelope["Message"])
        assert data["schema"] == SCHEMA
        event = Event.from_json(data)
        assert envelope["Message"] == sent[event.watch]["default"]
        attrs = envelope["MessageAttributes"]
        assert attrs["kind"] == {"Type": "String", "Value": event.kind}
        assert attrs["watch"] == {"Type": "String", "Value": event.watch}
        assert attrs["severity"] == {"Type": "String", "Value": event.severity}
        assert attrs["channels"]["Type"] == "String.Array"
        notify = next(w.get("notify", ["email"]) for w in listed if w["id"] == event.watch)
        assert json.loads(attrs["channels"]["Value"]) == notify
        for ref in (event.previous, event.current):
            assert ref is not None and ref.evidence is not None
            assert ref.evidence.startswith(f"s3://{aws.bucket}/evidence/{event.watch}/")
            key = ref.evidence.removeprefix(f"s3://{aws.bucket}/")
            assert key in aws.object_keys(f"evidence/{event.watch}/")
        by_watch[event.watch] = event

    gone = by_watch["notice-a"]
    assert gone.kind == "gone"
    assert gone.reason == "http_404"
    assert gone.current is not None and gone.current.status == 404
    assert any("Bids close on 31 March." in line for line in gone.removed)
    changed = by_watch["notice-b"]
    assert changed.kind == "changed"
    assert "2 to 20 June" in changed.diff

    # The Slack subscription's filter policy passes only the watch that asks for Slack.
    slack = aws.receive_all(aws.slack_capture_url)
    assert [json.loads(m["Body"])["watch"] for m in slack] == ["notice-a"]
    for m in slack:  # leave the queue as a fresh one for the next step
        aws.sqs.delete_message(QueueUrl=aws.slack_capture_url, ReceiptHandle=m["ReceiptHandle"])

    # Powertools metrics of the checker's run.
    checker_metrics = [m for m in emf_metrics(out) if "Checks" in m]
    assert len(checker_metrics) == 1
    metrics = checker_metrics[0]
    assert metrics == {"Checks": 3, "Errors": 0}  # $0.30 a month each: no more than these

    # Once gone, it stays one alert: a tick a whole `every` later checks A again, silently.
    clock(14 * HOUR)
    scheduled, _, checked = schedule_and_check(aws, handlers)
    assert scheduled["due"] >= 1
    assert checked == {"batchItemFailures": []}
    assert aws.envelopes() == []


def test_notifier_posts_captured_alert_to_slack(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
    slack_hook: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_until_gone(aws, handlers, site, watchlist, clock)
    queued = aws.receive_all(aws.slack_capture_url)
    assert len(queued) == 1
    alert = Event.from_json(json.loads(queued[0]["Body"]))  # raw delivery: the event itself

    path = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    boto3.client("ssm").put_parameter(
        Name="/scrubwatch/slack-webhook",
        Type="SecureString",
        Value=slack_hook.url_for(path),
    )
    monkeypatch.setenv("SLACK_WEBHOOK_PARAM", "/scrubwatch/slack-webhook")
    stack.cache_clear()  # the notifier is a function of its own: its own cold start
    slack_hook.expect_request(path, method="POST").respond_with_data("ok")

    event = aws.sqs_event(queued)
    reply = handlers.notifier.lambda_handler(event, LambdaContext())
    assert reply == {"batchItemFailures": []}
    # SQS delivers at least once: the same message again is not posted again.
    assert handlers.notifier.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}

    assert len(slack_hook.log) == 1
    request, response = slack_hook.log[0]
    assert response.status_code == 200
    posted = json.loads(request.get_data())
    assert posted["text"].startswith("GONE: Notice A")
    sections = [b["text"]["text"] for b in posted["blocks"] if b["type"] == "section"]
    assert any(alert.url in s for s in sections)
    assert any("Bids close on 31 March." in s for s in sections)
