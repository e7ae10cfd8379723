"""Fetching pages with httpx: hop-by-hop redirects, vetted addresses, bounded bodies.

Each host gets its own small connection pool. httpx's single pool spends most of its
time in bookkeeping once dozens of requests are in flight; a pool per host holds at most
``per_host`` connections, so that cost stays small and the per-host limit is the pool size.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .decode import BodyTooLarge, decode_content
from .netguard import (
    ForbiddenAddress,
    GuardedBackend,
    IPNetwork,
    NameNotFound,
    ResolveFailed,
    Resolver,
    SystemResolver,
)

MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
_TRANSIENT_STATUS = {429, 502, 503, 504}
# Longer waits than this are not worth holding a run for; the next run tries again.
_MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Hop:
    url: str
    status: int
    location: str | None


@dataclass
class Fetch:
    """One fetch of one URL: what was sent, what came back, or why nothing did."""

    url: str
    final_url: str
    fetched_at: datetime
    status: int | None = None
    reason_phrase: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # exactly as received (content-encoded, de-chunked)
    content: bytes = b""  # content-encoding undone
    hops: list[Hop] = field(default_factory=list)
    peer: str | None = None
    elapsed: float = 0.0
    error: str | None = None  # timeout, connect, dns, dns_error, forbidden_address, ...
    error_detail: str = ""

    @property
    def header_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers}


@dataclass(frozen=True)
class FetchOptions:
    user_agent: str
    timeout: float
    max_bytes: int
    concurrency: int
    per_host: int
    retries: int
    allow_networks: Sequence[IPNetwork] = ()
    backoff: float = 0.5


class _HostPools(httpx.AsyncBaseTransport):
    """Routes each origin to its own pool, all sharing one guarded network backend."""

    def __init__(self, backend: GuardedBackend, per_host: int, timeout: float) -> None:
        self._backend = backend
        self._per_host = per_host
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._ssl = httpx.create_ssl_context()
        self._keepalive = max(5.0, timeout)

    def _pool(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = httpx.AsyncHTTPTransport(trust_env=False)
            # httpx does not take a network backend; its pool does. Replacing the pool is
            # the one place we reach inside httpx, and it is what puts the address check
            # on the socket itself.
            pool._pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl,
                max_connections=self._per_host,
                max_keepalive_connections=self._per_host,
                keepalive_expiry=self._keepalive,
                network_backend=self._backend,
            )
            self._pools[key] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpFetcher:
    """Fetches URLs concurrently within global and per-host limits."""

    def __init__(self, options: FetchOptions, resolver: Resolver | None = None) -> None:
        self.options = options
        self._backend = GuardedBackend(resolver or SystemResolver(), options.allow_networks)
        self._slots = asyncio.Semaphore(options.concurrency)
        self._transport = _HostPools(self._backend, options.per_host, options.timeout)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            trust_env=False,
        )

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> Fetch:
        started = time.monotonic()
        result = Fetch(url=url, final_url=url, fetched_at=datetime.now(UTC))
        current = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                conditional = current == url
                await self._request(
                    result,
                    current,
                    etag if conditional else None,
                    last_modified if conditional else None,
                )
                location = result.header_map.get("location")
                if result.status in _REDIRECTS and location:
                    target = urljoin(current, location.strip())
                    result.hops.append(Hop(current, result.status, target))
                    if urlsplit(target).scheme not in ("http", "https"):
                        result.error, result.error_detail = "redirect", f"redirect to {target}"
                        break
                    current = target
                    result.final_url = current
                    continue
                break
            else:
                result.error = "redirect_loop"
                result.error_detail = f"more than {MAX_REDIRECTS} redirects"
        except ForbiddenAddress as exc:
            result.error, result.error_detail = "forbidden_address", str(exc)
        except NameNotFound as exc:
            result.error, result.error_detail = "dns", f"name does not resolve: {exc}"
        except ResolveFailed as exc:
            result.error, result.error_detail = "dns_error", str(exc)
        except BodyTooLarge as exc:
            result.error, result.error_detail = "too_large", str(exc)
        except (httpx.TimeoutException, TimeoutError) as exc:
            result.error, result.error_detail = "timeout", str(exc) or "timed out"
        except httpx.ConnectError as exc:
            result.error, result.error_detail = "connect", str(exc) or "connection failed"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            result.error, result.error_detail = "protocol", f"{type(exc).__name__}: {exc}"
        if result.error:
            # A failed fetch says nothing about the page; keep no half-read body.
            result.body = result.content = b""
        result.elapsed = time.monotonic() - started
        return result

    async def _request(
        self, result: Fetch, url: str, etag: str | None, last_modified: str | None
    ) -> None:
        headers = {
            "User-Agent": self.options.user_agent,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            try:
                async with self._slots:
                    await self._once(result, url, headers)
            except (httpx.TimeoutException, httpx.ConnectError, TimeoutError):
                if attempt >= self.options.retries:
                    raise
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if result.status in _TRANSIENT_STATUS and attempt < self.options.retries:
                wait = _retry_after(result.header_map.get("retry-after"))
                if result.status in (429, 503) and wait is not None:
                    if wait > _MAX_RETRY_AFTER:
                        return
                else:
                    wait = self._backoff(attempt)
                await asyncio.sleep(wait)
                attempt += 1
                continue
            return

    def _backoff(self, attempt: int) -> float:
        return float(self.options.backoff * (2**attempt) * (0.5 + random.random()))

    async def _once(self, result: Fetch, url: str, headers: dict[str, str]) -> None:
        limit = self.options.max_bytes
        async with asyncio.timeout(self.options.timeout * 2):
            request = self._client.build_request("GET", url, headers=headers)
            response = await self._client.send(request, stream=True)
            try:
                result.status = response.status_code
                result.reason_phrase = response.reason_phrase
                result.http_version = response.http_version
                result.headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ]
                result.request_headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ]
                stream = response.extensions.get("network_stream")
                peer = stream.get_extra_info("server_addr") if stream is not None else None
                result.peer = str(peer[0]) if peer else None
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise BodyTooLarge(f"Content-Length {declared} exceeds max_bytes {limit}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise BodyTooLarge(f"body exceeds max_bytes {limit}")
                    chunks.append(chunk)
            finally:
                await response.aclose()
        result.body = b"".join(chunks)
        result.content = decode_content(
            result.body, response.headers.get("content-encoding"), limit
        )
