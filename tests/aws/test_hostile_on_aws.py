"""On AWS a malformed answer is that watch's error, committed with it: the message does not
fail, so it never reaches the dead-letter queue for it (issue 10, H1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from scrubwatch.aws.schedule import CheckRequest
from support import RawServer, Site, page

from .support import IGNORE_EMPTY_METRICS, Stack

pytestmark = IGNORE_EMPTY_METRICS


def test_a_malformed_answer_is_committed_as_that_watchs_error(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    bad = RawServer(lambda head, wfile: wfile.write(b"HTTP/1.1 two hundred OK\r\n\r\n"))
    try:
        site.pages["/agenda.html"] = page("Agenda", "<main><p>1. Budget.</p></main>")
        watchlist(
            [
                {"id": "hostile", "url": bad.url("/jobs.html")},
                {"id": "agenda", "url": site.url("/agenda.html")},
            ],
            confirm_errors=1,
        )
        aws.send_checks(CheckRequest(host="127.0.0.1", watches=("hostile", "agenda")).body())
        delivery = aws.deliver(handlers.checker)
    finally:
        bad.close()

    assert delivery.reply == {"batchItemFailures": []}
    published = [json.loads(json.loads(p["Message"])["default"]) for p in aws.published]
    assert [(e["watch"], e["kind"], e["reason"]) for e in published] == [
        ("hostile", "error", "protocol")
    ]
    assert aws.state("hostile")["error_reason"] == "protocol"
    assert aws.state("agenda")["condition"] == "up"
