"""Rendering pages built by JavaScript in headless Chromium (``render: browser``).

The document itself is fetched by ``HttpFetcher`` as for any watch: its redirects hop by
hop, its address vetted, its bytes kept as received. The browser is then handed that
answer (never asking the site for the page a second time) and runs its scripts; every
request they make goes through a vetting proxy of the check's own (browser_proxy.py),
because request interception misses redirects, websockets, workers and DNS rebinding
(docs/browser-rendering.md measured each). One browser serves a run, started at the first
rendered page, with a bounded number of pages open; every call is bounded in time, and the
browser never outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.config import RenderSpec
from ..core.exchange import Fetch, Rendered
from ..core.terminal import one_line
from .browser_proxy import VettingProxy
from .netguard import IPNetwork, Resolver, SystemResolver

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import BrowserContext, Page, Playwright, Route

log = logging.getLogger("scrubwatch")

INSTALL = (
    "install Chromium and Playwright: `make install-browser` in a checkout, or "
    "`sudo apt-get install chromium` and `pip install 'scrubwatch[render]'`"
)
# Where Debian's package puts the browser (launched by path: Playwright's own download
# needs a site a locked-down machine cannot reach); SCRUBWATCH_CHROMIUM names another.
_CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# Beyond Playwright's own flags: nothing the browser does by itself may leave the machine
# except through the proxy, and nothing may tell the site it is a headless check.
CHROMIUM_ARGS = (
    "--disable-quic",
    "--disable-domain-reliability",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-client-side-phishing-detection",
    # Without it, WebRTC's STUN packets go straight out, around the proxy (measured).
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy",
)
# A selector named by wait_for is waited for this long at most; then the page is read as
# it is (a scrubbed list may never match again: its absence is the news, not an error).
SELECTOR_WAIT = 15.0
# Without wait_for, the page's requests after `load` (an XHR filling a list) are given
# this long to settle.
SETTLE_WAIT = 5.0
_CLOSE_WAIT = 5.0
# What a page and everything it loads may bring, as a multiple of max_bytes (the page's
# own limit): images and scripts are many times a page's HTML.
LOADS_PER_PAGE = 10
# The screenshot's height at most: past it, the top of the page (a picture of an endless
# page would take gigabytes of the browser's memory).
MAX_SHOT_HEIGHT = 16_000
# The document is handed over decoded: these headers described the bytes as sent.
_NOT_PASSED = {"content-encoding", "content-length", "transfer-encoding", "connection"}


class BrowserMissing(RuntimeError):
    """No browser to render with; the message says how to install one."""


class RenderFailed(Exception):
    """The page hung or crashed the browser: this watch's failure, not the run's."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def find_chromium() -> str | None:
    """The Chromium to launch: SCRUBWATCH_CHROMIUM, else Debian's."""
    named = os.environ.get("SCRUBWATCH_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    for path in _CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def browser_problem() -> str | None:
    """Why no page can be rendered here (None when one can), with what to do."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return f"Playwright is not installed: {INSTALL}"
    if find_chromium() is None:
        where = os.environ.get("SCRUBWATCH_CHROMIUM")
        if where:
            return f"SCRUBWATCH_CHROMIUM={where} is not an executable browser"
        return f"Chromium is not installed: {INSTALL}"
    return None


@dataclass(frozen=True)
class BrowserOptions:
    allow_networks: Sequence[IPNetwork] = ()
    pages: int = 4  # pages open at once (each about 65 MB)
    max_bytes: int = 10 * 1024 * 1024  # settings.max_bytes: the rendered page's too
    executable: str | None = None  # None: find_chromium()
    args: Sequence[str] = CHROMIUM_ARGS


class Browser:
    """One headless Chromium for a run, started by the first page it renders."""

    def __init__(self, options: BrowserOptions, resolver: Resolver | None = None) -> None:
        self.options = options
        self._resolver = resolver or SystemResolver()
        self._gate = asyncio.Semaphore(options.pages)
        self._starting = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self.version = ""
        self.rendered = 0

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _started(self) -> PlaywrightBrowser:
        async with self._starting:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._stop()  # a browser that crashed: its driver goes with it
            problem = browser_problem()
            if problem is not None and self.options.executable is None:
                raise BrowserMissing(problem)
            from playwright.async_api import async_playwright

            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.options.executable or find_chromium(),
                args=list(self.options.args),
                # Each context names its own proxy (the check's). The browser's own calls
                # go to this one, where nothing listens: a name here would be looked up.
                proxy={"server": "http://127.0.0.1:9"},
            )
            self.version = f"Chromium {self._browser.version}"
            return self._browser

    async def render(
        self, fetch: Fetch, spec: RenderSpec, user_agent: str, deadline: float
    ) -> Rendered:
        """What the browser makes of ``fetch``'s answer within ``deadline`` seconds."""
        async with self._gate:
            # The browser's start is the run's cost, not this page's: not in its deadline.
            browser = await self._started()
            started = time.monotonic()
            budget = LOADS_PER_PAGE * self.options.max_bytes
            proxy = VettingProxy(self._resolver, self.options.allow_networks, max_bytes=budget)
            await proxy.start()
            try:
                left = max(deadline - (time.monotonic() - started), 0.1)
                async with asyncio.timeout(left):
                    context = await self._context(browser, proxy.url, spec, user_agent)
                    try:
                        dom, screenshot, url = await _read(context, fetch, spec, left)
                    finally:
                        await _close(context)
                _bounded(dom, proxy, self.options.max_bytes)
            except TimeoutError:
                raise RenderFailed(
                    "timeout",
                    f"the page did not finish loading within {max(round(deadline), 1)} s, what "
                    "was left of settings.deadline",
                ) from None
            except (BrowserMissing, RenderFailed):
                raise
            except Exception as exc:  # the page's doing: a crash, a closed target
                log.debug("rendering %s failed", fetch.final_url, exc_info=True)
                raise RenderFailed("render_failed", _plain(exc)) from None
            finally:
                await proxy.aclose()
        self.rendered += 1
        refused = tuple(
            (p.method, _where(p.host, p.port), p.refused or "") for p in proxy.refusals()
        )
        navigated = urlsplit(url)
        if any(
            p.refused == "forbidden_address" and p.host == (navigated.hostname or "")
            for p in proxy.refusals()
        ):
            # A script sent the page itself to a forbidden address: the page is that.
            raise RenderFailed("forbidden_address", f"the page navigated to {url}, refused")
        return Rendered(dom, screenshot, url, self.version, refused, len(proxy.passages))

    async def _context(
        self, browser: PlaywrightBrowser, proxy: str, spec: RenderSpec, user_agent: str
    ) -> BrowserContext:
        width, height = spec.size
        return await browser.new_context(
            proxy={"server": proxy},
            user_agent=user_agent,
            viewport={"width": width, "height": height},
            # A worker's fetches and a download are not the page as read.
            service_workers="block",
            accept_downloads=False,
            locale="en-US",
        )

    async def aclose(self) -> None:
        async with self._starting:
            await self._stop()

    async def _stop(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), _CLOSE_WAIT)
        if playwright is not None:
            # Stopping the driver takes every browser process with it (measured).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(playwright.stop(), _CLOSE_WAIT)


