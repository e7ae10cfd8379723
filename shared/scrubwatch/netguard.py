"""Which addresses scrubwatch may connect to, enforced at the socket, for every hop.

A watch list is user input and a redirect is a site's input: either could point the
checker at the cloud metadata service or a database on the private network. The check
runs inside the HTTP connection pool, on the addresses a name resolved to, so the
connection goes to exactly the address that was checked (no re-resolution in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Iterable, Mapping, Sequence

import httpcore
from httpcore._backends.auto import AutoBackend

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class ForbiddenAddress(Exception):
    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host = host
        self.address = address


class NameNotFound(Exception):
    """The name does not exist (NXDOMAIN): to us, the site is gone."""


class ResolveFailed(Exception):
    """The resolver could not answer now; nothing is known about the name."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _SHARED_CGNAT
        or not address.is_global
    )


def allowed(address: IPAddress, allow: Sequence[IPNetwork]) -> bool:
    if any(address in net for net in allow):
        return True
    return is_public(address)


class Resolver(typing.Protocol):
    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """getaddrinfo in a thread, remembered for the life of one run."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], list[str]] = {}

    async def resolve(self, host: str, port: int) -> list[str]:
        key = (host, port)
        if key in self._cache:
            return self._cache[key]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                raise NameNotFound(host) from None
            raise ResolveFailed(f"{host}: {exc.strerror}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._cache[key] = addresses
        return addresses


class StaticResolver:
    """A fixed table of names, like /etc/hosts; unknown names do not exist."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self._table = {name.lower(): list(addrs) for name, addrs in table.items()}

    async def resolve(self, host: str, port: int) -> list[str]:
        if host.lower() not in self._table:
            raise NameNotFound(host)
        return self._table[host.lower()]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, vets and connects to the vetted address."""

    def __init__(self, resolver: Resolver, allow: Sequence[IPNetwork]) -> None:
        self._inner = AutoBackend()
        self._resolver = resolver
        self._allow = tuple(allow)

    async def vet(self, host: str, port: int) -> list[str]:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal else await self._resolver.resolve(host, port)
        good = [a for a in addresses if allowed(ipaddress.ip_address(a.split("%")[0]), self._allow)]
        if not good:
            raise ForbiddenAddress(host, addresses[0] if addresses else "(none)")
        return good

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vet(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress(path, "unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
