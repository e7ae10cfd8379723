"""Environment errors are one line naming the path or setting, and exit 2: never a traceback.

These run as root in CI, where a chmod'd folder is still writable; a folder made
immutable (``chattr +i``) is not, even for root, so that is what stands for "unwritable"
and "read-only disk" here (the tests skip where the file system cannot do it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrubwatch.cli.main import main
from support import Site
from support.command import SCRUBWATCH, write_watchlist


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUBWATCH_CONFIG", raising=False)
    monkeypatch.delenv("SCRUBWATCH_STATE", raising=False)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths appended here are made immutable by the test and made mutable again after."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    made: list[Path] = []
    yield made
    if made:
        _chattr("-i", *made)


def freeze(made: list[Path], *paths: Path) -> None:
    try:
        _chattr("+i", *paths)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make files immutable here: {exc.stderr.strip()}")
    made.extend(paths)


# --- the state folder ----------------------------------------------------------------------


def test_an_unwritable_state_folder_is_one_line(
    tmp_path: Path, site: Site, immutable: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    state = tmp_path / "state"
    state.mkdir()
    freeze(immutable, state)

    assert main(["check", "--force", "-c", str(config), "--state", str(state)]) == 2

    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"scrubwatch: cannot write the state folder {state} ")
    assert "--state" in line
    assert site.seen() == []


@pytest.mark.parametrize("under", [False, True], ids=["is-a-file", "under-a-file"])
def test_a_state_path_that_is_a_file_is_one_line(
    tmp_path: Path, site: Site, under: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder\n")
    state = blocker / "state" if under else blocker

    assert main(["check", "--force", "-c", str(config), "--state", str(state)]) == 2

    line = one_line(capsys.readouterr().err)
    assert str(state) in line and f"{blocker} is a file" in line
    assert site.seen() == []
    if not under:
        for command in (["history", "careers"], ["status"]):
            args = [*command, "-c", str(config), "--state", str(state)]
            assert main(args) == 2
            assert f"{blocker} is a file" in one_line(capsys.readouterr().err)


def test_reading_commands_work_on_a_read_only_state_folder(
    tmp_path: Path, site: Site, immutable: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    state = tmp_path / "state"
    assert main(["check", "--force", "-c", str(config), "--state", str(state)]) == 0
    site.set("/careers.html", "<ul id='jobs'><li class='job'>Optical Engineer</li></ul>")
    assert main(["check", "--force", "-c", str(config), "--state", str(state)]) == 0
    capsys.readouterr()
    # As on a read-only disk: neither the folder nor the database can be written.
    freeze(immutable, state / "state.sqlite3", state)
    before = sorted(p.name for p in state.iterdir())
    where = ["-c", str(config), "--state", str(state)]

    assert main(["history", "careers", "--json", *where]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["show", "careers", *where]) == 0
    assert "Optical Engineer" in capsys.readouterr().out
    assert main(["diff", "careers", *where]) == 0
    assert "-Firmware Engineer, Urumqi" in capsys.readouterr().out.splitlines()
    assert main(["verify", "careers", *where]) == 0
    assert capsys.readouterr().out.startswith("OK:")
    assert main(["verify", str(state / "evidence" / "careers"), *where]) == 0
    capsys.readouterr()
    assert main(["export", "careers", str(tmp_path / "bundle"), *where]) == 0
    capsys.readouterr()
    assert main(["status", "--json", *where]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["state"] for r in rows} == {"ok"}
    assert sorted(p.name for p in state.iterdir()) == before


# --- a deployed stack without AWS settings -------------------------------------------------

NO_AWS = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}


def _aws_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **NO_AWS, **extra}


def run_bare(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRUBWATCH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _closed_port() -> int:
    # Bound and closed again: nothing listens there, so a connection is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("command", "extra", "expected"),
    [
        (["history", "x", "--stack", "s"], {}, "no AWS region: set AWS_DEFAULT_REGION"),
        (
            ["status", "--table", "t"],
            {"AWS_DEFAULT_REGION": "eu-west-1"},
            "no AWS credentials: set AWS_PROFILE",
        ),
        (
            ["verify", "x", "--stack", "s"],
            {
                "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:{port}",
            },
            "cannot reach AWS",
        ),
    ],
    ids=["no-region", "no-credentials", "no-endpoint"],
)
def test_aws_settings_missing_is_one_line(
    tmp_path: Path, site: Site, command: list[str], extra: dict[str, str], expected: str
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    extra = {k: v.format(port=_closed_port()) for k, v in extra.items()}

    proc = run_bare(*command, "-c", str(config), cwd=tmp_path, env=_aws_env(**extra))

    assert proc.returncode == 2, proc.stderr
    assert expected in one_line(proc.stderr)
