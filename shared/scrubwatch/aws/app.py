"""What the Lambda functions do, behind their thin handlers (no Lambda types here).

Configuration comes from the environment the SAM template sets, read once into
``environment.StackEnvironment``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from ..alerts.sns import SnsPublisher
from ..backends.aws import DynamoStateStore, S3EvidenceStore
from ..check.engine import Engine
from ..core.config import Watchlist
from ..core.due import due_on_aws, is_due, rechecking, unseen
from ..core.events import Event
from ..core.report import RunReport
from ..core.routing import channels_for, routes
from . import watchlists
from .environment import stack
from .schedule import CheckRequest, batches, due_by_slot, pack, watchlist_digest

log = logging.getLogger("scrubwatch")


def watchlist() -> Watchlist:
    """The pushed watch list (if any), else the bundled one (aws/watchlists.py)."""
    return watchlists.current()


def _env(name: str) -> str:
    return stack().required(name.lower())


@dataclass(frozen=True)
class ScheduleReport:
    due: int
    messages: int
    states_read: int = 0  # watch states read from the table for this tick


# The window of the first tick (no previous one recorded): the template's default schedule.
FIRST_WINDOW_S = 900.0
_FULL_READ_CHUNK = 1000  # states held at once while reading every one (list edited)


def schedule(now: float | None = None, sqs: Any = None, dynamodb: Any = None) -> ScheduleReport:
    """Finds the due watches and queues them, grouped by host.

    A quiet tick reads no watch state: each watch is due when its slot comes round; only
    the watches waiting for a recheck are read. After the watch list changed, every state
    is read once (eventually consistent, a thousand at a time) for the watches never
    checked or edited since."""
    wl = watchlist()
    t = time.time() if now is None else now
    store = DynamoStateStore(_env("TABLE_NAME"), dynamodb, consistent=False, remember=False)
    tick = store.last_tick()
    digest = watchlist_digest(wl)
    due = {w.id: w for w in due_by_slot(wl, tick[0] if tick else t - FIRST_WINDOW_S, t)}
    waiting = [i for i in store.rechecking() if wl.get(i) is not None]
    read = len(waiting)
    recheck = wl.settings.recheck
    for watch_id, state in store.load(waiting).items():
        watch = wl.get(watch_id)
        if watch is not None and is_due(watch, state, t, recheck):
            due[watch_id] = watch
    if tick is None or tick[1] != digest:
        for start in range(0, len(wl.watches), _FULL_READ_CHUNK):
            chunk = wl.watches[start : start + _FULL_READ_CHUNK]
            states = store.load(w.id for w in chunk)
            due.update((w.id, w) for w in chunk if unseen(w, states[w.id]))
            # A watch waiting for a recheck since before the recheck list existed: its
            # check, when due, puts it on the list.
            due.update(
                (w.id, w)
                for w in chunk
                if rechecking(states[w.id]) and is_due(w, states[w.id], t, recheck)
            )
        read += len(wl.watches)
    requests = pack(due.values())
    _send(requests, sqs or boto3.client("sqs"))
    store.save_tick(t, digest)  # after sending: a tick that failed is done again in full
    return ScheduleReport(due=len(due), messages=len(requests), states_read=read)


def _send(requests: list[CheckRequest], sqs: Any) -> None:
    queue = _env("QUEUE_URL")
    for batch in batches(requests):
        entries = [{"Id": str(i), "MessageBody": r.body()} for i, r in enumerate(batch)]
        for _ in range(3):
            reply = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            failed = {f["Id"] for f in reply.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} check message(s)")


def check(
    request: CheckRequest,
    dynamodb: Any = None,
    s3: Any = None,
    sns: Any = None,
    resolver: Any = None,
    budget: float | None = None,
) -> RunReport:
    """Checks one message's watches; raises (state untouched) if an event cannot be sent.

    ``budget``: the seconds the function has left for it. The watches it leaves are in
    ``report.unfinished``, uncommitted (``requeue`` sends them on)."""
    wl = watchlist()
    unknown = [i for i in request.watches if wl.get(i) is None]
    if unknown:
        # The list changed since the message was queued: nothing to check for these.
        log.warning("watches no longer in the watch list: %s", ", ".join(unknown))
    ids = [i for i in request.watches if wl.get(i) is not None]
    if not ids:
        return RunReport()

    all_routes = routes(wl)

    def channels(event: Event) -> list[str]:
        return channels_for(event, all_routes)

    engine = Engine(
        wl,
        DynamoStateStore(_env("TABLE_NAME"), dynamodb),
        S3EvidenceStore(_env("BUCKET_NAME"), s3),
        [SnsPublisher(_env("TOPIC_ARN"), channels, sns)],
        resolver=resolver,
        # One worker: not for speed (a Lambda has a vCPU or less) but so that a page that
        # crashes or hangs the parser is that watch's `read_failed`, well inside the
        # function's timeout, instead of failing every watch in the message.
        workers=2,
        read_deadline=30.0,
        publish_first=True,
        clock=lambda: datetime.fromtimestamp(time.time(), UTC),  # the scheduler's clock
        due=due_on_aws,
    )
    # Not forced: a message delivered twice, or queued by two overlapping ticks, finds the
    # watch checked moments ago and skips it, so two quick checks never confirm a "gone".
    return engine.run(ids, force=False, budget=budget)


def requeue(request: CheckRequest, unfinished: list[str], sqs: Any = None) -> None:
    """Sends the watches a checker had no time for back to the check queue as a message of
    their own: a new message, so a host slow enough to need several rounds never pushes its
    watches into the dead-letter queue (which counts receives of one message)."""
    rest = CheckRequest(host=request.host, watches=tuple(unfinished))
    (sqs or boto3.client("sqs")).send_message(QueueUrl=_env("QUEUE_URL"), MessageBody=rest.body())
