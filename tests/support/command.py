"""The ``scrubwatch`` command as tests run it: as a process, on a watch list of the scripted
site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .web import Site, page

SCRUBWATCH = str(Path(sys.executable).with_name("scrubwatch"))


def write_watchlist(path: Path, site: Site, **extra: Any) -> Path:
    site.set("/careers.html", jobs(["Optical Engineer", "Firmware Engineer, Urumqi"]))
    site.set("/campus.html", page("Campus", '<div id="rd-map"><p>Urumqi R&amp;D</p></div>'))
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], "retries": 0, "confirm_gone": 2},
        "watches": [
            {
                "id": "careers",
                "url": site.url("/careers.html"),
                "select": "#jobs",
                "items": "li.job",
            },
            {"id": "rd-map", "url": site.url("/campus.html"), "select": "#rd-map"},
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def jobs(items: list[str]) -> str:
    lis = "".join(f'<li class="job">{i}</li>' for i in items)
    return page("Careers", f'<ul id="jobs">{lis}</ul>')


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUBWATCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [SCRUBWATCH, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
