"""Reading the part of a page that matters: its text lines, links, embeds, items, keywords.

Pure and CPU-bound: it runs in worker processes (``worker.py``) so parsing uses the cores.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .decode import content_type, decode_text

# Block elements start a new line. A Unicode noncharacter (never valid in a page) marks
# them in the source, so one C-level text() call yields lines without a walk in Python.
_BREAK = "\ufdd0"
_BLOCK_TAGS = (
    r"(?:p|div|li|dt|dd|td|th|h[1-6]|br|hr|section|article|header|footer|aside|nav|main|"
    r"blockquote|pre|option|figcaption|caption|address|summary|details|legend|label)"
)
# Case-insensitive matching is three times slower, and upper-case tags are rare: the
# slow pattern runs only on pages that have them. The replacement is a literal (no group
# reference), which keeps re.sub in C instead of expanding a template per match.
_BLOCK_TAG = re.compile(rf"<(?=/?{_BLOCK_TAGS}[\s/>])")
_BLOCK_TAG_ANY_CASE = re.compile(rf"<(?=/?{_BLOCK_TAGS}[\s/>])", re.IGNORECASE)
_UPPER_TAG = re.compile(r"</?[A-Z]")
# Preformatted text keeps its line breaks; everywhere else a source newline is a space.
_PRE = re.compile(r"<pre\b.*?</pre\s*>", re.IGNORECASE | re.DOTALL)
# A break before every block tag, open or close: inside the element before its end, in the
# parent before its start. A break the parser moves out of a table is still a line break.
_MARK_BLOCK = _BREAK + "<"
_DROP = "script,style,template,noscript"
_EMBEDS = (
    ("a", "href", "link"),
    ("img", "src", "img"),
    ("iframe", "src", "iframe"),
    ("embed", "src", "embed"),
    ("object", "data", "object"),
    ("video", "src", "video"),
    ("audio", "src", "audio"),
    ("source", "src", "source"),
)
_REF_SELECTOR = ",".join(f"{tag}[{attr}]" for tag, attr, _ in _EMBEDS)
_REF_KIND = {tag: (attr, kind) for tag, attr, kind in _EMBEDS}
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_PAGE_TEXT = 4000  # enough of the whole page to tell a site's "not found" page


@dataclass(frozen=True)
class ReadSpec:
    """How one watch reads its page (the picklable part of a Watch)."""

    select: str | None = None
    exclude: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    items: str | None = None
    keywords: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> ReadSpec:
        """From a watch's reading settings (``Watch.reading_settings``, or as a capture's
        manifest recorded them)."""
        return cls(
            settings.get("select"),
            tuple(settings.get("exclude") or ()),
            tuple(settings.get("ignore") or ()),
            settings.get("items"),
            tuple(settings.get("keywords") or ()),
        )


@dataclass(frozen=True)
class Known:
    """The last reading of a page, as far as it tells whether to read it again.

    The lines, links, items and keywords of a reading depend only on the watched part's
    markup (after dropping scripts and `exclude`), the page's URL and the watch's reading
    settings. When the markup digests the same, the reading is the last one: the page
    costs a parse and a hash, however many bytes elsewhere changed (a token, a clock).
    """

    digest: str
    fingerprint: str


@dataclass(frozen=True)
class Reading:
    kind: str  # html, text or binary
    region_found: bool
    lines: tuple[str, ...]
    refs: tuple[str, ...] = ()
    items: tuple[str, ...] | None = None
    keywords: tuple[str, ...] = ()
    title: str = ""
    h1: str = ""
    encoding: str | None = None
    page_text: str = field(default="", compare=False)
    fingerprint: str = ""
    # The watched part's markup as parsed (see `Known`); "" when not taken.
    digest: str = field(default="", compare=False)
    # Only what tells "unchanged": the watched part's markup is the same as at the last
    # reading, so lines, links, items and keywords were not read again and are empty.
    abridged: bool = field(default=False, compare=False)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "region_found": self.region_found,
            "lines": list(self.lines),
            "refs": list(self.refs),
            "items": None if self.items is None else list(self.items),
            "keywords": list(self.keywords),
            "title": self.title,
            "h1": self.h1,
            "encoding": self.encoding,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Reading:
        items = data.get("items")
        return cls(
            kind=str(data["kind"]),
            region_found=bool(data["region_found"]),
            lines=tuple(data["lines"]),  # type: ignore[arg-type]
            refs=tuple(data.get("refs") or ()),  # type: ignore[arg-type]
            items=None if items is None else tuple(items),  # type: ignore[arg-type]
            keywords=tuple(data.get("keywords") or ()),  # type: ignore[arg-type]
            title=str(data.get("title") or ""),
            h1=str(data.get("h1") or ""),
            encoding=data.get("encoding"),  # type: ignore[arg-type]
            fingerprint=str(data.get("fingerprint") or ""),
        )


def normalise(text: str, html: bool = False) -> str:
    """NFC, one space for any run of blanks, no blank lines, no edge whitespace.

    In HTML a newline in the source is a space; only block boundaries break lines.
    """
    if html:
        text = text.replace("\r", " ").replace("\n", " ").replace(_BREAK, "\n")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text.replace(_BREAK, " ")).split())


def _apply_ignore(text: str, patterns: tuple[str, ...]) -> str:
    for pattern in patterns:
        text = re.sub(pattern, "", text)
    return normalise(text) if patterns else text


def _fingerprint(kind: str, lines: tuple[str, ...], refs: tuple[str, ...], items: object) -> str:
    h = hashlib.sha256(kind.encode())
    for part in ("\n".join(lines), "\n".join(refs), repr(items)):
        h.update(b"\x00")
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _keywords_present(text: str, keywords: tuple[str, ...]) -> tuple[str, ...]:
    if not keywords:
        return ()
    folded = text.casefold()
    return tuple(k for k in keywords if normalise(k).casefold() in folded)


def _absolute(base: str, origin: str, value: str) -> str:
    # urljoin dominated reading time on link-heavy pages; the two common shapes are cheap.
    if value.startswith(("http://", "https://")):
        return value
    if value.startswith("/") and not value.startswith("//"):
        return origin + value
    return urljoin(base, value)


def read_page(
    body: bytes,
    headers: dict[str, str],
    url: str,
    spec: ReadSpec,
    page_text: bool = True,
    known: Known | None = None,
) -> Reading:
    """Reads a response body; never raises on odd bytes, empty bodies or unknown charsets.

    ``page_text=False`` skips the whole page's text, which only a page that changed needs
    (for the soft-404 comparison) and which costs a tenth of the reading. With ``known``,
    an HTML page whose watched part digests as ``known`` says gets an abridged reading.
    """
    media, charset = content_type(headers)
    head = body[:1024].lstrip().lower()
    looks_html = head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        b"<html" in head
    )
    if media in _HTML_TYPES or (not media and looks_html):
        return _read_html(body, charset, url, spec, page_text, known)
    if media.startswith(_TEXT_TYPES) or (not media and b"\x00" not in body[:4096]):
        text, encoding = decode_text(body, charset, html=False)
        text = _apply_ignore(normalise(text), spec.ignore)
        lines = tuple(text.split("\n")) if text else ()
        return Reading(
            kind="text",
            region_found=True,
            lines=lines,
            keywords=_keywords_present(text, spec.keywords),
            encoding=encoding,
            page_text=text[:_PAGE_TEXT],
            fingerprint=_fingerprint("text", lines, (), None),
        )
    digest = hashlib.sha256(body).hexdigest()
    return Reading(
        kind="binary",
        region_found=True,
        lines=(f"{media or 'application/octet-stream'}, {len(body)} bytes, sha256 {digest}",),
        fingerprint=digest,
    )


def _parse(body: bytes, charset: str | None) -> tuple[LexborHTMLParser, str, str]:
    """The page's tree with block breaks marked and script, style and the like dropped;
    its encoding; its title (read before anything is dropped)."""
    source, encoding = decode_text(body, charset, html=True)
    if "<pre" in source or "<PRE" in source:
        source = _PRE.sub(lambda m: m.group(0).replace("\n", _BREAK), source)
    blocks = _BLOCK_TAG_ANY_CASE if _UPPER_TAG.search(source) else _BLOCK_TAG
    tree = LexborHTMLParser(blocks.sub(_MARK_BLOCK, source))
    title_node = tree.css_first("title")
    title = _one_line(title_node.text()) if title_node else ""
    for node in tree.css(_DROP):  # faster than strip_tags
        node.decompose()
    return tree, encoding, title


def _page_text(tree: LexborHTMLParser) -> str:
    # The whole page, before `exclude`: what the soft-404 check compares across watches.
    root = tree.body or tree.root
    head = root.text(separator="")[: _PAGE_TEXT * 2] if root else ""
    return normalise(head, html=True)[:_PAGE_TEXT]


def page_text(body: bytes, headers: dict[str, str]) -> str:
    """What `read_page` puts in ``page_text`` for an HTML page, on its own."""
    return _page_text(_parse(body, content_type(headers)[1])[0])


def _refs(regions: list[LexborNode], url: str) -> list[str]:
    """Links and embedded sources in the watched part, as absolute URLs by kind."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    refs: list[str] = []
    for node in regions:
        for ref in node.css(_REF_SELECTOR):
            attr, kind = _REF_KIND[ref.tag or ""]
            value = (ref.attributes.get(attr) or "").strip()
            if value and not value.startswith(("javascript:", "#", "data:")):
                refs.append(f"{kind}: {_absolute(url, origin, value)}")
    return refs


