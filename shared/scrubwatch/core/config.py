"""The watch list: parsing, validation and the problems it reports.

Everything is checked before anything runs, and every problem names the file, the line
and the field (``watchlist.yaml:14: watches[2].select: ...``) so a user can fix it at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from selectolax.lexbor import LexborHTMLParser

from . import urlcheck
from .terminal import one_line

# A current mainstream browser's string: nothing scrubwatch sends names the tool, so a
# watched site cannot tell it is being watched from the request alone (README).
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CHANNELS = ("email", "slack")
DEFAULT_TIMEOUT = 20.0
# Without `deadline`, a check may take three timeouts in all: a slow answer, a retry and a
# redirect hop, say, but not the retries times the hops a site could otherwise make it.
DEADLINE_PER_TIMEOUT = 3

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RESERVED_IDS = frozenset({"contacts"})
# libyaml's composer is ten times faster and keeps the same line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_NODES = 200_000  # far beyond any real watch list; stops alias "billion laughs" files
# 10,000 watches are about 2 MB of YAML: a bigger file is a mistake (or an attack).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_SHOWN = "10 MB"


class Limits(NamedTuple):
    """How big a watch list may be: values (aliases counted at each use) and bytes."""

    values: int = _MAX_NODES
    bytes: int = MAX_FILE_BYTES


# `scrubwatch push` (a list for a stack, validated on the user's machine): 100,000 watches
# are about 13 MB and 900,000 values; still bounded, so an alias bomb stops early.
LARGE = Limits(values=2_000_000, bytes=100 * 1024 * 1024)
DEFAULT_LIMITS = Limits()
# A value quoted in a problem, and a whole problem line, are cut here: a problem is read
# on a terminal, and a value may be megabytes (or an alias expanding to them).
_MAX_QUOTED = 200
_MAX_LINE = 1000
# Past this many problems the rest are counted, not listed: nobody reads them all.
_MAX_PROBLEMS = 500
_PROBE_DOC = LexborHTMLParser("<html><body></body></html>")
_NULL_TAG = "tag:yaml.org,2002:null"
# Sections whose every line may be commented out: an empty one means "nothing here".
# Anywhere else an empty value is a mistake (most often a `#` read as a comment).
_MAY_BE_EMPTY = {("settings",), ("defaults",), ("watches",)}
_SELECTOR_KEYS = ("select", "items", "exclude")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# What PyYAML counts as a line break, so its marks index these lines (not str.splitlines).
_YAML_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
# What a terminal (or str.splitlines) would take as the end of a line, or not show at all.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")

# The events that each become one node when composed (an alias is a node of its own).
_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """The watch list cannot be used; ``problems`` holds one printable line each."""

    def __init__(self, problems: list[str]) -> None:
        # Bounded here, where every problem passes, whoever made it.
        problems = [bounded(p) for p in problems]
        super().__init__("\n".join(problems))
        self.problems = problems


def bounded(line: str, limit: int = _MAX_LINE) -> str:
    """One printable line of at most ``limit`` characters (cut with "…")."""
    text = _LINE_BREAKING.sub(" ", str(line))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: Any) -> str:
    """A value as a problem quotes it: its repr, cut to a couple of hundred characters."""
    return bounded(repr(value), _MAX_QUOTED)


def parse_duration(value: Any) -> float:
    """``20s``, ``6h``, ``1h30m``, ``1d`` or a number of seconds, to seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 6h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION_PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(
                f"invalid duration {quoted(value)}: use e.g. 30s, 15m, 6h, 1h30m or 1d"
            )
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ValueError("expected a duration such as 30s, 15m, 6h or 1d")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("duration must be a finite number greater than zero")
    return seconds


