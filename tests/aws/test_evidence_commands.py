"""history, export and verify against a deployed stack (moto): DynamoDB and S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrubwatch.cli.main import main

from .support import Stack, name_stack


def test_history_export_and_verify_from_the_stack(
    deployed: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "notice-a", "--json", *deployed]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in rows] == [200, 404]
    assert all(r["evidence"].startswith("s3://") for r in rows)

    assert main(["verify", "notice-a", *deployed]) == 0
    bundle = tmp_path / "bundle"
    assert main(["export", "notice-a", str(bundle), *deployed]) == 0
    assert len(list(bundle.glob("*.manifest.json"))) == 2
    assert main(["verify", str(bundle)]) == 0


def test_a_changed_object_in_the_bucket_is_caught(
    aws: Stack, deployed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    [key] = [k for k in aws.object_keys("evidence/notice-a/") if k.endswith(".txt")][:1]
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"we never had that page\n")
    assert main(["verify", "notice-a", *deployed]) == 3
    assert "SHA-256 differs" in capsys.readouterr().err


def test_a_stack_name_finds_bucket_and_table(
    aws: Stack, deployed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name_stack(aws)
    assert main(["history", "notice-a", "--stack", "scrubwatch"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
