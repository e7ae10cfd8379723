"""A forward proxy on 127.0.0.1 that every request of a rendering browser goes through.

A rendered page makes requests of its own (scripts, XHR, frames, images, websockets,
redirects, prefetches), and any of them could point at the metadata service or the
private network. Intercepting them in Playwright (``page.route``) misses redirects,
websockets, workers and WebRTC, and Chromium resolves names itself, so a name vetted there
can rebind to 127.0.0.1 before Chromium connects: measured in docs/browser-rendering.md.
So Chromium is launched with this proxy as its only way out: the proxy resolves each host
once, vets the addresses with netguard's rules, and connects to a vetted address only,
CONNECT tunnels (https, wss) and plain http alike. It also records every request
(``passages``), which is the only place the connected address is seen when rendering.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .netguard import ForbiddenAddress, IPNetwork, NameNotFound, ResolveFailed, Resolver, vet
from .proxy import os_reason

log = logging.getLogger("scrubwatch")

MAX_HEAD = 16 * 1024  # request line and headers; Chromium's are a few KiB at most
_CHUNK = 64 * 1024
# After a refusal, how long and how much of the rest of a request we read and throw away
# before closing: closing on unread bytes sends a reset, which can destroy our answer
# before the browser reads it.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 256 * 1024

# Chromium calls these for itself (updates, sign-in, Safe Browsing, field trials, component
# downloads) even with Playwright's --disable-background-networking. They are not the
# page's requests: a watched site must not learn who is watching, Google need not learn it
# either, and evidence should hold the page's traffic only. Hosts that pages do use
# (fonts.googleapis.com, ajax.googleapis.com, www.googleapis.com, ...) are not listed.
_BROWSER_SERVICES = frozenset(
    {
        "accounts.google.com",
        "android.clients.google.com",
        "clients1.google.com",
        "clients2.google.com",
        "clientservices.googleapis.com",
        "content-autofill.googleapis.com",
        "optimizationguide-pa.googleapis.com",
        "safebrowsing.googleapis.com",
        "update.googleapis.com",
    }
)
# gvt1.com / gvt2.com: Google's download and beacon domains (component updates,
# redirector.gvt1.com, edgedl.me.gvt1.com, network-quality beacons); no page loads from them.
_BROWSER_SERVICE_DOMAINS = ("gvt1.com", "gvt2.com")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_AUTHORITY = re.compile(
    r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?"
)
_ABSOLUTE_HTTP = re.compile(r"http://([^/?#]*)([^#]*)(?:#.*)?", re.IGNORECASE)
_HOP_BY_HOP = frozenset({"connection", "proxy-connection", "proxy-authorization", "keep-alive"})


def is_browser_service(host: str) -> bool:
    """Whether ``host`` is one of Chromium's own background services (see above)."""
    name = host.lower().rstrip(".")
    return name in _BROWSER_SERVICES or any(
        name == domain or name.endswith("." + domain) for domain in _BROWSER_SERVICE_DOMAINS
    )


@dataclass(frozen=True)
class Passage:
    """One request the browser made through the proxy."""

    method: str  # "CONNECT", "GET", ...; "" when the request line could not be read
    host: str  # lower case; an IPv6 literal without brackets; "" when unreadable
    port: int
    address: str | None  # the vetted address connected to; None when refused
    # None, or why: "forbidden_address", "browser_service", "dns", "dns_error", "connect",
    # "bad_request"
    refused: str | None
    detail: str = ""  # a plain sentence (the ForbiddenAddress message, say)


class _BadRequest(Exception):
    def __init__(self, detail: str, method: str = "") -> None:
        super().__init__(detail)
        self.method = method