def parse_size(value: Any) -> int:
    """``10MB``, ``512KB`` or a number of bytes (KB and MB are 1024-based)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512KB or 10MB")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        unit = m.group(2).lower() if m.group(2) else None
        size = int(float(m.group(1)) * _SIZE_UNITS[unit])
    else:
        raise ValueError(f"invalid size {quoted(value)}: use e.g. 512KB or 10MB")
    if size <= 0:
        raise ValueError("size must be greater than zero")
    return size


def _check_selector(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("empty CSS selector")
        try:
            _PROBE_DOC.css(value)
        except Exception as exc:  # selectolax raises its own error type for bad selectors
            raise ValueError(
                f"invalid CSS selector {quoted(value)}: {bounded(str(exc), _MAX_QUOTED)}"
            ) from None
    return value


def _check_regex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"invalid regular expression {quoted(value)}: {bounded(str(exc), _MAX_QUOTED)}"
            ) from None
    return value


def _check_url(value: Any) -> Any:
    # Checked as the fetcher will send it: a URL httpx accepts but cannot send (a 70-
    # character host label, port 0) would pass here and then fail every check.
    if not isinstance(value, str):
        return value
    text = value.strip()
    if masked := urlcheck.credentials(text):
        raise ValueError(
            f"the URL {masked} has a user name or password: it would be sent as Basic "
            "auth and shown wherever the URL is; remove it"
        )
    if why := urlcheck.unsendable(text):
        raise ValueError(why)
    return text


def _check_watch_url(value: Any) -> Any:
    if isinstance(value, str) and (masked := urlcheck.credentials(value.strip())):
        # httpx sends `user:pass@` to the site as Basic auth, and the URL is written into
        # every capture's evidence and every alert (and, with witness, sent to the
        # Internet Archive). Nothing else in the URL is echoed: it is masked.
        raise ValueError(
            f"the URL {masked} has a user name or password: scrubwatch would send it to "
            "the site as Basic auth and write it into evidence and alerts; remove it "
            "(there is no setting for a site's login yet)"
        )
    return _check_url(value)


def _check_proxy(value: Any) -> Any:
    # The value is never echoed: a proxy address may carry a user name and password.
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid proxy address: {exc}") from None
    if parts.scheme not in _PROXY_SCHEMES:
        raise ValueError(
            "a proxy must start with http://, https://, socks5:// or socks5h://"
            + (f" (got {parts.scheme}://)" if parts.scheme else "")
        )
    if not parts.hostname:
        raise ValueError("the proxy address has no host: write it as scheme://host:port")
    if not port:
        raise ValueError(
            "the proxy address has no port: write it as scheme://host:port, "
            "e.g. socks5h://127.0.0.1:9050"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy address is scheme://host:port, with no path or query")
    return text


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Selector = Annotated[str, BeforeValidator(_check_selector)]
Regex = Annotated[str, BeforeValidator(_check_regex)]
HttpUrl = Annotated[str, BeforeValidator(_check_url)]
WatchUrl = Annotated[str, BeforeValidator(_check_watch_url)]
ProxyUrl = Annotated[str, BeforeValidator(_check_proxy)]
Channel = Literal["email", "slack"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Severity = Literal["info", "low", "medium", "high"]

# A rendered page waits for its selector or its `wait` at most this long: a browser page
# costs about 65 MB while open (docs/browser-rendering.md), so none may be held for long.
MAX_RENDER_WAIT = 30.0
_VIEWPORT = re.compile(r"^(\d{3,4})x(\d{3,4})$")


class RenderSpec(_Strict):
    """How a page built by JavaScript is read: in a headless browser (``render: browser``,
    or a mapping of these options)."""

    # False: `render: none`, which undoes a default's browser for one watch.
    browser: bool = True
    # The page is read once this selector matches (else after `wait`, or once loaded).
    wait_for: Selector | None = None
    wait: Duration | None = None  # a further wait once loaded (or once wait_for matched)
    viewport: str = "1280x800"

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: float | None) -> float | None:
        if value is not None and value > MAX_RENDER_WAIT:
            raise ValueError(f"at most {MAX_RENDER_WAIT:g}s (a browser page is costly to hold)")
        return value

    @field_validator("viewport")
    @classmethod
    def _viewport(cls, value: str) -> str:
        size = _VIEWPORT.match(value)
        if not size or not (320 <= int(size[1]) <= 3840 and 240 <= int(size[2]) <= 4320):
            raise ValueError(
                f"invalid viewport {quoted(value)}: write WIDTHxHEIGHT in pixels, such as "
                "1280x800 (320 to 3840 wide, 240 to 4320 high)"
            )
        return value

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.viewport.split("x")
        return int(width), int(height)


def _render_value(value: Any) -> Any:
    """``render: browser`` is the options' defaults; ``none`` undoes a default's."""
    if value == "browser":
        return {}
    if value == "none":
        return {"browser": False}
    if isinstance(value, str):
        raise ValueError(
            f"unknown render {quoted(value)}: use browser, none, or a mapping of wait_for, "
            "wait and viewport"
        )
    return value


Render = Annotated[RenderSpec, BeforeValidator(_render_value)]


class EmailSettings(_Strict):
    """SMTP for alerts from the command line; the password comes from the environment."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    from_: str = Field(alias="from", min_length=3)
    to: tuple[Annotated[str, Field(min_length=3)], ...] = Field(min_length=1)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = 30.0


