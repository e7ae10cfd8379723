"""Posting to a Slack incoming webhook: 429 Retry-After honoured, 5xx retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


class SlackDeliveryFailed(Exception):
    pass


def post(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = 30.0,
) -> None:
    """Posts once; waits out 429 Retry-After and retries 5xx and network errors."""
    last = ""
    for attempt in range(attempts):
        final = attempt == attempts - 1
        try:
            reply = client.post(url, json=payload)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            if not final:
                sleep(min(max_wait, 0.5 * 2**attempt))
            continue
        if reply.status_code < 300:
            return
        last = f"HTTP {reply.status_code}: {reply.text[:200]}"
        if reply.status_code == 429:
            retry_after = reply.headers.get("retry-after", "1")
            if not final:
                sleep(min(max_wait, float(retry_after) if retry_after.isdigit() else 1.0))
        elif reply.status_code >= 500:
            if not final:
                sleep(min(max_wait, 0.5 * 2**attempt))
        else:
            break  # 4xx other than 429: the payload or the hook is wrong; retrying won't help
    raise SlackDeliveryFailed(last)
