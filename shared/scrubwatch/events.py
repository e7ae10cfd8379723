"""The event: one record, ``scrubwatch.event/1``, carried by every channel."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

SCHEMA = "scrubwatch.event/1"
EventKind = Literal[
    "first_seen", "changed", "element_missing", "gone", "restored", "moved", "error"
]
KINDS: tuple[EventKind, ...] = (
    "first_seen",
    "changed",
    "element_missing",
    "gone",
    "restored",
    "moved",
    "error",
)
SEVERITY = {
    "gone": "high",
    "element_missing": "high",
    "changed": "medium",
    "restored": "medium",
    "moved": "low",
    "error": "low",
    "first_seen": "info",
}
# A change that only reordered what was there removes nothing: worth a note, not an alarm.
REORDERED = "reordered"


SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}


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
    keywords_removed: list[str] = field(default_factory=list)
    keywords_added: list[str] = field(default_factory=list)
    previous: VersionRef | None = None
    current: VersionRef | None = None
    diff: str = ""
    schema: str = SCHEMA

    @property
    def severity(self) -> str:
        if self.kind == "changed" and self.reason == REORDERED:
            return "low"
        return SEVERITY[self.kind]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        ordered = {"schema": data.pop("schema"), "event_id": data.pop("event_id")}
        ordered.update(data)
        return ordered

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        data = dict(data)
        data["previous"] = VersionRef.from_json(data.get("previous"))
        data["current"] = VersionRef.from_json(data.get("current"))
        return cls(**data)


def event_id(
    watch: str, seq: int, kind: str, reason: str | None, previous: str | None, current: str | None
) -> str:
    """Same transition, same id: a check retried after a crash re-emits an identical id."""
    key = "\x1f".join([watch, str(seq), kind, reason or "", previous or "", current or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]
