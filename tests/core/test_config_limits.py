"""Limits on the watch list: its size, its number of values (aliases and keys included)
and the length of every problem line, so that no file can take the memory or the
terminal (issue 10, M3); and the same for the lines `validate` prints."""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.check.watchlist_file import load_watchlist
from scrubwatch.core.config import ConfigError, parse_watchlist
from scrubwatch.core.exchange import Fetch

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$")
MB = 1024 * 1024


def problems_of(text: str, path: str = "wl.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_watchlist(text, path)
    return info.value.problems


def anchors(levels: int, key: bool) -> str:
    """``&a`` nine x's, ``&b`` nine ``*a``, ...: the last expands to 9**levels values.

    With ``key``, every anchor is defined inside a complex key, so no value holds one.
    """
    names = "abcdefghij"[:levels]
    lists = ["[x,x,x,x,x,x,x,x,x]"]
    lists += [f"[{','.join([f'*{p}'] * 9)}]" for p in names]
    if key:
        return "".join(f"? &{n} {items}\n: 1\n" for n, items in zip(names, lists, strict=False))
    return (
        "x: [" + ", ".join(f"&{n} {items}" for n, items in zip(names, lists, strict=False)) + "]\n"
    )


# --- the node limit covers keys ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # 9**6 = 531,441 values in 200-odd bytes: without the key counted, an
        # "unknown key" line of 2.8 MB (and at 9**8, 1.7 GB and a 351 MB line).
        pytest.param(anchors(6, key=True), id="anchors-in-complex-keys"),
        # The values hold 66,000 (*e is 9**5); the key three times as many again.
        pytest.param(anchors(5, key=False) + "? [*e, *e, *e]\n: 1\n", id="aliases-as-block-key"),
        pytest.param(anchors(5, key=False) + "y: {[*e, *e, *e]: 1}\n", id="aliases-as-flow-key"),
        pytest.param(
            anchors(5, key=False) + "? {k: [*e, *e], l: {*e: 1}}\n: 1\n", id="aliases-deep-in-key"
        ),
        pytest.param(
            anchors(5, key=False)
            + "watches:\n  - url: https://a.example/\n    ? [*e, *e, *e]\n    : 1\n",
            id="aliases-as-key-inside-a-watch",
        ),
    ],
)
def test_aliases_in_a_mapping_key_count_against_the_node_limit(text: str) -> None:
    started = time.monotonic()
    problems = problems_of(text)
    assert len(problems) == 1, [p[:300] for p in problems]
    assert "more than 200000 values" in problems[0], problems[0][:300]
    assert len(problems[0]) < 200
    assert time.monotonic() - started < 10


def test_a_key_that_contains_itself_is_a_problem_not_a_crash() -> None:
    (problem,) = problems_of("? &a [x, *a]\n: 1\n")
    assert "refers to itself" in problem


def test_an_ordinary_complex_key_is_still_an_unknown_key() -> None:
    (problem,) = problems_of("? [a, b]\n: c\n")
    assert problem == "wl.yaml:1: ['a', 'b']: unknown key (check the spelling)"


def test_values_past_the_limit_are_refused_before_the_file_is_held_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 500,000 values in 1 MB: composing them all (as before) held 160 MB and more, and
    # 10 MB of them took 1.6 GB. The file is read as a stream of events and refused
    # before it is composed.
    import yaml

    def compose(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed: every value held in memory at once")

    monkeypatch.setattr(yaml, "compose", compose)
    text = "watches:\n" + "  - x\n" * 500_000
    assert problems_of(text) == [
        "wl.yaml:399999: YAML syntax: more than 200000 values (a list for a stack? "
        "`scrubwatch push` takes more)"
    ]


def test_a_long_file_of_few_values_is_not_refused() -> None:
    # The count is of values, not of characters.
    name = "n" * 400_000
    wl = parse_watchlist(f"watches:\n  - url: https://a.example/\n    name: {name}\n")
    assert wl.watches[0].name == name


# --- the size of the file ----------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    with path.open("wb") as file:
        file.truncate(200 * MB)  # sparse: costs no disk and reads as NULs
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            load_watchlist(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.problems == [
        f"{path} is 200.0 MB; the limit is 10 MB (10,000 watches are about 2 MB; for a "
        "stack, `scrubwatch push` takes up to 100 MB): is it the right file?"
    ]
    assert peak < 30 * MB, f"peak {peak / MB:.0f} MB: the whole file was read"


def test_a_file_just_over_the_limit_does_not_read_as_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"#" * (10 * MB + 1))
    with pytest.raises(ConfigError) as info:
        load_watchlist(path)
    assert info.value.problems[0].startswith(f"{path} is 10.1 MB; the limit is 10 MB")


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"watches: []\n" + b"#" * (10 * MB - 13) + b"\n")
    assert path.stat().st_size == 10 * MB
    assert load_watchlist(path).watches == ()


