"""The package's folders are its layers, and dependencies point one way (issue 11): no
import cycles, even through imports made inside functions; `core` imports nothing from the
other folders; the scheduler does not load the HTTP stack; each layer declares its public
names; no function is over 80 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "shared" / "scrubwatch"
LAYERS = ("core", "evidence", "check", "backends", "alerts", "aws", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package's modules an import names (relative or absolute)."""
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    if not target.startswith("scrubwatch"):
        return []
    names = [f"{target}.{a.name}" for a in node.names]
    found = [n for n in names if n in MODULES]
    return found or ([target] if target in MODULES else [])


def imports(module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom):
            found.update(resolve(module, node))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
    return found - {module}


GRAPH = {m: imports(m) for m in MODULES}


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_sits_in_a_layer_folder() -> None:
    loose = sorted(m for m in MODULES if layer(m) not in LAYERS and m != "scrubwatch")
    assert loose == []


def test_no_module_imports_itself_through_others() -> None:
    assert sorted(m for m in MODULES if m in reachable(m)) == []


def test_core_imports_nothing_outside_core() -> None:
    outside = {
        m: sorted(i for i in GRAPH[m] if layer(i) not in ("core", ""))
        for m in MODULES
        if layer(m) == "core"
    }
    assert {m: found for m, found in outside.items() if found} == {}


def test_core_imports_no_io_library() -> None:
    io_libraries = {"boto3", "botocore", "aiohttp", "httpx_aiohttp", "sqlite3", "socket"}
    found = {}
    for module, path in MODULES.items():
        if layer(module) != "core":
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
        if names & io_libraries:
            found[module] = sorted(names & io_libraries)
    assert found == {}


def test_the_scheduler_does_not_load_the_http_stack() -> None:
    code = (
        "import sys, scrubwatch.aws.schedule; "
        "print(sorted({'aiohttp', 'scrubwatch.check.engine'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_test_imports_a_conftest() -> None:
    # Fixtures come from pytest; helpers from each folder's support module. A conftest
    # imported as a module is loaded twice, under two names, with two copies of its state.
    tests = Path(__file__).resolve().parent
    importing = sorted(
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest")
    )
    assert importing == []


def declared_exports(package: str) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """A package's `_EXPORTS`, its `__all__`, and what it imports for type checkers."""
    tree = ast.parse(MODULES[package].read_text())
    exports: dict[str, str] = {}
    listed: list[str] = []
    typed: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "_EXPORTS":
                exports = ast.literal_eval(node.value)
            elif node.targets[0].id == "__all__":
                listed = ast.literal_eval(node.value)
        elif isinstance(node, ast.If):  # if TYPE_CHECKING:
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module
                typed.update((a.name, imp.module) for a in imp.names)
    return exports, listed, typed


def test_each_layer_declares_its_public_names_once_and_lazily() -> None:
    for name in LAYERS:
        package = f"scrubwatch.{name}"
        exports, listed, typed = declared_exports(package)
        assert exports, f"{package} declares no public names"
        assert sorted(exports) == listed == sorted(typed), package
        assert exports == typed, package
        # A name that is also a submodule's would be shadowed by it once that is imported.
        submodules = {m.rsplit(".", 1)[1] for m in MODULES if m.startswith(package + ".")}
        assert not set(exports) & submodules, package
        for name_, module in exports.items():
            assert f"{package}.{module}" in MODULES, (package, name_)


def test_every_public_name_resolves_and_importing_a_layer_loads_none_of_its_modules() -> None:
    code = (
        "import importlib, sys\n"
        f"layers = {LAYERS!r}\n"
        "before = set(sys.modules)\n"
        "for name in layers: importlib.import_module('scrubwatch.' + name)\n"
        "loaded = sorted(m for m in set(sys.modules) - before if m.count('.') > 1)\n"
        "print(loaded)\n"
        "for name in layers:\n"
        "    package = sys.modules['scrubwatch.' + name]\n"
        "    for public in package.__all__:\n"
        "        getattr(package, public)  # raises if the module does not define it\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "ok"]


def test_no_function_in_the_package_is_over_80_lines() -> None:
    # Complexity (20) and statements (60) are ruff's to hold (pyproject.toml); length is ours.
    long = sorted(
        (f"{module}.{node.name}", node.end_lineno - node.lineno + 1)
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    )
    assert long == []
