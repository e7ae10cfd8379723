"""`scrubwatch check` delivers alerts by email and Slack, and refuses a bad email setup."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrubwatch.alerts import channels as publishers
from scrubwatch.alerts import slack
from scrubwatch.cli.main import main
from support import Page, Site, page

from .support import Sleeps, SmtpServer, Webhook

AD = page("Agency ad 1001", "<h1>Firmware Engineer (Urumqi)</h1><p>Posted by Lumen Optics.</p>")


def write_watchlist(path: Path, site: Site, email: dict[str, Any], **settings: Any) -> Path:
    site.set("/ads/1001.html", AD)
    site.set("/ads/1002.html", AD.replace("1001", "1002"))
    data = {
        "settings": {
            "allow_networks": ["127.0.0.1/32"],
            "retries": 0,
            "confirm_gone": 1,
            "email": email,
            **settings,
        },
        "watches": [
            {
                "id": "ad-1001",
                "name": "Agency ad 1001",
                "url": site.url("/ads/1001.html"),
                "notify": ["email", "slack"],
            },
            {
                "id": "ad-1002",
                "name": "Agency ad 1002",
                "url": site.url("/ads/1002.html"),
                "notify": ["slack"],
            },
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def check(config: Path, state: Path) -> int:
    return main(["check", "-c", str(config), "--state", str(state), "--force"])


def test_check_emails_and_posts_each_alert_once(
    tmp_path: Path,
    site: Site,
    smtp: SmtpServer,
    webhook: Webhook,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # settings.slack_webhook points nowhere; the environment variable wins over it.
    config = write_watchlist(
        tmp_path / "watchlist.yaml",
        site,
        smtp.settings(),
        slack_webhook=f"http://127.0.0.1:{closed_port}/not-this-one",
    )
    monkeypatch.setenv("SCRUBWATCH_SLACK_WEBHOOK", webhook.url)
    state = tmp_path / "state"

    assert check(config, state) == 0
    assert smtp.messages == [] and webhook.posts == []
    capsys.readouterr()

    site.set("/ads/1001.html", Page("gone", status=404))
    site.set("/ads/1002.html", Page("gone", status=410))
    assert check(config, state) == 0

    out = capsys.readouterr().out
    assert "Checked 2 watches in " in out and ": 2 pages gone." in out
    assert "[GONE] Agency ad 1001 now answers 404" in out  # the tag says GONE, once
    assert "not delivered" not in out
    assert [str(m.message["Subject"]) for m in smtp.messages] == [
        "[scrubwatch] GONE: Agency ad 1001 (404)"  # ad-1002 asks for Slack only
    ]
    assert sorted(p["blocks"][0]["text"]["text"] for p in webhook.delivered()) == [
        "GONE: Agency ad 1001",
        "GONE: Agency ad 1002",
    ]

    assert check(config, state) == 0
    assert len(smtp.messages) == 1 and len(webhook.posts) == 2


def test_a_failed_delivery_is_reported_and_sent_on_the_next_run(
    tmp_path: Path,
    site: Site,
    smtp: SmtpServer,
    webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    sleeps: Sleeps,
) -> None:
    monkeypatch.setattr(publishers, "post", functools.partial(slack.post, sleep=sleeps))
    config = write_watchlist(tmp_path / "watchlist.yaml", site, smtp.settings())
    monkeypatch.setenv("SCRUBWATCH_SLACK_WEBHOOK", webhook.url)
    state = tmp_path / "state"
    assert check(config, state) == 0

    webhook.status = 503
    site.set("/ads/1001.html", Page("gone", status=404))
    assert check(config, state) == 0

    captured = capsys.readouterr()
    assert "1 event not delivered; it will be sent on the next run." in captured.out
    assert "Slack delivery failed (HTTP 503" in caplog.text
    assert len(smtp.messages) == 1 and webhook.delivered() == []

    webhook.status = 200
    assert check(config, state) == 0

    assert [p["blocks"][0]["text"]["text"] for p in webhook.delivered()] == ["GONE: Agency ad 1001"]
    assert len(smtp.messages) == 1
    out = capsys.readouterr().out
    assert "not delivered" not in out
    assert "1 event from an earlier run sent now." in out


def test_password_env_naming_an_unset_variable_exits_2_naming_file_and_variable(
    tmp_path: Path,
    site: Site,
    smtp: SmtpServer,
    webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCRUBWATCH_SLACK_WEBHOOK", webhook.url)
    monkeypatch.delenv("SCRUBWATCH_TEST_UNSET_PASSWORD", raising=False)
    email = smtp.settings(username="alerts", password_env="SCRUBWATCH_TEST_UNSET_PASSWORD")
    config = write_watchlist(tmp_path / "watchlist.yaml", site, email)
    before = site.mark()

    assert check(config, tmp_path / "state") == 2

    err = capsys.readouterr().err
    assert str(config) in err
    assert "SCRUBWATCH_TEST_UNSET_PASSWORD" in err
    assert "password_env" in err
    assert err.count("\n") == 1  # one clear line, no traceback
    assert site.seen(since=before) == []  # refused before any page was fetched
    assert smtp.messages == []


def test_the_alert_and_history_show_the_chain_head(
    tmp_path: Path,
    site: Site,
    smtp: SmtpServer,
    webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCRUBWATCH_SLACK_WEBHOOK", webhook.url)
    config = write_watchlist(tmp_path / "watchlist.yaml", site, smtp.settings())
    state = tmp_path / "state"
    assert check(config, state) == 0
    site.set("/ads/1001.html", AD.replace("Urumqi", "Kashgar"))
    assert check(config, state) == 0
    out = capsys.readouterr().out

    assert main(["history", "ad-1001", "--json", "--state", str(state)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    head = rows[-1]["manifest_sha256"]
    warc = Path(rows[-1]["evidence"].removeprefix("file://"))
    manifest = warc.with_name(warc.name.removesuffix(".warc.gz") + ".manifest.json")
    assert head == hashlib.sha256(manifest.read_bytes()).hexdigest()
    [message] = smtp.messages
    body = message.message.get_content().replace("\r\n", "\n")
    assert f"          manifest sha256 {head}\n" in body
    assert f"    manifest sha256:   {head}\n" in out  # the console alert
    assert main(["history", "ad-1001", "--state", str(state)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert f"  manifest sha256 {head}  " in last
