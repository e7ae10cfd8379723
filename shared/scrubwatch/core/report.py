"""What one run did, for its closing summary and the command's exit (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .events import Event


@dataclass
class RunReport:
    checked: int = 0
    pages_checked: int = 0  # of ``checked``: pages that watches discovered
    names: dict[str, str] = field(default_factory=dict)  # discovered page id -> its name
    stamped: int = 0  # timestamp tokens kept (issue 14)
    stamp_failures: dict[str, str] = field(default_factory=dict)  # authority -> last why
    outcomes: Counter[str] = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)
    undelivered: int = 0
    stale: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fetch_seconds: float = 0.0
    workers: int = 0  # reading processes started (none when nothing needed reading)
    rendered: int = 0  # pages rendered in a browser (render: browser)
    no_browser: str | None = None  # why watches with render: browser could not be read
    # Per watch id, what the run's closing summary must not hide:
    failures: dict[str, str] = field(default_factory=dict)  # check failed -> why (in order)
    suspected: list[str] = field(default_factory=list)  # seen gone, not yet confirmed
    matched_nothing: list[str] = field(default_factory=list)  # select/items match nothing
    rebaselined: dict[str, str] = field(default_factory=dict)  # watch id -> why
    not_due: list[str] = field(default_factory=list)  # asked for with --only, not yet due
    not_due_count: int = 0  # watches left for a later run: not due yet
    delivered_late: int = 0  # events from an earlier run delivered by this one
    unfinished: list[str] = field(default_factory=list)  # not started: the budget ran out
    crashed: list[str] = field(default_factory=list)  # hit by a failure of the run's own
    # A watch whose sitemap or feed could not be read: its children concluded nothing.
    discovery_failed: dict[str, str] = field(default_factory=dict)  # watch id -> why

    @property
    def failed(self) -> list[str]:
        """The watches whose check failed this run (error, blocked, evidence not kept)."""
        return list(self.failures)
