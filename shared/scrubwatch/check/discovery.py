"""Where a watch's children come from (issue 13): the links on the page it fetched, or a
sitemap or feed fetched for it through the same fetcher (its address guard on every hop,
its size limit, the watch's proxy and user agent); then what the watch may take of them.

A source that cannot be read concludes nothing: ``SourceFailed``, and the children keep
what they had. Only a source that answered may unlink a child.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

from ..core.config import Watch
from ..core.decode import content_type, decode_text
from ..core.discover import MAX_LINKS, Link, NotAListing, feed, links, robots_sitemaps, sitemap
from ..core.exchange import Fetch
from .netguard import ForbiddenAddress, IPNetwork, vet_unresolved

# A sitemap index naming more sitemaps than this is read this far (said in the record).
MAX_SITEMAPS = 50

# (url, etag, last_modified) -> the answer: a conditional GET when a validator is given.
FetchPage = Callable[[str, str | None, str | None], Awaitable[Fetch]]
# (the page, the CSS) -> its links: the engine runs page_links in a reading worker.
ReadLinks = Callable[[Fetch, str], Awaitable[list[Link]]]
Validators = dict[str, list[str | None]]  # document url -> [etag, last_modified]


class SourceFailed(Exception):
    """The sitemap or feed could not be read: nothing is concluded this time."""


class Unchanged(Exception):
    """The feed or sitemap answered 304 Not Modified: its links are last time's."""


@dataclass
class Found:
    """The children a source lists, and those it lists that the watch may not take."""

    links: list[Link] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, why)
    notes: list[str] = field(default_factory=list)  # what was read, for the record
    # The validators of the documents read, for a conditional GET next time.
    validators: Validators = field(default_factory=dict)
    # Every address the source listed, taken or not: a page no longer taken but still
    # listed was dropped by an edit of `discover`, not unlinked by the site.
    listed: set[str] = field(default_factory=set)
    # Why this look did not see the whole source (a sitemap that failed, the limits of
    # what one look reads); None when it did. A partial look unlinks nothing.
    partial: str | None = None


def page_links(content: bytes, headers: dict[str, str], selector: str, base: str) -> list[Link]:
    """The links ``selector`` finds on a fetched page (run in a reading worker: a page that
    crashes or stalls the parser is that watch's failure, not the run's)."""
    html, _ = decode_text(content, content_type(headers)[1], html=True)
    return links(html, selector, base)


async def _read_here(page: Fetch, selector: str) -> list[Link]:
    return page_links(page.content, page.header_map, selector, page.final_url)


async def find_children(
    watch: Watch,
    page: Fetch,
    fetch: FetchPage,
    allow: Sequence[IPNetwork],
    validators: Validators | None = None,
    read_links: ReadLinks = _read_here,
) -> Found:
    """The links ``watch.discover`` names: from ``page`` (already fetched) or its own
    source through ``fetch``; each once, in source order. ``allow``: the networks
    settings.allow_networks opens to the address guard. ``validators``: what the source's
    documents answered last time; a source that was one document (a feed, a sitemap that
    is not an index) is asked conditionally, and raises Unchanged on a 304."""
    spec = watch.discover
    assert spec is not None
    found = Found()
    last = validators or {}
    conditional = last if len(last) == 1 else {}

    async def get(url: str) -> Fetch:
        etag, modified = (conditional.get(url) or [None, None])[:2]
        answer = await fetch(url, etag, modified)
        if answer.status == 304 and (etag or modified):
            raise Unchanged(url)
        headers = answer.header_map
        found.validators[url] = [headers.get("etag"), headers.get("last-modified")]
        return answer

    if spec.links:
        listed = await read_links(page, spec.links)
        found.notes.append(f"links {spec.links!r} on {page.final_url}")
    elif spec.sitemap:
        listed = await _sitemap_links(spec.sitemap, get, found, watch)
    else:
        assert spec.feed is not None
        answer = await _fetched(spec.feed, get)
        try:
            listed = feed(answer.content, answer.final_url)
        except NotAListing as exc:
            raise SourceFailed(f"{spec.feed}: {exc}") from None
        found.notes.append(f"feed {spec.feed}")
    if len(listed) >= MAX_LINKS:
        found.partial = f"stopped reading at {MAX_LINKS} links"
    found.listed = {link.url for link in listed}
    found.links = sift(listed, watch, allow, found.skipped)
    if found.partial:
        found.notes.append(f"partial: {found.partial}; nothing unlinked")
    return found


