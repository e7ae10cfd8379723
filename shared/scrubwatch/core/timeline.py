"""The story of a watch for `scrubwatch report` (pure): its kept versions in order, what
each change removed and added, the events told of it, and the contacts on the way.

Built from the evidence itself (each version's manifest and reading), so a report made
from a deployed stack, where events are not kept, tells the same changes; the events a
local state folder keeps are laid beside the versions they point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .contact import Contact, since
from .diff import unified, vanished
from .events import Event, rfc3339
from .reader import Reading
from .render import LABELS

# The most diff lines one change shows: the evidence holds the rest.
MAX_CHANGE_LINES = 300
GONE_STATUSES = (404, 410)


@dataclass(frozen=True)
class Capture:
    """One kept version, with what proves it: its hashes, trusted times, Wayback copy."""

    version: str
    fetched_at: str
    status: int | None
    final_url: str
    manifest_sha256: str
    warc_sha256: str | None = None
    trusted: tuple[tuple[str, str], ...] = ()  # (trusted time, authority)
    wayback: str | None = None
    title: str = ""
    screenshot: bool = False  # rendered in a browser (render: browser), its picture kept


@dataclass(frozen=True)
class Change:
    """What one version removed and added against the version before."""

    diff: tuple[tuple[str, str], ...]  # ("-" removed | "+" added | " " kept | "@" gap, line)
    cut: bool = False  # the diff was longer than shown
    items_removed: tuple[str, ...] = ()
    items_added: tuple[str, ...] = ()
    links_removed: tuple[str, ...] = ()  # links and embedded sources of the watched part
    links_added: tuple[str, ...] = ()
    keywords_lost: tuple[str, ...] = ()
    keywords_gained: tuple[str, ...] = ()
    status_before: int | None = None  # set when the HTTP status changed
    status_after: int | None = None
    part_lost: bool = False  # the watched part was there before, and is not now
    before: str = ""  # the version it is compared with
    # A reading of either version is missing from the evidence: nothing is compared.
    unavailable: bool = False

    @property
    def lines_removed(self) -> int:
        return sum(1 for op, _ in self.diff if op == "-")

    @property
    def lines_added(self) -> int:
        return sum(1 for op, _ in self.diff if op == "+")


@dataclass(frozen=True)
class Entry:
    """One moment of the timeline: a capture (and its change), an event, or a contact."""

    at: str  # RFC 3339, for ordering
    capture: Capture | None = None
    change: Change | None = None
    events: tuple[Event, ...] = ()
    contact: Contact | None = None
    after_contact: str | None = None  # "2 h 41 min after contact c-…"
    remark: str = ""  # why a capture without a change was kept ("first capture"...)

    @property
    def label(self) -> str:
        """What this capture was: "gone", "removed", "restored"... as its alert said, else
        "changed" or "kept"."""
        for event in self.events:
            if event.severity != "info":
                return LABELS.get(event.kind, event.kind).lower()
        if self.change is None:
            return "kept"
        # No alert kept (a stack keeps none): what the capture itself shows.
        if self.change.status_after in GONE_STATUSES:
            return "gone"
        return "removed" if self.change.part_lost else "changed"


@dataclass
class Story:
    watch: str
    name: str
    url: str
    parent: str | None = None
    entries: list[Entry] = field(default_factory=list)
    listed: bool = True  # False: kept in the state, no longer in the watch list
    verified: bool | None = None  # None: not verified (no evidence reachable)
    problems: list[str] = field(default_factory=list)
    versions_verified: int = 0

    @property
    def changes(self) -> int:
        return sum(1 for e in self.entries if e.change is not None)

    @property
    def captures(self) -> int:
        return sum(1 for e in self.entries if e.capture is not None)

    @property
    def quiet(self) -> bool:
        """Nothing to tell in the span: no change, no alert, evidence that verifies. A
        listing's quiet pages are named in one line, not each given a timeline."""
        alerts = any(ev.severity != "info" for e in self.entries for ev in e.events)
        return not self.changes and not alerts and self.verified is not False

    @property
    def gone(self) -> bool:
        return any(e.label == "gone" for e in self.entries)

    def seen_since(self, since_at: str | None) -> bool:
        """A capture or an alert at or after ``since_at`` (always, with none)."""
        if since_at is None:
            return bool(self.entries)
        since_t = _moment(since_at)
        return any(_moment(e.at) >= since_t for e in self.entries if e.contact is None)


@dataclass(frozen=True)
class Kept:
    """One version as read back from the evidence, for `story`."""

    capture: Capture
    reading: Reading | None
    content: str  # what the page said (status and fingerprint): same content, no change
    settings: str = ""  # the hash of the watch's reading settings it was read with


