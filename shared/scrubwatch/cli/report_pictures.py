"""Before and after screenshots of a report's changes (render: browser).

Both screenshots of each change are written whole to ``screenshots/`` beside the report.
report.html shows them side by side with the changed regions outlined, as one picture in
the page itself (a data: URI, which fetches nothing), so the page stays one file that
opens offline and tells no one it was opened.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.timeline import Story
from ..evidence.build import screenshot_of

log = logging.getLogger("scrubwatch")

FOLDER = "screenshots"
# Pictures shown in the page at most, and the size of each: the page stays a few MB.
MAX_SHOWN = 50
_PICTURE_BYTES = 400_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pair(before: str, after: str) -> str:
    """The key of a change's pictures."""
    return f"{before}>{after}"


def pictures(archive: Any, stories: Sequence[Story], out: Path) -> dict[str, dict[str, str]]:
    """pair(before, after) -> {"before": file, "after": file, "marked": data URI} for every
    change between two versions rendered in a browser (files relative to the report)."""
    shown: dict[str, dict[str, str]] = {}
    for story in stories:
        shot = {e.capture.version for e in story.entries if e.capture and e.capture.screenshot}
        for entry in story.entries:
            change, capture = entry.change, entry.capture
            if not (change and capture and capture.version in shot and change.before in shot):
                continue
            files = [_file(archive, story.watch, v, out) for v in (change.before, capture.version)]
            if files[0] is None or files[1] is None:
                continue
            picture = {"before": files[0][0], "after": files[1][0]}
            if len(shown) < MAX_SHOWN:
                picture["marked"] = _marked(files[0][1], files[1][1], story.watch)
            shown[pair(change.before, capture.version)] = picture
    return shown


def _file(archive: Any, watch_id: str, version: str, out: Path) -> tuple[str, bytes] | None:
    """The version's screenshot, written beside the report: (its name there, its bytes)."""
    try:
        warc = (archive.folder(watch_id) / f"{version}.warc.gz").read_bytes()
    except OSError:
        return None  # the report says where the evidence is missing
    png = screenshot_of(warc)
    if png is None:
        return None
    name = f"{FOLDER}/{_UNSAFE.sub('-', watch_id)}-{version[:12]}.png"
    (out / FOLDER).mkdir(exist_ok=True)
    (out / name).write_bytes(png)
    return name, png


def _marked(before: bytes, after: bytes, watch_id: str) -> str:
    """The two side by side with what changed outlined, as a data: URI ("" if none)."""
    from ..check.visual import NotAnImage, before_after, compare

    try:
        data, mime = before_after(before, after, compare(before, after), max_bytes=_PICTURE_BYTES)
    except (NotAnImage, ValueError) as exc:
        log.warning("%s: screenshots not compared: %s", watch_id, exc)
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
