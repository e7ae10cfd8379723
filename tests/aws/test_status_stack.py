"""`scrubwatch status` against a deployed stack (moto), and a stack that is not there."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from scrubwatch.cli.main import main
from support import Site

from .support import IGNORE_EMPTY_METRICS, Stack, name_stack
from .test_pipeline import run_until_gone

pytestmark = IGNORE_EMPTY_METRICS


def test_status_of_a_deployed_stack(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_until_gone(aws, handlers, site, watchlist, clock)
    config = os.environ["WATCHLIST_PATH"]
    capsys.readouterr()

    assert main(["status", "--json", "--table", aws.table, "-c", config]) == 0

    rows = {r["watch"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert sorted(rows) == ["notice-a", "notice-b", "notice-c"]
    assert (rows["notice-a"]["state"], rows["notice-a"]["reason"]) == ("gone", "http_404")
    assert rows["notice-a"]["last_event"]["kind"] == "gone"
    assert rows["notice-b"]["state"] == "ok"
    assert rows["notice-b"]["last_event"]["kind"] == "changed"
    assert all(r["last_check"] for r in rows.values())

    # The same through the stack's name, as a table.
    name_stack(aws)
    assert main(["status", "--stack", "scrubwatch", "-c", config]) == 0
    out, _, footnote = capsys.readouterr().out.partition("\n\n")
    table = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "gone (http_404)" in table["notice-a"]
    assert table["notice-c"].split()[1] == "ok"
    # A quiet check writes nothing on AWS: the table says what its columns then mean.
    assert "NEXT DUE is the watch's slot" in footnote


@pytest.mark.parametrize("command", [["status"], ["history", "notice-a"]])
def test_a_stack_that_does_not_exist_is_one_line(
    aws: Stack,
    watchlist: Callable[..., Any],
    site: Site,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(watchlist([{"id": "notice-a", "url": site.url("/a.html")}]))

    assert main([*command, "--stack", "no-such-stack", "-c", config]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "scrubwatch: no stack named no-such-stack in us-east-1; check the name, "
        "or set AWS_DEFAULT_REGION to the region it was deployed in"
    ]


def test_a_table_that_does_not_exist_is_one_line(
    aws: Stack, watchlist: Callable[..., Any], site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(watchlist([{"id": "notice-a", "url": site.url("/a.html")}]))

    assert main(["status", "--table", "no-such-table", "-c", config]) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    # Its first read (the contacts, or the states) is refused: said once, in one line.
    assert line.startswith("scrubwatch: AWS refused ")
    assert ": ResourceNotFoundException: Requested resource not found;" in line
    assert "--table" in line
