"""The checker works to the time its invocation has left (issue 12, point 1): a host that
accepts connections and never answers ends as each watch's `timeout`, within the budget,
and what a checker had no time for goes back to the queue as a new message, so nothing
lands in the dead-letter queue and no record is failed for being slow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

from scrubwatch.aws.schedule import CheckRequest
from support import Listener

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, sample_event

pytestmark = IGNORE_EMPTY_METRICS

MARGIN = 15.0  # functions/checker/handler.py COMMIT_MARGIN_S


class Invocation(LambdaContext):
    """A context whose remaining time runs down as a real one does."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.ends - time.monotonic()) * 1000), 0)


def test_a_host_that_never_answers_times_out_within_the_budget_and_the_rest_is_requeued(
    aws: Stack,
    handlers: SimpleNamespace,
    watchlist: Callable[..., Any],
    listener: Callable[..., Listener],
) -> None:
    silent = listener("127.0.0.1")  # accepts (the kernel does), never answers
    ids = [f"p{i:02}" for i in range(30)]  # two messages: 25 and 5 watches
    watchlist(
        [{"id": i, "url": f"http://127.0.0.1:{silent.port}/{i}.html"} for i in ids],
        timeout="1s",
        per_host=2,
        confirm_errors=1,
    )
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    messages = aws.receive_all(aws.queue_url)
    assert sorted(len(json.loads(m["Body"])["watches"]) for m in messages) == [5, 25]
    messages.sort(key=lambda m: -len(json.loads(m["Body"])["watches"]))

    # 2 s of budget: the checks started in it end as `timeout` errors; the others are left
    # uncommitted and go back to the queue, each with the message it came from.
    started = time.monotonic()
    reply = handlers.checker.lambda_handler(aws.sqs_event(messages), Invocation(MARGIN + 2))
    assert time.monotonic() - started < MARGIN  # inside the function's time
    assert reply == {"batchItemFailures": []}  # slow is not failed: no receive counted
    for m in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])

    checked = [i for i in ids if aws.state_item(i) is not None]
    assert checked and len(checked) < len(ids)
    assert {aws.state(i)["error_reason"] for i in checked} == {"timeout"}
    again = aws.receive_all(aws.queue_url)
    left = [json.loads(m["Body"])["watches"] for m in again]
    assert sorted(i for watches in left for i in watches) == sorted(set(ids) - set(checked))
    originals = [set(json.loads(m["Body"])["watches"]) for m in messages]
    assert all(any(set(w) <= o for o in originals) for w in left)  # a host stays together

    # The requeued messages, with time enough: every watch has its `timeout` error.
    reply = handlers.checker.lambda_handler(aws.sqs_event(again), LambdaContext())
    assert reply == {"batchItemFailures": []}
    for m in again:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    errors = [json.loads(e["Message"]) for e in aws.envelopes()]
    assert sorted(e["watch"] for e in errors) == ids
    assert {(e["kind"], e["reason"]) for e in errors} == {("error", "timeout")}
    assert aws.receive_all(aws.queue_url) == [] and aws.receive_all(aws.dlq_url) == []


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(host: str, before_answering: Callable[[], None]) -> _Server:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            before_answering()
            body = f"<html><body><p>{host}</p></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server((host, 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_messages_of_a_batch_are_checked_side_by_side(
    aws: Stack, handlers: SimpleNamespace, watchlist: Callable[..., Any]
) -> None:
    """Host A answers only once host B has been asked: checked one message after the other
    (A first), A would time out; side by side, both answer."""
    b_asked = threading.Event()
    a = _serve("127.0.0.1", lambda: b_asked.wait(8))
    b = _serve("127.0.0.2", b_asked.set)
    try:
        watchlist(
            [
                {"id": "a", "url": f"http://127.0.0.1:{a.server_port}/"},
                {"id": "b", "url": f"http://127.0.0.2:{b.server_port}/"},
            ],
            allow_networks=["127.0.0.0/8"],
            timeout="4s",
        )
        aws.send_checks(
            CheckRequest(host="127.0.0.1", watches=("a",)).body(),
            CheckRequest(host="127.0.0.2", watches=("b",)).body(),
        )
        messages = aws.receive_all(aws.queue_url)
        messages.sort(key=lambda m: json.loads(m["Body"])["host"])  # A's message first
        reply = handlers.checker.lambda_handler(aws.sqs_event(messages), LambdaContext())
    finally:
        for server in (a, b):
            server.shutdown()
            server.server_close()
    assert reply == {"batchItemFailures": []}
    assert {aws.state(i)["condition"] for i in ("a", "b")} == {"up"}
