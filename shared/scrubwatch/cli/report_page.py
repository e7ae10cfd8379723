"""The report's two renderings, from Jinja2 templates (``templates/``): HTML, every value
escaped by the engine, and Markdown, every value a page gave escaped by the filters here.

A watched page is hostile input: its text, titles, item names and links can carry markup,
Markdown, control characters or ``javascript:`` links. HTML autoescaping takes care of
markup; only http(s) addresses become links; and the page's Content-Security-Policy lets
it load nothing at all, so opening the report tells no one it was opened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from ..core.contact import Contact
from ..core.events import rfc3339
from ..core.timeline import Story, contact_line, event_line, summary_counts

# Control characters, and those that reorder or hide text (bidi marks and overrides,
# zero-width characters, the byte order mark).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
# Enough for inline text to render as itself (an entity such as &#x202E; too), few enough
# that the raw file reads well.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&])")
# What GFM would turn into a link by itself: an address, a www. name, an email address.
_AUTOLINK = re.compile(r"(://|(?<![\w.])www\.|@)")


def _plain(text: object) -> str:
    """Without control and bidi characters: they would reorder or hide what is shown."""
    return _CONTROL.sub("", str(text))


def _md(text: object) -> str:
    """Inline Markdown text that renders as itself, on one line, and links nowhere."""
    escaped = _MARKDOWN.sub(r"\\\1", " ".join(_plain(text).split()))
    return _AUTOLINK.sub(lambda m: "\\" + m.group() if m.group() != "://" else ":\\//", escaped)


def _fence(lines: Sequence[str]) -> str:
    """A code fence longer than any run of backticks in ``lines``."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _href(url: object) -> str | None:
    text = str(url or "")
    return text if re.match(r"^https?://", text, re.IGNORECASE) else None


def _code(text: object) -> str:
    """An inline Markdown code span holding ``text`` as is (on one line)."""
    plain = " ".join(_plain(text).split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", plain)), default=0) + 1)
    return f"{ticks} {plain} {ticks}" if ticks != "`" else f"`{plain}`"


def _md_link(url: object) -> str:
    """An http(s) address as a Markdown autolink; anything else as code, never a link."""
    href = _href(_plain(url))
    if href is None:
        return _code(url)
    return "<" + re.sub(r"[<>\s`]", lambda m: f"%{ord(m.group()):02X}", href) + ">"


@cache
def _environments() -> tuple[Any, Any]:
    # Jinja2 is imported here, by the one command that needs it: not at every start.
    from jinja2 import Environment, PackageLoader, StrictUndefined

    loader = PackageLoader("scrubwatch.cli", "templates")
    html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    md = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)
    for env in (html, md):
        env.filters.update(plain=_plain, md=_md, fence=_fence, href=_href)
        env.filters.update(code=_code, md_link=_md_link)
        env.globals.update(event_line=event_line, contact_line=contact_line)
        env.trim_blocks = env.lstrip_blocks = True
    return html, md


def _trusted_note(pinned: bool) -> str:
    if pinned:
        return "verified offline, signed under a CA your watch list names"
    return (
        "verified offline against the CA kept beside it (not pinned: name the authority's "
        "CA in the watch list, or compare its fingerprint)"
    )


def _contact_items(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Each contact as its record says (what its token stamps), for both renderings."""
    out = []
    for contact in meta["contacts"]:
        record = meta["contact_records"].get(contact.id, {})
        at = record.get("at_utc") or rfc3339(datetime.fromtimestamp(contact.at, UTC))
        recorded = str(record.get("recorded_at") or "")
        times = [f"{when} ({who})" for when, who, _ in meta["contact_times"].get(contact.id, [])]
        out.append(
            {
                "id": contact.id,
                "at": at,
                "note": record.get("note", contact.note),
                "recorded": recorded,
                "later": _later(str(at), recorded),
                "trusted": times,
            }
        )
    return out


def _later(at: str, recorded: str) -> bool:
    """Recorded more than a minute after the time it gives (``--at``): that time is the
    user's word; only the record's trusted time is the authority's."""
    try:
        gap = datetime.fromisoformat(recorded.replace("Z", "+00:00")) - datetime.fromisoformat(
            at.replace("Z", "+00:00")
        )
    except ValueError:
        return False
    return gap.total_seconds() > 60


def _context(stories: Sequence[Story], meta: dict[str, Any]) -> dict[str, Any]:
    contacts: list[Contact] = meta["contacts"]
    watches = [s for s in stories if s.parent is None]
    found = {w.watch: [s for s in stories if s.parent == w.watch] for w in watches}
    return {
        "meta": meta,
        "counts": summary_counts(stories),
        "contacts": contacts,
        "watches": watches,
        "pages": {w: [s for s in kids if not s.quiet] for w, kids in found.items()},
        "quiet": {w: [s for s in kids if s.quiet] for w, kids in found.items()},
        "gone": {w: [s for s in kids if s.gone] for w, kids in found.items()},
        "found": found,
        "contact_items": _contact_items(meta),
        "trusted_note": _trusted_note(meta["pinned"]),
        "broken": [
            *summary_counts(stories)["broken"],
            *(["the contact records"] if meta["contact_problems"] else []),
        ],
    }


def page_html(stories: Sequence[Story], meta: dict[str, Any]) -> str:
    html, _ = _environments()
    return str(html.get_template("report.html.j2").render(_context(stories, meta)))


def markdown(stories: Sequence[Story], meta: dict[str, Any]) -> str:
    _, md = _environments()
    return str(md.get_template("report.md.j2").render(_context(stories, meta)))
