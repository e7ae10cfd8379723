"""Checks through a proxy: an HTTP forward/CONNECT proxy and a SOCKS5 proxy, both real
servers on 127.0.0.1 written here, in front of the scripted site.

Each proxy keeps a name table of its own (its "DNS") and connects only to loopback
addresses, so a name that only the proxy knows proves who resolved it, and nothing here
ever leaves the machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrubwatch.check.fetch import FetchOptions, HttpFetcher
from scrubwatch.check.netguard import IPNetwork, Resolver, StaticResolver
from scrubwatch.check.proxy import parse_proxy
from scrubwatch.core.exchange import Fetch
from support import Listener, Page, Site, page

from . import test_tls

# The TLS server whose certificate nobody vouches for, behind the proxies.
self_signed_server = test_tls.self_signed_server

LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]


# --- the proxies ---------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client hung up")
        data += chunk
    return data


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copies both ways until both sides have finished sending."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(b, a), daemon=True)
    back.start()
    copy(a, b)
    back.join()


class _Proxy:
    """A threaded TCP server that knows names only from ``names`` and connects only to
    loopback addresses; ``handle(sock)`` speaks the proxy's protocol."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = {k.lower(): v for k, v in (names or {}).items()}
        self.connections = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        outer = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with outer._lock:
                    outer.connections += 1
                with contextlib.suppress(OSError):
                    outer.handle(self.request)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        # A short poll: shutdown() waits for the loop's next look at its flag.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def handle(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def upstream(self, host: str, port: int) -> socket.socket | None:
        """A connection to ``host`` as this proxy resolves it; None if it cannot."""
        address = self.names.get(host.lower(), host)
        try:
            if not ipaddress.ip_address(address).is_loopback:
                return None
        except ValueError:
            return None  # a name this proxy does not know
        try:
            sock = socket.create_connection((address, port), timeout=5)
        except OSError:
            return None
        with self._lock:
            self._open.append(sock)
        return sock

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in self._open:
                sock.close()


