"""The contact clock on a deployed stack (issue 14, part 2): `scrubwatch contact --stack`
records the contact in the table and its record in the bucket, queues a capture of every
page it concerns, the scheduler checks them more often while it lasts, each later alert
says how long after the contact it was seen, and `report --stack` tells it all."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.cli.main import main
from selectolax.lexbor import LexborHTMLParser
from support import Site

from .support import IGNORE_EMPTY_METRICS, Stack, name_stack
from .test_pipeline import PAGES, schedule_and_check

pytestmark = IGNORE_EMPTY_METRICS

MINUTE = 60.0


def test_a_contact_on_a_stack_captures_now_checks_often_and_dates_the_scrub(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Path],
    clock: Callable[[float], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.pages.update(PAGES)
    listed = [
        {"id": "notice-a", "url": site.url("/notices/a.html"), "every": "6h", "tags": ["lumen"]},
        {"id": "notice-b", "url": site.url("/notices/b.html"), "every": "6h"},
    ]
    config = str(watchlist(listed))
    schedule_and_check(aws, handlers)  # first sight of both
    name_stack(aws)

    said = main(["contact", "lumen", "--note", "emailed press office", "--stack", "scrubwatch",
                 "-c", config])  # fmt: skip

    assert said == 0
    out = capsys.readouterr().out
    assert "recorded in stack scrubwatch" in out and "1 page(s) queued to be checked" in out
    (contact,) = DynamoStateStore(aws.table, aws.ddb).contacts()
    assert contact.watches == ("notice-a",) and contact.note == "emailed press office"
    record = aws.s3.get_object(Bucket=aws.bucket, Key=f"evidence/contacts/{contact.id}.json")
    assert json.loads(record["Body"].read())["note"] == "emailed press office"
    # The capture: one message for the contact's page, kept although nothing changed.
    (message,) = aws.receive_all(aws.queue_url)
    request = CheckRequest.model_validate_json(message["Body"])
    assert request.watches == ("notice-a",) and request.capture is True
    handlers.checker.lambda_handler(aws.sqs_event([message]), _context())
    assert len(aws.history("notice-a")) == 2 and len(aws.history("notice-b")) == 1
    # The same message again (SQS delivers at least once): checked since the contact, so
    # nothing is checked or kept twice.
    aws.send_checks(message["Body"])
    (again,) = aws.receive_all(aws.queue_url)
    handlers.checker.lambda_handler(aws.sqs_event([again]), _context())
    assert len(aws.history("notice-a")) == 2

    # While the contact lasts the page is checked at every tick (every 15 min, not 6 h).
    # (The clock fixture sets the scheduler's time from now: each tick 16 minutes on.)
    for tick in range(1, 4):
        clock(tick * 16 * MINUTE)
        _, messages, _ = schedule_and_check(aws, handlers)
        queued = {i for m in messages for i in CheckRequest.model_validate_json(m["Body"]).watches}
        assert "notice-a" in queued
    assert len(aws.history("notice-a")) == 2  # checked, unchanged: nothing more kept

    # The scrub: the alert says how long after the contact it was seen.
    del site.pages["/notices/a.html"]
    clock(4 * 16 * MINUTE)
    schedule_and_check(aws, handlers)
    events = [json.loads(e["Message"]) for e in aws.envelopes()]
    (gone,) = [e for e in events if e["kind"] == "gone"]
    assert gone["contact"]["id"] == contact.id and gone["contact"]["after_seconds"] > 0
    assert "after contact" in gone["summary"]

    # The report from the stack: the contact, the capture, the removal and its delay.
    assert main(["report", "--stack", "scrubwatch", "-o", str(tmp_path / "r"), "-c", config]) == 0
    tree = LexborHTMLParser((tmp_path / "r" / "report.html").read_text())
    assert "emailed press office" in tree.css_first("div.entry.contact").text()
    (change,) = tree.css("#w-notice-a ~ div.entry.change")[:1]
    assert "after contact " + contact.id in change.text() and "404" in change.text()


def test_the_same_contact_again_is_one_record(
    aws: Stack, site: Site, watchlist: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    site.pages.update(PAGES)
    config = str(watchlist([{"id": "notice-a", "url": site.url("/notices/a.html")}]))
    name_stack(aws)
    args = ["contact", "notice-a", "--note", "asked", "--at", "2026-12-01T10:00Z",
            "--stack", "scrubwatch", "-c", config]  # fmt: skip

    assert main(args) == 0 and main(args) == 0

    assert len(DynamoStateStore(aws.table, aws.ddb).contacts()) == 1
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="evidence/contacts/")
    assert len(listed["Contents"]) == 1


def _context() -> Any:
    from .support import LambdaContext

    return LambdaContext()


def test_watches_a_checker_had_no_time_for_stay_a_capture() -> None:
    from scrubwatch.aws.app import _leftovers

    asked = CheckRequest(host="h", watches=("a", "b", "c"), capture=True)

    (left,) = _leftovers([asked], [], ["b", "c"])

    assert left.watches == ("b", "c") and left.capture is True
