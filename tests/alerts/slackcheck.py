"""Reading a Slack payload the way Slack would: which strings it parses, and how long."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    objects = [block.get("text"), *block.get("elements", []), *block.get("fields", [])]
    return [obj for obj in objects if obj]


def mrkdwn_texts(message: dict[str, Any]) -> Iterator[str]:
    """Every string Slack parses for mentions and links: the fallback and mrkdwn objects."""
    yield message["text"]
    for block in message["blocks"]:
        for obj in _text_objects(block):
            if obj.get("type") == "mrkdwn":
                yield obj["text"]


def all_texts(message: dict[str, Any]) -> Iterator[str]:
    yield message["text"]
    for block in message["blocks"]:
        for obj in _text_objects(block):
            yield obj["text"]


def total_text(message: dict[str, Any]) -> int:
    return sum(len(text) for text in all_texts(message))
