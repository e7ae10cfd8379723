"""A check message carries its watches and the settings (issue 12, point 4: a checker loads
only what its message needs): the checker reads no watch list, whatever its size. A message
without them (too big, or queued before they were carried) and messages queued under
different settings fall back to the whole list."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from scrubwatch.aws.schedule import CARRY_MAX_BYTES, CheckRequest, carrying, watchlist_digest
from scrubwatch.check.watchlist_file import load_watchlist
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, sample_event

pytestmark = IGNORE_EMPTY_METRICS


def _list_reads(aws: Stack) -> list[str]:
    """The watch-list keys the handlers read from the bucket from now on."""
    keys: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").startswith("watchlist/"):
            keys.append(params["Key"])

    aws.hook("before-parameter-build.s3.GetObject", seen)
    return keys


def test_the_checker_reads_no_watch_list(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    site.pages["/a.html"] = page("A", "<p>a</p>")
    site.pages["/b.html"] = page("B", "<p>b</p>")
    watchlist(
        [
            {"id": "a", "url": site.url("/a.html"), "keywords": ["a"]},
            {"id": "b", "url": site.url("/b.html"), "every": "1d"},
        ]
    )
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    [message] = aws.receive_all(aws.queue_url)
    carried = json.loads(message["Body"])["watchlist"]
    # In the order the scheduler found them due, which depends on their slots' times.
    by_id = {w["id"]: w for w in carried["watches"]}
    assert sorted(by_id) == ["a", "b"]
    assert by_id["a"]["keywords"] == ["a"] and by_id["b"]["every"] == 86400
    assert carried["settings"]["slack_webhook"] is None  # a secret never travels

    reads = _list_reads(aws)
    reply = handlers.checker.lambda_handler(aws.sqs_event([message]), LambdaContext())
    assert reply == {"batchItemFailures": []}
    assert reads == []
    assert {aws.state(i)["condition"] for i in ("a", "b")} == {"up"}


def test_a_message_without_its_watches_reads_the_list(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    site.pages["/a.html"] = page("A", "<p>a</p>")
    watchlist([{"id": "a", "url": site.url("/a.html")}])
    aws.send_checks(CheckRequest(host="127.0.0.1", watches=("a",)).body())
    reads = _list_reads(aws)
    reply = handlers.checker.lambda_handler(
        aws.sqs_event(aws.receive_all(aws.queue_url)), LambdaContext()
    )
    assert reply == {"batchItemFailures": []}
    assert reads == ["watchlist/watchlist.json"]
    assert aws.state("a")["condition"] == "up"


def test_a_message_queued_before_an_edit_follows_the_list_in_force(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> None:
    """A watch removed after its message was queued is not checked: once the scheduler has
    seen the new list, the watches a message carries from the old one are not used."""
    site.pages["/a.html"] = page("A", "<p>a</p>")
    site.pages["/b.html"] = page("B", "<p>b</p>")
    a, b = {"id": "a", "url": site.url("/a.html")}, {"id": "b", "url": site.url("/b.html")}
    watchlist([a, b])
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    [queued] = aws.receive_all(aws.queue_url)
    # In any order: a watch whose slot came round in the first tick's window goes first.
    assert sorted(json.loads(queued["Body"])["watches"]) == ["a", "b"]
    watchlist([a])  # b removed
    clock(900)
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    reads = _list_reads(aws)
    reply = handlers.checker.lambda_handler(aws.sqs_event([queued]), LambdaContext())
    assert reply == {"batchItemFailures": []}
    assert reads == ["watchlist/watchlist.json"]
    assert aws.state_item("b") is None and aws.state("a")["condition"] == "up"


def test_a_tampered_message_is_refused_for_the_list(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    site.pages["/a.html"] = page("A", "<p>a</p>")
    watchlist([{"id": "a", "url": site.url("/a.html")}])
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    [queued] = aws.receive_all(aws.queue_url)
    body = json.loads(queued["Body"])
    body["watchlist"]["watches"][0]["url"] = "file:///etc/passwd"
    aws.send_checks(json.dumps(body))
    reply = handlers.checker.lambda_handler(
        aws.sqs_event(aws.receive_all(aws.queue_url)), LambdaContext()
    )
    assert reply == {"batchItemFailures": []}
    assert "the url is not http(s); reading the watch list instead" in caplog.text
    assert aws.state("a")["current"]["final_url"] == site.url("/a.html")


def test_a_message_too_big_with_its_watches_goes_without_them(
    watchlist: Callable[..., Any],
) -> None:
    many = [
        {"id": f"w{i:02}", "url": f"https://a.example/{i}", "keywords": ["x" * 200] * 15}
        for i in range(25)
    ]
    wl = load_watchlist(watchlist(many))
    ids = tuple(w.id for w in wl.watches)
    request = carrying(CheckRequest(host="a.example", watches=ids), wl, watchlist_digest(wl))
    assert request.watchlist is None
    assert len(request.body()) < CARRY_MAX_BYTES


def test_send_batches_are_sized_with_the_watches_in_them() -> None:
    """SendMessageBatch takes 10 entries and 256 KB in all: counted on the bodies as sent,
    watches included."""
    from scrubwatch.aws.schedule import SQS_BATCH_ENTRIES, SQS_MAX_BYTES, batches

    bodies = ["x" * 60_000] * 10 + ["y"] * 12
    sent = list(batches(bodies))
    assert all(sum(len(b) for b in batch) <= SQS_MAX_BYTES for batch in sent)
    assert all(len(batch) <= SQS_BATCH_ENTRIES for batch in sent)
    assert [len(batch) for batch in sent] == [4, 4, 10, 4]
    assert [b for batch in sent for b in batch] == bodies
