"""Fetching pages with httpx: hop-by-hop redirects, vetted addresses, bounded bodies.

httpx's own pool spends most of its CPU in bookkeeping once dozens of requests are in
flight (bench/README.md has the numbers), so requests go through httpx's transport API to
an aiohttp connection pool (the httpx-aiohttp transport). aiohttp's connector enforces the
global and per-host limits and resolves through our guarded resolver. Requests are built
as ``httpx.Request`` and sent to the transport directly: the client layer's per-request
work (cookies, auth, event hooks, URL merging) is unused here and cost as much again.

A check may go through a proxy (settings.proxy or a watch's own): an HTTP proxy (plain
``http://`` pages are forwarded, ``https://`` ones tunnelled with CONNECT, the proxy
resolving the name either way, as for curl and browsers) or SOCKS5 (``socks5://``: we
resolve and vet the address, the proxy connects to exactly that; ``socks5h://``: the proxy
resolves). The proxy is the user's own hop, so its address is not vetted; what can still
be vetted about the site behind it is in netguard.vet_unresolved.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import random
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import httpx
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest, ConnectionKey
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
    vet_unresolved,
)

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
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_PROXY_LOGIN = "proxy {proxy} wants a username and password (put them in the proxy URL)"


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


@dataclass(frozen=True)
class Proxy:
    """A parsed proxy URL. ``str()`` leaves the credentials out: it goes into error
    messages and the evidence."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def resolves_names(self) -> bool:
        """Whether the proxy, not scrubwatch, turns the site's name into an address."""
        return self.scheme != "socks5"

    @property
    def is_socks(self) -> bool:
        return self.scheme in ("socks5", "socks5h")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """The proxy a URL names; ValueError says what is wrong (never echoing a password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _PROXY_SCHEMES:
        raise ValueError(
            f"unsupported proxy scheme {scheme + '://' if scheme else '(none given)'}: use http://,"
            " https://, socks5:// (scrubwatch resolves names) or socks5h:// (the proxy does)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the proxy URL has an invalid port") from None
    if not parts.hostname or port is None:
        # No default port: proxies listen on anything (8080, 3128, 1080, 9050), and a
        # guessed one fails later with a less helpful message.
        raise ValueError("the proxy URL needs a host and a port, e.g. socks5h://127.0.0.1:9050")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the proxy URL must be scheme://host:port, with nothing after it")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme.startswith("socks") and (
        len((username or "").encode()) > 255 or len((password or "").encode()) > 255
    ):
        raise ValueError("a SOCKS5 username or password is at most 255 bytes")
    return Proxy(scheme, parts.hostname, port, username, password)


class ProxyLoginNeeded(ConnectionError):
    """An HTTP proxy answered 407: the page was never asked for."""


class ProxyFailed(aiohttp.ClientConnectorError):
    """A SOCKS5 proxy could not be reached, refused us, or could not reach the site.

    A ClientConnectorError, so that aiohttp tries the site's next address as it does when
    a direct connection fails; its message is written for the user, not aiohttp's.
    """

    def __init__(self, key: ConnectionKey, message: str) -> None:
        super().__init__(key, OSError(None, message))
        self.message = message

    def __str__(self) -> str:
        return self.message


def _os_reason(error: OSError | None) -> str:
    # asyncio words a refused connection "Connect call failed ('127.0.0.1', 8080)"; the
    # errno's own text is the plain sentence.
    if error is None:
        return "no address to connect to"
    text = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def _failure(exc: BaseException, proxy: Proxy | None) -> tuple[str, str]:
    """The error kind and a plain sentence for an exception from the HTTP stack."""
    # httpx-aiohttp maps every aiohttp connection error to an httpx one; the aiohttp
    # error it wraps says what really happened.
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    if isinstance(cause, ProxyLoginNeeded):
        return "connect", str(cause)
    if isinstance(cause, ProxyFailed):
        return "connect", cause.message
    if isinstance(cause, aiohttp.ClientProxyConnectionError):
        return "connect", f"cannot connect to proxy {proxy}: {_os_reason(cause.os_error)}"
    if isinstance(cause, aiohttp.ClientHttpProxyError):
        if cause.status == 407:
            return "connect", _PROXY_LOGIN.format(proxy=proxy)
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
        return "connect", f"cannot connect to {where}: {_os_reason(cause.os_error)}"
    detail = str(exc) or type(exc).__name__
    if isinstance(cause, aiohttp.ServerTimeoutError) or isinstance(
        exc, httpx.TimeoutException | TimeoutError
    ):
        return "timeout", detail
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "connect", detail
    return "protocol", detail


# --- SOCKS5 (RFC 1928, with RFC 1929 username/password) ------------------------------------
# A few dozen lines of a protocol frozen since 1996 rather than a dependency: the SOCKS
# libraries resolve names with their own resolver, around our address guard.

_SOCKS_REPLIES = {
    1: "general failure",
    2: "connection not allowed by the proxy's rules",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _socks5_open(
    loop: asyncio.AbstractEventLoop, proxy: Proxy, host: str, port: int, key: ConnectionKey
) -> socket.socket:
    """A socket on which the proxy has connected to ``host``, ready for HTTP or TLS."""
    try:
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProxyFailed(
            key, f"cannot connect to proxy {proxy}: its name does not resolve ({exc.strerror})"
        ) from None
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        try:
            await _socks5_handshake(loop, sock, proxy, host, port, key)
        except BaseException:
            sock.close()
            raise
        return sock
    raise ProxyFailed(key, f"cannot connect to proxy {proxy}: {_os_reason(last)}")


async def _socks5_handshake(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    proxy: Proxy,
    host: str,
    port: int,
    key: ConnectionKey,
) -> None:
    async def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = await loop.sock_recv(sock, n - len(data))
            if not chunk:
                raise ProxyFailed(key, f"proxy {proxy} hung up during the SOCKS5 handshake")
            data += chunk
        return data

    methods = b"\x00\x02" if proxy.username is not None else b"\x00"
    await loop.sock_sendall(sock, b"\x05" + bytes([len(methods)]) + methods)
    version, method = await read(2)
    if version != 5:
        raise ProxyFailed(key, f"proxy {proxy} does not speak SOCKS5")
    if method == 2 and proxy.username is not None:
        user, password = proxy.username.encode(), (proxy.password or "").encode()
        await loop.sock_sendall(
            sock, b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
        )
        if (await read(2))[1] != 0:
            raise ProxyFailed(key, f"proxy {proxy} refused the username and password")
    elif method == 2:
        raise ProxyFailed(key, _PROXY_LOGIN.format(proxy=proxy))
    elif method != 0:
        hint = (
            ""
            if proxy.username is not None
            else " (if it needs a username and password, put them in the proxy URL)"
        )
        raise ProxyFailed(key, f"proxy {proxy} accepts no login scrubwatch offers{hint}")

    try:
        address = ipaddress.ip_address(host)
        target = (b"\x01" if address.version == 4 else b"\x04") + address.packed
    except ValueError:
        try:
            name = host.encode("ascii")  # yarl hands IDNs over in punycode already
        except UnicodeEncodeError:
            name = b""
        if not 0 < len(name) < 256:
            raise ProxyFailed(key, f"proxy {proxy} cannot be asked for {host!r}") from None
        target = b"\x03" + bytes([len(name)]) + name
    await loop.sock_sendall(sock, b"\x05\x01\x00" + target + port.to_bytes(2, "big"))
    version, reply, _, kind = await read(4)
    if version != 5:
        raise ProxyFailed(key, f"proxy {proxy} sent a malformed SOCKS5 reply")
    if reply != 0:
        why = _SOCKS_REPLIES.get(reply, f"error {reply}")
        raise ProxyFailed(key, f"proxy {proxy} could not connect to {_hostport(host, port)}: {why}")
    # Then the address the proxy connected from: of no use to us, but it must be read.
    if kind == 1:
        await read(4 + 2)
    elif kind == 4:
        await read(16 + 2)
    elif kind == 3:
        await read((await read(1))[0] + 2)
    else:
        raise ProxyFailed(key, f"proxy {proxy} sent a malformed SOCKS5 reply")


class _SocksConnector(aiohttp.TCPConnector):
    """aiohttp's connector, with each connection opened through a SOCKS5 proxy.

    aiohttp resolves the site's name with the connector's resolver first: the guarded one
    for socks5:// (so the proxy is asked for a vetted address), a pass-through for
    socks5h:// (so the proxy is asked for the name). TLS is then done by aiohttp, end to
    end with the site, over the proxied socket.
    """

    def __init__(self, proxy: Proxy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proxy = proxy

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[AddrInfoType],
        req: ClientRequest,
        timeout: aiohttp.ClientTimeout,
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        host, port = str(addr_infos[0][4][0]), int(addr_infos[0][4][1])
        key = req.connection_key
        try:
            async with asyncio.timeout(timeout.sock_connect):
                sock = await _socks5_open(self._loop, self._proxy, host, port, key)
                try:
                    return await self._loop.create_connection(*args, **kwargs, sock=sock)
                except BaseException:
                    sock.close()
                    raise
        except ssl.CertificateError as exc:
            raise aiohttp.ClientConnectorCertificateError(key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(key, exc) from exc
        except (ProxyFailed, TimeoutError):
            raise
        except OSError as exc:
            raise client_error(key, exc) from exc


def _proxy_login(proxy: Proxy) -> dict[str, str]:
    if proxy.username is None:
        return {}
    login = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(login).decode("ascii")}


def _http_proxy(proxy: Proxy) -> httpx.Proxy:
    # The login goes as a header, not as the URL's user and password: aiohttp's path for
    # those (BasicAuth) is deprecated. aiohttp sends these headers on the CONNECT only,
    # never inside the tunnel; plain-http requests get the header in _once.
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    return httpx.Proxy(f"{proxy.scheme}://{host}:{proxy.port}", headers=_proxy_login(proxy))


class _ProxyResolves(AbstractResolver):
    """Hands the name back unresolved, for the socks5h proxy to resolve."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": host, "port": port, "family": family, "proto": 0, "flags": 0}
        ]

    async def close(self) -> None:
        return None


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
                proxy=_http_proxy(proxy) if proxy and not proxy.is_socks else None,
            )
            self._transports[proxy] = transport
        return transport

    def _new_session(self, proxy: Proxy | None) -> aiohttp.ClientSession:
        resolver: AbstractResolver = self._guard
        if proxy is not None and proxy.resolves_names:
            # The only name resolved here is the proxy's own (for an HTTP proxy), and the
            # proxy is the user's own hop: not vetted.
            resolver = _ProxyResolves() if proxy.is_socks else aiohttp.ThreadedResolver()
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
            _SocksConnector(proxy, **options)
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
    ) -> Fetch:
        """Fetches ``url``, following redirects hop by hop.

        ``proxy``: None takes ``options.proxy``; "" connects directly. ``user_agent``:
        None takes ``options.user_agent``.
        """
        started = time.monotonic()
        result = Fetch(url=url, final_url=url, fetched_at=datetime.now(UTC))
        current = url
        chosen = self.options.proxy if proxy is None else proxy
        try:
            route = parse_proxy(chosen) if chosen else None
        except ValueError as exc:
            # A proxy that cannot be used is never bypassed: the user chose not to be seen.
            result.error, result.error_detail = "connect", f"proxy: {exc}"
            return result
        result.proxy = str(route) if route else None
        try:
            for _ in range(MAX_REDIRECTS + 1):
                conditional = current == url
                await self._request(
                    result,
                    current,
                    etag if conditional else None,
                    last_modified if conditional else None,
                    route,
                    user_agent or self.options.user_agent,
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
            result.error, result.error_detail = _failure(exc, route)
        if result.error:
            # A failed fetch says nothing about the page; keep no half-read body.
            result.body = result.content = b""
        result.elapsed = time.monotonic() - started
        return result

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
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": self._timeout})
        if proxy is not None and not proxy.is_socks and request.url.scheme == "http":
            # A forwarded plain-http request is read by the proxy, which takes its login
            # from it (and drops it). An https request must never carry it: the site
            # would read it, through the tunnel.
            request.headers.update(_proxy_login(proxy))
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
                    raise ProxyLoginNeeded(_PROXY_LOGIN.format(proxy=proxy))
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
