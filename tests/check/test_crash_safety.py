"""A crash at any point loses nothing and duplicates nothing."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.backends.local import FolderEvidenceStore, SqliteStateStore
from scrubwatch.check.engine import Engine
from scrubwatch.check.ports import Commit
from scrubwatch.core.events import Event
from scrubwatch.evidence.build import Evidence
from support import Harness, Page, Site, kinds, page

Make = Callable[..., Harness]


class Crash(Exception):
    """Stands in for the process dying at that point."""


class CrashBeforeCommit(SqliteStateStore):
    """Dies once, before the batch is committed; records what it was about to commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.lost: list[str] = []

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        if self.armed:
            self.armed = False
            self.lost = [c.event.event_id for c in commits if c.event is not None]
            raise Crash("died before commit")
        return super().commit(commits)


class CrashInsideCommit(SqliteStateStore):
    """Dies once, half-way through a batch: after the first watch's rows are written."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.lost: list[str] = []
        self._applied = 0

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        if self.armed:
            self.lost = [c.event.event_id for c in commits if c.event is not None]
            self._applied = 0
        return super().commit(commits)

    def _apply(self, c: Commit) -> bool:
        result = super()._apply(c)
        self._applied += 1
        if self.armed and self._applied == 1:
            self.armed = False
            raise Crash("died inside commit")
        return result


def two_pages(site: Site, a: str, b: str) -> list[dict[str, Any]]:
    site.set("/a.html", page("A", f"<p>{a}</p>"))
    site.set("/b.html", page("B", f"<p>{b}</p>"))
    return [{"id": "a", "url": site.url("/a.html")}, {"id": "b", "url": site.url("/b.html")}]


@pytest.mark.parametrize("store_class", [CrashBeforeCommit, CrashInsideCommit])
def test_crash_before_commit_re_emits_the_same_event_ids(
    site: Site, harness: Make, tmp_path: Path, store_class: type[CrashBeforeCommit]
) -> None:
    store = store_class(tmp_path / "crash.sqlite3")
    watches = two_pages(site, "one", "two")
    h = harness(watches, state=store, confirm_gone=2)

    # First sight crashes: nothing is kept, and nothing is published.
    store.armed = True
    with pytest.raises(Crash):
        h.run()
    assert len(store.lost) == 2
    assert h.collector.events == []
    assert store.undelivered("collector") == []
    assert store.history("a") == [] and store.history("b") == []

    events = h.run()
    assert sorted(e.kind for e in events) == ["first_seen", "first_seen"]
    assert sorted(e.event_id for e in events) == sorted(store.lost)

    # A change on a, a confirmed deletion on b: the crashed run's ids come back unchanged.
    site.set("/a.html", page("A", "<p>one, edited</p>"))
    site.set("/b.html", Page("no", status=404))
    assert kinds(h.run()) == [("a", "changed")]  # b is only suspected gone
    already = {e.event_id for e in h.collector.events}
    site.set("/a.html", page("A", "<p>one, edited again</p>"))
    store.armed = True
    with pytest.raises(Crash):
        h.run()
    lost = set(store.lost)
    assert len(lost) == 2
    assert not lost & already

    events = h.run()
    assert {e.event_id for e in events} == lost
    assert sorted(e.kind for e in events) == ["changed", "gone"]
    assert h.runs(2) == []
    ids = [e.event_id for e in h.collector.events]
    assert len(ids) == len(set(ids))


class Refuses:
    """A channel that is down: delivers nothing."""

    name = "collector"  # the same channel as the harness's collector, which comes back

    def __init__(self) -> None:
        self.offered: list[Event] = []

    def publish(self, events: Sequence[Event]) -> list[str]:
        self.offered.extend(events)
        return []


class Explodes:
    name = "collector"

    def publish(self, events: Sequence[Event]) -> list[str]:
        raise Crash("died after commit, before delivery")


@pytest.mark.parametrize("broken", [Refuses, Explodes])
def test_crash_after_commit_delivers_the_same_event_exactly_once(
    site: Site, harness: Make, broken: type
) -> None:
    watches = two_pages(site, "one", "two")
    h = harness(watches[:1])
    assert [e.kind for e in h.run()] == ["first_seen"]
    site.set("/a.html", page("A", "<p>one, edited</p>"))

    channel = broken()
    with contextlib.suppress(Crash):
        h.run(publishers=[channel])
    assert h.collector.events[1:] == []
    pending = h.state.undelivered("collector")
    assert [e.kind for e in pending] == ["changed"]
    if isinstance(channel, Refuses):
        assert [e.event_id for e in channel.offered] == [pending[0].event_id]

    delivered = h.run()
    assert [e.event_id for e in delivered] == [pending[0].event_id]
    assert delivered[0].removed == ["one"]
    assert h.state.undelivered("collector") == []
    assert h.runs(2) == []
    assert len(h.history("a")) == 2  # the crashed run's version is kept once


def test_undelivered_events_keep_their_order(site: Site, harness: Make) -> None:
    watches = two_pages(site, "one", "two")
    h = harness(watches[:1], confirm_gone=1)
    down = Refuses()
    h.run(publishers=[down])
    site.set("/a.html", page("A", "<p>edited</p>"))
    h.run(publishers=[down])
    site.set("/a.html", Page("no", status=410))
    h.run(publishers=[down])

    delivered = h.run()

    assert [e.kind for e in delivered] == ["first_seen", "changed", "gone"]
    assert [e.event_id for e in delivered] == list(dict.fromkeys(e.event_id for e in down.offered))


def test_evidence_is_written_past_a_link_left_at_its_temporary_name(tmp_path: Path) -> None:
    # A link planted where the store writes its temporary file is replaced, not followed.
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    folder = tmp_path / "evidence" / "w"
    folder.mkdir(parents=True)
    (folder / f".tmp-{os.getpid()}-v1.txt").symlink_to(outside)
    store = FolderEvidenceStore(tmp_path / "evidence")
    store.put("w", "v1", Evidence(warc_gz=b"warc", text="hello\n", reading_json=b"{}"), b"{}\n")
    assert outside.read_text() == "untouched"
    written = folder / "v1.txt"
    assert not written.is_symlink() and written.read_text() == "hello\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # the owner's only, as mkstemp made it


def test_an_interrupted_run_records_no_failure_for_the_checks_it_cut_off(
    site: Site, harness: Make
) -> None:
    """Ctrl-C cancels the run: a check whose fetch was under way commits nothing (it is
    not the site's failure), and the checks already done stand."""
    import asyncio
    import threading

    from werkzeug import Response

    asked, release = threading.Event(), threading.Event()

    def slow(request: Any) -> Response:
        asked.set()
        release.wait(10)
        return Response(page("Slow", "<p>late</p>"), content_type="text/html")

    site.set("/quick.html", page("Quick", "<p>here</p>"))
    site.set("/slow.html", slow)
    h = harness(
        [
            {"id": "quick", "url": site.url("/quick.html")},
            {"id": "slow", "url": site.url("/slow.html")},
        ]
    )
    # With a worker process, stopping the run awaits it: the window in which a fetch cut
    # off by the closing client could finish its check, as a failure, and be committed.
    engine = Engine(h.watchlist, h.state, h.evidence, [h.collector], workers=2)

    async def interrupt() -> None:
        run = asyncio.ensure_future(engine.run_async(force=True))
        await asyncio.get_running_loop().run_in_executor(None, asked.wait, 10)
        while not h.state.load(["quick"])["quick"].last_checked:
            await asyncio.sleep(0.01)  # the quick page's commit, flushed within a second
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run

    try:
        asyncio.run(interrupt())
    finally:
        release.set()
    states = h.state.load(["quick", "slow"])
    assert states["quick"].condition == "up"
    assert states["slow"].last_checked == 0 and states["slow"].error_streak == 0
