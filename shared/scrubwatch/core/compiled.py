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
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import ConfigError, Settings, Watch, Watchlist

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
    data = {
        "schema": SCHEMA,
        "source": watchlist.path,
        "settings": watchlist.settings.model_dump(mode="json", by_alias=True),
        "watches": [asdict(w) for w in watchlist.watches],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


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
    return Watchlist(path=path, settings=settings, watches=watches)
