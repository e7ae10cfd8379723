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
from typing import TYPE_CHECKING, Any

from ..core.config import Watchlist, parse_duration
from ..core.contact import Contact, contact_id, since, targets
from ..core.events import rfc3339
from .state_folder import UsageError

if TYPE_CHECKING:
    from ..backends.aws import DynamoStateStore


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


def _when(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at {text!r}: not a time; write it as 2026-12-06T10:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--at {text!r}: say its time zone, e.g. 2026-12-06T10:00Z")
    return moment.timestamp()


def _duration(option: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: {exc}") from None


def record(args: argparse.Namespace, watchlist: Watchlist, evidence_root: Path) -> Contact:
    """The contact, kept as ``evidence/contacts/<id>.json`` (and its timestamp tokens)."""
    try:
        watches = targets(watchlist, args.target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    at = _when(args.at)
    every = _duration("--every", args.every)
    lasting = _duration("--for", args.lasting)
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
        return contact  # the same contact recorded again: its record (and tokens) stand
    body = {
        "schema": "scrubwatch.contact/1",
        **contact.to_json(),
        "at_utc": rfc3339(datetime.fromtimestamp(at, UTC)),
        "recorded_at": rfc3339(datetime.now(UTC)),
    }
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False))
    return contact


def stamp_record(watchlist: Watchlist, folder: Path, contact: Contact) -> list[str]:
    """Timestamps the contact's record with every authority; what failed, a line each."""
    import httpx

    from ..check.timestamp import StampFailed, load_authorities, stamp

    authorities = [
        a
        for a in load_authorities(watchlist)
        if not (folder / f"{contact.id}.{a.slug}.tsr").exists()  # stamped when first recorded
    ]
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


def said(contact: Contact, checked: int) -> str:
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    until = rfc3339(datetime.fromtimestamp(contact.until, UTC))
    return (
        f"Contact {contact.id} recorded ({at}, {contact.note}): {checked} page(s) checked and "
        f"kept now; {len(contact.watches)} watch(es) checked every {since(contact.every)} "
        f"until {until}, and each later event says how long after the contact it was seen."
    )


def print_said(contact: Contact, checked: int) -> None:
    print(said(contact, checked), file=sys.stdout)


def on_stack(args: argparse.Namespace, watchlist: Watchlist) -> int:
    """The contact recorded in a deployed stack: its record (and timestamp tokens) in the
    evidence bucket, the contact in the table, where the scheduler and the checkers read
    it, and a check message for its watches (and the pages they found) that keeps what
    each says now, however little changed."""
    import tempfile

    import boto3

    from ..backends.aws import DynamoStateStore
    from ..check.timestamp import load_authorities
    from .archive import stack_output

    bucket, table, queue = stack_output(
        args.stack, "EvidenceBucketName", "TableName", "CheckQueueUrl"
    )
    with tempfile.TemporaryDirectory(prefix="scrubwatch-contact-") as held:
        contact = record(args, watchlist, Path(held))
        folder = Path(held) / "contacts"
        failed = stamp_record(watchlist, folder, contact) if load_authorities(watchlist) else []
        s3 = boto3.client("s3")
        _upload(s3, bucket, folder, contact)
    store = DynamoStateStore(table)
    store.add_contact(contact)
    queued = _queue_captures(watchlist, store, contact, queue)
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    until = rfc3339(datetime.fromtimestamp(contact.until, UTC))
    print(
        f"Contact {contact.id} recorded in stack {args.stack} ({at}, {contact.note}): "
        f"{queued} page(s) queued to be checked and kept now; {len(contact.watches)} "
        f"watch(es) checked every {since(contact.every)} (at most as often as the "
        f"scheduler runs) until {until}, and each later alert says how long after the "
        "contact it was seen."
    )
    for line in failed:
        print(f"scrubwatch: the contact's record has {line}", file=sys.stderr)
    return 0


def _upload(s3: Any, bucket: str, folder: Path, contact: Contact) -> None:
    """The record and its tokens, once: a contact recorded again keeps its first record."""
    from botocore.exceptions import ClientError

    key = f"evidence/contacts/{contact.id}.json"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    # The tokens before the record: a record is never there without what stamps it.
    for path in sorted(folder.iterdir(), key=lambda p: p.suffix == ".json"):
        s3.put_object(
            Bucket=bucket,
            Key=f"evidence/contacts/{path.name}",
            Body=path.read_bytes(),
            ChecksumAlgorithm="SHA256",
        )


def _queue_captures(
    watchlist: Watchlist, store: DynamoStateStore, contact: Contact, queue: str
) -> int:
    import boto3

    from ..aws.schedule import batches, pack
    from ..check.children import RunChildren

    watches = [w for w in map(watchlist.get, contact.watches) if w is not None]
    parents = [w.id for w in watches if w.discover is not None]
    if parents:
        kids = RunChildren(watchlist, store.children(parents))
        watches += kids.watches(skip={w.id for w in watches})
    requests = [r.model_copy(update={"capture": True}) for r in pack(watches)]
    sqs = boto3.client("sqs")
    for batch in batches(r.body() for r in requests):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        reply = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        if reply.get("Failed"):
            at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
            raise UsageError(
                f"the check queue refused {len(reply['Failed'])} message(s); the contact is "
                f"recorded: run the same command with --at {at} to queue its captures"
            )
    return len(watches)
