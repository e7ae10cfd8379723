"""Shared test fixtures. Every server in these tests listens on 127.0.0.1 only."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)
