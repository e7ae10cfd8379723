"""Slack and email on AWS: alerts arrive from SNS through an SQS queue per channel, in
batches, and are sent once per event and channel.

- Sent once per ``event_id`` and channel, whether alone or in a digest: a Powertools
  idempotency record per event and channel in the stack's table (SNS and SQS both deliver
  at least once; the checker republishes after a failed commit; none of it sends twice).
- A burst (a whole site scrubbed at once) arrives as one batch, thanks to the queue's
  batching window, and becomes one digest instead of a message per page.
- What cannot be delivered fails its records: SQS retries them and finally moves them to
  the dead-letter queue, which raises an alarm. Nothing is dropped silently.
- Every record is checked whole against the event's schema before anything is claimed:
  a malformed one fails alone (and ends in the dead-letter queue), and whatever makes a
  delivery fail releases its claim, so the next delivery sends it once.
- The one window left: the process dies between a message being sent and its claims
  being recorded (milliseconds; never a timeout, see ``Notifier``). Its redelivery then
  sends that message a second time: a duplicate, never a lost alert.
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

from ..core.events import SCHEMA, Event
from . import clients
from .deliveries import Delivery, DeliveryFailed, EmailDelivery, SlackDelivery
from .environment import stack

log = logging.getLogger("scrubwatch")

_KEEP_SECONDS = 14 * 86400  # how long a sent event id is remembered
# No message is started with less than this left of the invocation: more than a send can
# take (aws/deliveries.py: a Slack post 23 s at most, an SNS publish 16 s).
SEND_MARGIN_S = 30.0
CLAIM_PREFIX = "N#"  # the claims' keys in the table; template.yaml holds the notifier to it


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


class Notifier:
    """Delivers alerts once per event and channel: claims each event before sending (a
    Powertools idempotency record per event id, in progress, then completed), and a
    digest sends many claimed events at once.

    An event already completed is dropped, one in progress elsewhere fails its record (SQS
    brings it back, by then completed), and a claim whose message was not sent is released.
    Each message's claims are completed as soon as it is sent, and no message is started
    with less than SEND_MARGIN_S left: an invocation cut off by its timeout leaves no
    event both sent and unrecorded, so its redelivery sends nothing twice.
    """

    def __init__(self, table: str, delivery: Delivery, lambda_context: Any = None) -> None:
        self.delivery = delivery
        self.context = lambda_context
        # Claims are items pk = "N#<channel>", sk = "<channel>#<hash of the event id>": the
        # notifier's IAM policy allows it these partitions and no other (a watch's items
        # are "W#<watch>"). One partition per channel is ample at alert rates.
        self.persistence = DynamoDBPersistenceLayer(
            table_name=table,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value=f"{CLAIM_PREFIX}{delivery.name}",
            boto3_client=clients.client("dynamodb"),
        )
        config = IdempotencyConfig(
            event_key_jmespath="event_id", expires_after_seconds=_KEEP_SECONDS
        )
        self.persistence.configure(config, key_prefix=delivery.name)

    def _remaining_ms(self) -> int:
        return self.context.get_remaining_time_in_millis() if self.context else 60_000

    def _claim(self, event: Event) -> str:
        """ "mine" (claimed now), "done" (sent before) or "busy" (being sent elsewhere)."""
        key = {"event_id": event.event_id}
        try:
            self.persistence.save_inprogress(
                data=key, remaining_time_in_millis=self._remaining_ms()
            )
            return "mine"
        except IdempotencyItemAlreadyExistsError:
            try:
                record = self.persistence.get_record(data=key)
            except IdempotencyItemNotFoundError:
                return "busy"
            return "done" if record is not None and record.status == "COMPLETED" else "busy"

    def _sent(self, what: str, message: Any) -> bool:
        """Sends one message; False when that failed, for whatever reason: a claim left in
        progress would hold the alert back until it expires, then send it again beside the
        copies already sent."""
        if self._remaining_ms() < SEND_MARGIN_S * 1000:
            log.warning("%s left for the next delivery (too little time)", what)
            return False
        try:
            self.delivery.send(message)
        except DeliveryFailed as exc:
            log.error("%s delivery of %s failed: %s", self.delivery.name, what, exc)
            return False
        except Exception:
            log.exception("%s delivery of %s failed", self.delivery.name, what)
            return False
        return True

    def _complete(self, event: Event) -> None:
        try:
            key = {"event_id": event.event_id}
            self.persistence.save_success(data=key, result={"sent": True})
        except Exception:
            # Sent: failing the record would send it again once the claim expires.
            log.exception("recording %s as sent failed", event.event_id)

    def _release(self, event: Event) -> None:
        try:
            self.persistence.delete_record(
                data={"event_id": event.event_id}, exception=RuntimeError("not sent")
            )
        except Exception:
            # The claim then lapses on its own (it expires with this invocation's time).
            log.exception("releasing the claim on %s failed", event.event_id)

    def _send_all(self, events: list[Event]) -> set[str]:
        """Sends the claimed events (a digest, or one message each), completing each
        message's claims as soon as it is sent; returns the ids sent."""
        try:
            messages = self.delivery.messages(events)
        except Exception:  # an alert that cannot be rendered fails with the others
            log.exception("messages for %d alerts could not be made", len(events))
            messages = []
        sent: set[str] = set()
        for message, told in messages:
            what = told[0].event_id if len(told) == 1 else f"a digest of {len(told)} alerts"
            if self._sent(what, message):
                for event in told:
                    self._complete(event)
                sent.update(e.event_id for e in told)
        return sent

    def notify(self, alerts: list[Alert]) -> list[str]:
        """Delivers the batch; returns the message ids of records that failed."""
        unique: dict[str, Event] = {}
        for alert in alerts:  # the same event twice in one batch is sent once
            unique.setdefault(alert.event.event_id, alert.event)
        claims = {event_id: self._claim(event) for event_id, event in unique.items()}
        mine = [e for e in unique.values() if claims[e.event_id] == "mine"]
        failed = {i for i, claim in claims.items() if claim == "busy"}
        sent = self._send_all(mine)
        for event in mine:
            if event.event_id not in sent:
                self._release(event)
                failed.add(event.event_id)
        return [a.message_id for a in alerts if a.event.event_id in failed]


def slack_notifier(
    table: str,
    url: str,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] | None = None,
    lambda_context: Any = None,
) -> Notifier:
    return Notifier(table, SlackDelivery(url, client, sleep), lambda_context)


def email_notifier(table: str, topic_arn: str, lambda_context: Any = None) -> Notifier:
    return Notifier(table, EmailDelivery(topic_arn), lambda_context)


def notifier_for(source_arn: str, lambda_context: Any = None) -> Notifier | None:
    """The notifier for the queue a batch came from (the email queue, or Slack's); None,
    logged, when that channel is not configured (the alerts stay queued)."""
    env = stack()
    table = env.required("table_name")
    if source_arn and source_arn == env.email_queue_arn:
        return email_notifier(table, env.required("email_topic_arn"), lambda_context)
    url = webhook_url()
    if not url:
        # The template subscribes the Slack queue only when a webhook parameter is given.
        log.error("SLACK_WEBHOOK_PARAM is not set; alerts stay queued")
        return None
    return slack_notifier(table, url, lambda_context=lambda_context)
