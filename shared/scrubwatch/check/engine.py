"""One run: check the due watches, decide, keep evidence, commit, then publish.

Order matters for "exactly once": evidence is written first (content-addressed, so a
repeat is harmless), then the new state and its event are committed together (the
event goes into an outbox), and only then is the event handed to publishers. A crash at
any point leaves either the old state (the next run repeats the check and derives the same
event id) or a committed event still marked undelivered (the next run delivers it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import string
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import __version__
from ..core.classify import Outcome, classify, same_as_missing_page
from ..core.config import Watch, Watchlist, child_watch
from ..core.contact import Contact, after_contact, raised
from ..core.decide import Observation, Transition, WatchState, decide
from ..core.discover import Link
from ..core.due import DueRule, edited, is_due
from ..core.events import Event, VersionRef, rfc3339
from ..core.exchange import Fetch
from ..core.reader import Known, Reading, ReadSpec
from ..core.report import RunReport
from ..core.terminal import one_line
from ..evidence.build import build_evidence, manifest, screenshot_of, sha256
from .analyse import Analysis, analyse, read_probe, reread, unabridged
from .browser import CHROMIUM_ARGS, Browser, BrowserMissing, BrowserOptions, RenderFailed
from .children import Discovered, RunChildren
from .discovery import SourceFailed, Unchanged, find_children, page_links
from .family import Family, Seen
from .fetch import FetchOptions, HttpFetcher
from .netguard import ForbiddenAddress, Resolver, vet_unresolved
from .pool import READ_DEADLINE, WorkerDied, WorkerPool, WorkersUnavailable
from .ports import Commit, EvidenceStore, Publisher, StampDue, StateStore
from .timestamp import TOKEN_SUFFIX, Authority, StampFailed, stamp
from .witness import Capture, Wayback

log = logging.getLogger("scrubwatch")

_FLUSH_EVERY = 256
# An event waits at most this long after its check before it is committed and delivered:
# a slow watch must not hold the others' alerts until the end of the run, nor take them
# with it if the run is killed.
_FLUSH_SECONDS = 1.0
# Errors of the disk rather than of one watch: nothing more can be kept, so the run stops
# with one line naming the path (cli), after committing what it can.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
# Seconds a reading always gets, whatever its fetch left of the deadline: reading a page
# of max_bytes takes a few seconds on a slow core.
_READ_FLOOR = 10.0
_WITNESSED = ("first_seen", "changed", "gone")
# What a browser builds a page from; anything else (a PDF, a feed) is read as sent.
_RENDERED_TYPES = {"text/html", "application/xhtml+xml"}
# The browser's start at most: Playwright waits 3 minutes by default.
_BROWSER_START = 30.0
# How a rendering fails, as a fetch does; anything else is render_failed.
_RENDER_FAILURES = ("timeout", "forbidden_address", "too_large")
_UP = ("ok", "not_modified")  # a page that answered with its content


class PublishFailed(Exception):
    pass


class OutOfTime(Exception):
    """The run's budget leaves no fair try for this watch: it is left for a later run."""


def fetch_options(watchlist: Watchlist) -> FetchOptions:
    s = watchlist.settings
    return FetchOptions(
        user_agent=s.user_agent,
        timeout=s.timeout,
        max_bytes=s.max_bytes,
        concurrency=s.concurrency,
        per_host=s.per_host,
        retries=s.retries,
        allow_networks=s.allow_networks,
        proxy=s.proxy,
    )


