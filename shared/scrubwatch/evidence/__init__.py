"""Evidence: a capture as WARC + text + reading + manifest (build), and checking it (verify)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import Evidence, build_evidence, fetch_from_warc, manifest
    from .verify import verify_folder

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "Evidence": "build",
    "build_evidence": "build",
    "fetch_from_warc": "build",
    "manifest": "build",
    "verify_folder": "verify",
}
__all__ = [
    "Evidence",
    "build_evidence",
    "fetch_from_warc",
    "manifest",
    "verify_folder",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
