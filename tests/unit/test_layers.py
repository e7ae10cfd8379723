"""The package's dependencies point one way (issue 11): no import cycles, even through
imports made inside functions, and the pure modules import nothing that does I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "scrubwatch"
MODULES = {p.stem for p in PACKAGE.glob("*.py")}

# No network, disk, clock or AWS: what the engine decides with, and what renders alerts.
PURE = {"classify", "decide", "diff", "due", "events", "formatting", "report", "routing", "summary"}
# What does I/O (or starts processes): the pure modules must not reach any of it.
EDGES = {"engine", "fetch", "netguard", "proxy", "witness", "worker", "local_store"}
EDGES |= {m for m in MODULES if m.startswith(("aws_", "cli", "sns_"))}


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found.update(n.split(".")[0] for n in names)
    return found & MODULES


GRAPH = {m: imports(m) for m in MODULES}


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_module_imports_itself_through_others() -> None:
    cycles = sorted(m for m in MODULES if m in reachable(m))
    assert cycles == []


def test_the_pure_modules_reach_nothing_that_does_io() -> None:
    reached = {m: sorted(reachable(m) & EDGES) for m in sorted(PURE)}
    assert reached == {m: [] for m in sorted(PURE)}


def test_the_scheduler_does_not_load_the_http_stack() -> None:
    code = (
        "import sys, scrubwatch.scheduling; "
        "print(sorted({'aiohttp', 'scrubwatch.engine'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
