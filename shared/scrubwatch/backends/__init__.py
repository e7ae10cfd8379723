"""Where state and evidence are kept: SQLite + a folder (local), DynamoDB + S3 (aws)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .aws import DynamoStateStore, S3EvidenceStore
    from .local import FolderEvidenceStore, SqliteStateStore

# Each public name and the module that defines it, imported on first use.
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