class HttpProxy(_Proxy):
    """Forwards absolute-URI requests and tunnels CONNECT, like squid."""

    def __init__(
        self, names: Mapping[str, str] | None = None, login: tuple[str, str] | None = None
    ) -> None:
        super().__init__(names)
        self.request_lines: list[str] = []
        self.login = login

    def handle(self, sock: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return
            head += chunk
        line, *rest = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in rest)}
        self.request_lines.append(line)
        method, target, _ = line.split(" ")
        if self.login is not None:
            token = base64.b64encode(":".join(self.login).encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {token}":
                sock.sendall(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n'
                    b"Connection: close\r\n\r\n"
                )
                return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = self.upstream(host.strip("[]"), int(port))
            if upstream is None:
                sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(sock, upstream)
            return
        url = urlsplit(target)
        upstream = self.upstream(url.hostname or "", url.port or 80)
        if upstream is None:
            sock.sendall(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [
            f"{k}: {v}"
            for k, v in headers.items()
            if k not in ("proxy-authorization", "proxy-connection", "connection")
        ]
        forwarded = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
        upstream.sendall(forwarded.encode("latin-1") + b"\r\n\r\n")
        # One request per connection: the site closes after its answer, so do we.
        _pipe(sock, upstream)


@dataclass(frozen=True)
class SocksRequest:
    kind: str  # "ipv4", "ipv6" or "name": how the client named the site
    host: str
    port: int


class SocksProxy(_Proxy):
    """SOCKS5 CONNECT (RFC 1928), with username/password (RFC 1929) when ``login``.

    ``route`` maps an address the client asks for to the loopback address that stands
    for it here, as a proxy's own network would.
    """

    def __init__(
        self,
        names: Mapping[str, str] | None = None,
        route: Mapping[str, str] | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(names)
        self.route = dict(route or {})
        self.login = login
        self.requests: list[SocksRequest] = []

    def handle(self, sock: socket.socket) -> None:
        version, count = _recv_exact(sock, 2)
        methods = _recv_exact(sock, count)
        assert version == 5
        wanted = 2 if self.login is not None else 0
        if wanted not in methods:
            sock.sendall(b"\x05\xff")
            return
        sock.sendall(bytes([5, wanted]))
        if self.login is not None:
            _recv_exact(sock, 1)
            user = _recv_exact(sock, _recv_exact(sock, 1)[0]).decode()
            password = _recv_exact(sock, _recv_exact(sock, 1)[0]).decode()
            if (user, password) != self.login:
                sock.sendall(b"\x01\x01")
                return
            sock.sendall(b"\x01\x00")
        _, command, _, kind = _recv_exact(sock, 4)
        if kind == 1:
            how, host = "ipv4", socket.inet_ntoa(_recv_exact(sock, 4))
        elif kind == 4:
            how, host = "ipv6", socket.inet_ntop(socket.AF_INET6, _recv_exact(sock, 16))
        else:
            how, host = "name", _recv_exact(sock, _recv_exact(sock, 1)[0]).decode()
        request = SocksRequest(how, host, int.from_bytes(_recv_exact(sock, 2), "big"))
        self.requests.append(request)

        def reply(code: int) -> None:
            sock.sendall(bytes([5, code, 0, 1]) + bytes(6))

        if command != 1:
            reply(7)
            return
        upstream = self.upstream(self.route.get(request.host, request.host), request.port)
        if upstream is None:
            reply(4)  # host unreachable, as a proxy says when it cannot resolve the name
            return
        reply(0)
        _pipe(sock, upstream)


@pytest.fixture
def http_proxy() -> Iterator[Callable[..., HttpProxy]]:
    made: list[HttpProxy] = []

    def make(**kwargs: Any) -> HttpProxy:
        made.append(HttpProxy(**kwargs))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def socks_proxy() -> Iterator[Callable[..., SocksProxy]]:
    made: list[SocksProxy] = []

    def make(**kwargs: Any) -> SocksProxy:
        made.append(SocksProxy(**kwargs))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


def fetch(
    url: str,
    proxy: str | None,
    *,
    allow: list[IPNetwork] | None = None,
    resolver: Resolver | None = None,
    default_proxy: str | None = None,
) -> Fetch:
    options = FetchOptions(
        user_agent="Mozilla/5.0 (test)",
        timeout=5,
        max_bytes=1_000_000,
        concurrency=4,
        per_host=2,
        retries=0,
        allow_networks=LOOPBACK if allow is None else allow,
        proxy=default_proxy,
    )

    async def go() -> Fetch:
        # No name resolves here unless a test says so: a lookup we should not make fails.
        async with HttpFetcher(options, resolver or StaticResolver({})) as fetcher:
            return await fetcher.fetch(url, proxy=proxy)

    return asyncio.run(go())


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- an HTTP proxy -------------------------------------------------------------------------


def test_a_page_through_an_http_proxy(site: Site, http_proxy: Callable[..., HttpProxy]) -> None:
    site.set("/x.html", page("X", "<p>through the proxy</p>"))
    proxy = http_proxy(names={"site.test": "127.0.0.1"})

    # Nothing is allowed and nothing resolves here: only the proxy knows site.test.
    result = fetch(
        f"http://site.test:{site.port}/x.html", f"http://127.0.0.1:{proxy.port}", allow=[]
    )

    assert result.error is None, result.error_detail
    assert result.status == 200 and b"through the proxy" in result.content
    assert proxy.request_lines == [f"GET http://site.test:{site.port}/x.html HTTP/1.1"]
    [seen] = site.seen("/x.html")
    assert seen.host == f"site.test:{site.port}"
    assert result.peer is None  # the proxy connected; we never saw the site's address
    assert result.proxy == f"http://127.0.0.1:{proxy.port}"


def test_https_through_an_http_proxy_is_a_tunnel_verified_end_to_end(
    self_signed_server: Any, http_proxy: Callable[..., HttpProxy]
) -> None:
    proxy = http_proxy()
    url = f"https://127.0.0.1:{self_signed_server.port}/"

    result = fetch(url, f"http://127.0.0.1:{proxy.port}")

    assert proxy.request_lines == [f"CONNECT 127.0.0.1:{self_signed_server.port} HTTP/1.1"]
    # The TLS handshake went through the tunnel to the site and checked its certificate.
    assert result.error == "connect"
    assert "certificate is not trusted" in result.error_detail
    assert self_signed_server.log == []


def test_an_http_proxy_that_wants_a_login(site: Site, http_proxy: Callable[..., HttpProxy]) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    proxy = http_proxy(login=("ann", "s3cret"))
    url = site.url("/x.html")

    refused = fetch(url, f"http://127.0.0.1:{proxy.port}")
    let_in = fetch(url, f"http://ann:s3cret@127.0.0.1:{proxy.port}")

    assert refused.error == "connect" and refused.status == 407
    assert refused.error_detail == (
        f"proxy http://127.0.0.1:{proxy.port} wants a username and password"
        " (put them in the proxy URL)"
    )
    assert let_in.error is None and let_in.status == 200
    # The password reaches the proxy and nothing else: not the site, not the evidence.
    assert "proxy-authorization" not in site.seen("/x.html")[-1].headers
    assert "s3cret" not in repr(let_in)
    assert all(k.lower() != "proxy-authorization" for k, _ in let_in.request_headers)


def test_an_https_tunnel_carries_the_proxy_login(
    self_signed_server: Any, http_proxy: Callable[..., HttpProxy]
) -> None:
    proxy = http_proxy(login=("ann", "s3cret"))

    result = fetch(
        f"https://127.0.0.1:{self_signed_server.port}/", f"http://ann:s3cret@127.0.0.1:{proxy.port}"
    )

    # Let through (no 407): the handshake that failed was the site's.
    assert "certificate is not trusted" in result.error_detail


# --- a SOCKS5 proxy ------------------------------------------------------------------------


def test_socks5_asks_the_proxy_for_the_vetted_address(
    site: Site, socks_proxy: Callable[..., SocksProxy], listener: Callable[..., Listener]
) -> None:
    # far.test is 127.0.0.2 to us; the proxy's network reaches it at 127.0.0.1. A direct
    # connection would land on the trap.
    trap = listener("127.0.0.2", site.port)
    site.set("/x.html", page("X", "<p>via socks</p>"))
    proxy = socks_proxy(route={"127.0.0.2": "127.0.0.1"})

    result = fetch(
        f"http://far.test:{site.port}/x.html",
        f"socks5://127.0.0.1:{proxy.port}",
        # Only the site's address is allowed, not the proxy's: the proxy is trusted.
        allow=[ipaddress.ip_network("127.0.0.2/32")],
        resolver=StaticResolver({"far.test": ["127.0.0.2"]}),
    )

    assert result.error is None, result.error_detail
    assert b"via socks" in result.content
    assert proxy.requests == [SocksRequest("ipv4", "127.0.0.2", site.port)]
    assert result.peer == "127.0.0.2"
    assert trap.connections() == 0
    assert site.seen("/x.html")[0].host == f"far.test:{site.port}"


def test_socks5h_lets_the_proxy_resolve(site: Site, socks_proxy: Callable[..., SocksProxy]) -> None:
    site.set("/x.html", page("X", "<p>via socks5h</p>"))
    proxy = socks_proxy(names={"site.test": "127.0.0.1"})

    result = fetch(f"http://site.test:{site.port}/x.html", f"socks5h://127.0.0.1:{proxy.port}")

    assert result.error is None, result.error_detail
    assert b"via socks5h" in result.content
    assert proxy.requests == [SocksRequest("name", "site.test", site.port)]
    assert result.peer is None


def test_https_through_socks_is_verified_end_to_end(
    self_signed_server: Any, socks_proxy: Callable[..., SocksProxy]
) -> None:
    proxy = socks_proxy()

    result = fetch(
        f"https://127.0.0.1:{self_signed_server.port}/", f"socks5://127.0.0.1:{proxy.port}"
    )

    assert proxy.requests == [SocksRequest("ipv4", "127.0.0.1", self_signed_server.port)]
    assert result.error == "connect"
    assert "certificate is not trusted" in result.error_detail


def test_socks5_login(site: Site, socks_proxy: Callable[..., SocksProxy]) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    proxy = socks_proxy(login=("ann", "pä ss"))
    url = site.url("/x.html")

    anonymous = fetch(url, f"socks5://127.0.0.1:{proxy.port}")
    wrong = fetch(url, f"socks5://ann:nope@127.0.0.1:{proxy.port}")
    right = fetch(url, f"socks5://ann:p%C3%A4%20ss@127.0.0.1:{proxy.port}")

    assert (anonymous.error, anonymous.error_detail) == (
        "connect",
        f"proxy socks5://127.0.0.1:{proxy.port} accepts no login scrubwatch offers"
        " (if it needs a username and password, put them in the proxy URL)",
    )
    assert (wrong.error, wrong.error_detail) == (
        "connect",
        f"proxy socks5://127.0.0.1:{proxy.port} refused the username and password",
    )
    assert right.error is None and right.status == 200
    assert len(site.seen("/x.html")) == 1


def test_a_name_the_socks5h_proxy_cannot_reach_is_a_connect_error_not_gone(
    socks_proxy: Callable[..., SocksProxy],
) -> None:
    # Through socks5h a missing domain and an unreachable host look alike: neither may
    # read as "its domain name no longer resolves".
    proxy = socks_proxy()

    result = fetch("http://nowhere.test/", f"socks5h://127.0.0.1:{proxy.port}")

    assert (result.error, result.error_detail) == (
        "connect",
        f"proxy socks5h://127.0.0.1:{proxy.port} could not connect to nowhere.test:80:"
        " host unreachable",
    )


# --- a proxy that is down, or misconfigured ------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h"])
def test_a_proxy_that_is_down_is_named(site: Site, scheme: str) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    port = closed_port()

    result = fetch(site.url("/x.html"), f"{scheme}://127.0.0.1:{port}")

    assert (result.error, result.error_detail) == (
        "connect",
        f"cannot connect to proxy {scheme}://127.0.0.1:{port}: connection refused",
    )
    assert site.seen() == []  # never went around it


def test_the_default_proxy_applies_and_an_empty_one_goes_direct(
    site: Site, socks_proxy: Callable[..., SocksProxy]
) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    proxy = socks_proxy()
    default = f"socks5://127.0.0.1:{proxy.port}"

    through = fetch(site.url("/x.html"), None, default_proxy=default)
    direct = fetch(site.url("/x.html"), "", default_proxy=default)

    assert through.error is None and direct.error is None
    assert len(proxy.requests) == 1
    assert (through.proxy, direct.proxy) == (default, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:21", "unsupported proxy scheme ftp://"),
        ("127.0.0.1:3128", "unsupported proxy scheme"),
        ("socks5h://127.0.0.1", "needs a host and a port"),
        ("http://user:hunter2@127.0.0.1:99999", "invalid port"),
    ],
)
def test_an_unusable_proxy_is_an_error_and_never_bypassed(
    site: Site, url: str, message: str
) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    with pytest.raises(ValueError, match=message):
        parse_proxy(url)

    result = fetch(site.url("/x.html"), url)

    assert result.error == "connect" and message in result.error_detail
    assert "hunter2" not in result.error_detail
    assert site.seen() == []


# --- the address guard behind a proxy ------------------------------------------------------

# Through these the proxy resolves names; what the URL says is still checked.
NAME_RESOLVING = ["http", "socks5h"]


@pytest.mark.parametrize("scheme", NAME_RESOLVING)
@pytest.mark.parametrize("host", ["127.0.0.2", "2130706434", "127.2", "[::ffff:127.0.0.2]"])
def test_a_forbidden_address_in_the_url_is_refused_before_the_proxy(
    scheme: str, host: str, listener: Callable[..., Listener], http_proxy: Any, socks_proxy: Any
) -> None:
    trap = listener("127.0.0.2")
    proxy = http_proxy() if scheme == "http" else socks_proxy()

    result = fetch(f"http://{host}:{trap.port}/admin", f"{scheme}://127.0.0.1:{proxy.port}")

    assert result.error == "forbidden_address", result.error_detail
    assert "a loopback address; scrubwatch does not fetch it" in result.error_detail
    assert proxy.connections == 0
    assert trap.connections() == 0


@pytest.mark.parametrize("scheme", NAME_RESOLVING)
@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "admin.localhost"])
def test_loopback_names_are_refused_before_the_proxy(
    scheme: str, host: str, site: Site, http_proxy: Any, socks_proxy: Any
) -> None:
    proxy = http_proxy() if scheme == "http" else socks_proxy(names={host: "127.0.0.1"})

    # The proxy itself is on loopback, and still used: only the site's address is judged.
    result = fetch(f"http://{host}:{site.port}/", f"{scheme}://127.0.0.1:{proxy.port}", allow=[])

    assert result.error == "forbidden_address", result.error_detail
    assert proxy.connections == 0
    assert site.seen() == []


