"""The stack's running costs and signals (issue 12): the heartbeat its HeartbeatAlarm
watches (template.yaml), reported on every tick, even one with nothing due, so only a
scheduler that stopped leaves the metric missing; the package's log lines as Powertools
JSON; eventually consistent reads where they are enough."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, emf_blobs, sample_event

pytestmark = IGNORE_EMPTY_METRICS


def test_every_tick_reports_the_heartbeat_even_with_nothing_due(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.pages["/a.html"] = page("A", "<p>a</p>")
    watchlist([{"id": "a", "url": site.url("/a.html"), "every": "1d"}])
    tick = sample_event("schedule.json")
    first = handlers.scheduler.lambda_handler(tick, LambdaContext())
    handlers.checker.lambda_handler(aws.sqs_event(aws.receive_all(aws.queue_url)), LambdaContext())
    capsys.readouterr()

    again = handlers.scheduler.lambda_handler(tick, LambdaContext())  # checked: not due
    assert (first["due"], again["due"]) == (1, 0)
    [blob] = [b for b in emf_blobs(capsys.readouterr().out) if "WatchesDue" in b]
    assert blob["WatchesDue"] in (0, 0.0, [0], [0.0])
    assert blob["service"] == "scrubwatch-scheduler"
    [metrics] = blob["_aws"]["CloudWatchMetrics"]
    assert metrics["Namespace"] == "scrubwatch"
    assert ["service"] in metrics["Dimensions"]


def test_the_package_logs_as_structured_json_through_powertools(
    aws: Stack, handlers: SimpleNamespace, watchlist: Callable[..., Any]
) -> None:
    # A message for a watch since removed from the list: the package (not the handler)
    # says so, at WARNING, which Lambda used to get as plain text outside the JSON log.
    package_log = logging.getLogger("scrubwatch")
    assert not package_log.propagate  # its own handler, not the root's plain text
    # The handlers the Lambda handlers' Powertools loggers gave it (not pytest's own).
    streams = [h for h in package_log.handlers if type(h) is logging.StreamHandler]
    assert streams
    written = io.StringIO()
    previous = [h.setStream(written) for h in streams]
    try:
        watchlist([{"id": "kept", "url": "http://127.0.0.1:9/kept.html"}])
        body = json.dumps({"host": "127.0.0.1", "watches": ["gone"]})
        aws.sqs.send_message_batch(
            QueueUrl=aws.queue_url, Entries=[{"Id": "1", "MessageBody": body}]
        )
        event = aws.sqs_event(aws.receive_all(aws.queue_url))
        handlers.checker.lambda_handler(event, LambdaContext())
    finally:
        for handler, stream in zip(streams, previous, strict=True):
            handler.setStream(stream)
    [warning] = [json.loads(line) for line in written.getvalue().splitlines()]
    assert warning["message"] == "watches no longer in the watch list: gone"
    assert (warning["level"], warning["name"]) == ("WARNING", "scrubwatch")
    # The service of the handler imported last: one per container in Lambda.
    assert warning["service"].startswith("scrubwatch-")


def test_the_scheduler_reads_states_eventually_consistent_and_the_checker_consistently(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    # Half the read cost on every tick; the checker's own read is the one that decides.
    site.pages["/a.html"] = page("A", "<p>a</p>")
    watchlist([{"id": "a", "url": site.url("/a.html")}])
    reads: list[bool] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        reads.extend(r["ConsistentRead"] for r in params["RequestItems"].values())

    aws.hook("provide-client-params.dynamodb.BatchGetItem", seen)
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    assert reads == [False]
    handlers.checker.lambda_handler(aws.sqs_event(aws.receive_all(aws.queue_url)), LambdaContext())
    assert reads[1:] and all(reads[1:])


def test_each_aws_client_is_made_once_per_container(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three ticks, three checker batches and two email batches in one container make each
    client once: a client per call or per message cost its making every time."""
    import boto3

    made: list[str] = []
    real = boto3.client

    def counting(service: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service)
        return real(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting)
    site.pages["/a.html"] = page("A", "<p>a</p>")
    watchlist([{"id": "a", "url": site.url("/a.html"), "every": "1h"}])
    notified = 0
    for hour in range(3):
        clock(hour * 3600)
        handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
        aws.deliver(handlers.checker)
        site.pages["/a.html"] = page("A", f"<p>{hour}</p>")  # a change: an alert, an email
        alerts = aws.receive_all(aws.email_queue_url)
        if alerts:
            handlers.notifier.lambda_handler(aws.notifier_event(alerts), LambdaContext())
            notified += 1
    assert notified == 2
    assert sorted(made) == ["dynamodb", "s3", "sns", "sns", "sqs"]  # sns: alerts and email
