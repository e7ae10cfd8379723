"""Local stand-ins for the alert channels, all on 127.0.0.1.

* ``smtp``: a real SMTP server (aiosmtpd) that keeps every message it accepts.
* ``webhook``: a Slack incoming webhook (pytest-httpserver) whose answers a test scripts.
* ``site`` and ``harness`` come from tests/conftest.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from .support import (
    Mailbox,
    Sleeps,
    SmtpServer,
    Webhook,
    _accept,
    serving_smtp,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    # starttls: false in these tests; never on a real server.
    with serving_smtp(Mailbox(), authenticator=_accept, auth_require_tls=False) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def slack_server(second_server: HTTPServer) -> HTTPServer:
    return second_server


@pytest.fixture
def webhook(slack_server: HTTPServer) -> Webhook:
    return Webhook(slack_server)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
