"""The ``scrubwatch`` command.

Exit codes: 0 the run completed (whatever it found), 2 bad watch list or usage,
1 an internal failure, 3 evidence that does not verify.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .config import ConfigError, Watchlist, load_watchlist
from .diff import unified
from .local_store import FolderEvidenceStore, SqliteStateStore

if TYPE_CHECKING:
    from .engine import Publisher, RunReport

log = logging.getLogger("scrubwatch")


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS,
        help="watch list file (default: $SCRUBWATCH_CONFIG or watchlist.yaml)",
    )
    common.add_argument(
        "--state",
        default=argparse.SUPPRESS,
        help="state folder (default: $SCRUBWATCH_STATE or .scrubwatch beside the watch list)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="more logging"
    )
    deployed = argparse.ArgumentParser(add_help=False)
    deployed.add_argument("--stack", default=argparse.SUPPRESS, help="a deployed stack's name")
    deployed.add_argument("--bucket", default=argparse.SUPPRESS, help="its evidence bucket")
    deployed.add_argument("--table", default=argparse.SUPPRESS, help="its DynamoDB table")
    parser = argparse.ArgumentParser(
        prog="scrubwatch",
        description="Watch web pages; hear once when one is edited, loses a part, or is gone.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", parents=[common], help="check the watch list and exit")
    validate.add_argument(
        "--check-selectors",
        action="store_true",
        help="also fetch each page once and say which select/items match nothing",
    )
    status = sub.add_parser(
        "status", parents=[common, deployed], help="every watch: state, last success, next due"
    )
    status.add_argument("--json", action="store_true", help="one JSON object per watch")
    check = sub.add_parser("check", parents=[common], help="check the watches that are due")
    check.add_argument("--force", action="store_true", help="check every watch, due or not")
    check.add_argument("--only", nargs="+", metavar="ID", default=[], help="check only these")
    check.add_argument("--json", action="store_true", help="events as JSON lines on stdout")
    history = sub.add_parser(
        "history", parents=[common, deployed], help="versions kept for a watch"
    )
    history.add_argument("id")
    history.add_argument("--json", action="store_true", help="one JSON object per version")
    diff = sub.add_parser("diff", parents=[common], help="text diff between two versions")
    diff.add_argument("id")
    diff.add_argument("--from", dest="from_version", metavar="V", help="version (or prefix)")
    diff.add_argument("--to", dest="to_version", metavar="V", help="version (or prefix)")
    show = sub.add_parser("show", parents=[common, deployed], help="what a kept version said")
    show.add_argument("id")
    show.add_argument("--version", metavar="V", help="version (or prefix); default the latest")
    part = show.add_mutually_exclusive_group()
    part.add_argument("--text", dest="part", action="store_const", const="text", default="text")
    part.add_argument("--html", dest="part", action="store_const", const="html")
    part.add_argument("--headers", dest="part", action="store_const", const="headers")
    export = sub.add_parser(
        "export", parents=[common, deployed], help="a self-contained evidence bundle"
    )
    export.add_argument("id")
    export.add_argument("dir", type=Path)
    verify = sub.add_parser(
        "verify",
        parents=[common, deployed],
        help="recompute every digest and the chain (exit 3 if broken)",
    )
    verify.add_argument("target", metavar="PATH_OR_ID")
    demo = sub.add_parser("demo", parents=[common], help="watch a local site scrub itself")
    demo.add_argument("--keep", action="store_true", help="keep the demo's state folder")
    return parser


def _config_path(args: argparse.Namespace) -> Path:
    return Path(
        getattr(args, "config", None) or os.environ.get("SCRUBWATCH_CONFIG") or "watchlist.yaml"
    )


def _state_dir(args: argparse.Namespace, config: Path) -> Path:
    given = getattr(args, "state", None) or os.environ.get("SCRUBWATCH_STATE")
    return Path(given) if given else config.resolve().parent / ".scrubwatch"


class LocalBackend:
    """The state folder: ``state.sqlite3`` and ``evidence/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = SqliteStateStore(root / "state.sqlite3")
        self.evidence = FolderEvidenceStore(root / "evidence")

    def close(self) -> None:
        self.state.close()


@contextlib.contextmanager
def _run_lock(root: Path) -> Iterator[bool]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} checked")
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _summary(report: RunReport) -> str:
    kinds: dict[str, int] = {}
    for event in report.events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no changes"
    line = f"Checked {report.checked} watch(es) in {report.seconds:.1f}s: {found}."
    if report.undelivered:
        line += f" {report.undelivered} event(s) not delivered; they will be sent on the next run."
    return line


