"""The closing line of a run: what was found, then whatever did not go as it should."""

from __future__ import annotations

from .report import RunReport
from .terminal import one_line


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# What each kind of event is called in the closing summary: words, not the JSON kinds.
_FOUND = {
    "first_seen": ("page read for the first time", "pages read for the first time"),
    "changed": ("change", "changes"),
    "element_missing": ("part removed", "parts removed"),
    "gone": ("page gone", "pages gone"),
    "restored": ("page back", "pages back"),
    "moved": ("page moved", "pages moved"),
    "error": ("error reported", "errors reported"),
    "children_found": ("watch found its pages", "watches found their pages"),
    "children_added": ("watch found new pages", "watches found new pages"),
    "unlinked": ("page unlinked but online", "pages unlinked but online"),
}


def _found(report: RunReport) -> str:
    kinds: dict[str, int] = {}
    for event in report.events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    return ", ".join(_count(kinds[k], *_FOUND[k]) for k in _FOUND if k in kinds)


def summary(report: RunReport) -> str:
    """The run's closing line: what was found, then whatever did not go as it should."""
    return " ".join(part for part in (_head(report), *_trouble(report), *_delivery(report)) if part)


def _head(report: RunReport) -> str:
    """How many watches were checked, and what was found."""
    found = _found(report)
    trouble = bool(report.failed or report.suspected or report.matched_nothing)
    total = report.checked + report.not_due_count
    if report.not_due_count and not report.checked and not found:
        return (
            f"Checked 0 of {total} watches: none is due yet (scrubwatch status says when;"
            " --force checks them now)."
        )
    of = f"{report.checked} of {total} watches" if report.not_due_count else None
    listed = report.checked - report.pages_checked
    if not of and report.pages_checked:
        # Discovered pages are counted apart: "4 watches" is what the list holds.
        pages = _count(report.pages_checked, "page", "pages")
        of = f"{_count(listed, 'watch', 'watches')} and {pages} they found"
    head = f"Checked {of or _count(report.checked, 'watch', 'watches')} in {report.seconds:.1f}s"
    return f"{head}: {found}." if found else head + ("." if trouble else ": no changes.")


def _who(report: RunReport, watch_id: str) -> str:
    """A watch as the summary names it: its id, and a discovered page's name with it."""
    name = report.names.get(watch_id)
    return f"{watch_id} {one_line(name, 60)!r}" if name else watch_id


def _trouble(report: RunReport) -> list[str]:
    """What did not go as it should: failures, suspicions, selectors that match nothing."""
    reasons = report.failures
    out = []
    if report.failed:
        why = ", ".join(
            f"{_who(report, i)}: {reasons[i]}" if reasons.get(i) else _who(report, i)
            for i in report.failed
        )
        out.append(f"{len(report.failed)} failed ({why}).")
    if report.suspected:
        who = ", ".join(_who(report, i) for i in report.suspected)
        out.append(f"{len(report.suspected)} suspected gone ({who}), not yet confirmed.")
    if report.matched_nothing:
        who = ", ".join(_who(report, i) for i in report.matched_nothing)
        out.append(
            f"{_count(len(report.matched_nothing), 'watch matches', 'watches match')} nothing"
            f" ({who}): check its select/items."
        )
    if report.no_browser:
        out.append(f"Pages with render: browser were not read. {report.no_browser}.")
    if report.failed or report.suspected:
        out.append("See scrubwatch status.")
    out.extend(f"{i} was re-baselined ({why})." for i, why in report.rebaselined.items())
    out.extend(
        f"{i}: its children could not be listed ({why}); nothing concluded of them."
        for i, why in report.discovery_failed.items()
    )
    if report.stamped:
        out.append(f"{_count(report.stamped, 'trusted timestamp', 'trusted timestamps')} kept.")
    out.extend(
        f"No timestamp from {url} ({why}); asked again next run."
        for url, why in report.stamp_failures.items()
    )
    return out


def _delivery(report: RunReport) -> list[str]:
    """Events delivered late, and events not delivered yet."""
    out = []
    if report.delivered_late:
        out.append(
            f"{_count(report.delivered_late, 'event', 'events')} from an earlier run sent now."
        )
    if report.undelivered:
        they = "it" if report.undelivered == 1 else "they"
        out.append(
            f"{_count(report.undelivered, 'event', 'events')} not delivered;"
            f" {they} will be sent on the next run."
        )
    return out
