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
import re
import shutil
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.config import RenderSpec
from ..core.exchange import Fetch, Rendered
from ..core.terminal import one_line
from .browser_page import PageFailed, Read, judge, read_page
from .browser_proxy import VettingProxy
from .netguard import IPNetwork, Resolver, SystemResolver

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import BrowserContext, Playwright

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
    # navigator.webdriver would tell every script on the page that a robot reads it.
    "--disable-blink-features=AutomationControlled",
)
_CLOSE_WAIT = 5.0
# The browser's start, at most (Playwright's own default is 3 minutes).
_LAUNCH_WAIT = 30.0
# What a page and everything it loads may bring, as a multiple of max_bytes (the page's
# own limit): images and scripts are many times a page's HTML.
LOADS_PER_PAGE = 10


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
        self._crashed = asyncio.Event()  # set when the browser goes away mid-run
        self._broken: str | None = None  # why it could not be started: not tried again
        self.version = ""
        self.rendered = 0

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def render(
        self, fetch: Fetch, spec: RenderSpec, user_agent: str, until: float
    ) -> Rendered:
        """What the browser makes of ``fetch``'s answer by ``until`` (time.monotonic()):
        the wait for a page's turn and the browser's start are in it, so a check never
        outlasts its deadline, nor a checker its budget."""
        allowed = until - time.monotonic()
        try:
            async with asyncio.timeout_at(until):
                await self._gate.acquire()
        except TimeoutError:
            raise RenderFailed("timeout", "no time was left to open the page") from None
        try:
            browser = await self._started(until)
            proxy = VettingProxy(
                self._resolver,
                self.options.allow_networks,
                max_bytes=LOADS_PER_PAGE * self.options.max_bytes,
            )
            await proxy.start()
            try:
                read = await self._read(browser, proxy, fetch, spec, user_agent, until, allowed)
            finally:
                await proxy.aclose()
        finally:
            self._gate.release()
        self.rendered += 1
        refused = tuple(
            (p.method, _where(p.host, p.port), p.refused or "") for p in proxy.refusals()
        )
        return Rendered(
            read.dom,
            read.screenshot,
            read.url,
            self.version,
            refused,
            len(proxy.passages),
            wait_for_matched=read.matched,
            screenshot_cut=read.cut,
        )

    async def _read(
        self,
        browser: PlaywrightBrowser,
        proxy: VettingProxy,
        fetch: Fetch,
        spec: RenderSpec,
        user_agent: str,
        until: float,
        allowed: float,
    ) -> Read:
        """One page in a context of its own, closed after (outside the deadline: a close
        cut short would leave its page running)."""
        context: BrowserContext | None = None
        try:
            async with asyncio.timeout_at(until):
                context = await self._context(browser, proxy.url, spec)
                read = await self._unless_crashed(
                    read_page(context, fetch, spec, user_agent, until)
                )
        except TimeoutError:
            raise RenderFailed(
                "timeout",
                f"the page did not finish loading within {max(round(allowed), 1)} s, "
                "what was left of settings.deadline",
            ) from None
        except PageFailed as exc:
            raise RenderFailed(exc.kind, str(exc)) from None
        except (BrowserMissing, RenderFailed):
            raise
        except Exception as exc:  # the page's doing: a crash, a closed target
            log.debug("rendering %s failed", fetch.final_url, exc_info=True)
            raise RenderFailed("render_failed", _plain(exc)) from None
        finally:
            if context is not None:
                await _close(context)
        _bounded(read.dom, proxy, self.options.max_bytes)
        try:
            judge(read, proxy.refusals(), fetch.final_url)
        except PageFailed as exc:
            raise RenderFailed(exc.kind, str(exc)) from None
        return read

    async def _unless_crashed(self, job: Coroutine[Any, Any, Read]) -> Read:
        """``job``'s result; RenderFailed at once if the browser goes away meanwhile."""
        reading = asyncio.ensure_future(job)
        crash = asyncio.ensure_future(self._crashed.wait())
        try:
            await asyncio.wait({reading, crash}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            crash.cancel()
            if not reading.done():
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
        if reading.cancelled():
            raise RenderFailed("render_failed", "the browser crashed while the page was open")
        return reading.result()

    async def start(self, until: float) -> None:
        """Starts the browser if it is not running, by ``until`` (time.monotonic()): the
        run's cost, which a caller keeps out of its first page's deadline."""
        await self._started(until)

    async def _started(self, until: float) -> PlaywrightBrowser:
        async with self._starting:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._broken is not None:
                raise RenderFailed("render_failed", self._broken)
            await self._stop()  # a browser that crashed: its driver goes with it
            problem = browser_problem()
            if problem is not None and self.options.executable is None:
                raise BrowserMissing(problem)
            try:
                return await self._launch(until)
            except Exception as exc:
                # A browser that cannot start will not start for the next page either.
                self._broken = f"the browser did not start: {_plain(exc)}"
                await self._stop()
                raise RenderFailed("render_failed", self._broken) from None

    async def _launch(self, until: float) -> PlaywrightBrowser:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        wait = max(min(_LAUNCH_WAIT, until - time.monotonic()), 1.0)
        browser = await self._playwright.chromium.launch(
            executable_path=self.options.executable or find_chromium(),
            args=list(self.options.args),
            # Each context names its own proxy (the check's). The browser's own calls
            # go to this one, where nothing listens: a name here would be looked up.
            proxy={"server": "http://127.0.0.1:9"},
            # No program on PATH: a page's mailto: or news: link would start one (xdg-open),
            # which connects around the proxy and shows itself on the user's screen.
            env={**os.environ, "PATH": "/nonexistent"},
            timeout=wait * 1000,
        )
        self._crashed = asyncio.Event()
        browser.on("disconnected", lambda _: self._crashed.set())
        self._browser = browser
        self.version = f"Chromium {browser.version}"
        return browser

    async def _context(
        self, browser: PlaywrightBrowser, proxy: str, spec: RenderSpec
    ) -> BrowserContext:
        width, height = spec.size
        return await browser.new_context(
            # Loopback through the proxy too, whatever Playwright's defaults say.
            proxy={"server": proxy, "bypass": "<-loopback>"},
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


async def _close(context: BrowserContext) -> None:
    """Closes a context (its pages and their processes), however stuck its page is."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(context.close(), _CLOSE_WAIT)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _plain(exc: BaseException) -> str:
    """Playwright's message without its call log."""
    # Its call log and the browser's own (a launch's command line) are for -v, not alerts.
    first = re.split(r"Call log:|Browser logs:", str(exc), maxsplit=1)[0].strip()
    return one_line(first or type(exc).__name__, 300)
