"""The `scrubwatch` command: check, validate, status, and the archive commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .demo import run_demo
    from .state_folder import UsageError

# Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "UsageError": "state_folder",
    "run_demo": "demo",
}
__all__ = [
    "UsageError",
    "run_demo",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)
