"""Where events go on the command line: JSON lines or readable lines on a stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from .events import Event

_LABELS = {
    "first_seen": "NEW",
    "changed": "CHANGED",
    "element_missing": "REMOVED",
    "gone": "GONE",
    "restored": "RESTORED",
    "error": "ERROR",
}


class JsonLinesPublisher:
    """One event per line, ``scrubwatch.event/1``, for pipes and other programs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def publish(self, events: Sequence[Event]) -> list[str]:
        for event in events:
            self.stream.write(event.dumps() + "\n")
        self.stream.flush()
        return [e.event_id for e in events]


class ConsolePublisher:
    """A short readable block per event for a person at a terminal."""

    def __init__(self, stream: TextIO, show_first_seen: bool = False, max_lines: int = 5) -> None:
        self.stream = stream
        self.show_first_seen = show_first_seen
        self.max_lines = max_lines

    def publish(self, events: Sequence[Event]) -> list[str]:
        for event in events:
            if event.kind == "first_seen" and not self.show_first_seen:
                continue
            self.stream.write(self.render(event))
        self.stream.flush()
        return [e.event_id for e in events]

    def render(self, event: Event) -> str:
        out = [f"[{_LABELS[event.kind]}] {event.summary}", f"    {event.url}"]
        for label, entries in (
            ("removed", event.removed),
            ("added", event.added),
            ("keywords gone", event.keywords_removed),
            ("keywords new", event.keywords_added),
        ):
            if entries:
                out.append(f"    {label}:")
                out.extend(f"      - {entry}" for entry in entries[: self.max_lines])
                if len(entries) > self.max_lines:
                    out.append(f"      ... and {len(entries) - self.max_lines} more")
        if event.previous and event.previous.evidence:
            out.append(f"    evidence (before): {event.previous.evidence}")
        if event.current and event.current.evidence and event.kind != "first_seen":
            out.append(f"    evidence (now):    {event.current.evidence}")
        return "\n".join(out) + "\n\n"
