"""`scrubwatch validate`: the watch list, and with --check-selectors, each page once.

The watch list itself was validated when it was loaded (config.parse_watchlist). Here:

- delivery: a `notify` naming a channel the command line cannot deliver to, or a
  `password_env` naming an unset variable, fails (exit 2), unless ``--for aws``, where
  alerts go through the stack's SNS topic and settings.email is not used;
- ``--check-selectors``: each page is fetched once and read as `check` reads it; a
  `select` or `items` that matches nothing is a watch-list problem (exit 2). A page that
  cannot be fetched is reported but is not: a site that is down or blocking today says
  nothing about the list, and `check` reports it as an error if it lasts.

Every line printed is one bounded line (config.bounded): a selector, a URL a site
redirected to or an error's detail is quoted cut short, never at full length.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.config import Watch, Watchlist, bounded, quoted
from ..core.routing import delivery_problems

if TYPE_CHECKING:
    from ..check.browser import Browser
    from ..core.exchange import Fetch
    from ..core.reader import Reading

# The longest fetch timeout a checker can give a watch (template.yaml's 120 s, less the
# handler's commit margin, with room for a second wave of fetches to one host).
AWS_MAX_TIMEOUT = 60.0
_DETAIL = 200  # characters of a URL, media type or error detail quoted in a line


def aws_problems(watchlist: Watchlist) -> list[str]:
    """What a list valid locally cannot do on AWS, one line each."""
    if watchlist.settings.timestamp is not None:
        where = watchlist.where(("settings", "timestamp"))
        return [
            f"{where}: trusted timestamps are asked only by `scrubwatch check` for now, not on "
            "AWS; remove it from the list you push"
        ]
    if watchlist.settings.timeout > AWS_MAX_TIMEOUT:
        # A checker never starts a fetch it cannot give its whole timeout: with more than
        # its invocation has, no watch would ever be checked.
        where = watchlist.where(("settings", "timeout"))
        return [
            f"{where}: at most {AWS_MAX_TIMEOUT:.0f}s on AWS (a checker has 120 s for a "
            "message, 15 of them kept to commit)"
        ]
    return []


def cmd_validate(args: argparse.Namespace, watchlist: Watchlist) -> int:
    target = getattr(args, "target", "local")
    if target == "aws" and aws_problems(watchlist):
        for problem in aws_problems(watchlist):
            print(problem, file=sys.stderr)
        return 2
    if target != "aws":
        from ..check.timestamp import load_authorities

        load_authorities(watchlist)  # ConfigError: a certificate that cannot be read
        problems = delivery_problems(watchlist, os.environ)
        if problems:
            for problem in problems:
                print(bounded(problem), file=sys.stderr)
            return 2
    where = " for AWS (alerts go through the stack's SNS topic)" if target == "aws" else ""
    count = f"{len(watchlist.watches)} watch(es)"
    if getattr(args, "check_selectors", False):
        # Not "OK" yet: the pages may still show a problem.
        print(f"{watchlist.path}: valid{where}, {count}; fetching each page once", flush=True)
        return check_selectors(watchlist)
    print(f"{watchlist.path}: OK{where}, {count}", flush=True)
    return 0


@dataclass(frozen=True)
class SelectorReport:
    """What one watch's page said to its selectors: a line for stdout or one for stderr."""

    watch: str
    line: str
    matched_nothing: bool = False
    not_fetched: bool = False
    wrong_url: bool = False  # the page answers 404/410: nothing there to watch


def check_selectors(watchlist: Watchlist) -> int:
    """Fetches each page once, reads it as `check` would; exit 2 if a selector is empty."""
    reports = asyncio.run(_check_all(watchlist))
    for report in reports:
        failed = report.matched_nothing or report.not_fetched or report.wrong_url
        # Flushed: the lines keep their order when stdout and stderr go to one file.
        print(bounded(report.line), file=sys.stderr if failed else sys.stdout, flush=True)
    empty = sum(r.matched_nothing for r in reports)
    unfetched = sum(r.not_fetched for r in reports)
    wrong = sum(r.wrong_url for r in reports)
    ok = len(reports) - empty - unfetched - wrong
    summary = f"Selectors: {ok} OK, {empty} matching nothing, {unfetched} not fetched."
    if wrong:
        summary = summary.removesuffix(".") + f", {wrong} URL(s) answering 404/410."
    if unfetched:
        summary += " Pages not fetched are not counted as watch-list problems."
    print(summary)
    return 2 if empty or wrong else 0


async def _check_all(watchlist: Watchlist) -> list[SelectorReport]:
    # The HTTP stack is imported only here: plain `validate` fetches nothing.
    from ..check.browser import Browser, BrowserOptions
    from ..check.engine import fetch_options
    from ..check.fetch import HttpFetcher

    # Fetched as `check` fetches them (the watch's proxy and user agent: a page reached
    # through a proxy is not fetched from here directly); watches of one page share its
    # fetch: once per page, not per watch.
    def how(watch: Watch) -> tuple[str, str | None, str | None]:
        return (watch.url, watch.proxy or None, watch.user_agent or None)

    pages = list(dict.fromkeys(how(w) for w in watchlist.watches))
    s = watchlist.settings
    # The browser starts only if a watch has render: browser.
    browser = Browser(BrowserOptions(s.allow_networks, s.browser_pages, s.max_bytes))
    async with HttpFetcher(fetch_options(watchlist)) as fetcher, browser:
        fetches = await asyncio.gather(
            *(fetcher.fetch(url, proxy=proxy, user_agent=agent) for url, proxy, agent in pages)
        )
        fetched = dict(zip(pages, fetches, strict=True))
        read = await asyncio.gather(
            *(_rendered(browser, w, fetched[how(w)], watchlist) for w in watchlist.watches)
        )
    return [_report(watchlist, i, w, read[i]) for i, w in enumerate(watchlist.watches)]


