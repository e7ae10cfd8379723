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
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.config import Watchlist
from ..core.contact import Contact, targets
from ..core.events import Event, rfc3339
from ..core.reader import Reading
from ..core.timeline import Capture, Kept, Story, story
from ..evidence.verify import Report, verify_contacts, verify_folder
from .archive import Archive, archive_for, configured_cas
from .state_folder import UsageError

REPORT_FILES = ("report.html", "report.md")


def add_parser(
    sub: Any, common: argparse.ArgumentParser, deployed: argparse.ArgumentParser
) -> None:
    report = sub.add_parser(
        "report",
        parents=[common, deployed],
        help="a self-contained HTML page (and Markdown) of what was kept, changed and removed",
    )
    report.add_argument("target", nargs="?", default="all", help="a watch id, a tag, or all")
    span = report.add_mutually_exclusive_group()
    span.add_argument("--since", metavar="TIME", help="from this time on: 2026-12-01T00:00Z")
    span.add_argument("--contact", metavar="ID", help="around a contact: its watches, from it on")
    report.add_argument(
        "-o", "--output", dest="dir", type=Path, required=True, help="folder to write it in"
    )


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: not a time; write it as 2026-12-01T00:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--since {text!r}: say its time zone, e.g. 2026-12-01T00:00Z")
    return rfc3339(moment)


def _span(
    args: argparse.Namespace, watchlist: Watchlist, contacts: list[Contact]
) -> tuple[tuple[str, ...], str | None, list[Contact]]:
    """The watches the report is about, from when, and the contacts it shows."""
    if args.contact is None:
        try:
            watches = targets(watchlist, args.target)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return watches, _since(args.since), contacts
    found = [c for c in contacts if c.id == args.contact]
    if not found:
        known = ", ".join(c.id for c in contacts) or "none recorded yet"
        raise UsageError(f"no contact {args.contact!r} (contacts: {known})")
    contact = found[0]
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    return contact.watches, at, [c for c in contacts if c.at >= contact.at]


def _output(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; -o takes a folder")
    taken = [n for n in REPORT_FILES if (target / n).exists()]
    if taken:
        raise UsageError(f"{target} already holds {', '.join(taken)}; give another folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report in {target} ({exc.strerror or exc})") from None


def cmd_report(args: argparse.Namespace, watchlist: Watchlist, root: Path, config: Path) -> int:
    archive = archive_for(args, root)
    contacts = archive.contacts()
    watches, since_at, shown_contacts = _span(args, watchlist, contacts)
    _output(args.dir)
    # Your own evidence: its tokens must be signed under the CAs your watch list names.
    pinned = configured_cas(config) or None
    events = archive.events(_with_pages(archive, watches))
    stories: list[Story] = []
    for watch_id in watches:
        watch = watchlist.get(watch_id)
        head = Story(watch_id, watch.name if watch else watch_id, watch.url if watch else "")
        stories.append(_told(archive, head, events, shown_contacts, since_at, pinned))
        for child in archive.children([watch_id]).get(watch_id, []):
            found = Story(child.id, child.name or child.url, child.url, parent=watch_id)
            told = _told(archive, found, events, shown_contacts, since_at, pinned)
            if told.captures:
                stories.append(told)
    from .report_page import markdown, page_html

    shown = [c for c in shown_contacts if _concerns(c, watches)]
    stamped = _contact_stamps(archive, shown, pinned)

    meta = {
        "made_at": rfc3339(datetime.now(UTC)),
        "version": __version__,
        "where": archive.where(),
        "target": args.contact or args.target,
        "since": since_at,
        "contacts": shown,
        "contact_times": stamped.trusted,
        "contact_problems": stamped.problems,
    }
    _write(args.dir / "report.html", page_html(stories, meta))
    _write(args.dir / "report.md", markdown(stories, meta))
    changes = sum(s.changes for s in stories)
    broken = [s.watch for s in stories if s.verified is False]
    broken += ["the contact records"] if stamped.problems else []
    print(
        f"report of {len(stories)} watch(es) and page(s), {changes} change(s), written to "
        f"{args.dir / 'report.html'} and report.md"
    )
    if broken:
        print(f"scrubwatch: evidence does NOT verify for: {', '.join(broken)} (see the report)")
        return 3
    return 0


def _contact_stamps(
    archive: Archive, contacts: list[Contact], pinned: frozenset[str] | None
) -> Report:
    """The contacts' records checked, with their trusted times (by contact id)."""
    if not contacts:
        return Report()
    folder = archive.folder("contacts")
    if not folder.is_dir():
        return Report(problems=["the contact records are missing"])
    return verify_contacts(folder, pinned)


def _concerns(contact: Contact, watches: tuple[str, ...]) -> bool:
    return any(w in contact.watches for w in watches)


def _with_pages(archive: Archive, watches: tuple[str, ...]) -> set[str]:
    ids = set(watches)
    for children in archive.children(list(watches)).values():
        ids.update(c.id for c in children)
    return ids


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a report cut short by a full disk is no report."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _told(
    archive: Archive,
    head: Story,
    events: list[Event],
    contacts: list[Contact],
    since_at: str | None,
    pinned: frozenset[str] | None,
) -> Story:
    rows = archive.history(head.watch)
    mine = [e for e in events if e.watch == head.watch]
    if not rows:
        return story(head, [], mine, contacts, since_at)
    folder = archive.folder(head.watch)
    checked = verify_folder(
        folder, archive.chain_head(head.watch), {r["version"] for r in rows}, pinned
    )
    head.verified, head.problems, head.versions_verified = (
        checked.ok,
        checked.problems,
        checked.versions,
    )
    kept = [_kept(folder, row, checked) for row in rows]
    return story(head, kept, mine, contacts, since_at)


def _kept(folder: Path, row: dict[str, Any], checked: Report) -> Kept:
    version = str(row["version"])
    manifest_bytes = _read(folder / f"{version}.manifest.json")
    manifest: dict[str, Any] = {}
    if manifest_bytes:
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError:
            manifest = {}
    import hashlib

    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    warc = files.get("warc") if isinstance(files, dict) else None
    capture = Capture(
        version=version,
        fetched_at=str(row["fetched_at"]),
        status=row.get("status"),
        final_url=str(row.get("final_url") or ""),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest() if manifest_bytes else "missing",
        warc_sha256=str(warc.get("sha256")) if isinstance(warc, dict) else None,
        trusted=tuple((when, signer) for when, signer, _ in checked.trusted.get(version, [])),
        wayback=_wayback(folder, version, manifest),
        title=str(manifest.get("title") or ""),
    )
    reading = None
    body = _read(folder / f"{version}.reading.json")
    if body:
        try:
            reading = Reading.from_json(json.loads(body))
        except (ValueError, KeyError, TypeError):
            reading = None
    content = str(row.get("content") or version)
    return Kept(capture, reading, content)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _wayback(folder: Path, version: str, manifest: dict[str, Any]) -> str | None:
    """The Internet Archive's copy of this version: asked during the check (the manifest)
    or after it (on AWS, ``<version>.witness.json``)."""
    witness = manifest.get("witness")
    if isinstance(witness, dict) and witness.get("url"):
        return str(witness["url"])
    body = _read(folder / f"{version}.witness.json")
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("url"):
        return str(answer["url"])
    return None
