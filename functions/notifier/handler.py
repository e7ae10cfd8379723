"""NotifierFunction: posts each alert from the topic to the Slack webhook kept in SSM."""

from __future__ import annotations

import json
import os

import httpx
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch import slack
from scrubwatch.events import Event

logger = Logger(service="scrubwatch-notifier")
tracer = Tracer(service="scrubwatch-notifier")


def webhook_url() -> str | None:
    name = os.environ.get("SLACK_WEBHOOK_PARAM", "")
    if not name:
        return None
    value: str = parameters.get_parameter(name, decrypt=True, max_age=300)
    return value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, int]:
    url = webhook_url()
    if not url:
        logger.warning("SLACK_WEBHOOK_PARAM is not set; nothing to post")
        return {"posted": 0}
    posted = 0
    with httpx.Client(timeout=10) as client:
        for record in event.records:
            alert = Event.from_json(json.loads(record.sns.message))
            logger.append_keys(watch=alert.watch)
            slack.post(client, url, slack.message(alert))
            posted += 1
    return {"posted": posted}
