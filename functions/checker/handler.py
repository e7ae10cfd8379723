"""CheckerFunction: checks the watches named by a batch of queue messages in one run (hosts
side by side); the messages whose checks broke retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import app as aws_app
from scrubwatch.core.report import RunReport

logger = Logger(service="scrubwatch-checker")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-checker")
metrics = Metrics(namespace="scrubwatch", service="scrubwatch-checker")
# Seconds kept back from the invocation's time: a reading may take up to 10 s past its
# fetch, then the events are published, the states committed and the rest requeued.
COMMIT_MARGIN_S = 15.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = context.get_remaining_time_in_millis() / 1000 - COMMIT_MARGIN_S
    done = aws_app.check_messages(event.get("Records", []), budget)
    _account(done.report, done.messages)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in done.failed]}


def _account(report: RunReport, messages: int) -> None:
    """Two metrics (each custom metric costs $0.30 a month): that checks happen, and how
    many fail. The rest goes in one log line per batch (CloudWatch Logs Insights counts
    them: `stats sum(changed), sum(gone) by bin(1h)`)."""
    kinds = [e.kind for e in report.events]
    metrics.add_metric(name="Checks", unit=MetricUnit.Count, value=report.checked)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=kinds.count("error"))
    logger.info(
        "checked",
        extra={
            "messages": messages,
            "checked": report.checked,
            "changed": kinds.count("changed"),
            "gone": kinds.count("gone"),
            "errors": kinds.count("error"),
            "fetch_seconds": round(report.fetch_seconds, 3),
            "requeued": len(report.unfinished),
        },
    )
    for event in report.events:
        logger.info(event.summary, extra={"watch": event.watch, "kind": event.kind})
