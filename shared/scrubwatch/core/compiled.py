"""A watch list as `scrubwatch push` sends it to a stack: validated JSON (pure).

YAML with line numbers is for people; a list of 100,000 watches takes 18 s and 700 MB to
compose and validate that way, more than a scheduler has. `push` validates the YAML on the
user's machine and uploads this form: every default applied, settings included, read back
with one JSON parse and a type check of each field. It is still checked on the way in
(bounded size and count, every field's type, unique ids), so a file put in the bucket by
hand can be refused but cannot run away with the function.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import CHANNELS, ConfigError, Settings, Watch, Watchlist

SCHEMA = "scrubwatch.watchlist/1"
MAX_BYTES = 256 * 1024 * 1024
MAX_WATCHES = 1_000_000


class _Compiled(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Literal["scrubwatch.watchlist/1"] = Field(alias="schema")
    source: str
    settings: dict[str, Any]
    watches: list[Watch] = Field(max_length=MAX_WATCHES)


def compile_watchlist(watchlist: Watchlist) -> bytes:
    """The list as pushed. Without ``slack_webhook``: on AWS Slack's URL is the stack's
    SSM parameter, and a secret put in the bucket would outlive its rotation (and, under
    Object Lock, could not be deleted)."""
    data = compiled_part(watchlist, watchlist.watches)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def compiled_part(watchlist: Watchlist, watches: Sequence[Watch]) -> dict[str, Any]:
    """The compiled form of ``watches`` with the list's settings (what a check message
    carries, so a checker reads no list)."""
    settings = watchlist.settings.model_dump(mode="json", by_alias=True)
    settings["slack_webhook"] = None
    return {
        "schema": SCHEMA,
        "source": watchlist.path,
        "settings": settings,
        "watches": [_plain(w) for w in watches],
    }


def _plain(watch: Watch) -> dict[str, Any]:
    data = asdict(watch)
    if watch.discover is not None:
        data["discover"] = watch.discover.model_dump(mode="json")
    if watch.render is not None:
        data["render"] = watch.render.model_dump(mode="json")
    return data


def watchlist_from_compiled(raw: bytes, path: str) -> Watchlist:
    """The pushed list; ConfigError, one line, when ``raw`` is not one."""
    if len(raw) > MAX_BYTES:
        raise ConfigError([f"{path}: {len(raw)} bytes, over {MAX_BYTES}: not a pushed watch list"])
    try:
        compiled = _Compiled.model_validate_json(raw)
        settings = Settings.model_validate(compiled.settings)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise ConfigError(
            [f"{path}: not a watch list pushed by scrubwatch ({where}: {first['msg']})"]
        ) from None
    watches = tuple(compiled.watches)
    if len({w.id for w in watches}) != len(watches):
        raise ConfigError([f"{path}: a watch id is listed twice"])
    for i, watch in enumerate(watches):
        problem = _unusable(watch)
        if problem:
            raise ConfigError([f"{path}: watches.{i} ({watch.id[:128]}): {problem}"])
    return Watchlist(path=path, settings=settings, watches=watches)


def _unusable(watch: Watch) -> str | None:
    """What the YAML's validation would have refused and the scheduler cannot survive
    (a file put in the bucket by hand): the types are checked already."""
    if not (math.isfinite(watch.every) and watch.every >= 1):
        return f"every is {watch.every!r}, not a positive number of seconds"
    if urlsplit(watch.url).scheme not in ("http", "https"):
        return "the url is not http(s)"
    unknown = set(watch.notify) - set(CHANNELS)
    if unknown:
        return f"notify names unknown channels: {', '.join(sorted(unknown))}"
    return None
