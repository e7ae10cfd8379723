"""NotifierFunction: posts the alerts queued for Slack, once each; failed records retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import notify as aws_notify
from scrubwatch.aws.environment import stack

logger = Logger(service="scrubwatch-notifier")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-notifier")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    alerts, malformed = aws_notify.parse(event.get("Records", []))
    url = aws_notify.webhook_url()
    if not url:
        # The template subscribes this queue only when a webhook parameter is given.
        logger.error("SLACK_WEBHOOK_PARAM is not set; alerts stay queued")
        failed = [a.message_id for a in alerts]
    else:
        table = stack().required("table_name")
        notifier = aws_notify.SlackNotifier(table, url, lambda_context=context)
        failed = notifier.notify(alerts)
    logger.info("slack batch", extra={"alerts": len(alerts), "failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": i} for i in [*malformed, *failed]]}