def _items(item_nodes: list[LexborNode], spec: ReadSpec) -> list[str]:
    """The text of each item (``spec.items``) in the watched part, one line each."""
    items: list[str] = []
    for item in item_nodes:
        item_text = _apply_ignore(_one_line(item.text(separator="")), spec.ignore)
        if item_text:
            items.append(item_text.replace("\n", " "))
    return items


# Bumped whenever lines, links, items or keywords are read differently: a digest taken by
# an older reader then never matches, and the page is read in full once.
_READER = "region/2"


def _region_digest(
    regions: list[LexborNode], item_nodes: list[LexborNode], url: str, encoding: str
) -> str:
    """What a reading of ``regions`` depends on beyond the watch's settings, hashed: their
    markup, and which items the items selector picks (a selector may look at ancestors
    outside the watched part, `body:not(.closed) li`)."""
    h = hashlib.sha256(f"{_READER}\x00{url}\x00{encoding}".encode())
    for node in regions:
        h.update(b"\x00")
        h.update((node.html or "").encode("utf-8", "surrogatepass"))
    for item in item_nodes:
        h.update(b"\x01")
        h.update((item.html or "").encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _read_html(
    body: bytes,
    charset: str | None,
    url: str,
    spec: ReadSpec,
    want_page_text: bool,
    known: Known | None = None,
) -> Reading:
    tree, encoding, title = _parse(body, charset)
    h1_node = tree.css_first("h1")
    h1 = _one_line(h1_node.text()) if h1_node else ""
    root = tree.body or tree.root
    page_text = _page_text(tree) if want_page_text else ""
    for selector in spec.exclude:
        for node in tree.css(selector):
            node.decompose()
    if spec.select:
        regions: list[LexborNode] = tree.css(spec.select)
    else:
        regions = [root] if root is not None else []
    found = bool(regions)
    # Matched once, for the digest and the items' text.
    item_nodes = [i for node in regions for i in node.css(spec.items)] if spec.items else []
    digest = _region_digest(regions, item_nodes, url, encoding) if found else ""
    if known is not None and digest == known.digest:
        return Reading(
            kind="html",
            region_found=True,
            lines=(),
            title=title,
            h1=h1,
            encoding=encoding,
            page_text=page_text,
            fingerprint=known.fingerprint,
            digest=digest,
            abridged=True,
        )
    raw_text = _BREAK.join(node.text(separator="") for node in regions)
    text = _apply_ignore(normalise(raw_text, html=True), spec.ignore)
    lines = tuple(text.split("\n")) if text else ()
    ref_tuple = tuple(_refs(regions, url))
    item_tuple = tuple(_items(item_nodes, spec)) if spec.items else None
    return Reading(
        kind="html",
        region_found=found,
        lines=lines,
        refs=ref_tuple,
        items=item_tuple,
        keywords=_keywords_present(text, spec.keywords),
        title=title,
        h1=h1,
        encoding=encoding,
        page_text=page_text,
        fingerprint=_fingerprint("html" if found else "html-missing", lines, ref_tuple, item_tuple),
        digest=digest,
    )
