"""Child pages of a watch (issue 13, first part): which links a listing holds, each as one
normalised URL, and the stable id of the child watch it becomes (pure).

One ad must be one child however the listing spells its link: the fragment, tracking
parameters (``utm_*``, ``fbclid``, …), the case of scheme and host and a default port are
not part of what the page is. Everything else in the query is kept, in its order: on many
sites ``?id=1002`` is the ad.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from .terminal import one_line, safe

# Query parameters that say who sent the reader, never which page it is.
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl)$",
    re.I,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
CHILD_HASH_LENGTH = 12  # hex digits of SHA-256: a listing of a million ads collides at 1e-8
# A page's name is its link's text, which the page chooses: kept to this many characters.
MAX_NAME = 300
# Links read from one source at most (a hostile 10 MB page holds half a million): past it a
# look stops reading and says so; max_children is far below it anyway.
MAX_LINKS = 100_000


def normalise_url(url: str) -> str:
    """The URL as one child is known by; ValueError for one that is not http(s)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:200]}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps its brackets
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if not _TRACKING.match(k)]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(kept), ""))


def child_id(parent_id: str, url: str) -> str:
    """``<parent-id>/<short hash of the normalised URL>``: the same ad, the same id, on
    every run and on every machine."""
    digest = hashlib.sha256(normalise_url(url).encode()).hexdigest()
    return f"{parent_id}/{digest[:CHILD_HASH_LENGTH]}"


@dataclass(frozen=True)
class Link:
    url: str  # normalised
    text: str  # the link's text, for the child's name ("" when it has none)


def links(html: str, selector: str, base_url: str, match: str | None = None) -> list[Link]:
    """The links ``selector`` finds on a page (the matched elements that are links, and
    the links inside them), absolute and normalised, each once (its first text), in page
    order; only http(s), and only those whose normalised URL ``match`` finds, if given."""
    tree = LexborHTMLParser(html)
    wanted = re.compile(match) if match else None
    seen: dict[str, Link] = {}
    for node in tree.css(selector):
        anchors = [node] if node.tag == "a" else node.css("a[href]")
        for anchor in anchors:
            href = (anchor.attributes.get("href") or "").strip()
            if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
                continue
            try:
                url = normalise_url(urljoin(base_url, href))
            except ValueError:
                continue
            if url in seen or (wanted is not None and not wanted.search(url)):
                continue
            seen[url] = Link(url, _name(anchor.text(separator=" ")))
            if len(seen) >= MAX_LINKS:
                return list(seen.values())
    return list(seen.values())


def _name(text: str | None) -> str:
    # Made safe once, where it enters: it goes to terminals, email and Slack as a name.
    return safe(one_line(text or "", MAX_NAME))


# --- sitemaps, robots.txt and feeds -------------------------------------------------------
# Parsed with the standard library's expat (2.4 and later refuse entity expansion bombs;
# ElementTree resolves no external entity).

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_ATOM_NS = "{http://www.w3.org/2005/Atom}"


class NotAListing(ValueError):
    """A sitemap or feed that is not one (the message says what it is instead)."""


@dataclass(frozen=True)
class Sitemap:
    kind: str  # "index": its entries are sitemaps; "urlset": its entries are pages
    entries: tuple[tuple[str, str | None], ...]  # (normalised URL, lastmod)


def _xml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise NotAListing(f"not XML: {exc}") from None


