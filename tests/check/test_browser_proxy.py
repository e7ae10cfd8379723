"""The vetting proxy a rendering browser sends all its traffic through (check/browser_proxy).

Real servers on 127.0.0.x and real clients (httpx with ``proxy=``, raw sockets for what
httpx will not send). Addresses outside 127.0.0.0/8 (169.254.169.254, ::1) appear only
as targets the proxy must refuse before connecting. Forbidden servers are ``Listener``
sockets: a connection the proxy made before answering is in their backlog already, so
counting them after the answer is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.check import browser_proxy
from scrubwatch.check.browser_proxy import MAX_HEAD, Passage, VettingProxy, is_browser_service
from scrubwatch.check.netguard import IPNetwork, NameNotFound, ResolveFailed
from support import Listener, Site
from werkzeug.wrappers import Request, Response

from . import test_tls

# The TLS server whose certificate nobody vouches for, for https through a tunnel.
self_signed_server = test_tls.self_signed_server

LOOPBACK: list[IPNetwork] = [ipaddress.ip_network("127.0.0.1/32")]
NOTHING: list[IPNetwork] = []  # netguard's rules alone: loopback is forbidden


def run(job: Coroutine[Any, Any, Any], timeout: float = 15) -> Any:
    # Bounded, so that a proxy that hangs fails the test instead of stalling the suite.
    return asyncio.run(asyncio.wait_for(job, timeout))


class Recording:
    """A StaticResolver that remembers every question; ``fail`` answers every name so."""

    def __init__(
        self, table: Mapping[str, Sequence[str]] | None = None, fail: Exception | None = None
    ) -> None:
        self.table = {k.lower(): list(v) for k, v in (table or {}).items()}
        self.fail = fail
        self.calls: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if self.fail is not None:
            raise self.fail
        if host.lower() not in self.table:
            raise NameNotFound(host)
        return self.table[host.lower()]


class Echo:
    """A TCP server on 127.0.0.1 that echoes; counts connections and notes their end."""

    def __init__(self) -> None:
        self.accepted = 0
        self.ended = asyncio.Event()  # a connection's client side closed
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Echo:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self._writers:
            writer.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.ended.set()
            writer.close()


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def exchange(proxy: VettingProxy, request: bytes) -> bytes:
    """Sends ``request`` to the proxy and reads its answer to the end of the connection."""
    reader, writer = await asyncio.open_connection(*_address(proxy.url))
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
    return int(line.split(" ")[1]), headers, body


def assert_refused(answer: bytes, status: int, reason: str) -> None:
    code, headers, body = parse(answer)
    assert code == status, answer
    assert headers["x-scrubwatch-refused"] == reason
    assert headers["connection"] == "close"
    assert headers["content-length"] == "0" and body == b""


async def open_tunnel(
    proxy: VettingProxy, target: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*_address(proxy.url))
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
    return reader, writer


def client(proxy: VettingProxy, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(proxy=proxy.url, trust_env=False, timeout=5, **kwargs)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_ours(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename == browser_proxy.__file__


# --- allowed: the page's requests get through ----------------------------------------------


def test_a_get_through_the_proxy_returns_the_page(site: Site) -> None:
    site.set("/x.html", lambda request: Response(f"asked for {request.full_path}"))

    async def go() -> tuple[httpx.Response, list[Passage]]:
        async with VettingProxy(Recording(), LOOPBACK) as proxy, client(proxy) as http:
            response = await http.get(site.url("/x.html?q=1&r=2"))
            return response, proxy.passages

    response, passages = run(go())
    assert response.status_code == 200
    assert response.text == "asked for /x.html?q=1&r=2"
    assert "x-scrubwatch-refused" not in response.headers
    assert passages == [Passage("GET", "127.0.0.1", site.port, "127.0.0.1", None)]
    [seen] = site.seen("/x.html")
    assert seen.host == f"127.0.0.1:{site.port}"
    assert seen.headers["connection"] == "close"


def test_the_site_gets_origin_form_without_proxy_headers_and_the_browser_gets_an_end(
    site: Site,
) -> None:
    site.set("/h", lambda request: Response(request.full_path))
    request = (
        f"GET http://127.0.0.1:{site.port}/h?a=b HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.port}\r\n"
        "Proxy-Connection: keep-alive\r\n"
        "Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n"
        "Connection: keep-alive, X-Hop\r\n"
        "Keep-Alive: timeout=5\r\n"
        "X-Hop: for the proxy only\r\n"
        "X-Kept: for the site\r\n"
        "\r\n"
    ).encode()

    async def go() -> bytes:
        async with VettingProxy(Recording(), LOOPBACK) as proxy:
            # Reading to the end of the connection: it ends once the site's answer is in.
            return await exchange(proxy, request)

    status, _, body = parse(run(go()))
    assert status == 200 and body == b"/h?a=b"
    [seen] = site.seen("/h")
    for gone in ("proxy-connection", "proxy-authorization", "keep-alive", "x-hop"):
        assert gone not in seen.headers
    assert seen.headers["x-kept"] == "for the site"
    assert seen.headers["connection"] == "close"
    assert seen.host == f"127.0.0.1:{site.port}"


def test_a_post_body_arrives_intact(site: Site) -> None:
    received: list[bytes] = []

    def handler(request: Request) -> Response:
        received.append(request.get_data())
        return Response(b"got %d" % len(received[-1]))

    site.set("/form", handler)
    body = bytes(range(256)) * 1000  # 256 KB: more than any buffer on the way

    async def go() -> httpx.Response:
        async with VettingProxy(Recording(), LOOPBACK) as proxy, client(proxy) as http:
            return await http.post(site.url("/form"), content=body)

    response = run(go())
    assert response.status_code == 200 and response.text == f"got {len(body)}"
    assert received == [body]


def test_connect_pipes_bytes_both_ways() -> None:
    big = bytes(range(256)) * 2000  # both directions busy at once

    async def go() -> tuple[bytes, bytes, list[Passage], int]:
        async with Echo() as echo, VettingProxy(Recording(), LOOPBACK) as proxy:
            reader, writer = await open_tunnel(proxy, f"127.0.0.1:{echo.port}")
            writer.write(b"ping")
            small = await reader.readexactly(4)
            writer.write(big)
            back = await reader.readexactly(len(big))
            writer.close()
            return small, back, proxy.passages, echo.accepted

    small, back, passages, accepted = run(go())
    assert small == b"ping" and back == big
    assert passages == [Passage("CONNECT", "127.0.0.1", passages[0].port, "127.0.0.1", None)]
    assert accepted == 1


def test_https_goes_through_a_connect_tunnel(self_signed_server: HTTPServer) -> None:
    async def go() -> tuple[httpx.Response, list[Passage]]:
        async with (
            VettingProxy(Recording(), LOOPBACK) as proxy,
            client(proxy, verify=False) as http,
        ):
            response = await http.get(f"https://127.0.0.1:{self_signed_server.port}/")
            return response, proxy.passages

    response, passages = run(go())
    assert response.status_code == 200 and "Trust me" in response.text
    port = self_signed_server.port
    assert passages == [Passage("CONNECT", "127.0.0.1", port, "127.0.0.1", None)]


def test_a_name_is_looked_up_once_and_only_a_vetted_address_connected(
    site: Site, listener: Any
) -> None:
    site.set("/", "<p>the allowed one</p>")
    # The same port on 127.0.0.3, which is not allowed: it must never see a connection.
    forbidden: Listener = listener("127.0.0.3", site.port)
    resolver = Recording({"mixed.test": ["127.0.0.3", "127.0.0.1"]})

    async def go() -> tuple[httpx.Response, list[Passage]]:
        async with VettingProxy(resolver, LOOPBACK) as proxy, client(proxy) as http:
            response = await http.get(f"http://mixed.test:{site.port}/")
            return response, proxy.passages

    response, passages = run(go())
    assert response.status_code == 200 and "the allowed one" in response.text
    assert passages == [Passage("GET", "mixed.test", site.port, "127.0.0.1", None)]
    assert resolver.calls == [("mixed.test", site.port)]
    assert forbidden.connections() == 0
    assert site.seen("/")[0].host == f"mixed.test:{site.port}"


def test_the_next_vetted_address_is_tried_when_one_does_not_answer(site: Site) -> None:
    site.set("/", "<p>second address</p>")
    resolver = Recording({"two.test": ["127.0.0.3", "127.0.0.1"]})  # nothing on 127.0.0.3

    async def go() -> tuple[httpx.Response, list[Passage]]:
        allow = [ipaddress.ip_network("127.0.0.0/8")]
        async with VettingProxy(resolver, allow) as proxy, client(proxy) as http:
            return await http.get(f"http://two.test:{site.port}/"), proxy.passages

    response, passages = run(go())
    assert response.status_code == 200 and "second address" in response.text
    assert passages == [Passage("GET", "two.test", site.port, "127.0.0.1", None)]


# --- forbidden: no packet reaches the address ----------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "LocalHost"]
)
def test_loopback_in_any_spelling_is_refused_before_connecting(
    listener: Any, spelling: str
) -> None:
    server: Listener = listener("127.0.0.1")
    resolver = Recording({"localhost": ["127.0.0.1"]})
    target = f"{spelling}:{server.port}"

    async def go() -> tuple[bytes, bytes, list[Passage]]:
        async with VettingProxy(resolver, NOTHING) as proxy:
            get = await exchange(proxy, f"GET http://{target}/ HTTP/1.1\r\n\r\n".encode())
            connect = await exchange(proxy, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            return get, connect, proxy.passages

    get, connect, passages = run(go())
    assert_refused(get, 403, "forbidden_address")
    assert_refused(connect, 403, "forbidden_address")
    assert server.connections() == 0
    assert [(p.method, p.host, p.port, p.address, p.refused) for p in passages] == [
        ("GET", spelling.lower(), server.port, None, "forbidden_address"),
        ("CONNECT", spelling.lower(), server.port, None, "forbidden_address"),
    ]
    assert "a loopback address" in passages[0].detail


def test_a_name_resolving_to_loopback_is_refused(listener: Any) -> None:
    server: Listener = listener("127.0.0.1")
    # Public-looking name, private answer: what a rebinding attack serves.
    resolver = Recording({"rebind.test": ["127.0.0.1"]})

    async def go() -> tuple[bytes, bytes, list[Passage]]:
        async with VettingProxy(resolver, NOTHING) as proxy:
            get = await exchange(
                proxy, f"GET http://rebind.test:{server.port}/ HTTP/1.1\r\n\r\n".encode()
            )
            tunnel = await exchange(
                proxy, f"CONNECT rebind.test:{server.port} HTTP/1.1\r\n\r\n".encode()
            )
            return get, tunnel, proxy.refusals()

    get, tunnel, refusals = run(go())
    assert_refused(get, 403, "forbidden_address")
    assert_refused(tunnel, 403, "forbidden_address")
    assert server.connections() == 0
    assert len(refusals) == 2
    assert refusals[0].detail.startswith("rebind.test resolves to 127.0.0.1, a loopback address")


def test_the_metadata_address_is_refused_without_connecting() -> None:
    resolver = Recording()

    async def go() -> tuple[bytes, bytes, list[Passage]]:
        # A short connect timeout: a proxy that tried to connect would answer "connect".
        async with VettingProxy(resolver, LOOPBACK, connect_timeout=0.5) as proxy:
            get = await exchange(
                proxy, b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n"
            )
            tunnel = await exchange(proxy, b"CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n")
            return get, tunnel, proxy.passages

    get, tunnel, passages = run(go())
    assert_refused(get, 403, "forbidden_address")
    assert_refused(tunnel, 403, "forbidden_address")
    assert [(p.host, p.port, p.address, p.refused) for p in passages] == [
        ("169.254.169.254", 80, None, "forbidden_address"),
        ("169.254.169.254", 443, None, "forbidden_address"),
    ]
    assert "link-local" in passages[0].detail
    assert resolver.calls == []


def test_ipv6_literals_are_read_and_vetted() -> None:
    resolver = Recording()

    async def go() -> tuple[bytes, bytes, list[Passage]]:
        async with VettingProxy(resolver, LOOPBACK) as proxy:
            tunnel = await exchange(proxy, b"CONNECT [::1]:443 HTTP/1.1\r\n\r\n")
            # IPv4 loopback carried in IPv6 is judged as the IPv4 it carries.
            get = await exchange(proxy, b"GET http://[::FFFF:7f00:1]/x HTTP/1.1\r\n\r\n")
            return tunnel, get, proxy.passages

    tunnel, get, passages = run(go())
    assert_refused(tunnel, 403, "forbidden_address")
    assert_refused(get, 403, "forbidden_address")
    assert [(p.method, p.host, p.port, p.refused) for p in passages] == [
        ("CONNECT", "::1", 443, "forbidden_address"),
        ("GET", "::ffff:7f00:1", 80, "forbidden_address"),
    ]
    assert resolver.calls == []


# --- the browser's own calls ---------------------------------------------------------------


BROWSER_SERVICES = [
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "clients1.google.com",
    "clientservices.googleapis.com",
    "safebrowsing.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    "r3---sn-abc.gvt1.com",
    "android.clients.google.com",
    "Update.GoogleAPIs.com.",
]


@pytest.mark.parametrize("host", BROWSER_SERVICES)
def test_browser_services_are_known(host: str) -> None:
    assert is_browser_service(host)


@pytest.mark.parametrize(
    "host",
    [
        "fonts.googleapis.com",
        "ajax.googleapis.com",
        "www.googleapis.com",
        "www.google.com",
        "gvt1.com.example.test",
        "notgvt1.com",
        "maps.google.com",
    ],
)
def test_hosts_pages_use_are_not_browser_services(host: str) -> None:
    assert not is_browser_service(host)


def test_browser_services_are_refused_without_a_lookup() -> None:
    resolver = Recording()  # answers nothing, and remembers being asked

    async def go() -> tuple[list[bytes], bytes, list[Passage]]:
        async with VettingProxy(resolver, LOOPBACK) as proxy:
            answers = [
                await exchange(proxy, b"CONNECT update.googleapis.com:443 HTTP/1.1\r\n\r\n"),
                await exchange(proxy, b"CONNECT ACCOUNTS.google.com:443 HTTP/1.1\r\n\r\n"),
                await exchange(proxy, b"GET http://redirector.gvt1.com/edgedl/x HTTP/1.1\r\n\r\n"),
            ]
            # A page's font host is looked up like any site (and does not exist here).
            fonts = await exchange(proxy, b"CONNECT fonts.googleapis.com:443 HTTP/1.1\r\n\r\n")
            return answers, fonts, proxy.passages

    answers, fonts, passages = run(go())
    for answer in answers:
        assert_refused(answer, 403, "browser_service")
    assert_refused(fonts, 502, "dns")
    assert resolver.calls == [("fonts.googleapis.com", 443)]
    assert [(p.host, p.refused) for p in passages] == [
        ("update.googleapis.com", "browser_service"),
        ("accounts.google.com", "browser_service"),
        ("redirector.gvt1.com", "browser_service"),
        ("fonts.googleapis.com", "dns"),
    ]


# --- names that do not resolve, servers that do not answer ---------------------------------


def test_lookup_and_connect_failures_are_502_and_recorded() -> None:
    port = closed_port()

    async def go() -> tuple[bytes, bytes, bytes, list[Passage]]:
        async with VettingProxy(Recording({"closed.test": ["127.0.0.1"]}), LOOPBACK) as proxy:
            gone = await exchange(proxy, b"CONNECT gone.test:443 HTTP/1.1\r\n\r\n")
            closed = await exchange(proxy, f"CONNECT closed.test:{port} HTTP/1.1\r\n\r\n".encode())
            passages = proxy.passages
        failing = Recording(fail=ResolveFailed("down.test: Temporary failure in name resolution"))
        async with VettingProxy(failing, LOOPBACK) as proxy:
            down = await exchange(proxy, b"GET http://down.test/ HTTP/1.1\r\n\r\n")
            passages += proxy.passages
        return gone, closed, down, passages

    gone, closed, down, passages = run(go())
    assert_refused(gone, 502, "dns")
    assert_refused(closed, 502, "connect")
    assert_refused(down, 502, "dns_error")
    assert [(p.host, p.address, p.refused) for p in passages] == [
        ("gone.test", None, "dns"),
        ("closed.test", None, "connect"),
        ("down.test", None, "dns_error"),
    ]
    assert "refused" in passages[1].detail.lower()
    assert "Temporary failure" in passages[2].detail


# --- requests the proxy cannot read ----------------------------------------------------------


def test_an_oversized_head_is_400_and_recorded() -> None:
    resolver = Recording({"example.test": ["127.0.0.1"]})
    head = b"GET http://example.test/ HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n"

    async def go() -> tuple[bytes, list[Passage]]:
        async with VettingProxy(resolver, LOOPBACK) as proxy:
            return await exchange(proxy, head), proxy.passages

    answer, passages = run(go())
    assert_refused(answer, 400, "bad_request")
    assert [(p.refused, p.address) for p in passages] == [("bad_request", None)]
    assert str(MAX_HEAD) in passages[0].detail
    assert resolver.calls == []


def test_a_large_head_within_the_bound_is_forwarded(site: Site) -> None:
    site.set("/", lambda request: Response(str(len(request.headers["X-Big"]))))
    big = "a" * (MAX_HEAD - 1024)

    async def go() -> httpx.Response:
        async with VettingProxy(Recording(), LOOPBACK) as proxy, client(proxy) as http:
            return await http.get(site.url("/"), headers={"X-Big": big})

    response = run(go())
    assert response.status_code == 200 and response.text == str(len(big))


@pytest.mark.parametrize(
    "request_head",
    [
        b"GARBAGE\r\n\r\n",
        b"\r\n\r\n",
        b"GET  http://example.test/ HTTP/1.1\r\n\r\n",
        b"GET /relative HTTP/1.1\r\nHost: example.test\r\n\r\n",
        b"GET ftp://example.test/ HTTP/1.1\r\n\r\n",
        b"GET http://user@example.test/ HTTP/1.1\r\n\r\n",
        b"GET http://example.test/ HTTP/2.0\r\n\r\n",
        b"GET http://example.test/ HTTP/1.1\r\nno colon here\r\n\r\n",
        b"CONNECT example.test HTTP/1.1\r\n\r\n",
        b"CONNECT example.test:70000 HTTP/1.1\r\n\r\n",
        b"CONNECT [::1:443 HTTP/1.1\r\n\r\n",
        b"CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n",
        b"CONNECT ::1:443 HTTP/1.1\r\n\r\n",
        b"POST http://example.test/ HTTP/1.1\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST http://example.test/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    ],
)
def test_a_malformed_request_is_400_and_recorded(request_head: bytes) -> None:
    resolver = Recording({"example.test": ["127.0.0.1"]})

    async def go() -> tuple[bytes, list[Passage]]:
        async with VettingProxy(resolver, LOOPBACK) as proxy:
            return await exchange(proxy, request_head), proxy.passages

    answer, passages = run(go())
    assert_refused(answer, 400, "bad_request")
    [passage] = passages
    assert passage.refused == "bad_request" and passage.address is None and passage.detail
    assert resolver.calls == []


# --- bounds and closing ----------------------------------------------------------------------


def test_past_max_connections_a_connection_waits_for_a_slot() -> None:
    async def go() -> None:
        proxy = VettingProxy(Recording(), LOOPBACK, max_connections=1)
        async with Echo() as echo, proxy:
            _, first = await open_tunnel(proxy, f"127.0.0.1:{echo.port}")
            reader, writer = await asyncio.open_connection(*_address(proxy.url))
            writer.write(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode())
            # Not answered while the only slot is taken (a bound on a wait for nothing).
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.3)
            assert len(proxy.passages) == 1 and echo.accepted == 1
            first.close()
            assert await reader.readuntil(b"\r\n\r\n") == (
                b"HTTP/1.1 200 Connection established\r\n\r\n"
            )
            writer.write(b"second")
            assert await reader.readexactly(6) == b"second"
            assert len(proxy.passages) == 2 and echo.accepted == 2
            writer.close()

    run(go())


def test_an_idle_tunnel_is_closed() -> None:
    async def go() -> bytes:
        async with Echo() as echo, VettingProxy(Recording(), LOOPBACK, idle_timeout=0.3) as proxy:
            reader, writer = await open_tunnel(proxy, f"127.0.0.1:{echo.port}")
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"
            rest = await reader.read()  # nobody sends anything more: the proxy ends it
            await echo.ended.wait()
            writer.close()
            return rest

    assert run(go(), timeout=10) == b""


def test_the_tunnel_closes_upstream_when_the_browser_hangs_up() -> None:
    async def go() -> None:
        async with Echo() as echo, VettingProxy(Recording(), LOOPBACK) as proxy:
            _, writer = await open_tunnel(proxy, f"127.0.0.1:{echo.port}")
            writer.close()
            await echo.ended.wait()  # long before the 30 s idle timeout

    run(go(), timeout=10)


def test_aclose_closes_open_tunnels_promptly() -> None:
    async def go() -> None:
        async with Echo() as echo:
            proxy = VettingProxy(Recording(), LOOPBACK)
            await proxy.start()
            reader, writer = await open_tunnel(proxy, f"127.0.0.1:{echo.port}")
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"
            # A connection the browser opened ahead and never used.
            idle_reader, idle_writer = await asyncio.open_connection(*_address(proxy.url))

            await asyncio.wait_for(proxy.aclose(), 2)  # the idle timeout is 30 s

            assert await asyncio.wait_for(reader.read(), 2) == b""
            await asyncio.wait_for(echo.ended.wait(), 2)  # the site's side is closed too
            # Reset instead if it was closed before the proxy accepted it.
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(idle_reader.read(), 2) == b""
            assert [t for t in asyncio.all_tasks() if is_ours(t)] == []
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*_address(proxy.url))
            writer.close()
            idle_writer.close()

    run(go(), timeout=10)


def test_past_its_byte_budget_the_proxy_cuts_and_refuses(site: Site) -> None:
    site.set("/big", lambda request: Response(b"y" * 200_000))
    site.set("/small", lambda request: Response(b"small"))

    async def go() -> tuple[bool, httpx.Response, list[Passage]]:
        async with (
            VettingProxy(Recording(), LOOPBACK, max_bytes=100_000) as proxy,
            client(proxy) as http,
        ):
            cut = False
            try:
                whole = await http.get(site.url("/big"))
                cut = len(whole.content) < 200_000
            except httpx.HTTPError:
                cut = True  # the connection was cut mid-answer
            after = await http.get(site.url("/small"))
            return cut and proxy.over_budget, after, proxy.refusals()

    cut, after, refusals = run(go())
    assert cut
    assert after.status_code == 403
    assert after.headers["x-scrubwatch-refused"] == "too_large"
    assert [r.refused for r in refusals] == ["too_large"]
    assert site.seen("/small") == []  # nothing more reached the site
