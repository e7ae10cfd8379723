"""Helpers for the tests in this folder (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # "user:password" the client authenticated with, if any


class Mailbox:
    """The aiosmtpd handler: keeps each message before answering 250 to the DATA command."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data
        who = f"{login.login.decode()}:{login.password.decode()}" if login else None
        with self._lock:
            self.messages.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, who)
            )
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd on 127.0.0.1 and a port the kernel picks (no race for a free port)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def email_settings(host: str, port: int, **extra: Any) -> dict[str, Any]:
    """``settings.email`` as a watch list gives it; ``starttls: false`` for a local server."""
    return {
        "host": host,
        "port": port,
        "from": "scrubwatch@newsroom.example",
        "to": ["desk@newsroom.example", "reporter@newsroom.example"],
        "starttls": False,
        "timeout": "5s",
        **extra,
    }


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox

    @property
    def messages(self) -> list[Received]:
        return self.mailbox.messages

    def settings(self, **extra: Any) -> dict[str, Any]:
        return email_settings(self.host, self.port, **extra)


@contextlib.contextmanager
def serving_smtp(mailbox: Mailbox, **options: Any) -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 delivering into ``mailbox``, for the block's time."""
    controller = LoopbackController(mailbox, hostname="127.0.0.1", port=0, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, mailbox)
    finally:
        controller.stop()


def _accept(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and data.password == b"s3cret-from-env"
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


class Webhook:
    """A Slack incoming webhook answering ``status`` (200 by default); logs every post."""

    PATH = "/services/T000/B000/XXXX"

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.status = 200
        self.posts: list[tuple[int, dict[str, Any]]] = []  # (answer, payload), every request
        self._lock = threading.Lock()
        server.expect_request(self.PATH, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return str(self.server.url_for(self.PATH))

    def _handle(self, request: Request) -> Response:
        with self._lock:
            status = self.status
            self.posts.append((status, json.loads(request.get_data())))
        return Response("ok" if status < 300 else "server_error", status=status)

    def delivered(self) -> list[dict[str, Any]]:
        """Payloads answered with success: what Slack would have shown."""
        with self._lock:
            return [payload for status, payload in self.posts if status < 300]


class Sleeps:
    """Stands in for ``time.sleep`` in ``slack.post``: records each wait, waits not at all."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