class Engine:
    def __init__(
        self,
        watchlist: Watchlist,
        state: StateStore,
        evidence: EvidenceStore,
        publishers: Sequence[Publisher] = (),
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        publish_first: bool = False,
        read_deadline: float = READ_DEADLINE,
        due: DueRule = is_due,
        witness_inline: bool = True,
        children_with_parent: bool = True,
        authorities: Sequence[Authority] = (),
        contacts: Sequence[Contact] = (),
        capture_all: bool | Collection[str] = False,
        browser_args: Sequence[str] = (),
    ) -> None:
        self.watchlist = watchlist
        self.state = state
        self.evidence = evidence
        self.publishers = list(publishers)
        self.resolver = resolver
        self.clock = clock
        # Processes that read pages, this one included: 1 reads here. By default one per
        # core, and at least one worker even on a single core, because a worker is also
        # what stops a reading that crashes or never ends from taking the run with it.
        self.workers = workers if workers is not None else max(2, os.cpu_count() or 1)
        self.progress = progress
        # On AWS there is no local outbox: an event is published, then its state is
        # committed on the condition that nobody else committed first. A failure anywhere
        # raises with the state untouched, so the queue retries the check and the retry
        # republishes the same event id.
        self.publish_first = publish_first
        self.read_deadline = read_deadline
        # Whether a watch asked for (not forced) is checked: locally, `every` after its
        # last check; on AWS, where the scheduler queues by slot, core.due.due_on_aws.
        self.due = due
        # Whether the Internet Archive is asked during the check (locally) or after it, by
        # whoever runs the engine (on AWS, a queue and a function of its own: a capture
        # can take minutes, which a checker's time budget cannot spare).
        self.witness_inline = witness_inline
        # Whether a watch asked for by id brings the children it discovered (the command
        # line); on AWS the scheduler queues each child as a watch of its own.
        self.children_with_parent = children_with_parent
        # Trusted timestamp authorities (settings.timestamp, certificates read).
        self.authorities = list(authorities)
        # Contacts with the watches' subjects (core/contact.py): they raise how often the
        # watches they concern are checked, and every event says how long after them.
        self.contacts = list(contacts)
        # Keep a version of every page read, changed or not (`scrubwatch contact`: what
        # each page said right before the subject was asked): all, or these watches and
        # the pages they discovered (a check message of a contact on AWS).
        self.capture_all = capture_all
        # Flags for the browser beyond ours (render: browser): a Lambda's Chromium needs some.
        self.browser_args = tuple(browser_args)
        self._run = _Run()
        self._deadline = watchlist.settings.deadline  # for each watch's fetch and reading

    def _capturing(self, watch: Watch) -> bool:
        """Whether every read of this watch is kept, changed or not."""
        if isinstance(self.capture_all, bool):
            return self.capture_all
        return watch.id in self.capture_all or watch.parent in self.capture_all

    def _due(self, only: Sequence[str], force: bool) -> tuple[list[Watch], dict[str, WatchState]]:
        """The watches to check now, and the states of all those asked about (read once)."""
        wanted = set(only)
        listed = self.watchlist.watches
        # The children of the discovering watches, and of the parents of listed children
        # (a check message on AWS carries a child and its parent, not its siblings).
        parents = [w.id for w in listed if w.discover is not None]
        parents += [w.parent for w in listed if w.parent is not None]
        parents = list(dict.fromkeys(parents))
        kids = RunChildren(self.watchlist, self.state.children(parents) if parents else {})
        self._run.family = Family(kids, self.clock)
        found = kids.watches(skip={w.id for w in listed})
        bring = self.children_with_parent
        now = self.clock().timestamp()
        watches = [
            raised(w, self.contacts, now)
            for w in (*listed, *found)
            if not wanted or w.id in wanted or (bring and w.parent in wanted)
        ]
        states = self.state.load(w.id for w in watches)
        if not force:
            now = self.clock().timestamp()
            recheck = self.watchlist.settings.recheck
            due = [w for w in watches if self.due(w, states[w.id], now, recheck)]
            self._run.report.not_due_count = len(watches) - len(due)
            if only:
                # Asked for by name and skipped: the summary says when it is due.
                self._run.report.not_due.extend(w.id for w in watches if w not in due)
            watches = due
        return watches, states

    def watch(self, watch_id: str) -> Watch | None:
        """A watch of the list, or a page the list's watches discovered (this run's)."""
        listed = self.watchlist.get(watch_id)
        family = self._run.family
        record = family.kids.records.get(watch_id) if family and listed is None else None
        parent = self.watchlist.get(record.parent) if record is not None else None
        if record is None or parent is None or parent.discover is None:
            return listed
        return child_watch(parent, record.id, record.url, record.name)

    @property
    def report(self) -> RunReport:
        """The report of the run under way or last run, also after it raised."""
        return self._run.report

    def run(
        self, only: Sequence[str] = (), force: bool = False, budget: float | None = None
    ) -> RunReport:
        return asyncio.run(self.run_async(only, force, budget))

    async def run_async(
        self, only: Sequence[str] = (), force: bool = False, budget: float | None = None
    ) -> RunReport:
        """``budget``: seconds the run may take (a Lambda's remaining time). A watch is
        only started with at least the fetch timeout left, and every fetch ends within
        it; the watches left are named in ``report.unfinished``, uncommitted."""
        started = time.monotonic()
        self._run = run = _Run(stop_at=None if budget is None else started + budget)
        # Whatever a crashed or offline run left behind goes first.
        run.report.delivered_late = self.deliver()
        watches, states = self._due(only, force)
        pool: WorkerPool | None = None
        if self.workers > 1:
            # This process is busy too (fetching, deciding, writing): one core is left to
            # it. The pool starts with the first page that needs reading, so a run of 304s
            # starts none.
            pool = WorkerPool(self.workers - 1, self.read_deadline)
        try:
            async with HttpFetcher(fetch_options(self.watchlist), self.resolver) as fetcher:
                await self._check_all(fetcher, pool, watches, states)
            if self.authorities:
                self.flush()  # the stamps owed are committed with their versions first
                await self._stamp()
        finally:
            await self._stop_helpers(pool)
        run.report.seconds = time.monotonic() - started
        return run.report

    async def _check_all(
        self,
        fetcher: HttpFetcher,
        pool: WorkerPool | None,
        watches: list[Watch],
        states: dict[str, WatchState],
    ) -> None:
        """Checks every watch, committing and delivering as checks finish; raises the first
        failure of the run's own (storage) once every check is over."""
        # As many checks as fetches may be in flight: more would only hold bodies in
        # memory while they wait to be read.
        gate = asyncio.Semaphore(self.watchlist.settings.concurrency)
        # A watch waits for its host's turn here, before the run's slot and before the
        # budget is looked at: waiting in the connection pool instead would count against
        # its fetch deadline (a slow host's last watches would time out unasked) and would
        # hold run slots that other hosts could use.
        per_host = self.watchlist.settings.per_host
        hosts: defaultdict[str, asyncio.Semaphore]
        hosts = defaultdict(lambda: asyncio.Semaphore(per_host))
        report = self._run.report

        async def one(watch: Watch) -> None:
            if watch.id not in states:  # a child found by this run: checked in it
                states.update(self.state.load([watch.id]))
            async with hosts[watch.host], gate:
                try:
                    self._fair_try_left()
                    commit = await self._check(fetcher, pool, watch, states[watch.id])
                except OutOfTime:
                    # Left for a later run, uncommitted: not counted a failure.
                    report.unfinished.append(watch.id)
                    return
            # None: nothing to commit, the check is repeated next run.
            if commit is not None and self.publish_first:
                self._publish_then_commit(commit)
            elif commit is not None and _held(watch, commit):
                self._run.held.append(commit)  # told with its siblings when the run ends
            elif commit is not None:
                self._run.pending.append(commit)
            for child in self._run.family.take_found() if self._run.family else ():
                checks.append(asyncio.ensure_future(one(child)))
                checking.append(child)
            report.checked += 1
            report.pages_checked += watch.parent is not None
            if self.progress:
                self.progress(report.checked, len(checking))
            if len(self._run.pending) >= _FLUSH_EVERY:
                self.flush()

        # Every check finishes before a failure is raised, so one bad watch does not
        # abandon the others half-way.
        checking = list(watches)  # grows as parents find children to check in this run
        checks = [asyncio.ensure_future(one(w)) for w in watches]
        flusher = asyncio.ensure_future(self._flush_events_soon())
        try:
            while running := [t for t in checks if not t.done()]:
                await asyncio.wait(running)
        except BaseException:
            # Interrupted (Ctrl-C, the run cancelled): the checks under way stop here and
            # commit nothing. Left running, a fetch cut off by the closing client would be
            # recorded as the site's failure.
            for check in checks:
                check.cancel()
            await asyncio.gather(*checks, return_exceptions=True)
            raise
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher  # a flush that failed raises here
            self._release_held()
        failures = [(w, t.exception()) for w, t in zip(checking, checks, strict=True)]
        crashed = [(w, exc) for w, exc in failures if exc is not None]
        if crashed:
            # Which checks the run's own failure hit (the checker returns their messages).
            report.crashed.extend(w.id for w, _ in crashed)
            raise crashed[0][1]

    async def _stop_helpers(self, pool: WorkerPool | None) -> None:
        """Stops the workers and the witness; what was checked is committed whatever
        stopping them does."""
        try:
            if pool is not None:
                self._run.report.workers = pool.started
                await pool.aclose()
            if self._run.wayback is not None:
                await self._run.wayback.aclose()
                self._run.wayback = None
            if self._run.browser is not None:
                self._run.report.rendered = self._run.browser.rendered
                await self._run.browser.aclose()
                self._run.browser = None
        finally:
            self.flush()

    def _publish_then_commit(self, commit: Commit) -> None:
        for event in commit.events:
            for publisher in self.publishers:
                if event.event_id not in publisher.publish([event]):
                    raise PublishFailed(f"{commit.state.watch_id}: event not published")
            self._run.report.events.append(event)
        self.evidence.sync()
        stale = self.state.commit([commit])
        if stale:
            log.warning("another checker committed %s first; its result stands", stale[0])
            self._run.report.stale.extend(stale)

    async def _flush_events_soon(self) -> None:
        """Commits and delivers the events of finished checks every _FLUSH_SECONDS while
        the others run."""
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            if any(c.events for c in self._run.pending):
                self.flush()

    def flush(self) -> None:
        batch, self._run.pending = self._run.pending, []
        if batch:
            self.evidence.sync()  # the commit names these files: they must outlive a crash
            stale = set(self.state.commit(batch))
            if stale:
                log.warning("another run changed %s meanwhile; not applied", ", ".join(stale))
                self._run.report.stale.extend(stale)
            self._run.report.events.extend(
                e for c in batch if c.state.watch_id not in stale for e in c.events
            )
        self.deliver()

    def deliver(self) -> int:
        """Hands every channel what it still owes; returns how many events went out."""
        self._run.report.undelivered = 0
        sent: set[str] = set()
        for publisher in self.publishers:
            events = self.state.undelivered(publisher.name)
            if not events:
                continue
            try:
                done = publisher.publish(events)
            except Exception:
                # A broken channel must not stop the checks; the outbox keeps the events.
                log.exception("%s failed; events kept for the next run", publisher.name)
                done = []
            self.state.delivered(done, publisher.name)
            self._run.report.undelivered += len(events) - len(set(done))
            sent.update(done)
        return len(sent)

    def _failed(self, watch: Watch, state: WatchState, exc: Exception) -> Commit:
        """What the page, its URL or its probe provoked that nobody foresaw: that watch's
        `internal` error, reported like any other once confirmed, never the run's."""
        why = one_line(exc, 300) or type(exc).__name__
        log.error("%s: the check failed: %s", watch.id, why, exc_info=True)
        outcome = Outcome("error", "internal", f"the check failed: {why}")
        transition = decide(
            watch, self.watchlist.settings, state, Observation(outcome, self.clock())
        )
        self._note(watch, state, transition.state, outcome, None, None)
        return Commit(
            state=replace(transition.state, rev=state.rev),
            event=transition.event,
            channels=tuple(p.name for p in self.publishers),
        )

    async def _check(
        self, fetcher: HttpFetcher, pool: WorkerPool | None, watch: Watch, state: WatchState
    ) -> Commit | None:
        """One watch's check: look at the page, decide, keep evidence, and what to commit."""
        try:
            looked = await self._look(fetcher, pool, watch, state)
        except OutOfTime:
            raise  # the run's budget, not the page: the watch is left for a later run
        except Exception as exc:  # the page's doing; storage failures below stay the run's
            return self._failed(watch, state, exc)
        transition, before = await self._decide(pool, watch, state, looked)
        self._note(watch, state, transition.state, looked.outcome, looked.reading, before)
        return await self._commit(watch, state, looked, transition)

    async def _look(
        self, fetcher: HttpFetcher, pool: WorkerPool | None, watch: Watch, state: WatchState
    ) -> Looked:
        """Fetch, read, and compare with the host's not-found page when it changed."""
        fetch, body_sha256 = await self._fetch(fetcher, watch, state)
        analysis, outcome = await self._read(pool, watch, state, fetch)
        reading = analysis.reading if analysis else None
        outcome = await self._look_closer(fetcher, pool, watch, state, fetch, reading, outcome)
        discovered = await self._discover(fetcher, pool, watch, state, fetch, outcome)
        log.debug(
            "%s: %s %s in %.2fs: %s%s",
            watch.id,
            fetch.final_url,
            fetch.error or _answer(fetch, body_sha256, reading),
            fetch.elapsed,
            outcome.kind,
            f" ({outcome.reason})" if outcome.reason else "",
        )
        return Looked(fetch, body_sha256, analysis, outcome, discovered)

    async def _discover(
        self,
        fetcher: HttpFetcher,
        pool: WorkerPool | None,
        watch: Watch,
        state: WatchState,
        fetch: Fetch,
        outcome: Outcome,
    ) -> Discovered | None:
        """The watch's children as its source lists them now; None when it discovers none,
        or its page or source says nothing this time (a page down, blocked or unchanged:
        no child is concluded unlinked from a listing that was not read)."""
        spec = watch.discover
        if spec is None or outcome.kind not in _UP or self._run.family is None:
            return None
        if spec.links and (fetch.status != 200 or outcome.kind != "ok"):
            return None  # the same bytes as last time: the same links

        async def fetch_source(url: str, etag: str | None, modified: str | None) -> Fetch:
            deadline = self._fetch_deadline()
            return await fetcher.fetch(url, etag, modified, deadline=deadline, **_via(watch))

        async def read_links(page: Fetch, selector: str) -> list[Link]:
            args = (*page.readable, selector, page.final_url)
            try:
                found: list[Link] = await self._in_worker(
                    pool, self._reading_time(page), page_links, *args
                )
            except WorkerDied as exc:
                raise SourceFailed(f"its links could not be read: {exc}") from None
            return found

        allow = self.watchlist.settings.allow_networks
        try:
            # After an edit of `discover`, read afresh: a 304 would keep the old links.
            last = None if _discovery_due(watch, state) else state.sources
            found = await find_children(watch, fetch, fetch_source, allow, last, read_links)
        except Unchanged:
            return None  # the same links as last time
        except SourceFailed as exc:
            log.warning("%s: its children could not be listed: %s", watch.id, exc)
            self._run.report.discovery_failed[watch.id] = one_line(exc, 300)
            return Discovered.failure(one_line(exc, 300))
        discovered = self._run.family.kids.look(watch, found, state)
        if found.partial:
            self._run.report.discovery_failed[watch.id] = f"{found.partial}; nothing unlinked"
        return discovered

    def _listing(self, watch: Watch) -> str | None:
        """A discovered child's parent page: a redirect there removes the child."""
        parent = self.watchlist.get(watch.parent) if watch.parent else None
        return parent.url if parent else None

    async def _decide(
        self, pool: WorkerPool | None, watch: Watch, state: WatchState, looked: Looked
    ) -> tuple[Transition, dict[str, Any] | None]:
        """The decision on what was seen, and how the last capture was read when the watch
        was edited since (None otherwise)."""
        fetch, outcome, reading = looked.fetch, looked.outcome, looked.reading
        before = self._settings_before(watch, state) if edited(watch, state) else None
        ok = outcome.kind == "ok"
        obs = Observation(
            outcome=outcome,
            checked_at=self.clock(),  # one clock for "when checked" and "when due"
            version=self._capture_ref(watch, fetch, looked.analysis),
            reading=reading,
            previous_reading=await self._previous_reading(
                pool, watch, state, outcome, reading, before
            ),
            etag=fetch.header_map.get("etag") if ok else None,
            last_modified=fetch.header_map.get("last-modified") if ok else None,
            body_sha256=looked.body_sha256 if ok else state.body_sha256,
            rebaseline=before is not None,
            moved=_moved_permanently(fetch, state),
        )
        return decide(watch, self.watchlist.settings, state, obs), before

    async def _commit(
        self, watch: Watch, state: WatchState, looked: Looked, transition: Transition
    ) -> Commit | None:
        """Witness and evidence for the transition, and the commit that records them; None
        when the evidence could not be written (the check is repeated next run)."""
        new_state = replace(transition.state, rev=state.rev)
        event = transition.event
        # A contact's capture asks the Archive too: its own copy of what the page said then.
        at_contact = self._capturing(watch) and looked.outcome.kind == "ok"
        if event is not None and event.kind == "changed":
            event = await self._seen_change(watch, state, looked.fetch, event)
        capture = await self._witness_event(watch, event, at_contact)
        if capture is not None and capture.status == "archived" and event and event.current:
            event = replace(event, current=replace(event.current, witness=capture.url))
        kept = None
        # A look that changed the children is kept even when the watched text did not
        # change (a link's address changed, say): its evidence is what it decided.
        found = looked.discovered is not None and looked.discovered.changed
        captured = self._capturing(watch) and looked.outcome.kind == "ok"
        if (transition.keep_version or found or captured) and looked.analysis is not None:
            try:
                kept = self._keep(watch, state, looked, capture)
            except OSError as exc:
                if exc.errno in _DISK_FULL:
                    raise  # every watch's evidence would fail: the run stops, saying why
                # One watch's evidence folder that cannot be written fails that watch: its
                # state stays as it was, so the next run repeats the check and the event.
                log.error("%s: evidence not kept, check repeated next run: %s", watch.id, exc)
                self._run.report.failures[watch.id] = f"evidence not written: {exc.strerror or exc}"
                return None
            new_state, event = _pointing_at(kept, new_state, event)
        if event and self.contacts:
            event = after_contact(event, watch, self.contacts)
        if event:
            log.info("%s: %s", watch.id, event.summary)
        commit = Commit(
            state=new_state,
            version=(event.current if event and event.current else kept),
            event=event,
            channels=tuple(p.name for p in self.publishers),
            stamps=tuple((kept.version, a.url) for a in self.authorities) if kept else (),
        )
        family = self._run.family
        if family is not None and looked.discovered is not None:
            commit = family.parent_commit(watch, state, looked.discovered, commit, kept)
        elif family is not None and watch.parent is not None:
            commit = family.child_commit(watch, Seen(looked.outcome.kind, looked.reading), commit)
        return commit

    async def _stamp(self) -> None:
        """Asks every authority for the tokens owed (this run's versions, and those it
        could not give before), a few at a time; a failure is kept for the next run."""
        settings = self.watchlist.settings
        assert settings.timestamp is not None
        by_url = {a.url: a for a in self.authorities}
        report = self._run.report
        gate = asyncio.Semaphore(4)

        async def one(due: StampDue, client: httpx.AsyncClient) -> None:
            authority = by_url[due.authority]
            if due.authority in report.stamp_failures:
                return  # failing this run: one timeout an authority a run, not one a version
            manifest = self.evidence.manifest(due.watch_id, due.version)
            if manifest is None:
                self.state.stamp_done(due)  # its capture is gone: nothing left to stamp
                return
            name = f"{due.version}.{authority.slug}{TOKEN_SUFFIX}"
            if name in self.evidence.tokens(due.watch_id, due.version):
                # Kept by a run that stopped before it could say so: a new token would
                # replace the one the next manifest may already name.
                self.state.stamp_done(due)
                return
            async with gate:
                if due.authority in report.stamp_failures:
                    return
                try:
                    token = await stamp(client, authority, manifest)
                    self.evidence.put_token(
                        due.watch_id, due.version, name, token, authority.ca_name, authority.ca_pem
                    )
                    self.evidence.sync()
                except (StampFailed, OSError) as exc:
                    why = str(exc) if isinstance(exc, StampFailed) else f"not written: {exc}"
                    self.state.stamp_failed(due, why)
                    report.stamp_failures[due.authority] = why
                    return
            self.state.stamp_done(due)
            report.stamped += 1

        due = self.state.stamps_due()
        # Owed to an authority no longer configured (a mistyped URL corrected, say): owed
        # to each configured one instead, so the fix stamps what the typo could not.
        stale = [d for d in due if d.authority not in by_url]
        if stale:
            owed = [replace(d, authority=url, tries=0, why=None) for d in stale for url in by_url]
            self.state.owe_stamps(owed)
            for d in stale:
                self.state.stamp_done(d)
            due = self.state.stamps_due()
        proxy = settings.proxy or None
        timeout = settings.timestamp.timeout
        async with httpx.AsyncClient(timeout=timeout, proxy=proxy) as client:
            await asyncio.gather(*(one(d, client) for d in due))

    def _release_held(self) -> None:
        """Pages' `gone` events, held while the run checked, are committed together, so a
        listing scrubbed at once is told at once (one digest), each saying how many of its
        siblings went and what they share."""
        held, self._run.held = self._run.held, []
        family = self._run.family
        self._run.pending += [family.renoted(c) if family else c for c in held]

    async def _fetch(
        self, fetcher: HttpFetcher, watch: Watch, state: WatchState
    ) -> tuple[Fetch, str | None]:
        # A validator only vouches for the bytes: once the watch reads the page differently
        # the page must be read again, or the next real change would pass as a re-baseline.
        conditional = (
            state.condition == "up"
            and not state.gone_streak
            and state.settings_hash in (None, watch.settings_hash)
            and not _discovery_due(watch, state)
            and not self._capturing(watch)
            # The document may stay the same while what its scripts load changes.
            and watch.render is None
        )
        fetch = await fetcher.fetch(
            watch.url,
            state.etag if conditional else None,
            state.last_modified if conditional else None,
            deadline=self._fetch_deadline(),
            **_via(watch),
        )
        self._run.report.fetch_seconds += fetch.elapsed
        body_sha256 = hashlib.sha256(fetch.body).hexdigest() if fetch.status == 200 else None
        if watch.render is not None:
            await self._render(watch, fetch)
        elif (
            body_sha256 is not None
            and body_sha256 == state.body_sha256
            and _settled(watch, state, fetch)
            and not _discovery_due(watch, state)
            and not self._capturing(watch)
        ):
            # The same bytes as last time read the same way: as good as a 304, for servers
            # that never send one, and no parsing.
            fetch.status, fetch.body, fetch.content = 304, b"", b""
        return fetch, body_sha256

    async def _render(self, watch: Watch, fetch: Fetch) -> None:
        """Hands a page's HTML to the browser (render: browser); a page that fails there
        fails the check, as a fetch would."""
        assert watch.render is not None
        media = fetch.header_map.get("content-type", "text/html").split(";", 1)[0].strip()
        if fetch.error or fetch.status != 200 or media.lower() not in _RENDERED_TYPES:
            return  # nothing a browser would build: read as sent (a 404 is a 404)
        if self._run.browser is None:
            s = self.watchlist.settings
            options = BrowserOptions(
                s.allow_networks,
                s.browser_pages,
                s.max_bytes,
                args=(*CHROMIUM_ARGS, *self.browser_args),
            )
            self._run.browser = Browser(options, self.resolver)
        user_agent = watch.user_agent or self.watchlist.settings.user_agent
        started = time.monotonic()
        try:
            # The browser's start is the run's (within its budget), not the first page's.
            await self._run.browser.start(started + min(self._left(), _BROWSER_START))
            # The watch's deadline (within the run's budget) bounds its fetch and page.
            until = time.monotonic() + max(self._fetch_deadline() - fetch.elapsed, 1.0)
            fetch.rendered = await self._run.browser.render(fetch, watch.render, user_agent, until)
        except BrowserMissing as exc:
            fetch.error, fetch.error_detail = "browser_missing", str(exc)
            self._run.report.no_browser = str(exc)
        except RenderFailed as exc:
            kind = exc.kind if exc.kind in _RENDER_FAILURES else "render_failed"
            fetch.error, fetch.error_detail = kind, f"in the browser: {exc}"  # type: ignore[assignment]
        fetch.elapsed += time.monotonic() - started
        if fetch.error:
            fetch.body = fetch.content = b""
        elif fetch.rendered is not None and fetch.rendered.wait_for_matched is False:
            log.warning(
                "%s: wait_for %r did not match on %s in time; the page was read as it was",
                watch.id,
                watch.render.wait_for,
                watch.url,
            )

    async def _read(
        self, pool: WorkerPool | None, watch: Watch, state: WatchState, fetch: Fetch
    ) -> tuple[Analysis | None, Outcome]:
        previous_final = state.current.final_url if state.current else None
        if fetch.error is not None or fetch.status in (None, 304):
            return None, classify(fetch, None, previous_final, self._listing(watch))
        spec = ReadSpec.of(watch.reading_settings)
        known = None
        if state.region_digest and state.fingerprint and _settled(watch, state, fetch):
            # Read as last time, so its watched part's markup alone says whether it changed.
            known = Known(state.region_digest, state.fingerprint)
        try:
            analysis: Analysis = await self._in_worker(
                pool,
                self._reading_time(fetch),
                analyse,
                fetch,
                spec,
                watch.id,
                state.current.content_id if state.current else None,
                # Whether the page's whole text is wanted: for a change since a known
                # state ("" when that state had no reading, so any reading is a change).
                None if state.condition == "new" else state.fingerprint or "",
                state.chain_head,
                known,
            )
        except WorkerDied as exc:
            # The page took its reader down (a parser crash, memory, a reading that never
            # ends): a failure of this check like a timeout, not of the whole run.
            log.warning("%s: reading %s failed: %s", watch.id, fetch.final_url, exc)
            return None, Outcome("error", "read_failed", str(exc))
        return analysis, classify(fetch, analysis.reading, previous_final, self._listing(watch))

    async def _look_closer(
        self,
        fetcher: HttpFetcher,
        pool: WorkerPool | None,
        watch: Watch,
        state: WatchState,
        fetch: Fetch,
        reading: Reading | None,
        outcome: Outcome,
    ) -> Outcome:
        """A page that changed into what the host serves for any missing path is gone."""
        if (
            outcome.kind != "ok"
            or reading is None
            or reading.kind != "html"
            or state.condition == "new"
            or (reading.fingerprint == state.fingerprint and reading.region_found)
        ):
            # A changed page is compared with the host's not-found page; so is one whose
            # watched part is gone, where a soft 404 would not change the fingerprint.
            return outcome
        probe = await self._probe(fetcher, pool, fetch.final_url, _via(watch))
        if probe is _UNANSWERED and state.gone_streak:
            # Suspected gone, and the host could not say what its not-found page is:
            # neither confirm nor clear the suspicion (and above all, no `changed`).
            return Outcome("error", "probe_failed", "the not-found probe failed")
        if probe is not None and same_as_missing_page(reading, probe.missing):
            if probe.home is not None and same_as_missing_page(reading, probe.home):
                # The home page is that page too: a wall in front of the whole site (a
                # bot check, maintenance), which says nothing about this page.
                return Outcome("blocked", "site_wide_page", "every path shows one page")
            return Outcome("gone", "soft_404", "same page as for a path that never existed")
        return outcome

    def _note(
        self,
        watch: Watch,
        state: WatchState,
        after: WatchState,
        outcome: Outcome,
        reading: Reading | None,
        before: dict[str, Any] | None,
    ) -> None:
        """What the run's summary must not hide."""
        report = self._run.report
        report.outcomes[outcome.kind] += 1
        if watch.parent is not None:
            report.names[watch.id] = watch.name  # a discovered page's id says nothing
        if outcome.kind in ("error", "blocked"):
            report.failures[watch.id] = outcome.reason or outcome.kind
        elif outcome.kind == "gone" and state.current is None:
            report.failures[watch.id] = f"never reachable ({outcome.reason})"
        elif after.gone_streak:
            report.suspected.append(watch.id)  # seen gone, not yet confirmed
        if (
            reading is not None
            and outcome.kind == "ok"
            and (state.condition == "new" or before is not None)
            and (not reading.region_found or (reading.items is not None and not reading.items))
        ):
            # On a first check, or the first after an edit, this is nearly always a selector
            # that does not fit the page (later, a part that goes is an event of its own):
            # the watch would watch nothing, so say so where it shows.
            report.matched_nothing.append(watch.id)
            what = f"items {watch.items!r}" if reading.region_found else f"select {watch.select!r}"
            # A page whose list its scripts build matches nothing as sent.
            hint = "" if watch.render else ", or render: browser if scripts build the page"
            log.warning(
                "%s: %s matches nothing on %s; try `scrubwatch validate --check-selectors`%s",
                watch.id,
                what,
                watch.url,
                hint,
            )
        if before is not None:
            report.rebaselined[watch.id] = _what_changed(before, watch)

    def _settings_before(self, watch: Watch, state: WatchState) -> dict[str, Any]:
        """How the last kept capture was read, from its manifest ({} if it cannot say)."""
        assert state.current is not None
        try:
            kept = json.loads(self.evidence.manifest(watch.id, state.current.version) or b"{}")
        except ValueError:
            return {}
        settings: dict[str, Any] = kept.get("reading_settings") or {}
        # Manifests written before the settings were kept still name the URL asked for.
        return settings or ({"url": kept["requested_url"]} if "requested_url" in kept else {})

    def _capture_ref(
        self, watch: Watch, fetch: Fetch, analysis: Analysis | None
    ) -> VersionRef | None:
        if analysis is None:
            return None
        return VersionRef(
            version=analysis.capture,
            fetched_at=rfc3339(fetch.fetched_at),
            status=fetch.status,
            final_url=fetch.final_url,
            evidence=self.evidence.uri(watch.id, analysis.capture),
            content=analysis.version,
        )

    async def _previous_reading(
        self,
        pool: WorkerPool | None,
        watch: Watch,
        state: WatchState,
        outcome: Outcome,
        reading: Reading | None,
        before: dict[str, Any] | None,
    ) -> Reading | None:
        """What the page said before, read the way the watch reads it now."""
        if state.current is None:
            return None
        if before is not None:
            if before.get("url", watch.url) != watch.url or reading is None:
                return None  # another page: nothing to compare with
            if _render_changed(before, watch):
                return None
            return await self._reread(pool, watch, state.current.version)
        changed = reading is not None and reading.fingerprint != state.fingerprint
        if not (changed or outcome.kind == "gone"):
            return None
        kept = self.evidence.reading(watch.id, state.current.version)
        if kept is None:
            # Its reading file is lost or unreadable (a torn write): read the capture itself
            # again, so the alert says what went rather than that everything is new.
            kept = await self._reread(pool, watch, state.current.version)
        return kept

    async def _reread(self, pool: WorkerPool | None, watch: Watch, version: str) -> Reading | None:
        """A kept capture read again the way the watch reads now (None if it cannot be)."""
        warc = self.evidence.warc(watch.id, version)
        if warc is None:
            return None
        spec = ReadSpec.of(watch.reading_settings)
        try:
            again: Reading | None = await self._in_worker(
                pool, self._reading_time(None), reread, warc, spec
            )
        except WorkerDied as exc:
            log.warning("%s: reading the last capture again failed: %s", watch.id, exc)
            return None
        return again

    async def _witness_event(
        self, watch: Watch, event: Event | None, at_contact: bool = False
    ) -> Capture | None:
        wanted = event is not None and witness_wanted(watch, event)
        if at_contact and watch.witness and _public_url(watch.url):
            wanted = True
        if not (self.witness_inline and wanted):
            return None
        gone = event is not None and event.kind == "gone"
        capture = await self._witness().capture(watch.url, capture_all=gone)
        if capture.status != "archived":
            log.warning(
                "%s: the Internet Archive did not capture %s (%s): %s",
                watch.id,
                watch.url,
                capture.status,
                capture.detail or "no detail",
            )
        return capture

    async def _seen_change(
        self, watch: Watch, state: WatchState, fetch: Fetch, event: Event
    ) -> Event:
        """A rendered page's change, as its screenshot shows it against the last one."""
        rendered = fetch.rendered
        if rendered is None or not rendered.screenshot or state.current is None:
            return event
        warc = self.evidence.warc(watch.id, state.current.version)
        before = screenshot_of(warc) if warc is not None else None
        if before is None:
            return event  # the last version was read without a browser
        from .visual import compare  # Pillow: only where pages are rendered

        try:
            change = await asyncio.to_thread(compare, before, rendered.screenshot)
        except Exception as exc:  # a damaged picture, memory: the alert goes without it
            log.warning("%s: screenshots not compared: %s", watch.id, exc)
            return event
        visual: dict[str, Any] = {"share": round(change.share, 4), "regions": len(change.regions)}
        if rendered.screenshot_cut:
            visual["cut"] = True  # the page's top only was pictured, and compared
        return replace(event, visual=visual)

    def _keep(
        self,
        watch: Watch,
        state: WatchState,
        looked: Looked,
        capture: Capture | None,
    ) -> VersionRef:
        """Stores the capture this check made and chains it; returns where it is kept."""
        fetch, outcome, analysis = looked.fetch, looked.outcome, looked.analysis
        ref = self._capture_ref(watch, fetch, analysis)
        assert analysis is not None and ref is not None
        evidence = analysis.evidence
        if evidence is None:
            # Same content as the last capture, kept because an event needs its own record
            # (a page gone behind a redirect, a move): rare, so built here.
            reading = unabridged(fetch, ReadSpec.of(watch.reading_settings), analysis.reading)
            analysis = replace(analysis, reading=reading)
            evidence = build_evidence(
                fetch, analysis.reading, analysis.capture, watch.id, analysis.version
            )
        record = manifest(
            evidence,
            analysis.capture,
            {"kind": outcome.kind, "reason": outcome.reason},
            watch.settings_hash,
            state.chain_head,
            __version__,
            capture.to_json() if capture else None,
            watch.reading_settings,
            looked.discovered.record() if looked.discovered else None,
            self._previous_tokens(watch, state),
        )
        stored = self.evidence.put(watch.id, analysis.capture, evidence, record)
        # The capture id follows the chain head, so a manifest already on file under it was
        # written by an interrupted attempt at this same step: it is the record, with its
        # own time.
        kept = json.loads(stored)
        return replace(
            ref, fetched_at=kept.get("fetched_at", ref.fetched_at), manifest_sha256=sha256(stored)
        )

    def _previous_tokens(self, watch: Watch, state: WatchState) -> dict[str, Any] | None:
        """The timestamp tokens of the chain head, for the next manifest to name (those
        that came by then: a token that comes later is checked, but named by none)."""
        version = state.head_version
        current = state.current
        if version is None and current is not None and current.manifest_sha256 == state.chain_head:
            version = current.version  # a state written before head_version
        tokens = self.evidence.tokens(watch.id, version) if version else {}
        if not tokens:
            return None
        listed = [{"file": name, "sha256": sha256(data)} for name, data in tokens.items()]
        return {"version": version, "tokens": listed}

    def _witness(self) -> Wayback:
        if self._run.wayback is None:
            s = self.watchlist.settings
            self._run.wayback = Wayback.from_env(s.wayback_endpoint, s.wayback_per_minute)
        return self._run.wayback

    def _left(self) -> float:
        """Seconds left of the run's budget (infinity without one)."""
        if self._run.stop_at is None:
            return float("inf")
        return self._run.stop_at - time.monotonic()

    def _fair_try_left(self) -> None:
        """Raises OutOfTime when less than a fetch timeout of the run's budget is left."""
        if self._left() < self.watchlist.settings.timeout:
            raise OutOfTime

    def _fetch_deadline(self) -> float:
        """A watch's fetch deadline, within what is left of the run's budget."""
        return max(min(self._deadline, self._left()), 0.0)

    def _reading_time(self, fetch: Fetch | None) -> float:
        """What is left of the watch's deadline once ``fetch`` took its share, and never
        less than a page of the largest allowed size takes to read."""
        spent = fetch.elapsed if fetch is not None else 0.0
        # Within the run's budget too: past it by the floor at most, which the checker's
        # commit margin covers.
        return max(min(self._deadline - spent, self._left()), _READ_FLOOR)

    async def _in_worker(self, pool: WorkerPool | None, deadline: float, fn, *args):  # type: ignore[no-untyped-def]
        if pool is None or self._run.read_here:
            return fn(*args)
        try:
            return await pool.run(fn, *args, deadline=deadline)
        except WorkersUnavailable as exc:
            if not self._run.read_here:
                log.warning("reading pages in this process instead of workers: %s", exc)
                self._run.read_here = True
            return fn(*args)

    async def _probe(
        self, fetcher: HttpFetcher, pool: WorkerPool | None, url: str, via: dict[str, str]
    ) -> Probe | None:
        """What the host serves for a path that cannot exist, and for its home page; asked
        once per host per run, only when a page changed. Asked the way the watch asks
        (its proxy, its user agent): a probe sent otherwise would show who is watching."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        key = (origin, via.get("proxy"), via.get("user_agent"))
        if key not in self._run.probes:
            # A probe cut short by the run's budget would pass for a host that does not
            # answer, and be kept for the run: the watch waits for a later run instead.
            self._fair_try_left()

            async def fetch_page(target: str) -> Fetch:
                return await fetcher.fetch(target, deadline=self._fetch_deadline(), **via)

            async def read(result: Fetch) -> Reading | None:
                if result.error or result.status != 200:
                    return None
                reading: Reading = await self._in_worker(
                    pool, self._reading_time(result), read_probe, result
                )
                return reading

            async def probe() -> Probe | None:
                asked = await fetch_page(origin + missing_path(parts.path))
                if asked.error or (asked.status or 0) >= 500:
                    return _UNANSWERED  # the host said nothing either way
                try:
                    missing = await read(asked)
                    if missing is None:
                        return None  # a proper 404: this host does not serve soft 404s
                    return Probe(missing, await read(await fetch_page(f"{origin}/")))
                except WorkerDied as exc:
                    # Its not-found page took the reader down: as good as no answer.
                    log.warning("%s: reading the not-found probe failed: %s", origin, exc)
                    return _UNANSWERED

            self._run.probes[key] = asyncio.ensure_future(probe())
        return await self._run.probes[key]


def _held(watch: Watch, commit: Commit) -> bool:
    """A discovered child's `gone` waits for the run's end, to be told with its siblings'."""
    return watch.parent is not None and commit.event is not None and commit.event.kind == "gone"


