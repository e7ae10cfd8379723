"""Channels that deliver events: terminal, JSON lines, email, Slack (channels), and SNS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .channels import ConsolePublisher, JsonLinesPublisher, SlackPublisher, SmtpPublisher
    from .sns import SnsPublisher

# Each public name and the module that defines it, imported on first use.
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
__getattr__ = lazy_exports(__name__, _EXPORTS)
