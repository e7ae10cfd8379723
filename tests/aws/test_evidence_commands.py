"""history, export and verify against a deployed stack (moto): DynamoDB and S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrubwatch.backends.aws import S3EvidenceStore
from scrubwatch.cli.main import main
from scrubwatch.evidence.packed import PARTS, pack, unpack

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
    key = aws.object_keys("evidence/notice-a/")[0]
    parts = unpack(aws.get(key))
    assert parts is not None
    version = key.rsplit("/", 1)[1].removesuffix(".warc.gz")
    forged = pack(
        parts["warc"],
        b"we never had that page\n",
        parts["reading"],
        parts["manifest"],
        "x",
        version,
    )
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=forged)
    assert main(["verify", "notice-a", *deployed]) == 3
    assert f"{version}.txt: SHA-256 differs" in capsys.readouterr().err


def test_versions_kept_as_four_objects_still_read_and_verify(
    aws: Stack, deployed: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evidence kept before versions were packed into one object: WARC, text, reading and
    manifest each an object of their own."""
    for key in aws.object_keys("evidence/notice-a/"):
        parts = unpack(aws.get(key))
        assert parts is not None
        stem = key.removesuffix(".warc.gz")
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=parts["warc"])
        for part, (suffix, _) in PARTS.items():
            aws.s3.put_object(Bucket=aws.bucket, Key=stem + suffix, Body=parts[part])
    assert main(["verify", "notice-a", *deployed]) == 0
    bundle = tmp_path / "bundle"
    assert main(["export", "notice-a", str(bundle), *deployed]) == 0
    assert main(["verify", str(bundle)]) == 0
    store = S3EvidenceStore(aws.bucket, aws.s3)
    first = json.loads(aws.history("notice-a")[0]["row"]["S"])["version"]
    assert store.reading("notice-a", first) is not None
    assert store.text("notice-a", first)


def test_a_stack_name_finds_bucket_and_table(
    aws: Stack, deployed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    name_stack(aws)
    assert main(["history", "notice-a", "--stack", "scrubwatch"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
