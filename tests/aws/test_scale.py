"""5,000 watches through the scheduler under moto: message count, sizes and batches."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from scrubwatch.aws import app as aws_app
from scrubwatch.aws.schedule import WATCHES_PER_MESSAGE, CheckRequest
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.check.ports import Commit
from scrubwatch.core.decide import WatchState
from scrubwatch.core.due import slot_passed

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
    # Each host in as few messages as it can be (its watches / 25, rounded up); what is
    # left of the hosts shares messages.
    least = math.ceil(sum(PER_HOST) / WATCHES_PER_MESSAGE)
    most = sum(math.ceil(n / WATCHES_PER_MESSAGE) for n in PER_HOST)
    sends = record_calls(aws, "sqs.SendMessageBatch")
    reads = record_calls(aws, "dynamodb.BatchGetItem")

    reply = handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())

    assert reply["due"] == 5000
    assert least <= reply["messages"] < most
    # State is read in batches of at most 100 keys (DynamoDB's limit), not one by one.
    assert len(reads) == 50
    assert all(len(r["RequestItems"][aws.table]["Keys"]) <= 100 for r in reads)
    # SendMessageBatch: at most 10 entries and 256 KB a call.
    assert len(sends) == math.ceil(reply["messages"] / 10)
    for call in sends:
        assert 1 <= len(call["Entries"]) <= 10
        assert sum(len(e["MessageBody"].encode()) for e in call["Entries"]) <= SQS_MAX_BYTES

    messages = aws.receive_all(aws.queue_url)
    assert len(messages) == reply["messages"]
    queued: Counter[str] = Counter()
    per_host: Counter[str] = Counter()
    for m in messages:
        assert len(m["Body"].encode()) < SQS_MAX_BYTES
        request = CheckRequest.model_validate_json(m["Body"])
        assert 1 <= len(request.watches) <= WATCHES_PER_MESSAGE
        hosts = {w.split("-notice-")[0] + ".example.org" for w in request.watches}
        assert set(request.host.split(",")) == hosts
        queued.update(request.watches)
        per_host.update(hosts)
    assert queued.keys() == {w["id"] for w in listed}
    assert set(queued.values()) == {1}  # every id exactly once
    assert per_host == {
        f"agency-{h:02d}.example.org": math.ceil(n / WATCHES_PER_MESSAGE)
        for h, n in enumerate(PER_HOST)
    }


def test_many_small_hosts_share_messages() -> None:
    from scrubwatch.aws.schedule import pack
    from scrubwatch.core.config import parse_watchlist

    text = "watches:\n" + "".join(
        f"  - id: w{n}\n    url: https://host-{n}.example.org/\n" for n in range(1000)
    )
    requests = pack(parse_watchlist(text).watches)
    assert len(requests) == 40  # not 1,000 messages of one watch
    assert all(len(r.watches) == WATCHES_PER_MESSAGE for r in requests)


def checked_at(aws: Stack, ids: list[str], at: float) -> None:
    """As the checker leaves watches it found up: checked at ``at``, nothing to recheck."""
    store = DynamoStateStore(aws.table, aws.ddb)
    states = store.load(ids)
    assert store.commit([Commit(state=replace(s, last_checked=at)) for s in states.values()]) == []


def test_a_quiet_tick_reads_no_state_and_each_watch_comes_round_once_per_every(
    aws: Stack, watchlist: Callable[..., Any]
) -> None:
    """After the first tick (which reads every state once, to find the watches never
    checked), each tick queues the watches whose slot came round, reading nothing; over
    one `every` of 15-minute ticks each watch is queued exactly once."""
    listed = many_watches()[:300]
    watchlist(listed)
    t0 = 1_800_000_000.0
    first = aws_app.schedule(now=t0)
    assert (first.due, first.states_read) == (300, 300)  # never checked: all due at once
    aws.queued()
    checked_at(aws, [w["id"] for w in listed], t0)

    reads = record_calls(aws, "dynamodb.BatchGetItem")
    seen: Counter[str] = Counter()
    for tick in range(1, 5):  # 4 ticks of 15 minutes: one `every` (1h)
        report = aws_app.schedule(now=t0 + tick * 900)
        assert report.states_read == 0
        got = aws.queued()
        assert report.due == sum(got.values())
        seen.update(got)
    assert reads == []
    assert seen.keys() == {w["id"] for w in listed}
    assert set(seen.values()) == {1}


def test_a_watch_waiting_for_a_recheck_is_read_and_queued_when_its_time_comes(
    aws: Stack, watchlist: Callable[..., Any]
) -> None:
    listed = many_watches()[:50]
    watchlist(listed, recheck="10m")
    t0 = 1_800_000_000.0
    aws_app.schedule(now=t0)
    aws.queued()
    store = DynamoStateStore(aws.table, aws.ddb)
    suspect = listed[7]["id"]
    # Its last check found it gone once: one more 404 confirms it, after `recheck`.
    gone_once = WatchState(watch_id=suspect, condition="up", last_checked=t0, gone_streak=1)
    assert store.commit([Commit(state=gone_once)]) == []

    early = aws_app.schedule(now=t0 + 300)
    assert early.states_read == 1
    assert suspect not in aws.queued()
    due = aws_app.schedule(now=t0 + 660)
    assert due.states_read == 1
    assert suspect in aws.queued()
    # Confirmed: it leaves the recheck list, and ticks read nothing again.
    confirmed = WatchState(watch_id=suspect, condition="gone", last_checked=t0 + 700, rev=1)
    assert store.commit([Commit(state=confirmed)]) == []
    assert aws_app.schedule(now=t0 + 1200).states_read == 0


def test_an_edited_list_reads_every_state_once_and_queues_the_new_watch_at_once(
    aws: Stack, watchlist: Callable[..., Any]
) -> None:
    listed = many_watches()[:40]
    watchlist(listed)
    t0 = 1_800_000_000.0
    aws_app.schedule(now=t0)
    aws.queued()
    checked_at(aws, [w["id"] for w in listed], t0)

    added = {"id": "added-later", "url": "https://agency-00.example.org/new.html", "every": "1d"}
    watchlist([*listed, added])
    edited = aws_app.schedule(now=t0 + 900)
    assert edited.states_read == 41
    assert "added-later" in aws.queued()  # whatever its slot
    assert aws_app.schedule(now=t0 + 1800).states_read == 0


def test_a_watch_waiting_for_a_recheck_from_before_the_list_existed_is_found(
    aws: Stack, watchlist: Callable[..., Any]
) -> None:
    """A stack upgraded while a page was suspected gone: its state has no recheck entry.
    The first tick (a list it has not seen) reads every state and queues it when due."""
    listed = many_watches()[:30]
    watchlist(listed, recheck="10m")
    t0 = 1_800_000_000.0
    store = DynamoStateStore(aws.table, aws.ddb)
    first_tick = aws_app.watchlist()
    # One whose slot does not come round in the tick's window: only the recheck finds it.
    suspect = next(w.id for w in first_tick.watches if not slot_passed(w, t0 + 660 - 900, t0 + 660))
    gone_once = WatchState(watch_id=suspect, condition="up", last_checked=t0, gone_streak=1)
    assert store.commit([Commit(state=gone_once)]) == []
    aws.ddb.delete_item(TableName=aws.table, Key={"pk": {"S": "S#recheck"}, "sk": {"S": suspect}})
    checked_at(aws, [w["id"] for w in listed if w["id"] != suspect], t0)

    aws_app.schedule(now=t0 + 660)

    assert suspect in aws.queued()


def test_hosts_remainders_fill_the_fullest_message_they_fit() -> None:
    from scrubwatch.aws.schedule import pack
    from scrubwatch.core.config import parse_watchlist

    sizes = {"a": 20, "b": 20, "c": 5, "d": 5, "e": 30}  # e: one message of 25, 5 left
    text = "watches:\n" + "".join(
        f"  - id: {h}{n}\n    url: https://{h}.example.org/{n}\n"
        for h, count in sizes.items()
        for n in range(count)
    )
    requests = pack(parse_watchlist(text).watches)
    assert sorted(len(r.watches) for r in requests) == [5, 25, 25, 25]  # next fit: 10, 20, 25, 25
    for r in requests:  # a host is never split but for its whole messages of 25
        assert len({w.rstrip("0123456789") for w in r.watches}) == len(r.host.split(","))
