"""On AWS the Internet Archive is asked after the check, from a queue of its own (issue 12,
point 1): the checker never waits on Save Page Now, the WitnessFunction asks at the list's
rate, retries a failed capture through the queue, and keeps each result beside the
version's evidence, leaving the chained manifest as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.aws import app as aws_app
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.check.netguard import StaticResolver
from scrubwatch.cli.main import main
from support import NOT_FOUND, Page, Site, page
from support.spn2 import FakeSpn2
from werkzeug import Response

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack

pytestmark = IGNORE_EMPTY_METRICS


@pytest.fixture
def spn2(second_server: HTTPServer) -> HTTPServer:
    return second_server


def _check(site: Site) -> aws_app.BatchResult:
    # A public-looking name, resolved here to the loopback site: the Archive is only ever
    # asked for pages it could reach.
    resolver = StaticResolver({"jobs.example": ["127.0.0.1"]})
    request = CheckRequest(host="jobs.example", watches=("ad",))
    return aws_app.check_batch([request], resolver=resolver)


def _witness(aws: Stack, handlers: SimpleNamespace) -> tuple[list[dict[str, Any]], Any]:
    messages = aws.receive_all(aws.witness_queue_url)
    reply = handlers.witness.lambda_handler(aws.sqs_event(messages), LambdaContext())
    failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.witness_queue_url, ReceiptHandle=m["ReceiptHandle"])
    return messages, failed


@pytest.fixture
def witnessed(site: Site, spn2: HTTPServer, watchlist: Callable[..., Any]) -> None:
    site.set("/ad.html", Page(page("Ad 1002", "<h1>Firmware Engineer, Urumqi</h1>")))
    watchlist(
        [{"id": "ad", "url": f"http://jobs.example:{site.port}/ad.html"}],
        witness="wayback",
        wayback_endpoint=spn2.url_for("/"),
        wayback_per_minute=6000,
    )


def test_captures_are_asked_after_the_check_and_kept_beside_the_evidence(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    spn2: HTTPServer,
    witnessed: None,
    clock: Callable[[float], None],
    tmp_path: Path,
) -> None:
    fake = FakeSpn2(spn2)
    [first] = _check(site).report.events
    assert fake.saved == []  # the check did not wait on the Archive
    assert first.current is not None and first.current.witness is None
    version = first.current.version
    warc = aws.get(f"evidence/ad/{version}.warc.gz")

    _witness(aws, handlers)
    kept = json.loads(aws.get(f"evidence/ad/{version}.witness.json"))
    assert kept["status"] == "archived" and kept["job_id"] == "spn2-1"
    assert kept["url"].startswith("https://web.archive.org/web/")
    assert kept["event_id"] == first.event_id
    assert aws.get(f"evidence/ad/{version}.warc.gz") == warc  # the manifest is never rewritten

    site.set("/ad.html", NOT_FOUND)
    clock(3600)
    [gone] = _check(site).report.events
    assert gone.kind == "gone" and len(fake.saved) == 1
    _witness(aws, handlers)
    assert [s["capture_all"] for s in fake.saved] == ["0", "1"]  # the 404 itself is archived
    assert gone.current is not None
    assert json.loads(aws.get(f"evidence/ad/{gone.current.version}.witness.json"))["job_id"] == (
        "spn2-2"
    )
    # The results travel with the evidence, and the chain still verifies.
    stack = ["--bucket", aws.bucket, "--table", aws.table]
    assert main(["verify", "ad", *stack]) == 0
    assert main(["export", "ad", str(tmp_path / "bundle"), *stack]) == 0
    assert (tmp_path / "bundle" / f"{version}.witness.json").exists()
    assert "witness.json" in (tmp_path / "bundle" / "README.txt").read_text()
    assert main(["verify", str(tmp_path / "bundle")]) == 0


def test_a_failed_capture_is_retried_then_kept_as_failed(
    aws: Stack, handlers: SimpleNamespace, site: Site, spn2: HTTPServer, witnessed: None
) -> None:
    spn2.expect_request("/save", method="POST").respond_with_response(Response("busy", status=503))
    [first] = _check(site).report.events
    assert first.current is not None
    key = f"evidence/ad/{first.current.version}.witness.json"
    for attempt in (1, 2):
        messages, failed = _witness(aws, handlers)
        assert len(messages) == 1 and failed == {messages[0]["MessageId"]}, attempt
        assert key not in aws.object_keys()
        aws.sqs.change_message_visibility(
            QueueUrl=aws.witness_queue_url,
            ReceiptHandle=messages[0]["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    messages, failed = _witness(aws, handlers)  # the third receive: the failure is the result
    assert failed == set()
    kept = json.loads(aws.get(key))
    assert kept["status"] == "failed" and "503" in kept["detail"]
    assert aws.receive_all(aws.witness_queue_url) == []


def test_a_private_address_is_never_queued_for_the_archive(
    aws: Stack, site: Site, spn2: HTTPServer, watchlist: Callable[..., Any]
) -> None:
    site.set("/ad.html", Page(page("Ad", "<p>x</p>")))
    watchlist(
        [{"id": "ad", "url": site.url("/ad.html")}],
        witness="wayback",
        wayback_endpoint=spn2.url_for("/"),
    )
    [first] = aws_app.check_batch([CheckRequest(host="127.0.0.1", watches=("ad",))]).report.events
    assert first.kind == "first_seen"
    assert aws.receive_all(aws.witness_queue_url) == []
