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

_LISTED = 1000  # URLs past the limits, or skipped, named in a look's record at most


@dataclass(frozen=True)
class Discovered:
    """What a parent's check found of its children."""

    found: Found
    diff: Discovery
    first: bool  # the watch's first look
    # `discover` was edited since the last look (said in the record).
    edited: bool = False
    limit: str = ""  # the limit that new links past it met: "max_children 500"
    failed: str | None = None  # why the sitemap or feed could not be read (nothing else)

    @classmethod
    def failure(cls, why: str) -> Discovered:
        return cls(Found(), Discovery((), (), (), ()), first=False, failed=why)

    @property
    def changed(self) -> bool:
        """Children were added, unlinked or linked again."""
        diff = self.diff
        return bool(diff.added or diff.unlinked or diff.relinked or self.first)

    def record(self) -> dict[str, Any]:
        """What goes into the parent's manifest of this version: every decision, and why."""
        if self.failed:
            return {"failed": self.failed}
        return {
            "read": self.found.notes,
            "linked": len(self.found.links),
            "added": [link.url for link in self.diff.added],
            "relinked": list(self.diff.relinked),
            "unlinked": list(self.diff.unlinked),
            # Named up to a bound, counted in full: the record stays readable.
            "over_limit": [link.url for link in self.diff.over_limit[:_LISTED]],
            "over_limit_count": len(self.diff.over_limit),
            "skipped": [{"url": u, "why": why} for u, why in self.found.skipped[:_LISTED]],
            "skipped_count": len(self.found.skipped),
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
            if child.id in skip or child.dropped:
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
        """What ``found`` changes in the watch's pages. New links are taken while the
        watch has fewer than ``max_children`` pages watched (gone and dropped ones do not
        count) and the list fewer than ``settings.max_discovered``. A look that could not
        see the whole source (``found.partial``), or that found no link at all where
        pages were linked, unlinks nothing: a maintenance page is not a scrub."""
        spec = parent.discover
        assert spec is not None
        mine = self.of(parent.id)
        known = {c.url: c.linked and not c.dropped for c in mine}
        watched = sum(c.watched for c in mine)
        everyone = sum(c.watched for c in self.records.values())
        room = min(spec.max_children - watched, self.watchlist.settings.max_discovered - everyone)
        diff = compare(found.links, known, room)
        if diff.unlinked and not found.links and not found.partial:
            found.partial = "it linked no page at all where it linked some before"
        if found.partial:
            diff = replace(diff, unlinked=())
        limit = (
            f"max_children {spec.max_children}"
            if spec.max_children - watched <= self.watchlist.settings.max_discovered - everyone
            else f"settings.max_discovered {self.watchlist.settings.max_discovered}"
        )
        first = state.discovered_with != spec.spec_hash and not mine
        edited = state.discovered_with not in (None, spec.spec_hash)
        return Discovered(found, diff, first, edited=edited and bool(mine), limit=limit)

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
        relinked = replace(by_url[url], linked=True, unlinked_in=None, said=False, dropped=False)
        out.append(replace(relinked, unlinked_at=None, gone_at=None))
    for url in discovered.diff.unlinked:
        if url in discovered.found.listed:
            # Still on the page, no longer taken (`match` or `same_site` edited): the
            # user's choice, not the site's. Not checked any more, nothing told.
            out.append(replace(by_url[url], linked=False, said=True, dropped=True))
            continue
        out.append(
            replace(
                by_url[url],
                linked=False,
                unlinked_at=now,
                linked_in=before.evidence if before else by_url[url].linked_in,
                unlinked_in=after.evidence if after else None,
            )
        )
    return out


def discovery_events(
    parent: Watch,
    state: WatchState,
    discovered: Discovered,
    detected_at: str,
    current: VersionRef | None,
) -> tuple[list[Event], int]:
    """The parent's events of this look (its first look, or new pages; and links past its
    limits, said as an error once, and again only if there come to be more), and the count
    past the limit now said. ``current``: the listing's version this look kept."""
    diff = discovered.diff
    over = len(diff.over_limit)
    said_over = over if over > state.children_over else (state.children_over if over else 0)
    names = [_name(link) for link in diff.added]
    skipped = len(discovered.found.skipped)
    skip_note = f"; {_links(skipped)} skipped ({_where(parent)} says why)" if skipped else ""
    if discovered.first and not names and not over:
        kind = "children_found"
        summary = (
            f"FOUND: {parent.name} links no page that discover takes: check its links, "
            f"match and same_site ({_where(parent)} says what was read and skipped)"
        )
    elif discovered.first and names:
        kind = "children_found"
        summary = f"FOUND: {parent.name} links {_pages(len(names))}; each was kept as first seen"
    elif names:
        kind = "children_added"
        summary = f"NEW PAGES: {parent.name} links {_pages(len(names))} not seen before: "
        summary += "; ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    else:
        kind = ""
    urls = "\n".join([link.url for link in diff.added] + [link.url for link in diff.over_limit])
    key = sha256_hex(urls)[:16]
    events = []
    seq = state.seq
    if kind:
        seq += 1
        events.append(
            _parent_event(
                parent,
                event_id(parent.id, seq, kind, None, state.discovered_with, key),
                kind,
                None,
                detected_at,
                summary + skip_note,
                names,
                current,
            )
        )
    if over > state.children_over:
        seq += 1
        summary = (
            f"ERROR: {parent.name} links {over} more {'page' if over == 1 else 'pages'} than "
            f"it may watch ({discovered.limit}): they are not watched. Raise the limit to "
            "watch them."
        )
        events.append(
            _parent_event(
                parent,
                event_id(parent.id, seq, "error", "max_children", None, key),
                "error",
                "max_children",
                detected_at,
                summary,
                [_name(link) for link in diff.over_limit],
                current,
            )
        )
    return events, said_over


def _where(parent: Watch) -> str:
    """The command that shows what a look decided (its version's manifest)."""
    return f"`scrubwatch show {parent.id} --discovery`"


def failure_event(parent: Watch, state: WatchState, why: str, detected_at: str) -> Event:
    """A watch whose sitemap or feed could not be read `confirm_errors` looks in a row:
    told once (a removed sitemap can itself be the scrub)."""
    seq = state.seq + 1
    summary = (
        f"ERROR: {parent.name}: its pages could not be listed {state.sources_failing + 1} "
        f"times in a row ({why}); nothing is concluded of them until it can be read again."
    )
    eid = event_id(parent.id, seq, "error", "discovery_failed", None, why[:200])
    return _parent_event(
        parent, eid, "error", "discovery_failed", detected_at, summary, [], state.current
    )


def _parent_event(
    parent: Watch,
    eid: str,
    kind: str,
    reason: str | None,
    detected_at: str,
    summary: str,
    pages: list[str],
    current: VersionRef | None,
) -> Event:
    """An event of a watch about its pages, ``pages`` (names) in its ``added`` list."""
    added, added_count = capped(pages)
    return Event(
        event_id=eid,
        watch=parent.id,
        name=parent.name,
        url=parent.url,
        kind=kind,  # type: ignore[arg-type]
        reason=reason,
        detected_at=detected_at,
        summary=summary,
        added=added,
        added_count=added_count,
        current=current,
    )


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
    the children still there (for "all mention Urumqi, none of the 8 remaining do")."""
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