def test_socks5_vets_the_address_it_hands_the_proxy(
    socks_proxy: Callable[..., SocksProxy], listener: Callable[..., Listener]
) -> None:
    trap = listener("127.0.0.2")
    proxy = socks_proxy()

    result = fetch(
        f"http://trap.test:{trap.port}/",
        f"socks5://127.0.0.1:{proxy.port}",
        resolver=StaticResolver({"trap.test": ["127.0.0.2"]}),
    )

    assert result.error == "forbidden_address"
    assert result.error_detail.startswith("trap.test resolves to 127.0.0.2, a loopback address")
    assert proxy.connections == 0
    assert trap.connections() == 0


class _Rebinding:
    """Allowed at the first lookup, forbidden at the next (DNS rebinding)."""

    def __init__(self) -> None:
        self.answers = [["127.0.0.1"]]

    async def resolve(self, host: str, port: int) -> list[str]:
        return self.answers.pop(0) if self.answers else ["127.0.0.2"]


def test_socks5_vets_the_address_at_connection_time(
    socks_proxy: Callable[..., SocksProxy], listener: Callable[..., Listener]
) -> None:
    # The pre-check sees 127.0.0.1; the connection's own lookup says 127.0.0.2, and only
    # the guard in the connector stops that address from reaching the proxy.
    trap = listener("127.0.0.2")
    proxy = socks_proxy()

    result = fetch(
        f"http://rebind.test:{trap.port}/",
        f"socks5://127.0.0.1:{proxy.port}",
        resolver=_Rebinding(),
    )

    assert result.error == "forbidden_address", result.error_detail
    assert proxy.requests == []
    assert trap.connections() == 0


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h"])
def test_a_redirect_to_a_forbidden_address_is_refused_through_a_proxy(
    scheme: str, site: Site, listener: Callable[..., Listener], http_proxy: Any, socks_proxy: Any
) -> None:
    trap = listener("127.0.0.2")
    site.set(
        "/x.html", Page("", status=302, headers={"Location": f"http://127.0.0.2:{trap.port}/"})
    )
    proxy = http_proxy() if scheme == "http" else socks_proxy()

    result = fetch(site.url("/x.html"), f"{scheme}://127.0.0.1:{proxy.port}")

    assert result.error == "forbidden_address", result.error_detail
    assert [h.status for h in result.hops] == [302]
    assert len(site.seen("/x.html")) == 1  # the first hop went through
    assert trap.connections() == 0


