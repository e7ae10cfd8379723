"""Every human rendering of a ``scrubwatch.event/1`` event: email, Slack, console (pure).

Read on a phone in seconds: what happened first, then what was removed, then where the
evidence is. Everything that comes from a page is untrusted: Slack text is escaped so a
page cannot ping a channel or forge a link, console text has no escape sequences a terminal
would obey, and every list and diff is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import reasons, terminal
from .discover import removal_summary
from .events import Event

LABELS = {
    "first_seen": "NEW",
    "changed": "CHANGED",
    "element_missing": "REMOVED",
    "gone": "GONE",
    "restored": "RESTORED",
    "moved": "MOVED",
    "error": "ERROR",
    "children_found": "FOUND",
    "children_added": "NEW PAGES",
    "unlinked": "UNLINKED",
}
_EMOJI = {
    "first_seen": ":new:",
    "changed": ":pencil2:",
    "element_missing": ":scissors:",
    "gone": ":x:",
    "restored": ":leftwards_arrow_with_hook:",
    "moved": ":arrow_right:",
    "error": ":warning:",
    "children_found": ":card_index_dividers:",
    "children_added": ":heavy_plus_sign:",
    "unlinked": ":link:",
}
SHOWN = 10  # entries of a list shown before "... and N more"
DIFF_LINES = 30

# Slack: 3,000 characters a section, 50 blocks, and a message kept well under 12,000.
SLACK_SECTION = 2900
SLACK_TOTAL = 10_000
SLACK_BLOCKS = 50


def lists(event: Event) -> list[tuple[str, list[str]]]:
    """What went and what came, in the order every rendering shows them."""
    return [
        ("Removed", event.removed),
        ("Added", event.added),
        ("Keywords that vanished", event.keywords_removed),
        ("Keywords that appeared", event.keywords_added),
    ]


def counted_lists(event: Event) -> list[tuple[str, list[str], int]]:
    """``lists``, each with how many entries it had: an event may carry only the first."""
    totals = (
        event.removed_total,
        event.added_total,
        len(event.keywords_removed),
        len(event.keywords_added),
    )
    return [
        (title, entries, total)
        for (title, entries), total in zip(lists(event), totals, strict=True)
    ]


def _unshown(entries: Sequence[str], total: int, shown: int) -> int:
    """How many of ``total`` entries the first ``shown`` of ``entries`` leave out."""
    return max(total - len(entries[:shown]), 0)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def subject(event: Event, limit: int = 99) -> str:
    """``[scrubwatch] GONE: Agency ad 1001 (404)``: one line, under 100 characters."""
    reason = reasons.short(event.reason) if event.reason else ""
    tail = f" ({reason})" if reason and event.kind in ("gone", "error") else ""
    head = f"[scrubwatch] {LABELS[event.kind]}: "
    room = limit - len(head) - len(tail)
    return head + _clip(terminal.one_line(event.name), room) + tail


def _listing(label: str, entries: Sequence[str], total: int, shown: int) -> list[str]:
    if not total:
        return []
    out = [f"{label}:"]
    out.extend(f"  - {_clip(terminal.one_line(e), 300)}" for e in entries[:shown])
    if _unshown(entries, total, shown):
        out.append(f"  ... and {_unshown(entries, total, shown)} more")
    return [*out, ""]


def visual_line(event: Event) -> str:
    """How much of a rendered page's screenshot changed ("" when none was compared)."""
    seen = event.visual or {}
    try:
        share, regions = float(seen["share"]), int(seen.get("regions", 0))
    except (KeyError, TypeError, ValueError):
        return ""
    percent = f"{round(share * 100)} %"
    if 0 < share < 0.01:
        percent = "under 1 %"
    elif share < 1 and percent == "100 %":
        percent = "over 99 %"
    where = f", in {regions} region{'' if regions == 1 else 's'}" if regions else ""
    top = " (of its top, all that was pictured)" if seen.get("cut") else ""
    return f"Screenshot: {percent} of the page changed{top}{where}"


