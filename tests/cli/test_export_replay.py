"""`export` writes replay.wacz beside the evidence (issue 14, part 4): the reference
validator accepts it, ReplayWeb.page gets one page per version, and `verify` fails when
the replay's WARCs are not the bundle's own."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from support import Site
from support.command import jobs, run_cli, write_watchlist
from support.wacz import wacz_validate


def exported(site: Site, tmp_path: Path) -> Path:
    write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    site.set("/careers.html", jobs(["Optical Engineer"]))
    assert run_cli("check", "--force", cwd=tmp_path).returncode == 0
    done = run_cli("export", "careers", "bundle", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "bundle"


def test_the_bundle_replays_every_version_and_validates(site: Site, tmp_path: Path) -> None:
    bundle = exported(site, tmp_path)

    checked = wacz_validate(bundle / "replay.wacz")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(bundle / "replay.wacz") as zf:
        held = sorted(n for n in zf.namelist() if n.startswith("archive/"))
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()[1:]]
    assert held == sorted(f"archive/{p.name}" for p in bundle.glob("*.warc.gz"))
    assert len(pages) == 2 and {p["url"] for p in pages} == {site.url("/careers.html")}
    assert "replay.wacz" in (bundle / "SHA256SUMS").read_text()
    assert "ReplayWeb.page" in (bundle / "README.txt").read_text()
    assert run_cli("verify", str(bundle), cwd=tmp_path).returncode == 0


def test_a_replay_that_differs_from_the_evidence_fails_verify(site: Site, tmp_path: Path) -> None:
    bundle = exported(site, tmp_path)
    replay = bundle / "replay.wacz"
    with zipfile.ZipFile(replay) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    first = sorted(n for n in members if n.startswith("archive/"))[0]
    # Another version's WARC under this one's name: still a WARC, not this evidence.
    other = sorted(n for n in members if n.startswith("archive/"))[1]
    members[first] = members[other]
    with zipfile.ZipFile(replay, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    # SHA256SUMS made to agree: only the replay's own check can catch it.
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256(replay.read_bytes()).hexdigest()
    fixed = [f"{digest}  replay.wacz" if line.endswith("  replay.wacz") else line for line in sums]
    (bundle / "SHA256SUMS").write_text("\n".join(fixed) + "\n")

    done = run_cli("verify", str(bundle), cwd=tmp_path)

    assert done.returncode == 3
    assert f"replay.wacz: its {first.removeprefix('archive/')} differs from the one here" in (
        done.stderr
    )
