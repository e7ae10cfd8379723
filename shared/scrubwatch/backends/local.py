"""The embedded backend: state in SQLite, evidence in a folder, both under ``.scrubwatch/``."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..check.ports import Commit, StampDue
from ..core.contact import Contact
from ..core.decide import WatchState
from ..core.discover import Child, ChildWrite
from ..core.events import Event
from ..core.reader import Reading
from ..evidence.build import Evidence

log = logging.getLogger("scrubwatch")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_state (
    watch_id TEXT PRIMARY KEY,
    rev INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS version (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id TEXT NOT NULL,
    version TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    status INTEGER,
    final_url TEXT,
    evidence TEXT,
    manifest_sha256 TEXT,
    content TEXT
);
CREATE INDEX IF NOT EXISTS version_by_watch ON version (watch_id, id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    watch_id TEXT NOT NULL,
    event TEXT NOT NULL
);
-- One row per event and channel still to deliver: a channel that failed gets the event on
-- the next run, and a channel that succeeded never gets it twice.
CREATE TABLE IF NOT EXISTS pending (
    event_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (event_id, channel)
);
-- The pages watches discovered (issue 13): their states are in watch_state, by child id.
CREATE TABLE IF NOT EXISTS child (
    id TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS child_by_parent ON child (parent, id);
-- Manifests owed a timestamp (issue 14): one row per version and authority until stamped.
CREATE TABLE IF NOT EXISTS stamp_due (
    watch_id TEXT NOT NULL,
    version TEXT NOT NULL,
    authority TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    why TEXT,
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    UNIQUE (watch_id, version, authority)
);
-- Contacts (issue 14): "we asked for comment at 10:00", and the watches it concerns.
CREATE TABLE IF NOT EXISTS contact (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
-- Rows that could not be read (a torn write, a bad edit), kept for inspection instead of
-- stopping every run; the watch they belonged to starts afresh.
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT,
    why TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""


_VERSION_COLUMNS = (
    "version",
    "fetched_at",
    "status",
    "final_url",
    "evidence",
    "manifest_sha256",
    "content",
)


class SqliteStateStore:
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self._readonly = readonly
        if readonly:
            # Reading commands work on a state folder they cannot write (a copy on a
            # read-only disk, another user's): no journal switch, no schema, no -shm file.
            uri = Path(path).resolve().as_uri()
            try:
                self._db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
                self._db.execute("SELECT 1 FROM watch_state LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # A WAL database in a folder we cannot write: read it as it stands.
                self._db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        # WAL with synchronous=NORMAL survives a crash of this process without an fsync per
        # commit; only a power loss can take back the last commits (never half of one).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        # State folders written before captures were told apart from content lack these.
        have = {row[1] for row in self._db.execute("PRAGMA table_info(version)")}
        for column in _VERSION_COLUMNS[5:]:
            if column not in have:
                self._db.execute(f"ALTER TABLE version ADD COLUMN {column} TEXT")

    def load(self, watch_ids: Iterable[str]) -> dict[str, WatchState]:
        wanted = set(watch_ids)
        out = {}
        ids = sorted(wanted)
        rows = []
        # By key, in chunks under SQLite's limit on parameters: a command that asks for
        # one watch at a time (`report`, 5,000 pages) must not read every state each time.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._db.execute(
                f"SELECT watch_id, rev, state FROM watch_state WHERE watch_id IN ({marks})", chunk
            ).fetchall()
        for watch_id, rev, state in rows:
            if watch_id in wanted:
                try:
                    loaded = WatchState.from_json(json.loads(state))
                except Exception as exc:  # whatever a torn or hand-edited row holds
                    self._set_aside("watch_state", watch_id, state, exc)
                    out[watch_id] = self._afresh(watch_id)
                    continue
                out[watch_id] = WatchState(**{**loaded.__dict__, "rev": rev})
        for watch_id in wanted - out.keys():
            out[watch_id] = WatchState(watch_id=watch_id)
        return out

    def _afresh(self, watch_id: str) -> WatchState:
        """A new state for a watch whose row was unreadable, chained onto its last kept
        capture, so that its evidence stays one chain."""
        rows = self.history(watch_id)
        head = rows[-1].get("manifest_sha256") if rows else None
        return WatchState(watch_id=watch_id, chain_head=head)

    def _set_aside(self, source: str, key: str, body: object, exc: Exception) -> None:
        """Moves an unreadable row out of the way, once, with a warning; a read-only store
        only warns (and reads the row as absent)."""
        why = f"{type(exc).__name__}: {exc}"[:300]
        if source == "watch_state":
            what = f"{key}: its saved state is unreadable ({why}); it starts afresh"
        elif source == "child":
            what = f"{key}: its discovery record is unreadable ({why}); it is found again"
        else:
            what = f"event {key} in the outbox is unreadable ({why}); it is not delivered"
        if self._readonly:
            log.warning("%s", what)
            return
        log.warning("%s; the row is kept in the set_aside table of the state database", what)
        text = body if isinstance(body, str) else repr(body)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO set_aside (source, key, body, why) VALUES (?, ?, ?, ?)",
                (source, key, text, why),
            )
            if source == "watch_state":
                self._db.execute("DELETE FROM watch_state WHERE watch_id = ?", (key,))
            elif source == "child":
                self._db.execute("DELETE FROM child WHERE id = ?", (key,))
            else:
                self._db.execute("DELETE FROM outbox WHERE event_id = ?", (key,))
                self._db.execute("DELETE FROM pending WHERE event_id = ?", (key,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        stale: list[str] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for c in commits:
                if not self._apply(c):
                    stale.append(c.state.watch_id)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return stale

    def _apply(self, c: Commit) -> bool:
        db = self._db
        db.execute("SAVEPOINT one")
        state = c.state
        body = json.dumps({**state.to_json(), "rev": state.rev + 1}, ensure_ascii=False)
        if state.rev == 0:
            cur = db.execute(
                "INSERT OR IGNORE INTO watch_state (watch_id, rev, state) VALUES (?, 1, ?)",
                (state.watch_id, body),
            )
        else:
            cur = db.execute(
                "UPDATE watch_state SET rev = rev + 1, state = ? WHERE watch_id = ? AND rev = ?",
                (body, state.watch_id, state.rev),
            )
        if cur.rowcount != 1:
            db.execute("ROLLBACK TO one")
            db.execute("RELEASE one")
            return False
        if c.version is not None:
            v = c.version
            db.execute(
                f"INSERT INTO version (watch_id, {', '.join(_VERSION_COLUMNS)})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (state.watch_id, *(getattr(v, column) for column in _VERSION_COLUMNS)),
            )
        for event in c.events:
            added = db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, watch_id, event) VALUES (?, ?, ?)",
                (event.event_id, state.watch_id, event.dumps()),
            ).rowcount
            if added == 1:
                # Only a new event is owed to the channels; one seen before was owed already.
                db.executemany(
                    "INSERT OR IGNORE INTO pending (event_id, channel) VALUES (?, ?)",
                    [(event.event_id, channel) for channel in c.channels],
                )
        for write in c.children:
            self._write_child(write)
        db.executemany(
            "INSERT OR IGNORE INTO stamp_due (watch_id, version, authority) VALUES (?, ?, ?)",
            [(state.watch_id, version, authority) for version, authority in c.stamps],
        )
        db.execute("RELEASE one")
        return True

    def _write_child(self, write: ChildWrite) -> None:
        """Only the fields this commit changed, over what is stored (see ChildWrite)."""
        child = write.child
        stored = None
        if write.fields is not None:
            row = self._db.execute("SELECT record FROM child WHERE id = ?", (child.id,)).fetchone()
            with contextlib.suppress(ValueError, TypeError):
                stored = json.loads(row[0]) if row else None
        record = json.dumps(write.merged(stored), ensure_ascii=False)
        self._db.execute(
            "INSERT OR REPLACE INTO child (id, parent, record) VALUES (?, ?, ?)",
            (child.id, child.parent, record),
        )

    def children(self, parents: Iterable[str]) -> dict[str, list[Child]]:
        wanted = list(dict.fromkeys(parents))
        out: dict[str, list[Child]] = {p: [] for p in wanted}
        if not wanted or not self._has_table("child"):
            return out
        for parent in wanted:
            rows = self._db.execute(
                "SELECT id, record FROM child WHERE parent = ? ORDER BY id", (parent,)
            ).fetchall()
            for child_id, record in rows:
                try:
                    out[parent].append(Child.from_json(json.loads(record)))
                except Exception as exc:  # a torn row: that child is found again
                    self._set_aside("child", child_id, record, exc)
        return out

    def stamps_due(self) -> list[StampDue]:
        if not self._has_table("stamp_due"):
            return []
        rows = self._db.execute(
            "SELECT watch_id, version, authority, tries, why FROM stamp_due ORDER BY seq"
        ).fetchall()
        return [StampDue(*row) for row in rows]

    def stamp_done(self, due: StampDue) -> None:
        self._db.execute(
            "DELETE FROM stamp_due WHERE watch_id = ? AND version = ? AND authority = ?",
            (due.watch_id, due.version, due.authority),
        )

    def contacts(self) -> list[Contact]:
        if not self._has_table("contact"):
            return []
        rows = self._db.execute("SELECT record FROM contact ORDER BY rowid").fetchall()
        return [Contact.from_json(json.loads(row[0])) for row in rows]

    def add_contact(self, contact: Contact) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO contact (id, record) VALUES (?, ?)",
            (contact.id, json.dumps(contact.to_json(), ensure_ascii=False)),
        )

    def owe_stamps(self, owed: Sequence[StampDue]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO stamp_due (watch_id, version, authority) VALUES (?, ?, ?)",
            [(d.watch_id, d.version, d.authority) for d in owed],
        )

    def stamp_failed(self, due: StampDue, why: str) -> None:
        self._db.execute(
            "UPDATE stamp_due SET tries = tries + 1, why = ?"
            " WHERE watch_id = ? AND version = ? AND authority = ?",
            (why, due.watch_id, due.version, due.authority),
        )

    def _has_table(self, name: str) -> bool:
        # A read-only state folder of an older release has no child table.
        found = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    def undelivered(self, channel: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT o.event_id, o.event FROM outbox o JOIN pending p ON p.event_id = o.event_id"
            " WHERE p.channel = ? ORDER BY o.seq",
            (channel,),
        ).fetchall()
        events = []
        for event_id, body in rows:
            try:
                events.append(Event.from_json(json.loads(body)))
            except Exception as exc:  # one torn row must not hold back every later alert
                self._set_aside("outbox", event_id, body, exc)
        return events

    def delivered(self, event_ids: Iterable[str], channel: str) -> None:
        self._db.executemany(
            "DELETE FROM pending WHERE event_id = ? AND channel = ?",
            [(e, channel) for e in event_ids],
        )

    def kept_watches(self) -> list[str]:
        """The ids of every watch (and page) with a version kept, in the order first kept."""
        rows = self._db.execute("SELECT watch_id FROM version GROUP BY watch_id ORDER BY MIN(id)")
        return [row[0] for row in rows]

    def told(self, watch_ids: Collection[str]) -> list[Event]:
        """Every event the outbox keeps of these watches, oldest first (`report`)."""
        events = []
        for watch_id, body in self._db.execute("SELECT watch_id, event FROM outbox ORDER BY seq"):
            if watch_id not in watch_ids:
                continue
            with contextlib.suppress(Exception):  # a torn row is reported by `check`
                events.append(Event.from_json(json.loads(body)))
        return events

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        # A read-only state folder of an older release may lack the newer columns.
        have = {row[1] for row in self._db.execute("PRAGMA table_info(version)")}
        keys = [c for c in _VERSION_COLUMNS if c in have]
        rows = self._db.execute(
            f"SELECT {', '.join(keys)} FROM version WHERE watch_id = ? ORDER BY id", (watch_id,)
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def close(self) -> None:
        self._db.close()


def _syncfs(folder: Path) -> bool:
    """Flushes the file system holding ``folder`` to disk (Linux); False where it cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    # One writer per state folder (the run lock), so a name per process and file is unique;
    # one left by a crash is overwritten by the next attempt. Cheaper than mkstemp's search.
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        # Exclusive and not through a link; readable by the owner only, as before.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class FolderEvidenceStore:
    """``evidence/<watch>/<version>.warc.gz`` plus ``.txt``, ``.reading.json`` and
    ``.manifest.json`` beside it.

    Files are written whole (temporary file, then rename) and never rewritten: a version
    id names its content, so a second put of the same version keeps the first copy.
    """

    def __init__(
        self, root: str | Path, committed: Callable[[str], Collection[str]] | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self._unsynced: list[Path] = []  # written since the last sync()
        # The versions the state's history lists for a watch: a capture among them is never
        # removed. Without it, none is.
        self._committed = committed

    def _base(self, watch_id: str, version: str) -> Path:
        return self.root / watch_id / version

    def uri(self, watch_id: str, version: str) -> str:
        return self._base(watch_id, version).with_suffix(".warc.gz").as_uri()

    def warc_path(self, watch_id: str, version: str) -> Path:
        return self._base(watch_id, version).with_suffix(".warc.gz")

    def put(self, watch_id: str, version: str, evidence: Evidence, manifest: bytes) -> bytes:
        base = self._base(watch_id, version)
        # The WARC goes last: its presence says the others are complete.
        files = (
            (base.with_suffix(".txt"), evidence.text.encode("utf-8")),
            (base.with_suffix(".reading.json"), evidence.reading_json),
            (base.with_suffix(".manifest.json"), manifest),
            (base.with_suffix(".warc.gz"), evidence.warc_gz),
        )
        if files[-1][0].exists():
            return base.with_suffix(".manifest.json").read_bytes()
        base.parent.mkdir(parents=True, exist_ok=True)
        self._drop_forks(base.parent, version, json.loads(manifest).get("prev_manifest_sha256"))
        for path, data in files:
            _write_atomic(path, data)
            self._unsynced.append(path)
        return manifest

    def _drop_forks(self, folder: Path, version: str, prev: str | None) -> None:
        """Removes captures that chain onto the same manifest as this one and that the
        history does not list: written by a run that stopped before committing them, so
        they are no evidence, and kept they would fork the chain."""
        forks = []
        for path in folder.glob("*.manifest.json"):
            other = path.name.removesuffix(".manifest.json")
            if other == version:
                continue
            try:
                if json.loads(path.read_bytes()).get("prev_manifest_sha256") != prev:
                    continue
            except (OSError, ValueError, AttributeError):
                continue  # not ours to judge: verify reports it
            forks.append(other)
        if not forks or self._committed is None:
            return
        committed = self._committed(folder.name)
        for other in forks:
            if other in committed:
                continue  # evidence, whatever the state says now (it may have been reset)
            log.warning(
                "%s: removing capture %s, written by a run that stopped before committing it",
                folder.name,
                other,
            )
            for suffix in (".warc.gz", ".manifest.json", ".reading.json", ".txt"):
                folder.joinpath(other + suffix).unlink(missing_ok=True)

    def sync(self) -> None:
        """Makes the files written since the last call durable: the commit that names them
        follows, and must never name a file a power loss can take back."""
        written, self._unsynced = self._unsynced, []
        if not written:
            return
        # One syncfs() for the whole batch: an fsync per file cost 1.4 ms each here, more
        # than reading the page, for the four files of every capture.
        if _syncfs(self.root):
            return
        for path in [*written, *{p.parent for p in written}]:
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def put_token(
        self, watch_id: str, version: str, name: str, token: bytes, ca_name: str, ca_pem: bytes
    ) -> None:
        folder = self.root / watch_id
        if not (folder / ca_name).exists():
            _write_atomic(folder / ca_name, ca_pem)
        _write_atomic(folder / name, token)
        self._unsynced += [folder / ca_name, folder / name]

    def tokens(self, watch_id: str, version: str) -> dict[str, bytes]:
        folder = self.root / watch_id
        return {p.name: p.read_bytes() for p in sorted(folder.glob(f"{version}.*.tsr"))}

    def reading(self, watch_id: str, version: str) -> Reading | None:
        path = self._base(watch_id, version).with_suffix(".reading.json")
        try:
            return Reading.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return None
        except Exception as exc:  # a torn file (power loss) or an edited one
            # Read as no reading: the next change is reported against nothing (everything
            # on the page is new) instead of failing every check of this watch. The file
            # stays as it is, for verify to report and a person to look at.
            log.warning("%s: %s is unreadable (%s); comparing without it", watch_id, path, exc)
            return None

    def manifest(self, watch_id: str, version: str) -> bytes | None:
        try:
            return self._base(watch_id, version).with_suffix(".manifest.json").read_bytes()
        except FileNotFoundError:
            return None

    def warc(self, watch_id: str, version: str) -> bytes | None:
        try:
            return self.warc_path(watch_id, version).read_bytes()
        except FileNotFoundError:
            return None

    def text(self, watch_id: str, version: str) -> str | None:
        try:
            return self._base(watch_id, version).with_suffix(".txt").read_text("utf-8")
        except FileNotFoundError:
            return None