def _discovery_due(watch: Watch, state: WatchState) -> bool:
    """The watch's pages were never listed with its `discover` as it is now, or some were
    left out at its limits (room may have come since): its page is read whole, never
    answered by a validator or the same bytes."""
    return watch.discover is not None and (
        state.discovered_with != watch.discover.spec_hash or state.children_over > 0
    )


def _pointing_at(
    kept: VersionRef, state: WatchState, event: Event | None
) -> tuple[WatchState, Event | None]:
    """The new state and the event, chained to the capture just kept and pointing at it
    where they name it (the event keeps its witness)."""
    state = replace(state, chain_head=kept.manifest_sha256, head_version=kept.version)
    if event and event.current and event.current.version == kept.version:
        event = replace(event, current=replace(kept, witness=event.current.witness))
    if state.current and state.current.version == kept.version:
        state = replace(state, current=event.current if event else kept)
    return state, event


def _settled(watch: Watch, state: WatchState, fetch: Fetch) -> bool:
    """This answer may be compared with the last by a digest alone (of its bytes or of its
    watched part): the page was up, is read the same way, and came from the same URL."""
    return (
        state.condition == "up"
        and not state.gone_streak
        and state.settings_hash == watch.settings_hash
        and state.current is not None
        and state.current.final_url == fetch.final_url
    )


