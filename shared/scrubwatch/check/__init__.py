"""Running a check: the engine's pipeline, the fetcher and its address guard and proxies,
the Internet Archive witness, the reading worker pool, and the interfaces (ports) every
store and channel implements."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine
    from .fetch import FetchOptions, HttpFetcher
    from .netguard import ForbiddenAddress, Resolver, StaticResolver, SystemResolver
    from .pool import WorkerPool
    from .ports import Commit, EvidenceStore, Publisher, StateStore
    from .watchlist_file import load_watchlist
    from .witness import Capture, Wayback

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "Engine": "engine",
    "FetchOptions": "fetch",
    "HttpFetcher": "fetch",
    "ForbiddenAddress": "netguard",
    "Resolver": "netguard",
    "StaticResolver": "netguard",
    "SystemResolver": "netguard",
    "WorkerPool": "pool",
    "Commit": "ports",
    "EvidenceStore": "ports",
    "Publisher": "ports",
    "StateStore": "ports",
    "Capture": "witness",
    "Wayback": "witness",
    "load_watchlist": "watchlist_file",
}
__all__ = [
    "Capture",
    "Commit",
    "Engine",
    "EvidenceStore",
    "FetchOptions",
    "ForbiddenAddress",
    "HttpFetcher",
    "Publisher",
    "Resolver",
    "StateStore",
    "StaticResolver",
    "SystemResolver",
    "Wayback",
    "WorkerPool",
    "load_watchlist",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
