"""`scrubwatch contact TARGET --note "emailed press office"`: the contact clock (issue 14).

Records the contact as evidence of its own (timestamped when authorities are set), keeps
what every targeted page says right now, then has them checked every `--every` for
`--for`; every later event of theirs says how long after the contact it was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Watchlist, parse_duration
from ..core.contact import Contact, contact_id, since, targets
from ..core.events import rfc3339
from .state_folder import UsageError, given_time

if TYPE_CHECKING:
    pass


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    contact = sub.add_parser(
        "contact",
        parents=[common],
        help="record that the subject was asked for comment, and watch closely from now",
    )
    contact.add_argument("target", help="a watch id, a tag, or all")
    contact.add_argument("--note", required=True, help='what was done: "emailed press office"')
    contact.add_argument("--at", help="when, if not now: 2026-12-06T10:00Z (ISO 8601)")
    contact.add_argument("--every", default="15m", help="how often meanwhile (default 15m)")
    contact.add_argument("--for", dest="lasting", default="14d", help="for how long (14d)")
    contact.add_argument(
        "--stack", help="record it in a deployed stack, whose checkers capture the pages"
    )


# A contact is something done: one given as more than this ahead is a mistyped --at.
_AHEAD_S = 300


def _when(text: str | None) -> float:
    """The contact's time, to the millisecond (its id and every time shown agree)."""
    if text is None:
        return round(time.time(), 3)
    moment = given_time("--at", text)
    if moment.timestamp() > time.time() + _AHEAD_S:
        raise UsageError(f"--at {text!r} is in the future: record a contact once it is made")
    return round(moment.timestamp(), 3)


def _duration(option: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: {exc}") from None


def record(
    args: argparse.Namespace, watchlist: Watchlist, evidence_root: Path
) -> tuple[Contact, bool]:
    """The contact, kept as ``evidence/contacts/<id>.json``, and whether it is new (the
    same contact recorded again keeps its first record, and the tokens that stamp it)."""
    try:
        watches = targets(watchlist, args.target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    at = _when(args.at)
    every = _duration("--every", args.every)
    lasting = _duration("--for", args.lasting)
    if lasting <= every:
        raise UsageError(
            f"--every {args.every} is not shorter than --for {args.lasting}: no closer check "
            "would happen (e.g. --every 15m --for 14d)"
        )
    note = " ".join(args.note.split())
    if not note:
        raise UsageError('--note is empty: say what was done ("emailed press office")')
    contact = Contact(
        id=contact_id(at, note, args.target),
        at=at,
        note=note,
        target=args.target,
        watches=watches,
        every=every,
        until=at + lasting,
    )
    folder = evidence_root / "contacts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{contact.id}.json"
    if path.exists():
        return contact, False
    body = {
        "schema": "scrubwatch.contact/1",
        **contact.to_json(),
        "at_utc": rfc3339(datetime.fromtimestamp(at, UTC)),
        "recorded_at": rfc3339(datetime.now(UTC)),
    }
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False))
    return contact, True


def stamp_record(watchlist: Watchlist, folder: Path, contact: Contact) -> list[str]:
    """Timestamps the contact's record with every authority that has not yet; what failed,
    a line each (asked again at the next `check`)."""
    import httpx

    from ..check.timestamp import StampFailed, load_authorities, stamp

    authorities = [
        a
        for a in load_authorities(watchlist)
        if not (folder / f"{contact.id}.{a.slug}.tsr").exists()
    ]
    if not authorities:
        return []
    data = (folder / f"{contact.id}.json").read_bytes()
    failed: list[str] = []

    async def all_() -> None:
        timeout = watchlist.settings.timestamp.timeout if watchlist.settings.timestamp else 20
        async with httpx.AsyncClient(timeout=timeout, proxy=watchlist.settings.proxy) as client:
            for authority in authorities:
                try:
                    token = await stamp(client, authority, data)
                except StampFailed as exc:
                    failed.append(f"no timestamp from {authority.url} ({exc})")
                    continue
                (folder / f"{contact.id}.{authority.slug}.tsr").write_bytes(token)
                (folder / authority.ca_name).write_bytes(authority.ca_pem)

    asyncio.run(all_())
    return failed


def stamp_owed(watchlist: Watchlist, folder: Path, contacts: list[Contact]) -> list[str]:
    """The contact records an authority has not stamped yet (it was down when they were
    recorded), stamped now; a line for each that still failed."""
    lines = []
    for contact in contacts:
        if (folder / f"{contact.id}.json").exists():
            for why in stamp_record(watchlist, folder, contact):
                lines.append(f"the record of contact {contact.id} has {why}; asked again next run")
    return lines


def said(contact: Contact, new: bool, checked: int, failed: int) -> str:
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    until = rfc3339(datetime.fromtimestamp(contact.until, UTC))
    head = (
        f"Contact {contact.id} recorded ({at}, {contact.note})"
        if new
        else f"Contact {contact.id} ({at}, {contact.note}) was already recorded: its record stands"
    )
    kept = f"{checked - failed} page(s) checked and kept now"
    if failed:
        kept += f", {failed} could not be checked (below: try again once they answer)"
    closer = (
        f"{len(contact.watches)} watch(es) checked every {since(contact.every)} until {until}"
        if contact.until > time.time()
        else f"the closer checks ended at {until}"
    )
    tail = "each later event says how long after the contact it was seen"
    return f"{head}: {kept}; {closer}, and {tail}."


def print_said(contact: Contact, new: bool, checked: int, failed: int) -> None:
    print(said(contact, new, checked, failed), file=sys.stdout)
