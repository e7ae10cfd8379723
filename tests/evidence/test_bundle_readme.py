"""An exported bundle's README.txt, followed as written with common tools, no scrubwatch:
``sha256sum``, ``grep`` and the ``warcio`` command (installed beside the tests)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scrubwatch.cli.main import main
from support import Site
from support.command import jobs, write_watchlist

# The commands of steps 1 to 3, exactly as the README gives them.
SUMS = "sha256sum -c SHA256SUMS"
WARCS = "warcio check *.warc.gz"
HASHES = "sha256sum *.manifest.json"
NAMES = "grep -H prev_manifest_sha256 *.manifest.json"


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # warcio as `pip install warcio` would put it on PATH: the one in this environment.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bundle(tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    """Three versions of the careers page exported; and the console alert of the last."""
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    for jobs_now in (["Optical Engineer"], ["Optical Engineer", "Buyer, Hangzhou"]):
        site.set("/careers.html", jobs(jobs_now))
        assert main(["check", "--force", "-c", str(config)]) == 0
    alerts = capsys.readouterr().out
    assert main(["export", "careers", str(tmp_path / "bundle"), "-c", str(config)]) == 0
    capsys.readouterr()
    return tmp_path / "bundle", alerts


def test_the_readme_gives_these_commands(bundle: tuple[Path, str]) -> None:
    readme = (bundle[0] / "README.txt").read_text()
    for command in (SUMS, WARCS, HASHES, NAMES):
        assert f"         {command}" in readme or f"&& {command}" in readme, command


def test_every_file_and_warc_checks(bundle: tuple[Path, str]) -> None:
    folder, _ = bundle

    sums = sh(SUMS, folder)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    lines = sums.stdout.splitlines()
    assert lines and all(line.endswith(": OK") for line in lines)
    assert len(lines) == len([p for p in folder.iterdir() if p.name != "SHA256SUMS"])

    warcs = sh(WARCS, folder)
    assert (warcs.returncode, warcs.stdout, warcs.stderr) == (0, "", "")


def test_the_chain_walks_from_head_to_the_oldest_with_sha256sum_and_grep(
    bundle: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, alerts = bundle
    hashes = {}  # manifest file -> its SHA-256
    for line in sh(HASHES, folder).stdout.splitlines():
        digest, name = line.split(maxsplit=1)
        hashes[name] = digest
    names = {}  # manifest file -> the hash it names as the one before (None: the oldest)
    for line in sh(NAMES, folder).stdout.splitlines():
        name, _, rest = line.partition(":")
        found = re.search(r'"prev_manifest_sha256": (null|"([0-9a-f]{64})")', rest)
        assert found, line
        names[name] = found.group(2)
    assert len(hashes) == len(names) == 3

    # "The oldest manifest names null. Every other one names the hash of another manifest
    # here, and each manifest but the newest is named by exactly one other."
    assert list(names.values()).count(None) == 1
    named = [h for h in names.values() if h is not None]
    assert set(named) <= set(hashes.values())
    head = (folder / "HEAD").read_text().strip()
    assert sorted([*named, head]) == sorted(hashes.values())
    # "following the names back from HEAD reaches every manifest, the oldest last."
    by_hash = {digest: name for name, digest in hashes.items()}
    walked, cursor = [], head
    while cursor is not None:
        walked.append(by_hash[cursor])
        cursor = names[by_hash[cursor]]
    assert sorted(walked) == sorted(hashes)
    history = json.loads((folder / "history.json").read_text())
    assert len(history) == 3

    # HEAD is the newest manifest's hash: the one `scrubwatch history` shows for the newest
    # row, and the one the alert about that version printed.
    assert main(["history", "careers", "-c", str(folder.parent / "watchlist.yaml")]) == 0
    newest_row = capsys.readouterr().out.splitlines()[-1]
    assert f"  manifest sha256 {head}  " in newest_row
    assert f"manifest sha256:   {head}" in alerts
