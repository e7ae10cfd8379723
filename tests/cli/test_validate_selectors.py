"""`scrubwatch validate`: empty values, delivery, `--for aws` and `--check-selectors`
against a real local site."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrubwatch.cli.main import main
from support import Page, Site, page

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"allow_networks": ["127.0.0.1/32"], "retries": 0, "timeout": "5s"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCRUBWATCH_CONFIG", "SCRUBWATCH_STATE", "SCRUBWATCH_SLACK_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)


def write(path: Path, watches: list[dict[str, Any]], **settings: Any) -> Path:
    data = {"settings": {**LOCAL, **settings}, "watches": watches}
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def line_of(config: Path, key: str, index: int) -> int:
    """The line of ``key`` in watches[index] of a file `write` made (one `- ` per watch)."""
    lines = config.read_text("utf-8").splitlines()
    starts = [n for n, text in enumerate(lines) if text.startswith("- ")]
    start = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    for n in range(start, end):
        if lines[n].lstrip("- ").startswith(f"{key}:"):
            return n + 1
    raise AssertionError(f"no {key} in watches[{index}]")


def where(config: Path, key: str, index: int) -> str:
    """``FILE:LINE: watches[i].key``, as a problem line starts."""
    return f"{config}:{line_of(config, key, index)}: watches[{index}].{key}"


def jobs(*titles: str) -> str:
    lis = "".join(f'<li class="job">{t}</li>' for t in titles)
    return page("Careers", f'<div id="main"><ul id="jobs">{lis}</ul></div>')


# --- plain validate ------------------------------------------------------------------------


def test_a_selector_eaten_as_a_comment_fails_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "w.yaml"
    config.write_text("watches:\n  - url: https://a.example/\n    select: #jobs\n", "utf-8")

    assert main(["validate", "-c", str(config)]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{config}:3: watches[0].select: empty value: an unquoted '#' starts a YAML "
        'comment; quote the selector: select: "#jobs"'
    ]


def test_validate_refuses_a_channel_that_is_not_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "w.yaml"
    config.write_text(
        "watches:\n  - url: https://a.example/\n    notify: [email, slack]\n", "utf-8"
    )

    assert main(["validate", "-c", str(config)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{config}:3: watches[0].notify: 'email' is not configured: add settings.email "
        "(see README) or remove it from notify",
        f"{config}:3: watches[0].notify: 'slack' is not configured: add "
        "settings.slack_webhook (or set SCRUBWATCH_SLACK_WEBHOOK) or remove it from notify",
    ]


def test_validate_accepts_slack_configured_by_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "w.yaml"
    config.write_text("watches:\n  - url: https://a.example/\n    notify: [slack]\n", "utf-8")
    monkeypatch.setenv("SCRUBWATCH_SLACK_WEBHOOK", "https://hooks.slack.com/services/x")

    assert main(["validate", "-c", str(config)]) == 0
    assert "OK, 1 watch" in capsys.readouterr().out


def test_validate_refuses_an_unset_password_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "w.yaml"
    config.write_text(
        "settings:\n"
        "  email:\n"
        "    host: smtp.example.org\n"
        "    from: a@example.org\n"
        "    to: [desk@example.org]\n"
        "    password_env: SCRUBWATCH_TEST_SMTP_PASSWORD\n"
        "watches:\n  - url: https://a.example/\n",
        "utf-8",
    )
    monkeypatch.delenv("SCRUBWATCH_TEST_SMTP_PASSWORD", raising=False)

    assert main(["validate", "-c", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{config}:6: settings.email.password_env: the variable "
        "SCRUBWATCH_TEST_SMTP_PASSWORD is not set; export it or remove password_env"
    ]

    monkeypatch.setenv("SCRUBWATCH_TEST_SMTP_PASSWORD", "s3cret")
    assert main(["validate", "-c", str(config)]) == 0


def test_validate_for_aws_does_not_ask_for_command_line_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # On AWS the stack's SNS topic delivers email and Slack: settings.email is unused.
    config = tmp_path / "w.yaml"
    config.write_text(
        "defaults: {notify: [email]}\n"
        "watches:\n  - url: https://a.example/\n    notify: [email, slack]\n",
        "utf-8",
    )

    assert main(["validate", "--for", "aws", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "OK for AWS" in out

    # Still the same watch-list checks.
    config.write_text("watches:\n  - url: https://a.example/\n    select: #x\n", "utf-8")
    assert main(["validate", "--for", "aws", "-c", str(config)]) == 2


def test_validate_for_aws_refuses_a_timeout_no_checker_can_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A checker starts a fetch only with its whole timeout left: with more than it has,
    # every message would be requeued for ever and no watch checked.
    config = tmp_path / "w.yaml"
    config.write_text("settings:\n  timeout: 2m\nwatches:\n  - url: https://a.example/\n")
    assert main(["validate", "--for", "aws", "-c", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"{config}:2: settings.timeout: at most 60s on AWS (a checker has 120 s for a "
        "message, 15 of them kept to commit)\n"
    )
    assert main(["validate", "-c", str(config)]) == 0  # on the command line it is fine


def test_the_layer_build_validates_for_aws(tmp_path: Path) -> None:
    """The build must not refuse a list whose notify relies on SNS: the recipe's validate
    is `--for aws`, and that command passes such a list."""
    dry = subprocess.run(
        ["make", "-n", "build-ScrubwatchLayer", "ARTIFACTS_DIR=/nonexistent", "WATCHLIST=W"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = [ln for ln in dry.stdout.splitlines() if "scrubwatch.cli.main validate" in ln]
    args = line.split("scrubwatch.cli.main", 1)[1].split()
    config = write(tmp_path / "w.yaml", [{"url": "https://a.example/", "notify": ["email"]}])
    args = [str(config) if a == "W" else a for a in args]
    assert main(args) == 0, line


def test_the_shipped_watch_list_validates_as_shipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "-c", str(ROOT / "watchlist.yaml")]) == 0
    assert main(["validate", "--for", "aws", "-c", str(ROOT / "watchlist.yaml")]) == 0


# --- --check-selectors ------------------------------------------------------------------------


def run_check_selectors(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--check-selectors", "-c", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_selectors_reports_each_watch_and_fetches_each_page_once(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/careers.html", jobs("Optical Engineer", "Sales Manager, Urumqi"))
    site.set("/about.html", page("About", "<p>We make lenses.</p><p>Since 1999.</p>"))
    config = write(
        tmp_path / "w.yaml",
        [
            {"id": "jobs", "url": site.url("/careers.html"), "select": "#jobs", "items": "li"},
            {"id": "careers-main", "url": site.url("/careers.html"), "select": "#main"},
            {"id": "about", "url": site.url("/about.html")},
        ],
    )

    code, out, err = run_check_selectors(config, capsys)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{config}: valid, 3 watch(es); fetching each page once"
    assert lines[1] == (
        f"{where(config, 'url', 0)} (jobs): OK, select '#jobs': 2 line(s), items 'li': 2 item(s)"
    )
    assert lines[2].startswith(f"{where(config, 'url', 1)} (careers-main): OK, select '#main'")
    assert lines[3] == f"{where(config, 'url', 2)} (about): OK, the whole page: 2 line(s)"
    assert lines[4] == "Selectors: 3 OK, 0 matching nothing, 0 not fetched."
    # Two watches of one page: one request for it.
    assert len(site.seen("/careers.html")) == 1
    assert len(site.seen("/about.html")) == 1


def test_check_selectors_fails_on_a_selector_that_matches_nothing(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/careers.html", jobs("Optical Engineer"))
    config = write(
        tmp_path / "w.yaml",
        [
            {"id": "typo", "url": site.url("/careers.html"), "select": "#job-list"},
            {"id": "items", "url": site.url("/careers.html"), "select": "#jobs", "items": "li.x"},
            {"id": "fine", "url": site.url("/careers.html"), "items": "li.job"},
        ],
    )

    code, out, err = run_check_selectors(config, capsys)

    assert code == 2
    url = site.url("/careers.html")
    assert err.splitlines() == [
        f"{where(config, 'select', 0)}: '#job-list' matches nothing on {url}: the watch "
        "would read nothing; check the selector against the page",
        f"{where(config, 'items', 1)}: 'li.x' matches nothing inside '#jobs' on {url}: "
        "the watch would list no items; check the selector against the page (or render: "
        "browser, if scripts build the list)",
    ]
    assert f"{where(config, 'url', 2)} (fine): OK" in out
    assert out.splitlines()[-1] == "Selectors: 1 OK, 2 matching nothing, 0 not fetched."


def test_check_selectors_reports_pages_it_cannot_fetch_without_failing(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    # A page refused today says nothing about the watch list: it is reported, and `check`
    # reports it as an error if it lasts, but validate passes. A 404 is a mistyped URL.
    site.set("/careers.html", jobs("Optical Engineer"))
    forbidden = f"http://127.0.0.2:{site.port}/careers.html"  # not in allow_networks
    config = write(
        tmp_path / "w.yaml",
        [
            {"id": "refused", "url": forbidden, "select": "#jobs"},
            {"id": "fine", "url": site.url("/careers.html"), "select": "#jobs"},
        ],
    )

    code, out, err = run_check_selectors(config, capsys)

    assert code == 0
    problems = err.splitlines()
    assert re.match(
        rf"^{re.escape(str(config))}:{line_of(config, 'url', 0)}: watches\[0\].url: "
        rf"could not fetch "
        rf"{re.escape(forbidden)} \(forbidden_address: .+\); selectors not checked$",
        problems[0],
    ), problems[0]
    assert len(problems) == 1
    assert out.splitlines()[-1] == (
        "Selectors: 1 OK, 0 matching nothing, 1 not fetched. "
        "Pages not fetched are not counted as watch-list problems."
    )
    assert site.seen("/careers.html")[0].host == f"127.0.0.1:{site.port}"


def test_check_selectors_on_a_page_that_is_not_html(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/notes.txt", Page("#jobs\nnot html\n", content_type="text/plain"))
    config = write(
        tmp_path / "w.yaml",
        [
            {"id": "notes", "url": site.url("/notes.txt"), "select": "#jobs"},
            {"id": "whole", "url": site.url("/notes.txt")},
        ],
    )

    code, out, err = run_check_selectors(config, capsys)

    assert code == 2
    assert err.splitlines() == [
        f"{where(config, 'select', 0)}: {site.url('/notes.txt')} is not HTML (text/plain), "
        "so select cannot match anything; remove select to watch the whole text"
    ]
    assert f"{where(config, 'url', 1)} (whole): OK, the whole page: 2 line(s)" in out


def test_validate_without_check_selectors_fetches_nothing(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "w.yaml", [{"url": site.url("/careers.html"), "select": "#x"}])
    assert main(["validate", "-c", str(config)]) == 0
    assert site.seen() == []


def test_check_selectors_runs_as_a_command(tmp_path: Path, site: Site) -> None:
    site.set("/careers.html", jobs("Optical Engineer"))
    config = write(tmp_path / "w.yaml", [{"url": site.url("/careers.html"), "select": "#nope"}])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrubwatch.cli.main",
            "validate",
            "--check-selectors",
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "'#nope' matches nothing" in proc.stderr


def test_check_selectors_fails_on_a_url_that_answers_404(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "w.yaml", [{"id": "typo", "url": site.url("/carers.html")}])

    code, out, err = run_check_selectors(config, capsys)

    assert code == 2
    assert (
        err == f"{where(config, 'url', 0)}: {site.url('/carers.html')} answers 404: check the URL\n"
    )
    assert out.splitlines()[-1] == (
        "Selectors: 0 OK, 0 matching nothing, 0 not fetched, 1 URL(s) answering 404/410."
    )
