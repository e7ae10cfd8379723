"""On AWS the witness's keys come from an SSM SecureString; SNS subjects stay ASCII."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import boto3
import pytest
from scrubwatch.alerts.sns import ascii_subject
from scrubwatch.check.witness import Wayback
from scrubwatch.core.events import Event

from .support import Stack, sample_event


async def _authorization(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> str | None:
    boto3.client("ssm").put_parameter(
        Name="/scrubwatch/wayback", Type="SecureString", Value="acc:sec"
    )
    monkeypatch.delenv("SCRUBWATCH_WAYBACK_ACCESS_KEY", raising=False)
    monkeypatch.setenv("WAYBACK_KEYS_PARAM", "/scrubwatch/wayback")
    witness = Wayback.from_env("http://127.0.0.1:9", 4)
    try:
        return witness.client.headers.get("Authorization")
    finally:
        await witness.aclose()


def test_witness_keys_come_from_ssm(aws: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    assert asyncio.run(_authorization(aws, monkeypatch)) == "LOW acc:sec"


def test_a_name_sns_cannot_carry_gives_way_to_the_watch_id() -> None:
    body = sample_event("sqs-slack.json")["Records"][0]["body"]
    event = dataclasses.replace(Event.from_json(json.loads(body)), name="招聘：乌鲁木齐研发中心")
    subject = ascii_subject(event)
    assert subject.isascii() and "?" not in subject
    assert subject == f"[scrubwatch] GONE: {event.watch} (404)"
