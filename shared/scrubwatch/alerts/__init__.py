"""Channels that deliver events: terminal, JSON lines, email, Slack (channels), and SNS."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channels import ConsolePublisher, JsonLinesPublisher, SlackPublisher, SmtpPublisher
    from .sns import SnsPublisher

# Each public name and the module that defines it. A module is imported when one of its
# names is first used, so importing this package (as a reading worker or the scheduler
# does) loads none of them.
_EXPORTS = {
    "ConsolePublisher": "channels",
    "JsonLinesPublisher": "channels",
    "SlackPublisher": "channels",
    "SmtpPublisher": "channels",
    "SnsPublisher": "sns",
}
__all__ = [
    "ConsolePublisher",
    "JsonLinesPublisher",
    "SlackPublisher",
    "SmtpPublisher",
    "SnsPublisher",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