def _answer(fetch: Fetch, body_sha256: str | None, reading: Reading | None) -> str:
    # A 200 with the same bytes as last time is handled as a 304, and one whose watched part
    # is as last time is read no further; the log says which it was.
    if fetch.status == 304 and body_sha256 is not None:
        return "200 (the same bytes as last time)"
    if reading is not None and reading.abridged:
        return f"{fetch.status} (the watched part as last time)"
    return str(fetch.status)


def _via(watch: Watch) -> dict[str, str]:
    """The per-watch request options the fetcher takes (proxy, user agent)."""
    out = {}
    if watch.proxy:
        out["proxy"] = watch.proxy
    if watch.user_agent:
        out["user_agent"] = watch.user_agent
    return out


def witness_wanted(watch: Watch, event: Event) -> bool:
    """Whether this event of this watch is worth an independent capture."""
    if not (watch.witness and event.kind in _WITNESSED):
        return False
    if not _public_url(watch.url):
        # The Archive cannot reach it, and asking would publish a private address.
        log.debug("%s: not asking the Internet Archive for a private address", watch.id)
        return False
    return True


def _public_url(url: str) -> bool:
    """False for a URL whose host is a non-public address in any spelling, or a name that
    always means loopback; a name is public as far as can be told without resolving it."""
    try:
        vet_unresolved(urlsplit(url).hostname or "", ())
    except ForbiddenAddress:
        return False
    return True


