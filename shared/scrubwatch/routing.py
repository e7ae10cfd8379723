"""Who hears of an event: the watch's `notify` and each channel's `min_severity` (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .config import Watchlist
from .events import SEVERITY_RANK, Event


class Route:
    """Whether an event is for a channel: the watch asks for it and it is severe enough.

    A first sighting is a record, never an alert.
    """

    def __init__(self, channel: str, notify_of: Callable[[str], Sequence[str]], minimum: str):
        self.channel = channel
        self.notify_of = notify_of
        self.minimum = SEVERITY_RANK[minimum]

    def wants(self, event: Event) -> bool:
        return (
            event.kind != "first_seen"
            and self.channel in self.notify_of(event.watch)
            and SEVERITY_RANK[event.severity] >= self.minimum
        )


def routes(watchlist: Watchlist) -> list[Route]:
    def notify_of(watch_id: str) -> tuple[str, ...]:
        watch = watchlist.get(watch_id)
        return watch.notify if watch else ()

    minimum = watchlist.settings.min_severity
    return [Route("email", notify_of, minimum.email), Route("slack", notify_of, minimum.slack)]


def channels_for(event: Event, all_routes: Sequence[Route]) -> list[str]:
    return [r.channel for r in all_routes if r.wants(event)]
