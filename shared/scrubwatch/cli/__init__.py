"""The `scrubwatch` command: check, validate, status, and the archive commands."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .demo import run_demo
    from .state_folder import UsageError

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "UsageError": "state_folder",
    "run_demo": "demo",
}
__all__ = [
    "UsageError",
    "run_demo",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
