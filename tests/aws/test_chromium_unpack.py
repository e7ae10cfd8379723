"""The render layer's Chromium is unpacked into /tmp once, whole or not at all.

Each test builds a small render layer of real brotli files and brotli-compressed tar
archives, laid out as build-RenderLayer lays out the real one (render.mk), with shell
scripts standing in for Chromium and Node.js."""

from __future__ import annotations

import io
import lzma
import os
import subprocess
import tarfile
import threading
from pathlib import Path

import brotli  # PyPI "brotli": a dev dependency, and in the render layer
import pytest
from scrubwatch.aws import chromium
from scrubwatch.aws.chromium import (
    LAMBDA_CHROMIUM_ARGS,
    ChromiumUnavailable,
    unpack_chromium,
)

CHROMIUM = b"#!/bin/sh\necho 'Chromium 153.0.8010.0'\n"
NODE = b"#!/bin/sh\necho v24.19.0\n"


def tar_br(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return brotli.compress(buffer.getvalue())


def make_layer(root: Path) -> Path:
    """A layer root (what Lambda mounts at /opt) holding render/ as render.mk makes it."""
    render = root / "render"
    render.mkdir(parents=True)
    (render / "chromium.br").write_bytes(brotli.compress(CHROMIUM))
    (render / "node.xz").write_bytes(lzma.compress(NODE))
    (render / "al2023.tar.br").write_bytes(
        tar_br({"lib/libnss3.so": b"nss", "lib/libexpat.so.1": b"expat"})
    )
    (render / "swiftshader.tar.br").write_bytes(
        tar_br({"libEGL.so": b"egl", "libGLESv2.so": b"gles", "vk_swiftshader_icd.json": b"{}"})
    )
    (render / "fonts.tar.br").write_bytes(
        tar_br({"fonts.conf": b"<dir>/tmp/fonts</dir>", "fonts/Open_Sans/OpenSans.ttf": b"ttf"})
    )
    return root


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    return make_layer(tmp_path / "opt")


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def unpacked_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.is_dir())


def test_unpacks_the_browser_its_libraries_fonts_and_node(layer: Path, tmp: Path) -> None:
    environ = {"LD_LIBRARY_PATH": "/var/lang/lib:/opt/lib"}
    executable = unpack_chromium(layer, tmp, environ)

    folder = executable.parent
    assert folder.parent == tmp and folder.name.startswith("scrubwatch-render-")
    out = subprocess.run([executable], capture_output=True, text=True, check=True)
    assert out.stdout == "Chromium 153.0.8010.0\n"
    assert (folder / "libGLESv2.so").read_bytes() == b"gles"  # beside the executable
    assert (folder / "al2023" / "lib" / "libnss3.so").read_bytes() == b"nss"
    assert (folder / "fonts" / "fonts" / "Open_Sans" / "OpenSans.ttf").is_file()
    # fonts.conf names the fonts where they are, not where sparticuz's own code puts them.
    conf = (folder / "fonts" / "fonts.conf").read_text()
    assert f"<dir>{folder / 'fonts'}</dir>" in conf and "/tmp/fonts<" not in conf

    assert environ["LD_LIBRARY_PATH"] == f"{folder}/al2023/lib:/var/lang/lib:/opt/lib"
    assert environ["FONTCONFIG_PATH"] == str(folder / "fonts")
    assert environ["PLAYWRIGHT_NODEJS_PATH"] == str(folder / "node")
    assert environ["HOME"] == str(tmp)
    node = subprocess.run([environ["PLAYWRIGHT_NODEJS_PATH"]], capture_output=True, check=True)
    assert node.stdout == b"v24.19.0\n"
    assert unpacked_folders(tmp) == [folder.name]  # no attempt left behind


def test_a_second_call_uses_what_the_first_unpacked(layer: Path, tmp: Path) -> None:
    environ: dict[str, str] = {"HOME": "/home/sbx"}
    first = unpack_chromium(layer, tmp, environ)
    inode = first.stat().st_ino
    first_environ = dict(environ)

    second = unpack_chromium(layer, tmp, environ)

    assert second == first and second.stat().st_ino == inode  # not written again
    assert environ == first_environ  # LD_LIBRARY_PATH not prefixed twice, HOME kept
    assert environ["HOME"] == "/home/sbx"


def test_a_half_written_earlier_attempt_is_never_used(layer: Path, tmp: Path) -> None:
    # A killed earlier attempt left its temporary folder with half a browser in it.
    leftover = tmp / ".scrubwatch-render-k1ll3d"
    leftover.mkdir()
    (leftover / "chromium").write_bytes(CHROMIUM[:9])

    executable = unpack_chromium(layer, tmp, {})

    assert executable.read_bytes() == CHROMIUM
    assert not leftover.exists()  # removed: /tmp has no room for two browsers
    assert unpacked_folders(tmp) == [executable.parent.name]


