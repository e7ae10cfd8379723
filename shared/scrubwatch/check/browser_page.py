"""One page in the browser (render: browser): handed the answer the fetcher kept, its
scripts run, read once settled, pictured. Every step is bounded by the check's deadline
(``until``, time.monotonic()); browser.py owns the browser, its contexts and the proxy.

What would make a reading untrue is a failure here, never a version: the page sent to an
address that cannot be loaded (Chromium's error page would be read as the page), or its
own requests failing (a list whose API is down would read as every ad removed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.config import RenderSpec
from ..core.exchange import Fetch
from .browser_proxy import Passage

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Request, Response, Route
    from playwright.async_api import FloatRect as Clip

# A selector named by wait_for is waited for this long at most; then the page is read as
# it is (a scrubbed list may never match again: its absence is the news, not an error).
SELECTOR_WAIT = 15.0
# Without wait_for, the page's requests after `load` (an XHR filling a list) are given
# this long to settle.
SETTLE_WAIT = 5.0
# Kept back from the deadline for reading the page and taking its picture.
READ_MARGIN = 3.0
# The screenshot's height at most, and its pixels: past them, the top of the page (a
# picture of an endless page would take gigabytes of the browser's memory). Its width is
# the viewport's, however wide the page.
MAX_SHOT_HEIGHT = 16_000
MAX_SHOT_PIXELS = 48_000_000
# The document is handed over decoded: these headers described the bytes as sent.
_NOT_PASSED = {"content-encoding", "content-length", "transfer-encoding", "connection"}
# Refusals of the page's own requests that leave what it shows incomplete.
_TRANSIENT = {"dns", "dns_error", "connect", "too_large"}
_CHROME = re.compile(r"Chrome/(\d+)")
_BUILDERS = ("xhr", "fetch", "script")


class PageFailed(Exception):
    """What the browser showed is not the page: (kind, a sentence)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass
class Read:
    """What one page gave."""

    dom: bytes = b""
    screenshot: bytes = b""
    url: str = ""
    handed: bool = False  # the browser was given the fetched answer
    failed: list[str] = field(default_factory=list)  # the page's own requests that failed
    matched: bool | None = None  # wait_for matched in time (None: the watch names none)
    cut: bool = False  # the screenshot is the page's top only


async def read_page(
    context: BrowserContext, fetch: Fetch, spec: RenderSpec, user_agent: str, until: float
) -> Read:
    """Opens the page from ``fetch``'s answer and reads what its scripts made of it."""
    read = Read()
    page = await context.new_page()
    page.set_default_timeout(max(until - time.monotonic(), 0.1) * 1000)
    await _disguise(context, page, user_agent)
    _watch_own_requests(page, fetch.final_url, read)
    # The first request of the page is its navigation, answered from the fetch, whatever
    # form of its URL Chromium asks for; the route is then gone, and nothing else is held.
    await page.route("**/*", _hand_over(fetch, page, read), times=1)
    await page.goto(fetch.final_url, wait_until="load")
    if not read.handed:
        raise PageFailed("render_failed", "the browser did not ask for the page as fetched")
    read.matched = await _settle(page, spec, until)
    read.url = page.url
    read.dom = (await page.content()).encode("utf-8")
    read.screenshot, read.cut = await _screenshot(page)
    return read


def judge(read: Read, refusals: Sequence[Passage], document: str) -> None:
    """PageFailed when what was read is not the page as its site serves it."""
    if urlsplit(read.url).scheme not in ("http", "https"):
        # Chromium's own error page: the page sent the browser somewhere it could not go.
        forbidden = [p for p in refusals if p.refused == "forbidden_address"]
        if forbidden:
            # Not netguard's advice to allow it: the page's script chose this address.
            where = forbidden[-1]
            raise PageFailed(
                "forbidden_address",
                f"the page sent the browser to {where.host}:{where.port}, an address "
                "scrubwatch does not connect to",
            )
        raise PageFailed(
            "render_failed", "the page sent the browser to an address it could not load"
        )
    host = urlsplit(document).hostname or ""
    own = [f"{p.method} {p.host}: {p.refused}" for p in refusals if p.host == host]
    own = [line for line in own if line.rsplit(": ", 1)[1] in _TRANSIENT]
    failed = own + read.failed
    if failed:
        raise PageFailed(
            "render_failed",
            f"the page's own requests failed ({'; '.join(failed[:3])}): what it showed "
            "would be incomplete",
        )


