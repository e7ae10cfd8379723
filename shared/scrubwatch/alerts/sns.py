"""Publishing events to SNS: one message, a JSON ``default`` and a readable ``email``.

Message attributes (kind, watch, severity, channels) let subscription filter policies send
each subscriber only what the watch asks for. Everything, attributes included, stays under
SNS's 256 KiB: the diff is cut first, then the removed/added lists, each with a marker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..core.events import RECORDS, Event
from ..core.render import email_text, subject

log = logging.getLogger("scrubwatch")

SNS_MAX_BYTES = 256 * 1024
_MARGIN = 2048  # headroom for SNS's own accounting of attribute names and types


def _attributes(event: Event, channels: Sequence[str]) -> dict[str, Any]:
    return {
        "kind": {"DataType": "String", "StringValue": event.kind},
        "watch": {"DataType": "String", "StringValue": event.watch},
        "severity": {"DataType": "String", "StringValue": event.severity},
        "channels": {"DataType": "String.Array", "StringValue": json.dumps(list(channels))},
    }


def _size(message: str, attributes: dict[str, Any]) -> int:
    size = len(message.encode())
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"]) + len(value["StringValue"].encode())
    return size


def _message(event: Event) -> str:
    return json.dumps({"default": event.dumps(), "email": email_text(event)}, ensure_ascii=False)


def fit(event: Event, channels: Sequence[str], limit: int = SNS_MAX_BYTES) -> tuple[Event, str]:
    """The event, shortened as needed, and its SNS message, within ``limit`` bytes."""
    attributes = _attributes(event, channels)
    budget = limit - _MARGIN
    message = _message(event)
    if _size(message, attributes) <= budget:
        return event, message
    # Start near what can fit rather than halving a multi-megabyte diff many times over.
    diff_room = min(len(event.diff) // 2, budget // 2)
    while diff_room > 0:
        cut = event.diff[:diff_room] + "\n... diff truncated to fit an SNS message"
        candidate = dataclasses.replace(event, diff=cut)
        message = _message(candidate)
        if _size(message, attributes) <= budget:
            return candidate, message
        diff_room //= 2
    event = dataclasses.replace(event, diff="... diff omitted to fit an SNS message")
    for keep in (1000, 200, 50, 10, 0):
        candidate = dataclasses.replace(
            event,
            removed=[e[:500] for e in event.removed[:keep]],
            added=[e[:500] for e in event.added[:keep]],
            # The true counts, which alerts give as "and N more".
            removed_count=_count(event.removed_total, keep),
            added_count=_count(event.added_total, keep),
        )
        message = _message(candidate)
        if _size(message, attributes) <= budget:
            return candidate, message
    raise ValueError(f"event {event.event_id} cannot fit an SNS message")


def ascii_subject(event: Event) -> str:
    """SNS subjects must be ASCII: a name that is not (a Chinese page title, say) gives way
    to the watch id rather than to a row of question marks."""
    text = subject(event)
    if not text.isascii():
        text = subject(dataclasses.replace(event, name=event.watch))
    return text.encode("ascii", "replace").decode()


def _count(total: int, keep: int) -> int | None:
    return total if total > keep else None


class SnsPublisher:
    name = "sns"

    def __init__(
        self,
        topic_arn: str,
        channels_of: Callable[[Event], Sequence[str]],
        client: Any = None,
    ) -> None:
        self.topic_arn = topic_arn
        self.channels_of = channels_of
        self.sns = client or boto3.client("sns")

    def publish(self, events: Sequence[Event]) -> list[str]:
        delivered = []
        for event in events:
            if event.kind in RECORDS:
                # A first sighting is a record, not news: it is kept, never alerted.
                delivered.append(event.event_id)
                continue
            channels = list(self.channels_of(event))
            if not channels:
                # No channel wants it (the watch's notify, each channel's min_severity).
                delivered.append(event.event_id)
                continue
            shortened, message = fit(event, channels)
            try:
                self.sns.publish(
                    TopicArn=self.topic_arn,
                    Message=message,
                    MessageStructure="json",
                    Subject=ascii_subject(shortened),
                    MessageAttributes=_attributes(shortened, channels),
                )
            except (ClientError, BotoCoreError) as exc:
                log.error("SNS publish of %s failed: %s", event.event_id, exc)
                continue
            delivered.append(event.event_id)
        return delivered
