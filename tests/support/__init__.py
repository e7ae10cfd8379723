"""Helpers every test folder shares (fixtures are in the conftest files): the watched web
sites (web) and the engine harness (engine)."""

from .engine import BASE_SETTINGS, Collector, Harness, build_watchlist, kinds, only
from .web import (
    NOT_FOUND,
    Handler,
    Listener,
    Page,
    RawServer,
    Seen,
    Site,
    chunked,
    page,
    respond,
    serving,
)

__all__ = [
    "BASE_SETTINGS",
    "NOT_FOUND",
    "Collector",
    "Handler",
    "Harness",
    "Listener",
    "Page",
    "RawServer",
    "Seen",
    "Site",
    "build_watchlist",
    "chunked",
    "kinds",
    "only",
    "page",
    "respond",
    "serving",
]