async def _read(
    context: BrowserContext, fetch: Fetch, spec: RenderSpec, left: float
) -> tuple[bytes, bytes, str]:
    """Opens the page from ``fetch``'s answer and reads what its scripts made of it."""
    page = await context.new_page()
    page.set_default_timeout(left * 1000)
    document = fetch.final_url.split("#", 1)[0]
    await page.route(lambda url: url.split("#", 1)[0] == document, _hand_over(fetch, page))
    await page.goto(fetch.final_url, wait_until="load")
    await _settle(page, spec)
    dom = (await page.content()).encode("utf-8")
    return dom, await _screenshot(page), page.url


async def _screenshot(page: Page) -> bytes:
    """The whole page as PNG, or its top MAX_SHOT_HEIGHT pixels."""
    height = await page.evaluate(
        "Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0)"
    )
    options: dict[str, Any] = {"full_page": True, "type": "png", "animations": "disabled"}
    if isinstance(height, int | float) and height > MAX_SHOT_HEIGHT:
        width = page.viewport_size["width"] if page.viewport_size else 1280
        options["clip"] = {"x": 0, "y": 0, "width": width, "height": MAX_SHOT_HEIGHT}
    return await page.screenshot(**options)


def _bounded(dom: bytes, proxy: VettingProxy, max_bytes: int) -> None:
    """RenderFailed when the page, or what it loaded, passed its limits."""
    if proxy.over_budget:
        raise RenderFailed(
            "too_large",
            f"the page's requests brought over {LOADS_PER_PAGE * max_bytes} bytes "
            f"({LOADS_PER_PAGE} × max_bytes)",
        )
    if len(dom) > max_bytes:
        raise RenderFailed("too_large", f"the rendered page is over max_bytes ({max_bytes})")


def _hand_over(fetch: Fetch, page: Page) -> Any:
    """A route handler that answers the page's first navigation with ``fetch``'s answer;
    any later request for the same address goes to the site through the proxy."""
    handed = False

    async def handle(route: Route) -> None:
        nonlocal handed
        request = route.request
        if handed or not request.is_navigation_request() or request.frame != page.main_frame:
            await route.continue_()
            return
        handed = True
        headers = {k: v for k, v in fetch.headers if k.lower() not in _NOT_PASSED}
        await route.fulfill(status=fetch.status or 200, headers=headers, body=fetch.content)

    return handle


async def _settle(page: Page, spec: RenderSpec) -> None:
    """Waits for what the watch says the page needs: its selector, else a quiet network;
    then its further `wait`. A wait that runs out is not a failure: the page is read."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        if spec.wait_for:
            await page.wait_for_selector(
                spec.wait_for, state="attached", timeout=SELECTOR_WAIT * 1000
            )
        else:
            await page.wait_for_load_state("networkidle", timeout=SETTLE_WAIT * 1000)
    if spec.wait:
        await page.wait_for_timeout(spec.wait * 1000)


async def _close(context: BrowserContext) -> None:
    """Closes a context (its pages and their processes), however stuck its page is."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(context.close(), _CLOSE_WAIT)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _plain(exc: BaseException) -> str:
    """Playwright's message without its call log."""
    first = str(exc).split("Call log:", 1)[0].strip()
    return one_line(first or type(exc).__name__, 300)
