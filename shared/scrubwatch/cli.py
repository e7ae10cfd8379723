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
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .config import ConfigError, Watchlist, load_watchlist
from .diff import unified
from .local_store import FolderEvidenceStore, SqliteStateStore

if TYPE_CHECKING:
    from .engine import Publisher

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
    parser.add_argument("--version", action="version", version=f"scrubwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", parents=[common], help="check the watch list and exit")
    validate.add_argument(
        "--check-selectors",
        action="store_true",
        help="also fetch each page once and say which select/items match nothing",
    )
    validate.add_argument(
        "--for",
        dest="target",
        choices=("local", "aws"),
        default="local",
        help="where the list will run: local (default) also checks that every channel in "
        "notify is configured; aws does not (the stack's SNS topic delivers alerts)",
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
    demo.add_argument(
        "--keep", action="store_true", help="keep the demo's state folder (a temporary one)"
    )
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

    def __init__(self, root: Path, readonly: bool = False) -> None:
        self.root = root
        self.state = SqliteStateStore(root / "state.sqlite3", readonly=readonly)
        self.evidence = FolderEvidenceStore(root / "evidence")

    def close(self) -> None:
        self.state.close()


def _unusable_state(root: Path, exc: BaseException) -> UsageError:
    """An OS or SQLite error on the state folder, as the one line the user can act on."""
    if root.exists() and not root.is_dir():
        return UsageError(
            f"state folder {root} is a file; give --state (or SCRUBWATCH_STATE) a folder"
        )
    for parent in (root, *root.parents):
        if parent.exists() and not parent.is_dir():
            return UsageError(
                f"state folder {root} cannot be made: {parent} is a file; "
                "give --state (or SCRUBWATCH_STATE) a folder"
            )
        if parent.exists():
            break
    why = getattr(exc, "strerror", None) or str(exc)
    return UsageError(
        f"cannot write the state folder {root} ({why}); make it writable for this user "
        "or choose another with --state (or SCRUBWATCH_STATE)"
    )


@contextlib.contextmanager
def _run_lock(root: Path) -> Iterator[bool]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / "lock", "a+")  # noqa: SIM115 - closed below, after the run
    except OSError as exc:
        raise _unusable_state(root, exc) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _writable_backend(root: Path) -> LocalBackend:
    try:
        return LocalBackend(root)
    except (OSError, sqlite3.Error) as exc:
        raise _unusable_state(root, exc) from None


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
        """Clears the bar: before an alert is printed on the same terminal, and at the end."""
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()
            self.shown = False


def _not_due(watchlist: Watchlist, state: SqliteStateStore, ids: list[str]) -> list[str]:
    """``ID is not due until HH:MM``, for each watch asked for by --only that was skipped."""
    import time

    from .engine import next_due
    from .status_command import clock

    out = []
    states = state.load(ids)
    for watch_id in ids:
        watch = watchlist.get(watch_id)
        if watch is None:
            continue
        due = next_due(watch, states[watch_id], watchlist.settings.recheck)
        out.append(
            f"{watch_id} is not due until {clock(due, time.time())} (use --force to check it now)"
        )
    return out


def _publishers(
    watchlist: Watchlist, as_json: bool, progress: _Progress | None = None
) -> list[Publisher]:
    from .publishers import ConsolePublisher, JsonLinesPublisher, SlackPublisher, SmtpPublisher
    from .routing import SLACK_WEBHOOK_ENV, routes

    email, slack = routes(watchlist)
    settings = watchlist.settings
    # The bar is on stderr, the alerts on stdout: on one terminal an alert printed over a
    # half-drawn bar would start mid-line, so the bar is cleared first (redrawn after).
    clear = progress.end if progress else None
    out: list[Publisher] = [
        JsonLinesPublisher(sys.stdout, before=clear)
        if as_json
        else ConsolePublisher(sys.stdout, before=clear)
    ]
    if settings.email:
        try:
            out.append(SmtpPublisher(settings.email, email))
        except ValueError as exc:
            raise UsageError(f"{watchlist.path}: {exc}") from None
    webhook = os.environ.get(SLACK_WEBHOOK_ENV) or settings.slack_webhook
    if webhook:
        out.append(SlackPublisher(webhook, slack))
    return out


