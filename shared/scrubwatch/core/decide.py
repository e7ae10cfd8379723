"""The state machine: from a watch's state and one check, its next state and at most one event.

One event per transition. A page that stays gone, stays the same after a change or keeps
failing produces nothing more; a page is only *suspected* gone until ``confirm_gone``
consecutive checks agree, and a suspicion produces no event at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from .classify import Outcome
from .config import Settings, Watch
from .diff import unified, vanished
from .events import Event, EventKind, VersionRef, capped, event_id, rfc3339
from .reader import Reading
from .reasons import REORDERED, failed, wording

Condition = Literal["new", "up", "gone"]


@dataclass(frozen=True)
class WatchState:
    watch_id: str
    condition: Condition = "new"
    current: VersionRef | None = None  # last version with content
    fingerprint: str | None = None
    region_found: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_checked: float = 0.0
    gone_streak: int = 0
    gone_reason: str | None = None
    error_streak: int = 0
    error_reason: str | None = None
    error_reported: bool = False
    body_sha256: str | None = None  # raw body of the last good response
    region_digest: str | None = None  # Reading.digest of the last reading (its watched part)
    # Watch.settings_hash the fingerprint was made with (for a page never reached: the one
    # its last failed check used)
    settings_hash: str | None = None
    chain_head: str | None = None  # SHA-256 of the newest kept version's manifest
    head_version: str | None = None  # that version (its capture id)
    seq: int = 0  # events emitted so far: part of every event id
    last_success: float = 0.0  # when a check last got an answer with content (or a 304)
    last_event: dict[str, str] | None = None  # {kind, event_id, detected_at} of the newest
    # A watch that discovers children: DiscoverSpec.spec_hash its children were last found
    # with, and how many links past max_children were last said (said once, not each run).
    discovered_with: str | None = None
    children_over: int = 0
    # Its sitemap's or feed's documents: url -> [etag, last_modified], for a conditional GET.
    sources: dict[str, list[str | None]] | None = None
    sources_failing: int = 0  # looks in a row whose sitemap or feed could not be read
    rev: int = 0  # bumped on every commit; stores refuse a commit on a stale rev

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: asdict() deep-copies and was a tenth of a warm run's CPU.
        data = dict(self.__dict__)
        data["current"] = dict(self.current.__dict__) if self.current else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WatchState:
        # A key this release does not know (written by a newer one) is left out, not fatal.
        data = {k: v for k, v in data.items() if k in _STATE_FIELDS}
        data["current"] = VersionRef.from_json(data.get("current"))
        return cls(**data)


_STATE_FIELDS = frozenset(WatchState.__dataclass_fields__)
# What a check that finds nothing new still updates: when it ran, and the server's
# validators and raw-body hash (which save work on the next check, but are not worth a
# write where writes cost money; the region digest spares the reading all the same).
_ROUTINE_FIELDS = frozenset(
    {"last_checked", "last_success", "etag", "last_modified", "body_sha256", "rev"}
)


def settled(before: WatchState, after: WatchState) -> bool:
    """``after`` differs from ``before`` only in what any quiet check updates."""
    return all(
        getattr(before, name) == getattr(after, name) for name in _STATE_FIELDS - _ROUTINE_FIELDS
    )


@dataclass(frozen=True)
class Observation:
    """One check of one watch, reduced to what the decision needs."""

    outcome: Outcome
    checked_at: datetime
    version: VersionRef | None = None  # this response, when it has a body worth keeping
    reading: Reading | None = None
    previous_reading: Reading | None = None  # the reading of state.current, when it differs
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    # The watch's select/items/ignore... changed since the last version. previous_reading is
    # then the last kept capture read again the new way (None when it cannot be: the URL
    # changed, or the capture is unreadable), so a change meanwhile is still reported.
    rebaseline: bool = False
    # This answer came through a permanent redirect (301/308) to another URL.
    moved: bool = False


@dataclass(frozen=True)
class Transition:
    state: WatchState
    event: Event | None = None
    keep_version: bool = False  # the observed version is new evidence to store


def decide(watch: Watch, settings: Settings, state: WatchState, obs: Observation) -> Transition:
    kind = obs.outcome.kind
    base = replace(state, last_checked=obs.checked_at.timestamp())
    if kind in ("ok", "not_modified"):
        return _seen(watch, replace(base, last_success=obs.checked_at.timestamp()), obs)
    if kind == "gone" and state.current is not None:
        return _gone(watch, settings, base, obs)
    # A page never seen cannot be gone: a mistyped URL or an unreachable host is a failure.
    return _failed(watch, settings, base, obs)


def _event(
    watch: Watch,
    state: WatchState,
    obs: Observation,
    kind: EventKind,
    summary: str,
    previous: VersionRef | None,
    current: VersionRef | None,
    **details: Any,
) -> Event:
    reason = obs.outcome.reason if kind in ("gone", "error") else details.pop("reason", None)
    # A page can lose or gain a million lines: the event carries the first of them and how
    # many there were (summaries are written before this, from the whole lists).
    for name in ("removed", "added"):
        if name in details:
            details[name], details[f"{name}_count"] = capped(details[name])
    return Event(
        event_id=event_id(
            watch.id,
            state.seq,
            kind,
            reason,
            previous.version if previous else None,
            # A not-found page may carry a request id or a clock: the body of what answered
            # must not change the id of "gone" when a check is retried.
            None if kind == "gone" or current is None else current.version,
        ),
        watch=watch.id,
        name=watch.name,
        url=watch.url,
        kind=kind,
        reason=reason,
        detected_at=rfc3339(obs.checked_at),
        summary=summary,
        previous=previous,
        current=current,
        **details,
    )


def _content_of(reading: Reading | None) -> list[str]:
    if reading is None:
        return []
    return list(reading.items) if reading.items is not None else list(reading.lines)


def _seen(watch: Watch, state: WatchState, obs: Observation) -> Transition:
    """The page answered: failures are over; what it says is compared with before."""
    cleared = _cleared(state, obs)
    reading = obs.reading
    if obs.outcome.kind == "not_modified" or reading is None or obs.version is None:
        # A 304 cannot prove content; the engine asks unconditionally once gone.
        return Transition(cleared)
    new = replace(
        cleared,
        condition="up",
        current=obs.version,
        fingerprint=reading.fingerprint,
        region_found=reading.region_found,
        body_sha256=obs.body_sha256,
        region_digest=reading.digest or None,
        settings_hash=watch.settings_hash,
    )
    if state.condition == "new" or state.current is None:
        return _first_seen(watch, state, obs, new)
    if state.condition == "gone":
        return _restored(watch, state, obs, new)
    return _compared(watch, state, obs, new)


def _cleared(state: WatchState, obs: Observation) -> WatchState:
    """The state with its gone and error streaks over, and the answer's validators."""
    ok = obs.outcome.kind == "ok"
    return replace(
        state,
        gone_streak=0,
        gone_reason=None,
        error_streak=0,
        error_reason=None,
        error_reported=False,
        etag=obs.etag if obs.etag or ok else state.etag,
        last_modified=obs.last_modified if obs.last_modified or ok else state.last_modified,
    )