class Authority(_Strict):
    """An RFC 3161 timestamp authority, and the certificate its tokens are checked with."""

    url: HttpUrl
    # PEM file of the authority's CA (relative to the watch list): `verify` checks every
    # token's signature with it, offline, and it is kept with the evidence.
    certificate: str = Field(min_length=1)


def _authority(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "give the authority's CA certificate too: {url: ..., certificate: ca.pem} "
            "(verify checks each token's signature with it; the README names free authorities)"
        )
    return value


class TimestampSettings(_Strict):
    """Trusted timestamps (RFC 3161) of every new chain head, from each authority."""

    authorities: tuple[Annotated[Authority, BeforeValidator(_authority)], ...] = Field(min_length=1)
    timeout: Duration = 20.0


class MinSeverity(_Strict):
    email: Severity = "low"
    slack: Severity = "low"


class Settings(_Strict):
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=1)
    timeout: Duration = DEFAULT_TIMEOUT  # per request
    # The most one watch's check may take in all: every hop, retry and the reading.
    # Not given: DEADLINE_PER_TIMEOUT × timeout (filled in by _default_deadline).
    deadline: Duration = DEADLINE_PER_TIMEOUT * DEFAULT_TIMEOUT
    max_bytes: Size = 10 * 1024 * 1024
    concurrency: int = Field(32, ge=1, le=1024)
    per_host: int = Field(4, ge=1, le=64)
    confirm_gone: int = Field(2, ge=1, le=100)
    confirm_errors: int = Field(3, ge=1, le=100)
    retries: int = Field(2, ge=0, le=10)
    # A page suspected gone or failing is checked again this soon, so a deletion is
    # confirmed within minutes rather than after a whole `every`.
    recheck: Duration = 600.0
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    email: EmailSettings | None = None
    slack_webhook: HttpUrl | None = None
    min_severity: MinSeverity = MinSeverity()
    # An independent witness for every watch (a watch may say `witness: none`).
    witness: Literal["wayback"] | None = None
    wayback_endpoint: HttpUrl = "https://web.archive.org"
    wayback_per_minute: int = Field(4, ge=1, le=6000)
    # Every check goes through this proxy (http, https, socks5 or socks5h://host:port).
    proxy: ProxyUrl | None = None
    # Children discovered by all watches together (each watch: discover.max_children).
    max_discovered: int = Field(5000, ge=0, le=1_000_000)
    # Pages open at once in the browser (render: browser): each costs about 65 MB.
    browser_pages: int = Field(4, ge=1, le=32)
    # RFC 3161 tokens of each new version's manifest (none by default).
    timestamp: TimestampSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_deadline(cls, data: Any) -> Any:
        # The default follows the timeout written, so a longer timeout is never cut short
        # by a deadline nobody wrote.
        if not isinstance(data, dict) or "deadline" in data:
            return data
        try:
            timeout = parse_duration(data.get("timeout", DEFAULT_TIMEOUT))
        except ValueError:
            return data  # timeout's own problem is reported
        return {**data, "deadline": DEADLINE_PER_TIMEOUT * timeout}

    @field_validator("deadline")
    @classmethod
    def _deadline_covers_timeout(cls, value: float, info: ValidationInfo) -> float:
        timeout = info.data.get("timeout")
        if timeout is not None and value < timeout:
            raise ValueError(
                f"deadline {value:g}s is shorter than timeout {timeout:g}s, so a check could "
                "not wait for even one answer: make it at least the timeout (without "
                f"deadline it is {DEADLINE_PER_TIMEOUT} × timeout)"
            )
        return value

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise ValueError("expected a list of CIDRs such as 127.0.0.1/32")
        nets = []
        for item in value:
            try:
                nets.append(ipaddress.ip_network(str(item), strict=False))
            except ValueError:
                raise ValueError(
                    f"invalid network {quoted(item)}: use a CIDR such as 10.0.0.0/8"
                ) from None
        return tuple(nets)


class Defaults(_Strict):
    every: Duration = 6 * 3600.0
    notify: tuple[Channel, ...] = ("email",)
    tags: tuple[str, ...] = ()
    exclude: tuple[Selector, ...] = ()
    ignore: tuple[Regex, ...] = ()
    render: Render | None = None


