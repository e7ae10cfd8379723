"""Watching a site on AWS (issue 13): children found by a checker kept in DynamoDB and S3,
scheduled like listed watches, and a city's ads removed at once told in one digest."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from scrubwatch.aws.app import watchlist as watchlist_now
from scrubwatch.aws.app import with_children
from scrubwatch.aws.schedule import CheckRequest
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.core.discover import child_id
from scrubwatch.core.events import Event
from support import Site, page

from .support import IGNORE_EMPTY_METRICS, LambdaContext, Stack, sample_event
from .test_email_notifier import deliver

pytestmark = IGNORE_EMPTY_METRICS

CITIES = {1001: "Urumqi", 1002: "Urumqi", 1003: "Shenzhen", 1004: "Urumqi", 1005: "Hangzhou"}
URUMQI = (1001, 1002, 1004)


def listing(site: Site, ids: list[int]) -> None:
    items = "".join(
        f'<li class="job"><a href="/jobs/{i}">Engineer {i}, {CITIES[i]}</a></li>' for i in ids
    )
    site.set("/jobs", page("Jobs", f"<ul>{items}</ul>"))


def ads(site: Site) -> None:
    for i, city in CITIES.items():
        site.set(f"/jobs/{i}", page(f"Ad {i}", f'<div id="job">Ad {i}, based in {city}.</div>'))
    listing(site, list(CITIES))


def watches(site: Site) -> list[dict[str, Any]]:
    return [
        {
            "id": "jobs",
            "name": "Jobs",
            "url": site.url("/jobs"),
            "items": "li.job",
            "every": "1h",
            "notify": ["email"],
            "discover": {
                "links": "li.job a",
                "child": {"select": "#job", "every": "6h", "keywords": ["Urumqi"]},
            },
        }
    ]


def kid(site: Site, i: int) -> str:
    return child_id("jobs", site.url(f"/jobs/{i}"))


def check(aws: Stack, handlers: SimpleNamespace, *ids: str) -> None:
    """The checker on one message naming ``ids`` (carrying no watches, as an old or large
    message does: the checker then finds the children in the table)."""
    body = CheckRequest(host="127.0.0.1", watches=ids).body()
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
    messages = aws.receive_all(aws.queue_url)
    reply = handlers.checker.lambda_handler(aws.sqs_event(messages), LambdaContext())
    assert reply == {"batchItemFailures": []}
    for m in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])


def published(aws: Stack) -> list[Event]:
    return [Event.from_json(json.loads(e["Message"])) for e in aws.envelopes()]


def child_records(aws: Stack) -> dict[str, dict[str, Any]]:
    items = aws.ddb.query(
        TableName=aws.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "C#jobs"}},
    )["Items"]
    return {i["sk"]["S"]: TypeDeserializer().deserialize(i["record"]) for i in items}


def test_a_checker_keeps_every_ad_it_finds_in_the_table_and_the_bucket(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> None:
    ads(site)
    watchlist(watches(site))

    aws.tick(handlers)

    records = child_records(aws)
    assert sorted(records) == sorted(kid(site, i) for i in CITIES)
    assert all(r["seen"] and r["linked"] for r in records.values())
    for i in CITIES:
        state = aws.state(kid(site, i))
        assert state["condition"] == "up"
        version = state["current"]["version"]
        assert aws.object_keys(f"evidence/{kid(site, i)}/") == [
            f"evidence/{kid(site, i)}/{version}.warc.gz"
        ]
    assert published(aws) == []  # the first look is a record, never an alert
    # The scheduler sees the pages as watches, none of them waiting for a first check.
    listed, never_checked = with_children(watchlist_now(), DynamoStateStore(aws.table))
    assert {w.id for w in listed.watches} == {"jobs", *(kid(site, i) for i in CITIES)}
    assert never_checked == []


def test_a_city_removed_at_once_is_one_gone_each_and_one_digest_email(
    aws: Stack,
    handlers: SimpleNamespace,
    site: Site,
    watchlist: Callable[..., Any],
    clock: Callable[[float], None],
) -> None:
    ads(site)
    watchlist(watches(site))
    aws.tick(handlers)
    aws.envelopes()
    listing(site, [1003, 1005])
    for i in URUMQI:
        site.pages.pop(f"/jobs/{i}")

    clock(3600)
    check(aws, handlers, "jobs")  # the listing, checked at its slot

    # The listing's own change is kept, not alerted: its pages are the news, once known.
    assert published(aws) == []
    unlinked = {k for k, r in child_records(aws).items() if not r["linked"]}
    assert unlinked == {kid(site, i) for i in URUMQI}
    # The unlinked ads are queued at recheck, not at their 6 h slot.
    clock(3600 + 15 * 60)
    handlers.scheduler.lambda_handler(sample_event("schedule.json"), LambdaContext())
    queued = aws.queued()
    assert unlinked <= set(queued)
    check(aws, handlers, *sorted(unlinked))
    gone = published(aws)
    assert sorted(e.watch for e in gone) == sorted(unlinked)
    for e in gone:
        assert e.kind == "gone" and e.parent is not None
        assert e.parent["id"] == "jobs" and e.parent["keywords"] == ["Urumqi"]
    deliver(aws, handlers)
    (digest,) = aws.emails()  # the three ads: one email, and nothing else
    assert digest["Subject"].startswith("scrubwatch: Jobs: 3 of 5 pages gone: Engineer 100")
    assert "all mention Urumqi, none of the 2 remaining do" in digest["Message"]
    for i in URUMQI:
        assert f"Engineer {i}, Urumqi" in digest["Message"]
    # Each gone is said once: checked again, the ads say nothing more.
    clock(3600 + 30 * 60)
    check(aws, handlers, *sorted(unlinked))
    assert published(aws) == []