def _first_seen(watch: Watch, state: WatchState, obs: Observation, new: WatchState) -> Transition:
    assert obs.reading is not None
    note = "" if obs.reading.region_found else f" (nothing matches {watch.select!r})"
    summary = f"First check of {watch.name}: {_size(obs.reading)}{note}."
    return _emit(new, _event(watch, state, obs, "first_seen", summary, None, obs.version))


def _compared(watch: Watch, state: WatchState, obs: Observation, new: WatchState) -> Transition:
    """An up page read again: unchanged, moved, its watched part gone, or changed. After an
    edit of the watch, the baseline is the last capture read the new way."""
    reading, prev = obs.reading, obs.previous_reading
    assert reading is not None
    if obs.rebaseline and prev is None:
        # Nothing to compare with: the new reading is the baseline, kept as evidence.
        return Transition(new, keep_version=True)
    baseline: str | None = state.fingerprint
    region_found = state.region_found
    if obs.rebaseline and prev is not None:
        baseline, region_found = prev.fingerprint, prev.region_found
    if reading.fingerprint == baseline:
        if obs.moved:
            return _moved(watch, state, obs, new)
        if obs.rebaseline:
            return Transition(new, keep_version=True)
        # Same content: the last kept capture still stands for it.
        return Transition(replace(new, current=state.current))
    if prev is not None and region_found and not reading.region_found:
        return _element_missing(watch, state, obs, new, prev)
    return _changed(watch, state, obs, new, prev, reading)