def _publishers(watchlist: Watchlist, as_json: bool) -> list[Publisher]:
    from .publishers import ConsolePublisher, JsonLinesPublisher, SlackPublisher, SmtpPublisher
    from .routing import routes

    email, slack = routes(watchlist)
    settings = watchlist.settings
    out: list[Publisher] = [
        JsonLinesPublisher(sys.stdout) if as_json else ConsolePublisher(sys.stdout)
    ]
    if settings.email:
        try:
            out.append(SmtpPublisher(settings.email, email))
        except ValueError as exc:
            raise UsageError(f"{watchlist.path}: {exc}") from None
    webhook = os.environ.get("SCRUBWATCH_SLACK_WEBHOOK") or settings.slack_webhook
    if webhook:
        out.append(SlackPublisher(webhook, slack))
    return out


def cmd_check(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    # The HTTP stack takes a third of a second to import; only `check` needs it.
    from .engine import Engine

    unknown = [i for i in args.only if watchlist.get(i) is None]
    if unknown:
        raise UsageError(f"{watchlist.path}: no watch with id {', '.join(map(repr, unknown))}")
    with _run_lock(root) as locked:
        if not locked:
            print(f"scrubwatch: another check is running on {root}; skipping", file=sys.stderr)
            return 0
        publishers = _publishers(watchlist, args.json)
        backend = LocalBackend(root)
        progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
        try:
            engine = Engine(
                watchlist, backend.state, backend.evidence, publishers, progress=progress
            )
            report = engine.run(args.only, args.force)
        finally:
            if progress:
                progress.end()
            backend.close()
    print(_summary(report), file=sys.stderr if args.json else sys.stdout)
    return 0


def open_backend(root: Path) -> LocalBackend:
    """The state folder, which must exist: reading commands never create one."""
    if not (root / "state.sqlite3").exists():
        raise UsageError(f"no scrubwatch state in {root} (run `scrubwatch check` first)")
    return LocalBackend(root)


def pick(rows: list[dict[str, object]], prefix: str | None, default: int) -> dict[str, object]:
    if prefix is None:
        return rows[default]
    matches = [r for r in rows if str(r["version"]).startswith(prefix)]
    if not matches:
        raise UsageError(f"no version starting with {prefix!r}")
    return matches[-1]


def cmd_diff(args: argparse.Namespace, root: Path) -> int:
    backend = open_backend(root)
    try:
        rows = backend.state.history(args.id)
        if not rows:
            raise UsageError(f"no versions kept for {args.id!r} in {root}")
        old = pick(rows, args.from_version, -2 if len(rows) > 1 else -1)
        new = pick(rows, args.to_version, -1)
        texts = []
        for row in (old, new):
            text = backend.evidence.text(args.id, str(row["version"]))
            if text is None:
                raise UsageError(f"evidence for version {row['version']} is missing")
            texts.append(text.splitlines())
    finally:
        backend.close()
    out = unified(
        texts[0],
        texts[1],
        f"{args.id} {str(old['version'])[:12]} {old['fetched_at']}",
        f"{args.id} {str(new['version'])[:12]} {new['fetched_at']}",
        max_lines=100_000,
        max_chars=10**9,
    )
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for line in out.splitlines():
        if colour and line.startswith("+") and not line.startswith("+++"):
            line = f"\x1b[32m{line}\x1b[0m"
        elif colour and line.startswith("-") and not line.startswith("---"):
            line = f"\x1b[31m{line}\x1b[0m"
        print(line)
    if not out:
        print("(no difference in the extracted text)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(keep=args.keep)
        config = _config_path(args)
        root = _state_dir(args, config)
        if args.command in ("history", "show", "export", "verify"):
            from . import evidence_commands

            command = getattr(evidence_commands, f"cmd_{args.command}")
            code: int = command(args, root)
            return code
        if args.command == "diff":
            return cmd_diff(args, root)
        watchlist = load_watchlist(config)
        if args.command == "validate":
            from .validate_command import cmd_validate

            return cmd_validate(args, watchlist)
        if args.command == "status":
            from .status_command import cmd_status

            return cmd_status(args, watchlist, root)
        return cmd_check(args, watchlist, root)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"scrubwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.exception("internal error")
        return 1


if __name__ == "__main__":
    sys.exit(main())
