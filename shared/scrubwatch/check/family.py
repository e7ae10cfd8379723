"""What a run concludes about discovered pages (issue 13), as steps of the engine's commit:
a parent's look adds and unlinks children, a child's check says once that it was
scrubbed, and children gone in one run are told together.

The engine calls these with what one check saw; the run's children (``RunChildren``) are
updated as commits are made, so later checks of the run see them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..core.config import Watch, Watchlist, child_watch
from ..core.decide import WatchState
from ..core.discover import Child, ChildWrite
from ..core.events import Event, VersionRef, event_id, rfc3339
from ..core.reader import Reading
from ..core.reasons import PAGES_UNLINKED
from . import children
from .children import Discovered, RunChildren
from .ports import Commit

_UP = ("ok", "not_modified")  # a page that answered with its content


def _folded(commit: Commit, discovered: Discovered) -> Commit:
    """A listing that only lost items, and stopped linking pages: its `changed` is kept
    as a record, not an alert. The pages are checked again at `recheck`, and what became
    of them is the alert: one digest of those gone, an `unlinked` for those still up."""
    event = commit.event
    unlinked = len(discovered.diff.unlinked)
    if event is None or event.kind != "changed" or not unlinked or event.reason:
        return commit
    if event.added_total or event.keywords_added:
        return commit  # something came too: that is news now
    note = (
        f" Its {unlinked} {'page' if unlinked == 1 else 'pages'} no longer linked "
        "are checked again; what became of them is told once known."
    )
    return replace(
        commit, event=replace(event, reason=PAGES_UNLINKED, summary=event.summary + note)
    )


def _up(state: WatchState) -> bool:
    """Up with its content, and not suspected gone."""
    return state.condition == "up" and not state.gone_streak


@dataclass(frozen=True)
class Seen:
    """What one check of a discovered page saw, as far as its family cares."""

    outcome: str  # Outcome.kind
    reading: Reading | None


@dataclass
class Family:
    """The run's discovered pages: their records, and what the run concludes of them."""

    kids: RunChildren
    clock: Callable[[], datetime]
    found: list[Watch] = field(default_factory=list)  # pages found, to check in this run
    gone_now: set[str] = field(default_factory=set)  # pages concluded gone in this run

    @property
    def watchlist(self) -> Watchlist:
        return self.kids.watchlist

    def take_found(self) -> list[Watch]:
        found, self.found = self.found, []
        return found

    def parent_commit(
        self,
        watch: Watch,
        state: WatchState,
        discovered: Discovered,
        commit: Commit,
        kept: VersionRef | None,
    ) -> Commit:
        """A discovering watch's commit with its children: the records its look adds or
        unlinks and the one event of the look; the pages it found are checked this run."""
        assert watch.discover is not None
        now = rfc3339(self.clock())
        if discovered.failed:
            return self._source_failed(watch, discovered.failed, commit, now)
        after = kept or commit.state.current
        known = self.kids.of(watch.id)
        records = children.updates(watch, discovered, known, now, state.current, after)
        events, said_over = children.discovery_events(watch, commit.state, discovered, now, after)
        new_state = replace(
            commit.state,
            discovered_with=watch.discover.spec_hash,
            children_over=said_over,
            sources=discovered.found.validators or None,
            sources_failing=0,
        )
        new_state = replace(new_state, seq=new_state.seq + len(events))
        self.kids.apply(records)
        commit = _folded(commit, discovered)
        added = {link.url for link in discovered.diff.added}
        self.found += [child_watch(watch, r.id, r.url, r.name) for r in records if r.url in added]
        by_id = {c.id: c for c in known}
        writes = tuple(ChildWrite.of(by_id.get(r.id), r) for r in records)
        return replace(commit, state=new_state, children=writes, extra=tuple(events))

    def _source_failed(self, watch: Watch, why: str, commit: Commit, now: str) -> Commit:
        """The sitemap or feed could not be read: nothing concluded, told once in a row of
        `confirm_errors` (again only after it was read in between)."""
        state = commit.state
        failing = state.sources_failing + 1
        events = []
        if failing == self.watchlist.settings.confirm_errors:
            events.append(children.failure_event(watch, state, why, now))
        state = replace(state, sources_failing=failing, seq=state.seq + len(events))
        return replace(commit, state=state, extra=tuple(events))

    def child_commit(self, watch: Watch, seen: Seen, commit: Commit) -> Commit:
        """A discovered page's commit: its keywords kept for the digest, and, once its
        listing stopped linking it, the one event that concludes it (its `gone`, saying
        so, or `unlinked` while it still answers with its content)."""
        record = self.kids.records.get(watch.id)
        if record is None:
            return commit
        updated = record if record.seen else replace(record, seen=True)
        reading = seen.reading if seen.outcome == "ok" else None  # never a 404's keywords
        if reading is not None and not reading.abridged and reading.keywords != record.keywords:
            updated = replace(updated, keywords=reading.keywords)
        event, extra = commit.event, commit.extra
        state = commit.state
        now = rfc3339(self.clock())
        if event is not None and event.kind in ("gone", "restored"):
            # Gone pages are not counted among the watch's (max_children, "of 31").
            updated = replace(updated, gone_at=now if event.kind == "gone" else None)
        if record.waiting and event is not None and event.kind == "gone":
            updated = replace(updated, said=True)
            event = self._gone_from_listing(event, updated)
        elif record.waiting and state.condition == "gone":
            # Gone while still listed (told then); now unlinked too: nothing more to say.
            updated = replace(updated, said=True, gone_at=updated.gone_at or now)
        elif record.waiting and seen.outcome in _UP and _up(state):
            updated = replace(updated, said=True)
            extra = (*extra, self._unlinked_event(watch, updated, state))
            state = replace(state, seq=state.seq + 1)
        if updated == record:
            return commit
        self.kids.apply([updated])
        write = ChildWrite.of(record, updated)
        return replace(commit, state=state, event=event, extra=extra, children=(write,))

    def renoted(self, commit: Commit) -> Commit:
        """A held `gone` with its listing's note made again at the run's end, when every
        sibling gone in the run is known ("3 of 5 pages gone")."""
        event = commit.event
        child = self.kids.records.get(event.watch) if event is not None else None
        if event is None or event.parent is None or child is None:
            return commit
        return replace(commit, event=replace(event, parent=self.note(child, gone=True)))

    def note(self, child: Child, gone: bool) -> dict[str, Any]:
        """What a page's event says of its listing (Event.parent): how many pages it had
        (those watched, and those gone in this run), and the keywords of the pages still
        there, unlinked ones included: a claim that none of them mentions a word must
        hold for every page not known to be gone."""
        if gone:
            self.gone_now.add(child.id)
        siblings = self.kids.of(child.parent)
        had = [c for c in siblings if c.watched or c.id in self.gone_now]
        remaining = [c for c in had if c.id not in self.gone_now and c.id != child.id]
        keywords = {k for c in remaining for k in c.keywords}
        parent = self.watchlist.get(child.parent)
        return children.parent_note(child, parent, max(len(had), 1), keywords)

    def _listing_name(self, child: Child) -> str:
        parent = self.watchlist.get(child.parent)
        return parent.name if parent else child.parent

    def _gone_from_listing(self, event: Event, child: Child) -> Event:
        after = children.since(child.unlinked_at, event.detected_at)
        note = f" Its listing, {self._listing_name(child)}, stopped linking it{after}."
        return replace(event, summary=event.summary + note, parent=self.note(child, gone=True))

    def _unlinked_event(self, watch: Watch, child: Child, state: WatchState) -> Event:
        seq = state.seq + 1
        current = state.current
        content = current.content_id if current else None
        now = rfc3339(self.clock())
        since = children.since(child.unlinked_at, now)
        return Event(
            event_id=event_id(watch.id, seq, "unlinked", None, child.unlinked_at, content),
            watch=watch.id,
            name=watch.name,
            url=watch.url,
            kind="unlinked",
            reason=None,
            detected_at=now,
            summary=(
                f"UNLINKED: {watch.name} is still online, but its listing, "
                f"{self._listing_name(child)}, stopped linking it{since}."
            ),
            current=current,
            parent=self.note(child, gone=False),
        )