def test_a_failed_attempt_leaves_nothing_and_the_next_one_unpacks(layer: Path, tmp: Path) -> None:
    whole = (layer / "render" / "node.xz").read_bytes()
    (layer / "render" / "node.xz").write_bytes(whole[: len(whole) // 2])

    with pytest.raises(ChromiumUnavailable, match=r"node\.xz is truncated"):
        unpack_chromium(layer, tmp, {})
    assert unpacked_folders(tmp) == []  # neither the half-written folder nor the target

    (layer / "render" / "node.xz").write_bytes(whole)
    executable = unpack_chromium(layer, tmp, {})
    assert (executable.parent / "node").read_bytes() == NODE


def test_without_the_layer_the_error_says_what_to_do(tmp_path: Path, tmp: Path) -> None:
    with pytest.raises(ChromiumUnavailable) as raised:
        unpack_chromium(tmp_path / "opt", tmp, {})
    message = str(raised.value)
    assert str(tmp_path / "opt" / "render") in message
    assert "RenderLayer" in message and "make build-RenderLayer" in message
    assert unpacked_folders(tmp) == []


def test_a_layer_missing_a_file_is_named(layer: Path, tmp: Path) -> None:
    (layer / "render" / "fonts.tar.br").unlink()
    with pytest.raises(ChromiumUnavailable, match=r"missing: fonts\.tar\.br"):
        unpack_chromium(layer, tmp, {})


@pytest.mark.parametrize("name", ["chromium.br", "node.xz"])
def test_damaged_data_is_refused_whole(layer: Path, tmp: Path, name: str) -> None:
    (layer / "render" / name).write_bytes(b"\xff" * 4096)
    with pytest.raises(ChromiumUnavailable, match=rf"{name} is damaged"):
        unpack_chromium(layer, tmp, {})
    assert unpacked_folders(tmp) == []


def test_a_damaged_archive_is_refused_whole(layer: Path, tmp: Path) -> None:
    (layer / "render" / "al2023.tar.br").write_bytes(brotli.compress(b"not a tar" * 100))
    with pytest.raises(ChromiumUnavailable, match=r"al2023\.tar\.br cannot be unpacked"):
        unpack_chromium(layer, tmp, {})
    assert unpacked_folders(tmp) == []


def test_an_archive_cannot_write_outside_its_folder(layer: Path, tmp: Path) -> None:
    (layer / "render" / "fonts.tar.br").write_bytes(tar_br({"../../escaped": b"x"}))
    with pytest.raises(ChromiumUnavailable, match=r"fonts\.tar\.br cannot be unpacked"):
        unpack_chromium(layer, tmp, {})
    assert not (tmp / "escaped").exists() and not (tmp.parent / "escaped").exists()


def test_two_callers_at_once_get_one_whole_browser(layer: Path, tmp: Path) -> None:
    results: list[Path | BaseException] = []

    def call() -> None:
        try:
            results.append(unpack_chromium(layer, tmp, {}))
        except BaseException as error:  # reported below, with the other thread's result
            results.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(results)) == 1, results
    executable = results[0]
    assert isinstance(executable, Path) and executable.read_bytes() == CHROMIUM
    assert unpacked_folders(tmp) == [executable.parent.name]


def test_a_new_build_of_the_layer_is_unpacked_anew(layer: Path, tmp: Path) -> None:
    first = unpack_chromium(layer, tmp, {})
    (layer / "render" / "chromium.br").write_bytes(brotli.compress(CHROMIUM + b"# rebuilt\n"))

    second = unpack_chromium(layer, tmp, {})

    assert second != first and second.read_bytes().endswith(b"# rebuilt\n")


def test_the_flags_leave_playwright_its_own() -> None:
    # Chromium keeps the last of a repeated switch: ours would replace Playwright's lists.
    lists = ("--disable-features", "--enable-features")
    assert not [a for a in LAMBDA_CHROMIUM_ARGS if a.startswith(lists)]
    assert "--single-process" not in LAMBDA_CHROMIUM_ARGS  # breaks a context per check
    assert "--disable-web-security" not in LAMBDA_CHROMIUM_ARGS
    assert "--no-zygote" in LAMBDA_CHROMIUM_ARGS


def test_by_default_the_process_environment_is_set(
    layer: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LD_LIBRARY_PATH", "FONTCONFIG_PATH", "PLAYWRIGHT_NODEJS_PATH"):
        monkeypatch.setenv(name, "")  # restored after the test
    executable = unpack_chromium(layer, tmp)
    assert os.environ["PLAYWRIGHT_NODEJS_PATH"] == str(executable.parent / "node")
    assert os.environ["LD_LIBRARY_PATH"] == str(executable.parent / "al2023" / "lib")
    assert Path("/opt") == chromium.LAYER_ROOT
