"""What `scrubwatch report` reads back from the evidence: each version's manifest, reading
and trusted times, each watch's evidence verified first, and the contact records checked
against what the state says of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.contact import Contact
from ..core.events import Event
from ..core.reader import Reading
from ..core.timeline import Capture, Kept, Story, story
from ..evidence.verify import Report, verify_contacts, verify_folder
from .archive import Archive


def told(
    archive: Archive,
    head: Story,
    events: list[Event],
    contacts: list[Contact],
    since_at: str | None,
    pinned: frozenset[str] | None,
) -> Story:
    """``head`` with its timeline, its evidence verified."""
    rows = archive.history(head.watch)
    if not rows:
        return story(head, [], events, contacts, since_at)
    folder = archive.folder(head.watch)
    checked = verify_folder(
        folder, archive.chain_head(head.watch), {r["version"] for r in rows}, pinned
    )
    head.verified, head.problems = checked.ok, checked.problems
    head.versions_verified = checked.versions
    kept = [_kept(folder, row, checked) for row in rows]
    return story(head, kept, events, contacts, since_at)


def _manifest(data: bytes | None) -> dict[str, Any]:
    try:
        found = json.loads(data) if data else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}  # a manifest is an object, or nothing


def _kept(folder: Path, row: dict[str, Any], checked: Report) -> Kept:
    version = str(row["version"])
    manifest_bytes = _read(folder / f"{version}.manifest.json")
    manifest = _manifest(manifest_bytes)
    files = manifest.get("files")
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
        screenshot=_has_screenshot(manifest),
    )
    reading = None
    try:
        reading = Reading.from_json(json.loads(_read(folder / f"{version}.reading.json") or b""))
    except (ValueError, KeyError, TypeError, AttributeError):
        reading = None  # missing or unreadable: the change is said to be unavailable
    settings = str(manifest.get("settings_hash") or "")
    return Kept(capture, reading, str(row.get("content") or version), settings)


def _has_screenshot(manifest: dict[str, Any]) -> bool:
    rendered = manifest.get("rendered")
    return isinstance(rendered, dict) and bool(rendered.get("screenshot_sha256"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _wayback(folder: Path, version: str, manifest: dict[str, Any]) -> str | None:
    """The Internet Archive's copy of this version: asked during the check (the manifest)
    or after it (on AWS, ``<version>.witness.json``)."""
    for answer in (manifest.get("witness"), _manifest(_read(folder / f"{version}.witness.json"))):
        if isinstance(answer, dict) and answer.get("url"):
            return str(answer["url"])
    return None


@dataclass
class ContactRecords:
    """The contacts' records as kept (what their tokens stamp), and what is wrong."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    trusted: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def contact_records(
    archive: Archive, contacts: list[Contact], pinned: frozenset[str] | None
) -> ContactRecords:
    """Each contact's record, checked against its tokens and against the state: the
    report shows the record (what was stamped), and says where the two differ."""
    out = ContactRecords()
    if not contacts:
        return out
    folder = archive.folder("contacts")
    checked = verify_contacts(folder, pinned) if folder.is_dir() else Report()
    out.trusted, out.problems = checked.trusted, list(checked.problems)
    for contact in contacts:
        record = _manifest(_read(folder / f"{contact.id}.json"))
        if not record:
            out.problems.append(f"contact {contact.id}: its record is missing or unreadable")
            continue
        said = {k: record.get(k) for k in ("at", "note", "watches")}
        if said != {"at": contact.at, "note": contact.note, "watches": list(contact.watches)}:
            out.problems.append(f"contact {contact.id}: its record differs from the state")
        out.records[contact.id] = record
    return out