async def _fetched(url: str, fetch: Callable[[str], Awaitable[Fetch]]) -> Fetch:
    answer = await fetch(url)
    if answer.error is not None:
        raise SourceFailed(f"{url}: {answer.error_detail or answer.error}")
    if answer.status != 200:
        raise SourceFailed(f"{url}: HTTP {answer.status}")
    return answer


async def _sitemap_links(
    url: str, fetch: Callable[[str], Awaitable[Fetch]], found: Found, watch: Watch
) -> list[Link]:
    """A sitemap, a sitemap index (its sitemaps read in turn), or a robots.txt naming them.
    Only ``url`` must be read: a sitemap it names that cannot be read, or that is on
    another site (with `same_site`), makes the look partial."""
    spec = watch.discover
    assert spec is not None
    site = site_of(watch.url)
    queue = [url]
    if urlsplit(url).path.endswith("/robots.txt"):
        answer = await _fetched(url, fetch)
        text, _ = decode_text(answer.content, None, html=False)
        queue = robots_sitemaps(text, answer.final_url)
        found.notes.append(f"robots.txt {url} names {len(queue)} sitemap(s)")
    pages: dict[str, Link] = {}
    read = 0
    while queue:
        if read == MAX_SITEMAPS:
            found.partial = f"{len(queue)} more sitemaps not read (at most {MAX_SITEMAPS})"
            break
        current = queue.pop(0)
        if read and spec.same_site and site_of(current) != site:
            found.skipped.append((current, f"a sitemap not on {site} (same_site)"))
            found.partial = "a sitemap it names is on another site"
            continue
        try:
            answer = await _fetched(current, fetch)
            listed = sitemap(answer.content, answer.final_url)
        except NotAListing as exc:
            if not read:
                raise SourceFailed(f"{current}: {exc}") from None
            found.partial = f"{current}: {exc}"
            continue
        except SourceFailed as exc:
            if not read:
                raise
            found.partial = str(exc)  # the others are read: new pages are still taken
            continue
        finally:
            read += 1
        if listed.kind == "index":
            queue.extend(loc for loc, _ in listed.entries if loc not in queue)
            found.notes.append(f"sitemap index {current}: {len(listed.entries)} sitemap(s)")
            continue
        found.notes.append(f"sitemap {current}: {len(listed.entries)} page(s)")
        for loc, _ in listed.entries[: MAX_LINKS - len(pages)]:
            pages.setdefault(loc, Link(loc, ""))
    return list(pages.values())


def sift(
    listed: list[Link],
    watch: Watch,
    allow: Sequence[IPNetwork],
    skipped: list[tuple[str, str]],
) -> list[Link]:
    """The links the watch may take: matching ``match``, on its site unless ``same_site``
    is off, and not at an address the guard refuses; the others noted in ``skipped`` (a
    link that ``match`` leaves out is not a child at all, and is not noted)."""
    spec = watch.discover
    assert spec is not None
    wanted = re.compile(spec.match) if spec.match else None
    site = site_of(watch.url)
    kept = []
    for link in listed:
        if wanted is not None and not wanted.search(link.url):
            continue
        if link.url == watch.url:
            continue  # the listing itself
        host = urlsplit(link.url).hostname or ""
        if spec.same_site and site_of(link.url) != site:
            skipped.append((link.url, f"not on {site} (same_site)"))
            continue
        try:
            vet_unresolved(host, allow)
        except ForbiddenAddress as exc:
            skipped.append((link.url, f"forbidden address: {exc}"))
            continue
        kept.append(link)
    return kept


def site_of(url: str) -> str:
    """The registrable domain of a URL's host (``careers.example.co.uk`` is on
    ``example.co.uk``); an address or a one-label name is its own site."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if "." not in host:
        return host
    return _suffixes().privatesuffix(host) or host


@cache
def _suffixes():  # type: ignore[no-untyped-def]
    # Loaded at the first discovery that needs it (80 ms): a run without one never pays.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()