def _bare(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sitemap(data: bytes, base_url: str) -> Sitemap:
    """A sitemap index or urlset (sitemaps.org 0.9; a missing namespace is tolerated)."""
    root = _xml(data)
    kind = _bare(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise NotAListing(f"a <{kind}> document, not a sitemap")
    child = "sitemap" if kind == "sitemapindex" else "url"
    entries: dict[str, str | None] = {}
    for node in root:
        if _bare(node.tag) != child:
            continue
        loc = lastmod = None
        for field in node:
            name = _bare(field.tag)
            if name == "loc":
                loc = (field.text or "").strip()
            elif name == "lastmod":
                lastmod = (field.text or "").strip() or None
        if not loc or len(entries) >= MAX_LINKS:
            continue
        try:
            entries.setdefault(normalise_url(urljoin(base_url, loc)), lastmod)
        except ValueError:
            continue
    return Sitemap("index" if kind == "sitemapindex" else "urlset", tuple(entries.items()))


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """The sitemaps a robots.txt names (``Sitemap:`` lines, any case), normalised."""
    found: dict[str, None] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            try:
                found.setdefault(normalise_url(urljoin(base_url, value.strip())))
            except ValueError:
                continue
    return list(found)


def feed(data: bytes, base_url: str) -> list[Link]:
    """The entries of an RSS 2.0 or Atom feed, each its link and title, in feed order."""
    root = _xml(data)
    kind = _bare(root.tag)
    found: dict[str, Link] = {}

    def add(href: str | None, title: str | None) -> None:
        if not href or not href.strip():
            return
        try:
            url = normalise_url(urljoin(base_url, href.strip()))
        except ValueError:
            return
        if len(found) < MAX_LINKS:
            found.setdefault(url, Link(url, _name(title)))

    if kind == "rss":
        for item in root.iter("item"):
            add(item.findtext("link"), item.findtext("title"))
    elif kind == "feed":
        for entry in root.iter(f"{_ATOM_NS}entry"):
            links_ = entry.findall(f"{_ATOM_NS}link")
            chosen = [x for x in links_ if x.get("rel", "alternate") == "alternate"]
            href = (chosen or links_ or [ET.Element("link")])[0].get("href")
            add(href, entry.findtext(f"{_ATOM_NS}title"))
    else:
        raise NotAListing(f"a <{kind}> document, not an RSS or Atom feed")
    return list(found.values())


# --- what a run of discovery found, and what the removed children share ------------------


@dataclass(frozen=True)
class Discovery:
    """One look at a parent's children, against the children it had."""

    added: tuple[Link, ...]  # linked now, never seen before
    relinked: tuple[str, ...]  # urls linked again after being unlinked
    unlinked: tuple[str, ...]  # urls linked before and not now (not concluded: rechecked)
    over_limit: tuple[Link, ...]  # new links past max_children, not taken (said once)


def compare(found: list[Link], known: dict[str, bool], room: int) -> Discovery:
    """``known``: every child url the parent ever had, and whether it is linked now.
    At most ``room`` new links are taken, in page order (the caller counts its limits:
    the pages still watched, not every one ever seen); the rest are named, never silently
    dropped."""
    linked_now = {link.url for link in found}
    room = max(room, 0)
    fresh = [link for link in found if link.url not in known]
    return Discovery(
        added=tuple(fresh[:room]),
        relinked=tuple(url for url, linked in known.items() if not linked and url in linked_now),
        unlinked=tuple(url for url, linked in known.items() if linked and url not in linked_now),
        over_limit=tuple(fresh[room:]),
    )


def selective(removed: dict[str, set[str]], remaining: dict[str, set[str]]) -> list[str]:
    """The keywords every removed child had and no remaining child has (each child id to
    the keywords found on it): "the 23 removed ads all mention Urumqi; none of the 8
    remaining do". Empty when the removal was not selective by any keyword."""
    if not removed:
        return []
    shared = set.intersection(*(set(k) for k in removed.values()))
    left = set().union(*remaining.values()) if remaining else set()
    return sorted(shared - left)


def removal_summary(
    gone: list[str], total: int, removed: dict[str, set[str]], remaining: dict[str, set[str]]
) -> str:
    """One line for a parent's digest: "23 of 31 pages gone: A; B; … — all mention
    Urumqi, none of the 8 remaining do"."""
    # Names often hold commas ("Engineer, Urumqi"): a semicolon keeps them apart.
    names = "; ".join(gone[:10]) + (f" and {len(gone) - 10} more" if len(gone) > 10 else "")
    line = f"{len(gone)} of {total} pages gone: {names}"
    keywords = selective(removed, remaining)
    if keywords:
        said = " and ".join(keywords)
        rest = total - len(gone)
        line += f" — all mention {said}, none of the {rest} remaining do"
    return line


# --- a child as the state store keeps it --------------------------------------------------


@dataclass(frozen=True)
class Child:
    """A page a watch discovered: the state store keeps one per child id, beside (not in)
    the child's own watch state, so the parent's run knows every child it ever had."""

    id: str
    parent: str
    url: str
    name: str
    first_linked: str  # rfc3339: the parent check that first found it
    linked: bool = True
    # When the parent (or its sitemap, feed) stopped linking it, and the parent's
    # versions either side: the scrub's context, said with the child's gone or unlinked.
    unlinked_at: str | None = None
    linked_in: str | None = None  # evidence of the parent's last version that linked it
    unlinked_in: str | None = None  # evidence of the parent's first version that did not
    # The unlinking was concluded (an `unlinked` or `gone` event said it): nothing more.
    said: bool = False
    # The keywords on the child's last reading, for "all mention Urumqi" in a digest.
    keywords: tuple[str, ...] = ()
    # Checked at least once: the stack's scheduler queues a child never checked at once.
    seen: bool = False
    gone_at: str | None = None  # when its `gone` concluded it
    # Still on the listing, but no longer taken by the watch's edited `discover` (a new
    # `match`, say): the user's choice, not the site's. No longer checked; history kept.
    dropped: bool = False

    def to_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["keywords"] = list(self.keywords)
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Child:
        known = {k: v for k, v in data.items() if k in _CHILD_FIELDS}
        known["keywords"] = tuple(known.get("keywords") or ())  # type: ignore[arg-type]
        return cls(**known)  # type: ignore[arg-type]

    @property
    def waiting(self) -> bool:
        """Unlinked and not yet concluded: checked at `recheck`, not at its `every`."""
        return not self.linked and not self.said

    @property
    def watched(self) -> bool:
        """Still one of the watch's pages: linked, or unlinked and not known to be gone
        (what `max_children` counts, and what a listing had when its pages went)."""
        return not self.dropped and self.gone_at is None


_CHILD_FIELDS = frozenset(Child.__dataclass_fields__)


@dataclass(frozen=True)
class ChildWrite:
    """A record as one commit writes it: whole (a new page), or only the fields that
    commit changed. A page's record has two writers, its listing's look (linked, unlinked,
    dropped) and its own check (seen, keywords, concluded): each writes only its fields,
    so neither undoes the other's when both ran from the same record."""

    child: Child
    fields: frozenset[str] | None = None  # None: the whole record

    @classmethod
    def of(cls, old: Child | None, new: Child) -> ChildWrite:
        if old is None:
            return cls(new)
        return cls(new, frozenset(f for f in _CHILD_FIELDS if getattr(old, f) != getattr(new, f)))

    def merged(self, stored: dict[str, object] | None) -> dict[str, object]:
        """The record to store, given what is stored (None when nothing is)."""
        data = self.child.to_json()
        if stored is None or self.fields is None:
            return data
        return {**stored, **{f: data[f] for f in self.fields}}
