"""`scrubwatch push`: a watch list handed to a stack without a build, and 100,000 watches
through the scheduler within its memory."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from scrubwatch.aws import app as aws_app
from scrubwatch.aws.watchlists import PUSHED_KEY
from scrubwatch.cli.main import main
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, SETTINGS, LambdaContext, Stack, sample_event

pytestmark = IGNORE_EMPTY_METRICS


def write(path: Path, watches: list[dict[str, Any]], **settings: Any) -> Path:
    data = {"settings": {**SETTINGS, **settings}, "watches": watches}
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False))
    return path


def test_a_pushed_list_is_what_the_stack_checks_from_its_next_tick(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.pages["/new.html"] = page("New", "<main><p>Posted today.</p></main>")
    watchlist([{"id": "bundled", "url": site.url("/old.html")}])  # what the layer carries
    pushed = write(tmp_path / "edited.yaml", [{"id": "pushed", "url": site.url("/new.html")}])

    assert main(["push", "--bucket", aws.bucket, "-c", str(pushed)]) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"pushed 1 watch(es) from {pushed} to s3://{aws.bucket}/{PUSHED_KEY}")
    assert "the stack checks by it from its next tick" in out
    tick = handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    assert tick["due"] == 1
    assert aws.deliver(handlers.checker).failed == []  # the checker knows it too
    assert aws.state("pushed")["condition"] == "up"
    assert site.seen("/new.html") and not site.seen("/old.html")


def test_a_list_that_does_not_validate_is_not_pushed(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "watchlist.yaml"
    bad.write_text("watches:\n  - id: a\n    url: https://example.org/\n    every: often\n")

    assert main(["push", "--bucket", aws.bucket, "-c", str(bad)]) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{bad}:4: watches[0].every")
    assert aws.object_keys("watchlist/") == []


def test_push_without_a_stack_says_what_it_needs(
    aws: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = write(tmp_path / "w.yaml", [{"id": "a", "url": "https://example.org/"}])
    assert main(["push", "-c", str(listed)]) == 2
    assert capsys.readouterr().err.strip() == (
        "scrubwatch: push needs the stack: --stack NAME (or --bucket ITS_EVIDENCE_BUCKET)"
    )


def test_a_file_put_in_the_bucket_by_hand_is_passed_over_for_the_last_good_push(
    aws: Stack,
    watchlist: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchlist([{"id": "bundled", "url": "https://example.org/bundled"}])
    good = write(tmp_path / "w.yaml", [{"id": "good", "url": "https://example.org/good"}])
    assert main(["push", "--bucket", aws.bucket, "-c", str(good)]) == 0
    aws.s3.put_object(Bucket=aws.bucket, Key=PUSHED_KEY, Body=b'{"schema": "nonsense"}')

    report = aws_app.schedule()

    assert report.due == 1
    assert list(aws.queued()) == ["good"]
    assert "the pushed watch list is not valid" in caplog.text


def test_one_hundred_thousand_watches_are_scheduled_within_the_schedulers_memory() -> None:
    """bench/aws_scheduler.py in a process of its own (so its peak memory is the
    scheduler's, moto's storage included): a pushed list of 100,000 watches, a tick that
    reads no state and queues the quarter whose slot came round. docs/scaling.md has its
    numbers, and those of the first tick, which reads every state."""
    bench = Path(__file__).resolve().parents[2] / "bench" / "aws_scheduler.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--watches", "100000", "--quiet-only"],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    [tick] = [json.loads(line) for line in done.stdout.splitlines()]
    assert tick["states_read"] == 0
    assert 20_000 < tick["due"] < 30_000  # a quarter of an hour of a 1h every
    assert tick["peak_mb"] < 512
