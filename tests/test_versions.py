"""One set of versions (issue 12): constraints.txt pins every dependency, the development
environment has exactly those versions, and the layer build installs from the same file,
so the tests run against what ships."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = PIN.match(line.strip())
            assert match, f"constraints.txt: not an exact pin: {line!r}"
            found[canonical(match.group(1))] = match.group(2)
    return found


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0])


def test_every_dependency_the_layer_ships_is_pinned() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    shipped = [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    assert {requirement_name(r) for r in shipped} - set(pins()) == set()


def test_the_tests_run_against_the_pinned_versions() -> None:
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {
        name: (pinned, installed[name])
        for name, pinned in pins().items()
        if name in installed and installed[name] != pinned
    }
    assert differ == {}, "run `make install` (or `make lock` after changing pyproject.toml)"


def test_both_installs_read_the_same_constraints() -> None:
    makefile = (REPO / "Makefile").read_text()
    dev = re.search(r"^\t\$\(BIN\)/pip install .*-e '\.\[dev\]'$", makefile, re.M)
    layer = re.search(r"^build-ScrubwatchLayer:.*\n(?:\t.*\n)+", makefile, re.M)
    assert dev and "-c constraints.txt" in dev.group(0)
    assert layer and "-c constraints.txt" in layer.group(0)
