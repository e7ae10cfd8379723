"""The AWS backend: watch state and history in DynamoDB, evidence in S3.

Same interfaces as the local backend, so the engine is the same code on both. One table:

- ``pk = W#<watch>``, ``sk = STATE``: the state (zlib-compressed JSON), ``rev`` and
  ``last_checked``;
- ``pk = W#<watch>``, ``sk = V#<fetched_at>#<version>``: one history row per kept version;
- ``pk = S#recheck``, ``sk = <watch>``: the watches waiting for a recheck (a page
  suspected gone, an error not yet confirmed), which the scheduler times from their state;
- ``pk = S#scheduler``, ``sk = TICK``: when the scheduler last ran, and the watch list it saw;
- ``pk = C#<watch>``, ``sk = <child id>``: each page a watch discovered (``record``: a map
  of ``core.discover.Child``'s fields); the child's own state and versions are under
  ``W#<child id>`` like any watch's;
- ``pk = N#<channel>``: the notifier's claims (aws/notify.py).

A check that finds nothing new writes nothing (``settled``): the scheduler times each watch
by its slot (core/due.py), not by its state. A state that moves is one ``UpdateItem``
conditional on the ``rev`` that was read (so two checkers racing on a watch cannot both
win), in one transaction with the history row and the recheck entry when there are any.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..check.ports import Commit, StampDue
from ..core.contact import Contact
from ..core.decide import WatchState, settled
from ..core.discover import Child, ChildWrite
from ..core.due import rechecking
from ..core.events import Event
from ..core.reader import Reading
from ..evidence.build import Evidence
from ..evidence.packed import PARTS, pack, unpack

log = logging.getLogger("scrubwatch")

_SERIALIZE = TypeSerializer()
_DESERIALIZE = TypeDeserializer()
_BATCH_GET = 100  # DynamoDB's limit for BatchGetItem
_BATCH_WRITE = 25  # and for BatchWriteItem
_TRANSACTION = 100  # and items in one transaction


def _state_json(attribute: dict[str, Any]) -> Any:
    """A state as stored: zlib-compressed JSON (binary), or plain JSON (a string) as
    written before states were compressed."""
    if "B" in attribute:
        return json.loads(zlib.decompress(attribute["B"]))
    return json.loads(attribute["S"])


def _record(attribute: dict[str, Any]) -> dict[str, Any]:
    """A page's record as stored: a map, so that each writer sets its own fields."""
    data: dict[str, Any] = _DESERIALIZE.deserialize(attribute)
    return data


def _state_key(watch_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"W#{watch_id}"}, "sk": {"S": "STATE"}}


def _recheck_key(watch_id: str) -> dict[str, Any]:
    return {"pk": {"S": "S#recheck"}, "sk": {"S": watch_id}}


_TICK_KEY = {"pk": {"S": "S#scheduler"}, "sk": {"S": "TICK"}}
_CONTACTS = {"pk": {"S": "S#contact"}}  # one item per contact, its id as sort key


