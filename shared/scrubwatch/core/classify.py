"""What one fetch says about a page: ok, not_modified, gone, blocked or error, and why.

Blocking is never mistaken for deletion: 401/403/429 and challenge pages are ``blocked``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .discover import normalise_url
from .exchange import Fetch
from .reader import Reading
from .reasons import BLOCKED_STATUS, GONE_STATUS, Reason

OutcomeKind = Literal["ok", "not_modified", "gone", "blocked", "error"]

# Phrases that, in a title or h1, mark a "not found" page served with 200.
NOT_FOUND_PHRASES = (
    "page not found",
    "404 not found",
    "not found",
    "page does not exist",
    "page doesn't exist",
    "page no longer exists",
    "no longer available",
    "this page isn't available",
    "页面不存在",
    "页面未找到",
    "找不到页面",
    "找不到该页面",
    "您访问的页面不存在",
    "您访问的页面找不回来了",
    "页面找不到",
    "网页不存在",
    "该页面不存在",
    "页面已删除",
    "信息不存在",
    "职位不存在",
    "职位已下线",
    "抱歉，您访问的页面",
)
_CHALLENGE_TITLES = (
    "just a moment...",
    "attention required! | cloudflare",
    "ddos-guard",
    "access denied",
    "请稍候…",
    "安全验证",
    "访问验证",
)
_ERRORS_NOW: frozenset[Reason] = frozenset({"forbidden_address"})


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    reason: Reason | None = None
    detail: str = ""

    @property
    def immediate(self) -> bool:
        """Reported on the first sighting instead of after confirm_errors."""
        return self.reason in _ERRORS_NOW


# "404" as a status, at either end of the title and set off as one: "404", "404 | Example",
# "404 error", "Error 404", "Example - 404", "Oops! 404". Not inside a number or a name
# ("24049", "Room 404B"), and not a number that is part of the name: "Ad 404", "Room 404",
# "404 Main Street - Apartments" and "Meeting Room 404 booking" stay pages.
_SEPARATOR = r"[-|:–—·•/!.]"
_STATUS_404 = re.compile(
    rf"^\W*(?:error\W*)?404\s*(?:$|{_SEPARATOR}|error\b|not\b)"
    rf"|(?:{_SEPARATOR}|\berror|^)\s*404\W*$"
)


def looks_not_found(reading: Reading) -> bool:
    for text in (reading.title, reading.h1):
        folded = text.casefold()
        if folded and (
            any(phrase in folded for phrase in NOT_FOUND_PHRASES) or _STATUS_404.search(folded)
        ):
            return True
    return False


def _is_challenge(fetch: Fetch, reading: Reading | None) -> bool:
    headers = fetch.header_map
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    title = reading.title.casefold() if reading else ""
    return bool(title) and any(t in title for t in _CHALLENGE_TITLES)


def is_ancestor_redirect(watched: str, final: str) -> bool:
    """``final`` is the site root or a parent folder of ``watched``'s path."""
    path = urlsplit(watched).path or "/"
    target = urlsplit(final).path or "/"
    if target.rstrip("/") == path.rstrip("/"):
        return False
    if target == "/":
        return True
    parent = target.rstrip("/") + "/"
    return path.startswith(parent)


def _is_page(url: str, listing: str | None) -> bool:
    if listing is None:
        return False
    try:
        return normalise_url(url) == normalise_url(listing)
    except ValueError:
        return False


def classify(
    fetch: Fetch,
    reading: Reading | None,
    previous_final_url: str | None,
    listing: str | None = None,
) -> Outcome:
    """``previous_final_url``: where the last good check ended; None before the first one.
    ``listing``: for a discovered child, its parent's page: a redirect there is a removal
    (an ad that now sends readers back to the job list)."""
    if fetch.error:
        if fetch.error == "dns":
            return Outcome("gone", "dns", fetch.error_detail)
        return Outcome("error", fetch.error, fetch.error_detail)
    status = fetch.status or 0
    if status == 304:
        return Outcome("not_modified")
    if _is_challenge(fetch, reading):
        return Outcome("blocked", "challenge", f"challenge page (HTTP {status})")
    if status in GONE_STATUS:
        return Outcome("gone", GONE_STATUS[status])
    if status in BLOCKED_STATUS:
        return Outcome("blocked", BLOCKED_STATUS[status])
    if status >= 500:
        return Outcome("error", "http_5xx", f"HTTP {status}")
    if status >= 400:
        return Outcome("error", "http_4xx", f"HTTP {status}")
    if status >= 300:
        return Outcome("error", "redirect", f"HTTP {status} without a usable Location")
    if (
        fetch.hops
        and previous_final_url is not None
        and (is_ancestor_redirect(fetch.url, fetch.final_url) or _is_page(fetch.final_url, listing))
        and urlsplit(previous_final_url).path != urlsplit(fetch.final_url).path
    ):
        return Outcome("gone", "redirect", f"redirected to {fetch.final_url}")
    if reading is not None and reading.kind == "html" and looks_not_found(reading):
        return Outcome("gone", "soft_404", f"page titled {reading.title or reading.h1!r}")
    return Outcome("ok")


def same_as_missing_page(page: Reading, probe: Reading) -> bool:
    """The page looks like what the host serves for a path that never existed."""
    if page.kind != "html" or probe.kind != "html":
        return False
    if page.title != probe.title:
        return False
    a, b = page.page_text, probe.page_text
    if a == b:
        return True
    return difflib.SequenceMatcher(None, a, b, autojunk=False).quick_ratio() >= 0.9 and (
        difflib.SequenceMatcher(None, a[:2000], b[:2000], autojunk=False).ratio() >= 0.9
    )
