"""Slack on AWS: alerts arrive from SNS through an SQS queue, in batches, and are posted once.

- Posted once per ``event_id``, whether alone or in a digest: a Powertools idempotency
  record per event in the stack's table (SNS and SQS both deliver at least once; the
  checker republishes after a failed commit; none of it posts twice).
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
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
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
    """Claims each event before posting (a Powertools idempotency record per event id, in
    progress, then completed); a digest posts many claimed events at once.

    An event already completed is dropped, one in progress elsewhere fails its record (SQS
    brings it back, by then completed), and a claim whose post failed is released.
    """

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
        self.context = lambda_context
        self.persistence = DynamoDBPersistenceLayer(
            table_name=table, key_attr="pk", sort_key_attr="sk"
        )
        config = IdempotencyConfig(
            event_key_jmespath="event_id", expires_after_seconds=_KEEP_SECONDS
        )
        self.persistence.configure(config, function_name="scrubwatch-slack")

    def _post(self, payload: dict[str, Any]) -> None:
        if self.sleep is None:
            slack.post(self.client, self.url, payload)
        else:
            slack.post(self.client, self.url, payload, sleep=self.sleep)

    def _claim(self, event: Event) -> str:
        """ "mine" (claimed now), "done" (posted before) or "busy" (being posted elsewhere)."""
        key = {"event_id": event.event_id}
        remaining = self.context.get_remaining_time_in_millis() if self.context else 60_000
        try:
            self.persistence.save_inprogress(data=key, remaining_time_in_millis=remaining)
            return "mine"
        except IdempotencyItemAlreadyExistsError:
            try:
                record = self.persistence.get_record(data=key)
            except IdempotencyItemNotFoundError:
                return "busy"
            return "done" if record is not None and record.status == "COMPLETED" else "busy"

    def notify(self, alerts: list[Alert]) -> list[str]:
        """Posts the batch; returns the message ids of records that failed."""
        unique: dict[str, Event] = {}
        for alert in alerts:  # the same event twice in one batch is posted once
            unique.setdefault(alert.event.event_id, alert.event)
        claims = {event_id: self._claim(event) for event_id, event in unique.items()}
        mine = [e for e in unique.values() if claims[e.event_id] == "mine"]
        failed = {i for i, claim in claims.items() if claim == "busy"}
        posted: list[Event] = []
        try:
            if len(mine) > DIGEST_OVER:
                self._post(formatting.slack_digest(mine))
                posted = mine
            else:
                for event in mine:
                    try:
                        self._post(formatting.slack_message(event))
                        posted.append(event)
                    except slack.SlackDeliveryFailed as exc:
                        log.error("Slack post of %s failed: %s", event.event_id, exc)
        except slack.SlackDeliveryFailed as exc:
            log.error("Slack digest of %d alerts failed: %s", len(mine), exc)
        done = {e.event_id for e in posted}
        for event in mine:
            key = {"event_id": event.event_id}
            if event.event_id in done:
                self.persistence.save_success(data=key, result={"posted": True})
            else:
                self.persistence.delete_record(data=key, exception=RuntimeError("not posted"))
                failed.add(event.event_id)
        return [a.message_id for a in alerts if a.event.event_id in failed]
