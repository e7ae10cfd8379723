"""The contact clock (issue 14, part 2; pure): "we asked for comment at 10:00".

A contact names the watches it concerns (an id, a tag, or all). From it on, those watches
(and the pages they discovered) are checked more often for a while, and every event of
theirs says how long after the contact it was seen: a deletion made after the subject
learned of an investigation is what a story needs to show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .config import Watch, Watchlist
from .events import Event, rfc3339


@dataclass(frozen=True)
class Contact:
    id: str
    at: float  # seconds since the epoch: when the subject was contacted
    note: str
    target: str  # as given: a watch id, a tag, or "all"
    watches: tuple[str, ...]  # the ids it concerns (their discovered pages too)
    every: float  # how often they are checked meanwhile
    until: float  # seconds since the epoch: when they go back to their own `every`

    def covers(self, watch: Watch) -> bool:
        return watch.id in self.watches or (
            watch.parent is not None and watch.parent in self.watches
        )

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["watches"] = list(self.watches)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contact:
        return cls(**{**data, "watches": tuple(data["watches"])})


def contact_id(at: float, note: str, target: str) -> str:
    """Short and stable: the same contact recorded twice is one."""
    key = f"{at:.3f}\x1f{target}\x1f{note}".encode()
    return "c-" + hashlib.sha256(key).hexdigest()[:8]


def targets(watchlist: Watchlist, target: str) -> tuple[str, ...]:
    """The watch ids ``target`` names: a watch id, a tag, or ``all``; ValueError saying
    what would name some when it names none."""
    if target == "all":
        found = [w.id for w in watchlist.watches]
    elif watchlist.get(target) is not None:
        found = [target]
    else:
        found = [w.id for w in watchlist.watches if target in w.tags]
    if not found:
        tags = sorted({t for w in watchlist.watches for t in w.tags})
        hint = f"; its tags are {', '.join(tags)}" if tags else ""
        raise ValueError(f"{target!r} is no watch id or tag of {watchlist.path} (or `all`){hint}")
    return tuple(found)


def raised(watch: Watch, contacts: list[Contact], now: float) -> Watch:
    """The watch as checked now: at a contact's `every` while that contact lasts."""
    # The time test first: contacts that are over cost nothing, however many watches.
    every = min(
        (c.every for c in contacts if c.at <= now < c.until and c.covers(watch)),
        default=watch.every,
    )
    return watch if every >= watch.every else replace(watch, every=every)


def since(seconds: float) -> str:
    """ "2 h 41 min": a span as a reporter would write it."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def after_contact(event: Event, watch: Watch, contacts: list[Contact]) -> Event:
    """The event saying how long after the latest contact of its watch it was seen."""
    seen = datetime.fromisoformat(event.detected_at.replace("Z", "+00:00")).timestamp()
    earlier = [c for c in contacts if c.covers(watch) and c.at <= seen]
    if not earlier:
        return event
    latest = max(earlier, key=lambda c: c.at)
    after = since(seen - latest.at)
    note = {
        "id": latest.id,
        "at": rfc3339(datetime.fromtimestamp(latest.at, UTC)),
        "note": latest.note,
        "after_seconds": round(seen - latest.at),
    }
    said = f" Seen {after} after contact {latest.id} ({latest.note})."
    return replace(event, summary=event.summary + said, contact=note)
