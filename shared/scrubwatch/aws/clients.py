"""The boto3 clients of a Lambda container, each made once, at first use, and kept.

A client costs tens of milliseconds and a few MB to make (its service model is loaded and
parsed), and a warm container serves many invocations: making them per call or per message
spent that every time. botocore clients are thread safe.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_made: dict[tuple[str, int], Any] = {}


def client(service: str, config: Config | None = None) -> Any:
    """The container's client for ``service`` (with ``config``, a module constant)."""
    key = (service, id(config))
    if key not in _made:
        _made[key] = boto3.client(service, config=config)
    return _made[key]


def made() -> list[Any]:
    """The clients made so far (tests hook into them)."""
    return list(_made.values())


def forget() -> None:
    """A cold start (tests): the next use makes each client afresh."""
    _made.clear()
