"""The pure core: the watch list, due times, reading a page, deciding, diffs, events and
the text of alerts. Nothing here touches the network, the disk, the clock or AWS (see
README.md in this folder); everything else builds on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .classify import Outcome, same_as_missing_page
    from .config import (
        ConfigError,
        Settings,
        Watch,
        Watchlist,
        parse_watchlist,
        watchlist_from_bytes,
    )
    from .decide import Observation, Transition, WatchState
    from .diff import unified, vanished
    from .due import is_due, next_due
    from .events import Event, VersionRef
    from .exchange import Fetch, Hop
    from .reader import Known, Reading, ReadSpec, read_page
    from .reasons import BlockedReason, ErrorReason, FetchFailure, GoneReason, Reason, wording
    from .report import RunReport

# Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "ConfigError": "config",
    "Settings": "config",
    "Watch": "config",
    "Watchlist": "config",
    "parse_watchlist": "config",
    "watchlist_from_bytes": "config",
    "Observation": "decide",
    "Transition": "decide",
    "WatchState": "decide",
    "Outcome": "classify",
    "same_as_missing_page": "classify",
    "Known": "reader",
    "ReadSpec": "reader",
    "Reading": "reader",
    "read_page": "reader",
    "Event": "events",
    "VersionRef": "events",
    "Fetch": "exchange",
    "Hop": "exchange",
    "BlockedReason": "reasons",
    "ErrorReason": "reasons",
    "FetchFailure": "reasons",
    "GoneReason": "reasons",
    "Reason": "reasons",
    "wording": "reasons",
    "RunReport": "report",
    "is_due": "due",
    "next_due": "due",
    "unified": "diff",
    "vanished": "diff",
}
__all__ = [
    "BlockedReason",
    "ConfigError",
    "ErrorReason",
    "Event",
    "Fetch",
    "FetchFailure",
    "GoneReason",
    "Hop",
    "Known",
    "Observation",
    "Outcome",
    "ReadSpec",
    "Reading",
    "Reason",
    "RunReport",
    "Settings",
    "Transition",
    "VersionRef",
    "Watch",
    "WatchState",
    "Watchlist",
    "is_due",
    "next_due",
    "parse_watchlist",
    "read_page",
    "same_as_missing_page",
    "unified",
    "vanished",
    "watchlist_from_bytes",
    "wording",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)
