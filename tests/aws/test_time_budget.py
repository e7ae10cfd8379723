"""The checker works to the time its invocation has left (issue 12, point 1): a host that
accepts connections and never answers ends as each watch's `timeout`, within the budget,
and what a checker had no time for goes back to the queue as a new message, so nothing
lands in the dead-letter queue and no record is failed for being slow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

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

    # 2 s of budget: the first message uses it up, the second has no time left.
    started = time.monotonic()
    reply = handlers.checker.lambda_handler(aws.sqs_event(messages), Invocation(MARGIN + 2))
    assert time.monotonic() - started < MARGIN  # inside the function's time
    assert reply == {"batchItemFailures": []}  # slow is not failed: no receive counted
    for m in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])

    first = json.loads(messages[0]["Body"])["watches"]
    assert {aws.state(i)["error_reason"] for i in first} == {"timeout"}
    [again] = aws.receive_all(aws.queue_url)
    second = json.loads(again["Body"])["watches"]
    assert second == json.loads(messages[1]["Body"])["watches"]
    assert all(aws.state_item(i) is None for i in second)  # untouched, not failed

    # The requeued message, with time enough: every watch has its `timeout` error.
    reply = handlers.checker.lambda_handler(aws.sqs_event([again]), LambdaContext())
    assert reply == {"batchItemFailures": []}
    aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=again["ReceiptHandle"])
    errors = [json.loads(e["Message"]) for e in aws.envelopes()]
    assert sorted(e["watch"] for e in errors) == ids
    assert {(e["kind"], e["reason"]) for e in errors} == {("error", "timeout")}
    assert aws.receive_all(aws.queue_url) == [] and aws.receive_all(aws.dlq_url) == []
