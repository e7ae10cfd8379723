"""Why a check saw a page gone, blocked or failing: every reason, and the one table that
words it for alerts, summaries and subject lines.

A reason is part of an event (``Event.reason``) and of a watch's state, so a name never
changes once released; an event from a newer release may carry one this table does not
know, and is worded generically (``wording``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The page is not there (reported as `gone` once confirmed; never for a page never seen).
GoneReason = Literal["http_404", "http_410", "http_451", "dns", "redirect", "soft_404"]
# The site keeps scrubwatch out: never a deletion.
BlockedReason = Literal[
    "http_401", "http_403", "http_407", "http_429", "challenge", "site_wide_page"
]
# A fetch that failed without saying anything of the page.
_FetchError = Literal[
    "timeout",
    "connect",
    "dns_error",
    "forbidden_address",
    "too_large",
    "invalid_url",
    "protocol",
    "redirect",
    "redirect_loop",
    "render_failed",
    "browser_missing",
]
# What a fetch can fail with (``Fetch.error``); "dns" is a name that does not resolve.
FetchFailure = Literal[_FetchError, "dns"]
# The check failed: says nothing about the page.
ErrorReason = Literal[
    _FetchError, "http_4xx", "http_5xx", "read_failed", "probe_failed", "internal"
]
# A watch that discovers its pages: more links than its limits let it watch, or a sitemap
# or feed that cannot be read (an `error` event's reason, never a fetch's).
DiscoveryReason = Literal["max_children", "discovery_failed"]
# Only the order of a page's items or lines changed (a `changed` event's reason).
REORDERED: Literal["reordered"] = "reordered"
# A listing that only lost items whose links it stopped giving: its pages are checked
# again, and what became of them is the news (a `changed` event's reason, not alerted).
PAGES_UNLINKED: Literal["pages_unlinked"] = "pages_unlinked"
Reason = Literal[
    GoneReason, BlockedReason, ErrorReason, DiscoveryReason, "reordered", "pages_unlinked"
]

GONE_STATUS: dict[int, GoneReason] = {404: "http_404", 410: "http_410", 451: "http_451"}
BLOCKED_STATUS: dict[int, BlockedReason] = {
    401: "http_401",
    403: "http_403",
    407: "http_407",
    429: "http_429",
}

_CHECK_URL = "Check the URL."
_CHECK_SITE = "Check the URL and that the site is up."


@dataclass(frozen=True)
class Wording:
    """How one reason reads: ``short`` in a subject line (the reason's own name when empty),
    ``gone`` after a page's name when
    a page that was there is gone, ``failed`` after its name when a check fails, ``never``
    for a page never once reached, with the ``hint`` of what to do about that."""

    short: str = ""
    gone: str = "is gone"
    failed: str = ""
    never: str = ""
    hint: str = _CHECK_SITE


WORDING: dict[str, Wording] = {
    "http_404": Wording("404", "now answers 404 Not Found", hint=_CHECK_URL),
    "http_410": Wording("410", "now answers 410 Gone", hint=_CHECK_URL),
    "http_451": Wording("451", "now answers 451 Unavailable For Legal Reasons"),
    "dns": Wording(
        "domain gone",
        "is gone: its domain name no longer resolves",
        never="its domain name does not resolve",
        hint="Check the URL, and that this machine can look up names.",
    ),
    "redirect": Wording(
        "redirected",
        "now redirects to the site's home or a parent page",
        failed="redirects to an address it cannot follow",
        never="it redirects to the site's home page",
    ),
    "soft_404": Wording(
        "not-found page",
        "now shows a 'page not found' page",
        never="it shows a 'page not found' page",
        hint=_CHECK_URL,
    ),
    "http_401": Wording(),
    "http_403": Wording(),
    "http_407": Wording(),
    "http_429": Wording(),
    "challenge": Wording(),
    "site_wide_page": Wording(),
    "timeout": Wording(failed="timed out"),
    "connect": Wording(failed="could not be reached"),
    "dns_error": Wording(
        failed="could not be looked up (the name server failed to answer)",
    ),
    "forbidden_address": Wording(failed="points at an address scrubwatch will not fetch", hint=""),
    "too_large": Wording(failed="is larger than max_bytes"),
    "invalid_url": Wording(failed="redirects to an address that cannot be requested"),
    "protocol": Wording(failed="sends a malformed answer"),
    "redirect_loop": Wording(failed="redirects in a loop"),
    "render_failed": Wording(
        failed="could not be rendered in the browser (it hung or crashed it)", hint=""
    ),
    "browser_missing": Wording(
        failed="needs a browser (render: browser), which is not installed",
        hint="Install one: make install-browser (or see the README's 'Pages built by JavaScript').",
    ),
    "http_4xx": Wording(failed="answers with a client error"),
    "http_5xx": Wording(failed="answers with a server error"),
    "read_failed": Wording(failed="could not be read (the reader crashed or never finished)"),
    "probe_failed": Wording(failed="could not be compared with the site's not-found page"),
    "internal": Wording(failed="could not be checked (an unexpected failure; see the log)"),
    "reordered": Wording(),
    "pages_unlinked": Wording(),
    "max_children": Wording("pages not watched"),
    "discovery_failed": Wording("pages not listed", failed="cannot be read for its pages"),
}


def wording(reason: str) -> Wording:
    """The reason's wording; a reason this release does not know reads as its name."""
    return WORDING.get(reason) or Wording()


def short(reason: str) -> str:
    """The reason in a subject line: "(404)", "(timeout)"."""
    return wording(reason).short or reason


def failed(reason: str) -> str:
    """How a failing check of a page reads after its name ("timed out")."""
    return wording(reason).failed or f"failed ({reason})"
