"""CheckerFunction: checks the watches named by each queue message; failed records retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import app as aws_app
from scrubwatch.aws.schedule import CheckRequest

logger = Logger(service="scrubwatch-checker")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-checker")
metrics = Metrics(namespace="scrubwatch", service="scrubwatch-checker")
# A batch whose every record failed is reported like any other (the failed ids), so one
# bad message alone does not count as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Seconds kept back from each record's budget: a reading may take up to 10 s past its
# fetch, then the events are published and the state committed.
COMMIT_MARGIN_S = 15.0


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    logger.remove_keys(["watch", "host"])  # keys of the previous record must not stick
    try:
        request = CheckRequest.model_validate_json(record.body)
    except ValueError:
        logger.exception("malformed check message", extra={"message_id": record.message_id})
        raise
    logger.append_keys(watch=",".join(request.watches), host=request.host)
    # The function's own timeout, less room to commit and to requeue what is left.
    budget = lambda_context.get_remaining_time_in_millis() / 1000 - COMMIT_MARGIN_S
    report = aws_app.check(request, budget=budget)
    if report.unfinished:
        logger.warning("out of time; requeued", extra={"unfinished": len(report.unfinished)})
        aws_app.requeue(request, report.unfinished)
    # Two metrics (each custom metric costs $0.30 a month): that checks happen, and how
    # many fail. The rest goes in one log line per message (CloudWatch Logs Insights
    # counts them: `stats sum(changed), sum(gone) by bin(1h)`).
    kinds = [e.kind for e in report.events]
    metrics.add_metric(name="Checks", unit=MetricUnit.Count, value=report.checked)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=kinds.count("error"))
    logger.info(
        "checked",
        extra={
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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