def email_text(event: Event, shown: int = SHOWN, diff_lines: int = DIFF_LINES) -> str:
    """The plain-text email body."""
    lines = [
        terminal.one_line(event.summary),
        "",
        f"Page:  {event.url}",
        f"When:  {event.detected_at.replace('T', ' ').replace('Z', ' UTC')}",
    ]
    if event.current and event.current.final_url != event.url and event.kind != "error":
        lines.append(f"Now:   {event.current.final_url} (HTTP {event.current.status})")
    if listing := _parent_line(event):
        lines.append(f"From:  {listing}")
    lines.append("")
    for title, entries, total in counted_lists(event):
        lines += _listing(title, entries, total, shown)
    if seen := visual_line(event):
        lines += [seen + ".", ""]
    if event.diff:
        diff = event.diff.splitlines()
        lines += ["Diff (excerpt):", *(_clip(d, 300) for d in diff[:diff_lines])]
        if len(diff) > diff_lines:
            lines.append(f"... {len(diff) - diff_lines} more diff lines")
        lines.append("")
    lines.append("Evidence:")
    if event.previous and event.previous.evidence:
        lines.append(f"  before: {event.previous.evidence}")
        lines.append(f"          fetched {event.previous.fetched_at}")
    if event.current and event.current.evidence:
        lines.append(f"  now:    {event.current.evidence}")
        lines.append(f"          fetched {event.current.fetched_at}")
        if event.current.manifest_sha256:
            # The chain head: what `scrubwatch history` and an exported bundle's HEAD show.
            lines.append(f"          manifest sha256 {event.current.manifest_sha256}")
    for label, where in _parent_evidence(event):
        lines.append(f"  {label} {where}")
    if not (event.previous or event.current):
        lines.append("  (none kept)")
    lines += [
        "",
        f"See more: scrubwatch diff {event.watch}   scrubwatch history {event.watch}",
        "",
        "--",
        f"watch {event.watch} · event {event.event_id} · scrubwatch",
    ]
    return "\n".join(lines) + "\n"


def _parent_line(event: Event) -> str:
    """For a discovered child: its listing, and since when it no longer links the child."""
    note = event.parent
    if not note:
        return ""
    name = terminal.one_line(str(note.get("name") or note.get("id") or ""))
    line = f"{_clip(name, 200)} ({_clip(str(note.get('url') or ''), 500)})"
    unlinked = note.get("unlinked_at")
    if isinstance(unlinked, str) and unlinked:
        line += f", which stopped linking it {unlinked.replace('T', ' ').replace('Z', ' UTC')}"
    return line


def _parent_evidence(event: Event) -> list[tuple[str, str]]:
    """The listing's versions either side of the unlinking, as evidence links."""
    note = event.parent or {}
    out = []
    for label, key in (("listing before:", "linked_in"), ("listing after: ", "unlinked_in")):
        where = note.get(key)
        if isinstance(where, str) and where:
            out.append((label, _clip(where, 500)))
    return out


def console_text(event: Event, shown: int = 5) -> str:
    """A short block for a person at a terminal, safe to print there: page text can carry
    escape sequences that a terminal would obey (``ConsolePublisher.render``)."""
    # Summaries start with the label ("GONE: ..."); the tag says it once.
    label = LABELS[event.kind]
    summary = event.summary.removeprefix(f"{label}: ")
    out = [f"[{label}] {summary}", f"    {event.url}"]
    if listing := _parent_line(event):
        out.append(f"    from {listing}")
    for title, entries, total in counted_lists(event):
        if total:
            out.append(f"    {title.lower()}:")
            out.extend(f"      - {entry}" for entry in entries[:shown])
            if _unshown(entries, total, shown):
                out.append(f"      ... and {_unshown(entries, total, shown)} more")
    if seen := visual_line(event):
        out.append(f"    {seen[0].lower()}{seen[1:]}")
    if event.previous and event.previous.evidence:
        out.append(f"    evidence (before): {event.previous.evidence}")
    if event.current and event.current.evidence and event.kind != "first_seen":
        out.append(f"    evidence (now):    {event.current.evidence}")
    if event.current and event.current.manifest_sha256:
        out.append(f"    manifest sha256:   {event.current.manifest_sha256}")
    return terminal.safe("\n".join(out)) + "\n\n"


