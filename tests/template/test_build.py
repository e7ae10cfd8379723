"""`sam build` runs the Makefile's build-ScrubwatchLayer target: a broken watch list must
stop the build with the same messages as `scrubwatch validate`, so it never deploys."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The layer is built with Python 3.12, the Lambda runtime; pyenv has it beside 3.11.
    if shutil.which("pyenv") and "PYENV_VERSION" not in env:
        env["PYENV_VERSION"] = "3.11.7:3.12.1"
    return env


def test_layer_build_refuses_an_invalid_watch_list(tmp_path: Path) -> None:
    bad = tmp_path / "watchlist.yaml"
    bad.write_text("watches:\n  - url: https://example.com/\n    selector: '#main'\n")
    artifacts = tmp_path / "layer"
    artifacts.mkdir()
    build = subprocess.run(
        ["make", "-s", "build-ScrubwatchLayer", f"ARTIFACTS_DIR={artifacts}", f"WATCHLIST={bad}"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode != 0, build.stdout + build.stderr
    assert f"{bad}:3: watches[0].selector: unknown key (check the spelling)" in build.stderr
    assert "Traceback" not in build.stderr
    assert not (artifacts / "watchlist.yaml").exists()


def test_the_layer_is_built_for_arm64(tmp_path: Path) -> None:
    """The functions run on Graviton (template.yaml): every native module of the layer must
    be an aarch64 build, or the first import on Lambda fails."""
    build = subprocess.run(
        ["make", "-s", "build-ScrubwatchLayer", f"ARTIFACTS_DIR={tmp_path}"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    native = list((tmp_path / "python").rglob("*.so"))
    assert any(p.parent.name == "pydantic_core" for p in native)
    # ELF e_machine (bytes 18-19, little-endian): 183 is AArch64, 62 is x86-64.
    machines = {p.name: int.from_bytes(p.read_bytes()[18:20], "little") for p in native}
    assert {name for name, machine in machines.items() if machine != 183} == set()
    assert (tmp_path / "watchlist.yaml").read_text() == (ROOT / "watchlist.yaml").read_text()


# Lambda's limit for a function and all its layers, unzipped (250 MiB).
LAMBDA_UNZIPPED_MAX = 262_144_000


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_the_render_function_is_built_for_x86_64_within_lambdas_size(tmp_path: Path) -> None:
    """`make build` builds the render function's two layers (render.mk): Chromium for
    Lambda, Node.js, Playwright and Pillow, and the scrubwatch layer again for x86_64 (the
    Lambda build of Chromium is x86_64 only). Together they must fit Lambda's 250 MiB."""
    built = {}
    for target in ("build-RenderLayer", "build-ScrubwatchLayerX86"):
        folder = tmp_path / target
        folder.mkdir()
        build = subprocess.run(
            ["make", "-s", target, f"ARTIFACTS_DIR={folder}"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert build.returncode == 0, build.stderr[-2000:]
        built[target] = folder
    render = built["build-RenderLayer"]
    packed = {p.name for p in (render / "render").iterdir()}
    assert {"chromium.br", "al2023.tar.br", "fonts.tar.br", "node.xz"} <= packed
    assert (render / "python" / "playwright").is_dir() and (render / "python" / "PIL").is_dir()
    # Playwright's own Node.js is left out: the layer's node.xz is unpacked at cold start.
    assert not (render / "python" / "playwright" / "driver" / "node").exists()
    native = list((built["build-ScrubwatchLayerX86"] / "python").rglob("*.so"))
    machines = {p.name: int.from_bytes(p.read_bytes()[18:20], "little") for p in native}
    assert native and {name for name, machine in machines.items() if machine != 62} == set()
    function = _size(ROOT / "functions" / "render")
    total = _size(render) + _size(built["build-ScrubwatchLayerX86"]) + function
    assert total < LAMBDA_UNZIPPED_MAX, f"{total:,} bytes unzipped"
