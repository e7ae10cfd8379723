"""The storage interfaces the engine talks to; SQLite/folder here, DynamoDB/S3 on AWS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.contact import Contact
from ..core.decide import WatchState
from ..core.discover import Child, ChildWrite
from ..core.events import Event, VersionRef
from ..core.reader import Reading
from ..evidence.build import Evidence


@dataclass(frozen=True)
class Commit:
    """Everything one check changes for one watch, applied together or not at all."""

    state: WatchState  # the new state; its rev is the rev that was read
    version: VersionRef | None = None  # a new version row for the history
    event: Event | None = None
    channels: tuple[str, ...] = ()  # publishers that must still deliver the event
    # What a check of a watch that discovers children adds: the children it found or lost
    # (kept beside the watch states), and the event that tells of them (after ``event``).
    children: tuple[ChildWrite, ...] = ()
    extra: tuple[Event, ...] = ()
    # (version, authority URL): manifests of this commit to have timestamped (issue 14),
    # owed from the commit on, so a crash before stamping loses none.
    stamps: tuple[tuple[str, str], ...] = ()

    @property
    def events(self) -> list[Event]:
        return [e for e in (self.event, *self.extra) if e is not None]


@dataclass(frozen=True)
class StampDue:
    """A version's manifest still to be timestamped by one authority."""

    watch_id: str
    version: str
    authority: str
    tries: int = 0
    why: str | None = None  # the last failure


class StateStore(Protocol):
    def load(self, watch_ids: Iterable[str]) -> dict[str, WatchState]: ...

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        """Applies each commit atomically; returns the ids of watches that were stale."""
        ...

    def undelivered(self, channel: str) -> list[Event]:
        """Events committed but not yet delivered on ``channel``, oldest first."""
        ...

    def delivered(self, event_ids: Iterable[str], channel: str) -> None: ...

    def history(self, watch_id: str) -> list[dict[str, Any]]: ...

    def children(self, parents: Iterable[str]) -> dict[str, list[Child]]:
        """Every child each of ``parents`` ever discovered (unlinked and gone included)."""
        ...

    def stamps_due(self) -> list[StampDue]:
        """The manifests owed a timestamp, oldest first."""
        ...

    def stamp_done(self, due: StampDue) -> None: ...

    def owe_stamps(self, owed: Sequence[StampDue]) -> None:
        """Adds manifests owed a timestamp (an authority added, or one replacing another)."""
        ...

    def contacts(self) -> list[Contact]:
        """Every contact recorded, oldest first."""
        ...

    def add_contact(self, contact: Contact) -> None: ...

    def stamp_failed(self, due: StampDue, why: str) -> None: ...

    def close(self) -> None: ...


class EvidenceStore(Protocol):
    def uri(self, watch_id: str, version: str) -> str: ...

    def put(self, watch_id: str, version: str, evidence: Evidence, manifest: bytes) -> bytes:
        """Keeps a version's files, never overwriting; returns the manifest on file (ours,
        or the one kept when this version was seen before)."""
        ...

    def sync(self) -> None:
        """Makes every file put so far durable (called before the commit naming them)."""
        ...

    def reading(self, watch_id: str, version: str) -> Reading | None: ...

    def text(self, watch_id: str, version: str) -> str | None: ...

    def manifest(self, watch_id: str, version: str) -> bytes | None: ...

    def warc(self, watch_id: str, version: str) -> bytes | None:
        """The capture's WARC as kept (to read it again when the watch was edited)."""
        ...

    def put_token(
        self, watch_id: str, version: str, name: str, token: bytes, ca_name: str, ca_pem: bytes
    ) -> None:
        """Keeps a timestamp token beside its version, and the authority's CA with it."""
        ...

    def tokens(self, watch_id: str, version: str) -> dict[str, bytes]:
        """The timestamp tokens kept beside a version, by file name."""
        ...


class Publisher(Protocol):
    name: str  # the channel: each keeps its own record of what it delivered

    def publish(self, events: Sequence[Event]) -> list[str]:
        """Delivers what it can; returns the ids it is done with (sent, or not for it)."""
        ...
