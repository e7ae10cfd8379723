"""The AWS side of scrubwatch in one process: moto for AWS, real HTTP servers on 127.0.0.1.

``aws`` starts ``mock_aws`` with fake credentials and creates what template.yaml creates
(table, evidence bucket, check queue with its dead-letter queue, alert topic) plus two SQS
queues subscribed to the topic that capture what SNS delivers: one unfiltered, one with the
Slack subscription's filter policy. ``handlers`` loads the three ``handler.py`` files by
path once the environment is set, the way the Lambda runtime would."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pytest_httpserver import HTTPServer
from scrubwatch.aws import app as aws_app
from scrubwatch.aws import clients, watchlists, witnessing
from scrubwatch.aws.environment import stack
from support import Site

from .support import REGION, SETTINGS, Stack, _build_stack, _load


@pytest.fixture
def slack_hook(second_server: HTTPServer) -> HTTPServer:
    """Stands in for Slack's incoming webhooks."""
    return second_server


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "scrubwatch-test")
    with mock_aws():
        boto3.setup_default_session()  # fresh: hooks registered by one test stay in it
        stack = _build_stack()
        monkeypatch.setenv("TABLE_NAME", stack.table)
        monkeypatch.setenv("BUCKET_NAME", stack.bucket)
        monkeypatch.setenv("QUEUE_URL", stack.queue_url)
        monkeypatch.setenv("TOPIC_ARN", stack.topic_arn)
        monkeypatch.setenv("EMAIL_QUEUE_ARN", stack.email_queue_arn)
        monkeypatch.setenv("EMAIL_TOPIC_ARN", stack.email_topic_arn)
        monkeypatch.setenv("WITNESS_QUEUE_URL", stack.witness_queue_url)
        monkeypatch.setenv("SLACK_WEBHOOK_PARAM", "")

        def record_publish(params: dict[str, Any], **_: Any) -> None:
            stack.published.append(copy.deepcopy(params))

        stack.hook("before-parameter-build.sns.Publish", record_publish)
        parameters.clear_caches()
        try:
            yield stack
        finally:
            parameters.clear_caches()
            boto3.DEFAULT_SESSION = None


@pytest.fixture(autouse=True)
def _fresh_watchlist() -> Iterator[None]:
    # Each test is a cold start: its own environment, its own watch list.
    watchlists.forget()
    clients.forget()
    witnessing.forget()
    stack.cache_clear()
    yield
    watchlists.forget()
    clients.forget()
    witnessing.forget()
    stack.cache_clear()


@pytest.fixture
def watchlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Writes a watch list and points WATCHLIST_PATH at it."""

    def write(watches: list[dict[str, Any]], **settings: Any) -> Path:
        path = tmp_path / "watchlist.yaml"
        data = {"settings": {**SETTINGS, **settings}, "watches": watches}
        path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False))
        monkeypatch.setenv("WATCHLIST_PATH", str(path))
        watchlists.forget()
        stack.cache_clear()
        return path

    return write


@pytest.fixture
def handlers(aws: Stack) -> Iterator[SimpleNamespace]:
    """The three Lambda handlers, imported by path after the environment is set.

    Importing one routes the "scrubwatch" logger through Powertools, as in a Lambda
    container (its own handler, no propagation); that is undone after the test, so the
    tests that read the log through the root logger (caplog) still see it."""
    package_log = logging.getLogger("scrubwatch")
    before = (list(package_log.handlers), package_log.propagate, package_log.level)
    try:
        yield SimpleNamespace(
            scheduler=_load("scheduler"),
            checker=_load("checker"),
            notifier=_load("notifier"),
            witness=_load("witness"),
        )
    finally:
        package_log.handlers, package_log.propagate, package_log.level = before


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Moves the scheduler's clock forward (aws_app's ``time`` only), without sleeping."""
    import time as real_time

    def advance(seconds: float) -> None:
        now = real_time.time() + seconds
        monkeypatch.setattr(aws_app, "time", SimpleNamespace(time=lambda: now))

    return advance


@pytest.fixture
def deployed(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> list[str]:
    """A stack whose watch saw a page, then saw it go: the --bucket/--table options that
    name it for the command line."""
    from .test_pipeline import run_until_gone

    run_until_gone(aws, handlers, site, watchlist, clock)
    return ["--bucket", aws.bucket, "--table", aws.table]
