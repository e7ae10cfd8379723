"""The event: one record, ``scrubwatch.event/1``, carried by every channel."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from .reasons import PAGES_UNLINKED, REORDERED

SCHEMA = "scrubwatch.event/1"
EventKind = Literal[
    "first_seen",
    "changed",
    "element_missing",
    "gone",
    "restored",
    "moved",
    "error",
    "children_found",
    "children_added",
    "unlinked",
]
KINDS: tuple[EventKind, ...] = get_args(EventKind)
SEVERITY = {
    "gone": "high",
    "element_missing": "high",
    "changed": "medium",
    "restored": "medium",
    "moved": "low",
    "error": "low",
    "first_seen": "info",
    # A watch's first look at its children: a record, like first_seen.
    "children_found": "info",
    "children_added": "low",
    # A child no longer linked by its parent, still online with its content.
    "unlinked": "low",
}
# Records, never alerts: what was there when watching began.
RECORDS = frozenset({"first_seen", "children_found"})

SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}

# An event line stays well under 200 KB whatever the page, so it fits one SNS message
# (256 KB): each of ``removed`` and ``added`` keeps at most MAX_ENTRIES entries of at most
# MAX_ENTRY_CHARS characters and MAX_LIST_BYTES bytes in all (the diff has its own cap,
# diff.MAX_DIFF_CHARS); the true counts go in ``removed_count`` and ``added_count``.
MAX_ENTRIES = 200
MAX_ENTRY_CHARS = 500
MAX_LIST_BYTES = 40_000


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class VersionRef:
    """Where one capture of a page can be found again.

    ``version`` names the stored capture (its evidence files); ``content`` is what the page
    said (status and fingerprint), the identity used to decide "same content". Captures
    written before the two were separated have no ``content``: there the two are one.
    """

    version: str
    fetched_at: str
    status: int | None
    final_url: str
    evidence: str | None
    witness: str | None = None  # an independent copy (the Internet Archive), when asked for
    # SHA-256 of this capture's manifest: the chain head once it is the newest kept one.
    manifest_sha256: str | None = None
    content: str | None = None

    @property
    def content_id(self) -> str:
        return self.content or self.version

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> VersionRef | None:
        return cls(**data) if data else None


@dataclass(frozen=True)
class Event:
    event_id: str
    watch: str
    name: str
    url: str
    kind: EventKind
    reason: str | None
    detected_at: str
    summary: str
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    # How many entries there were, set only when the list above keeps fewer of them.
    removed_count: int | None = None
    added_count: int | None = None
    keywords_removed: list[str] = field(default_factory=list)
    keywords_added: list[str] = field(default_factory=list)
    previous: VersionRef | None = None
    current: VersionRef | None = None
    diff: str = ""
    # A discovered child's event: its parent, and when and where the parent stopped
    # linking it (ParentNote.to_json); None for a listed watch.
    parent: dict[str, Any] | None = None
    # The latest contact of its watch before it was seen (core/contact.py): its id, time,
    # note, and how long after it this was seen; None when there was none.
    contact: dict[str, Any] | None = None
    # A rendered page's screenshot against the last version's (render: browser): the
    # share of the page that changed and in how many regions; None when not compared.
    visual: dict[str, Any] | None = None
    schema: str = SCHEMA

    @property
    def severity(self) -> str:
        if self.kind == "changed" and self.reason == REORDERED:
            return "low"
        if self.kind == "changed" and self.reason == PAGES_UNLINKED:
            # Told when its pages are concluded (their `gone` digest, or `unlinked`).
            return "info"
        return SEVERITY[self.kind]

    @property
    def removed_total(self) -> int:
        """How many entries went, counting those the event does not carry."""
        return len(self.removed) if self.removed_count is None else self.removed_count

    @property
    def added_total(self) -> int:
        """How many entries came, counting those the event does not carry."""
        return len(self.added) if self.added_count is None else self.added_count

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        ordered = {"schema": data.pop("schema"), "event_id": data.pop("event_id")}
        ordered.update(data)
        # Written only when a list was cut: an uncut event reads as it did before the counts.
        for key in _OPTIONAL:
            if ordered[key] is None:
                del ordered[key]
        return ordered

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        data = dict(data)
        data["previous"] = VersionRef.from_json(data.get("previous"))
        data["current"] = VersionRef.from_json(data.get("current"))
        return cls(**data)


_OPTIONAL = ("removed_count", "added_count", "parent", "contact", "visual")


def capped(entries: Sequence[str]) -> tuple[list[str], int | None]:
    """The first entries of a removed/added list that an event carries, each clipped to
    MAX_ENTRY_CHARS with a trailing "…", and the true count when not all of them fit."""
    kept: list[str] = []
    size = 0
    for entry in entries[:MAX_ENTRIES]:
        if len(entry) > MAX_ENTRY_CHARS:
            entry = entry[: MAX_ENTRY_CHARS - 1] + "…"
        size += json_size(entry) + 3  # its quotes and a comma
        if size > MAX_LIST_BYTES:
            break
        kept.append(entry)
    return kept, (len(entries) if len(kept) < len(entries) else None)


def json_size(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string of an event line (``ensure_ascii=False``)."""
    # A lone surrogate (text that was never valid UTF-8) is counted, not an error.
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def event_id(
    watch: str, seq: int, kind: str, reason: str | None, previous: str | None, current: str | None
) -> str:
    """Same transition, same id: a check retried after a crash re-emits an identical id."""
    key = "\x1f".join([watch, str(seq), kind, reason or "", previous or "", current or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]