def test_text_over_the_limit_is_refused_by_parse_watchlist_too() -> None:
    (problem,) = problems_of("#" + "é" * (5 * MB))  # 5 M characters, 10 MB of UTF-8
    assert problem.startswith("wl.yaml is 10.1 MB; the limit is 10 MB")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_an_endless_stream_is_cut_at_the_limit(tmp_path: Path) -> None:
    # `-c /dev/zero`, or a pipe that never ends: only the limit is read. The writer keeps
    # the pipe open after 11 MB; reading to the end would wait for it.
    fifo = tmp_path / "w.yaml"
    os.mkfifo(fifo)
    release = threading.Event()

    def write() -> None:
        with fifo.open("wb") as pipe:
            try:
                pipe.write(b"#" * (11 * MB))
                pipe.flush()
            except BrokenPipeError:
                return
            release.wait(10)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError) as info:
            load_watchlist(fifo)
    finally:
        release.set()
        writer.join(15)
    assert info.value.problems == [f"{fifo} is over 10 MB, the limit: is it the right file?"]
    assert time.monotonic() - started < 5


# --- every problem is one short line -----------------------------------------------------

HUGE = "z" * 100_000


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # A key of over 1024 characters must be written as `? key`.
        pytest.param(f"? {HUGE}\n: 1\n", "'zzz", id="unknown-key"),
        pytest.param(f"settings:\n  ? {HUGE}\n  : 1\n", "settings.'zzz", id="unknown-nested-key"),
        pytest.param(f"? {HUGE}\n: 1\n? {HUGE}\n: 2\n", "'zzz", id="duplicate-key"),
        pytest.param(f"settings:\n  timeout: {HUGE}\n", "settings.timeout", id="duration"),
        pytest.param(f"settings:\n  max_bytes: {HUGE}\n", "settings.max_bytes", id="size"),
        pytest.param(
            f"watches:\n  - url: https://a.example/\n    select: 'a[[{HUGE}'\n",
            "watches[0].select",
            id="selector",
        ),
        pytest.param(
            f"watches:\n  - url: https://a.example/\n    ignore: ['({HUGE}']\n",
            "watches[0].ignore[0]",
            id="regex",
        ),
        pytest.param(
            f"watches:\n  - url: https://a.example/{HUGE} x\n", "watches[0].url", id="url"
        ),
        pytest.param(f"watches:\n  - url: ftp://{HUGE}/\n", "watches[0].url", id="url-scheme"),
        pytest.param(
            f"watches:\n  - id: '{HUGE} '\n    url: https://a.example/\n", "watches[0].id", id="id"
        ),
        pytest.param(
            f"settings:\n  allow_networks: ['{HUGE}']\n", "settings.allow_networks", id="cidr"
        ),
        pytest.param(f"settings:\n  timeout: !!float {HUGE}\n", "YAML syntax", id="yaml-tag"),
        pytest.param(
            f"watches:\n  - url: https://a.example/\n    select: #{HUGE}\n",
            "watches[0].select",
            id="comment",
        ),
    ],
)
def test_a_huge_value_makes_a_short_problem_line(text: str, field: str) -> None:
    problems = problems_of(text)
    for problem in problems:
        # Cut where the value is quoted (200 characters), not only by the cap on a line.
        assert len(problem) < 500, f"{len(problem)} characters: {problem[:300]}"
    match = LINE.match(problems[-1])
    assert match, problems[-1][:300]
    assert match["field"].startswith(field), problems[-1][:300]


def test_a_quoted_value_is_cut_with_an_ellipsis_and_keeps_its_hint() -> None:
    (problem,) = problems_of(f"settings:\n  timeout: {HUGE}\n")
    assert problem.startswith("wl.yaml:2: settings.timeout: invalid duration 'zzz")
    assert "z…: use e.g. 30s, 15m, 6h, 1h30m or 1d" in problem
    assert len(problem) < 300


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ('"a\\nb"', "a\nb"),
        ('"a\\rb"', "a\rb"),
        ('"a\\u2028b"', "a\u2028b"),
        ('"a\\e[31mb"', "a\x1b[31mb"),
        ('"a\\x85b"', "a\x85b"),
    ],
)
def test_a_key_with_a_line_break_or_escape_stays_on_one_line(written: str, key: str) -> None:
    (problem,) = problems_of(f"{written}: 1\n")
    assert problem.splitlines() == [problem]
    assert "\x1b" not in problem
    # The key is shown as Python writes it, escapes and all.
    assert problem == f"wl.yaml:1: {key!r}: unknown key (check the spelling)"


