"""`scrubwatch check -v` and `-vv` never print a secret: not the Slack webhook's URL (its
path is the token), not the SMTP password, not a proxy's password, whoever logs them."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.smtp import AuthResult, LoginPassword
from alerts.support import LoopbackController, Mailbox, Webhook, email_settings
from pytest_httpserver import HTTPServer
from support import Page, Site, page
from support.command import SCRUBWATCH

HOOK_TOKEN = "hook-token-7d1f0c2e9b"
SMTP_PASSWORD = "smtp-password-4a8e61"
PROXY_PASSWORD = "proxy-password-93c5d0"
SECRETS = (HOOK_TOKEN, SMTP_PASSWORD, PROXY_PASSWORD)


class SecretWebhook(Webhook):
    PATH = f"/services/T0SCRUB/B0WATCH/{HOOK_TOKEN}"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[str, int, Mailbox]]:
    mailbox = Mailbox()
    controller = LoopbackController(
        mailbox, hostname="127.0.0.1", port=0, authenticator=_login, auth_require_tls=False
    )
    controller.start()
    try:
        yield "127.0.0.1", controller.port, mailbox
    finally:
        controller.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(config: Path, verbosity: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [SCRUBWATCH, "check", "--force", verbosity, "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_no_secret_is_logged(
    tmp_path: Path,
    site: Site,
    second_server: HTTPServer,
    smtp_with_login: tuple[str, int, Mailbox],
    verbosity: str,
) -> None:
    webhook = SecretWebhook(second_server)
    host, port, mailbox = smtp_with_login
    site.set("/ad.html", page("Agency ad", "<h1>Firmware Engineer</h1>"))
    proxy = f"http://desk:{PROXY_PASSWORD}@127.0.0.1:{_closed_port()}"
    watchlist = {
        "settings": {
            "allow_networks": ["127.0.0.1/32"],
            "retries": 0,
            "confirm_gone": 1,
            "email": email_settings(host, port, username="desk", password_env="SMTP_PASS"),
        },
        "watches": [
            {"id": "ad", "url": site.url("/ad.html"), "notify": ["email", "slack"]},
            # Fails on every check, through a proxy that refuses the connection.
            {"id": "via-proxy", "url": site.url("/ad.html"), "proxy": proxy},
        ],
    }
    config = tmp_path / "watchlist.yaml"
    config.write_text(yaml.safe_dump(watchlist), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUBWATCH_")}
    env.update(SCRUBWATCH_SLACK_WEBHOOK=webhook.url, SMTP_PASS=SMTP_PASSWORD)

    shown = _run(config, verbosity, env)
    site.set("/ad.html", Page("gone", status=404))
    shown += _run(config, verbosity, env)

    # The alert went out, logging in and posting with the secrets...
    assert len(webhook.delivered()) == 1 and len(mailbox.messages) == 1
    assert mailbox.messages[0].login == f"desk:{SMTP_PASSWORD}"
    # ...which no line shows.
    for secret in SECRETS:
        assert secret not in shown, (secret, shown)
    httpx_lines = [line for line in shown.splitlines() if line.startswith("INFO httpx:")]
    if verbosity == "-v":
        assert httpx_lines == [], shown  # the libraries' lines only with -vv
    else:
        # The request line is there, with the webhook's path hidden.
        (post,) = [line for line in httpx_lines if "POST" in line]
        assert "/services/" not in post and "***" in post, post


def test_secrets_nobody_named_are_hidden_by_their_shape_tracebacks_included() -> None:
    from scrubwatch.cli.main import _Redactor

    redactor = _Redactor()
    redactor.add(SMTP_PASSWORD)
    try:
        raise ConnectionError(f"proxy http://desk:{PROXY_PASSWORD}@10.0.0.1:3128 refused")
    except ConnectionError:
        record = logging.LogRecord(
            "httpx",
            logging.ERROR,
            __file__,
            1,
            "POST %s failed (%s)",
            (f"https://hooks.slack.com/services/T0SCRUB/B0WATCH/{HOOK_TOKEN}", SMTP_PASSWORD),
            sys.exc_info(),
        )

    assert redactor.filter(record)
    shown = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)

    assert "Traceback" in shown
    for secret in (*SECRETS, "T0SCRUB"):
        assert secret not in shown, shown
    assert "POST https://hooks.slack.com/*** failed (***)" in shown
    assert "proxy http://***@10.0.0.1:3128 refused" in shown
