"""An SNS message, attributes included, stays within 256 KiB however big the event is."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from scrubwatch.alerts.sns import SnsPublisher, fit
from scrubwatch.core.events import SCHEMA, Event

from . import samples

LIMIT = 256 * 1024
CHANNELS = ["email", "slack"]


class RecordingSns:
    """Stands in for the boto3 SNS client: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(kwargs)
        return {"MessageId": f"m-{len(self.sent)}"}


def sns_size(message: str, attributes: dict[str, Any]) -> int:
    """What SNS counts: the message and each attribute's name, type and value, in UTF-8."""
    size = len(message.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"].encode())
        size += len(value["StringValue"].encode())
    return size


def five_mb_diff(fill: str = "x") -> str:
    line = "-" + fill * 499
    return "\n".join([line] * (5 * 1024 * 1024 // (len(line.encode()) + 1) + 1))


def huge(fill: str = "x") -> Event:
    return replace(
        samples.changed(),
        diff=five_mb_diff(fill),
        removed=[f"{i} " + fill * 495 for i in range(10_000)],
        added=[f"{i} " + fill * 200 for i in range(2_000)],
    )


def parsed(message: str) -> tuple[dict[str, Any], Event]:
    outer = json.loads(message)
    assert set(outer) == {"default", "email"}
    data = json.loads(outer["default"])
    assert data["schema"] == SCHEMA == "scrubwatch.event/1"
    return outer, Event.from_json(data)


@pytest.mark.parametrize("fill", ["x", "删", '<"\\'], ids=["ascii", "cjk", "json-escaped"])
def test_a_5_mb_diff_and_10000_removed_lines_fit(fill: str) -> None:
    event = huge(fill)
    assert len(event.diff.encode()) >= 5 * 1024 * 1024

    shortened, message = fit(event, CHANNELS)

    attributes = publisher_attributes(shortened)
    assert sns_size(message, attributes) <= LIMIT
    outer, carried = parsed(message)
    assert carried == shortened
    assert carried.event_id == event.event_id
    assert (carried.kind, carried.watch, carried.url) == (event.kind, event.watch, event.url)
    # Markers say what was cut, and how much.
    assert re.search(r"diff (truncated|omitted) to fit an SNS message", carried.diff)
    assert len(carried.removed) < 10_000 and carried.removed_count == 10_000
    assert carried.removed[:3] == [r[:500] for r in event.removed[:3]]
    assert outer["email"].startswith(event.summary)


def publisher_attributes(event: Event) -> dict[str, Any]:
    sns = RecordingSns()
    SnsPublisher("arn:aws:sns:eu-west-1:123456789012:alerts", lambda w: CHANNELS, sns).publish(
        [event]
    )
    (sent,) = sns.sent
    attributes: dict[str, Any] = sent["MessageAttributes"]
    return attributes


def test_only_the_diff_is_cut_when_the_diff_alone_is_too_big() -> None:
    event = replace(samples.changed(), diff=five_mb_diff())

    _, message = fit(event, CHANNELS)

    _, carried = parsed(message)
    assert carried.removed == event.removed
    assert carried.added == event.added
    assert carried.diff.endswith("\n... diff truncated to fit an SNS message")
    assert event.diff.startswith(
        carried.diff.removesuffix("\n... diff truncated to fit an SNS message")
    )
    assert len(message.encode()) <= LIMIT


def test_a_small_event_is_sent_whole() -> None:
    event = samples.changed()

    shortened, message = fit(event, CHANNELS)

    assert shortened == event
    assert parsed(message)[1] == event


def test_what_the_publisher_sends_fits_and_parses() -> None:
    sns = RecordingSns()
    publisher = SnsPublisher("arn:aws:sns:eu-west-1:123456789012:alerts", lambda w: CHANNELS, sns)
    event = replace(huge(), name="招聘广告\n" * 100)

    done = publisher.publish([event, samples.first_seen()])

    assert done == [event.event_id, samples.first_seen().event_id]
    (sent,) = sns.sent  # a first sighting is kept, never sent
    assert sent["MessageStructure"] == "json"
    assert sns_size(sent["Message"], sent["MessageAttributes"]) <= LIMIT
    assert parsed(sent["Message"])[1].event_id == event.event_id
    subject = sent["Subject"]
    assert subject.isascii() and len(subject) < 100 and "\n" not in subject
    assert sent["MessageAttributes"]["severity"]["StringValue"] == "medium"
    assert json.loads(sent["MessageAttributes"]["channels"]["StringValue"]) == CHANNELS
