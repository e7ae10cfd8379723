"""RenderFunction: checks the watches read in a browser (render: browser), named by a
batch of messages of the render queue; a function of its own, since Chromium needs far
more memory than a fetch (docs/render-on-lambda.md)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from scrubwatch.aws import app as aws_app
from scrubwatch.aws import chromium
from scrubwatch.aws.environment import stack

logger = Logger(service="scrubwatch-render")
copy_config_to_registered_loggers(source_logger=logger, include={"scrubwatch"})
tracer = Tracer(service="scrubwatch-render")
metrics = Metrics(namespace="scrubwatch", service="scrubwatch-render")
# As the checker's, and the browser's closing: a page is bounded by the watch's deadline.
COMMIT_MARGIN_S = 20.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The layer's Chromium, unpacked into /tmp by the sandbox's first invocation (a warm
    # one finds it); a Chromium the environment names is taken as it is.
    if not stack().scrubwatch_chromium:
        os.environ["SCRUBWATCH_CHROMIUM"] = str(chromium.unpack_chromium())
    budget = context.get_remaining_time_in_millis() / 1000 - COMMIT_MARGIN_S
    done = aws_app.check_messages(
        event.get("Records", []),
        budget,
        browser_args=chromium.LAMBDA_CHROMIUM_ARGS,
        queue=aws_app.render_queue(),
    )
    report = done.report
    errors = [e.kind for e in report.events].count("error")
    metrics.add_metric(name="RenderedPages", unit=MetricUnit.Count, value=report.rendered)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=errors)
    logger.info(
        "rendered",
        extra={
            "messages": done.messages,
            "checked": report.checked,
            "rendered": report.rendered,
            "errors": errors,
            "requeued": len(report.unfinished),
        },
    )
    for e in report.events:
        logger.info(e.summary, extra={"watch": e.watch, "kind": e.kind})
    return {"batchItemFailures": [{"itemIdentifier": i} for i in done.failed]}