class ChildSpec(_Strict):
    """What a discovered child reads and how often, over its parent's own settings."""

    select: Selector | None = None
    exclude: tuple[Selector, ...] | None = None
    ignore: tuple[Regex, ...] | None = None
    items: Selector | None = None
    keywords: tuple[Annotated[str, Field(min_length=1)], ...] | None = None
    every: Duration | None = None
    notify: tuple[Channel, ...] | None = None
    tags: tuple[str, ...] | None = None
    witness: Literal["wayback", "none"] | None = None
    items_order: Literal["ignore", "report"] | None = None
    render: Render | None = None


class DiscoverSpec(_Strict):
    """Where a watch finds its children: links on its own page, a sitemap, or a feed."""

    links: Selector | None = None
    sitemap: HttpUrl | None = None
    feed: HttpUrl | None = None
    match: Regex | None = None
    # Children on the parent's registrable domain only (careers.example.com may link
    # jobs.example.com, not an ad network).
    same_site: bool = True
    max_children: int = Field(500, ge=1, le=100_000)
    child: ChildSpec = ChildSpec()

    @model_validator(mode="after")
    def _one_source(self) -> DiscoverSpec:
        given = [k for k in ("links", "sitemap", "feed") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of links (CSS for links on this page), sitemap or feed"
                + (f" (got {' and '.join(given)})" if given else "")
            )
        return self

    @property
    def source(self) -> str:
        return "links" if self.links else "sitemap" if self.sitemap else "feed"

    @property
    def spec_hash(self) -> str:
        """Changes whenever what is discovered changes (not how children are read)."""
        found = [self.links, self.sitemap, self.feed, self.match, self.same_site]
        return hashlib.sha256(json.dumps(found).encode()).hexdigest()[:16]


class WatchSpec(_Strict):
    id: str | None = None
    name: str | None = None
    url: WatchUrl
    select: Selector | None = None
    exclude: tuple[Selector, ...] | None = None
    ignore: tuple[Regex, ...] | None = None
    items: Selector | None = None
    keywords: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    every: Duration | None = None
    notify: tuple[Channel, ...] | None = None
    tags: tuple[str, ...] | None = None
    witness: Literal["wayback", "none"] | None = None
    user_agent: str | None = Field(None, min_length=1)
    proxy: ProxyUrl | None = None
    # With `items`: whether a list that only changed order is reported (low severity).
    items_order: Literal["ignore", "report"] = "ignore"
    discover: DiscoverSpec | None = None
    render: Render | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(
                f"invalid id {quoted(value)}: use letters, digits, '.', '_' or '-' (at most 128)"
            )
        if value is not None and value.lower() in RESERVED_IDS:
            # evidence/contacts/ holds the contact records (`scrubwatch contact`).
            raise ValueError(f"the id {quoted(value)} is reserved; choose another")
        return value


class WatchlistFile(_Strict):
    settings: Settings = Settings()
    defaults: Defaults = Defaults()
    watches: tuple[WatchSpec, ...] = ()


@dataclass(frozen=True)
class Watch:
    """One watched page with every default applied."""

    id: str
    name: str
    url: str
    select: str | None
    exclude: tuple[str, ...]
    ignore: tuple[str, ...]
    items: str | None
    keywords: tuple[str, ...]
    every: float
    notify: tuple[str, ...]
    tags: tuple[str, ...]
    witness: str | None = None
    user_agent: str | None = None  # None: settings.user_agent
    proxy: str | None = None  # None: settings.proxy
    items_order: str = "ignore"
    discover: DiscoverSpec | None = None
    parent: str | None = None  # a discovered child: its parent's id
    render: RenderSpec | None = None  # None: read as sent, without a browser

    @cached_property
    def host(self) -> str:
        """The site its fetches go to, as politeness counts it (whatever the port or
        scheme): the scheduler groups messages by it, the engine limits `per_host` by it."""
        return (urlsplit(self.url).hostname or "").lower()

    @cached_property
    def reading_settings(self) -> dict[str, Any]:
        """How the page is read; kept in each capture's manifest, so that after an edit the
        run can say what changed in the watch, not only that something did."""
        return {
            "url": self.url,
            "select": self.select,
            "exclude": list(self.exclude),
            "ignore": list(self.ignore),
            "items": self.items,
            "keywords": list(self.keywords),
            # Only when rendered: a watch read as before keeps the settings it had.
            **({"render": self.render.model_dump(mode="json")} if self.render else {}),
        }

    @cached_property
    def settings_hash(self) -> str:
        """Changes whenever how the page is read changes (not when or whom to tell)."""
        reading: list[Any] = [
            self.url,
            self.select,
            self.exclude,
            self.ignore,
            self.items,
            self.keywords,
        ]
        if self.render is not None:
            # Only then: the hash of every watch read without a browser stays as it was.
            reading.append(self.render.model_dump(mode="json"))
        return hashlib.sha256(json.dumps(reading).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Watchlist:
    path: str
    settings: Settings
    watches: tuple[Watch, ...]
    # The line of each key and list entry in the file, e.g. ("watches", 0, "notify") -> 14,
    # for checks made after parsing (routing.delivery_problems). Keys present here were
    # written in the file; a list built in code has none.
    lines: Mapping[Loc, int] = field(default_factory=dict, compare=False)

    def get(self, watch_id: str) -> Watch | None:
        return self._by_id.get(watch_id)

    @cached_property
    def _by_id(self) -> dict[str, Watch]:
        # Ids are unique (validation refuses a duplicate); a scheduler looks up thousands.
        return {w.id: w for w in self.watches}

    def line(self, loc: Loc) -> int:
        """The line of a place in the file (the nearest enclosing one known; else 1)."""
        return _line_of(self.lines, loc)

    def where(self, loc: Loc) -> str:
        """``FILE:LINE: FIELD``, the start of a problem's line."""
        return f"{self.path}:{self.line(loc)}: {_field_name(loc)}"


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:64].strip("-") or "watch"


