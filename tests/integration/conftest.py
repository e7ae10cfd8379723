"""Fixtures for the integration tests (`site` and `harness` are in tests/conftest.py);
every server listens on a loopback address."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .helpers import Listener, RawServer


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(reply: Callable[[bytes, Any], None], host: str = "127.0.0.1") -> RawServer:
        server = RawServer(reply, host)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def listener() -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(host: str, port: int = 0) -> Listener:
        sock = Listener(host, port)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close()
