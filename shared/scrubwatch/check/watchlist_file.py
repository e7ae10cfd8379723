"""Reading the watch list file: the only disk access the watch list needs, kept out of
`core` (which parses and validates its bytes)."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.config import (
    DEFAULT_LIMITS,
    MAX_FILE_SHOWN,
    ConfigError,
    Limits,
    Watchlist,
    check_size,
    watchlist_from_bytes,
)


def load_watchlist(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Watchlist:
    path = Path(path)
    try:
        raw = _read_at_most(path, limits.bytes)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the watch list: {exc.strerror or exc}"]) from None
    return watchlist_from_bytes(raw, str(path), limits)


def _read_at_most(path: Path, limit: int) -> bytes:
    """The file's bytes; ConfigError, having read no more than the limit, when it is
    bigger (or endless: `-c /dev/zero` must not fill the memory)."""
    with path.open("rb") as file:
        raw = file.read(limit + 1)
        if len(raw) > limit:
            size = os.fstat(file.fileno()).st_size
            if size <= limit:  # not a regular file: its size is unknown
                raise ConfigError(
                    [f"{path} is over {MAX_FILE_SHOWN}, the limit: is it the right file?"]
                )
            check_size(size, str(path), limit)
    return raw
