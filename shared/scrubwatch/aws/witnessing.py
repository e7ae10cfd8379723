"""On AWS the Internet Archive is asked after the check, not during it.

A Save Page Now capture takes seconds to minutes, and SPN2 allows a few a minute: inside
the checker it would eat the time budget of every watch in the batch. The checker queues a
request per witnessed event (``requests_for``, ``send``) once the event is out; the
WitnessFunction takes them one at a time (``capture``), spaced to the list's
``wayback_per_minute`` and retried by the queue, and keeps each result beside the version's
evidence as ``<version>.witness.json``. The manifest, already chained, is never rewritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..check.engine import witness_wanted
from ..check.witness import Capture, Wayback
from ..core.config import Watch, Watchlist
from ..core.events import Event
from . import clients
from .environment import stack
from .schedule import batches

log = logging.getLogger("scrubwatch")

WITNESS_SCHEMA = "scrubwatch.witness/1"
# Receives of one request before its failure is kept as the result (the queue's
# maxReceiveCount, template.yaml, is one more: what still fails goes to the dead letters).
ATTEMPTS = 3
# WitnessQueueMapping's MaximumConcurrency (template.yaml): each function spaces its captures
# at this share of the list's rate, so together they keep to it.
CONCURRENCY = 2


class WitnessRequest(BaseModel):
    """The body of one witness-queue message: one event to have the Archive capture."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(WITNESS_SCHEMA, alias="schema", pattern=r"^scrubwatch\.witness/1$")
    watch: str
    url: str
    capture_all: bool  # a page gone: its error answer is archived too
    event_id: str
    evidence: str  # the evidence (WARC) URI of the version the capture goes with
    asked_at: str
    # The list's settings for the Archive, so the witness function reads no list.
    endpoint: str = "https://web.archive.org"
    per_minute: int = Field(4, ge=1, le=6000)

    def body(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), separators=(",", ":"))

    def result_key(self) -> str:
        """Beside the version's evidence (``s3://bucket/<key>.warc.gz``)."""
        key = self.evidence.split("/", 3)[3]
        return key.removesuffix(".warc.gz") + ".witness.json"


def requests_for(
    events: Sequence[Event],
    watchlist: Watchlist,
    lookup: Callable[[str], Watch | None] | None = None,
) -> list[WitnessRequest]:
    """``lookup``: finds a watch by id where the list alone cannot (a page discovered in
    the run)."""
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out = []
    for event in events:
        watch = (lookup or watchlist.get)(event.watch)
        if watch is None or not witness_wanted(watch, event):
            continue
        evidence = event.current.evidence if event.current else None
        if not (evidence and evidence.startswith("s3://")):
            # Nothing was kept to go with it (a name that no longer resolves, say): the
            # Archive could capture nothing either.
            log.info("%s: no capture to witness for this %s", watch.id, event.kind)
            continue
        out.append(
            WitnessRequest(
                watch=watch.id,
                url=watch.url,
                capture_all=event.kind == "gone",
                event_id=event.event_id,
                evidence=evidence,
                asked_at=now,
                endpoint=str(watchlist.settings.wayback_endpoint),
                per_minute=watchlist.settings.wayback_per_minute,
            )
        )
    return out


def send(requests: Sequence[WitnessRequest], sqs: Any = None) -> None:
    """Queues the requests; a request that cannot be queued is logged, never raised: the
    check and its event stand without the witness (it is a second copy, not the record)."""
    queue = stack().witness_queue_url
    if not queue or not requests:
        return
    sqs = sqs or clients.client("sqs")
    watches = iter([r.watch for r in requests])
    for batch in batches(r.body() for r in requests):  # SQS's 10 entries and 256 KB
        named = [next(watches) for _ in batch]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        try:
            failed = sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed", [])
        except Exception:
            log.exception("witness requests not queued: %s", named)
            continue
        for f in failed:
            log.error("witness request not queued: %s", named[int(f["Id"])])


# The longest one capture takes: the request and the last status poll (30 s each, the
# client's timeout) around 2 minutes of polling. None is started with less time left.
CAPTURE_MAX_S = 200.0
# When this container last asked the Archive (time.monotonic()): the spacing holds across
# invocations, not only within one.
_last_asked = [0.0]


def forget() -> None:
    """A cold start (tests)."""
    _last_asked[0] = 0.0


def capture(
    requests: Sequence[tuple[WitnessRequest, int]],
    s3: Any = None,
    time_left: Callable[[], float] = lambda: math.inf,
) -> list[int]:
    """Has the Archive capture each (request, receive count) and keeps each result; the
    indexes of the requests to try again (failed with attempts left, or not started for
    want of ``time_left``, in seconds)."""
    if not requests:
        return []
    return asyncio.run(_capture(requests, s3 or clients.client("s3"), time_left))


async def _capture(
    requests: Sequence[tuple[WitnessRequest, int]], s3: Any, time_left: Callable[[], float]
) -> list[int]:
    first = requests[0][0]  # one list's settings: they are the same in every request
    # CONCURRENCY functions at once, each at its share of the rate, keep to the rate.
    wayback = Wayback.from_env(first.endpoint, first.per_minute / CONCURRENCY)
    wayback.last_asked = _last_asked[0]
    retry: list[int] = []
    try:
        for n, (request, received) in enumerate(requests):
            if time_left() < CAPTURE_MAX_S:
                retry.extend(range(n, len(requests)))  # back to the queue, not started
                break
            if not await _one(wayback, request, received, s3):
                retry.append(n)
    finally:
        _last_asked[0] = wayback.last_asked
        await wayback.aclose()
    return retry


async def _one(wayback: Wayback, request: WitnessRequest, received: int, s3: Any) -> bool:
    """One capture, kept; False when it is to be tried again. A failure of any kind is
    this request's, never the batch's: the captures already kept are not asked again."""
    try:
        result = await wayback.capture(request.url, capture_all=request.capture_all)
    except Exception as exc:  # the Archive's answer, however odd, is this request's
        result = Capture("failed", detail=f"{type(exc).__name__}: {exc}")
    if result.status == "failed" and received < ATTEMPTS:
        log.warning("%s: capture failed, tried again later: %s", request.watch, result.detail)
        return False
    try:
        _keep(request, result, s3)
    except Exception:
        log.exception("%s: witness result not kept; tried again later", request.watch)
        return False
    return True


def _keep(request: WitnessRequest, result: Capture, s3: Any) -> None:
    body = {**result.to_json(), "event_id": request.event_id, "asked_at": request.asked_at}
    s3.put_object(
        Bucket=stack().required("bucket_name"),
        Key=request.result_key(),
        Body=json.dumps(body, indent=2).encode(),
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
    )
    log.info("%s: witness %s %s", request.watch, result.status, result.url or result.detail)
