"""A disk that takes no more writes during `scrubwatch check` is one line naming the path,
exit 1, no traceback; the next run, with room again, picks up where it stopped.

Two ways to fill a disk for real: a file size limit (RLIMIT_FSIZE, anyone may set it),
under which SQLite's write fails as a "disk I/O error"; and a small tmpfs, truly full
(ENOSPC, SQLite's "database or disk is full"), mounted in a mount namespace of the test's
own, so nothing outside sees it (skipped where namespaces are not allowed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import Site, page
from support.command import SCRUBWATCH

WATCHES = 20


def jobs(site: Site, version: int) -> list[dict[str, object]]:
    watches: list[dict[str, object]] = []
    for i in range(WATCHES):
        items = "".join(f"<li class=job>Job {i}-{j} in Urumqi</li>" for j in range(version, 40))
        site.set(f"/jobs/{i}.html", page(f"Jobs {i}", f"<ul>{items}</ul>"))
        watches.append({"id": f"jobs-{i}", "url": site.url(f"/jobs/{i}.html"), "items": "li"})
    return watches


def write_watchlist(path: Path, site: Site) -> Path:
    settings = {"allow_networks": ["127.0.0.1/32"], "retries": 0}
    path.write_text(yaml.safe_dump({"settings": settings, "watches": jobs(site, 0)}), "utf-8")
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCRUBWATCH_")}


def _check_command(config: Path | str, state: Path | str) -> list[str]:
    return [SCRUBWATCH, "check", "--force", "-c", str(config), "--state", str(state)]


def assert_one_line(code: int, err: str, line: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    assert err.splitlines() == [line]


# --- a file size limit ----------------------------------------------------------------------

# Room for every file a run writes but the write-ahead log of its commit: each evidence
# file is a few KB, SQLite's shared-memory index 32 KB, the commit of twenty changed pages
# with their events well over this.
ROOM = 48 * 1024

# Runs the command with no file allowed to grow past the given size: writes past it fail
# with EFBIG (Python ignores the SIGXFSZ that comes first).
LIMITED = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.argv[2], sys.argv[2:])
"""


def test_a_write_the_disk_refuses_is_one_line_naming_the_database(
    tmp_path: Path, site: Site
) -> None:
    config, state = write_watchlist(tmp_path / "watchlist.yaml", site), tmp_path / "state"
    first = subprocess.run(_check_command(config, state), env=_env(), capture_output=True)
    assert first.returncode == 0, first.stderr
    jobs(site, 10)  # every list loses ten jobs: twenty events to commit

    command = [sys.executable, "-c", LIMITED, str(ROOM), *_check_command(config, state)]
    full = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=120)

    assert_one_line(
        full.returncode,
        full.stderr,
        f"scrubwatch: cannot write {state / 'state.sqlite3'}: disk I/O error; check the "
        "disk's free space, quota and file size limit, and run again",
    )
    again = subprocess.run(
        _check_command(config, state), env=_env(), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("[CHANGED]") == WATCHES


# --- a full tmpfs ---------------------------------------------------------------------------

# Run as `unshare --mount`: a 4 MB tmpfs at argv[1] for the state folder; a first check;
# then the disk filled but for FREE bytes (SQLite's 32 KB shared-memory index and a few
# KB, not the commit); a check; the filler removed; a check again. Prints the three runs.
FREE = 36 * 1024
FILLED = """
import json, os, subprocess, sys
mount_point, free, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount_point], check=True)

def check():
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return {"code": run.returncode, "err": run.stderr}

runs = [check()]
filler = os.path.join(mount_point, "filler")
disk = os.statvfs(mount_point)
with open(filler, "wb") as out:
    out.write(bytes(disk.f_bavail * disk.f_frsize - free))
runs.append(check())
os.remove(filler)
runs.append(check())
print(json.dumps(runs))
"""


def _unshare() -> list[str]:
    """How to run a command in a mount namespace of its own, or skip the test."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare")
    for command in ([unshare, "--mount"], [unshare, "--mount", "--map-root-user"]):
        if subprocess.run([*command, "true"], capture_output=True).returncode == 0:
            return command
    pytest.skip("mount namespaces are not allowed here")


def test_a_full_disk_is_one_line_naming_the_database(tmp_path: Path, site: Site) -> None:
    unshare = _unshare()
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    disk = tmp_path / "disk"
    disk.mkdir()
    state = disk / "state"
    # The same pages again: nothing new to keep as evidence, only the states to commit.
    command = [*unshare, sys.executable, "-c", FILLED, str(disk), str(FREE)]
    driver = subprocess.run(
        [*command, *_check_command(config, state)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert driver.returncode == 0, driver.stderr

    first, full, again = json.loads(driver.stdout)
    assert first["code"] == 0, first["err"]
    assert_one_line(
        full["code"],
        full["err"],
        f"scrubwatch: cannot write {state / 'state.sqlite3'}: No space left on device; "
        "free space and run again",
    )
    assert again["code"] == 0, again["err"]
    assert not any(disk.iterdir())  # the tmpfs was the namespace's alone


def test_a_read_only_state_database_is_the_setups_problem_exit_2(tmp_path: Path) -> None:
    import sqlite3

    from scrubwatch.cli.main import _disk_problem

    database = tmp_path / "state.sqlite3"
    sqlite3.connect(database).execute("CREATE TABLE t (x)").connection.close()
    read_only = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        read_only.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as exc:
        problem = _disk_problem(exc, database)
    finally:
        read_only.close()

    assert problem is not None and problem.exit_code == 2
    assert str(problem) == (
        f"cannot write {database}: it is read-only; make it writable and run again"
    )