def cmd_check(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    # The HTTP stack takes a third of a second to import; only `check` needs it.
    from .engine import Engine
    from .routing import delivery_problems
    from .summary import summary

    # A channel named in notify but not set up would swallow its alerts without a word.
    problems = delivery_problems(watchlist, os.environ)
    if problems:
        raise ConfigError(problems)

    unknown = [i for i in args.only if watchlist.get(i) is None]
    if unknown:
        raise UsageError(f"{watchlist.path}: no watch with id {', '.join(map(repr, unknown))}")
    with _run_lock(root) as locked:
        if not locked:
            print(f"scrubwatch: another check is running on {root}; skipping", file=sys.stderr)
            return 0
        progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
        publishers = _publishers(watchlist, args.json, progress)
        backend = _writable_backend(root)
        try:
            engine = Engine(
                watchlist, backend.state, backend.evidence, publishers, progress=progress
            )
            report = engine.run(args.only, args.force)
            not_due = _not_due(watchlist, backend.state, report.not_due)
        finally:
            if progress:
                progress.end()
            backend.close()
    out = sys.stderr if args.json else sys.stdout
    for line in not_due:
        print(line, file=out)
    if report.checked or not not_due:
        print(summary(report), file=out)
    return 0


def open_backend(root: Path) -> LocalBackend:
    """The state folder, which must exist: reading commands never create one, and open it
    read-only, so they work on a copy on a read-only disk or another user's folder."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"state folder {root} is a file; give --state a folder")
    if not (root / "state.sqlite3").exists():
        raise UsageError(f"no scrubwatch state in {root} (run `scrubwatch check` first)")
    try:
        return LocalBackend(root, readonly=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read the state in {root} ({exc})") from None


def pick(rows: list[dict[str, object]], prefix: str | None, default: int) -> dict[str, object]:
    if prefix is None:
        return rows[default]
    matches = [r for r in rows if str(r["version"]).startswith(prefix)]
    if not matches:
        raise UsageError(f"no version starting with {prefix!r}")
    return matches[-1]


def _read_as_newer(
    evidence: FolderEvidenceStore, watch_id: str, older: str, newer: str
) -> list[str] | None:
    """The older capture's text as the newer one's settings read it, when they differ."""
    import json

    from .reader import ReadSpec
    from .work import reread

    manifests = [json.loads(evidence.manifest(watch_id, v) or b"{}") for v in (older, newer)]
    settings = manifests[1].get("reading_settings")
    if not settings or manifests[0].get("settings_hash") == manifests[1].get("settings_hash"):
        return None
    warc = evidence.warc(watch_id, older)
    reading = reread(warc, ReadSpec.of(settings)) if warc else None
    return list(reading.lines) if reading else None


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
        again = _read_as_newer(backend.evidence, args.id, str(old["version"]), str(new["version"]))
        if again is not None:
            texts[0] = again
            print(
                "(the watch was edited between these captures: the older page is shown read "
                "the way the newer one was, as the alert compared them)",
                file=sys.stderr,
            )
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


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # -v is about scrubwatch's own decisions; the HTTP and AWS libraries' DEBUG lines
    # (every header, every socket) would bury them, so those stay at WARNING.
    logging.getLogger("scrubwatch").setLevel(logging.DEBUG if verbose else logging.NOTSET)


def _demo(args: argparse.Namespace) -> int:
    if getattr(args, "config", None):
        raise UsageError(
            "demo runs its own watch list against its own local site, so -c/--config does "
            "not apply; to check your watch list, run `scrubwatch check -c FILE`"
        )
    from .demo import run_demo

    given = getattr(args, "state", None)
    return run_demo(keep=args.keep, root=Path(given) if given else None)


def _aws_problem(exc: BaseException) -> str | None:
    """A missing AWS setting or resource, as one line saying what to set; None otherwise."""
    errors = sys.modules.get("botocore.exceptions")
    if errors is None:
        return None
    if isinstance(exc, errors.NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or a region in your AWS profile)"
    if isinstance(exc, errors.NoCredentialsError | errors.PartialCredentialsError):
        return (
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (`aws configure` writes a profile)"
        )
    if isinstance(exc, errors.EndpointConnectionError):
        return (
            f"cannot reach AWS ({exc}); check the network, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL"
        )
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        return (
            f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}; "
            "check --stack/--table/--bucket, AWS_DEFAULT_REGION and the credentials' permissions"
        )
    if isinstance(exc, errors.BotoCoreError):
        return f"AWS: {exc}"
    return None


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _demo(args)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _logging(getattr(args, "verbose", False))
    try:
        return _dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"scrubwatch: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`scrubwatch status | head`): nothing left to say to it.
        # Python would complain again while flushing stdout at exit, so point it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a process killed by SIGPIPE, which is what shells expect
    except KeyboardInterrupt:
        kept = " (what was already checked is kept; the rest is checked next run)"
        print(f"scrubwatch: interrupted{kept if args.command == 'check' else ''}", file=sys.stderr)
        return 130
    except Exception as exc:
        aws = _aws_problem(exc)
        if aws:
            print(f"scrubwatch: {aws}", file=sys.stderr)
            return 2
        log.exception("internal error")
        return 1


if __name__ == "__main__":
    sys.exit(main())
