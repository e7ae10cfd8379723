"""Evidence: a capture as WARC + text + reading + manifest (build), and checking it (verify)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .build import Evidence, build_evidence, fetch_from_warc, manifest
    from .verify import verify_folder

# Each public name and the module that defines it, imported on first use.
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
