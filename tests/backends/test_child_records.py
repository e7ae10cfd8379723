"""A page's record has two writers (issue 13): its listing's look and its own check. Each
writes only the fields it changed, so one never undoes the other, in SQLite and DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from scrubwatch.backends.aws import DynamoStateStore
from scrubwatch.backends.local import SqliteStateStore
from scrubwatch.check.ports import Commit
from scrubwatch.core.decide import WatchState
from scrubwatch.core.discover import Child, ChildWrite

PAGE = Child(
    id="jobs/0123456789ab",
    parent="jobs",
    url="https://careers.example.com/jobs/1001",
    name="Engineer 1001",
    first_linked="2026-12-06T03:00:00.000Z",
)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def stores(tmp_path: Path, dynamodb: Any) -> list[Any]:
    return [SqliteStateStore(tmp_path / "state.sqlite3"), DynamoStateStore("t", dynamodb)]


def commit(store: Any, watch: str, *writes: ChildWrite) -> None:
    state = store.load([watch])[watch]
    assert store.commit([Commit(state=replace(state, last_checked=1.0), children=writes)]) == []


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_a_page_checked_while_its_listing_unlinked_it_keeps_both(
    backend: str, tmp_path: Path, dynamodb: Any
) -> None:
    store = stores(tmp_path, dynamodb)[0 if backend == "sqlite" else 1]
    commit(store, "jobs", ChildWrite(PAGE))
    # Both start from the same record: the listing unlinks the page while the page's own
    # check (in another run, or another Lambda) notes its keywords.
    unlinked = replace(PAGE, linked=False, unlinked_at="2026-12-06T04:00:00.000Z")
    checked = replace(PAGE, seen=True, keywords=("Urumqi",))
    commit(store, "jobs", ChildWrite.of(PAGE, unlinked))
    commit(store, PAGE.id, ChildWrite.of(PAGE, checked))

    (stored,) = store.children(["jobs"])["jobs"]

    assert not stored.linked and stored.unlinked_at == "2026-12-06T04:00:00.000Z"
    assert stored.seen and stored.keywords == ("Urumqi",)
    assert stored == replace(unlinked, seen=True, keywords=("Urumqi",))
    assert isinstance(store.load(["jobs"])["jobs"], WatchState)
