"""SchedulerFunction: on the schedule, queue the due watches for checking, grouped by host."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import app as aws_app

logger = Logger(service="scrubwatch-scheduler")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-scheduler")
metrics = Metrics(namespace="scrubwatch", service="scrubwatch-scheduler")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    report = aws_app.schedule()
    metrics.add_metric(name="WatchesDue", unit=MetricUnit.Count, value=report.due)
    logger.info(
        "queued due watches",
        extra={"due": report.due, "messages": report.messages, "states_read": report.states_read},
    )
    return {"due": report.due, "messages": report.messages}
