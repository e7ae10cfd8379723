"""Shared test fixtures. Every server in these tests listens on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from support import Harness, Listener, RawServer, Site, serving


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


@pytest.fixture
def second_server() -> Iterator[HTTPServer]:
    """Another HTTP server on 127.0.0.1, beside the watched site's: a Slack webhook, a
    fake of the Internet Archive's API."""
    with serving(HTTPServer(host="127.0.0.1", port=0)) as server:
        yield server


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    """The scripted watched site (tests/support/web.py)."""
    return Site(httpserver)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Makes engine harnesses, each with its own state folder, closed after the test."""
    made: list[Harness] = []

    def make(watches: list[dict[str, Any]], **kwargs: Any) -> Harness:
        h = Harness(tmp_path / f"state{len(made)}", watches, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


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
