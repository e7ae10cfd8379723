"""A run's children (issue 13): the pages its watches discovered, as watches to check, and
what one look at a parent's source changes in them.

The records come from the state store once per run and are updated here as parents and
children are checked, so that a parent's check knows every child it ever had and a
child's check knows whether (and since when) its parent stopped linking it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..core.config import Watch, Watchlist, child_watch
from ..core.decide import WatchState
from ..core.discover import Child, Discovery, Link, child_id, compare
from ..core.events import Event, VersionRef, capped, event_id
from .discovery import Found


@dataclass(frozen=True)
class Discovered:
    """What a parent's check found of its children."""

    found: Found
    diff: Discovery
    first: bool  # the watch's first look
    # `discover` was edited since the last look: a child it no longer takes was dropped by
    # the user, not by the site, and is not told of as unlinked.
    edited: bool = False

    @property
    def changed(self) -> bool:
        """Children were added, unlinked or linked again."""
        diff = self.diff
        return bool(diff.added or diff.unlinked or diff.relinked or self.first)

    def record(self) -> dict[str, Any]:
        """What goes into the parent's manifest of this version: every decision, and why."""
        return {
            "read": self.found.notes,
            "linked": len(self.found.links),
            "added": [link.url for link in self.diff.added],
            "relinked": list(self.diff.relinked),
            "unlinked": list(self.diff.unlinked),
            "over_limit": [link.url for link in self.diff.over_limit],
            "skipped": [{"url": url, "why": why} for url, why in self.found.skipped],
            **({"edited": True} if self.edited else {}),
        }


class RunChildren:
    """Every child of the list's discovering watches, as loaded at the start of a run."""

    def __init__(self, watchlist: Watchlist, loaded: dict[str, list[Child]]) -> None:
        self.watchlist = watchlist
        self.records: dict[str, Child] = {}
        self._by_parent: dict[str, dict[str, Child]] = {}
        self.apply(c for kids in loaded.values() for c in kids)

    def of(self, parent: str) -> list[Child]:
        return list(self._by_parent.get(parent, {}).values())

    def watches(self, skip: Collection[str] = ()) -> list[Watch]:
        """A watch for each child of a watch that still discovers (the children of one
        whose `discover` was removed are no longer checked; their history stays), but
        those in ``skip``."""
        out = []
        recheck = self.watchlist.settings.recheck
        for child in self.records.values():
            if child.id in skip:
                continue
            parent = self.watchlist.get(child.parent)
            if parent is None or parent.discover is None:
                continue
            watch = child_watch(parent, child.id, child.url, child.name)
            if child.waiting:
                # Unlinked, not yet concluded: looked at again soon, not after its `every`.
                watch = replace(watch, every=min(watch.every, recheck))
            out.append(watch)
        return out

    def look(self, parent: Watch, found: Found, state: WatchState) -> Discovered:
        assert parent.discover is not None
        known = {c.url: c.linked for c in self.of(parent.id)}
        room = self.watchlist.settings.max_discovered - len(self.records) + len(known)
        limit = min(parent.discover.max_children, max(room, len(known)))
        diff = compare(found.links, known, limit)
        first = state.discovered_with != parent.discover.spec_hash and not known
        edited = state.discovered_with not in (None, parent.discover.spec_hash)
        return Discovered(found, diff, first, edited=edited and bool(known))

    def apply(self, updates: Iterable[Child]) -> None:
        """Records what was committed (or is about to be) for the rest of the run."""
        for child in updates:
            self.records[child.id] = child
            self._by_parent.setdefault(child.parent, {})[child.id] = child


