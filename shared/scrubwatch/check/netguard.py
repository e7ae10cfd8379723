"""Which addresses scrubwatch may connect to, enforced where connections are made, every hop.

A watch list is user input and a redirect is a site's input: either could point the
checker at the cloud metadata service or a database on the private network. The check
runs in the connection pool's resolver, on the addresses a name resolved to, so the
connection goes to exactly the address that was checked (no re-resolution in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import typing
from collections.abc import Iterable, Mapping, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class ForbiddenAddress(Exception):
    def __init__(self, host: str, address: str) -> None:
        super().__init__(_refusal(host, address))
        self.host = host
        self.address = address


def _refusal(host: str, address: str) -> str:
    # The reader of this sentence is the person whose watch failed: it names the kind of
    # address and the one setting that would let scrubwatch fetch it, with the exact value.
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return f"{host} resolves to no usable address"
    what = kind_of(parsed)
    if host.strip("[]") == address:
        subject = f"{address} is {what}"
    elif _literal(host) == parsed:
        subject = f"{host} means {address}, {what}"
    else:
        subject = f"{host} resolves to {address}, {what}"
    return (
        f"{subject}; scrubwatch does not fetch it unless settings.allow_networks includes it"
        f' (e.g. "{address}/{parsed.max_prefixlen}")'
    )


def kind_of(address: IPAddress) -> str:
    """Why an address is not public, in the words its owner would use."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is not None:
            return kind_of(inner)
        if address.is_site_local:
            return "a site-local address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED_CGNAT:
        return "a shared (carrier-grade NAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    return "not a public address"


class NameNotFound(Exception):
    """The name does not exist (NXDOMAIN): to us, the site is gone."""


class ResolveFailed(Exception):
    """The resolver could not answer now; nothing is known about the name."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 (mapped, 6to4, Teredo) is judged as the IPv4 it carries.
        inner = address.ipv4_mapped or address.sixtofour
        if inner is not None:
            return is_public(inner)
        if address.teredo is not None:
            return is_public(address.teredo[1])
        if address.is_site_local:
            return False
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


# Every way inet_aton spells an IPv4 address: 127.1, 2130706433, 0x7f000001, 0177.0.0.1.
# A name made only of these labels is never a DNS name (no top-level domain is numeric),
# and resolvers, proxies and browsers all read it as an address.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.I)


def _literal(host: str) -> IPAddress | None:
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare.rstrip(".")))
        except OSError:
            return None
    return None


def _named_loopback(host: str) -> bool:
    # Names that mean "this machine" wherever they are resolved (RFC 6761): a proxy that
    # resolves them reaches its own loopback interface.
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def vet(host: str, port: int, resolver: Resolver, allow: Sequence[IPNetwork]) -> list[str]:
    """The addresses of ``host`` that may be connected to; ForbiddenAddress if none."""
    literal = _literal(host)
    addresses = [str(literal)] if literal else await resolver.resolve(host, port)
    good = [a for a in addresses if allowed(ipaddress.ip_address(a.split("%")[0]), allow)]
    if not good:
        raise ForbiddenAddress(host, addresses[0] if addresses else "(none)")
    return good


def vet_unresolved(host: str, allow: Sequence[IPNetwork]) -> None:
    """What can be checked of a host that a proxy, not scrubwatch, will resolve.

    The address the proxy connects to is never seen here, so only what the name itself
    says is checked: an IP address in any spelling, and the names that always mean
    loopback. Nothing is looked up: asking our own DNS would tell the site's name servers
    about a check that the user routed through a proxy so that it would not be seen.
    """
    literal = _literal(host)
    if literal is not None:
        if not allowed(literal, allow):
            raise ForbiddenAddress(host, str(literal))
        return
    if _named_loopback(host):
        loopback = ipaddress.ip_address("127.0.0.1")
        if not allowed(loopback, allow):
            raise ForbiddenAddress(host, str(loopback))


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that hands the connector only vetted addresses.

    aiohttp connects to exactly what its resolver returns, so the check and the
    connection use the same address. IP-literal URLs bypass resolvers; the fetcher vets
    those itself before each request.
    """

    def __init__(self, resolver: Resolver, allow: Sequence[IPNetwork]) -> None:
        self._resolver = resolver
        self._allow = tuple(allow)
        self.last: dict[str, str] = {}  # host -> address handed out, for the evidence

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await vet(host, port, self._resolver, self._allow)
        self.last[host] = addresses[0]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None
