"""When a watch is next checked (pure: the clock is an argument)."""

from __future__ import annotations

from .config import Watch
from .decide import WatchState


def _interval(watch: Watch, state: WatchState, recheck: float) -> float:
    # A forbidden address is refused before any packet is sent, so checking it again soon
    # costs nothing and picks up an allow_networks fix within minutes, not a whole `every`.
    if (
        state.gone_streak
        or (state.error_streak and not state.error_reported)
        or state.error_reason == "forbidden_address"
    ):
        return min(watch.every, recheck)
    return watch.every


def next_due(watch: Watch, state: WatchState, recheck: float) -> float:
    """When the watch is next checked (seconds since the epoch); 0 when it never was."""
    if state.last_checked <= 0:
        return 0.0
    if _edited_since(watch, state):
        return state.last_checked  # due now
    return state.last_checked + _interval(watch, state, recheck)


def is_due(watch: Watch, state: WatchState, now: float, recheck: float) -> bool:
    if state.last_checked <= 0:
        return True
    if _edited_since(watch, state):
        # The watch now reads its page differently, or a URL that failed was corrected:
        # show the user at once.
        return True
    interval = _interval(watch, state, recheck)
    # Schedulers fire a little early or late; a run a few seconds early is still due.
    slack = min(60.0, interval * 0.1)
    return now - state.last_checked >= interval - slack


def edited(watch: Watch, state: WatchState) -> bool:
    """The watch reads its page differently since its last kept capture."""
    return state.condition == "up" and state.settings_hash not in (None, watch.settings_hash)


def _edited_since(watch: Watch, state: WatchState) -> bool:
    """The watch was edited since it was last checked: since its last kept capture for a
    page that is up (`edited`), since its last failed check for a page never reached."""
    return state.settings_hash not in (None, watch.settings_hash) and (
        state.condition == "up" or state.current is None
    )