def _moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def change_between(before: Kept, after: Kept) -> Change | None:
    """What ``after`` removed and added against ``before``; None when it said the same,
    or when the two were read with different settings (an edited watch: what they read
    differs by the user's edit, not by the site)."""
    if before.content == after.content or _edited(before, after):
        return None
    old, new = before.reading, after.reading
    status_changed = before.capture.status != after.capture.status
    statuses = (before.capture.status, after.capture.status) if status_changed else (None, None)
    if old is None or new is None:
        return Change(
            diff=(),
            unavailable=True,
            status_before=statuses[0],
            status_after=statuses[1],
            before=before.capture.version,
        )
    old_lines = old.lines if old else ()
    new_lines = new.lines if new else ()
    diff: list[tuple[str, str]] = []
    for line in unified(old_lines, new_lines).splitlines()[2:]:
        op = line[:1]
        if op in "-+ " and line:
            diff.append((op, line[1:]))
        elif line.startswith("@@"):
            diff.append(("@", ""))
        else:  # the cut marker, or the "changed too much" note
            diff.append(("@", line))
    if diff and diff[0] == ("@", ""):
        diff.pop(0)  # the first hunk needs no gap before it
    return Change(
        diff=tuple(diff[:MAX_CHANGE_LINES]),
        cut=len(diff) > MAX_CHANGE_LINES,
        items_removed=tuple(vanished(_items(old), _items(new))),
        items_added=tuple(vanished(_items(new), _items(old))),
        links_removed=tuple(vanished(_refs(old), _refs(new))),
        links_added=tuple(vanished(_refs(new), _refs(old))),
        keywords_lost=tuple(k for k in _keywords(old) if k not in _keywords(new)),
        keywords_gained=tuple(k for k in _keywords(new) if k not in _keywords(old)),
        status_before=statuses[0],
        status_after=statuses[1],
        part_lost=old.region_found and not new.region_found,
        before=before.capture.version,
    )


def _edited(before: Kept, after: Kept) -> bool:
    return bool(before.settings and after.settings and before.settings != after.settings)


def _remark(kept: Sequence[Kept], i: int, contacts: Sequence[Contact], head: Story) -> str:
    """Why a capture that tells no change is here."""
    if i == 0:
        return "first capture"
    if _edited(kept[i - 1], kept[i]):
        return "read with the watch's edited settings: not compared with the one before"
    seen = _moment(kept[i].capture.fetched_at)
    for c in contacts:
        if (head.watch in c.watches or head.parent in c.watches) and 0 <= seen - c.at < 600:
            return f"at contact {c.id}: what it said then"
    return ""


def _items(reading: Reading | None) -> Sequence[str]:
    return reading.items or () if reading else ()


def _refs(reading: Reading | None) -> Sequence[str]:
    return reading.refs if reading else ()


def _keywords(reading: Reading | None) -> Sequence[str]:
    return reading.keywords if reading else ()


def _after(contacts: Sequence[Contact], watch: str, parent: str | None, at: str) -> str | None:
    seen = _moment(at)
    earlier = [c for c in contacts if (watch in c.watches or parent in c.watches) and c.at <= seen]
    if not earlier:
        return None
    latest = max(earlier, key=lambda c: c.at)
    return f"{since(seen - latest.at)} after contact {latest.id}"


def story(
    head: Story,
    kept: Sequence[Kept],
    events: Sequence[Event],
    contacts: Sequence[Contact],
    since_at: str | None = None,
) -> Story:
    """``head`` with its timeline: the versions of ``kept`` (oldest first) from the last
    one before ``since_at`` on, the events from ``since_at`` on beside the version each
    points at, and the contacts that concern the watch."""
    start = 0
    since_t = _moment(since_at) if since_at is not None else None
    if since_t is not None:
        later = [i for i, k in enumerate(kept) if _moment(k.capture.fetched_at) >= since_t]
        start = max(later[0] - 1, 0) if later else max(len(kept) - 1, 0)
    events = [e for e in events if since_t is None or _moment(e.detected_at) >= since_t]
    by_version: dict[str, list[Event]] = {}
    for event in events:
        if event.current is not None:
            by_version.setdefault(event.current.version, []).append(event)
    entries: list[Entry] = []
    for i in range(start, len(kept)):
        this = kept[i]
        change = change_between(kept[i - 1], this) if i > start else None
        told = tuple(by_version.pop(this.capture.version, ()))
        after = _after(contacts, head.watch, head.parent, this.capture.fetched_at)
        entries.append(
            Entry(
                at=this.capture.fetched_at,
                capture=this.capture,
                change=change,
                events=told,
                after_contact=after if change else None,
                remark="" if change else _remark(kept, i, contacts, head),
            )
        )
    # Events of no version shown here (a failure, a capture not kept) stand on their own.
    unplaced = [e for group in by_version.values() for e in group]
    unplaced += [e for e in events if e.current is None]
    entries += [Entry(at=e.detected_at, events=(e,)) for e in unplaced]
    for contact in contacts:
        if head.watch in contact.watches or head.parent in contact.watches:
            moment = rfc3339(datetime.fromtimestamp(contact.at, UTC))
            if since_t is None or contact.at >= since_t or not entries:
                entries.append(Entry(at=moment, contact=contact))
    entries.sort(key=lambda e: (_moment(e.at), e.contact is None))
    head.entries = entries
    return head


def event_line(event: Event) -> str:
    """One line for an event in the timeline: its kind and what it said (its summary
    says how long after a contact it was seen)."""
    if event.kind == "error":
        # Our check failed (the site down, blocked, or us): not something the site did.
        return f"Check failed, which says nothing of the page's content: {event.summary}"
    if event.severity == "info":
        return event.summary  # a record (first sight, pages found), not an alert
    return f"{event.summary} [alert, {event.severity}]"


def contact_line(contact: Contact, with_time: bool = True) -> str:
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    return f"Contact {contact.id}{f' at {at}' if with_time else ''}: {contact.note}"


def summary_counts(stories: Sequence[Story]) -> dict[str, Any]:
    """Totals for the report's head: watches, pages, versions, changes, events."""
    return {
        "watches": sum(1 for s in stories if s.parent is None),
        "pages": sum(1 for s in stories if s.parent is not None),
        "captures": sum(s.captures for s in stories),
        "changes": sum(s.changes for s in stories),
        "events": sum(len(e.events) for s in stories for e in s.entries),
        "alerts": sum(
            1 for s in stories for e in s.entries for ev in e.events if ev.severity != "info"
        ),
        "broken": [s.watch for s in stories if s.verified is False],
    }