class DynamoStateStore:
    def __init__(
        self, table: str, client: Any = None, consistent: bool = True, remember: bool = True
    ) -> None:
        """``consistent=False``: eventually consistent reads, at half the read cost, where
        a state a second old will do (the scheduler: the checker reads it again).
        ``remember=False``: loaded states are not kept (the scheduler commits nothing)."""
        self.table = table
        self.db = client or boto3.client("dynamodb")
        self.consistent = consistent
        self.remember = remember
        # As loaded: a commit that moves nothing that matters is skipped.
        self._read: dict[str, WatchState] = {}

    def load(self, watch_ids: Iterable[str]) -> dict[str, WatchState]:
        ids = list(dict.fromkeys(watch_ids))
        out: dict[str, WatchState] = {}
        for start in range(0, len(ids), _BATCH_GET):
            keys = [_state_key(i) for i in ids[start : start + _BATCH_GET]]
            request: dict[str, Any] = {
                self.table: {"Keys": keys, "ConsistentRead": self.consistent}
            }
            while request:
                reply = self.db.batch_get_item(RequestItems=request)
                for item in reply["Responses"].get(self.table, []):
                    state = WatchState.from_json(_state_json(item["state"]))
                    out[state.watch_id] = WatchState(
                        **{**state.__dict__, "rev": int(item["rev"]["N"])}
                    )
                request = reply.get("UnprocessedKeys") or {}
        for watch_id in ids:
            out.setdefault(watch_id, WatchState(watch_id=watch_id))
        if self.remember:
            self._read.update(out)
        return out

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        stale = []
        for c in commits:
            if not self._apply(c):
                stale.append(c.state.watch_id)
        return stale

    def _apply(self, c: Commit) -> bool:
        state = c.state
        before = self._read.get(state.watch_id)
        if self._quiet(before, c):
            return True
        items: list[dict[str, Any]] = [{"Update": self._state_update(state)}]
        if c.version is not None:
            v = c.version
            row = {
                "pk": {"S": f"W#{state.watch_id}"},
                "sk": {"S": f"V#{v.fetched_at}#{v.version}"},
                "row": {"S": json.dumps(v.__dict__, ensure_ascii=False)},
            }
            items.append({"Put": {"TableName": self.table, "Item": row}})
        # A watch waiting for a recheck is (again) put on the list with every commit (its
        # state moves at each check anyway), so one that waited since before the list
        # existed joins it too; it leaves the list when it stops waiting.
        key = _recheck_key(state.watch_id)
        if rechecking(state):
            items.append({"Put": {"TableName": self.table, "Item": key}})
        elif before is None or rechecking(before):
            items.append({"Delete": {"TableName": self.table, "Key": key}})
        records = [self._child_write(w) for w in c.children]
        if len(items) + len(records) <= _TRANSACTION:
            items += records
        else:
            self._write_children(records)
        written = self._write(items)
        if written:
            self._read[state.watch_id] = WatchState(**{**state.__dict__, "rev": state.rev + 1})
        return written

    @staticmethod
    def _quiet(before: WatchState | None, c: Commit) -> bool:
        """A check that kept nothing, told nothing and moved nothing that matters."""
        if before is None or c.version is not None or c.events or c.children:
            return False
        return before.rev == c.state.rev > 0 and settled(before, c.state)

    def _state_update(self, state: WatchState) -> dict[str, Any]:
        body = json.dumps({**state.to_json(), "rev": state.rev + 1}, ensure_ascii=False)
        # Compressed: about 1.4 KB of JSON (mostly hashes) becomes about 0.7 KB, so a
        # write costs one write unit (1 KB), not two.
        packed = zlib.compress(body.encode(), 6)
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": _state_key(state.watch_id),
            "UpdateExpression": "SET #s = :s, #r = :next, last_checked = :lc",
            "ExpressionAttributeNames": {"#s": "state", "#r": "rev"},
            "ExpressionAttributeValues": {
                ":s": {"B": packed},
                ":next": {"N": str(state.rev + 1)},
                ":lc": {"N": repr(state.last_checked)},
            },
        }
        if state.rev == 0:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            update["ConditionExpression"] = "#r = :rev"
            update["ExpressionAttributeValues"][":rev"] = {"N": str(state.rev)}
        return update

    def _write(self, items: list[dict[str, Any]]) -> bool:
        """One conditional UpdateItem alone (half a transaction's cost), else a transaction;
        False when the state's condition failed (another checker committed first)."""
        try:
            if len(items) == 1:
                self.db.update_item(**items[0]["Update"])
            else:
                self.db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                return False
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons:
                    return False
            raise
        return True

    def children(self, parents: Iterable[str]) -> dict[str, list[Child]]:
        out: dict[str, list[Child]] = {}
        for parent in dict.fromkeys(parents):
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"C#{parent}"}},
                "ConsistentRead": self.consistent,
            }
            found: list[Child] = []
            while True:
                reply = self.db.query(**kwargs)
                found += [Child.from_json(_record(i["record"])) for i in reply["Items"]]
                if "LastEvaluatedKey" not in reply:
                    break
                kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
            out[parent] = found
        return out

    def _child_write(self, write: ChildWrite) -> dict[str, Any]:
        """A page's record as a transaction item: put whole (a new page), or only the
        fields this commit changed set in its map (see ChildWrite: two writers)."""
        child = write.child
        key = {"pk": {"S": f"C#{child.parent}"}, "sk": {"S": child.id}}
        data = child.to_json()
        if write.fields is None:
            item = {**key, "record": _SERIALIZE.serialize(data)}
            return {"Put": {"TableName": self.table, "Item": item}}
        fields = sorted(write.fields) or ["seen"]  # nothing changed: a harmless write
        return {
            "Update": {
                "TableName": self.table,
                "Key": key,
                "UpdateExpression": "SET "
                + ", ".join(f"#r.#f{n} = :v{n}" for n in range(len(fields))),
                "ExpressionAttributeNames": {
                    "#r": "record",
                    **{f"#f{n}": f for n, f in enumerate(fields)},
                },
                "ExpressionAttributeValues": {
                    f":v{n}": _SERIALIZE.serialize(data[f]) for n, f in enumerate(fields)
                },
            }
        }

    def _write_children(self, items: list[dict[str, Any]]) -> None:
        """Writes page records outside the state's transaction (a first look at hundreds
        of pages is more than a transaction's 100 items): before it, and idempotent, so a
        commit that then fails leaves records the next look finds again, not lost ones."""
        puts = [i["Put"]["Item"] for i in items if "Put" in i]
        for start in range(0, len(puts), _BATCH_WRITE):
            request = {self.table: [{"PutRequest": {"Item": i}} for i in puts[start:][:25]]}
            for attempt in range(8):
                reply = self.db.batch_write_item(RequestItems=request)
                request = reply.get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off, then again
            if request:
                raise RuntimeError("DynamoDB left page records unwritten after 8 tries")
        for item in items:
            if "Update" in item:
                self.db.update_item(**item["Update"])

    # No stamps are owed on AWS (see S3EvidenceStore.put_token).
    def stamps_due(self) -> list[StampDue]:
        return []

    def stamp_done(self, due: StampDue) -> None:
        pass

    def stamp_failed(self, due: StampDue, why: str) -> None:
        pass

    def owe_stamps(self, owed: Sequence[StampDue]) -> None:
        pass

    def contacts(self) -> list[Contact]:
        """Every contact recorded (`scrubwatch contact --stack`), oldest first: one query
        of one partition, a few hundred bytes a contact."""
        found: list[Contact] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _CONTACTS["pk"]},
            "ConsistentRead": self.consistent,
        }
        while True:
            reply = self.db.query(**kwargs)
            for item in reply["Items"]:
                try:
                    found.append(Contact.from_json(json.loads(item["record"]["S"])))
                except (KeyError, TypeError, ValueError):
                    log.warning("contact %s is unreadable; left out", item["sk"]["S"])
            if "LastEvaluatedKey" not in reply:
                return sorted(found, key=lambda c: c.at)
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def add_contact(self, contact: Contact) -> None:
        """Once: the same contact recorded again keeps its first record."""
        item = {
            **_CONTACTS,
            "sk": {"S": contact.id},
            "record": {"S": json.dumps(contact.to_json(), ensure_ascii=False)},
        }
        try:
            self.db.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def rechecking(self) -> list[str]:
        """The ids of the watches waiting for a recheck."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "S#recheck"}},
            "ProjectionExpression": "sk",
            "ConsistentRead": self.consistent,
        }
        while True:
            reply = self.db.query(**kwargs)
            ids.extend(item["sk"]["S"] for item in reply["Items"])
            if "LastEvaluatedKey" not in reply:
                return ids
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def last_tick(self) -> tuple[float, str] | None:
        """When the scheduler last ran and the digest of the watch list it saw."""
        item = self.db.get_item(TableName=self.table, Key=_TICK_KEY, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return float(item["at"]["N"]), item["watchlist"]["S"]

    def save_tick(self, at: float, watchlist_digest: str) -> None:
        self.db.put_item(
            TableName=self.table,
            Item={**_TICK_KEY, "at": {"N": repr(at)}, "watchlist": {"S": watchlist_digest}},
        )

    def undelivered(self, channel: str) -> list[Event]:
        # On AWS an event is published before its state commits (see the checker), so no
        # committed event can be undelivered: a failure leaves the state as it was.
        return []

    def delivered(self, event_ids: Iterable[str], channel: str) -> None:
        return None

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :v)",
            "ExpressionAttributeValues": {":pk": {"S": f"W#{watch_id}"}, ":v": {"S": "V#"}},
        }
        while True:
            reply = self.db.query(**kwargs)
            rows.extend(json.loads(item["row"]["S"]) for item in reply["Items"])
            if "LastEvaluatedKey" not in reply:
                return rows
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def close(self) -> None:
        return None


class S3EvidenceStore:
    """``evidence/<watch>/<version>.warc.gz`` in a bucket: one object per version, the WARC
    with the text, the reading and the manifest appended as records (evidence/packed.py),
    so a version costs one PUT, and it is all there or not at all.

    Versions kept before they were packed have four objects (``.warc.gz``, ``.txt``,
    ``.reading.json``, ``.manifest.json``); they are read as they are.
    """

    def __init__(self, bucket: str, client: Any = None, prefix: str = "evidence") -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.s3 = client or boto3.client("s3")
        self._last: tuple[str, dict[str, bytes]] | None = None  # key, parts

    def _key(self, watch_id: str, version: str, suffix: str) -> str:
        return f"{self.prefix}/{watch_id}/{version}{suffix}"

    def uri(self, watch_id: str, version: str) -> str:
        return f"s3://{self.bucket}/{self._key(watch_id, version, '.warc.gz')}"

    # Trusted timestamps are not asked on AWS yet (`validate --for aws` refuses them):
    # a stack keeps no token.
    def put_token(
        self, watch_id: str, version: str, name: str, token: bytes, ca_name: str, ca_pem: bytes
    ) -> None:
        raise NotImplementedError("trusted timestamps are not asked on AWS yet")

    def tokens(self, watch_id: str, version: str) -> dict[str, bytes]:
        return {}

    def put(self, watch_id: str, version: str, evidence: Evidence, manifest: bytes) -> bytes:
        key = self._key(watch_id, version, ".warc.gz")
        if self._head(key):
            # Written by an interrupted attempt at this same step: its manifest stands.
            kept = self.manifest(watch_id, version)
            if kept is not None:
                return kept
        body = pack(
            evidence.warc_gz,
            evidence.text.encode("utf-8"),
            evidence.reading_json,
            manifest,
            watch_id,
            version,
        )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/warc",
            ChecksumAlgorithm="SHA256",
        )
        return manifest

    def _head(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def _get(self, key: str) -> bytes | None:
        try:
            body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return body

    def part(self, watch_id: str, version: str, name: str) -> bytes | None:
        """One of the version's files (``warc``, ``text``, ``reading``, ``manifest``)."""
        key = self._key(watch_id, version, ".warc.gz")
        # Before versions were packed, the files other than the WARC were objects apart.
        apart = None if name == "warc" else self._key(watch_id, version, PARTS[name][0])
        if self._last is None or self._last[0] != key:
            data = self._get(key)
            if data is None:
                return self._get(apart) if apart else None
            # Kept: the manifest, then the reading, of one version are often asked in turn.
            self._last = (key, unpack(data) or {"warc": data})
        parts = self._last[1]
        if name in parts:
            return parts[name]
        return self._get(apart) if apart else None

    def sync(self) -> None:
        """Nothing to do: S3 has an object for good once put_object returns."""

    def reading(self, watch_id: str, version: str) -> Reading | None:
        data = self.part(watch_id, version, "reading")
        return Reading.from_json(json.loads(data)) if data is not None else None

    def manifest(self, watch_id: str, version: str) -> bytes | None:
        return self.part(watch_id, version, "manifest")

    def warc(self, watch_id: str, version: str) -> bytes | None:
        return self.part(watch_id, version, "warc")

    def text(self, watch_id: str, version: str) -> str | None:
        data = self.part(watch_id, version, "text")
        return data.decode("utf-8") if data is not None else None