def _what_changed(before: dict[str, Any], watch: Watch) -> str:
    after = watch.reading_settings
    keys = [k for k in after if k in before and before[k] != after[k]]
    if _render_changed(before, watch):
        how = "in a browser" if watch.render else "as sent, without a browser"
        if bool(before.get("render")) == (watch.render is not None):
            how = "in the browser another way"
        return f"render changed: the page is now read {how}, and this reading is the baseline"
    if not keys:
        return "its reading settings changed"
    if "url" in keys:
        return "url changed: the new page is the baseline"
    return ", ".join(keys) + " changed: the page was compared as read the new way"


def _render_changed(before: dict[str, Any], watch: Watch) -> bool:
    """Whether the last capture was rendered otherwise (or not at all): a capture keeps
    the page as its browser left it, which cannot be read again as another wait or none
    would have left it, so the two are not compared."""
    return before.get("render") != watch.reading_settings.get("render")


def _moved_permanently(fetch: Fetch, state: WatchState) -> bool:
    """This answer came by a permanent redirect to a URL other than last time's."""
    return (
        state.current is not None
        and fetch.final_url != state.current.final_url
        and any(hop.status in (301, 308) for hop in fetch.hops)
    )


def missing_path(path: str) -> str:
    """A path that cannot exist, shaped like the watched one (same folder, same extension,
    random letters), so the request looks like any visitor's mistyped link and names no
    tool."""
    folder, _, leaf = path.rpartition("/")
    stem, dot, ext = leaf.rpartition(".")
    name = "".join(
        secrets.choice(string.ascii_lowercase) for _ in range(secrets.choice((7, 8, 9, 10)))
    )
    if not leaf:
        return f"{folder}/{name}/"
    if dot and stem and ext.isalnum() and len(ext) <= 5:
        return f"{folder}/{name}.{ext}"
    return f"{folder}/{name}"


