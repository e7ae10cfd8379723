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
from botocore.exceptions import ClientError
from pytest_httpserver import HTTPServer
from scrubwatch.aws import app as aws_app
from scrubwatch.aws import witnessing
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.aws.witnessing import WitnessRequest
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


def _check(site: Site, resolves: bool = True) -> aws_app.BatchResult:
    # A public-looking name, resolved here to the loopback site: the Archive is only ever
    # asked for pages it could reach.
    resolver = StaticResolver({"jobs.example": ["127.0.0.1"]} if resolves else {})
    request = CheckRequest(host="jobs.example", watches=("ad",))
    return aws_app.check_batch([request], resolver=resolver)


class WitnessContext(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 600_000  # the WitnessFunction's timeout


def _witness(aws: Stack, handlers: SimpleNamespace) -> tuple[list[dict[str, Any]], Any]:
    messages = aws.receive_all(aws.witness_queue_url)
    reply = handlers.witness.lambda_handler(aws.sqs_event(messages), WitnessContext())
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


def test_a_page_gone_with_nothing_kept_is_not_witnessed(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    spn2: HTTPServer,
    witnessed: None,
    clock: Callable[[float], None],
) -> None:
    """A name that stopped resolving is gone with no capture to put a witness result
    beside; the Archive could not reach it either. Nothing is queued, and the evidence
    still verifies."""
    FakeSpn2(spn2)
    _check(site)
    _witness(aws, handlers)
    clock(3600)
    [gone] = _check(site, resolves=False).report.events
    assert (gone.kind, gone.current) == ("gone", None)
    assert aws.receive_all(aws.witness_queue_url) == []
    assert main(["verify", "ad", "--bucket", aws.bucket, "--table", aws.table]) == 0


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


def _requests(n: int, per_minute: int = 6000) -> list[tuple[WitnessRequest, int]]:
    return [
        (
            WitnessRequest(
                watch="ad",
                url=f"https://jobs.example/ad/{i}",
                capture_all=False,
                event_id=f"e{i}",
                evidence=f"s3://b/evidence/ad/v{i}.warc.gz",
                asked_at="2026-12-06T00:00:00Z",
                endpoint="",
                per_minute=per_minute,
            ),
            1,
        )
        for i in range(n)
    ]


def test_one_failure_is_that_requests_alone(
    aws: Stack, spn2: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer that is not JSON for one request, and S3 refusing another's result: those
    two go back to the queue; the capture kept in between is not asked again."""
    fake = FakeSpn2(spn2)
    requests = [(r.model_copy(update={"endpoint": spn2.url_for("/")}), n) for r, n in _requests(3)]
    spn2.clear()
    answers = iter([Response("<html>busy</html>"), None, None])

    def save(request: Any) -> Response:
        answer = next(answers)
        return answer if answer is not None else fake.save(request)

    spn2.expect_request("/save", method="POST").respond_with_handler(save)
    spn2.expect_request("/save/status/spn2-1").respond_with_handler(fake.status)
    spn2.expect_request("/save/status/spn2-2").respond_with_handler(fake.status)
    refused = "evidence/ad/v2.witness.json"

    def deny(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == refused:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject")

    aws.hook("before-parameter-build.s3.PutObject", deny)
    monkeypatch.setenv("BUCKET_NAME", aws.bucket)
    assert witnessing.capture(requests) == [0, 2]
    aws.unhook("before-parameter-build.s3.PutObject", deny)
    assert aws.object_keys("evidence/ad/") == ["evidence/ad/v1.witness.json"]


def test_no_capture_is_started_without_time_for_it(aws: Stack, spn2: HTTPServer) -> None:
    fake = FakeSpn2(spn2)
    requests = [(r.model_copy(update={"endpoint": spn2.url_for("/")}), n) for r, n in _requests(3)]
    assert witnessing.capture(requests, time_left=lambda: witnessing.CAPTURE_MAX_S - 1) == [
        0,
        1,
        2,
    ]
    assert fake.saved == []


def test_the_rate_holds_across_invocations(aws: Stack, spn2: HTTPServer) -> None:
    """Two invocations of one container, a capture each: the second waits its turn (at
    600 a minute shared by CONCURRENCY functions, 0.2 s), as captures within one do."""
    FakeSpn2(spn2)
    asked: list[float] = []
    [(request, n)] = _requests(1, per_minute=600)
    request = request.model_copy(update={"endpoint": spn2.url_for("/")})
    for _ in range(2):
        witnessing.capture([(request, n)])
        asked.append(witnessing._last_asked[0])
    assert asked[1] - asked[0] >= 60 * witnessing.CONCURRENCY / 600 - 0.001
