"""Page text printed on a terminal by `show` and `diff` carries no escape sequence or
control character from the page (issue 10); piped, it is the page's text as is."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from support import Site, page

EVIL = "Engineer\x1b]0;pwned\x07\x1b[2J\x9b31m\rDriver"
SCRUBWATCH = str(Path(sys.executable).with_name("scrubwatch"))


def on_a_terminal(*args: str, cwd: Path) -> str:
    """Runs scrubwatch with its stdout on a pseudo-terminal; returns what it printed."""
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [SCRUBWATCH, *args], stdout=slave, stderr=subprocess.PIPE, cwd=cwd, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def evil_versions(site: Site, tmp_path: Path) -> Path:
    (tmp_path / "watchlist.yaml").write_text(
        "settings: {allow_networks: ['127.0.0.1/32'], retries: 0}\n"
        f"watches:\n  - id: jobs\n    url: {site.url('/jobs.html')}\n"
    )
    for body in ("<p>Engineer</p>", f"<p>{EVIL}</p>"):
        site.set("/jobs.html", page("Jobs", body))
        proc = subprocess.run([SCRUBWATCH, "check", "--force"], cwd=tmp_path, capture_output=True)
        assert proc.returncode == 0, proc.stderr
    return tmp_path


@pytest.mark.parametrize("command", [["show", "jobs"], ["diff", "jobs"]])
def test_page_text_on_a_terminal_has_no_escapes(command: list[str], evil_versions: Path) -> None:
    printed = on_a_terminal(*command, cwd=evil_versions)
    assert "Driver" in printed
    assert not any(c in printed for c in "\x1b\x07\x9b")


def test_page_text_piped_is_the_pages_own(evil_versions: Path) -> None:
    proc = subprocess.run([SCRUBWATCH, "show", "jobs"], cwd=evil_versions, capture_output=True)
    assert "\x1b]0;pwned" in proc.stdout.decode()
