"""kill -9 at each step of a check (evidence written, state committed, events delivered),
then the page changes again and the next `check` runs: nothing lost, nothing doubled, and
`verify` finds one intact chain (issue 10, M1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.cli.main import main
from support import Site, page

# Runs the real command line, killing its own process with SIGKILL at the step named by
# the environment: as abrupt as a power cut for this process (no finally, no atexit).
KILLER = """
import os, signal, sys
from scrubwatch.cli import main as cli
from scrubwatch.backends import local as local_store

step = os.environ["DIE_AT"]
store = local_store.SqliteStateStore

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if step == "evidence_written":
    def commit(self, commits):
        die()
    store.commit = commit
elif step == "state_committed":
    real_commit = store.commit
    def commit(self, commits):
        real_commit(self, commits)
        die()
    store.commit = commit
elif step == "events_delivered":
    real_delivered = store.delivered
    def delivered(self, event_ids, channel):
        real_delivered(self, event_ids, channel)
        die()
    store.delivered = delivered
sys.exit(cli.main(sys.argv[1:]))
"""

JOBS = ["Engineer, Urumqi", "Analyst, Urumqi", "Driver"]


def listing(jobs: list[str]) -> str:
    return page("Jobs", "<ul>" + "".join(f"<li>{j}</li>" for j in jobs) + "</ul>")


def check(config: Path, out: Path, die_at: str | None = None) -> int:
    env = {**os.environ, "DIE_AT": die_at or "never"}
    with out.open("a") as sink:
        proc = subprocess.run(
            [sys.executable, "-c", KILLER, "check", "--force", "--json", "-c", str(config)],
            stdout=sink,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    return proc.returncode


@pytest.mark.parametrize("die_at", ["evidence_written", "state_committed", "events_delivered"])
def test_kill_nine_at_each_step_loses_nothing_doubles_nothing_and_keeps_one_chain(
    die_at: str, site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "watchlist.yaml"
    config.write_text(
        "settings: {allow_networks: ['127.0.0.1/32'], retries: 0}\n"
        f"watches:\n  - id: jobs\n    url: {site.url('/jobs.html')}\n    items: li\n"
    )
    out = tmp_path / "events.jsonl"
    site.set("/jobs.html", listing(JOBS))
    assert check(config, out) == 0

    site.set("/jobs.html", listing(JOBS[1:]))  # the first ad goes ...
    assert check(config, out, die_at) == -signal.SIGKILL
    site.set("/jobs.html", listing(JOBS[2:]))  # ... then the second, before the next run
    assert check(config, out) == 0

    events = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    removed = [job for e in events if e["kind"] == "changed" for job in e["removed"]]
    # Every ad that went is reported, each once, whether the killed run's event survived.
    assert sorted(removed) == sorted(JOBS[:2])
    capsys.readouterr()
    assert main(["verify", "jobs", "-c", str(config)]) == 0, capsys.readouterr().err
    # The killed run's uncommitted capture is gone from the folder, not just ignored.
    folder = tmp_path / ".scrubwatch" / "evidence" / "jobs"
    kept = {p.name.removesuffix(".manifest.json") for p in folder.glob("*.manifest.json")}
    history = {row["version"] for row in _history(tmp_path)}
    assert kept == history


def _history(root: Path) -> list[dict[str, str]]:
    from scrubwatch.backends.local import SqliteStateStore

    store = SqliteStateStore(root / ".scrubwatch" / "state.sqlite3", readonly=True)
    try:
        return store.history("jobs")
    finally:
        store.close()


def test_a_committed_capture_is_never_removed_as_a_fork(tmp_path: Path) -> None:
    from scrubwatch.backends.local import FolderEvidenceStore
    from scrubwatch.evidence.build import Evidence

    def put(store: FolderEvidenceStore, version: str) -> None:
        evidence = Evidence(warc_gz=b"warc", text=version, reading_json=b"{}")
        store.put("w", version, evidence, json.dumps({"prev_manifest_sha256": None}).encode())

    committed = {"v1"}
    store = FolderEvidenceStore(tmp_path, committed=lambda watch: committed)
    put(store, "v1")
    put(store, "v2")  # chains onto the same (no) manifest: v1 is listed, so it stays
    put(store, "v3")  # v2 is not: it goes
    assert sorted(p.name for p in (tmp_path / "w").glob("*.manifest.json")) == [
        "v1.manifest.json",
        "v3.manifest.json",
    ]


def test_evidence_is_flushed_to_disk_before_the_commit_that_names_it(
    site: Site, tmp_path: Path
) -> None:
    from scrubwatch.backends.local import FolderEvidenceStore, SqliteStateStore
    from scrubwatch.check.engine import Engine
    from support import build_watchlist

    order: list[str] = []

    class Evidence(FolderEvidenceStore):
        def sync(self) -> None:
            order.append(f"sync {len(self._unsynced)} files")
            super().sync()

    class State(SqliteStateStore):
        def commit(self, commits: Any) -> list[str]:
            order.append("commit")
            return super().commit(commits)

    site.set("/jobs.html", listing(JOBS))
    watchlist = build_watchlist([{"id": "jobs", "url": site.url("/jobs.html")}])
    state = State(tmp_path / "state.sqlite3")
    Engine(watchlist, state, Evidence(tmp_path / "evidence"), workers=1).run(force=True)
    state.close()

    assert order[:2] == ["sync 4 files", "commit"]