# --- YAML with line numbers -------------------------------------------------------------


class _Located:
    """Builds plain Python data from a YAML node tree, remembering each path's line."""

    def __init__(self, source: str, max_values: int = _MAX_NODES) -> None:
        self.max_values = max_values
        self.lines: dict[Loc, int] = {}
        self.problems: list[tuple[Loc, str]] = []
        # Values written but empty (`select:`, `select: #jobs`, `- `), with their message.
        self.empty: dict[Loc, str] = {}
        self._source = _YAML_LINE_BREAK.split(source)
        self._constructor = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()
        self._built = 0

    def build(self, node: yaml.Node, path: Loc) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        with self._visiting(node):
            return self._build(node, path)

    @contextmanager
    def _visiting(self, node: yaml.Node) -> Iterator[None]:
        """Counts a node against the limit (aliases count once per use) while refusing
        one that contains itself."""
        self._built += 1
        if self._built > self.max_values:
            raise yaml.MarkedYAMLError(
                problem=f"{_too_many(self.max_values)} (aliases expanding too far?)",
                problem_mark=node.start_mark,
            )
        if id(node) in self._open:
            raise yaml.YAMLError(f"line {node.start_mark.line + 1}: an alias refers to itself")
        self._open.add(id(node))
        try:
            yield
        finally:
            self._open.discard(id(node))

    def _key(self, node: yaml.Node) -> str:
        # A list or mapping as a key (`? [*a, *a]`, `{[*a]: 1}`) is counted like any value
        # before it is built and written out: 300 bytes of aliases in a key once took
        # 1.7 GB and made a 351 MB "unknown key" line. (No key of the watch list is a list
        # or a mapping, so it is then reported as an unknown key.) A plain key is not
        # counted: it cannot expand, and the limit stays one of values.
        if not isinstance(node, yaml.ScalarNode):
            self._count(node)
        key = self._construct(node)
        return key if isinstance(key, str) else str(key)

    def _count(self, node: yaml.Node) -> None:
        with self._visiting(node):
            if isinstance(node, yaml.SequenceNode):
                for item in node.value:
                    self._count(item)
            elif isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    self._count(key_node)
                    self._count(value_node)

    def _construct(self, node: yaml.Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except Exception as exc:
            # e.g. `!!int abc`: PyYAML raises plain Python errors for bad tagged values.
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read value: {bounded(str(exc), _MAX_QUOTED)}", node.start_mark
            ) from None

    def _build(self, node: yaml.Node, path: Loc) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._key(key_node)
                child = (*path, key)
                self.lines[child] = key_node.start_mark.line + 1
                if key in result:
                    self.problems.append((child, f"duplicate key {quoted(key)}"))
                self._note_empty(value_node, child)
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self._note_empty(item, (*path, i))
                items.append(self.build(item, (*path, i)))
            return items
        return self._construct(node)

    def _note_empty(self, node: yaml.Node, path: Loc) -> None:
        # YAML reads `select: #jobs` as `select:` and a comment, that is null: the watch
        # would silently read the whole page. No key of the watch list means anything
        # when null, so an empty value is always reported, with why when it is a comment.
        if not (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            return
        if path in _MAY_BE_EMPTY:
            return
        mark = node.start_mark
        line = self._source[mark.line] if mark.line < len(self._source) else ""
        after = line[mark.column :]
        key = path[-1]
        if "#" not in after:
            if isinstance(key, int):
                self.empty[path] = "empty value: remove the empty entry"
            elif key == "url":
                self.empty[path] = "empty value: give the page's address (http:// or https://)"
            else:
                self.empty[path] = "empty value: give a value or remove the key"
            return
        comment = after.split("#", 1)[1].strip()
        selector = any(k in _SELECTOR_KEYS for k in path[-2:])
        message = "empty value: an unquoted '#' starts a YAML comment"
        if (
            comment
            and len(comment) <= _MAX_QUOTED
            and not any(c.isspace() for c in comment)
            and '"' not in comment
        ):
            written = "-" if isinstance(key, int) else f"{key}:"
            what = "selector" if selector else "value"
            message += f'; quote the {what}: {written} "#{comment}"'
        else:
            message += "; quote the value or remove the key"
        self.empty[path] = message


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_key_name(part)}" if out else _key_name(part)
    return out or "(top level)"


