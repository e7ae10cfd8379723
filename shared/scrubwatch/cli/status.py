"""`scrubwatch status`: every watch's state, locally or on a deployed stack.

Reads only: the local state is opened read-only, and a state folder that does not exist
yet means nothing was checked, which is a state like any other, not an error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..check.children import RunChildren
from ..check.ports import StampDue, StateStore
from ..core import terminal
from ..core.config import Settings, Watch, Watchlist
from ..core.contact import Contact, raised
from ..core.decide import WatchState
from ..core.due import is_due, next_due, next_due_on_aws
from ..core.events import rfc3339

# The reasons classify() gives a "blocked" outcome: the site refuses us, it did not delete.
BLOCKED = frozenset({"challenge", "http_401", "http_403", "http_407", "http_429"})


@dataclass(frozen=True)
class Line:
    """One watch, in machine values; the table and --json are two renderings of it."""

    watch: Watch
    state: WatchState
    status: str  # ok, suspected_gone, failing, blocked, gone, never_reached, not_checked
    words: str  # the status as the table says it
    due: bool
    next_due: float  # seconds since the epoch; 0 when never checked


def classify_state(settings: Settings, state: WatchState) -> tuple[str, str]:
    """(machine status, words) for a watch's stored state."""
    if state.last_checked <= 0:
        return "not_checked", "not checked yet"
    if state.condition == "gone":
        return "gone", f"gone ({state.gone_reason or 'unknown'})"
    if state.condition == "new" and state.last_success <= 0 and state.current is None:
        reason = state.error_reason or state.gone_reason or "no answer"
        return "never_reached", f"never reached ({reason})"
    if state.gone_streak:
        return "suspected_gone", (
            f"suspected gone ({state.gone_streak} of {settings.confirm_gone}, "
            f"{state.gone_reason or 'unknown'})"
        )
    if state.error_streak:
        reason = state.error_reason or "unknown"
        if reason in BLOCKED:
            return "blocked", f"blocked ({reason})"
        return "failing", f"failing {state.error_streak} ({reason})"
    if not state.region_found:
        # Up, but the watched part is not on the page: the watch watches nothing now.
        return "ok", "ok, select matches nothing"
    return "ok", "ok"


def lines(
    watchlist: Watchlist, states: Mapping[str, WatchState], now: float, on_aws: bool = False
) -> list[Line]:
    """``on_aws``: the states come from a stack, whose scheduler queues each watch at its
    slot (a check that finds nothing new writes nothing, so the state cannot say)."""
    out = []
    settings = watchlist.settings
    for watch in watchlist.watches:
        state = states.get(watch.id) or WatchState(watch_id=watch.id)
        status, words = classify_state(settings, state)
        if on_aws:
            when_due = next_due_on_aws(watch, state, now, settings.recheck)
            due = when_due <= now
        else:
            when_due = next_due(watch, state, settings.recheck)
            due = is_due(watch, state, now, settings.recheck)
        out.append(
            Line(watch=watch, state=state, status=status, words=words, due=due, next_due=when_due)
        )
    return out


# --- loading the states ------------------------------------------------------------------


def _load(store: StateStore, watchlist: Watchlist) -> tuple[Watchlist, dict[str, WatchState]]:
    """The list with the children its watches discovered (after their parent), and the
    state of every watch in it."""
    parents = [w.id for w in watchlist.watches if w.discover is not None]
    found = RunChildren(watchlist, store.children(parents) if parents else {}).watches()
    by_parent: dict[str | None, list[Watch]] = {}
    for child in found:
        by_parent.setdefault(child.parent, []).append(child)
    watches = [w for p in watchlist.watches for w in (p, *by_parent.get(p.id, []))]
    # A contact under way has its watches checked more often: NEXT DUE says so.
    contacts, now = store.contacts(), time.time()
    watches = [raised(w, contacts, now) for w in watches]
    every = replace(watchlist, watches=tuple(watches))
    return every, store.load(w.id for w in watches)


def _contact_line(contact: Contact) -> str:
    until = clock(contact.until, time.time())
    return (
        f"contact {contact.id} ({contact.note}): {len(contact.watches)} watch(es) checked every "
        f"{_span(contact.every)} until {until}"
    )


def state_notes(root: Path) -> list[str]:
    """The contacts under way, and one line per timestamp authority that owes tokens:
    how many, and its last failure."""
    from .state_folder import open_backend

    if not root.is_file() and not (root / "state.sqlite3").exists():
        return []
    backend = open_backend(root)
    try:
        due = backend.state.stamps_due()
        contacts = backend.state.contacts()
    finally:
        backend.close()
    waiting: dict[str, list[StampDue]] = {}
    out = [_contact_line(c) for c in contacts if c.until > time.time()]
    for d in due:
        waiting.setdefault(d.authority, []).append(d)
    for url, owed in waiting.items():
        why = next((d.why for d in reversed(owed) if d.why), None)
        last = f" (last: {why})" if why else ""
        out.append(
            f"timestamps: {len(owed)} version(s) wait for {url}{last}; asked again at each check"
        )
    return out


def _local_states(root: Path, watchlist: Watchlist) -> tuple[Watchlist, dict[str, WatchState]]:
    from .state_folder import open_backend

    if not root.is_file() and not (root / "state.sqlite3").exists():
        # Never checked: every watch shows "not checked yet". Said, so that a mistyped
        # --state is not taken for a fresh start.
        print(f"scrubwatch: no state in {root} yet (nothing checked there)", file=sys.stderr)
        return watchlist, {}
    backend = open_backend(root)  # a file where the folder should be is a usage error
    try:
        return _load(backend.state, watchlist)
    finally:
        backend.close()


