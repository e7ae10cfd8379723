"""The sample events in events/ are what AWS would send, and the handlers take them as they are.

`sam local invoke -e events/<name>.json` uses the same files; the SQS and SNS samples name
the watches of the repository's watchlist.yaml, which the build bundles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from pytest_httpserver import HTTPServer
from scrubwatch.alerts.sns import fit
from scrubwatch.aws.schedule import CheckRequest, host_of
from scrubwatch.aws.witnessing import WitnessRequest
from scrubwatch.check.watchlist_file import load_watchlist
from scrubwatch.core.events import SCHEMA, Event
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, REPO, LambdaContext, Stack, sample_event

pytestmark = IGNORE_EMPTY_METRICS

BUNDLED = load_watchlist(REPO / "watchlist.yaml")


def test_schedule_event_is_the_input_the_template_sets() -> None:
    assert sample_event("schedule.json") == {"source": "scrubwatch.schedule"}


def test_sqs_sample_is_a_batch_of_check_messages() -> None:
    raw = sample_event("sqs-check.json")
    event = SQSEvent(raw)
    records = list(event.records)
    assert len(records) == 2
    assert len({r.message_id for r in records}) == 2
    for record, data in zip(records, raw["Records"], strict=True):
        assert record.event_source == "aws:sqs"
        assert record.event_source_arn.startswith(f"arn:aws:sqs:{record.aws_region}:")
        assert record.md5_of_body == hashlib.md5(record.body.encode()).hexdigest()
        assert record.receipt_handle
        assert record.attributes.approximate_receive_count == "1"
        assert set(data["attributes"]) >= {
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        }
        request = CheckRequest.model_validate_json(record.body)
        for watch_id in request.watches:
            watch = BUNDLED.get(watch_id)
            assert watch is not None, f"{watch_id} is not in watchlist.yaml"
            assert host_of(watch) == request.host


def test_slack_queue_sample_is_a_gone_alert_as_the_checker_publishes_it() -> None:
    raw = sample_event("sqs-slack.json")
    [record] = raw["Records"]
    assert record["eventSource"] == "aws:sqs"
    data = json.loads(record["body"])  # raw SNS delivery: the body is the `default` JSON
    assert data["schema"] == SCHEMA
    event = Event.from_json(data)
    assert event.kind == "gone"
    watch = BUNDLED.get(event.watch)
    assert watch is not None and watch.url == event.url
    for ref in (event.previous, event.current):
        assert ref is not None and ref.evidence is not None
        assert ref.evidence.startswith("s3://")
        assert ref.evidence.endswith(f"/evidence/{event.watch}/{ref.version}.warc.gz")
    _, structured = fit(event, ["email", "slack"])
    assert json.loads(structured)["default"] == record["body"]


def test_checker_takes_the_sqs_sample_as_it_is(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    """The sample's watch ids, served from 127.0.0.1 instead of their real hosts."""
    site.pages["/example"] = page("Example Domain", "<div><h1>Example Domain</h1></div>")
    site.pages["/reserved"] = page("IANA", "<div id='main_right'><p>Reserved domains</p></div>")
    watchlist(
        [
            {"id": "example-home", "url": site.url("/example")},
            {"id": "iana-reserved", "url": site.url("/reserved")},
        ]
    )

    reply = handlers.checker.lambda_handler(sample_event("sqs-check.json"), LambdaContext())

    assert reply == {"batchItemFailures": []}
    assert aws.state("example-home")["condition"] == "up"
    assert aws.state("iana-reserved")["condition"] == "up"
    assert sorted(site.paths) == ["/example", "/reserved"]


def test_notifier_takes_the_slack_queue_sample_as_it_is(
    aws: Stack,
    handlers: SimpleNamespace,
    slack_hook: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = "/services/T0000/B0000/sample"
    boto3.client("ssm").put_parameter(
        Name="/scrubwatch/slack", Type="SecureString", Value=slack_hook.url_for(path)
    )
    monkeypatch.setenv("SLACK_WEBHOOK_PARAM", "/scrubwatch/slack")
    slack_hook.expect_oneshot_request(path, method="POST").respond_with_data("ok")

    reply = handlers.notifier.lambda_handler(sample_event("sqs-slack.json"), LambdaContext())

    assert reply == {"batchItemFailures": []}
    slack_hook.check_assertions()
    posted = json.loads(slack_hook.log[0][0].get_data())
    assert posted["text"].startswith("GONE: Example Domain home page")
    assert posted["blocks"][0]["text"]["text"] == "GONE: Example Domain home page"


def test_notifier_without_a_webhook_posts_nothing(
    aws: Stack, handlers: SimpleNamespace, slack_hook: HTTPServer
) -> None:
    """Without a webhook nothing is posted, and nothing is dropped: the records fail and stay
    queued (the template only subscribes the queue when a webhook is configured)."""
    event = sample_event("sqs-slack.json")
    reply = handlers.notifier.lambda_handler(event, LambdaContext())

    assert reply == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert slack_hook.log == []


def test_witness_queue_sample_is_a_request_as_the_checker_queues_it() -> None:
    [record] = list(SQSEvent(sample_event("sqs-witness.json")).records)
    assert record.md5_of_body == hashlib.md5(record.body.encode()).hexdigest()
    request = WitnessRequest.model_validate_json(record.body)
    watch = BUNDLED.get(request.watch)
    assert watch is not None and watch.url == request.url
    assert request.result_key().startswith(f"evidence/{request.watch}/")
    assert request.result_key().endswith(".witness.json")