# --- a whole check through a proxy ---------------------------------------------------------


def test_every_request_of_a_check_goes_through_the_watch_s_proxy(
    site: Site, http_proxy: Callable[..., HttpProxy], tmp_path: Any
) -> None:
    from support import Harness

    site.set("/ads/1001.html", page("Ad", "<p>one</p>"))
    proxy = http_proxy(names={"site.test": "127.0.0.1"})
    url = f"http://site.test:{site.port}/ads/1001.html"
    h = Harness(
        tmp_path,
        [{"id": "ad", "url": url, "proxy": f"http://127.0.0.1:{proxy.port}", "user_agent": "UA/1"}],
    )
    try:
        h.run()
        site.set("/ads/1001.html", page("Ad", "<p>two</p>"))  # a change: the probe runs too
        [event] = h.run()
    finally:
        h.close()
    assert event.kind == "changed"
    # The page twice, then the not-found probe (a real 404 here, so no home page): all
    # through the proxy, all with the watch's user agent (nothing went direct).
    assert len(proxy.request_lines) == len(site.seen()) == 3
    assert site.seen()[2].path.startswith("/ads/") and site.seen()[2].path != "/ads/1001.html"
    assert all(seen.headers["user-agent"] == "UA/1" for seen in site.seen())
    assert event.current is not None
    kept = h.root / "evidence" / "ad" / f"{event.current.version}.manifest.json"
    assert json.loads(kept.read_bytes())["proxy"] == f"http://127.0.0.1:{proxy.port}"
