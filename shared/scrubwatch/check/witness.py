"""An independent witness: the Internet Archive's Save Page Now 2 captures the page too.

A copy kept by a third party answers "you made that up" better than our own WARC. Captures
are asked on a first sighting, on a change, and when a page is declared gone (with
``capture_all=1``, so the 404 itself is archived). SPN2 allows a few captures a minute;
requests are spaced accordingly, and a job is polled for a bounded time. A capture older
than our request (SPN2 may hand back a recent one) does not count as archived.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("scrubwatch")


@dataclass(frozen=True)
class Capture:
    status: str  # archived, stale, failed
    job_id: str | None = None
    timestamp: str | None = None  # SPN2's 14-digit UTC timestamp
    url: str | None = None  # where the capture can be seen
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "service": "wayback",
            "status": self.status,
            "job_id": self.job_id,
            "timestamp": self.timestamp,
            "url": self.url,
            "detail": self.detail,
        }


class Wayback:
    def __init__(
        self,
        endpoint: str = "https://web.archive.org",
        access_key: str | None = None,
        secret_key: str | None = None,
        per_minute: float = 4,
        poll_every: float = 5.0,
        poll_for: float = 120.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.per_minute = per_minute
        self.poll_every = poll_every
        self.poll_for = poll_for
        headers = {"Accept": "application/json"}
        if access_key and secret_key:
            headers["Authorization"] = f"LOW {access_key}:{secret_key}"
        self.client = client or httpx.AsyncClient(timeout=30, headers=headers)
        self._gate = asyncio.Lock()
        # time.monotonic() of the last submission (a caller may carry it from run to run).
        self.last_asked = 0.0

    @classmethod
    def from_env(cls, endpoint: str, per_minute: float) -> Wayback:
        """Keys from SCRUBWATCH_WAYBACK_ACCESS_KEY/_SECRET_KEY, or on AWS from the SSM
        SecureString that WAYBACK_KEYS_PARAM names (``ACCESS:SECRET``); none is fine."""
        access = os.environ.get("SCRUBWATCH_WAYBACK_ACCESS_KEY")
        secret = os.environ.get("SCRUBWATCH_WAYBACK_SECRET_KEY")
        param = os.environ.get("WAYBACK_KEYS_PARAM")
        if not (access and secret) and param:
            from aws_lambda_powertools.utilities import parameters

            value = str(parameters.get_parameter(param, decrypt=True, max_age=300))
            access, _, secret = value.partition(":")
        return cls(endpoint, access, secret, per_minute=per_minute)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _spaced(self) -> None:
        """At most ``per_minute`` submissions a minute, across the whole run."""
        async with self._gate:
            wait = self.last_asked + 60.0 / self.per_minute - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.last_asked = time.monotonic()

    async def capture(self, url: str, capture_all: bool = False) -> Capture:
        asked = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        await self._spaced()
        try:
            form = {"url": url, "capture_all": "1" if capture_all else "0"}
            reply = await self.client.post(f"{self.endpoint}/save", data=form)
            data = reply.json() if reply.status_code < 400 else {}
            job = data.get("job_id")
            if not job:
                return Capture("failed", detail=f"HTTP {reply.status_code}: {reply.text[:200]}")
            deadline = time.monotonic() + self.poll_for
            while True:
                status = (await self.client.get(f"{self.endpoint}/save/status/{job}")).json()
                if status.get("status") != "pending" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(self.poll_every)
        except (httpx.HTTPError, ValueError) as exc:
            return Capture("failed", detail=f"{type(exc).__name__}: {exc}")
        if status.get("status") != "success":
            detail = str(status.get("message") or status.get("status"))
            return Capture("failed", job_id=job, detail=detail)
        stamp = str(status.get("timestamp") or "")
        original = status.get("original_url") or url
        archive = f"https://web.archive.org/web/{stamp}/{original}"
        if stamp < asked:
            return Capture("stale", job, stamp, archive, "capture is older than the request")
        return Capture("archived", job, stamp, archive)
