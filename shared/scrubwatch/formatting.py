"""Readable renderings of an event: an email subject and body (pure)."""

from __future__ import annotations

from .events import Event

LABELS = {
    "first_seen": "NEW",
    "changed": "CHANGED",
    "element_missing": "REMOVED",
    "gone": "GONE",
    "restored": "RESTORED",
    "error": "ERROR",
}
_REASONS = {
    "http_404": "404",
    "http_410": "410",
    "http_451": "451",
    "dns": "domain gone",
    "redirect": "redirected",
    "soft_404": "not-found page",
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def subject(event: Event, limit: int = 99) -> str:
    """``[scrubwatch] GONE: Agency ad 1001 (404)``: one line, under 100 characters."""
    reason = _REASONS.get(event.reason or "", event.reason or "")
    tail = f" ({reason})" if reason and event.kind in ("gone", "error") else ""
    head = f"[scrubwatch] {LABELS[event.kind]}: "
    name = one_line(event.name)
    room = limit - len(head) - len(tail)
    if len(name) > room:
        name = name[: max(room - 1, 1)] + "…"
    return head + name + tail


def _listing(label: str, entries: list[str], shown: int) -> list[str]:
    if not entries:
        return []
    out = [f"{label}:"]
    out.extend(f"  - {one_line(e)}" for e in entries[:shown])
    if len(entries) > shown:
        out.append(f"  ... and {len(entries) - shown} more")
    return [*out, ""]


def email_text(event: Event, shown: int = 10, diff_lines: int = 40) -> str:
    lines = [event.summary, "", f"Page: {event.url}", f"When: {event.detected_at} (UTC)", ""]
    lines += _listing("Removed", event.removed, shown)
    lines += _listing("Added", event.added, shown)
    lines += _listing("Keywords that vanished", event.keywords_removed, shown)
    lines += _listing("Keywords that appeared", event.keywords_added, shown)
    if event.diff:
        diff = event.diff.splitlines()
        lines += ["Diff:", *diff[:diff_lines]]
        if len(diff) > diff_lines:
            lines.append(f"... {len(diff) - diff_lines} more diff lines")
        lines.append("")
    if event.previous and event.previous.evidence:
        lines.append(f"Evidence before: {event.previous.evidence} ({event.previous.fetched_at})")
    if event.current and event.current.evidence:
        lines.append(f"Evidence now:    {event.current.evidence} ({event.current.fetched_at})")
    lines += [
        "",
        f"More: scrubwatch diff {event.watch}",
        f"watch {event.watch} · event {event.event_id}",
    ]
    return "\n".join(lines) + "\n"
