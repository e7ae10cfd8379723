"""5,000 watches through the scheduler under moto: message count, sizes and batches."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from scrubwatch.aws.schedule import WATCHES_PER_MESSAGE, CheckRequest
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.check.ports import Commit
from scrubwatch.core.decide import WatchState

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, sample_event

pytestmark = IGNORE_EMPTY_METRICS

SQS_MAX_BYTES = 256 * 1024
HOSTS = 50
# Uneven hosts, so chunks of 25 come out full and partial: 74, 87, 100, 113, 126, ...
PER_HOST = [100 + 13 * (h % 5 - 2) for h in range(HOSTS)]
assert sum(PER_HOST) == 5000


def many_watches() -> list[dict[str, Any]]:
    watches = []
    for h, count in enumerate(PER_HOST):
        for n in range(count):
            # Half of each host's URLs spell the host in capitals: the same host all the same.
            host = f"agency-{h:02d}.example.org"
            host = host.upper() if n % 2 else host
            # Long ids (near the 128-character limit) make the messages as large as they get.
            watches.append(
                {
                    "id": f"agency-{h:02d}-notice-{n:04d}-" + "x" * 100,
                    "url": f"https://{host}/notices/{n}.html",
                    "every": "1h",
                }
            )
    return watches


def record_calls(aws: Stack, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    aws.hook(f"before-parameter-build.{operation}", lambda params, **_: calls.append(params))
    return calls


def test_five_thousand_watches_are_queued_once_by_host_within_sqs_limits(
    aws: Stack, handlers: SimpleNamespace, watchlist: Callable[..., Any]
) -> None:
    listed = many_watches()
    watchlist(listed)
    expected = sum(math.ceil(n / WATCHES_PER_MESSAGE) for n in PER_HOST)
    sends = record_calls(aws, "sqs.SendMessageBatch")
    reads = record_calls(aws, "dynamodb.BatchGetItem")

    reply = handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())

    assert reply == {"due": 5000, "messages": expected}
    # State is read in batches of at most 100 keys (DynamoDB's limit), not one by one.
    assert len(reads) == 50
    assert all(len(r["RequestItems"][aws.table]["Keys"]) <= 100 for r in reads)
    # SendMessageBatch: at most 10 entries and 256 KB a call.
    assert len(sends) == math.ceil(expected / 10)
    for call in sends:
        assert 1 <= len(call["Entries"]) <= 10
        assert sum(len(e["MessageBody"].encode()) for e in call["Entries"]) <= SQS_MAX_BYTES

    messages = aws.receive_all(aws.queue_url)
    assert len(messages) == expected
    queued: Counter[str] = Counter()
    per_host: Counter[str] = Counter()
    for m in messages:
        assert len(m["Body"].encode()) < SQS_MAX_BYTES
        request = CheckRequest.model_validate_json(m["Body"])
        assert 1 <= len(request.watches) <= WATCHES_PER_MESSAGE
        hosts = {w.split("-notice-")[0] for w in request.watches}
        assert len(hosts) == 1  # one host per message
        assert request.host == f"{hosts.pop()}.example.org"
        queued.update(request.watches)
        per_host[request.host] += 1
    assert queued.keys() == {w["id"] for w in listed}
    assert set(queued.values()) == {1}  # every id exactly once
    assert per_host == {
        f"agency-{h:02d}.example.org": math.ceil(n / WATCHES_PER_MESSAGE)
        for h, n in enumerate(PER_HOST)
    }


def test_only_due_watches_are_queued(
    aws: Stack, handlers: SimpleNamespace, watchlist: Callable[..., Any]
) -> None:
    """Watches checked within their `every` stay off the queue; the others go on it."""
    listed = many_watches()[:300]
    watchlist(listed)
    store = DynamoStateStore(aws.table, aws.ddb)
    recent = [w["id"] for w in listed[::3]]
    states = store.load(recent)
    now = time.time()
    assert store.commit([Commit(state=replace(states[i], last_checked=now)) for i in recent]) == []
    # One checked long ago is due again.
    stale = listed[1]["id"]
    assert store.commit([Commit(state=WatchState(watch_id=stale, last_checked=now - 7200))]) == []

    reply = handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())

    queued: Counter[str] = Counter()
    for m in aws.receive_all(aws.queue_url):
        queued.update(CheckRequest.model_validate_json(m["Body"]).watches)
    assert reply["due"] == 300 - len(recent)
    assert set(queued) == {w["id"] for w in listed} - set(recent)
    assert stale in queued
    assert set(queued.values()) == {1}
