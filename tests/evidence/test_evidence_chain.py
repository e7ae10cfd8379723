"""Evidence you can cite: manifests chained per watch, verify, export, show."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from scrubwatch.cli.main import main
from support import NOT_FOUND, Page, Site, page

WARCIO = str(Path(sys.executable).with_name("warcio"))


@pytest.fixture
def three_versions(site: Site, tmp_path: Path) -> Path:
    """A watch whose job list loses an item, then whose page is deleted: three versions."""
    config = tmp_path / "watchlist.yaml"
    config.write_text(
        "settings: {allow_networks: ['127.0.0.1/32'], confirm_gone: 1, retries: 0}\n"
        f"watches:\n  - id: jobs\n    url: {site.url('/jobs.html')}\n    items: li.job\n"
    )
    jobs = '<ul><li class="job">Engineer, Urumqi</li><li class="job">Analyst</li></ul>'
    for answer in (
        Page(page("Jobs", jobs)),
        Page(page("Jobs", jobs.replace('<li class="job">Engineer, Urumqi</li>', ""))),
        NOT_FOUND,
    ):
        site.set("/jobs.html", answer)
        assert main(["check", "--force", "--json", "-c", str(config)]) == 0
    return config


def evidence_dir(config: Path) -> Path:
    return config.parent / ".scrubwatch" / "evidence" / "jobs"


def manifests(folder: Path) -> list[dict[str, object]]:
    found = [json.loads(p.read_text()) for p in folder.glob("*.manifest.json")]
    return sorted(found, key=lambda m: str(m["fetched_at"]))


def test_every_version_has_a_manifest_chained_to_the_one_before(three_versions: Path) -> None:
    folder = evidence_dir(three_versions)
    chain = manifests(folder)
    assert [m["status"] for m in chain] == [200, 200, 404]
    assert chain[0]["prev_manifest_sha256"] is None
    for before, after in itertools.pairwise(chain):
        raw = (folder / f"{before['version']}.manifest.json").read_bytes()
        assert after["prev_manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    last = chain[-1]
    assert last["classification"] == {"kind": "gone", "reason": "http_404"}
    assert str(last["requested_url"]).endswith("/jobs.html")
    assert str(last["fetched_at"]).endswith("Z") and "." in str(last["fetched_at"])
    assert last["ip"] == "127.0.0.1"
    warc = folder / f"{last['version']}.warc.gz"
    files = last["files"]
    assert isinstance(files, dict)
    assert files["warc"]["sha256"] == hashlib.sha256(warc.read_bytes()).hexdigest()
    assert {r["type"] for r in last["warc_records"]} == {"response", "request", "metadata"}  # type: ignore[attr-defined]


def test_verify_passes_on_intact_evidence(
    three_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "jobs", "-c", str(three_versions)]) == 0
    assert ": 3 version(s) verified; chain intact" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".warc.gz", ".txt", ".reading.json", ".manifest.json"])
def test_one_flipped_byte_in_any_file_is_caught(
    three_versions: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence_dir(three_versions)
    middle = manifests(folder)[1]["version"]
    target = folder / f"{middle}{suffix}"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    assert main(["verify", "jobs", "-c", str(three_versions)]) == 3
    assert "BROKEN:" in capsys.readouterr().err


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_deleted_version_is_caught(
    three_versions: Path, which: int, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = evidence_dir(three_versions)
    version = manifests(folder)[which]["version"]
    for path in folder.glob(f"{version}.*"):
        path.unlink()

    assert main(["verify", "jobs", "-c", str(three_versions)]) == 3
    err = capsys.readouterr().err
    assert "broken link" in err or "newest manifest" in err or "ends" in err


def test_export_is_verifiable_without_scrubwatch(three_versions: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert main(["export", "jobs", str(bundle), "-c", str(three_versions)]) == 0
    assert (bundle / "README.txt").read_text().count("sha256sum -c SHA256SUMS") == 1
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True)
    assert check.returncode == 0, check.stdout
    warcs = sorted(str(p) for p in bundle.glob("*.warc.gz"))
    assert len(warcs) == 3
    assert subprocess.run([WARCIO, "check", *warcs], capture_output=True).returncode == 0
    assert main(["verify", str(bundle)]) == 0
    # Each history row names its capture's file in the bundle, and the files can be read
    # by whoever the bundle is handed to.
    rows = json.loads((bundle / "history.json").read_text())
    assert all((bundle / row["warc"]).is_file() for row in rows)
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in bundle.glob("*.warc.gz"))

    # A flipped byte in the bundle is caught too, naming the file.
    text = sorted(bundle.glob("*.txt"))
    victim = next(p for p in text if p.name != "README.txt" and b"Analyst" in p.read_bytes())
    victim.write_bytes(victim.read_bytes().replace(b"Analyst", b"Analyzt"))
    assert main(["verify", str(bundle)]) == 3


def test_export_refuses_a_folder_in_use(three_versions: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    assert main(["export", "jobs", str(tmp_path / "busy"), "-c", str(three_versions)]) == 2
    assert (tmp_path / "busy" / "x").read_text() == "keep me"


def test_show_text_html_and_headers(
    three_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = manifests(evidence_dir(three_versions))[0]["version"]
    config = str(three_versions)
    assert main(["show", "jobs", "--version", str(first)[:10], "-c", config]) == 0
    assert "Engineer, Urumqi" in capsys.readouterr().out
    assert main(["show", "jobs", "--version", str(first)[:10], "--html", "-c", config]) == 0
    assert '<li class="job">Engineer, Urumqi</li>' in capsys.readouterr().out
    assert main(["show", "jobs", "--headers", "-c", config]) == 0
    assert capsys.readouterr().out.split("\r\n")[0].split(" ")[1] == "404"


def test_reading_commands_do_not_create_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["history", "x"], ["verify", "x"], ["show", "x"], ["diff", "x"]):
        assert main([*command, "--state", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none").exists()
