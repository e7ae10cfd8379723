"""Issue 14's "done when", as a user walks it: `demo --serve` (the demo site and a demo
timestamp authority on 127.0.0.1), a check, a contact, the scrub, the checks that see it,
the report, verify and the exported bundle with its replay file and openssl's own check."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser
from support.command import SCRUBWATCH, run_cli
from support.wacz import wacz_validate


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "proof"
    process = subprocess.Popen(
        [SCRUBWATCH, "demo", "--serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # written once the site listens
        found = re.search(r"site is on (http://127\.0\.0\.1:\d+)/ with a demo timestamp", first)
        assert found, first + (process.stderr.read() if process.poll() is not None else "")
        yield folder, found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "demo site stopped" in out


def test_contact_scrub_report_verify_on_the_demo_site(served: tuple[Path, str]) -> None:
    folder, base = served
    first = run_cli("check", cwd=folder)
    assert first.returncode == 0 and "4 trusted timestamps kept" in first.stdout, first.stdout
    said = run_cli("contact", "all", "--note", "emailed the press office", cwd=folder)
    assert said.returncode == 0 and "4 page(s) checked and kept now" in said.stdout, said.stderr

    assert httpx.get(f"{base}/_demo/scrub").text == "site scrubbed\n"
    assert run_cli("check", "--force", cwd=folder).returncode == 0
    confirmed = run_cli("check", "--force", "--json", cwd=folder)

    gone = [json.loads(x) for x in confirmed.stdout.splitlines() if '"kind":"gone"' in x]
    assert {e["watch"] for e in gone} == {"agency-1002", "eye-9"}
    assert all(e["contact"]["note"] == "emailed the press office" for e in gone)
    made = run_cli("report", "-o", "report", cwd=folder)
    assert made.returncode == 0, made.stdout + made.stderr
    tree = LexborHTMLParser((folder / "report" / "report.html").read_text())
    changes = tree.css("div.entry.change")
    assert len(changes) == 4 and all("after contact c-" in c.text() for c in changes)
    assert "gone" in changes[-1].text() and "verified offline" in changes[-1].text()
    assert "Evidence does NOT verify" not in tree.html
    for watch in ("careers", "rd-map", "agency-1002", "eye-9"):
        assert run_cli("verify", watch, cwd=folder).returncode == 0
    assert run_cli("verify", ".scrubwatch/evidence/contacts", cwd=folder).returncode == 0

    assert run_cli("export", "careers", "bundle", cwd=folder).returncode == 0
    bundle = folder / "bundle"
    assert wacz_validate(bundle / "replay.wacz").returncode == 0
    token = sorted(bundle.glob("*.tsr"))[-1]
    (ca,) = bundle.glob("tsa-*.pem")
    manifest = bundle / f"{token.name.split('.')[0]}.manifest.json"
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-in", token, "-data", manifest, "-CAfile", ca],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr


def test_serve_refuses_a_folder_it_did_not_make_and_a_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")

    taken = run_cli("demo", "--serve", "mine", cwd=tmp_path)

    assert taken.returncode == 2
    assert "demo --serve mine: give a new or empty folder" in taken.stderr
    with subprocess.Popen(
        [SCRUBWATCH, "demo", "--serve", "a", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    ) as first:
        assert first.stdout is not None
        port = re.search(r":(\d+)/", first.stdout.readline())
        assert port
        busy = run_cli("demo", "--serve", "b", "--port", port.group(1), cwd=tmp_path)
        first.send_signal(signal.SIGINT)
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port.group(1)}" in busy.stderr


def test_a_restarted_site_is_as_it_was_left(tmp_path: Path) -> None:
    def serve() -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(
            [SCRUBWATCH, "demo", "--serve", "proof", "--port", "0"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        assert found
        return process, found.group(1)

    first, base = serve()
    with first:
        assert httpx.get(f"{base}/_demo/scrub").status_code == 200
        first.send_signal(signal.SIGINT)
    second, base = serve()
    with second:
        careers = httpx.get(f"{base}/careers.html").text
        second.send_signal(signal.SIGINT)
    assert "Optical Engineer" in careers and "Urumqi" not in careers