@dataclass(frozen=True)
class _Request:
    method: str
    host: str
    port: int
    authority: str  # as the URL gave it, for the Host header
    path: str  # origin-form; "" for CONNECT
    headers: list[tuple[str, str]]
    body_length: int | None  # None: chunked, copied as it comes

    def origin_form(self) -> bytes:
        """The request as the site should get it: origin-form, hop-by-hop headers gone."""
        named = {
            token.strip().lower()
            for name, value in self.headers
            if name.lower() == "connection"
            for token in value.split(",")
        }
        dropped = _HOP_BY_HOP | named | {"host"}
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {self.authority}"]
        lines += [f"{name}: {value}" for name, value in self.headers if name.lower() not in dropped]
        # One request per connection: the site closes after its answer, and so do we.
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _authority(text: str, default_port: int | None, method: str) -> tuple[str, int]:
    """(host, port) of ``host:port``, ``[v6]:port`` or a bare host."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        raise _BadRequest(f"cannot read a host and port in {text[:100]!r}", method)
    v6, v6_port, name, name_port = match.groups()
    digits = v6_port if v6 is not None else name_port
    if v6 is not None:
        try:
            host = str(ipaddress.IPv6Address(v6))
        except ValueError:
            raise _BadRequest(f"{text[:100]!r} is not an IPv6 address", method) from None
    else:
        host = name.lower()
    port = int(digits) if digits is not None else default_port
    if port is None or not 0 < port < 65536:
        raise _BadRequest(f"{text[:100]!r} has no valid port", method)
    return host, port


def _body_length(headers: list[tuple[str, str]], method: str) -> int | None:
    chunked = any(name.lower() == "transfer-encoding" for name, _ in headers)
    lengths = {value.strip() for name, value in headers if name.lower() == "content-length"}
    if chunked and lengths:
        # Two framings at once is how requests are smuggled past proxies.
        raise _BadRequest("both Content-Length and Transfer-Encoding", method)
    if chunked:
        return None
    if not lengths:
        return 0
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise _BadRequest(f"invalid Content-Length {sorted(lengths)!r}", method)
    return int(next(iter(lengths)))


def _parse_head(head: bytes) -> _Request:
    line, *rest = head[:-4].decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if (
        len(parts) != 3
        or not _TOKEN.fullmatch(parts[0])
        or parts[2] not in ("HTTP/1.1", "HTTP/1.0")
    ):
        raise _BadRequest(f"malformed request line {line[:100]!r}")
    method, target, _ = parts
    headers: list[tuple[str, str]] = []
    for field in rest:
        name, colon, value = field.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise _BadRequest(f"malformed header line {field[:100]!r}", method)
        headers.append((name, value.strip()))
    if method == "CONNECT":
        host, port = _authority(target, None, method)
        return _Request(method, host, port, target, "", headers, 0)
    absolute = _ABSOLUTE_HTTP.fullmatch(target)
    if absolute is None:
        # Chromium sends absolute http:// URLs and CONNECT only; anything else is not a
        # request for a proxy.
        raise _BadRequest(f"not an http:// proxy request: {target[:100]!r}", method)
    authority, path = absolute.groups()
    host, port = _authority(authority, 80, method)
    path = "/" + path if not path.startswith("/") else path
    return _Request(method, host, port, authority, path, headers, _body_length(headers, method))


class _Pipe:
    """Copies between two connections, ended by idleness of both directions together."""

    def __init__(self, idle_timeout: float) -> None:
        self._idle = idle_timeout
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()

    async def _step(self, reader: asyncio.StreamReader, size: int) -> bytes | None:
        """The next chunk; b"" at the end; None when neither direction moved for too long."""
        while True:
            try:
                async with asyncio.timeout_at(self._last + self._idle):
                    return await reader.read(size)
            except TimeoutError:
                # The other direction may have moved meanwhile (a long download while the
                # browser sends nothing): only both idle ends the pipe.
                if self._loop.time() >= self._last + self._idle:
                    return None

    async def copy(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        budget: int | None = None,
        meter: Callable[[int], bool] | None = None,
    ) -> None:
        """Copies to ``writer`` (or throws away, when None) until the end, idleness, or
        ``budget`` bytes, or until ``meter``, told of each chunk, says no more."""
        while budget is None or budget > 0:
            data = await self._step(reader, _CHUNK if budget is None else min(_CHUNK, budget))
            if not data or (meter is not None and not meter(len(data))):
                return
            self._last = self._loop.time()
            if budget is not None:
                budget -= len(data)
            if writer is not None:
                writer.write(data)
                async with asyncio.timeout_at(self._last + self._idle):
                    await writer.drain()


async def _first_of(*jobs: Coroutine[Any, Any, None]) -> None:
    """Runs ``jobs`` until the first ends, then stops the others."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # Collects every outcome, so that no error is left unretrieved in a task.
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.debug("browser proxy: pipe ended: %r", outcome)


