"""`scrubwatch contact … --stack NAME`: the contact clock on a deployed stack."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import Watchlist
from ..core.contact import Contact, since
from ..core.events import rfc3339
from .contact import record, stamp_record
from .state_folder import UsageError

if TYPE_CHECKING:
    from ..aws.schedule import CheckRequest
    from ..backends.aws import DynamoStateStore

_PREFIX = "evidence/contacts/"


def on_stack(args: argparse.Namespace, watchlist: Watchlist) -> int:
    """The contact recorded in a deployed stack: its record (and timestamp tokens) in the
    evidence bucket, the contact in the table, where the scheduler and the checkers read
    it, and a check message for its watches (and the pages they found) that keeps what
    each says now, however little changed."""
    import boto3

    from ..backends.aws import DynamoStateStore
    from .archive import stack_output

    bucket, table, queue = stack_output(
        args.stack, "EvidenceBucketName", "TableName", "CheckQueueUrl"
    )
    s3 = boto3.client("s3")
    with tempfile.TemporaryDirectory(prefix="scrubwatch-contact-") as held:
        contact, new = record(args, watchlist, Path(held))
        folder = Path(held) / "contacts"
        there = _download(s3, bucket, folder, contact.id)  # recorded before: it stands
        failed = stamp_record(watchlist, folder, contact)  # what was not stamped yet
        _upload(s3, bucket, folder, there)
    store = DynamoStateStore(table)
    store.add_contact(contact)
    queued = _queue_captures(watchlist, store, contact, queue, args.stack)
    at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
    until = rfc3339(datetime.fromtimestamp(contact.until, UTC))
    done = "recorded" if new and not there else "already recorded (its record stands)"
    print(
        f"Contact {contact.id} {done} in stack {args.stack} ({at}, {contact.note}): "
        f"{queued} page(s) queued to be checked and kept now; {len(contact.watches)} "
        f"watch(es) checked every {since(contact.every)} (at most as often as the "
        f"scheduler runs) until {until}, and each later alert says how long after the "
        "contact it was seen."
    )
    for line in failed:
        print(f"scrubwatch: the contact's record has {line}", file=sys.stderr)
    return 0


def _download(s3: Any, bucket: str, folder: Path, contact_id: str) -> set[str]:
    """The contact's record and tokens already in the bucket, over the fresh ones: the
    first record stands. Their names."""
    there: set[str] = set()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{_PREFIX}{contact_id}.")
    for item in listed.get("Contents", []):
        name = item["Key"].removeprefix(_PREFIX)
        if "/" in name or name.startswith("."):
            continue
        (folder / name).write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        there.add(name)
        if name.endswith(".tsr"):  # its authority's CA, for `verify` of the folder
            ca = f"tsa-{name.split('.')[-2]}.pem"
            there.add(ca)
    return there


def _upload(s3: Any, bucket: str, folder: Path, there: set[str]) -> None:
    """What the bucket lacks: the tokens (and CAs) before the record, so a record is never
    there without what stamps it."""
    for path in sorted(folder.iterdir(), key=lambda p: p.suffix == ".json"):
        if path.name in there:
            continue
        s3.put_object(
            Bucket=bucket,
            Key=f"{_PREFIX}{path.name}",
            Body=path.read_bytes(),
            ChecksumAlgorithm="SHA256",
        )


def _queue_captures(
    watchlist: Watchlist, store: DynamoStateStore, contact: Contact, queue: str, stack: str
) -> int:
    import boto3

    from ..aws.schedule import pack, rendered_apart
    from ..check.children import RunChildren
    from .archive import stack_output

    watches = [w for w in map(watchlist.get, contact.watches) if w is not None]
    parents = [w.id for w in watches if w.discover is not None]
    if parents:
        kids = RunChildren(watchlist, store.children(parents))
        watches += kids.watches(skip={w.id for w in watches})
    plain, rendered = rendered_apart(watches)
    sqs = boto3.client("sqs")
    _send_captures(sqs, pack(plain), queue, contact)
    if rendered:
        # A page rendered in a browser is checked by the stack's render function.
        [render_queue] = stack_output(stack, "RenderQueueUrl")
        _send_captures(sqs, pack(rendered), render_queue, contact)
    return len(watches)


def _send_captures(sqs: Any, requests: list[CheckRequest], queue: str, contact: Contact) -> None:
    from ..aws.schedule import batches

    captures = [r.model_copy(update={"capture": True}) for r in requests]
    for batch in batches(r.body() for r in captures):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        reply = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        if reply.get("Failed"):
            at = rfc3339(datetime.fromtimestamp(contact.at, UTC))
            raise UsageError(
                f"the check queue refused {len(reply['Failed'])} message(s); the contact is "
                f"recorded: run the same command with --at {at} to queue its captures"
            )
