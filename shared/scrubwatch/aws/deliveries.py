"""Where the notifier delivers alerts: a Slack webhook, or the email topic (SNS).

Each delivery renders the alerts that arrived together into messages (a digest for a
burst) and sends one message at a time, raising ``DeliveryFailed`` when it was not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..alerts import slack
from ..alerts.sns import ascii_subject
from ..core import render
from ..core.events import Event
from . import clients


class DeliveryFailed(Exception):
    """The message was not sent (the service refused it, or could not be reached)."""


class Delivery(Protocol):
    name: str  # also names the claims: an event is claimed once per channel

    def messages(self, events: Sequence[Event]) -> list[tuple[Any, list[Event]]]: ...

    def send(self, message: Any) -> None: ...


class SlackDelivery:
    name = "slack"

    def __init__(
        self,
        url: str,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=10)
        self.sleep = sleep

    def messages(self, events: Sequence[Event]) -> list[tuple[Any, list[Event]]]:
        return [(message, told) for message, told in render.slack_posts(events)]

    def send(self, message: Any) -> None:
        # Two attempts, a short wait between: a send must end within the notifier's
        # SEND_MARGIN_S (10 s timeout, 3 s, 10 s); SQS brings a failed one back later.
        kwargs: dict[str, Any] = {"attempts": 2, "max_wait": 3.0}
        if self.sleep is not None:
            kwargs["sleep"] = self.sleep
        try:
            slack.post(self.client, self.url, message, **kwargs)
        except slack.SlackDeliveryFailed as exc:
            raise DeliveryFailed(str(exc)) from None


# Short timeouts, two attempts: a publish must end within the notifier's SEND_MARGIN_S
# (2 × (3 + 5) s), not be cut off by the function's timeout after SNS took it.
_SNS_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 2}
)


class EmailDelivery:
    """Publishes plain text to the email topic, whose subscriptions are the addresses."""

    name = "email"

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self.sns = client or clients.client("sns", _SNS_CONFIG)

    def messages(self, events: Sequence[Event]) -> list[tuple[Any, list[Event]]]:
        out: list[tuple[Any, list[Event]]] = []
        for title, body, told in render.email_posts(events):
            if len(told) == 1:
                title = ascii_subject(told[0])
            out.append(((title.encode("ascii", "replace").decode(), body), told))
        return out

    def send(self, message: Any) -> None:
        title, body = message
        try:
            self.sns.publish(TopicArn=self.topic_arn, Subject=title, Message=body)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryFailed(str(exc)) from None