def updates(
    parent: Watch,
    discovered: Discovered,
    known: Sequence[Child],
    now: str,
    before: VersionRef | None,
    after: VersionRef | None,
) -> list[Child]:
    """The child records a parent's look changes: the new, the relinked, the unlinked."""
    by_url = {c.url: c for c in known}
    out = [
        Child(
            id=child_id(parent.id, link.url),
            parent=parent.id,
            url=link.url,
            name=link.text,
            first_linked=now,
            linked_in=after.evidence if after else None,
        )
        for link in discovered.diff.added
    ]
    for url in discovered.diff.relinked:
        out.append(
            replace(by_url[url], linked=True, unlinked_at=None, unlinked_in=None, said=False)
        )
    for url in discovered.diff.unlinked:
        out.append(
            replace(
                by_url[url],
                linked=False,
                unlinked_at=now,
                linked_in=before.evidence if before else by_url[url].linked_in,
                unlinked_in=after.evidence if after else None,
                said=discovered.edited,  # the user's edit, not the site's: nothing to tell
            )
        )
    return out


def discovery_event(
    parent: Watch, state: WatchState, discovered: Discovered, detected_at: str
) -> tuple[Event | None, int]:
    """The parent's one event of this look, if any (its first look, new children, links
    past max_children not said before), and the count past the limit now said."""
    diff = discovered.diff
    over = len(diff.over_limit)
    said_over = over if over > state.children_over else (state.children_over if over else 0)
    names = [_name(link) for link in diff.added]
    limit = parent.discover.max_children if parent.discover else 0
    over_note = (
        f"; {over} more {'link' if over == 1 else 'links'} not taken "
        f"(max_children {limit}, settings.max_discovered)"
        if over > state.children_over
        else ""
    )
    skipped = len(discovered.found.skipped)
    skip_note = f"; {_links(skipped)} skipped (see its evidence)" if skipped else ""
    if discovered.first and not names and not over:
        kind = "children_found"
        summary = (
            f"FOUND: {parent.name} links no page that discover takes (check its links, "
            "match and same_site: `scrubwatch show` has the page, its evidence what was skipped)"
        )
    elif discovered.first:
        kind = "children_found"
        summary = f"FOUND: {parent.name} links {_pages(len(names))}; each was kept as first seen"
    elif names:
        kind = "children_added"
        summary = f"NEW PAGES: {parent.name} links {_pages(len(names))} not seen before: "
        summary += ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    elif over_note:
        kind = "children_added"
        summary = f"NEW PAGES: {parent.name} links pages not taken"
    else:
        return None, said_over
    added, added_count = capped(names)
    seq = state.seq + 1
    urls = "\n".join([link.url for link in diff.added] + [link.url for link in diff.over_limit])
    eid = event_id(parent.id, seq, kind, None, state.discovered_with, sha256_hex(urls)[:16])
    event = Event(
        event_id=eid,
        watch=parent.id,
        name=parent.name,
        url=parent.url,
        kind=kind,  # type: ignore[arg-type]
        reason=None,
        detected_at=detected_at,
        summary=summary + over_note + skip_note,
        added=added,
        added_count=added_count,
        current=state.current,
    )
    return event, said_over


def _links(n: int) -> str:
    return f"{n} link" if n == 1 else f"{n} links"


def _pages(n: int) -> str:
    return f"{n} page" if n == 1 else f"{n} pages"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _name(link: Link) -> str:
    return link.text or link.url


def parent_note(
    child: Child, parent: Watch | None, of: int, remaining_keywords: Iterable[str]
) -> dict[str, Any]:
    """What a child's event says of its parent (Event.parent): when and where the parent
    stopped linking it, how many children it had, and the keywords on this child and on
    the children still there (for "all mention Urumqi; none of the 8 remaining do")."""
    return {
        "id": child.parent,
        "name": parent.name if parent else child.parent,
        "url": parent.url if parent else None,
        "unlinked_at": child.unlinked_at,
        "linked_in": child.linked_in,
        "unlinked_in": child.unlinked_in,
        "children": of,
        "keywords": list(child.keywords),
        "remaining_keywords": sorted(set(remaining_keywords)),
    }


def since(start: str | None, end: str) -> str:
    """ " 2 h 5 min earlier": how long before ``end`` the listing stopped linking a child
    ("" when it cannot say)."""
    if not start:
        return ""
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return ""
    if seconds < 60:
        return " moments earlier"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f" {minutes} min earlier"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f" {hours} h {minutes} min earlier" if minutes else f" {hours} h earlier"
    return f" {hours // 24} days earlier"
