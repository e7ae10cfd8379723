"""The Lambda side: scheduling checks, running them, and posting alerts to Slack. The
handlers themselves stay thin, in functions/<name>/handler.py."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .environment import StackEnvironment, stack
    from .notify import SlackNotifier
    from .schedule import CheckRequest, due_watches

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "CheckRequest": "schedule",
    "due_watches": "schedule",
    "StackEnvironment": "environment",
    "stack": "environment",
    "SlackNotifier": "notify",
}
__all__ = [
    "CheckRequest",
    "SlackNotifier",
    "StackEnvironment",
    "due_watches",
    "stack",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
