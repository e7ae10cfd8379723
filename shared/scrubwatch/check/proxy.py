"""Proxies: parsing a proxy URL, HTTP proxy settings for aiohttp, and a SOCKS5 client.

A check may go through a proxy (settings.proxy or a watch's own): an HTTP proxy (plain
``http://`` pages are forwarded, ``https://`` ones tunnelled with CONNECT, the proxy
resolving the name either way, as for curl and browsers) or SOCKS5 (``socks5://``: we
resolve and vet the address, the proxy connects to exactly that; ``socks5h://``: the proxy
resolves). The proxy is the user's own hop, so its address is not vetted; what can still
be vetted about the site behind it is in netguard.vet_unresolved.

aiohttp speaks to HTTP proxies itself; this module only turns a Proxy into its settings.
SOCKS5 is a client of our own (RFC 1928, with RFC 1929 username/password), a few dozen
lines of a protocol frozen since 1996, rather than a dependency such as aiohttp-socks: the
SOCKS libraries resolve names with their own resolver, around our address guard. Ours
plugs into aiohttp's connector, after aiohttp has resolved (and, for socks5://, vetted) the
address, so the proxy is asked for exactly what was checked.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import httpx
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest, ConnectionKey

_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
PROXY_LOGIN = "proxy {proxy} wants a username and password (put them in the proxy URL)"


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


def os_reason(error: OSError | None) -> str:
    # asyncio words a refused connection "Connect call failed ('127.0.0.1', 8080)"; the
    # errno's own text is the plain sentence.
    if error is None:
        return "no address to connect to"
    text = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


# --- SOCKS5 (RFC 1928, with RFC 1929 username/password) ------------------------------------

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
    raise ProxyFailed(key, f"cannot connect to proxy {proxy}: {os_reason(last)}")


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
        raise ProxyFailed(key, PROXY_LOGIN.format(proxy=proxy))
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


class SocksConnector(aiohttp.TCPConnector):
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


def login_headers(proxy: Proxy) -> dict[str, str]:
    if proxy.username is None:
        return {}
    login = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(login).decode("ascii")}


def httpx_proxy(proxy: Proxy) -> httpx.Proxy:
    # The login goes as a header, not as the URL's user and password: aiohttp's path for
    # those (BasicAuth) is deprecated. aiohttp sends these headers on the CONNECT only,
    # never inside the tunnel; plain-http requests get the header in HttpFetcher._once.
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    return httpx.Proxy(f"{proxy.scheme}://{host}:{proxy.port}", headers=login_headers(proxy))


class ProxyResolves(AbstractResolver):
    """Hands the name back unresolved, for the socks5h proxy to resolve."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": host, "port": port, "family": family, "proto": 0, "flags": 0}
        ]

    async def close(self) -> None:
        return None
