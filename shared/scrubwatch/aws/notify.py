"""Slack on AWS: alerts arrive from SNS through an SQS queue, in batches, and are posted once.

- Posted once per ``event_id``, whether alone or in a digest: a Powertools idempotency
  record per event in the stack's table (SNS and SQS both deliver at least once; the
  checker republishes after a failed commit; none of it posts twice).
- A burst (a whole site scrubbed at once) arrives as one batch, thanks to the queue's
  batching window, and becomes one digest instead of a message per page.
- What cannot be delivered fails its records: SQS retries them and finally moves them to
  the dead-letter queue, which raises an alarm. Nothing is dropped silently.
- Every record is checked whole against the event's schema before anything is claimed:
  a malformed one fails alone (and ends in the dead-letter queue), and whatever makes a
  post fail releases its claim, so the next delivery posts it once.
"""

from __future__ import annotations

import json
import logging
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
from pydantic import TypeAdapter, ValidationError

from ..alerts import slack
from ..core import render as formatting
from ..core.events import SCHEMA, Event
from .environment import stack

log = logging.getLogger("scrubwatch")

_KEEP_SECONDS = 14 * 86400  # how long a posted event id is remembered


@dataclass(frozen=True)
class Alert:
    message_id: str
    event: Event


# The event's own dataclasses are its schema: each field's type, the kind (a Literal of the
# known kinds) and the nested VersionRefs. Checked strictly (200, not "200"; a list, not a
# string), so that an event which passes cannot fail rendering on its shape.
_EVENT_SHAPE: TypeAdapter[Event] = TypeAdapter(Event)
_PROBLEMS_SHOWN = 3  # of a malformed event's problems, in the log line


class MalformedAlert(ValueError):
    """A record whose body is not a ``scrubwatch.event/1`` event: no delivery can fix it."""


def read_event(body: object) -> Event:
    """The event a record's body carries, checked whole; MalformedAlert says what is wrong."""
    if not isinstance(body, str):
        raise MalformedAlert(f"the body is {type(body).__name__}, not JSON text")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedAlert(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedAlert(f"not a JSON object but {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise MalformedAlert(f"not a {SCHEMA}: {data.get('schema')!r}")
    try:
        _EVENT_SHAPE.validate_json(body, strict=True)
        # Built by the event's own reader, which also refuses fields the schema lacks.
        event = Event.from_json(data)
    except ValidationError as exc:
        raise MalformedAlert(_problems(exc)) from None
    except TypeError as exc:
        raise MalformedAlert(str(exc)) from None
    if not event.event_id:
        raise MalformedAlert("an empty event_id")  # the claim's key: it would have none
    return event


def _problems(error: ValidationError) -> str:
    """``kind: Input should be 'first_seen', ...; removed: Input should be a valid list``,
    without the input (a whole event, page text included)."""
    found = error.errors(include_url=False, include_input=False)
    shown = [f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in found]
    more = len(shown) - _PROBLEMS_SHOWN
    return "; ".join(shown[:_PROBLEMS_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def parse(records: Iterable[dict[str, Any]]) -> tuple[list[Alert], list[str]]:
    """Alerts from SQS records (raw SNS delivery: the body is the event JSON), and the ids
    of records that are not a valid event.

    A malformed record is reported failed, like an undeliverable one, not dropped: SQS
    gives it a few more receives, then moves it to the dead-letter queue, whose alarm
    says something sent it, and where it can be read.
    """
    alerts, bad = [], []
    for record in records:
        message_id = str(record.get("messageId"))
        try:
            alerts.append(Alert(message_id, read_event(record.get("body"))))
        except MalformedAlert as exc:
            log.error("malformed alert %s: %s", message_id, exc)
            bad.append(message_id)
    return alerts, bad


def webhook_url() -> str | None:
    name = stack().slack_webhook_param
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

    def _delivered(self, what: str, message: dict[str, Any]) -> bool:
        """Posts one message; False when that failed, for whatever reason: a claim left in
        progress would hold the alert back until it expires, then post it again beside the
        copies already posted."""
        try:
            self._post(message)
        except slack.SlackDeliveryFailed as exc:
            log.error("Slack post of %s failed: %s", what, exc)
            return False
        except Exception:
            log.exception("Slack post of %s failed", what)
            return False
        return True

    def _post_all(self, events: list[Event]) -> set[str]:
        """The ids of the events posted: all at once as a digest, or one message each."""
        try:
            messages = formatting.slack_posts(events)
        except Exception:  # an alert that cannot be rendered fails with the others
            log.exception("Slack messages for %d alerts could not be made", len(events))
            return set()
        posted: set[str] = set()
        for message, told in messages:
            what = told[0].event_id if len(told) == 1 else f"a digest of {len(told)} alerts"
            if self._delivered(what, message):
                posted.update(e.event_id for e in told)
        return posted

    def _complete(self, event: Event) -> None:
        try:
            key = {"event_id": event.event_id}
            self.persistence.save_success(data=key, result={"posted": True})
        except Exception:
            # Posted: failing the record would post it again once the claim expires.
            log.exception("recording %s as posted failed", event.event_id)

    def _release(self, event: Event) -> None:
        try:
            self.persistence.delete_record(
                data={"event_id": event.event_id}, exception=RuntimeError("not posted")
            )
        except Exception:
            # The claim then lapses on its own (it expires with this invocation's time).
            log.exception("releasing the claim on %s failed", event.event_id)

    def notify(self, alerts: list[Alert]) -> list[str]:
        """Posts the batch; returns the message ids of records that failed."""
        unique: dict[str, Event] = {}
        for alert in alerts:  # the same event twice in one batch is posted once
            unique.setdefault(alert.event.event_id, alert.event)
        claims = {event_id: self._claim(event) for event_id, event in unique.items()}
        mine = [e for e in unique.values() if claims[e.event_id] == "mine"]
        failed = {i for i, claim in claims.items() if claim == "busy"}
        posted = self._post_all(mine)
        for event in mine:
            if event.event_id in posted:
                self._complete(event)
            else:
                self._release(event)
                failed.add(event.event_id)
        return [a.message_id for a in alerts if a.event.event_id in failed]