class VettingProxy:
    """An HTTP forward proxy (CONNECT and absolute-form http) that connects only to
    addresses netguard allows, recording every request in ``passages``.

    One per browser context, so that the passages are one check's. Bound to 127.0.0.1.
    """

    def __init__(
        self,
        resolver: Resolver,
        allow: Sequence[IPNetwork],
        *,
        connect_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        max_connections: int = 64,
        max_bytes: int | None = None,
    ) -> None:
        self._resolver = resolver
        # What all the page's answers may bring together: past it every connection is cut
        # and nothing more is let through (a page must not fill the browser's memory).
        self._max_bytes = max_bytes
        self.received = 0
        self._allow = tuple(allow)
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        # Past max_connections a connection waits for a slot rather than being refused:
        # Chromium opens at most 32 connections to one proxy, so waiting happens only under
        # a lower limit, and then a page is slower instead of broken by a refusal that
        # would look like the site's failure. Slots free up when tunnels close or idle out.
        self._slots = asyncio.Semaphore(max_connections)
        self._server: asyncio.Server | None = None
        self._url: str | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.WriteTransport] = set()
        self.passages: list[Passage] = []

    async def start(self) -> str:
        """Starts listening on a free port of 127.0.0.1; the proxy's URL."""
        if self._server is None:
            # The reader's limit bounds the request head (readuntil fails past it).
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=MAX_HEAD)
            port = self._server.sockets[0].getsockname()[1]
            self._url = f"http://127.0.0.1:{port}"
        return self.url

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the proxy is not started")
        return self._url

    def refusals(self) -> list[Passage]:
        return [p for p in self.passages if p.refused is not None]

    @property
    def over_budget(self) -> bool:
        return self._max_bytes is not None and self.received > self._max_bytes

    def _meter(self, size: int) -> bool:
        """Counts what the sites sent; at the budget, cuts every connection."""
        self.received += size
        if not self.over_budget:
            return True
        for transport in list(self._transports):
            transport.abort()
        return False

    async def aclose(self) -> None:
        """Stops listening and closes every connection, tunnels the browser keeps open too."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        # abort(), not close(): close() waits to flush to a browser that may not be reading.
        for transport in list(self._transports):
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> VettingProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- one connection from the browser ------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, not a coroutine: the task is created and tracked right here, so
        # aclose() never misses one that asyncio would have started later.
        if self._closing:
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._transports.add(writer.transport)
        try:
            async with self._slots:
                request = await self._read_request(reader, writer)
                if request is not None:
                    await self._handle(request, reader, writer)
        except Exception:
            # A browser hanging up mid-answer is ordinary; nothing here may end a task
            # with an unhandled error.
            log.debug("browser proxy: connection ended with an error", exc_info=True)
        finally:
            self._transports.discard(writer.transport)
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
        try:
            async with asyncio.timeout(self._idle_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            detail = f"the request head is over {MAX_HEAD} bytes"
            await self._refuse(reader, writer, 400, Passage("", "", 0, None, "bad_request", detail))
            return None
        except (asyncio.IncompleteReadError, TimeoutError):
            # Chromium preconnects and may close or leave a socket without asking anything.
            return None
        try:
            return _parse_head(head)
        except _BadRequest as exc:
            refusal = Passage(exc.method, "", 0, None, "bad_request", str(exc))
            await self._refuse(reader, writer, 400, refusal)
            return None

    async def _handle(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream = await self._open(request, reader, writer)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        self._transports.add(up_writer.transport)
        try:
            pipe = _Pipe(self._idle_timeout)
            if request.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await _first_of(
                    pipe.copy(reader, up_writer), pipe.copy(up_reader, writer, meter=self._meter)
                )
            else:
                up_writer.write(request.origin_form())
                await _first_of(
                    self._upload(pipe, reader, up_writer, request.body_length),
                    pipe.copy(up_reader, writer, meter=self._meter),
                )
        finally:
            self._transports.discard(up_writer.transport)
            up_writer.close()

    @staticmethod
    async def _upload(
        pipe: _Pipe,
        reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        length: int | None,
    ) -> None:
        # Only the request's own body goes to the site. Whatever the browser sends after it
        # (a second request, if it reused the connection) is thrown away: it could be for
        # another host, and must not reach this one. Reading on notices the browser leave.
        # A chunked body (length None) is copied to the end without being parsed: still
        # only to this vetted address, and Chromium sends none over HTTP/1.1.
        await pipe.copy(reader, up_writer, budget=length)
        await pipe.copy(reader, None)

    # --- vetting and connecting ---------------------------------------------------------

    async def _open(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to a vetted address of the request's host, recorded; or the
        request refused, answered and recorded, and None."""
        vetted: list[str] | tuple[int, str, str]
        if self.over_budget:
            vetted = (403, "too_large", f"the page's answers passed {self._max_bytes} bytes")
        else:
            vetted = await self._vet(request.host, request.port)
        if isinstance(vetted, list):
            connected = await self._connect(vetted, request.port)
            if not isinstance(connected, str):
                up_reader, up_writer, address = connected
                passage = Passage(request.method, request.host, request.port, address, None)
                self.passages.append(passage)
                return up_reader, up_writer
            vetted = (502, "connect", connected)
        status, reason, detail = vetted
        refusal = Passage(request.method, request.host, request.port, None, reason, detail)
        await self._refuse(reader, writer, status, refusal)
        return None

    async def _vet(self, host: str, port: int) -> list[str] | tuple[int, str, str]:
        """The addresses ``host`` may be reached at, or the refusal: (status, reason, why)."""
        if is_browser_service(host):
            # Refused before resolving: even the DNS query would go out.
            return 403, "browser_service", f"{host} is a service of the browser"
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await vet(host, port, self._resolver, self._allow)
        except ForbiddenAddress as exc:
            return 403, "forbidden_address", str(exc)
        except NameNotFound:
            return 502, "dns", f"{host} does not exist (no such name)"
        except (ResolveFailed, TimeoutError) as exc:
            return 502, "dns_error", str(exc) or f"{host} did not resolve in time"
        except Exception as exc:  # a resolver's own failure: still an answer and a record
            log.debug("browser proxy: resolving %s failed", host, exc_info=True)
            return 502, "dns_error", f"resolving {host} failed: {exc!r}"

    async def _connect(
        self, addresses: list[str], port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str] | str:
        """A connection to the first vetted address that answers, or why none did.

        Only these addresses, never the name again: a second lookup could answer
        something else (DNS rebinding). Trying the next one only helps where a name has
        an IPv6 address first and the machine no IPv6 route; every one was vetted.
        """
        why = "no address to connect to"
        try:
            async with asyncio.timeout(self._connect_timeout):
                for address in addresses:
                    try:
                        up_reader, up_writer = await asyncio.open_connection(address, port)
                    except OSError as exc:
                        why = f"cannot connect to {address} port {port}: {os_reason(exc)}"
                        continue
                    return up_reader, up_writer, address
        except TimeoutError:
            why = f"no connection to port {port} within {self._connect_timeout:g} s"
        return why

    async def _refuse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        passage: Passage,
    ) -> None:
        self.passages.append(passage)
        log.debug(
            "browser proxy refused %s %s:%s (%s): %s",
            passage.method,
            passage.host,
            passage.port,
            passage.refused,
            passage.detail,
        )
        phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
        # The header tells our own refusal apart from a site's 403 or 502.
        writer.write(
            f"HTTP/1.1 {status} {phrase}\r\nX-Scrubwatch-Refused: {passage.refused}\r\n"
            "Connection: close\r\nContent-Length: 0\r\n\r\n".encode("ascii")
        )
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_LINGER_SECONDS):
                await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                # Reads what the browser still sends (a request body) until it hangs up.
                left = _LINGER_BYTES
                while left > 0 and (data := await reader.read(min(_CHUNK, left))):
                    left -= len(data)
