"""Fetching pages with httpx: hop-by-hop redirects, vetted addresses, bounded bodies.

httpx's own pool spends most of its CPU in bookkeeping once dozens of requests are in
flight (bench/README.md has the numbers), so requests go through httpx's transport API to
an aiohttp connection pool (the httpx-aiohttp transport). aiohttp's connector enforces the
global and per-host limits and resolves through our guarded resolver. Requests are built
as ``httpx.Request`` and sent to the transport directly: the client layer's per-request
work (cookies, auth, event hooks, URL merging) is unused here and cost as much again.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from .decode import BodyTooLarge, decode_content
from .exchange import Fetch, Hop
from .netguard import (
    ForbiddenAddress,
    GuardedResolver,
    IPNetwork,
    NameNotFound,
    ResolveFailed,
    Resolver,
    SystemResolver,
    vet,
)

MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
_TRANSIENT_STATUS = {429, 502, 503, 504}
# Longer waits than this are not worth holding a run for; the next run tries again.
_MAX_RETRY_AFTER = 30.0


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


def _error_reason(exc: BaseException) -> str:
    # httpx-aiohttp maps every aiohttp connection error to ConnectTimeout; the aiohttp
    # error it wraps says what really happened.
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
        cause, aiohttp.ClientConnectorDNSError
    ):
        return "connect"
    if isinstance(cause, aiohttp.ServerTimeoutError) or isinstance(
        exc, httpx.TimeoutException | TimeoutError
    ):
        return "timeout"
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "connect"
    return "protocol"


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
        self._resolver = resolver or SystemResolver()
        self._guard = GuardedResolver(self._resolver, options.allow_networks)
        self._timeout = httpx.Timeout(options.timeout).as_dict()
        self._session: aiohttp.ClientSession | None = None
        # The transport builds a TLS context for a session of its own, which it never makes
        # here (ours verifies with aiohttp's default context). A bare client context, which
        # verifies but trusts nothing, costs nothing; httpx's default loads the CA bundle.
        self._transport = AiohttpTransport(
            verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), client=self._new_session
        )

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=self._guard,
            limit=self.options.concurrency,
            limit_per_host=self.options.per_host,
            # aiohttp's own verified context, built when aiohttp is imported: loading the
            # CA bundle a second time cost more than a warm run's parsing.
            ssl=True,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            # Each check is a first visit: no cookie from one page may change another's.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

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
        except (httpx.HTTPError, httpx.InvalidURL, OSError, TimeoutError) as exc:
            result.error = _error_reason(exc)
            result.error_detail = str(exc) or type(exc).__name__
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
                await self._once(result, url, headers)
            except (httpx.TimeoutException, httpx.NetworkError, TimeoutError):
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
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": self._timeout})
        host = request.url.host
        # aiohttp skips its resolver for IP literals: vet those here, before any packet.
        await vet(host, request.url.port or 0, self._resolver, self.options.allow_networks)
        async with asyncio.timeout(self.options.timeout * 2):
            response = await self._transport.handle_async_request(request)
            try:
                result.status = response.status_code
                result.reason_phrase = response.reason_phrase
                result.headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ]
                # What went on the wire is what aiohttp sent (its header case, its Host),
                # not the httpx.Request we handed it; the evidence records the former.
                sent = getattr(response.stream, "_aiohttp_response", None)
                if sent is not None:
                    result.request_headers = list(sent.request_info.headers.items())
                    result.http_version = f"HTTP/{sent.version.major}.{sent.version.minor}"
                else:
                    result.request_headers = [
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                    ]
                result.request_target = request.url.raw_path.decode("ascii")
                result.peer = self._guard.last.get(host, host)
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