def _states(
    args: argparse.Namespace, watchlist: Watchlist, root: Path
) -> tuple[Watchlist, dict[str, WatchState]]:
    stack, table = getattr(args, "stack", None), getattr(args, "table", None)
    if stack or table:
        from ..backends.aws import DynamoStateStore
        from .archive import stack_outputs

        if stack:
            _, table = stack_outputs(stack)
        return _load(DynamoStateStore(str(table)), watchlist)
    return _local_states(root, watchlist)


# --- rendering ---------------------------------------------------------------------------


def stamp(epoch: float) -> str | None:
    """RFC 3339 UTC, as in events; None for never."""
    return rfc3339(datetime.fromtimestamp(epoch, UTC)) if epoch > 0 else None


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def when(epoch: float, now: float) -> str:
    """``5 min ago (14:03)``: relative for a glance, the clock time to act on."""
    if epoch <= 0:
        return "never"
    delta = epoch - now
    relative = f"in {_span(delta)}" if delta > 0 else f"{_span(delta)} ago"
    return f"{relative} ({clock(epoch, now)})"


def clock(epoch: float, now: float) -> str:
    """Local ``HH:MM``, with the date when it is not today."""
    same_day = time.localtime(epoch)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.localtime(epoch))


def _last_event(state: WatchState, now: float) -> str:
    event = state.last_event
    if not event:
        return "none"
    at = event.get("detected_at", "")
    try:
        stamp = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return event.get("kind", "?")
    return f"{event.get('kind', '?')} {when(stamp, now)}"


def _clip(text: str, limit: int) -> str:
    # A discovered page is named by its link's text: a page's words, made safe to print.
    text = terminal.safe(terminal.one_line(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(line: Line, now: float) -> list[str]:
    s = line.state
    return [
        # A discovered page's id says nothing to a reader: its name goes with it.
        f"{line.watch.id} {_clip(line.watch.name, 40)}" if line.watch.parent else line.watch.id,
        line.words,
        when(s.last_success, now),
        when(s.last_checked, now),
        str(s.error_streak or s.gone_streak),
        "now" if line.due else when(line.next_due, now),
        _last_event(s, now),
    ]


HEADERS = ["WATCH", "STATE", "LAST SUCCESS", "LAST CHECK", "FAILURES", "NEXT DUE", "LAST EVENT"]


# A status as a tally says it ("2 suspected gone").
_WORDS = {
    "ok": "ok",
    "gone": "gone",
    "suspected_gone": "suspected gone",
    "failing": "failing",
    "blocked": "blocked",
    "never_reached": "never reached",
    "not_checked": "not checked yet",
}


def folded(rows: list[Line]) -> list[Line | str]:
    """The table's rows with each watch's discovered pages folded into one line under it:
    "  + 31 pages: 28 ok, 2 gone, 1 suspected_gone" (``--children`` lists each)."""
    out: list[Line | str] = []
    pages: dict[str, list[Line]] = {}
    for line in rows:
        if line.watch.parent is not None:
            pages.setdefault(line.watch.parent, []).append(line)
    for line in rows:
        if line.watch.parent is not None:
            continue
        out.append(line)
        if kids := pages.get(line.watch.id):
            counts: dict[str, int] = {}
            for kid in kids:
                counts[kid.status] = counts.get(kid.status, 0) + 1
            tally = ", ".join(f"{n} {_WORDS[status]}" for status, n in sorted(counts.items()))
            found = f"{len(kids)} page{'' if len(kids) == 1 else 's'} found"
            out.append(f"  + {found}: {tally} (status --children lists them)")
    return out


def table(rows: list[Line | str], now: float) -> str:
    lines_ = [line for line in rows if isinstance(line, Line)]
    cells = [HEADERS, *(_row(line, now) for line in lines_)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADERS))]

    def text(cell: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()

    out = [text(HEADERS)]
    for line in rows:
        out.append(text(_row(line, now)) if isinstance(line, Line) else line)
    return "\n".join(out)


def as_json(line: Line, settings: Settings) -> dict[str, Any]:
    s = line.state
    return {
        "watch": line.watch.id,
        "parent": line.watch.parent,
        "name": line.watch.name,
        "url": line.watch.url,
        "state": line.status,
        "reason": s.error_reason if s.error_streak else s.gone_reason,
        "failure_streak": s.error_streak,
        "gone_streak": s.gone_streak,
        "confirm_gone": settings.confirm_gone,
        "last_success": stamp(s.last_success),
        "last_check": stamp(s.last_checked),
        "next_due": stamp(line.next_due),
        "due": line.due,
        "last_event": s.last_event,
        "chain_head": s.chain_head,
    }


def cmd_status(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    now = time.time()
    on_aws = bool(getattr(args, "stack", None) or getattr(args, "table", None))
    every, states = _states(args, watchlist, root)
    rows = lines(every, states, now, on_aws)
    if args.json:
        for line in rows:
            print(json.dumps(as_json(line, watchlist.settings), ensure_ascii=False))
    else:
        shown: list[Line | str] = list(rows) if args.children else folded(rows)
        print(table(shown, now))
        if not on_aws:
            for waiting in state_notes(root):
                print(waiting)
        if on_aws:
            print(
                "\nOn AWS a check that finds nothing new writes nothing: LAST CHECK is the last"
                " check that changed something; NEXT DUE is the watch's slot. The stack's"
                " heartbeat alarm says if checks stop."
            )
    return 0