def _element_missing(
    watch: Watch, state: WatchState, obs: Observation, new: WatchState, prev: Reading
) -> Transition:
    assert obs.reading is not None
    event = _event(
        watch,
        state,
        obs,
        "element_missing",
        f"REMOVED: the watched part of {watch.name} ({watch.select}) is gone from the page.",
        state.current,
        obs.version,
        removed=list(prev.lines) + list(prev.refs),
        diff=unified(prev.lines, obs.reading.lines),
    )
    return _emit(new, event)


def _restored(watch: Watch, state: WatchState, obs: Observation, new: WatchState) -> Transition:
    assert obs.reading is not None and obs.version is not None
    reading, prev = obs.reading, obs.previous_reading
    same = reading.fingerprint == state.fingerprint
    removed, added = _changes(prev, reading) if prev and not same else ([], [])
    how = "unchanged" if same else "with different content"
    event = _event(
        watch,
        state,
        obs,
        "restored",
        f"RESTORED: {watch.name} answers again ({obs.version.status}), {how}.",
        state.current,
        obs.version,
        removed=removed,
        added=added,
        diff=unified(prev.lines, reading.lines) if prev and not same else "",
    )
    return _emit(new, event)


def _moved(watch: Watch, state: WatchState, obs: Observation, new: WatchState) -> Transition:
    assert obs.version is not None
    event = _event(
        watch,
        state,
        obs,
        "moved",
        f"MOVED: {watch.name} now lives at {obs.version.final_url} (permanent redirect), "
        "with the same content.",
        state.current,
        obs.version,
    )
    return _emit(new, event)


def _changed(
    watch: Watch,
    state: WatchState,
    obs: Observation,
    new: WatchState,
    prev: Reading | None,
    reading: Reading,
) -> Transition:
    removed, added = _changes(prev, reading)
    kw_removed = [k for k in (prev.keywords if prev else ()) if k not in reading.keywords]
    kw_added = [k for k in reading.keywords if not prev or k not in prev.keywords]
    reordered = prev is not None and not (removed or added or kw_removed or kw_added)
    if reordered and reading.items is not None and watch.items_order == "ignore":
        # Only the order of the items changed, and the watch said order does not matter.
        return Transition(replace(new, current=state.current))
    if reordered:
        noun = "items" if reading.items is not None else "lines"
        count = len(reading.items) if reading.items is not None else len(reading.lines)
        summary = f"CHANGED: {watch.name}: the order of {_count(count, noun)} changed."
    else:
        summary = _changed_summary(watch, removed, added, kw_removed, kw_added, reading)
    event = _event(
        watch,
        state,
        obs,
        "changed",
        summary,
        state.current,
        obs.version,
        removed=removed,
        added=added,
        keywords_removed=kw_removed,
        keywords_added=kw_added,
        diff=unified(prev.lines if prev else (), reading.lines),
        reason=REORDERED if reordered else None,
    )
    return _emit(new, event)


def _changes(prev: Reading | None, cur: Reading) -> tuple[list[str], list[str]]:
    if prev is None:
        return [], _content_of(cur)
    if cur.items is not None and prev.items is not None:
        return vanished(prev.items, cur.items), vanished(cur.items, prev.items)
    before = list(prev.lines) + list(prev.refs)
    after = list(cur.lines) + list(cur.refs)
    return vanished(before, after), vanished(after, before)


def _size(reading: Reading) -> str:
    if reading.items is not None:
        return _count(len(reading.items), "items")
    if reading.kind == "binary":
        return reading.lines[0] if reading.lines else "binary content"
    return _count(len(reading.lines), "lines") + " of text"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n != 1 else f"1 {noun.removesuffix('s')}"


