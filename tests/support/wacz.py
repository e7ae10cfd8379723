"""The reference WACZ validator (py-wacz's ``wacz validate``), as tests run it.

Not a dependency of scrubwatch (it brings some fifty packages): `make test` installs it in
its own venv and names it in $WACZ_CLI. Without it the tests that need it fail, since an
unchecked WACZ is not evidence."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

DEFAULT_CLI = Path(__file__).resolve().parents[2] / ".tools" / "wacz" / "bin" / "wacz"


def wacz_cli() -> Path:
    """The ``wacz`` executable: $WACZ_CLI, else the project's tools venv."""
    cli = Path(os.environ.get("WACZ_CLI") or DEFAULT_CLI)
    if not (cli.is_file() and os.access(cli, os.X_OK)):
        pytest.fail(
            f"wacz validator not found at {cli}: `make test` installs it (or run "
            "`python3 -m venv .tools/wacz && .tools/wacz/bin/pip install wacz==0.6.0`)"
        )
    return cli


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(wacz_cli()), "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
