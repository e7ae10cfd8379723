"""NotifierFunction: sends the alerts queued for Slack or email, once each; failed records
retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import notify as aws_notify

logger = Logger(service="scrubwatch-notifier")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-notifier")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    alerts, malformed = aws_notify.parse(records)
    # One event source mapping per queue: a batch comes from one queue, one channel.
    source = str(records[0].get("eventSourceARN", "")) if records else ""
    notifier = aws_notify.notifier_for(source, context)
    failed = notifier.notify(alerts) if notifier else [a.message_id for a in alerts]
    channel = notifier.delivery.name if notifier else "none"
    logger.info(
        "alert batch", extra={"channel": channel, "alerts": len(alerts), "failed": len(failed)}
    )
    return {"batchItemFailures": [{"itemIdentifier": i} for i in [*malformed, *failed]]}