@dataclass
class _Run:
    """What one run keeps while it checks, and starts afresh each run."""

    report: RunReport = field(default_factory=RunReport)
    pending: list[Commit] = field(default_factory=list)  # checked, not yet committed
    # What each host serves for a missing path, asked once per host, proxy and user agent.
    probes: dict[tuple[str, str | None, str | None], asyncio.Task[Probe | None]] = field(
        default_factory=dict
    )
    wayback: Wayback | None = None  # started with the first capture asked for
    stop_at: float | None = None  # time.monotonic() by which the run must be over
    read_here: bool = False  # workers could not be started: pages are read in this process
    family: Family | None = None  # the pages the list's watches discovered
    held: list[Commit] = field(default_factory=list)  # pages' gone, told together
    browser: Browser | None = None  # started with the first page rendered


@dataclass(frozen=True)
class Looked:
    """What one check saw of its page."""

    fetch: Fetch
    body_sha256: str | None  # of a 200's body, before any shortcut emptied it
    analysis: Analysis | None  # None when there was nothing to read
    outcome: Outcome
    discovered: Discovered | None = None  # what a watch that discovers found of its children

    @property
    def reading(self) -> Reading | None:
        return self.analysis.reading if self.analysis else None


@dataclass(frozen=True)
class Probe:
    missing: Reading  # what a path that never existed shows
    home: Reading | None  # what the site's home page shows


_UNANSWERED = Probe(Reading(kind="none", region_found=False, lines=()), None)