def escape(text: str) -> str:
    """Slack's control characters: page text like ``<!channel>`` then shows literally."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str) -> str:
    # A link's label is the escaped URL itself: page text cannot pick what a link says.
    safe = escape(url).replace("|", "%7C")
    return f"<{safe}|{safe}>"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_SECTION)}}


def _bullets(title: str, entries: Sequence[str], total: int, shown: int) -> str:
    lines = [f"*{title}*"]
    lines += [f"• {escape(_clip(terminal.one_line(e), 200))}" for e in entries[:shown]]
    if _unshown(entries, total, shown):
        lines.append(f"… and {_unshown(entries, total, shown)} more")
    return "\n".join(lines)


def _fallback(event: Event) -> str:
    summary = terminal.one_line(event.summary)
    label = LABELS[event.kind]
    text = summary if summary.startswith(f"{label}:") else f"{label}: {summary}"
    return escape(_clip(text, 300))


def slack_message(event: Event, shown: int = SHOWN) -> dict[str, Any]:
    """A Block Kit message: header, summary, removed/added, context; ``text`` as fallback."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{LABELS[event.kind]}: {terminal.one_line(event.name)}", 150),
            },
        },
        # The summary is clipped on its own, so however long a page makes it (a redirect
        # target is page-controlled), the link to the page stays in the message.
        _section(
            f"{_EMOJI[event.kind]} {_clip(escape(terminal.one_line(event.summary)), 1500)}\n"
            f"{_clip(_link(event.url), 1200)}"
        ),
    ]
    if listing := _parent_line(event):
        blocks.append(_section(f"From {_clip(escape(listing), 1200)}"))
    for title, entries, total in counted_lists(event):
        if total:
            blocks.append(_section(_bullets(title, entries, total, shown)))
    if seen := visual_line(event):
        blocks.append(_section(escape(seen) + "."))
    context = [f"Detected {escape(event.detected_at)}"]
    if event.previous and event.previous.evidence:
        context.append(f"before: {escape(event.previous.evidence)}")
    if event.current and event.current.evidence and event.kind != "error":
        context.append(f"now: {escape(event.current.evidence)}")
    if event.current and event.current.manifest_sha256 and event.kind != "error":
        context.append(f"manifest sha256 {escape(event.current.manifest_sha256)}")
    context += [f"{label.strip()} {escape(where)}" for label, where in _parent_evidence(event)]
    context.append(f"`scrubwatch diff {escape(event.watch)}` · event {event.event_id[:12]}")
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(" · ".join(context), 2900)}],
        }
    )
    return _bounded({"text": _fallback(event), "blocks": blocks})


# More alerts than this arriving together (one run, one queue batch) are posted to Slack
# as one digest: a site scrubbed at once is one message, not a flood.
DIGEST_OVER = 3


def scrubs(events: Sequence[Event]) -> list[tuple[str, list[Event]]]:
    """The discovered children gone together, by parent, each with the parent's headline:
    "Urumqi jobs: 23 of 31 pages gone: A; B; … — all mention Urumqi, none of the 8
    remaining do". Only parents with more than one child gone among ``events``."""
    groups: dict[str, list[Event]] = {}
    for e in events:
        if e.kind == "gone" and e.parent and isinstance(e.parent.get("id"), str):
            groups.setdefault(e.parent["id"], []).append(e)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda e: (e.name, e.watch))  # in the order a reader looks them up
        note = group[-1].parent or {}
        total = max([len(group), *(_count(e.parent, "children") for e in group)])
        removed = {e.watch: set(_words(e.parent, "keywords")) for e in group}
        # Each note counts as remaining the pages not yet concluded when it was made (on
        # AWS, as each went): their intersection is what the best-informed one said.
        said = [set(_words(e.parent, "remaining_keywords")) for e in group]
        remaining = {"rest": set.intersection(*said)}
        names = [terminal.one_line(e.name) for e in group]
        head = f"{terminal.one_line(str(note.get('name') or note.get('id')))}: "
        out.append((head + removal_summary(names, total, removed, remaining), group))
    return out


def _count(note: dict[str, Any] | None, key: str) -> int:
    value = (note or {}).get(key)
    return value if isinstance(value, int) else 0


def _words(note: dict[str, Any] | None, key: str) -> list[str]:
    value = (note or {}).get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _together(events: Sequence[Event]) -> bool:
    """Alerts told as one digest: a burst, or a listing's pages gone together."""
    return len(events) > DIGEST_OVER or bool(scrubs(events))


def _digest_title(events: Sequence[Event]) -> str:
    found = scrubs(events)
    if len(found) == 1 and len(found[0][1]) == len(events):
        return f"scrubwatch: {found[0][0]}"  # one listing scrubbed: its headline says it
    return f"scrubwatch: {len(events)} alerts ({_tally(events)})"


