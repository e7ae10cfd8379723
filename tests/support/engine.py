"""The engine as tests run it: ``Harness`` holds a watch list, a SQLite state store and an
evidence folder in ``tmp_path`` and a collecting publisher; ``run()`` runs the real engine
once with ``force=True``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from scrubwatch.backends.local import FolderEvidenceStore, SqliteStateStore
from scrubwatch.check.engine import Engine
from scrubwatch.check.netguard import Resolver
from scrubwatch.check.ports import Publisher
from scrubwatch.core.config import Watchlist, parse_watchlist
from scrubwatch.core.events import Event
from scrubwatch.core.report import RunReport

BASE_SETTINGS: dict[str, Any] = {
    "allow_networks": ["127.0.0.1/32"],
    "retries": 0,
    "confirm_gone": 2,
    "confirm_errors": 3,
    "timeout": "5s",
}


# --- the engine harness --------------------------------------------------------------------


def build_watchlist(watches: Sequence[dict[str, Any]], **settings: Any) -> Watchlist:
    merged = {**BASE_SETTINGS, **settings}
    merged = {k: v for k, v in merged.items() if v is not None}
    text = yaml.safe_dump(
        {"settings": merged, "watches": list(watches)}, allow_unicode=True, sort_keys=False
    )
    return parse_watchlist(text, "test-watchlist.yaml")


class Collector:
    """A publisher that keeps every event it is given and reports all of them delivered."""

    name = "collector"

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> list[str]:
        self.events.extend(events)
        return [e.event_id for e in events]


_DEFAULT: Any = object()


class Harness:
    def __init__(
        self,
        root: Path,
        watches: Sequence[dict[str, Any]],
        resolver: Resolver | None = None,
        state: SqliteStateStore | None = None,
        **settings: Any,
    ) -> None:
        self.root = root
        self.watchlist = build_watchlist(watches, **settings)
        self.state = state or SqliteStateStore(root / "state.sqlite3")
        self.evidence = FolderEvidenceStore(root / "evidence")
        self.collector = Collector()
        self.resolver = resolver
        self.reports: list[RunReport] = []
        self.capture_all = False  # as `scrubwatch contact` runs it: every read kept

    def engine(
        self, resolver: Resolver | None = _DEFAULT, publishers: Sequence[Publisher] | None = None
    ) -> Engine:
        return Engine(
            self.watchlist,
            self.state,
            self.evidence,
            [self.collector] if publishers is None else publishers,
            resolver=self.resolver if resolver is _DEFAULT else resolver,
            workers=1,
            capture_all=self.capture_all,
        )

    def run(
        self,
        resolver: Resolver | None = _DEFAULT,
        publishers: Sequence[Publisher] | None = None,
    ) -> list[Event]:
        """One forced run; returns the events the collector received during it."""
        start = len(self.collector.events)
        self.reports.append(self.engine(resolver, publishers).run(force=True))
        return self.collector.events[start:]

    def runs(self, n: int, **kwargs: Any) -> list[Event]:
        out: list[Event] = []
        for _ in range(n):
            out.extend(self.run(**kwargs))
        return out

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        return self.state.history(watch_id)

    def close(self) -> None:
        self.state.close()


def kinds(events: Sequence[Event]) -> list[tuple[str, str]]:
    return [(e.watch, e.kind) for e in events]


def only(events: Sequence[Event]) -> Event:
    assert len(events) == 1, [(e.watch, e.kind, e.reason, e.summary) for e in events]
    return events[0]
