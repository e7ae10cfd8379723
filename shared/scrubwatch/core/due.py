"""When a watch is next checked (pure: the clock is an argument).

Two clocks: locally a watch is due ``every`` after its last check (its state says when);
on AWS, where a check that finds nothing new writes nothing, each watch has a fixed slot
within its ``every`` (``slot_passed``), and only a watch waiting for a recheck
(``rechecking``) is timed from its state.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from .config import Watch
from .decide import WatchState

# (watch, its state, now, settings.recheck) -> is it checked now?
DueRule = Callable[[Watch, WatchState, float, float], bool]
# A watch checked this recently is not checked again on AWS: the same message delivered
# twice, or queued by two overlapping ticks.
DUPLICATE_WINDOW_S = 60.0


def rechecking(state: WatchState) -> bool:
    """The watch is checked again after ``recheck``, sooner than its ``every``: a page
    suspected gone, an error not yet confirmed, or a forbidden address (refused before
    any packet is sent, so checking it again soon costs nothing and picks up an
    allow_networks fix within minutes, not a whole ``every``)."""
    return bool(
        state.gone_streak
        or (state.error_streak and not state.error_reported)
        or state.error_reason == "forbidden_address"
    )


def _interval(watch: Watch, state: WatchState, recheck: float) -> float:
    if rechecking(state):
        return min(watch.every, recheck)
    return watch.every


def slot(watch: Watch) -> float:
    """Seconds into each ``every`` at which the watch is due: fixed by its id, so the
    watches of a list spread over the interval and each is due once per interval."""
    digest = int.from_bytes(hashlib.sha256(watch.id.encode()).digest()[:8], "big")
    return float(digest % max(1, int(watch.every)))


def slot_passed(watch: Watch, start: float, end: float) -> bool:
    """The watch's slot came round in (start, end]: it is due at a tick at ``end`` when
    the previous tick was at ``start``."""
    offset = slot(watch)
    return math.floor((end - offset) / watch.every) > math.floor((start - offset) / watch.every)


def next_slot(watch: Watch, now: float) -> float:
    """The first time after ``now`` at which the watch's slot comes round."""
    offset = slot(watch)
    return offset + (math.floor((now - offset) / watch.every) + 1) * watch.every


def next_due_on_aws(watch: Watch, state: WatchState, now: float, recheck: float) -> float:
    """When the stack's scheduler next queues the watch: at once when unseen, after
    ``recheck`` when waiting for one, else at its next slot."""
    if unseen(watch, state):
        return now
    if rechecking(state):
        return next_due(watch, state, recheck)
    return next_slot(watch, now)


def unseen(watch: Watch, state: WatchState) -> bool:
    """Never checked, or edited since: due at once, whatever its slot."""
    return state.last_checked <= 0 or _edited_since(watch, state)


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
    page that is up (`edited`), since its last failed check for a page never reached; or
    its `discover` since its pages were last listed (which pages it takes is news)."""
    if (
        watch.discover is not None
        and state.discovered_with is not None
        and state.discovered_with != watch.discover.spec_hash
    ):
        return True
    return state.settings_hash not in (None, watch.settings_hash) and (
        state.condition == "up" or state.current is None
    )


def due_on_aws(watch: Watch, state: WatchState, now: float, recheck: float) -> bool:
    """A watch the stack's scheduler queued: checked, unless it was checked moments ago (a
    duplicate) or waits for a recheck whose time has not come. Not ``is_due``: a state is
    written only when it moves, away from the watch's slot, so ``every`` after it would
    skip the slot that follows."""
    if unseen(watch, state):
        return True
    if rechecking(state):
        return is_due(watch, state, now, recheck)
    return now - state.last_checked >= DUPLICATE_WINDOW_S
