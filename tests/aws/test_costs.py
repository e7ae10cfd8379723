"""What a tick costs in AWS calls (moto counts them): nothing written when nothing changed.

docs/scaling.md builds its cost model from these counts (bench/aws_calls.py measures them
for 5,000 watches)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from support import Site, page

from .support import IGNORE_EMPTY_METRICS, Stack

pytestmark = IGNORE_EMPTY_METRICS

WATCHES = 50
HOUR = 3600.0
WRITES = ("dynamodb.UpdateItem", "dynamodb.TransactWriteItems")


def listing(n: int, edited: bool = False) -> str:
    return page(f"Ad {n}", f"<main><h1>Ad {n}</h1><p>{'Closed' if edited else 'Open'}.</p></main>")


def test_an_unchanged_tick_writes_nothing_and_a_change_writes_once(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> None:
    for n in range(WATCHES):
        site.pages[f"/ads/{n}.html"] = listing(n)
    watchlist(
        [
            {"id": f"ad-{n}", "url": site.url(f"/ads/{n}.html"), "every": "1h"}
            for n in range(WATCHES)
        ]
    )
    aws.tick(handlers)  # first sight of every page: kept, written
    assert all(aws.state(f"ad-{n}")["condition"] == "up" for n in range(WATCHES))

    clock(HOUR)
    quiet = aws.count_calls()
    aws.tick(handlers)
    assert len(site.seen("/ads/0.html")) == 2  # checked again
    assert {op: quiet[op] for op in WRITES} == dict.fromkeys(WRITES, 0)
    assert quiet["dynamodb.PutItem"] == 1  # the scheduler's own tick, not a watch's
    assert quiet["s3.PutObject"] == quiet["sns.Publish"] == 0

    clock(2 * HOUR)
    site.pages["/ads/3.html"] = listing(3, edited=True)
    changed = aws.count_calls()
    aws.tick(handlers)
    # One transaction (the state, conditional on its rev, and the history row); the
    # evidence; one alert.
    assert changed["dynamodb.TransactWriteItems"] == 1
    assert changed["dynamodb.UpdateItem"] == 0
    assert changed["dynamodb.PutItem"] == 1  # the tick
    assert changed["s3.PutObject"] == 1  # one object per version (evidence/packed.py)
    assert changed["sns.Publish"] == 1
    assert aws.state("ad-3")["_rev"] == 2
    assert aws.state("ad-4")["_rev"] == 1


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names and values."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        [(kind, data)] = value.items()
        size += len(data) if kind == "B" else len(str(data).encode())
    return size


def test_a_state_item_costs_one_write_unit(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    """Under 1 KB, with a realistic state: a version kept, its evidence URI and hashes."""
    site.pages["/ads/7.html"] = listing(7)
    watchlist([{"id": "urumqi-jobs-0007", "url": site.url("/ads/7.html"), "items": "p"}])
    aws.tick(handlers)
    item = aws.state_item("urumqi-jobs-0007")
    assert item is not None and aws.state("urumqi-jobs-0007")["current"] is not None
    assert item_bytes(item) < 1024


def test_a_state_written_before_compression_is_still_read(
    aws: Stack, handlers: SimpleNamespace, site: Site, watchlist: Callable[..., Any]
) -> None:
    import json
    import zlib

    site.pages["/ads/1.html"] = listing(1)
    watchlist([{"id": "ad-1", "url": site.url("/ads/1.html")}])
    aws.tick(handlers)
    item = aws.state_item("ad-1")
    assert item is not None
    item["state"] = {"S": zlib.decompress(item["state"]["B"]).decode()}
    aws.ddb.put_item(TableName=aws.table, Item=item)

    from scrubwatch.backends.aws import DynamoStateStore

    [(watch_id, state)] = DynamoStateStore(aws.table, aws.ddb).load(["ad-1"]).items()
    assert (watch_id, state.condition, state.rev) == ("ad-1", "up", 1)
    assert json.loads(item["state"]["S"])["watch_id"] == "ad-1"
