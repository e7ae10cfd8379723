"""Who hears of an event: the watch's `notify` and each channel's `min_severity` (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .config import Watchlist
from .events import RECORDS, SEVERITY_RANK, Event


class Route:
    """Whether an event is for a channel: the watch asks for it and it is severe enough.

    A first sighting (of a page, or of a watch's children) is a record, never an alert.
    """

    def __init__(self, channel: str, notify_of: Callable[[str], Sequence[str]], minimum: str):
        self.channel = channel
        self.notify_of = notify_of
        self.minimum = SEVERITY_RANK[minimum]

    def wants(self, event: Event) -> bool:
        return (
            event.kind not in RECORDS
            and self.channel in self.notify_of(event.watch)
            and SEVERITY_RANK[event.severity] >= self.minimum
        )


def routes(watchlist: Watchlist) -> list[Route]:
    def notify_of(watch_id: str) -> tuple[str, ...]:
        watch = watchlist.get(watch_id)
        return watch.notify if watch else ()

    def notify_of_any(watch_id: str) -> tuple[str, ...]:
        # A discovered child (``parent/…``) is told of as its parent's notify says.
        if "/" in watch_id and watchlist.get(watch_id) is None:
            parent = watchlist.get(watch_id.split("/", 1)[0])
            if parent is not None and parent.discover is not None:
                child = parent.discover.child.notify
                return child if child is not None else parent.notify
        return notify_of(watch_id)

    minimum = watchlist.settings.min_severity
    return [
        Route("email", notify_of_any, minimum.email),
        Route("slack", notify_of_any, minimum.slack),
    ]


def channels_for(event: Event, all_routes: Sequence[Route]) -> list[str]:
    return [r.channel for r in all_routes if r.wants(event)]


SLACK_WEBHOOK_ENV = "SCRUBWATCH_SLACK_WEBHOOK"


def configured_channels(watchlist: Watchlist, environ: Mapping[str, str]) -> set[str]:
    """The channels the command line can deliver to (the terminal always gets every event)."""
    settings = watchlist.settings
    channels = set()
    if settings.email is not None:
        channels.add("email")
    if environ.get(SLACK_WEBHOOK_ENV) or settings.slack_webhook:
        channels.add("slack")
    return channels


def delivery_problems(watchlist: Watchlist, environ: Mapping[str, str]) -> list[str]:
    """Alerts the command line was asked for but cannot send, one printable line each.

    Only a `notify` written in the file counts: the built-in default (`[email]`) means
    "email where email is set up", which on AWS is the stack's SNS subscription and on the
    command line is settings.email when present. Not for AWS, where SNS delivers and
    settings.email is unused: `scrubwatch validate --for aws` skips this.
    """
    configured = configured_channels(watchlist, environ)
    found: list[tuple[int, str]] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        found.append((watchlist.line(loc), f"{watchlist.where(loc)}: {message}"))

    def missing(channel: str) -> str:
        if channel == "email":
            return "add settings.email (see README)"
        return f"add settings.slack_webhook (or set {SLACK_WEBHOOK_ENV})"

    from_file = bool(watchlist.lines)
    default_loc = ("defaults", "notify")
    default_reported: set[str] = set()
    for i, watch in enumerate(watchlist.watches):
        own = ("watches", i, "notify")
        if own in watchlist.lines or not from_file:
            loc: tuple[str | int, ...] = own
        elif default_loc in watchlist.lines:
            loc = default_loc
        else:
            continue  # the built-in default: email only where it is set up
        for channel in watch.notify:
            if channel in configured or (loc == default_loc and channel in default_reported):
                continue
            if loc == default_loc:
                default_reported.add(channel)
            add(loc, f"{channel!r} is not configured: {missing(channel)} or remove it from notify")
    email = watchlist.settings.email
    if email is not None and email.password_env and not environ.get(email.password_env):
        add(
            ("settings", "email", "password_env"),
            f"the variable {email.password_env} is not set; export it or remove password_env",
        )
    found.sort(key=lambda item: item[0])
    return [text for _, text in found]