def slack_posts(events: Sequence[Event]) -> list[tuple[dict[str, Any], list[Event]]]:
    """The Slack messages for alerts that arrive together, each with the events it tells
    of: one digest past DIGEST_OVER (it shows or counts every one), or when a listing's
    pages went together, else one each."""
    if _together(events):
        return [(slack_digest(events), list(events))]
    return [(slack_message(e), [e]) for e in events]


def slack_digest(events: Sequence[Event], shown: int = 3) -> dict[str, Any]:
    """One message for a burst (a whole site scrubbed at once) instead of one per event.

    Every alert is either shown or counted in the closing "... and N more" line.
    """
    title = _digest_title(events)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}}
    ]
    for headline, _ in scrubs(events):
        blocks.append(_section(_clip(f"*{escape(headline)}*", 1500)))
    size = len(title) * 2 + sum(len(b["text"]["text"]) for b in blocks[1:])
    reserve = 200  # room for the closing count
    for i, e in enumerate(events):
        lines = [
            f"{_EMOJI[e.kind]} *{_clip(escape(terminal.one_line(e.summary)), 600)}*",
            _clip(_link(e.url), 600),
        ]
        if e.removed:
            removed = " · ".join(escape(_clip(terminal.one_line(r), 80)) for r in e.removed[:shown])
            unshown = _unshown(e.removed, e.removed_total, shown)
            more = f" … and {unshown} more" if unshown else ""
            lines.append(f"Removed: {removed}{more}")
        lines.append(f"`scrubwatch diff {escape(e.watch)}`")
        section = _section("\n".join(lines))
        cost = len(section["text"]["text"])
        if len(blocks) >= SLACK_BLOCKS - 1 or size + cost + reserve > SLACK_TOTAL:
            blocks.append(_section(f"… and {len(events) - i} more alerts"))
            break
        blocks.append(section)
        size += cost
    return {"text": escape(title), "blocks": blocks}


def _size(message: dict[str, Any]) -> int:
    total = len(message["text"])
    for block in message["blocks"]:
        text = block.get("text", {}).get("text", "")
        total += len(text) + sum(len(e.get("text", "")) for e in block.get("elements", []))
    return total


def _bounded(message: dict[str, Any]) -> dict[str, Any]:
    """Drops trailing list sections until the whole message is under SLACK_TOTAL."""
    blocks = message["blocks"][:SLACK_BLOCKS]
    message = {**message, "blocks": blocks}
    while _size(message) > SLACK_TOTAL and len(blocks) > 3:
        del blocks[-2]  # keep the header, the summary and the closing block
        message["blocks"] = blocks
    return message


# An email digest stays far under SNS's 256 KB message (bytes: Chinese text is three of
# them a character), whatever each alert carries.
EMAIL_DIGEST_BYTES = 100_000


def email_posts(events: Sequence[Event]) -> list[tuple[str, str, list[Event]]]:
    """The emails (subject, body) for alerts that arrive together, each with the events it
    tells of: one digest past DIGEST_OVER or for a listing's pages gone together, as for
    Slack, else one each."""
    if _together(events):
        title, body = email_digest(events)
        return [(title, body, list(events))]
    return [(subject(e), email_text(e), [e]) for e in events]


def _tally(events: Sequence[Event]) -> str:
    counts: dict[str, int] = {}
    for e in events:
        counts[LABELS[e.kind]] = counts.get(LABELS[e.kind], 0) + 1
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))


def email_digest(events: Sequence[Event], limit: int = EMAIL_DIGEST_BYTES) -> tuple[str, str]:
    """One email for a burst: every alert's summary first, then each alert in full for as
    long as the digest stays under ``limit`` bytes of UTF-8; the rest are counted."""
    title = _clip(_digest_title(events), 99)
    lines = [_clip(headline, 2000) for headline, _ in scrubs(events)]
    lines += [*([""] if lines else []), f"{len(events)} alerts arrived together:", ""]
    lines += [f"  - {_clip(terminal.one_line(e.summary), 300)}" for e in events[: SHOWN * 10]]
    if len(events) > SHOWN * 10:
        lines.append(f"  ... and {len(events) - SHOWN * 10} more")
    body = "\n".join(lines) + "\n"
    size = len(body.encode())
    for i, event in enumerate(events):
        block = f"\n{'=' * 60}\n{email_text(event)}"
        cost = len(block.encode())
        if size + cost > limit:
            body += f"\n{'=' * 60}\n... and {len(events) - i} more alerts in full: "
            body += "scrubwatch history <watch> shows each.\n"
            break
        body += block
        size += cost
    return title, body
