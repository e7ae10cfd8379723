"""Where state and evidence are kept: SQLite + a folder (local), DynamoDB + S3 (aws)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aws import DynamoStateStore, S3EvidenceStore
    from .local import FolderEvidenceStore, SqliteStateStore

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "FolderEvidenceStore": "local",
    "SqliteStateStore": "local",
    "DynamoStateStore": "aws",
    "S3EvidenceStore": "aws",
}
__all__ = [
    "DynamoStateStore",
    "FolderEvidenceStore",
    "S3EvidenceStore",
    "SqliteStateStore",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
