"""What one fetch sent and received (plain data: worker processes import it, not the client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .reasons import FetchFailure


@dataclass(frozen=True)
class Hop:
    """One redirect on the way to the page: what was asked and what answered, so the
    evidence can keep the redirect itself, not only where it led."""

    url: str
    status: int
    location: str | None
    headers: tuple[tuple[str, str], ...] = ()
    reason_phrase: str = ""
    http_version: str = "HTTP/1.1"
    request_headers: tuple[tuple[str, str], ...] = ()
    request_target: str = "/"
    body: bytes = b""
    peer: str | None = None


@dataclass(frozen=True)
class Rendered:
    """What a browser made of the page (``render: browser``): the document above was
    handed to it as fetched, and it ran the page's scripts through the address guard."""

    dom: bytes  # the rendered DOM, serialised as UTF-8 HTML: what is read and compared
    screenshot: bytes  # the whole page as PNG (b"" when it could not be taken)
    url: str  # the browser's address when read (a script may have changed it)
    browser: str  # the browser's name and version
    # The page's own requests the guard refused: (method, host:port, why).
    refused: tuple[tuple[str, str, str], ...] = ()
    requests: int = 0  # how many requests the page made through the guard
    wait_for_matched: bool | None = None  # None: the watch names no wait_for
    screenshot_cut: bool = False  # the picture is the page's top only (a taller page)


@dataclass
class Fetch:
    """One fetch of one URL: what was sent, what came back, or why nothing did."""

    url: str
    final_url: str
    fetched_at: datetime
    status: int | None = None
    reason_phrase: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_target: str = "/"  # path and query as sent (never the fragment)
    body: bytes = b""  # exactly as received (content-encoded, de-chunked)
    content: bytes = b""  # content-encoding undone
    hops: list[Hop] = field(default_factory=list)
    peer: str | None = None  # the site's address; None when a proxy resolved its name
    proxy: str | None = None  # the proxy the check went through (no credentials)
    elapsed: float = 0.0
    error: FetchFailure | None = None
    error_detail: str = ""
    rendered: Rendered | None = None

    @property
    def header_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers}

    @property
    def readable(self) -> tuple[bytes, dict[str, str]]:
        """What the page is read from, and the headers that say how: the rendered DOM
        (UTF-8) for a page a browser built, else the content as sent."""
        if self.rendered is None:
            return self.content, self.header_map
        headers = self.header_map
        headers["content-type"] = "text/html; charset=utf-8"
        return self.rendered.dom, headers
