"""render: browser on a stack (issue 15): the scheduler queues rendered watches on their
own queue, the render function reads them in a browser (Debian's Chromium here, the render
layer's on Lambda) and keeps the DOM and the screenshot with the version in S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from scrubwatch.check.browser import find_chromium
from scrubwatch.evidence.build import screenshot_of
from scrubwatch.evidence.packed import unpack
from support import Site, page
from support.js_site import ADS, serve_ads

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, _load, sample_event

pytestmark = IGNORE_EMPTY_METRICS


@pytest.fixture
def render_queue(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = aws.sqs.create_queue(QueueName="scrubwatch-RenderQueue")["QueueUrl"]
    monkeypatch.setenv("RENDER_QUEUE_URL", url)
    chromium = find_chromium()
    assert chromium is not None, "make test installs Chromium (make install-browser)"
    monkeypatch.setenv("SCRUBWATCH_CHROMIUM", chromium)  # on Lambda: the render layer's
    return url


def _tick(aws: Stack, handlers: SimpleNamespace, render: Any, queue: str) -> None:
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    messages = aws.receive_all(queue)
    assert messages, "nothing on the render queue"
    reply = render.lambda_handler(aws.sqs_event(messages), LambdaContext())
    assert reply == {"batchItemFailures": []}
    for m in messages:
        aws.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def test_rendered_watches_have_their_own_queue_and_function(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    render_queue: str,
    clock: Callable[[float], None],
) -> None:
    serve_ads(site, ADS)
    site.set("/plain", page("Plain", "<p>as sent</p>"))
    rendered = {"id": "careers", "url": site.url("/careers"), "items": "#jobs li.job"}
    watchlist(
        [
            {**rendered, "render": {"wait_for": "#jobs li.job"}, "every": "1m"},
            {"id": "plain", "url": site.url("/plain")},
        ]
    )
    render = _load("render")
    _tick(aws, handlers, render, render_queue)
    # The plain watch went to the check queue, for the checker.
    assert aws.queued() == {"plain": 1}
    item = aws.state("careers")
    assert item["condition"] == "up"

    serve_ads(site, ADS[2:])
    aws.envelopes()  # what the first check published
    clock(120)
    _tick(aws, handlers, render, render_queue)
    [changed] = [json.loads(e["Message"]) for e in aws.envelopes()]
    assert changed["kind"] == "changed"
    assert changed["removed"] == ADS[:2]
    assert changed["visual"]["share"] > 0
    # The version in S3 keeps what the browser built and showed.
    key = changed["current"]["evidence"].split("/", 3)[3]
    parts = unpack(aws.get(key))
    assert parts is not None
    png = screenshot_of(parts["warc"])
    assert png is not None and png.startswith(b"\x89PNG")
