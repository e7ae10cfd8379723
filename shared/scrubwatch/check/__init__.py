"""Running a check: the engine's pipeline, the fetcher and its address guard and proxies,
the Internet Archive witness, the reading worker pool, and the interfaces (ports) every
store and channel implements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .engine import Engine
    from .fetch import FetchOptions, HttpFetcher
    from .netguard import ForbiddenAddress, Resolver, StaticResolver, SystemResolver
    from .pool import WorkerPool
    from .ports import Commit, EvidenceStore, Publisher, StateStore
    from .watchlist_file import load_watchlist
    from .witness import Capture, Wayback

# Each public name and the module that defines it, imported on first use.
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
