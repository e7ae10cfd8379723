"""Fetching pages with httpx: hop-by-hop redirects, vetted addresses, bounded bodies.

httpx's own pool spends most of its CPU in bookkeeping once dozens of requests are in
flight (bench/README.md has the numbers), so requests go through httpx's transport API to
an aiohttp connection pool (the httpx-aiohttp transport). aiohttp's connector enforces the
global and per-host limits and resolves through our guarded resolver. Requests are built
as ``httpx.Request`` and sent to the transport directly: the client layer's per-request
work (cookies, auth, event hooks, URL merging) is unused here and cost as much again.

A check may go through a proxy (settings.proxy or a watch's own): proxy.py parses it and
speaks to it. Here each proxy gets a connection pool of its own, and what is vetted before
a request depends on who resolves the site's name: we do, or the proxy does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import AiohttpTransport

from ..core.decode import BodyTooLarge, decode_content
from ..core.exchange import Fetch, Hop
from ..core.reasons import FetchFailure
from ..core.terminal import one_line
from ..core.urlcheck import host_problem
from .netguard import (
    ForbiddenAddress,
    GuardedResolver,
    IPNetwork,
    NameNotFound,
    ResolveFailed,
    Resolver,
    SystemResolver,
    vet,
    vet_unresolved,
)
from .proxy import (
    PROXY_LOGIN,
    Proxy,
    ProxyFailed,
    ProxyLoginNeeded,
    ProxyResolves,
    SocksConnector,
    httpx_proxy,
    login_headers,
    os_reason,
    parse_proxy,
)

log = logging.getLogger("scrubwatch")

MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
_TRANSIENT_STATUS = {429, 502, 503, 504}
# Longer waits than this are not worth holding a run for; the next run tries again.
_MAX_RETRY_AFTER = 30.0
# What the browser named in the default user agent sends when a page is opened from the
# address bar, less the encodings we cannot undo (br, zstd). Nothing here may name
# scrubwatch: the watched site must not be able to tell a check from a reader.
_BROWSER_HEADERS = {
    "Accept": (
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
    ),
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate",
    "Upgrade-Insecure-Requests": "1",
}


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
    # The proxy for a fetch that names none (settings.proxy); None: connect directly.
    proxy: str | None = None


def _failure(exc: BaseException, proxy: Proxy | None) -> tuple[FetchFailure, str]:
    """The error kind and a plain sentence for an exception from the HTTP stack."""
    # httpx-aiohttp maps every aiohttp connection error to an httpx one; the aiohttp
    # error it wraps says what really happened.
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    if isinstance(cause, ProxyLoginNeeded):
        return "connect", str(cause)
    if isinstance(cause, ProxyFailed):
        return "connect", cause.message
    if isinstance(cause, aiohttp.ClientProxyConnectionError):
        return "connect", f"cannot connect to proxy {proxy}: {os_reason(cause.os_error)}"
    if isinstance(cause, aiohttp.ClientHttpProxyError):
        if cause.status == 407:
            return "connect", PROXY_LOGIN.format(proxy=proxy)
        return "connect", f"proxy {proxy} refused the tunnel: {cause.status} {cause.message}"
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        error = cause.certificate_error
        why = getattr(error, "verify_message", None) or str(error)
        where = f"{cause.host}:{cause.port}"
        return "connect", f"cannot connect to {where}: its TLS certificate is not trusted ({why})"
    if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
        cause, aiohttp.ClientConnectorDNSError
    ):
        where = f"{cause.host}:{cause.port}"
        if isinstance(cause, aiohttp.ClientSSLError):
            return "connect", f"cannot connect to {where}: TLS failed ({cause.os_error})"
        return "connect", f"cannot connect to {where}: {os_reason(cause.os_error)}"
    detail = str(exc) or type(exc).__name__
    if isinstance(cause, aiohttp.ServerTimeoutError) or isinstance(
        exc, httpx.TimeoutException | TimeoutError
    ):
        return "timeout", detail
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "connect", detail
    return "protocol", detail


class UnsendableURL(ValueError):
    """A URL (asked for, or named by a redirect) that cannot go on the wire."""


def _malformed(exc: aiohttp.ClientError) -> str:
    """What aiohttp found wrong with an answer, in one line."""
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp points at the bad byte with a line of its own ("   ^"): not for one line.
        lines = [line for line in str(exc.message).splitlines() if line.strip() != "^"]
        return one_line(" ".join(lines), 300)
    return one_line(str(exc) or type(exc).__name__, 300)


def request_for(url: str, headers: dict[str, str], timeout: dict[str, Any]) -> httpx.Request:
    """The request for ``url``, or UnsendableURL when it cannot be sent as it stands (a bad
    host label, a broken IPv6 literal, a port out of range, ...)."""
    try:
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": timeout})
        host = request.url.host
        if not host:
            raise ValueError("no host")
        # httpx keeps an IDNA host it cannot encode as it was given; aiohttp then fails
        # deep inside the connection. Encode it here, where it is one page's mistake.
        _check_labels(request.url.raw_host.decode("ascii"))
        if request.url.port is not None and not 0 < request.url.port < 65536:
            raise ValueError(f"port {request.url.port} is out of range")
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise UnsendableURL(
            f"cannot request {one_line(url, 200)}: {one_line(str(exc), 300)}"
        ) from exc
    return request


def _check_labels(host: str) -> None:
    if ":" in host or host.replace(".", "").isdigit():
        return  # an address, not a name
    problem = host_problem(host)  # the same rule `validate` applies to a watch's URL
    if problem:
        raise ValueError(problem)


def _redirect_target(current: str, location: str) -> str:
    try:
        return urljoin(current, location.strip())
    except ValueError as exc:  # a broken IPv6 literal, say
        raise UnsendableURL(
            f"redirected to {one_line(location, 200)}, which cannot be requested: {exc}"
        ) from exc


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
        # One connection pool per route (direct, or each proxy in use): a pool's
        # connections all go one way, and aiohttp takes its SOCKS hop from the connector.
        self._transports: dict[Proxy | None, AiohttpTransport] = {}

    def _transport(self, proxy: Proxy | None) -> AiohttpTransport:
        transport = self._transports.get(proxy)
        if transport is None:
            # The transport builds a TLS context for a session of its own, which it never
            # makes here (ours verifies with aiohttp's default context). A bare client
            # context, which verifies but trusts nothing, costs nothing; httpx's default
            # loads the CA bundle.
            transport = AiohttpTransport(
                verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                client=lambda: self._new_session(proxy),
                # aiohttp itself speaks to HTTP proxies: it forwards plain-http requests
                # and opens a CONNECT tunnel for https, sending the name, not an address.
                proxy=httpx_proxy(proxy) if proxy and not proxy.is_socks else None,
            )
            self._transports[proxy] = transport
        return transport

    def _new_session(self, proxy: Proxy | None) -> aiohttp.ClientSession:
        resolver: AbstractResolver = self._guard
        if proxy is not None and proxy.resolves_names:
            # The only name resolved here is the proxy's own (for an HTTP proxy), and the
            # proxy is the user's own hop: not vetted.
            resolver = ProxyResolves() if proxy.is_socks else aiohttp.ThreadedResolver()
        options: dict[str, Any] = {
            "resolver": resolver,
            "limit": self.options.concurrency,
            "limit_per_host": self.options.per_host,
            # aiohttp's own verified context, built when aiohttp is imported: loading the
            # CA bundle a second time cost more than a warm run's parsing.
            "ssl": True,
            "ttl_dns_cache": 300,
        }
        connector = (
            SocksConnector(proxy, **options)
            if proxy is not None and proxy.is_socks
            else aiohttp.TCPConnector(**options)
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            # Each check is a first visit: no cookie from one page may change another's.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        proxy: str | None = None,
        user_agent: str | None = None,
        deadline: float | None = None,
    ) -> Fetch:
        """Fetches ``url``, following redirects hop by hop.

        ``proxy``: None takes ``options.proxy``; "" connects directly. ``user_agent``:
        None takes ``options.user_agent``. ``deadline``: seconds for the whole fetch, every
        hop and retry included (the timeout applies to each attempt).
        """
        started = time.monotonic()
        result = Fetch(url=url, final_url=url, fetched_at=datetime.now(UTC))
        chosen = self.options.proxy if proxy is None else proxy
        try:
            route = parse_proxy(chosen) if chosen else None
        except ValueError as exc:
            # A proxy that cannot be used is never bypassed: the user chose not to be seen.
            result.error, result.error_detail = "connect", f"proxy: {exc}"
            return result
        result.proxy = str(route) if route else None
        within = asyncio.timeout(deadline)
        try:
            async with within:
                await self._follow(
                    result, etag, last_modified, route, user_agent or self.options.user_agent
                )
        except ForbiddenAddress as exc:
            result.error, result.error_detail = "forbidden_address", str(exc)
        except NameNotFound as exc:
            result.error, result.error_detail = "dns", f"name does not resolve: {exc}"
        except ResolveFailed as exc:
            result.error, result.error_detail = "dns_error", str(exc)
        except BodyTooLarge as exc:
            result.error, result.error_detail = "too_large", str(exc)
        except UnsendableURL as exc:
            result.error, result.error_detail = "invalid_url", str(exc)
        except (httpx.HTTPError, httpx.InvalidURL, OSError, TimeoutError) as exc:
            result.error, result.error_detail = _failure(exc, route)
            if within.expired():
                result.error_detail = (
                    f"no complete answer within the deadline of {deadline:g} s, every "
                    "redirect and retry included; settings.deadline sets it"
                )
        except aiohttp.ClientError as exc:
            # A malformed answer (status line, headers, framing, body length): aiohttp
            # refuses it, and so do we, for this page only.
            result.error, result.error_detail = "protocol", _malformed(exc)
        except Exception as exc:  # whatever a hostile site provokes
            # Anything else the HTTP stack raises on an answer is still one page's failure,
            # never the run's: the other watches' alerts must not wait for a fix.
            log.debug("unexpected failure fetching %s", result.final_url, exc_info=True)
            result.error = "protocol"
            result.error_detail = f"{type(exc).__name__}: {one_line(str(exc), 300)}"
        if result.error:
            # A failed fetch says nothing about the page; keep no half-read body.
            result.body = result.content = b""
        result.elapsed = time.monotonic() - started
        return result

    async def _follow(
        self,
        result: Fetch,
        etag: str | None,
        last_modified: str | None,
        route: Proxy | None,
        user_agent: str,
    ) -> None:
        """Asks for ``result.url`` and follows its redirects, one hop at a time."""
        current = result.url
        for _ in range(MAX_REDIRECTS + 1):
            conditional = current == result.url
            await self._request(
                result,
                current,
                etag if conditional else None,
                last_modified if conditional else None,
                route,
                user_agent,
            )
            location = result.header_map.get("location")
            if result.status not in _REDIRECTS or not location:
                return
            target = _redirect_target(current, location)
            result.hops.append(
                Hop(
                    current,
                    result.status,
                    target,
                    headers=tuple(result.headers),
                    reason_phrase=result.reason_phrase,
                    http_version=result.http_version,
                    request_headers=tuple(result.request_headers),
                    request_target=result.request_target,
                    body=result.body,
                    peer=result.peer,
                )
            )
            if urlsplit(target).scheme not in ("http", "https"):
                result.error, result.error_detail = "redirect", f"redirect to {target}"
                return
            current = result.final_url = target
        result.error = "redirect_loop"
        result.error_detail = f"more than {MAX_REDIRECTS} redirects"

    async def _request(
        self,
        result: Fetch,
        url: str,
        etag: str | None,
        last_modified: str | None,
        proxy: Proxy | None,
        user_agent: str,
    ) -> None:
        headers = {"User-Agent": user_agent, **_BROWSER_HEADERS}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            try:
                await self._once(result, url, headers, proxy)
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

    async def _once(
        self, result: Fetch, url: str, headers: dict[str, str], proxy: Proxy | None
    ) -> None:
        limit = self.options.max_bytes
        request = request_for(url, headers, self._timeout)
        if proxy is not None and not proxy.is_socks and request.url.scheme == "http":
            # A forwarded plain-http request is read by the proxy, which takes its login
            # from it (and drops it). An https request must never carry it: the site
            # would read it, through the tunnel.
            request.headers.update(login_headers(proxy))
        host = request.url.host
        allow = self.options.allow_networks
        hidden = proxy is not None and proxy.resolves_names
        if hidden:
            # The proxy resolves the name: what the name says is all there is to check.
            vet_unresolved(host, allow)
        else:
            # aiohttp skips its resolver for IP literals: vet those here, before any packet.
            await vet(host, request.url.port or 0, self._resolver, allow)
        async with asyncio.timeout(self.options.timeout * 2):
            response = await self._transport(proxy).handle_async_request(request)
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
                # The proxy's password is the user's secret, not evidence about the page.
                result.request_headers = [
                    (k, v) for k, v in result.request_headers if k.lower() != "proxy-authorization"
                ]
                result.request_target = request.url.raw_path.decode("ascii")
                # Behind a proxy that resolves names, the site's address is unknown to us.
                result.peer = None if hidden else self._guard.last.get(host, host)
                if proxy is not None and not proxy.is_socks and result.status == 407:
                    # A plain-http page through an HTTP proxy: this 407 is the proxy's.
                    raise ProxyLoginNeeded(PROXY_LOGIN.format(proxy=proxy))
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
