"""Slack on AWS: alerts arrive from SNS through an SQS queue, in batches, and are posted once.

- Posted once per ``event_id``: Powertools idempotency, persisted in the stack's table
  (SNS and SQS both deliver at least once; a retried batch does not post twice).
- A burst (a whole site scrubbed at once) arrives as one batch, thanks to the queue's
  batching window, and becomes one digest instead of a message per page.
- What cannot be delivered fails its records: SQS retries them and finally moves them to
  the dead-letter queue, which raises an alarm. Nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from . import formatting, slack
from .events import Event

log = logging.getLogger("scrubwatch")

DIGEST_OVER = 3  # more alerts than this in one batch are posted as one digest
_KEEP_SECONDS = 14 * 86400  # how long a posted event id is remembered


@dataclass(frozen=True)
class Alert:
    message_id: str
    event: Event


def parse(records: Iterable[dict[str, Any]]) -> tuple[list[Alert], list[str]]:
    """Alerts from SQS records (raw SNS delivery: the body is the event JSON), and the ids
    of records that are not an event at all."""
    alerts, bad = [], []
    for record in records:
        try:
            data = json.loads(record["body"])
            if data.get("schema") != "scrubwatch.event/1":
                raise ValueError(f"not a scrubwatch.event/1: {data.get('schema')!r}")
            alerts.append(Alert(record["messageId"], Event.from_json(data)))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("malformed alert %s: %s", record.get("messageId"), exc)
            bad.append(str(record.get("messageId")))
    return alerts, bad


def webhook_url() -> str | None:
    name = os.environ.get("SLACK_WEBHOOK_PARAM", "")
    if not name:
        return None
    value: str = parameters.get_parameter(name, decrypt=True, max_age=300)
    return value


class SlackNotifier:
    def __init__(
        self,
        table: str,
        url: str,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        lambda_context: Any = None,
    ) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=10)
        self.sleep = sleep
        persistence = DynamoDBPersistenceLayer(table_name=table, key_attr="pk", sort_key_attr="sk")
        one = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=_KEEP_SECONDS)
        many = IdempotencyConfig(
            event_key_jmespath="event_ids", expires_after_seconds=_KEEP_SECONDS
        )
        for config in (one, many):
            if lambda_context is not None:
                config.register_lambda_context(lambda_context)
        self._post_one = idempotent_function(
            data_keyword_argument="alert", config=one, persistence_store=persistence
        )(self._post_alert)
        self._post_many = idempotent_function(
            data_keyword_argument="digest", config=many, persistence_store=persistence
        )(self._post_digest)

    def _post(self, payload: dict[str, Any]) -> None:
        if self.sleep is None:
            slack.post(self.client, self.url, payload)
        else:
            slack.post(self.client, self.url, payload, sleep=self.sleep)

    def _post_alert(self, alert: dict[str, Any]) -> dict[str, str]:
        self._post(formatting.slack_message(Event.from_json(alert)))
        return {"posted": str(alert["event_id"])}

    def _post_digest(self, digest: dict[str, Any]) -> dict[str, int]:
        events = [Event.from_json(e) for e in digest["events"]]
        self._post(formatting.slack_digest(events))
        return {"posted": len(events)}

    def notify(self, alerts: list[Alert]) -> list[str]:
        """Posts the batch; returns the message ids of records that failed."""
        unique: dict[str, Alert] = {}
        for alert in alerts:  # the same event twice in one batch is posted once
            unique.setdefault(alert.event.event_id, alert)
        events = [a.event for a in unique.values()]
        try:
            if len(events) > DIGEST_OVER:
                self._post_many(
                    digest={
                        "event_ids": sorted(e.event_id for e in events),
                        "events": [e.to_json() for e in events],
                    }
                )
                return []
        except slack.SlackDeliveryFailed as exc:
            log.error("Slack digest of %d alerts failed: %s", len(events), exc)
            return [a.message_id for a in alerts]
        failed_events = set()
        for event in events:
            try:
                self._post_one(alert=event.to_json())
            except slack.SlackDeliveryFailed as exc:
                log.error("Slack post of %s failed: %s", event.event_id, exc)
                failed_events.add(event.event_id)
        return [a.message_id for a in alerts if a.event.event_id in failed_events]