def _key_name(key: str) -> str:
    # A key is written as it is unless it could break the line or fill the screen (a key
    # may be anything YAML can spell, a list through aliases included).
    if len(key) <= 64 and key.isprintable():
        return key
    return bounded(repr(key), 64)


def _line_of(lines: Mapping[Loc, int], loc: Loc) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


class _Problems:
    def __init__(self, path: str, lines: dict[Loc, int]) -> None:
        self.path = path
        self.lines = lines
        self.items: list[tuple[int, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        line = _line_of(self.lines, loc)
        self.items.append((line, f"{self.path}:{line}: {_field_name(loc)}: {message}"))

    def raise_if_any(self) -> None:
        if self.items:
            self.items.sort(key=lambda item: item[0])
            shown = [text for _, text in self.items[:_MAX_PROBLEMS]]
            rest = self.items[_MAX_PROBLEMS:]
            if rest:
                shown.append(
                    f"{self.path}:{rest[0][0]}: ...: {len(rest)} more problems from this line "
                    "on are not shown; fix the ones above first"
                )
            raise ConfigError(shown)


def _pydantic_message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)"
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected keys with values (key: value lines, or {key: value})"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind == "too_short":
        return "give at least one"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _error_loc(error: Any) -> Loc:
    # Pydantic reports a tuple element as (..., 'notify', 0) and an Annotated
    # validator on a union member with the type name in loc; keep only real path parts.
    return tuple(
        p for p in error["loc"] if isinstance(p, int) or not str(p).startswith(("function-", "is-"))
    )


def _add_validation_errors(
    exc: ValidationError, empty: dict[Loc, str], problems: _Problems
) -> None:
    errors = exc.errors()
    inner = {_error_loc(e)[:-1] for e in errors if _error_loc(e)}
    for error in errors:
        loc = _error_loc(error)
        if error["type"] == "too_short" and any(i[: len(loc)] == loc for i in inner):
            continue  # a list emptied by its entries' own problems, reported below
        if error["type"] == "extra_forbidden" and loc in empty:
            # `selector: #x`: the misspelt key is the mistake to fix first.
            del empty[loc]
        if any(loc[:n] in empty for n in range(len(loc) + 1)):
            continue  # already reported as an empty value, which says more
        misplaced = _misplaced_setting(loc) if error["type"] == "extra_forbidden" else None
        problems.add(loc, misplaced or _pydantic_message(error))


def _misplaced_setting(loc: Loc) -> str | None:
    """For a setting written in a watch or in defaults (`timeout`, `deadline`, ...), where
    "check the spelling" would send the user looking for a typo that is not there."""
    key = loc[-1] if loc else None
    in_watch = len(loc) == 3 and loc[0] == "watches" and key not in WatchSpec.model_fields
    in_defaults = len(loc) == 2 and loc[0] == "defaults" and key not in Defaults.model_fields
    if isinstance(key, str) and key in Settings.model_fields and (in_watch or in_defaults):
        return f"{key} is set for all watches at once: move it under settings"
    return None


def _spec_identity(spec: WatchSpec) -> tuple[str, str]:
    """A watch's id, and the key it came from (where a duplicate is reported)."""
    if spec.id:
        return spec.id, "id"
    if spec.name:
        return slugify(spec.name), "name"
    return slugify(spec.url.split("://", 1)[-1]), "url"


def _raw_identities(data: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """When the file does not validate: the id of each watch whose id (or name and url)
    does, so that duplicate ids are reported with the other problems rather than only
    once those are fixed."""
    entries = data.get("watches")
    if not isinstance(entries, list):
        return {}
    found = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        identity = {k: entry[k] for k in ("id", "name", "url") if k in entry}
        if "id" in identity:
            identity["url"] = "http://id.invalid/"  # the url plays no part in an explicit id
        try:
            found[i] = _spec_identity(WatchSpec.model_validate(identity))
        except ValidationError:
            continue
    return found


def _unique_ids(identities: dict[int, tuple[str, str]], problems: _Problems) -> None:
    seen: dict[str, int] = {}
    for i, (watch_id, key) in identities.items():
        if watch_id in seen:
            problems.add(
                ("watches", i, key),
                f"duplicate id {watch_id!r} (also watches[{seen[watch_id]}]); give each watch "
                "a unique id",
            )
        else:
            seen[watch_id] = i


def check_size(size: int, path: str, limit: int = MAX_FILE_BYTES) -> None:
    """ConfigError when a watch list of ``size`` bytes is over the limit."""
    if size > limit:
        # Rounded up: a file just over the limit is not "10.0 MB; the limit is 10 MB".
        megabytes = math.ceil(size * 10 / 1024**2) / 10
        shown = MAX_FILE_SHOWN if limit == MAX_FILE_BYTES else f"{limit // 1024**2} MB"
        hint = (
            "(10,000 watches are about 2 MB; for a stack, `scrubwatch push` takes up to 100 MB)"
            if limit == MAX_FILE_BYTES
            else "(100,000 watches are about 13 MB)"
        )
        raise ConfigError(
            [f"{path} is {megabytes:.1f} MB; the limit is {shown} {hint}: is it the right file?"]
        )


def _too_many(limit: int) -> str:
    if limit == _MAX_NODES:  # a list for a stack may be bigger
        return f"more than {limit} values (a list for a stack? `scrubwatch push` takes more)"
    return f"more than {limit} values"


def _count_nodes(text: str, path: str, limit: int) -> None:
    """Refuses, before it is composed, a file of more values than the limit: composing
    holds every one in memory at once (10 MB of `[x,x,...` took 1.6 GB)."""
    if len(text) <= limit:
        return  # each node takes a character or more: this text cannot exceed it much
    # Nodes are values and their keys, and a key has a value: a file of more than twice
    # the limit in nodes has more values than the limit (which `build` would refuse).
    count = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, _NODE_EVENTS):
            count += 1
            if count > 2 * limit:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise ConfigError([f"{path}:{line}: YAML syntax: {_too_many(limit)}"])


def parse_watchlist(
    text: str, path: str = "watchlist.yaml", limits: Limits = DEFAULT_LIMITS
) -> Watchlist:
    """Validates the whole file; raises ConfigError listing every problem found."""
    if len(text) > limits.bytes // 4:  # else its UTF-8 cannot be over the limit
        check_size(len(text.encode("utf-8", "surrogatepass")), path, limits.bytes)
    located = _Located(text, limits.values)
    data = _compose(text, path, located)
    parsed, ids = _validate(data, path, located)
    return Watchlist(
        path=path,
        settings=parsed.settings,
        watches=tuple(_watch(spec, ids[i], parsed) for i, spec in enumerate(parsed.watches)),
        lines=located.lines,
    )


def _compose(text: str, path: str, located: _Located) -> Any:
    """The file's YAML as plain data (every value's line noted in ``located``)."""
    try:
        _count_nodes(text, path, located.max_values)
        root = yaml.compose(text, Loader=_LOADER)
        return located.build(root, ()) if root is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        raise ConfigError([f"{path}:{line}: YAML syntax: {one_line(problem)}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}:1: YAML syntax: nested too deeply"]) from None


def _validate(data: Any, path: str, located: _Located) -> tuple[WatchlistFile, dict[int, str]]:
    """The file checked against its schema, and each watch's id; every problem raised at
    once, in file order."""
    problems = _Problems(path, located.lines)
    for loc, message in located.problems:
        problems.add(loc, message)
    if not isinstance(data, dict):
        problems.add((), "the watch list must be a mapping with a 'watches' list")
        problems.raise_if_any()
    for section, empty_value in (("settings", {}), ("defaults", {}), ("watches", [])):
        if section in data and data[section] is None:
            data[section] = empty_value
    empty = dict(located.empty)
    parsed: WatchlistFile | None = None
    try:
        parsed = WatchlistFile.model_validate(data)
        identities = {i: _spec_identity(spec) for i, spec in enumerate(parsed.watches)}
    except ValidationError as exc:
        _add_validation_errors(exc, empty, problems)
        identities = _raw_identities(data)
    for loc, message in empty.items():
        problems.add(loc, message)
    _unique_ids(identities, problems)
    if parsed is not None:
        _no_browser_behind_proxy(parsed, problems)
    problems.raise_if_any()
    if parsed is None:
        raise AssertionError("unreachable: a validation error is always a problem raised above")
    return parsed, {i: watch_id for i, (watch_id, _) in identities.items()}


def _no_browser_behind_proxy(parsed: WatchlistFile, problems: _Problems) -> None:
    """A browser's requests do not go through the user's proxy yet: a rendered watch behind
    one would be seen from the user's own address, which the proxy was chosen to hide."""
    for i, spec in enumerate(parsed.watches):
        render = _chosen(spec.render, parsed.defaults.render)
        if render is None and spec.discover is not None:
            # The pages it discovers are rendered when discover.child says so.
            render = _chosen(spec.discover.child.render, None)
        proxy = spec.proxy if spec.proxy is not None else parsed.settings.proxy
        if render is not None and proxy:
            key = "proxy" if spec.proxy else "render" if spec.render is not None else "url"
            problems.add(
                ("watches", i, key),
                "render: browser does not go through a proxy yet, and this watch has one "
                f"({'its own' if spec.proxy else 'settings.proxy'}): the browser would show "
                "the site your own address. Remove one of them, or keep rendered watches in "
                "a watch list of their own without a proxy",
            )


def _watch(spec: WatchSpec, watch_id: str, parsed: WatchlistFile) -> Watch:
    """One watch as checked: its own keys, else the defaults', else the settings'."""
    defaults, settings = parsed.defaults, parsed.settings
    return Watch(
        id=watch_id,
        name=spec.name or watch_id,
        url=spec.url,
        select=spec.select,
        exclude=spec.exclude if spec.exclude is not None else defaults.exclude,
        ignore=spec.ignore if spec.ignore is not None else defaults.ignore,
        items=spec.items,
        keywords=spec.keywords,
        every=spec.every if spec.every is not None else defaults.every,
        notify=spec.notify if spec.notify is not None else defaults.notify,
        tags=spec.tags if spec.tags is not None else defaults.tags,
        witness=None if spec.witness == "none" else (spec.witness or settings.witness),
        user_agent=spec.user_agent,
        proxy=spec.proxy if spec.proxy is not None else settings.proxy,
        items_order=spec.items_order,
        discover=spec.discover,
        render=_chosen(spec.render, defaults.render),
    )


def _chosen(own: RenderSpec | None, inherited: RenderSpec | None) -> RenderSpec | None:
    """A watch's own render, else the one it inherits; ``none`` says no browser."""
    value = own if own is not None else inherited
    return value if value is not None and value.browser else None


def child_watch(parent: Watch, child_id: str, url: str, name: str) -> Watch:
    """A discovered page as a watch: its parent's settings, with ``discover.child`` over
    them (a child discovers nothing itself)."""
    assert parent.discover is not None
    over = parent.discover.child
    witness = parent.witness if over.witness is None else over.witness
    return Watch(
        id=child_id,
        name=name or url,
        url=url,
        select=over.select,
        exclude=over.exclude if over.exclude is not None else parent.exclude,
        ignore=over.ignore if over.ignore is not None else parent.ignore,
        items=over.items,
        keywords=over.keywords if over.keywords is not None else parent.keywords,
        every=over.every if over.every is not None else parent.every,
        notify=over.notify if over.notify is not None else parent.notify,
        tags=over.tags if over.tags is not None else parent.tags,
        witness=None if witness == "none" else witness,
        user_agent=parent.user_agent,
        proxy=parent.proxy,
        items_order=over.items_order or parent.items_order,
        parent=parent.id,
        # An ad under a listing built by JavaScript is most likely built the same way.
        render=_chosen(over.render, parent.render),
    )


def watchlist_from_bytes(raw: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> Watchlist:
    """A watch list file's bytes (read by ``check.watchlist_file``), validated."""
    if len(raw) > limits.bytes:
        check_size(len(raw), path, limits.bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}:{line}: the watch list is not valid UTF-8"]) from None
    return parse_watchlist(text, path, limits)
