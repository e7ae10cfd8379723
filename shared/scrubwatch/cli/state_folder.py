"""The local state folder (``state.sqlite3`` and ``evidence/``) as the commands open it,
and the error a command raises for what the user must fix (one line, exit 2)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from ..backends.local import FolderEvidenceStore, SqliteStateStore


class UsageError(Exception):
    pass


DATABASE = "state.sqlite3"  # in the state folder


class LocalBackend:
    """The state folder: ``state.sqlite3`` and ``evidence/``."""

    def __init__(self, root: Path, readonly: bool = False) -> None:
        self.root = root
        self.state = SqliteStateStore(root / DATABASE, readonly=readonly)
        state = self.state
        self.evidence = FolderEvidenceStore(
            root / "evidence", committed=lambda w: {row["version"] for row in state.history(w)}
        )

    def close(self) -> None:
        self.state.close()


def open_backend(root: Path) -> LocalBackend:
    """The state folder, which must exist: reading commands never create one, and open it
    read-only, so they work on a copy on a read-only disk or another user's folder."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"state folder {root} is a file; give --state a folder")
    if not (root / DATABASE).exists():
        raise UsageError(f"no scrubwatch state in {root} (run `scrubwatch check` first)")
    try:
        return LocalBackend(root, readonly=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read the state in {root} ({exc})") from None


def pick(rows: list[dict[str, object]], prefix: str | None, default: int) -> dict[str, object]:
    if prefix is None:
        return rows[default]
    matches = [r for r in rows if str(r["version"]).startswith(prefix)]
    if not matches:
        raise UsageError(f"no version starting with {prefix!r}")
    return matches[-1]


def given_time(option: str, text: str) -> datetime:
    """A time given on the command line (ISO 8601 with its zone), or one line saying how
    to write it."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r}: not a time; write it as 2026-12-06T10:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r}: say its time zone, e.g. 2026-12-06T10:00Z")
    return moment
