"""WitnessFunction: has the Internet Archive capture the pages of the events the checker
queued, one after another at the list's `wayback_per_minute`; failed captures retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import witnessing

logger = Logger(service="scrubwatch-witness")
# The package's own lines (the "scrubwatch" logger) as the same structured JSON.
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-witness")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    requests: list[tuple[witnessing.WitnessRequest, int]] = []
    ids: list[str] = []
    malformed: list[str] = []
    for record in records:
        try:
            request = witnessing.WitnessRequest.model_validate_json(record["body"])
        except ValueError:
            logger.exception("malformed witness request", extra={"message_id": record["messageId"]})
            malformed.append(record["messageId"])
            continue
        received = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        requests.append((request, received))
        ids.append(record["messageId"])
    retry = witnessing.capture(
        requests, time_left=lambda: context.get_remaining_time_in_millis() / 1000
    )
    failed = [*malformed, *(ids[n] for n in retry)]
    logger.info("witnessed", extra={"requests": len(requests), "retried": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
