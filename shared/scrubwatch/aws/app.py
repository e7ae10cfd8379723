"""What the Lambda functions do, behind their thin handlers (no Lambda types here).

Configuration comes from the environment the SAM template sets, read once into
``environment.StackEnvironment``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..alerts.sns import SnsPublisher
from ..backends.aws import DynamoStateStore, S3EvidenceStore
from ..check.children import RunChildren
from ..check.engine import Engine
from ..core.compiled import watchlist_from_compiled
from ..core.config import ConfigError, Watch, Watchlist
from ..core.contact import raised
from ..core.decide import WatchState
from ..core.due import due_on_aws, is_due, rechecking, unseen
from ..core.events import Event
from ..core.report import RunReport
from ..core.routing import channels_for, routes
from . import clients, watchlists, witnessing
from .environment import stack
from .schedule import (
    CheckRequest,
    batches,
    carrying,
    due_by_slot,
    pack,
    rendered_apart,
    watchlist_digest,
)

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
    store = DynamoStateStore(
        _env("TABLE_NAME"), dynamodb or clients.client("dynamodb"), consistent=False, remember=False
    )
    tick = store.last_tick()
    digest = watchlist_digest(wl)
    # The pages the list's watches discovered are watches too, found in the table; one
    # never checked (its first check ran out of time) is due at once.
    wl, unseen_children = with_children(wl, store)
    # A contact checks the watches it concerns more often while it lasts.
    contacts = store.contacts()
    if contacts:
        wl = replace(wl, watches=tuple(raised(w, contacts, t) for w in wl.watches))
    due = {w.id: w for w in due_by_slot(wl, tick[0] if tick else t - FIRST_WINDOW_S, t)}
    due.update((w.id, w) for w in unseen_children)
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
    plain, rendered = rendered_apart(due.values())
    requests = pack(plain)
    sqs = sqs or clients.client("sqs")
    _send((carrying(r, wl, digest).body() for r in requests), sqs)
    if rendered:
        pages = pack(rendered)
        _send((carrying(r, wl, digest).body() for r in pages), sqs, render_queue())
        requests += pages
    store.save_tick(t, digest)  # after sending: a tick that failed is done again in full
    return ScheduleReport(due=len(due), messages=len(requests), states_read=read)


def with_children(wl: Watchlist, store: DynamoStateStore) -> tuple[Watchlist, list[Watch]]:
    """The list with the children its discovering watches found (the table has them), and
    those never checked yet."""
    parents = [w.id for w in wl.watches if w.discover is not None]
    if not parents:
        return wl, []
    kids = RunChildren(wl, store.children(parents))
    found = kids.watches(skip={w.id for w in wl.watches})
    never = {c.id for c in kids.records.values() if not c.seen}
    return replace(wl, watches=(*wl.watches, *found)), [w for w in found if w.id in never]


def render_queue() -> str:
    """Where rendered watches' messages go: their own queue, or the check queue of a stack
    deployed without one."""
    return stack().render_queue_url or _env("QUEUE_URL")


def _send(bodies: Iterable[str], sqs: Any, queue: str | None = None) -> None:
    queue = queue or _env("QUEUE_URL")
    for batch in batches(bodies):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        for _ in range(3):
            reply = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            failed = {f["Id"] for f in reply.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} check message(s)")


@dataclass(frozen=True)
class BatchResult:
    """What became of a batch of check messages."""

    report: RunReport
    failed: list[int]  # the messages (indexes) to return to the queue: a check of theirs broke
    requeue: list[CheckRequest]  # the watches no check started, as new messages


def check_batch(
    requests: Sequence[CheckRequest],
    dynamodb: Any = None,
    s3: Any = None,
    sns: Any = None,
    resolver: Any = None,
    budget: float | None = None,
    browser_args: Sequence[str] = (),
) -> BatchResult:
    """Checks the watches of a batch of messages in one run: messages of different hosts
    side by side, each host under its `per_host` limit, so a batch takes as long as its
    slowest host, not the sum of them.

    A message whose checks met a failure of the run's own (an event not published, storage
    refused) goes back to the queue, the rest stand; with no ``budget`` left for a watch, it
    is left uncommitted and named in a new message (``requeue``)."""
    if not requests:
        return BatchResult(RunReport(), [], [])
    wl, digest = _watchlist_for(requests, dynamodb)
    wanted = list(dict.fromkeys(i for r in requests for i in r.watches))
    unknown = [i for i in wanted if wl.get(i) is None]
    if unknown:
        # The list changed since the message was queued: nothing to check for these.
        log.warning("watches no longer in the watch list: %s", ", ".join(unknown))
    ids = [i for i in wanted if wl.get(i) is not None]
    if not ids:
        return BatchResult(RunReport(), [], [])
    capture = frozenset(i for r in requests if r.capture for i in r.watches)
    engine = _checker_engine(wl, dynamodb, s3, sns, resolver, capture, browser_args)
    try:
        # Not forced: a message delivered twice, or queued by two overlapping ticks, finds
        # the watch checked moments ago and skips it, so two quick checks never confirm a
        # "gone".
        report = engine.run(ids, force=False, budget=budget)
        broken: set[str] = set()
    except Exception:
        log.exception("checks of this batch failed; their messages return to the queue")
        report = engine.report
        # A failure outside any one check (the states could not be read) breaks them all.
        broken = set(report.crashed) or set(ids)
    # The events that went out, for the Internet Archive to capture (their own queue).
    witnessing.send(witnessing.requests_for(report.events, wl, engine.watch))
    failed = [n for n, r in enumerate(requests) if broken.intersection(r.watches)]
    leftovers = _leftovers(requests, failed, report.unfinished)
    return BatchResult(report, failed, [carrying(r, wl, digest) for r in leftovers])


def _watchlist_for(requests: Sequence[CheckRequest], dynamodb: Any) -> tuple[Watchlist, str]:
    """The watches the messages carry, with their settings, and the digest of the list
    they came from: no list is read. They are used only while the scheduler's last tick
    saw that same list; after any edit (a watch removed or changed, new settings), and for
    a message that carries none (too big, or queued before they did) or does not
    validate, the list in force (pushed or bundled) decides."""
    digests = {r.digest for r in requests}
    carried = [r.watchlist for r in requests if r.watchlist is not None]
    if len(digests) == 1 and None not in digests and len(carried) == len(requests):
        [digest] = digests
        store = DynamoStateStore(_env("TABLE_NAME"), dynamodb or clients.client("dynamodb"))
        tick = store.last_tick()
        if digest is not None and tick is not None and tick[1] == digest:
            watches = {str(w.get("id")): w for p in carried for w in p.get("watches", [])}
            document = {**carried[0], "source": "check messages", "watches": [*watches.values()]}
            try:
                return watchlist_from_compiled(json.dumps(document).encode(), "message"), digest
            except ConfigError as exc:
                log.error("%s; reading the watch list instead", exc.problems[0])
    wl = watchlist()
    digest = watchlist_digest(wl)
    if any("/" in i for r in requests for i in r.watches):
        # Discovered pages are not in the list: the table says what they are.
        store = DynamoStateStore(_env("TABLE_NAME"), dynamodb or clients.client("dynamodb"))
        wl, _ = with_children(wl, store)
    return wl, digest


def _leftovers(
    requests: Sequence[CheckRequest], failed: list[int], unfinished: list[str]
) -> list[CheckRequest]:
    """The unstarted watches of the messages that stand, one new message per message."""
    left, out = set(unfinished), []
    for n, request in enumerate(requests):
        rest = tuple(i for i in request.watches if i in left)
        if n not in failed and rest:
            # A contact's capture stays one: the watches left are kept however unchanged.
            out.append(CheckRequest(host=request.host, watches=rest, capture=request.capture))
            left.difference_update(rest)
    return out


def _checker_engine(
    wl: Watchlist,
    dynamodb: Any,
    s3: Any,
    sns: Any,
    resolver: Any,
    capture: frozenset[str] = frozenset(),
    browser_args: Sequence[str] = (),
) -> Engine:
    all_routes = routes(wl)

    def channels(event: Event) -> list[str]:
        return channels_for(event, all_routes)

    store = DynamoStateStore(_env("TABLE_NAME"), dynamodb or clients.client("dynamodb"))
    contacts = store.contacts()

    def due(watch: Watch, state: WatchState, now: float, recheck: float) -> bool:
        # A contact's capture is made now, even of a page checked moments ago, unless it
        # was checked since the contact (the message came twice, or went back to the
        # queue), or waits for a recheck: a capture never hastens a "gone".
        if (watch.id in capture or watch.parent in capture) and not rechecking(state):
            latest = max((c.at for c in contacts if c.covers(watch) and c.at <= now), default=0)
            if state.last_checked < latest:
                return True
        return due_on_aws(watch, state, now, recheck)

    return Engine(
        wl,
        store,
        S3EvidenceStore(_env("BUCKET_NAME"), s3 or clients.client("s3")),
        [SnsPublisher(_env("TOPIC_ARN"), channels, sns or clients.client("sns"))],
        resolver=resolver,
        # One worker: not for speed (a Lambda has a vCPU or less) but so that a page that
        # crashes or hangs the parser is that watch's `read_failed`, well inside the
        # function's timeout, instead of failing every watch in the batch.
        workers=2,
        read_deadline=30.0,
        publish_first=True,
        clock=lambda: datetime.fromtimestamp(time.time(), UTC),  # the scheduler's clock
        due=due,
        witness_inline=False,  # the witness queue asks the Archive (aws/witnessing.py)
        children_with_parent=False,  # each child is queued by the scheduler on its own
        contacts=contacts,  # each event says how long after a contact it was seen
        capture_all=capture,
        browser_args=browser_args,  # the render function's Chromium (aws/chromium.py)
    )


@dataclass(frozen=True)
class MessagesChecked:
    """What became of a batch of queue records (``check_messages``)."""

    report: RunReport
    messages: int  # the records that were check messages
    failed: list[str]  # the message ids to return to the queue (malformed or broken)


def check_messages(
    records: Sequence[dict[str, Any]],
    budget: float,
    browser_args: Sequence[str] = (),
    queue: str | None = None,
) -> MessagesChecked:
    """A checking function's work on its SQS records: the messages read, their watches
    checked within ``budget`` seconds, the rest requeued to ``queue`` (the check queue's by
    default)."""
    requests: list[CheckRequest] = []
    ids: list[str] = []  # message ids, as the requests
    malformed: list[str] = []
    for record in records:
        try:
            requests.append(CheckRequest.model_validate_json(record["body"]))
            ids.append(record["messageId"])
        except ValueError:
            log.exception("malformed check message", extra={"message_id": record["messageId"]})
            malformed.append(record["messageId"])
    result = check_batch(requests, budget=budget, browser_args=browser_args)
    if result.requeue:
        log.warning("out of time; requeued", extra={"unfinished": len(result.report.unfinished)})
        requeue(result.requeue, queue=queue)
    failed = [*malformed, *(ids[n] for n in result.failed)]
    return MessagesChecked(result.report, len(requests), failed)


def requeue(requests: Sequence[CheckRequest], sqs: Any = None, queue: str | None = None) -> None:
    """Sends the watches a checker had no time for back to the check queue (or ``queue``)
    as messages of their own: new messages, so a host slow enough to need several rounds
    never pushes its watches into the dead-letter queue (which counts receives of one
    message)."""
    _send((r.body() for r in requests), sqs or clients.client("sqs"), queue)
