"""`export` writes replay.wacz beside the evidence (issue 14, part 4): the reference
validator accepts it, ReplayWeb.page gets one page per version, and `verify` fails when
the replay's WARCs are not the bundle's own."""

from __future__ import annotations

import hashlib
import json
import warnings
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


def test_a_replay_holding_a_warc_twice_or_none_fails_verify(site: Site, tmp_path: Path) -> None:
    bundle = exported(site, tmp_path)
    replay = bundle / "replay.wacz"
    with zipfile.ZipFile(replay) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    first = sorted(n for n in members if n.startswith("archive/"))[0]

    for tampered in ("twice", "none"):
        with zipfile.ZipFile(replay, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": what this test makes
            for name, data in members.items():
                if tampered == "none" and name.startswith("archive/"):
                    continue
                if tampered == "twice" and name == first:
                    zf.writestr(name, b"not this evidence")  # read first by no one
                zf.writestr(name, data)
        done = run_cli("verify", str(bundle), cwd=tmp_path)
        assert done.returncode == 3, tampered
        said = "holds a WARC twice" if tampered == "twice" else f"lacks {first[8:]}"
        assert f"replay.wacz: {said}" in done.stderr, done.stderr


def test_damaged_evidence_is_still_exported_and_verify_names_it(site: Site, tmp_path: Path) -> None:
    write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    (warc,) = (tmp_path / ".scrubwatch" / "evidence" / "careers").glob("*.warc.gz")
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))

    done = run_cli("export", "careers", "bundle", cwd=tmp_path)

    assert done.returncode == 0 and "replay.wacz not written" in done.stderr
    assert (tmp_path / "bundle" / "SHA256SUMS").exists()
    checked = run_cli("verify", "bundle", cwd=tmp_path)
    assert checked.returncode == 3 and warc.name in checked.stderr


def test_a_bundle_that_cannot_be_written_is_one_line(site: Site, tmp_path: Path) -> None:
    write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    (tmp_path / "afile").write_text("")

    done = run_cli("export", "careers", "afile/bundle", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr.startswith("scrubwatch: cannot write the bundle: afile/bundle: ")
    assert len(done.stderr.splitlines()) == 1


def test_the_contacts_that_concern_a_watch_go_with_its_bundle(site: Site, tmp_path: Path) -> None:
    write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    said = run_cli("contact", "careers", "--note", "asked HR", cwd=tmp_path)
    assert said.returncode == 0, said.stderr
    run_cli("contact", "rd-map", "--note", "not this one", cwd=tmp_path)

    assert run_cli("export", "careers", "bundle", cwd=tmp_path).returncode == 0

    bundle = tmp_path / "bundle"
    (record,) = (bundle / "contacts").glob("c-*.json")
    assert json.loads(record.read_text())["note"] == "asked HR"
    assert f"contacts/{record.name}" in (bundle / "SHA256SUMS").read_text()
    assert run_cli("verify", "bundle", cwd=tmp_path).returncode == 0
    history = json.loads((bundle / "history.json").read_text())
    assert all(not row["evidence"].startswith("file:") for row in history)
    record.write_text(record.read_text().replace("asked HR", "asked nobody"))
    broken = run_cli("verify", "bundle", cwd=tmp_path)
    assert broken.returncode == 3
    assert f"contacts/{record.name}: SHA-256 differs from SHA256SUMS" in broken.stderr


def test_verify_of_a_mistyped_folder_says_there_is_none(site: Site, tmp_path: Path) -> None:
    write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", cwd=tmp_path).returncode == 0

    done = run_cli("verify", "./bundel", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr == "scrubwatch: ./bundel: no such folder (nor a watch id)\n"


def test_a_replay_whose_index_or_pages_say_otherwise_fails_verify(
    site: Site, tmp_path: Path
) -> None:
    bundle = exported(site, tmp_path)
    replay = bundle / "replay.wacz"
    with zipfile.ZipFile(replay) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    index = members["indexes/index.cdx"].decode().splitlines()
    # A version's line given another time: ReplayWeb.page would show it as of then.
    key, _, rest = index[0].split(" ", 2)
    swapped = [f"{key} 20000101000000 {rest}", *index[1:]]
    pages = members["pages/pages.jsonl"].decode().replace("/careers.html", "/elsewhere.html", 1)

    for name, data in (
        ("indexes/index.cdx", "\n".join(swapped) + "\n"),
        ("pages/pages.jsonl", pages),
    ):
        with zipfile.ZipFile(replay, "w") as zf:
            for member, body in members.items():
                zf.writestr(member, data if member == name else body)
        done = run_cli("verify", str(bundle), cwd=tmp_path)
        assert done.returncode == 3, name
        said = "the record there is" if name.startswith("indexes") else "which it does not hold"
        assert said in done.stderr, done.stderr