async def _rendered(browser: Browser, watch: Watch, fetch: Fetch, watchlist: Watchlist) -> Fetch:
    """The page as ``check`` reads it: rendered for a watch with render: browser."""
    from ..check.browser import BrowserMissing, RenderFailed

    if watch.render is None or fetch.error or fetch.status != 200:
        return fetch
    s = watchlist.settings
    out = replace(fetch)  # pages are shared by watches, which may render them differently
    try:
        agent = watch.user_agent or s.user_agent
        until = time.monotonic() + s.deadline
        out.rendered = await browser.render(fetch, watch.render, agent, until)
    except BrowserMissing as exc:
        out.error, out.error_detail = "browser_missing", str(exc)
    except RenderFailed as exc:
        out.error, out.error_detail = exc.kind, f"in the browser: {exc}"  # type: ignore[assignment]
    return out


def _report(watchlist: Watchlist, index: int, watch: Watch, fetch: Fetch) -> SelectorReport:
    from ..core.decode import content_type
    from ..core.reader import ReadSpec, read_page

    def at(key: str) -> str:
        return watchlist.where(("watches", index, key))

    if fetch.error is None and fetch.status in (404, 410):
        # Nearly always a mistyped URL; a page never seen is never reported gone, so this
        # watch would only ever report errors.
        return SelectorReport(
            watch.id,
            f"{at('url')}: {_url(fetch.url)} answers {fetch.status}: check the URL",
            wrong_url=True,
        )
    if fetch.error or fetch.status is None or not 200 <= fetch.status < 300:
        why = (
            f"{fetch.error}: {fetch.error_detail}" if fetch.error else f"HTTP {fetch.status}"
        ).rstrip(": ")
        return SelectorReport(
            watch.id,
            f"{at('url')}: could not fetch {_url(fetch.url)} ({bounded(why, _DETAIL)}); "
            "selectors not checked",
            not_fetched=True,
        )
    spec = ReadSpec.of(watch.reading_settings)
    try:
        reading = read_page(*fetch.readable, fetch.final_url, spec, False)
    except Exception as exc:  # the reader is meant never to raise; a page must not crash us
        return SelectorReport(
            watch.id,
            f"{at('url')}: could not read {_url(fetch.final_url)} "
            f"({bounded(str(exc), _DETAIL)}); selectors not checked",
            not_fetched=True,
        )
    page = (
        _url(fetch.final_url)
        if fetch.final_url == fetch.url
        else f"{_url(fetch.final_url)} (redirected)"
    )
    if reading.kind != "html" and (watch.select or watch.items):
        media = bounded(content_type(fetch.header_map)[0] or reading.kind, _DETAIL)
        key = "select" if watch.select else "items"
        return SelectorReport(
            watch.id,
            f"{at(key)}: {page} is not HTML ({media}), so {key} cannot match anything; "
            f"remove {key} to watch the whole {reading.kind}",
            matched_nothing=True,
        )
    if fetch.rendered is not None and fetch.rendered.wait_for_matched is False:
        assert watch.render is not None
        return SelectorReport(
            watch.id,
            f"{at('render')}: wait_for {quoted(watch.render.wait_for or '')} matches nothing "
            f"on {page} in the browser: each check would wait for it in vain",
            matched_nothing=True,
        )
    if watch.select and not reading.region_found:
        return SelectorReport(
            watch.id,
            f"{at('select')}: {quoted(watch.select)} matches nothing on {page}: the watch "
            "would read nothing; check the selector against the page",
            matched_nothing=True,
        )
    if watch.items and not reading.items:
        inside = f" inside {quoted(watch.select)}" if watch.select else ""
        return SelectorReport(
            watch.id,
            f"{at('items')}: {quoted(watch.items)} matches nothing{inside} on {page}: the watch "
            "would list no items; check the selector against the page"
            + ("" if watch.render else " (or render: browser, if scripts build the list)"),
            matched_nothing=True,
        )
    return SelectorReport(watch.id, f"{at('url')} ({watch.id}): OK, {_found(watch, reading)}")


def _found(watch: Watch, reading: Reading) -> str:
    what = f"select {quoted(watch.select)}" if watch.select else "the whole page"
    out = f"{what}: {len(reading.lines)} line(s)"
    if watch.items:
        out += f", items {quoted(watch.items)}: {len(reading.items or ())} item(s)"
    return out


def _url(url: str) -> str:
    # A page may redirect to an address of any length; the line's hint comes after it.
    return bounded(url, _DETAIL)