def _hand_over(fetch: Fetch, page: Page, read: Read) -> Any:
    """A route handler that answers the page's navigation with ``fetch``'s answer."""

    async def handle(route: Route) -> None:
        request = route.request
        if not request.is_navigation_request() or request.frame != page.main_frame:
            await route.continue_()
            return
        read.handed = True
        await route.fulfill(
            status=fetch.status or 200, headers=_headers(fetch.headers), body=fetch.content
        )

    return handle


def _headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The answer's headers for the browser; repeated ones joined as Playwright takes them
    (one per line), so no Set-Cookie, Link or CSP is dropped."""
    out: dict[str, str] = {}
    for name, value in pairs:
        if name.lower() in _NOT_PASSED:
            continue
        out[name] = f"{out[name]}\n{value}" if name in out else value
    return out


def _watch_own_requests(page: Page, document: str, read: Read) -> None:
    """Notes the requests to the page's own host that failed or got a server error."""
    host = urlsplit(document).hostname

    def own(request: Request) -> bool:
        # What builds the page: its scripts and their calls (a broken image does not).
        return (
            urlsplit(request.url).hostname == host
            and request.resource_type in _BUILDERS
            and not request.is_navigation_request()
        )

    def answered(response: Response) -> None:
        # A 404 too: the list's API gone while its page stays is the site failing (an
        # error told after confirm_errors), not every ad removed.
        if own(response.request) and response.status >= 400:
            path = urlsplit(response.request.url).path
            read.failed.append(f"{response.request.method} {path}: {response.status}")

    def failed(request: Request) -> None:
        if own(request):
            why = request.failure or "failed"
            read.failed.append(f"{request.method} {urlsplit(request.url).path}: {why}")

    page.on("response", answered)
    page.on("requestfailed", failed)


async def _disguise(context: BrowserContext, page: Page, user_agent: str) -> None:
    """The browser as the user agent says: a Chrome's client hints, or none for another
    browser's (Chromium would name itself in sec-ch-ua); not flagged as automated."""
    version = _CHROME.search(user_agent)
    override: dict[str, Any] = {"userAgent": user_agent, "acceptLanguage": "en-US,en;q=0.9"}
    if version:
        major = version[1]
        override["userAgentMetadata"] = {
            "brands": [
                {"brand": "Google Chrome", "version": major},
                {"brand": "Chromium", "version": major},
                {"brand": "Not_A Brand", "version": "24"},
            ],
            "fullVersion": f"{major}.0.0.0",
            "platform": "Windows" if "Windows" in user_agent else "macOS",
            "platformVersion": "10.0.0",
            "architecture": "x86",
            "model": "",
            "mobile": False,
        }
    session = await context.new_cdp_session(page)
    await session.send("Emulation.setUserAgentOverride", override)


async def _settle(page: Page, spec: RenderSpec, until: float) -> bool | None:
    """Waits for what the watch says the page needs: its selector, else a quiet network;
    then its further `wait`, all within the deadline. A wait that runs out is not a
    failure: the page is read as it is. Whether wait_for matched (None: none named)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    def left(most: float) -> float:
        return max(min(most, until - time.monotonic() - READ_MARGIN), 0.0) * 1000

    matched = None
    try:
        if spec.wait_for:
            matched = False
            await page.wait_for_selector(
                spec.wait_for, state="attached", timeout=left(SELECTOR_WAIT) or 1
            )
            matched = True
        else:
            await page.wait_for_load_state("networkidle", timeout=left(SETTLE_WAIT) or 1)
    except PlaywrightTimeout:
        pass
    if spec.wait:
        await page.wait_for_timeout(left(spec.wait))
    return matched


async def _screenshot(page: Page) -> tuple[bytes, bool]:
    """The page as PNG, the viewport's width, at most MAX_SHOT_HEIGHT tall; and whether
    it was cut."""
    height = await page.evaluate(
        "Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0)"
    )
    width = page.viewport_size["width"] if page.viewport_size else 1280
    tallest = min(MAX_SHOT_HEIGHT, MAX_SHOT_PIXELS // width)
    shown = int(height) if isinstance(height, int | float) and height > 0 else 1
    clip: Clip = {"x": 0, "y": 0, "width": width, "height": max(min(shown, tallest), 1)}
    shot = await page.screenshot(full_page=True, clip=clip, type="png", animations="disabled")
    return shot, shown > tallest