def _changed_summary(
    watch: Watch,
    removed: list[str],
    added: list[str],
    kw_removed: list[str],
    kw_added: list[str],
    reading: Reading,
) -> str:
    parts = []
    noun = "items" if reading.items is not None else "lines"
    if reading.items is not None and not reading.items and removed:
        parts.append(f"the list is now empty ({_count(len(removed), noun)} removed)")
    else:
        if removed:
            parts.append(f"{_count(len(removed), noun)} removed")
        if added:
            parts.append(f"{_count(len(added), noun)} added")
    if kw_removed:
        parts.append("keyword gone: " + ", ".join(kw_removed))
    if kw_added:
        parts.append("keyword appeared: " + ", ".join(kw_added))
    return f"CHANGED: {watch.name}: " + ("; ".join(parts) or "content changed") + "."


def _gone(watch: Watch, settings: Settings, state: WatchState, obs: Observation) -> Transition:
    reason = obs.outcome.reason or "gone"
    if state.condition == "gone":
        return Transition(replace(state, error_streak=0, error_reported=False))
    # Any gone sighting counts: a 404 followed by a redirect home is still a page gone.
    streak = state.gone_streak + 1
    suspected = replace(
        state, gone_streak=streak, gone_reason=reason, etag=None, last_modified=None
    )
    if streak < settings.confirm_gone:
        return Transition(suspected)
    gone_state = replace(suspected, condition="gone", gone_streak=0, error_streak=0)
    if reason == "redirect" and obs.version:
        what = f"now redirects to {obs.version.final_url}"
    else:
        what = wording(reason).gone
    prev = obs.previous_reading
    event = _event(
        watch,
        state,
        obs,
        "gone",
        f"GONE: {watch.name} {what}.",
        state.current,
        obs.version,
        removed=_content_of(prev),
        keywords_removed=list(prev.keywords) if prev else [],
    )
    return _emit(gone_state, event)


def _never_reached(watch: Watch, obs: Observation, reason: str, times: str) -> str:
    """Never once fetched with content: said so, so that a typo is not read as a deletion."""
    words = wording(reason)
    if obs.outcome.kind == "blocked":
        answer = f"the site blocks scrubwatch ({reason})"
    elif obs.outcome.kind == "gone":
        answer = words.never or "it " + words.gone.removeprefix("now ")
    else:
        answer = "it " + failed(reason)
    detail = f" ({obs.outcome.detail})" if obs.outcome.detail else ""
    hint = words.hint
    lead = f"ERROR: {watch.name} has never been reachable ({times.strip()}): {answer}{detail}."
    if not times:
        lead = f"ERROR: {watch.name} has never been reachable: {answer}{detail}."
    return f"{lead} {hint}".rstrip()


def _failed(watch: Watch, settings: Settings, state: WatchState, obs: Observation) -> Transition:
    reason = obs.outcome.reason or obs.outcome.kind
    streak = state.error_streak + 1
    failing = replace(state, error_streak=streak, error_reason=reason)
    if state.current is None:
        # Never reached: what was tried, so that correcting the URL makes it due at once.
        failing = replace(failing, settings_hash=watch.settings_hash)
    threshold = 1 if obs.outcome.immediate else settings.confirm_errors
    if state.error_reported or streak < threshold:
        return Transition(failing)
    times = f" {streak} checks in a row" if streak > 1 else ""
    if state.current is None:
        summary = _never_reached(watch, obs, reason, times)
    else:
        what = failed(reason)
        if obs.outcome.kind == "blocked":
            what = f"blocks scrubwatch ({reason})"
        detail = f": {obs.outcome.detail}" if obs.outcome.detail else ""
        summary = f"ERROR: {watch.name} {what}{times}{detail}."
        if obs.outcome.kind == "blocked":
            summary += " This is not a deletion."
    event = _event(
        watch,
        state,
        obs,
        "error",
        summary,
        state.current,
        None,
    )
    return _emit(replace(failing, error_reported=True), event)


def _emit(state: WatchState, event: Event) -> Transition:
    """Every event keeps the capture its check made, when it made one."""
    last = {"kind": event.kind, "event_id": event.event_id, "detected_at": event.detected_at}
    return Transition(
        replace(state, seq=state.seq + 1, last_event=last),
        event,
        keep_version=event.current is not None,
    )
