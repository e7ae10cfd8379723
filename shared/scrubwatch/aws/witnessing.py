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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..check.engine import witness_wanted
from ..check.witness import Capture, Wayback
from ..core.config import Watchlist
from ..core.events import Event
from . import clients
from .environment import stack

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
    evidence: str | None  # the evidence (WARC) URI of the version the capture goes with
    asked_at: str
    # The list's settings for the Archive, so the witness function reads no list.
    endpoint: str = "https://web.archive.org"
    per_minute: int = Field(4, ge=1, le=6000)

    def body(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), separators=(",", ":"))

    def result_key(self) -> str:
        """Beside the version's evidence; for an event without one, by the event id."""
        if self.evidence and self.evidence.endswith(".warc.gz"):
            key = self.evidence.split("/", 3)[3]  # s3://bucket/<key>
            return key.removesuffix(".warc.gz") + ".witness.json"
        return f"evidence/{self.watch}/{self.event_id}.witness.json"


def requests_for(events: Sequence[Event], watchlist: Watchlist) -> list[WitnessRequest]:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out = []
    for event in events:
        watch = watchlist.get(event.watch)
        if watch is None or not witness_wanted(watch, event):
            continue
        out.append(
            WitnessRequest(
                watch=watch.id,
                url=watch.url,
                capture_all=event.kind == "gone",
                event_id=event.event_id,
                evidence=event.current.evidence if event.current else None,
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
    for start in range(0, len(requests), 10):
        chunk = requests[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": r.body()} for i, r in enumerate(chunk)]
        try:
            failed = sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed", [])
        except Exception:
            log.exception("witness requests not queued: %s", [r.watch for r in chunk])
            continue
        for f in failed:
            log.error("witness request not queued: %s", chunk[int(f["Id"])].watch)


def capture(requests: Sequence[tuple[WitnessRequest, int]], s3: Any = None) -> list[int]:
    """Has the Archive capture each (request, receive count) and keeps each result; the
    indexes of the requests to try again (failed, attempts left)."""
    if not requests:
        return []
    return asyncio.run(_capture(requests, s3 or clients.client("s3")))


async def _capture(requests: Sequence[tuple[WitnessRequest, int]], s3: Any) -> list[int]:
    first = requests[0][0]  # one list's settings: they are the same in every request
    wayback = Wayback.from_env(first.endpoint, max(1, first.per_minute // CONCURRENCY))
    retry = []
    try:
        for n, (request, received) in enumerate(requests):
            result = await wayback.capture(request.url, capture_all=request.capture_all)
            if result.status == "failed" and received < ATTEMPTS:
                log.warning("%s: capture failed, tried again later: %s", request.watch, result)
                retry.append(n)
                continue
            _keep(request, result, s3)
    finally:
        await wayback.aclose()
    return retry


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
