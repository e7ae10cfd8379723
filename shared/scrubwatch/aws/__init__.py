"""The Lambda side: scheduling checks, running them, and posting alerts to Slack. The
handlers themselves stay thin, in functions/<name>/handler.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .environment import StackEnvironment, stack
    from .notify import Notifier
    from .schedule import CheckRequest, due_watches

# Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "CheckRequest": "schedule",
    "due_watches": "schedule",
    "StackEnvironment": "environment",
    "stack": "environment",
    "Notifier": "notify",
}
__all__ = [
    "CheckRequest",
    "Notifier",
    "StackEnvironment",
    "due_watches",
    "stack",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)
