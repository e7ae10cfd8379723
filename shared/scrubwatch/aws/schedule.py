"""Which watches are due, packed into check-queue messages grouped by host (pure).

On AWS a watch is due when its slot comes round (core/due.py), when it waits for a recheck
and its state says the time has come, or when it was never checked or edited since.

A message names the watches of one host, so one checker fetches them together under the
per-host limit. Messages stay well under SQS's 256 KB, and a message holds few enough
watches for a checker to finish them inside its timeout.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.compiled import compiled_part
from ..core.config import Watch, Watchlist
from ..core.decide import WatchState
from ..core.due import is_due, slot_passed

MESSAGE_SCHEMA = "scrubwatch.check/1"
SQS_MAX_BYTES = 256 * 1024
SQS_BATCH_ENTRIES = 10
WATCHES_PER_MESSAGE = 25


class CheckRequest(BaseModel):
    """The body of one check-queue message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(MESSAGE_SCHEMA, alias="schema", pattern=r"^scrubwatch\.check/1$")
    host: str  # the host, or the hosts, comma-separated, of a message shared by small hosts
    watches: tuple[str, ...] = Field(min_length=1)
    # These watches and the settings, compiled (core/compiled.py), so a checker reads no
    # watch list; None in a message that would be too big with them (the checker then
    # reads the whole list).
    watchlist: dict[str, Any] | None = None
    # The digest of the whole list they were taken from (``watchlist_digest``): a checker
    # uses them only while the scheduler's last tick saw that same list.
    digest: str | None = None
    # Keep a version of each of these watches (and the pages they found) however little
    # changed, checked even if checked moments ago: a contact's capture (`contact
    # --stack`). Absent from the scheduler's messages.
    capture: bool | None = None

    def body(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, exclude_none=True), separators=(",", ":"))


# A message carries its watches only below this size: SQS bills each 64 KB of a message as
# a request, and 25 watches are about 10 KB.
CARRY_MAX_BYTES = 64 * 1024


def carrying(request: CheckRequest, watchlist: Watchlist, digest: str) -> CheckRequest:
    """The request with its watches' settings in it, when they fit (see ``watchlist``);
    ``digest`` is the list's (``watchlist_digest``)."""
    watches = [w for w in map(watchlist.get, request.watches) if w is not None]
    # A discovered page comes with its parent (not checked): what its alerts say of it.
    named = {w.id for w in watches}
    parents = {w.parent for w in watches if w.parent is not None and w.parent not in named}
    watches += [p for p in map(watchlist.get, sorted(parents)) if p is not None]
    part = compiled_part(watchlist, watches)
    full = request.model_copy(update={"watchlist": part, "digest": digest})
    return full if len(full.body().encode()) <= CARRY_MAX_BYTES else request


def host_of(watch: Watch) -> str:
    return watch.host


def due_watches(watchlist: Watchlist, states: Mapping[str, WatchState], now: float) -> list[Watch]:
    """The watches due by their states (the local clock: ``every`` after the last check)."""
    recheck = watchlist.settings.recheck
    return [
        w
        for w in watchlist.watches
        if is_due(w, states.get(w.id) or WatchState(watch_id=w.id), now, recheck)
    ]


def due_by_slot(watchlist: Watchlist, start: float, end: float) -> list[Watch]:
    """The watches whose slot came round since the previous tick (no state needed)."""
    return [w for w in watchlist.watches if slot_passed(w, start, end)]


def watchlist_digest(watchlist: Watchlist) -> str:
    """Changes when a watch is added or edited, or the settings are: the scheduler then
    reads every state once, to find the watches never checked or edited since (due at
    once, whatever their slot), and checkers stop using the watches that messages queued
    before carry."""
    h = hashlib.sha256()
    h.update(json.dumps(watchlist.settings.model_dump(mode="json"), sort_keys=True).encode())
    for w in watchlist.watches:
        h.update(f"{w.id}\0{w.settings_hash}\n".encode())
    return h.hexdigest()


def rendered_apart(watches: Iterable[Watch]) -> tuple[list[Watch], list[Watch]]:
    """The watches read as sent, and those rendered in a browser (render: browser): these
    go to a queue and function of their own, since a browser needs ten times the memory."""
    plain: list[Watch] = []
    rendered: list[Watch] = []
    for watch in watches:
        (plain if watch.render is None else rendered).append(watch)
    return plain, rendered


def pack(watches: Iterable[Watch], per_message: int = WATCHES_PER_MESSAGE) -> list[CheckRequest]:
    """Messages of at most ``per_message`` watches. A host's watches fill whole messages
    of their own; what is left of a host (or a host with fewer) shares a message with
    other hosts' remainders, never split, so one host is in as few messages as it can be
    (the per-host limit holds within a message) and a list of many small hosts is not a
    message per host (a checker fetches a message's hosts side by side)."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for watch in watches:
        by_host[host_of(watch)].append(watch.id)
    requests = []
    remainders: list[tuple[str, list[str]]] = []
    for host in sorted(by_host):
        ids = by_host[host]
        whole = len(ids) - len(ids) % per_message
        for start in range(0, whole, per_message):
            requests.append(
                CheckRequest(host=host, watches=tuple(ids[start : start + per_message]))
            )
        if whole < len(ids):
            remainders.append((host, ids[whole:]))
    requests += _shared(remainders, per_message)
    for request in requests:
        # Ids are at most 128 characters and hosts 253, so 25 of each cannot approach the
        # limit; this guards the invariant if either number changes.
        assert len(request.body().encode()) < SQS_MAX_BYTES
    return requests


def _shared(remainders: list[tuple[str, list[str]]], per_message: int) -> list[CheckRequest]:
    """Hosts' remainders packed whole into few messages: largest first, each into the
    fullest message it fits (best fit decreasing; open messages are kept by free room,
    so a list of 100,000 one-watch hosts packs in linear time)."""
    by_room: dict[int, list[int]] = defaultdict(list)  # free room -> open message indexes
    messages: list[tuple[list[str], list[str]]] = []  # (hosts, ids)
    for host, ids in sorted(remainders, key=lambda r: -len(r[1])):
        room = next((r for r in range(len(ids), per_message) if by_room[r]), None)
        if room is None:
            messages.append(([], []))
            index, room = len(messages) - 1, per_message
        else:
            index = by_room[room].pop()
        hosts, held = messages[index]
        hosts.append(host)
        held.extend(ids)
        by_room[room - len(ids)].append(index)
    return [CheckRequest(host=",".join(h), watches=tuple(i)) for h, i in messages]


def batches(bodies: Iterable[str]) -> Iterator[list[str]]:
    """Message bodies in SendMessageBatch calls: 10 entries and 256 KB in all (made as
    they are sent: 100,000 watches' messages at once would not fit a scheduler)."""
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if batch and (len(batch) >= SQS_BATCH_ENTRIES or size + length > SQS_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch
