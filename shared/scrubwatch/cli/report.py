"""`scrubwatch report [TARGET] [--since TIME | --contact ID] -o DIR`: a page to publish.

Writes ``report.html`` (one file: no script, no font, no image from anywhere, so it opens
offline and tells no one it was opened) and its Markdown twin ``report.md``: per watch,
a timeline of the versions kept and the events told, each change's before and after,
each version's hashes, trusted times and Internet Archive copy, and the contacts.
Everything is read back from the evidence, and each watch's evidence is verified first:
the report says whether its hashes, chain and timestamps check out.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import Watchlist
from ..core.contact import Contact, targets
from ..core.events import Event, rfc3339
from .state_folder import UsageError, given_time

if TYPE_CHECKING:
    from ..core.timeline import Story
    from .archive import Archive
    from .report_evidence import ContactRecords

# Only the parser is built at every command's start; the rest (the evidence, the chain's
# checks, the templates) is imported when a report is made.

REPORT_FILES = ("report.html", "report.md")


def add_parser(
    sub: Any, common: argparse.ArgumentParser, deployed: argparse.ArgumentParser
) -> None:
    report = sub.add_parser(
        "report",
        parents=[common, deployed],
        help="a self-contained HTML page (and Markdown) of what was kept, changed and removed",
    )
    report.add_argument(
        "target", nargs="?", default="all", help="a watch id, a tag, or all (the default)"
    )
    span = report.add_mutually_exclusive_group()
    span.add_argument("--since", metavar="TIME", help="from this time on: 2026-12-01T00:00Z")
    span.add_argument("--contact", metavar="ID", help="around a contact: its watches, from it on")
    report.add_argument(
        "-o", "--output", dest="dir", type=Path, required=True, help="folder to write it in"
    )


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    moment = given_time("--since", text)
    if moment > datetime.now(UTC):
        raise UsageError(f"--since {text!r} is in the future: nothing was kept after it")
    return rfc3339(moment)


def _span(
    args: argparse.Namespace, watchlist: Watchlist | None, archive: Archive
) -> tuple[tuple[str, ...], str | None, list[Contact]]:
    """The watches the report is about, from when, and the contacts it may show."""
    contacts = archive.contacts()
    if args.contact is None:
        return _watches(args.target, watchlist, archive), _since(args.since), contacts
    if args.target != "all":
        raise UsageError("--contact takes no TARGET: the contact names its watches")
    found = [c for c in contacts if c.id == args.contact]
    if not found:
        known = ", ".join(c.id for c in contacts) or "none recorded yet"
        raise UsageError(f"no contact {args.contact!r} (contacts: {known})")
    contact = found[0]
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    return contact.watches, at, [c for c in contacts if c.at >= contact.at]


def _watches(target: str, watchlist: Watchlist | None, archive: Archive) -> tuple[str, ...]:
    """The watch list's watches TARGET names, and those kept in the state but no longer
    listed (``all``, or named by id): their evidence is reported all the same."""
    listed: tuple[str, ...] = ()
    if watchlist is not None:
        try:
            listed = targets(watchlist, target)
        except ValueError as exc:
            if not archive.history(target):
                raise UsageError(str(exc)) from None
            return (target,)
    elif target != "all" and not archive.history(target):
        raise UsageError(f"no versions kept for {target!r} in {archive.where()}")
    elif target != "all":
        return (target,)
    if target != "all":
        return listed
    kept = [w for w in archive.watch_ids() if w not in listed]
    return (*listed, *kept)


def _output(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; -o takes a folder")
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} is not empty; give a new or empty folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report in {target} ({exc.strerror or exc})") from None


def cmd_report(
    args: argparse.Namespace, watchlist: Watchlist | None, root: Path, config: Path
) -> int:
    from .archive import archive_for, configured_cas
    from .report_evidence import contact_records

    archive = archive_for(args, root)
    watches, since_at, contacts = _span(args, watchlist, archive)
    _output(args.dir)
    # Your own evidence: its tokens must be signed under the CAs your watch list names.
    pinned = configured_cas(config) or None
    stories = _stories(archive, watchlist, watches, contacts, since_at, pinned)
    shown = [c for c in contacts if any(w in c.watches for w in watches)]
    records = contact_records(archive, shown, pinned)
    meta = _meta(args, archive, since_at, shown, records, pinned)
    from .report_page import markdown, page_html
    from .report_pictures import pictures

    try:
        meta["pictures"] = pictures(archive, stories, args.dir)
    except OSError as exc:
        raise UsageError(
            f"cannot write screenshots in {args.dir} ({exc.strerror or exc})"
        ) from None

    _write(args.dir / "report.html", page_html(stories, meta))
    _write(args.dir / "report.md", markdown(stories, meta))
    changes = sum(s.changes for s in stories)
    pages = sum(1 for s in stories if s.parent is not None)
    found = f" and {_count(pages, 'page', 'pages')} they found" if pages else ""
    shots = f", screenshots in {args.dir / 'screenshots'}" if meta["pictures"] else ""
    print(
        f"Report of {_count(len(stories) - pages, 'watch', 'watches')}{found} "
        f"({_count(changes, 'change', 'changes')}) written to {args.dir / 'report.html'} "
        f"and {args.dir / 'report.md'}{shots}"
    )
    broken = [s.watch for s in stories if s.verified is False]
    broken += ["the contact records"] if records.problems else []
    if broken:
        print(f"scrubwatch: evidence does NOT verify for: {', '.join(broken)} (see the report)")
        return 3
    return 0


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _stories(
    archive: Archive,
    watchlist: Watchlist | None,
    watches: tuple[str, ...],
    contacts: list[Contact],
    since_at: str | None,
    pinned: frozenset[str] | None,
) -> list[Story]:
    """Each watch's story, then those of the pages it found with something in the span."""
    from ..core.timeline import Story
    from .report_evidence import told

    children = archive.children(list(watches))
    ids = set(watches) | {c.id for kids in children.values() for c in kids}
    events: dict[str, list[Event]] = {}
    for event in archive.events(ids):
        events.setdefault(event.watch, []).append(event)
    stories: list[Story] = []
    for watch_id in watches:
        watch = watchlist.get(watch_id) if watchlist else None
        head = Story(watch_id, watch.name if watch else watch_id, watch.url if watch else "")
        head.listed = watch is not None or watchlist is None
        mine = events.get(watch_id, [])
        stories.append(told(archive, head, mine, contacts, since_at, pinned))
        for child in children.get(watch_id, []):
            found = Story(child.id, child.name or child.url, child.url, parent=watch_id)
            page = told(archive, found, events.get(child.id, []), contacts, since_at, pinned)
            if page.captures and page.seen_since(since_at):
                stories.append(page)
    return stories


def _meta(
    args: argparse.Namespace,
    archive: Archive,
    since_at: str | None,
    contacts: list[Contact],
    records: ContactRecords,
    pinned: frozenset[str] | None,
) -> dict[str, Any]:
    from .. import __version__
    from .archive import LocalArchive

    local = isinstance(archive, LocalArchive)
    return {
        "made_at": rfc3339(datetime.now(UTC)),
        "version": __version__,
        # Not the folder's path: the report is made to be handed on.
        "where": "a local state folder" if local else archive.where(),
        "alerts_kept": local,  # a stack publishes its alerts and keeps none
        "target": args.contact or ("every watch" if args.target == "all" else args.target),
        "since": since_at,
        "contacts": contacts,
        "contact_records": records.records,
        "contact_times": records.trusted,
        "contact_problems": records.problems,
        "pinned": pinned is not None,
    }


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a report cut short by a full disk is no report."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise UsageError(f"cannot write the report in {path.parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException as exc:
        Path(name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path} ({exc.strerror or exc})") from None
        raise
