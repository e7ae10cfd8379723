"""The ``scrubwatch`` command.

Exit codes: 0 the run completed (whatever it found), 2 bad watch list or usage,
1 an internal failure, 3 evidence that does not verify.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote, urlsplit

from .. import __version__
from ..backends.local import FolderEvidenceStore, SqliteStateStore
from ..check.watchlist_file import load_watchlist
from ..core import terminal
from ..core.config import ConfigError, Watch, Watchlist
from ..core.diff import unified
from .state_folder import DATABASE, LocalBackend, UsageError, open_backend, pick

if TYPE_CHECKING:
    from ..check.ports import Publisher

log = logging.getLogger("scrubwatch")


class DiskProblem(Exception):
    """The disk under the state folder takes no more writes (full, over quota, read-only):
    said in one line, because a traceback (SQLite's error, then the failed rollback's, then
    the engine's) would hide it."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        # A read-only state folder is the setup's problem (2, as for a folder that cannot
        # be written at all); a disk that filled up during the run is the run's (1).
        self.exit_code = exit_code


# Errors that mean the disk, not scrubwatch, and what to do about each: the space, the
# user's quota, the largest file allowed (`ulimit -f`), a file system remounted read-only.
_DISK_FIXES = {
    errno.ENOSPC: "free space",
    errno.EDQUOT: "free space",
    errno.EFBIG: "raise the file size limit (ulimit -f)",
    errno.EROFS: "make it writable",
}
# SQLite gives no errno: a full disk is SQLITE_FULL, but a quota or a size limit is only a
# write that failed (its "disk I/O error").
_SQLITE_WRITE_FAILED = ("SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE")


def _parser() -> argparse.ArgumentParser:
    common = _common_options()
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
    _run_commands(sub, common, deployed)
    _archive_commands(sub, common, deployed)
    return parser


def _common_options() -> argparse.ArgumentParser:
    """The options every command takes: watch list, state folder, verbosity."""
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
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more logging: -v scrubwatch's own, -vv the HTTP and AWS libraries' too",
    )
    return common


def _run_commands(
    sub: Any, common: argparse.ArgumentParser, deployed: argparse.ArgumentParser
) -> None:
    """validate, status, check."""
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
    status.add_argument(
        "--children",
        action="store_true",
        help="list each page a watch discovered (the table folds them into one line)",
    )
    check = sub.add_parser("check", parents=[common], help="check the watches that are due")
    check.add_argument("--force", action="store_true", help="check every watch, due or not")
    check.add_argument("--only", nargs="+", metavar="ID", default=[], help="check only these")
    check.add_argument("--json", action="store_true", help="events as JSON lines on stdout")


def _archive_commands(
    sub: Any, common: argparse.ArgumentParser, deployed: argparse.ArgumentParser
) -> None:
    """history, diff, show, export, verify, demo: what was kept, and the demo."""
    history = sub.add_parser(
        "history", parents=[common, deployed], help="versions kept for a watch"
    )
    history.add_argument("id")
    history.add_argument("--json", action="store_true", help="one JSON object per version")
    diff = sub.add_parser("diff", parents=[common], help="text diff between two versions")
    diff.add_argument("id")
    diff.add_argument("--from", dest="from_version", metavar="V", help="version (or prefix)")
    diff.add_argument("--to", dest="to_version", metavar="V", help="version (or prefix)")
    _show_parser(sub, common, deployed)
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
    verify.add_argument(
        "--tsa-ca",
        metavar="PEM",
        action="append",
        type=Path,
        default=[],
        help="a timestamp authority's CA certificate: every token must be signed under one",
    )
    push = sub.add_parser(
        "push",
        parents=[common],
        help="validate the watch list and hand it to a deployed stack (no build, no deploy)",
    )
    target = push.add_mutually_exclusive_group()
    target.add_argument("--stack", help="the deployed stack's name")
    target.add_argument("--bucket", help="its evidence bucket")
    from .contact import add_parser as add_contact

    add_contact(sub, common)
    from .report import add_parser as add_report

    add_report(sub, common, deployed)
    demo = sub.add_parser("demo", parents=[common], help="watch a local site scrub itself")
    demo.add_argument(
        "--keep", action="store_true", help="keep the demo's state folder (a temporary one)"
    )
    demo.add_argument(
        "--serve",
        metavar="DIR",
        type=Path,
        help="serve the demo site until Ctrl-C, with a watch list for it in DIR, to try "
        "each command by hand",
    )
    demo.add_argument("--port", type=int, default=8731, help="the port --serve listens on")


def _show_parser(
    sub: Any, common: argparse.ArgumentParser, deployed: argparse.ArgumentParser
) -> None:
    show = sub.add_parser("show", parents=[common, deployed], help="what a kept version said")
    show.add_argument("id")
    show.add_argument("--version", metavar="V", help="version (or prefix); default the latest")
    part = show.add_mutually_exclusive_group()
    part.add_argument("--text", dest="part", action="store_const", const="text", default="text")
    part.add_argument("--html", dest="part", action="store_const", const="html")
    part.add_argument("--headers", dest="part", action="store_const", const="headers")
    part.add_argument(
        "--dom",
        dest="part",
        action="store_const",
        const="dom",
        help="the page as the browser built it (render: browser)",
    )
    part.add_argument(
        "--screenshot",
        metavar="FILE",
        type=Path,
        help="write the version's screenshot (render: browser) to FILE, a PNG",
    )
    part.add_argument(
        "--discovery",
        dest="part",
        action="store_const",
        const="discovery",
        help="what a watch's look at its pages decided on that check (added, unlinked, skipped)",
    )


def _config_path(args: argparse.Namespace) -> Path:
    return Path(
        getattr(args, "config", None) or os.environ.get("SCRUBWATCH_CONFIG") or "watchlist.yaml"
    )


def _state_dir(args: argparse.Namespace, config: Path) -> Path:
    given = getattr(args, "state", None) or os.environ.get("SCRUBWATCH_STATE")
    return Path(given) if given else config.resolve().parent / ".scrubwatch"


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
        raise _disk_problem(exc, root / "lock") or _unusable_state(root, exc) from None
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
        raise _disk_problem(exc, root / DATABASE) or _unusable_state(root, exc) from None


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


def _discovered(watchlist: Watchlist, watch_id: str) -> bool:
    """``watch_id`` names a page one of the list's watches discovers (``parent/…``)."""
    parent = watchlist.get(watch_id.split("/", 1)[0]) if "/" in watch_id else None
    return parent is not None and parent.discover is not None


def _not_due(
    watchlist: Watchlist,
    lookup: Callable[[str], Watch | None],
    state: SqliteStateStore,
    ids: list[str],
) -> list[str]:
    """``ID is not due until HH:MM``, for each watch asked for by --only that was skipped."""
    import time

    from ..core.due import next_due
    from .status import clock

    out = []
    states = state.load(ids)
    for watch_id in ids:
        watch = lookup(watch_id)
        if watch is None:
            continue
        due = next_due(watch, states[watch_id], watchlist.settings.recheck)
        out.append(
            f"{watch_id} is not due until {clock(due, time.time())} (use --force to check it now)"
        )
    return out


def _publishers(
    watchlist: Watchlist,
    as_json: bool,
    progress: _Progress | None = None,
    state: SqliteStateStore | None = None,
    evidence: FolderEvidenceStore | None = None,
) -> list[Publisher]:
    from ..alerts.channels import (
        ConsolePublisher,
        JsonLinesPublisher,
        SlackPublisher,
        SmtpPublisher,
    )
    from ..core.routing import SLACK_WEBHOOK_ENV, routes
    from .pictures import before_after_of

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
            pictures = before_after_of(evidence) if evidence is not None else None
            out.append(
                SmtpPublisher(
                    settings.email, email, mark=_marker(state, "email"), pictures=pictures
                )
            )
        except ValueError as exc:
            raise UsageError(f"{watchlist.path}: {exc}") from None
    webhook = os.environ.get(SLACK_WEBHOOK_ENV) or settings.slack_webhook
    if webhook:
        out.append(SlackPublisher(webhook, slack, mark=_marker(state, "slack")))
    return out


def _marker(state: SqliteStateStore | None, channel: str) -> Callable[[Sequence[str]], None] | None:
    """Records events as delivered on ``channel`` as soon as their message is sent, not when
    the whole delivery ends: killed half-way, the next run resends none of them."""
    if state is None:
        return None

    def mark(event_ids: Sequence[str]) -> None:
        state.delivered(event_ids, channel)

    return mark


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or while handling, once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _disk_problem(exc: BaseException, database: Path) -> DiskProblem | None:
    """A full or read-only disk anywhere in the chain (a failed write, then a failed
    rollback), as one line naming the path: the file's own when the error names it, else
    the state database's (SQLite names none)."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in _DISK_FIXES:
            where = cause.filename or database
            why, fix = os.strerror(cause.errno), _DISK_FIXES[cause.errno]
        elif isinstance(cause, sqlite3.Error) and cause.sqlite_errorname == "SQLITE_FULL":
            where, why, fix = database, os.strerror(errno.ENOSPC), _DISK_FIXES[errno.ENOSPC]
        elif isinstance(cause, sqlite3.Error) and cause.sqlite_errorname.startswith(
            "SQLITE_READONLY"
        ):
            message = f"cannot write {database}: it is read-only; {_DISK_FIXES[errno.EROFS]}"
            return DiskProblem(message + " and run again", exit_code=2)
        elif isinstance(cause, sqlite3.Error) and cause.sqlite_errorname in _SQLITE_WRITE_FAILED:
            where, why = database, "disk I/O error"
            fix = "check the disk's free space, quota and file size limit,"
        else:
            continue
        read_only = isinstance(cause, OSError) and cause.errno == errno.EROFS
        return DiskProblem(
            f"cannot write {where}: {why}; {fix} and run again", exit_code=2 if read_only else 1
        )
    return None


def cmd_check(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    # The HTTP stack takes a third of a second to import; only `check` needs it.
    from ..check.engine import Engine
    from ..core.routing import delivery_problems
    from ..core.summary import summary

    # A channel named in notify but not set up would swallow its alerts without a word.
    problems = delivery_problems(watchlist, os.environ)
    if problems:
        raise ConfigError(problems)
    from ..check.timestamp import load_authorities

    authorities = load_authorities(watchlist)  # a certificate that cannot be read: exit 2

    unknown = [i for i in args.only if watchlist.get(i) is None and not _discovered(watchlist, i)]
    if unknown:
        raise UsageError(f"{watchlist.path}: no watch with id {', '.join(map(repr, unknown))}")
    with _run_lock(root) as locked:
        if not locked:
            print(f"scrubwatch: another check is running on {root}; skipping", file=sys.stderr)
            return 0
        progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
        backend = _writable_backend(root)
        try:
            with _disk_errors(root):
                publishers = _publishers(
                    watchlist, args.json, progress, backend.state, backend.evidence
                )
                engine = Engine(
                    watchlist,
                    backend.state,
                    backend.evidence,
                    publishers,
                    progress=progress,
                    authorities=authorities,
                    contacts=backend.state.contacts(),
                )
                report = engine.run(args.only, args.force)
                not_due = _not_due(watchlist, engine.watch, backend.state, report.not_due)
                owed = (
                    _contacts_owed(watchlist, root, backend.state.contacts()) if authorities else []
                )
        finally:
            if progress:
                progress.end()
            backend.close()
    out = sys.stderr if args.json else sys.stdout
    for line in not_due:
        print(line, file=out)
    if report.checked or not not_due:
        print(summary(report), file=out)
    for line in owed:
        print(f"scrubwatch: {line}", file=sys.stderr)
    return 0


def _contacts_owed(watchlist: Watchlist, root: Path, contacts: list[Any]) -> list[str]:
    """The contact records stamped now that an authority could not stamp before."""
    from .contact import stamp_owed

    return stamp_owed(watchlist, root / "evidence" / "contacts", contacts)


@contextlib.contextmanager
def _disk_errors(root: Path) -> Iterator[None]:
    """A full disk or a read-only state folder, said in one line (DiskProblem)."""
    try:
        yield
    except Exception as exc:
        problem = _disk_problem(exc, root / DATABASE)
        if problem is None:
            raise
        raise problem from None


def _read_as_newer(
    evidence: FolderEvidenceStore, watch_id: str, older: str, newer: str
) -> list[str] | None:
    """The older capture's text as the newer one's settings read it, when they differ."""
    import json

    from ..check.analyse import reread
    from ..core.reader import ReadSpec

    manifests = [json.loads(evidence.manifest(watch_id, v) or b"{}") for v in (older, newer)]
    settings = manifests[1].get("reading_settings")
    if not settings or manifests[0].get("settings_hash") == manifests[1].get("settings_hash"):
        return None
    if (manifests[0].get("reading_settings") or {}).get("render") != settings.get("render"):
        return None  # rendered otherwise: the older capture cannot be read the newer way
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
    on_terminal = sys.stdout.isatty()
    colour = on_terminal and not os.environ.get("NO_COLOR")
    for line in out.splitlines():
        if on_terminal:
            line = terminal.safe(line)  # the page's text must not drive the terminal
        if colour and line.startswith("+") and not line.startswith("+++"):
            line = f"\x1b[32m{line}\x1b[0m"
        elif colour and line.startswith("-") and not line.startswith("---"):
            line = f"\x1b[31m{line}\x1b[0m"
        print(line)
    if not out:
        print("(no difference in the extracted text)")
    return 0


# The libraries whose DEBUG lines (every header, every socket) would bury scrubwatch's own
# under -v; they stay at WARNING unless -vv asks for them.
_LIBRARIES = (
    "aiohttp",
    "asyncio",
    "boto3",
    "botocore",
    "charset_normalizer",
    "hpack",
    "httpcore",
    "httpx",
    "s3transfer",
    "urllib3",
)
# What a secret looks like in any URL, known or not: `user:password@` before a host, and
# the token that is a Slack incoming webhook's whole path.
_USERINFO = re.compile(r"(?<=://)[^\s/@]+@")
_SLACK_HOOK = re.compile(r"(hooks\.slack(?:-gov)?\.com/)[^\s'\"<>)]+")
_HIDDEN = "***"
_TRACEBACKS = logging.Formatter()


class _Redactor(logging.Filter):
    """Takes secrets out of every log line, whoever logs it and at any verbosity: the values
    this run knows (webhook URL, SMTP and proxy passwords, AWS keys) and whatever has the
    shape of one. Changes the record itself, so every handler gets the redacted line."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()

    def add(self, *values: str | None) -> None:
        self._values.update(v for v in values if v)

    def redact(self, text: str) -> str:
        # Longest first: a webhook URL goes whole, not path first leaving its host.
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, _HIDDEN)
        text = _USERINFO.sub(f"{_HIDDEN}@", text)
        return _SLACK_HOOK.sub(rf"\g<1>{_HIDDEN}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: logging would print both raw
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# One per process, as logging's own configuration is.
_redactor = _Redactor()


def _url_secrets(url: str | None, whole: bool) -> list[str]:
    """A URL's password (as written and decoded), and with ``whole`` the URL itself and its
    path, which for a webhook is the secret (a log may show the path without the host)."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return [url]
    found = [password, unquote(password)] if password else []
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if whole:
        found += [url, path if len(path) > 1 else ""]
    return found


def _hide_environ_secrets(environ: Mapping[str, str]) -> None:
    from ..core.routing import SLACK_WEBHOOK_ENV

    _redactor.add(*_url_secrets(environ.get(SLACK_WEBHOOK_ENV), whole=True))
    _redactor.add(environ.get("AWS_SECRET_ACCESS_KEY"), environ.get("AWS_SESSION_TOKEN"))


def _hide_watchlist_secrets(watchlist: Watchlist, environ: Mapping[str, str]) -> None:
    settings = watchlist.settings
    _redactor.add(*_url_secrets(settings.slack_webhook, whole=True))
    if settings.email is not None and settings.email.password_env:
        _redactor.add(environ.get(settings.email.password_env))
    for proxy in {settings.proxy, *(w.proxy for w in watchlist.watches)}:
        _redactor.add(*_url_secrets(proxy, whole=False))


def _logging(verbosity: int) -> None:
    """-v: scrubwatch's own DEBUG lines; -vv: every library's too. Secrets never show."""
    root = logging.getLogger()
    if not root.handlers:  # a program that set up logging itself keeps its own setup
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_redactor)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
        for name in _LIBRARIES:  # named too, in case one sets a level of its own
            level = logging.NOTSET if verbosity >= 2 else logging.WARNING
            logging.getLogger(name).setLevel(level)
    ours = logging.getLogger("scrubwatch")
    ours.setLevel(logging.DEBUG if verbosity else logging.NOTSET)
    # Also on our own logger, for the lines another program's handlers print.
    ours.addFilter(_redactor)
    _hide_environ_secrets(os.environ)


def _demo(args: argparse.Namespace) -> int:
    if getattr(args, "config", None):
        raise UsageError(
            "demo runs its own watch list against its own local site, so -c/--config does "
            "not apply; to check your watch list, run `scrubwatch check -c FILE`"
        )
    from .demo import run_demo, serve_demo

    if args.serve is not None:
        return serve_demo(args.serve, args.port)
    if args.port != 8731:
        raise UsageError("--port goes with --serve DIR")
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
    if args.command == "export":
        from .export import cmd_export

        return cmd_export(args, root)
    if args.command in ("history", "show", "verify"):
        from . import archive

        if args.command == "verify":
            args.configured_cas = archive.configured_cas(config)
        command = getattr(archive, f"cmd_{args.command}")
        code: int = command(args, root)
        return code
    if args.command == "diff":
        return cmd_diff(args, root)
    if args.command == "push":
        from .push import cmd_push

        return cmd_push(args, config)
    if args.command == "report":
        from .report import cmd_report

        # The evidence is reported from the state alone when no watch list is at hand
        # (a copy of the state folder): by watch id, or all that it keeps.
        return cmd_report(args, load_watchlist(config) if config.exists() else None, root, config)
    watchlist = load_watchlist(config)
    _hide_watchlist_secrets(watchlist, os.environ)
    if args.command == "validate":
        from .validate import cmd_validate

        return cmd_validate(args, watchlist)
    if args.command == "status":
        from .status import cmd_status

        return cmd_status(args, watchlist, root)
    if args.command == "contact":
        return cmd_contact(args, watchlist, root)
    return cmd_check(args, watchlist, root)


def cmd_contact(args: argparse.Namespace, watchlist: Watchlist, root: Path) -> int:
    """Records a contact, keeps what every page it concerns says now, and watches closely."""
    from ..check.engine import Engine
    from ..check.timestamp import load_authorities
    from ..core.routing import delivery_problems
    from ..core.summary import summary
    from .contact import print_said, record, stamp_record

    if args.stack:
        from .contact_stack import on_stack

        return on_stack(args, watchlist)
    problems = delivery_problems(watchlist, os.environ)
    if problems:
        raise ConfigError(problems)
    authorities = load_authorities(watchlist)
    with _run_lock(root) as locked:
        if not locked:
            raise UsageError(f"another check is running on {root}; record the contact after it")
        backend = _writable_backend(root)
        try:
            with _disk_errors(root):
                contact, new = record(args, watchlist, root / "evidence")
                backend.state.add_contact(contact)
                failed = stamp_record(watchlist, root / "evidence" / "contacts", contact)
                publishers = _publishers(watchlist, False, None, backend.state, backend.evidence)
                engine = Engine(
                    watchlist,
                    backend.state,
                    backend.evidence,
                    publishers,
                    authorities=authorities,
                    contacts=backend.state.contacts(),
                    capture_all=True,
                )
                report = engine.run(contact.watches, force=True)
        finally:
            backend.close()
    print_said(contact, new, report.checked, len(report.failures))
    for line in failed:
        print(f"scrubwatch: the contact's record has {line}", file=sys.stderr)
    print(summary(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _logging(getattr(args, "verbose", 0))
    try:
        return _dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"scrubwatch: {exc}", file=sys.stderr)
        return 2
    except DiskProblem as exc:
        # What was committed before stays; the next run repeats the rest.
        print(f"scrubwatch: {exc}", file=sys.stderr)
        return exc.exit_code
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
