"""`scrubwatch status`: every watch's state, locally or on a deployed stack."""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import Watchlist


def cmd_status(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    raise NotImplementedError
