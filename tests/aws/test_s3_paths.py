"""Issue 10 M7: evidence read from a stack is saved under names its S3 keys cannot steer.

Whoever can write to the bucket picks the keys. An object whose key, after the watch's
prefix, is anything but a plain file name is skipped with a warning, never written;
the honest files are still downloaded, exported and verified.

The archive's temporary folder is made a few levels down in the test's own folder, so a
key that escapes it (run against code without the check: the tests run as any user,
root included) still lands inside the test's folder, where the tests look for it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from scrubwatch.cli.archive import AwsArchive
from scrubwatch.cli.main import main

from .support import Stack

HONEST = {"0a1b.txt": b"the page's text\n", "0a1b.manifest.json": b"{}\n"}

HOSTILE = {
    "parent folders": "../../escape.txt",
    "sub folder": "sub/x",
    "nothing": "",
    "dot": ".",
    "dot dot": "..",
    "hidden": ".hidden",
    "backslash": "a\\b",
    "NUL": "nul\x00x",
    "newline": "forged\nline",
    "DEL": "del\x7f",
    "colon": "C:evil",
    "too long": "x" * 300,
}


@pytest.fixture
def downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the archive's temporary folders are made: three levels inside tmp_path."""
    where = tmp_path / "a" / "b" / "c"
    where.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def put(aws: Stack, key: str, body: bytes = b"planted\n") -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=body)


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_key_that_is_not_a_plain_file_name_is_skipped(
    aws: Stack, downloads: Path, tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    for honest, body in HONEST.items():
        put(aws, f"evidence/w/{honest}", body)
    put(aws, f"evidence/w/{name}")

    archive = AwsArchive(aws.bucket, aws.table)  # its folder lasts as long as it does
    folder = archive.folder("w")

    assert files_under(tmp_path) == {folder / honest for honest in HONEST}
    assert all((folder / n).read_bytes() == body for n, body in HONEST.items())
    assert repr(f"evidence/w/{name}") in caplog.text


def test_a_key_naming_an_absolute_path_is_skipped(
    aws: Stack, downloads: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``evidence/w//tmp/…``: joined to a folder, an absolute path replaces it."""
    target = tmp_path / "absolute.txt"
    put(aws, "evidence/w/0a1b.txt")
    put(aws, f"evidence/w/{target}")

    archive = AwsArchive(aws.bucket, aws.table)  # its folder lasts as long as it does
    folder = archive.folder("w")

    assert not target.exists()
    assert files_under(tmp_path) == {folder / "0a1b.txt"}
    assert repr(f"evidence/w/{target}") in caplog.text


def test_a_manifest_name_that_is_not_a_plain_file_name_is_not_read(
    aws: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The name is made from a version read from the table: one with a ``/`` would read
    an object outside the watch's own files."""
    put(aws, "evidence/w/0a1b.manifest.json", b"{}\n")
    put(aws, "evidence/w/other/0a1b.manifest.json", b'{"planted": true}\n')
    archive = AwsArchive(aws.bucket, aws.table)

    assert archive.manifest("w", "0a1b.manifest.json") == b"{}\n"
    assert archive.manifest("w", "other/0a1b.manifest.json") is None
    assert "'evidence/w/other/0a1b.manifest.json'" in caplog.text


def test_export_show_and_verify_skip_planted_keys(
    aws: Stack,
    deployed: list[str],
    downloads: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    honest = aws.object_keys("evidence/notice-a/")
    outside = tmp_path / "absolute.txt"
    for name in ("../../escape.txt", "sub/x", str(outside)):
        put(aws, f"evidence/notice-a/{name}")
    bundle = tmp_path / "bundle"

    assert main(["export", "notice-a", str(bundle), *deployed]) == 0
    assert main(["show", "notice-a", *deployed]) == 0
    assert main(["verify", "notice-a", *deployed]) == 0
    assert main(["verify", str(bundle)]) == 0

    assert not outside.exists()
    assert not any(p.name == "escape.txt" for p in tmp_path.rglob("*"))
    exported = {p.name for p in bundle.iterdir()}
    # Each version's object, unpacked into the files its manifest names.
    files = {
        k.removeprefix("evidence/notice-a/").removesuffix(".warc.gz") + suffix
        for k in honest
        for suffix in (".warc.gz", ".txt", ".reading.json", ".manifest.json")
    }
    assert files <= exported
    assert exported - files == {
        "history.json",
        "HEAD",
        "README.txt",
        "replay.wacz",
        "SHA256SUMS",
    }
    assert "skipping 'evidence/notice-a/sub/x'" in caplog.text
