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
