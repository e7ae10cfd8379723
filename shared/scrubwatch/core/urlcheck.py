"""Whether a URL in the watch list can be sent at all, checked when the list is loaded.

httpx parses more than can be sent: it keeps a 70-character host label, an empty label,
``a%20b`` as a host or port 99999, and aiohttp then fails deep inside every check. Here
the URL is parsed as httpx parses it (``httpx.URL``) and its host checked as DNS and IDNA
require, so that such a URL is one clear line from ``validate`` instead.

Each function returns why a URL is refused, one phrase with a hint, or None; the caller
adds the file, line and field. A URL is only ever shown with its password masked.
"""

from __future__ import annotations

import re
import unicodedata

import httpx
import idna

_SCHEMES = ("http", "https")
_MAX_HOST = 253  # RFC 1035, without the final dot
_MAX_LABEL = 63
_MAX_SHOWN = 200  # characters of a URL quoted in a message
# Letters, digits and '-' (RFC 1123), and '_', which real hosts use and DNS resolves.
_NAME_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")
# An IPv6 literal is the whole host part: "[", the address, "]", then at most a port.
_BRACKETED = re.compile(r"^\[[^\[\]]*\](?::[^\[\]]*)?$")
# `scheme://user:password@` as written, even in a URL too broken to parse: everything up
# to the last '@' is masked, so a password holding '@' or '/' is never shown in part
# (a port followed by an '@' in the path is masked too: better too much than too little).
_PASSWORD = re.compile(r"(^[^:/?#]*://[^/?#@:]*:).*@", re.DOTALL)
_USER_ONLY = re.compile(r"(^[^:/?#]*://)[^/?#@:]*@")


def shown(url: str) -> str:
    """The URL as it may be quoted in a message: any password replaced by ``***``, and
    a user name alone too (``https://TOKEN@host/`` is a common way to write a secret)."""
    text = _PASSWORD.sub(r"\1***@", url)
    text = _USER_ONLY.sub(r"\1***@", text)
    text = repr(text)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def unsendable(url: str) -> str | None:
    """Why the URL cannot be requested as it stands, or None."""
    for check in (_characters, _scheme, _brackets, _parsed):
        why = check(url)
        if why:
            return why
    return None


def credentials(url: str) -> str | None:
    """The URL, shown masked, when it carries a user name or password (``user:pass@``)."""
    if _authority(url).rpartition("@")[1]:
        return shown(url)
    return None


def _characters(url: str) -> str | None:
    # httpx turns a space into %20, even in the host, and other invisible characters
    # (a zero-width space, a no-break space) into bytes nobody meant to send; most
    # come with a copied link.
    for position, char in enumerate(url):
        if char == " ":
            return f"the URL {shown(url)} has a space at character {position + 1}: write it as %20"
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            return (
                f"the URL {shown(url)} has an invisible character U+{ord(char):04X} at "
                f"character {position + 1}: retype the URL or remove it"
            )
    return None


def _scheme(url: str) -> str | None:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        return f"URL must start with http:// or https://, got {shown(url)}"
    return None


def _authority(url: str) -> str:
    """``user:pass@host:port`` as written: after ``://``, up to the path, query or fragment."""
    rest = url.partition("://")[2]
    return re.split(r"[/?#]", rest, maxsplit=1)[0]


def _brackets(url: str) -> str | None:
    # httpx reads "http://[::1/" as host "[" and port ":1", and says the port is bad.
    host_port = _authority(url).rpartition("@")[2]
    if ("[" in host_port or "]" in host_port) and not _BRACKETED.match(host_port):
        return (
            f"unbalanced or misplaced [ ] in {shown(url)}: an IPv6 address is written "
            "in brackets, e.g. http://[2001:db8::1]:8080/"
        )
    return None


def _parsed(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port
    except httpx.InvalidURL as exc:
        if "@" in url:
            # httpx quotes the part it could not read, which may be part of a password
            # holding '/' or '#': say only what is likely.
            return f"invalid URL {shown(url)}: it cannot be parsed (a user name or password in it?)"
        return f"invalid URL {shown(url)}: {_first_line(exc)}"
    except UnicodeError as exc:  # idna.IDNAError is one: a host httpx could not encode
        return f"the host in {shown(url)} is not a valid domain name (IDNA: {_first_line(exc)})"
    if not host:
        return f"URL has no host: {shown(url)}"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range: a port is 1 to 65535"
    if ":" in host or _is_ipv4(host):
        return None  # an address, which httpx has already checked
    return host_problem(host)


def _is_ipv4(host: str) -> bool:
    # httpx checks a host of four dotted numbers as an address and rejects 256.1.1.1.
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def host_problem(host: str) -> str | None:
    """Why a host name (as sent: IDNA-encoded, ASCII) is not one DNS can look up."""
    name = host[:-1] if host.endswith(".") else host  # "example.org." is fully qualified
    if len(name) > _MAX_HOST:
        return f"the host name is {len(name)} characters: a host name is at most {_MAX_HOST}"
    for label in name.split("."):
        if not label:
            return f"the host {_quote(host)} has an empty label (two dots, or a leading dot)"
        if len(label) > _MAX_LABEL:
            return (
                f"the host label {_quote(label)} is {len(label)} characters: a label "
                f"(between dots) is at most {_MAX_LABEL}"
            )
        if not _NAME_LABEL.match(label):
            bad = next(c for c in label if not _NAME_LABEL.match(c))
            return (
                f"the host {_quote(host)} has {bad!r}, which a host name cannot have: "
                "letters, digits, '-', '_' and '.' only"
            )
        if label.lower().startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError) as exc:
                return (
                    f"the host label {_quote(label)} is not valid IDNA ({_first_line(exc)}): "
                    "write the name in its own letters, e.g. https://bücher.example/"
                )
    return None


def _quote(text: str) -> str:
    quoted = repr(text)
    return quoted if len(quoted) <= 80 else quoted[:79] + "…"


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