def test_any_problem_line_is_cut_whoever_made_it() -> None:
    error = ConfigError(["x" * 5000, "a\nb"])
    assert [len(p) for p in error.problems] == [1000, 3]
    assert error.problems[0].endswith("…")
    assert error.problems[1] == "a b"


def test_past_500_problems_the_rest_are_counted_not_listed() -> None:
    text = "watches:\n" + "".join(f"  - url: ftp://a{i}.example/\n" for i in range(700))
    problems = problems_of(text)
    assert len(problems) == 501
    assert problems[499].startswith("wl.yaml:501: watches[499].url:")
    assert problems[500] == (
        "wl.yaml:502: ...: 200 more problems from this line on are not shown; "
        "fix the ones above first"
    )


# --- what `validate` prints is bounded too ------------------------------------------------


def _validate_report(watch_yaml: str, fetch: Fetch) -> str:
    from scrubwatch.cli.validate import _report

    wl = parse_watchlist("watches:\n  - id: w\n    url: https://a.example/\n" + watch_yaml)
    return _report(wl, 0, wl.watches[0], fetch).line


def _page(final_url: str = "https://a.example/", **fields: Any) -> Fetch:
    page: dict[str, Any] = {
        "status": 200,
        "headers": [("content-type", "text/html")],
        "content": b"<html><body><p>x</p></body></html>",
    }
    return Fetch(
        url="https://a.example/",
        final_url=final_url,
        fetched_at=datetime.now(UTC),
        **{**page, **fields},
    )


def test_validate_cuts_a_url_a_site_redirected_to() -> None:
    # The site chose this address: any length, escape sequences included.
    final = "https://a.example/" + "\x1b[2J" + "p" * 100_000
    line = _validate_report("    select: '#jobs'\n", _page(final))
    assert len(line) < 600, len(line)
    assert "\x1b" not in line
    assert line.endswith(
        "(redirected): the watch would read nothing; check the selector against the page"
    )


def test_validate_cuts_a_long_selector_and_keeps_the_hint() -> None:
    select = " ".join(["div"] * 20_000)
    line = _validate_report(f"    select: '{select}'\n", _page())
    assert len(line) < 600, len(line)
    assert line.endswith("the watch would read nothing; check the selector against the page")


def test_validate_cuts_an_error_detail_and_keeps_the_hint() -> None:
    fetch = _page(status=None, error="connect", error_detail="refused\n" + "d" * 100_000)
    line = _validate_report("", fetch)
    assert len(line) < 600, len(line)
    assert "\n" not in line
    assert line.endswith("; selectors not checked")


def test_validate_prints_a_delivery_problem_as_one_bounded_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scrubwatch.cli.validate import cmd_validate

    name = "V" * 100_000
    wl = parse_watchlist(
        "settings:\n  email: {host: smtp.example.org, from: a@example.org, to: [d@example.org],"
        f" password_env: {name}}}\nwatches: []\n"
    )
    assert cmd_validate(argparse.Namespace(target="local", check_selectors=False), wl) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert len(lines[0]) <= 1000


def test_plain_keys_do_not_count_against_the_limit() -> None:
    # The limit is one of values: a plain key cannot expand. (Counting keys too made
    # 10,000 watches of 10 keys each, a 2 MB file, too many.)
    text = "x:\n" + "".join(f"  k{i}: {i}\n" for i in range(110_000))
    assert problems_of(text) == ["wl.yaml:1: x: unknown key (check the spelling)"]


def test_push_takes_a_list_over_the_local_limit(tmp_path: Path) -> None:
    """60,000 watches (240,000 values): over what `check` takes, within `push`'s."""
    from scrubwatch.core.config import LARGE

    text = "watches:\n" + "".join(
        f"  - id: w{i:06d}\n    url: https://h{i // 40}.example.org/{i}\n    every: 1h\n"
        for i in range(60_000)
    )
    path = tmp_path / "big.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="scrubwatch push"):
        load_watchlist(path)
    assert len(load_watchlist(path, LARGE).watches) == 60_000
