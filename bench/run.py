"""End-to-end benchmark of ``scrubwatch check`` against a local loopback corpus.

Builds (or reuses) the corpus, starts ``server.py`` as a separate process, writes a watch
list pointing at it, then times four runs of the real command per repetition, all with
the same fresh state directory:

1. ``cold``        server in 304 mode, empty state: every page is new, evidence written;
2. ``warm-304``    same server, same state: conditional requests should all get 304;
3. ``warm-no304``  server restarted in no304 mode on the same port: full 200 bodies, no
                   validators, so every page is downloaded, parsed and compared;
4. ``warm-noisy``  server restarted in noisy mode: as no304, plus a fresh random token in
                   an HTML comment in <head> of every answer, so the bytes always differ.

With ``--against urlwatch``, urlwatch 2.29 (installed into ``bench/.urlwatch-venv`` on first
use) runs the equivalent job list on the same corpus and server, right after scrubwatch
in each step (scrubwatch cold, urlwatch cold, scrubwatch warm-304, ...), with its own
cache, config and hooks files in the work dir; a comparison table follows.

For each run it measures wall seconds, pages/s, user+sys CPU of the command (deltas of
``getrusage(RUSAGE_CHILDREN)``), peak RSS of the command's whole process tree (``/proc``
polled every 20 ms, summing the resident size of the process and all its descendants) and
the number of JSON events printed, plus the server-side request counters.

Only the standard library is used, so any Python 3.11 can run it:
``.venv/bin/python bench/run.py [--pages N] [--repeat K] [--scrubwatch PATH]``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import os
import platform
import re
import resource
import select
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import corpus  # noqa: E402

DEFAULT_SCRUBWATCH = REPO_DIR / ".venv" / "bin" / "scrubwatch"
URLWATCH_VERSION = "2.29"
URLWATCH_VENV = BENCH_DIR / ".urlwatch-venv"
DEFAULT_URLWATCH = URLWATCH_VENV / "bin" / "urlwatch"
URLWATCH_DEFAULT_WORKERS = 10  # urlwatch.worker.MAX_WORKERS (no option changes it)
RUNS = ("cold", "warm-304", "warm-no304", "warm-noisy")
SERVER_MODE = {"cold": "304", "warm-304": "304", "warm-no304": "no304", "warm-noisy": "noisy"}
# Order of the rows in the side-by-side table.
COMPARE_RUNS = ("cold", "warm-no304", "warm-noisy", "warm-304")
# Targets for the default 1000-page corpus (pages/s); see bench/README.md. warm-noisy has none.
TARGET_PPS = {"cold": 675.0, "warm-304": 4000.0, "warm-no304": 1000.0}
TARGET_RSS_MB = 120.0
READY_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.020
PSS_INTERVAL_S = 0.250
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
REAP_TIMEOUT_S = 30.0


class BenchError(RuntimeError):
    """A fatal, user-facing benchmark error (printed without a traceback)."""


# --- the loopback server -----------------------------------------------------------------


class ServerProcess:
    """``server.py`` in a child process; ``start()`` returns once it prints READY."""

    def __init__(self, root: Path, mode: str, hosts: int, port: int, log: Path) -> None:
        self.root = root
        self.mode = mode
        self.hosts = hosts
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._conn: http.client.HTTPConnection | None = None

    def start(self) -> int:
        cmd = [
            sys.executable,
            str(BENCH_DIR / "server.py"),
            "--root", str(self.root),
            "--mode", self.mode,
            "--hosts", str(self.hosts),
            "--port", str(self.port),
            "--parent-watch",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        assert self.proc.stdout is not None
        line = _read_line(self.proc.stdout.fileno(), READY_TIMEOUT_S)
        if not line.startswith("READY "):
            self.stop()
            tail = self.log.read_text("utf-8", "replace")[-2000:]
            raise BenchError(f"server did not start (got {line!r}); its log:\n{tail}")
        self.port = int(line.split()[1])
        return self.port

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stats(self) -> dict[str, Any]:
        """Counters from ``GET /__stats`` over one persistent connection."""
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self._conn.request("GET", "/__stats")
                resp = self._conn.getresponse()
                data: dict[str, Any] = json.loads(resp.read())
                return data
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _read_line(fd: int, timeout: float) -> str:
    """Read one line from a pipe, waiting at most ``timeout`` seconds (no sleeps)."""
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


# --- peak RSS of a process tree ----------------------------------------------------------


class TreeRssSampler(threading.Thread):
    """Polls /proc and records the peak summed RSS (and PSS) of ``root`` and its descendants.

    RSS is the statm resident size (= VmRSS) summed over the tree, which counts pages shared
    between processes (libraries, fork copy-on-write) once per process; PSS (smaps_rollup)
    splits shared pages between their users, so the summed PSS is the tree's real footprint.

    /proc/PID/task/TID/children is not available on every kernel, so the tree is rebuilt
    from the parent pid field of /proc/PID/stat; each pid's parent is read once and cached
    while the pid exists, so a tick costs one listdir plus one statm read per tree member
    (~0.2 ms). PSS is costlier to read and is sampled every PSS_INTERVAL_S only.
    """

    def __init__(self, root: int, interval: float = POLL_INTERVAL_S) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_procs = 0
        self.samples = 0
        self._stop_event = threading.Event()
        self._ppid: dict[int, int] = {}
        self._last_pss = -PSS_INTERVAL_S

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def run(self) -> None:
        while True:
            self.sample()
            if self._stop_event.wait(self.interval):
                return

    def sample(self) -> None:
        children = _children_map(self._ppid)
        total = 0
        members: list[int] = []
        stack = [self.root]
        while stack:
            pid = stack.pop()
            rss = _read_rss(pid)
            if rss is None:
                continue
            total += rss
            members.append(pid)
            stack.extend(children.get(pid, ()))
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes = total
            self.peak_procs = len(members)
        # smaps_rollup walks page tables (~2.5 ms per 200 MB): sample it less often.
        now = time.monotonic()
        if now - self._last_pss >= PSS_INTERVAL_S:
            self._last_pss = now
            pss = sum(_read_pss(pid) for pid in members)
            self.peak_pss_bytes = max(self.peak_pss_bytes, pss)


def _children_map(cache: dict[int, int]) -> dict[int, list[int]]:
    """Parent pid -> child pids for every live process; ``cache`` keeps pid -> ppid."""
    pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
    for gone in cache.keys() - pids:
        del cache[gone]
    for pid in pids - cache.keys():
        parent = _read_ppid(pid)
        if parent is not None:
            cache[pid] = parent
    children: dict[int, list[int]] = {}
    for pid, parent in cache.items():
        children.setdefault(parent, []).append(pid)
    return children


def _read_ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm (field 2) may contain spaces/parens: the state and ppid follow the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _read_pss(pid: int) -> int:
    """Proportional set size in bytes from smaps_rollup; 0 if gone or unavailable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _read_rss(pid: int) -> int | None:
    """Resident set size in bytes (statm field 2 = VmRSS in pages); None if gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


# --- CPU accounting for orphaned descendants ----------------------------------------------


def become_subreaper() -> bool:
    """Adopt our orphaned descendants instead of letting init inherit them.

    ``getrusage(RUSAGE_CHILDREN)`` only counts processes that were waited for along an
    unbroken chain. A multiprocessing forkserver, for one, is not waited for by the tool:
    it outlives it, and with it the CPU time of every worker it reaped. As a subreaper we
    inherit such processes and reap them ourselves (``reap_adopted``), so their CPU is
    counted.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_adopted(keep: Collection[int], timeout: float) -> int:
    """Wait for and reap every child of ours not in ``keep``; kill them after ``timeout``.

    Returns how many were reaped.
    """
    me = os.getpid()
    deadline = time.monotonic() + timeout
    skip = set(keep)
    reaped = 0
    while True:
        # A fresh ppid map each pass: adopted processes have just changed parent.
        adopted = [pid for pid in _children_map({}).get(me, []) if pid not in skip]
        if not adopted:
            return reaped
        overdue = time.monotonic() > deadline
        for pid in adopted:
            if overdue:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                done, _ = os.waitpid(pid, 0 if overdue else os.WNOHANG)
            except ChildProcessError:
                skip.add(pid)  # raced with someone else's wait, or not really ours
                continue
            reaped += done != 0
        if not overdue:
            _wait_exit(adopted[0], min(0.1, max(0.0, deadline - time.monotonic())))


def _wait_exit(pid: int, timeout: float) -> None:
    """Block until ``pid`` exits or ``timeout`` passes (pidfd: no sleep-polling)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


# --- one timed run -----------------------------------------------------------------------


@dataclass
class RunResult:
    run: str
    rep: int
    pages: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    adopted: int
    peak_procs: int
    rss_samples: int
    events: int
    non_json_lines: int
    event_kinds: dict[str, int]
    exit_code: int
    server: dict[str, Any] = field(default_factory=dict)
    state_mb: float = 0.0
    tool: str = "scrubwatch"

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000.0 * self.cpu_s / self.pages


def _event_kind(event: Any) -> str:
    if isinstance(event, dict):
        for key in ("type", "kind", "event", "change", "status"):
            value = event.get(key)
            if isinstance(value, str):
                return value
    return "?"


def json_event(text: str) -> str | None:
    """scrubwatch ``--json``: one JSON object per event line; None for any other line."""
    try:
        event = json.loads(text)
    except ValueError:
        return None
    return _event_kind(event)


# urlwatch's text report numbers one summary line per reported job: "01. NEW: <url>".
_URLWATCH_SUMMARY = re.compile(r"^\d+\. (NEW|CHANGED|ERROR|UNCHANGED): ")


def urlwatch_event(text: str) -> str | None:
    """urlwatch's stdout report: the kind of a summary line, None for any other line."""
    m = _URLWATCH_SUMMARY.match(text)
    return m.group(1).lower() if m else None


def run_command(
    cmd: list[str],
    run: str,
    rep: int,
    pages: int,
    workdir: Path,
    timeout: float,
    keep: Collection[int] = (),
    tool: str = "scrubwatch",
    classify: Callable[[str], str | None] = json_event,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``cmd`` once, timing it and sampling its process tree's RSS.

    ``keep``: pids of our other children (the server), never reaped here. ``classify``
    maps a stdout line to an event kind, or None if the line is not an event.
    """
    events_path = workdir / f"events-{rep}-{run}-{tool}.txt"
    stderr_path = workdir / f"stderr-{rep}-{run}-{tool}.log"
    counts = {"events": 0, "other": 0}
    kinds: Counter[str] = Counter()

    def pump(stream: TextIO, out: TextIO) -> None:
        for line in stream:
            out.write(line)
            text = line.strip()
            if not text:
                continue
            kind = classify(text)
            if kind is None:
                counts["other"] += 1
                continue
            counts["events"] += 1
            kinds[kind] += 1

    with events_path.open("w", encoding="utf-8") as out, stderr_path.open("wb") as err:
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            text=True, encoding="utf-8", errors="replace", start_new_session=True, env=env,
        )  # fmt: skip
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        assert proc.stdout is not None
        reader = threading.Thread(target=pump, args=(proc.stdout, out), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, keep)
            raise BenchError(
                f"{tool} {run}: command still running after {timeout:.0f}s, killed; "
                f"see {stderr_path}"
            ) from None
        except BaseException:
            _kill_group(proc, keep)
            raise
        finally:
            sampler.stop()
        t1 = time.perf_counter()
        adopted = reap_adopted(keep, REAP_TIMEOUT_S)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        reader.join(timeout=30)
    if code != 0:
        tail = stderr_path.read_text("utf-8", "replace")[-3000:]
        raise BenchError(f"{tool} {run}: `{' '.join(cmd)}` exited {code}; stderr tail:\n{tail}")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return RunResult(
        run=run,
        rep=rep,
        pages=pages,
        wall_s=t1 - t0,
        cpu_s=cpu,
        peak_rss_mb=sampler.peak_bytes / 2**20,
        peak_pss_mb=sampler.peak_pss_bytes / 2**20,
        adopted=adopted,
        peak_procs=sampler.peak_procs,
        rss_samples=sampler.samples,
        events=counts["events"],
        non_json_lines=counts["other"],
        event_kinds=dict(kinds),
        exit_code=code,
        tool=tool,
    )


def _kill_group(proc: subprocess.Popen[str], keep: Collection[int]) -> None:
    """Kill the command and everything in its session (it was started as group leader)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    reap_adopted(keep, 0.0)


def _stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    status = {
        k: after["status"].get(k, 0) - before["status"].get(k, 0)
        for k in set(after["status"]) | set(before["status"])
    }
    return {
        "requests": after["requests"] - before["requests"],
        "connections": after["connections"] - before["connections"],
        "body_mb": (after["body_bytes"] - before["body_bytes"]) / 2**20,
        "status": {k: v for k, v in sorted(status.items()) if v},
        "cpu_s": after["cpu_s"] - before["cpu_s"],
    }


def _dir_mb(path: Path) -> float:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / 2**20


# --- watch list --------------------------------------------------------------------------


def write_watchlist(
    path: Path, manifest: dict[str, Any], port: int, args: argparse.Namespace
) -> None:
    """Write the YAML watch list (hand-rolled: JSON strings are valid YAML scalars)."""
    q = json.dumps
    lines = [
        "settings:",
        f"  concurrency: {args.concurrency}",
        f"  per_host: {args.per_host}",
        '  allow_networks: ["127.0.0.0/8"]',
        "  timeout: 20s",
        "  max_bytes: 10MB",
        "watches:",
    ]
    for i, entry in enumerate(manifest["files"]):
        url = f"http://127.0.0.{1 + i % args.hosts}:{port}/{entry['file']}"
        lines.append(f"  - id: {q(entry['id'])}")
        lines.append(f"    url: {q(url)}")
        select, items = corpus.watch_selectors(i, args.watch_style)
        if select:
            lines.append(f"    select: {q(select)}")
        if items:
            lines.append(f"    items: {q(items)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- urlwatch, for comparison -----------------------------------------------------------


def ensure_urlwatch(exe: Path) -> Path:
    """The urlwatch executable; installs urlwatch into ``bench/.urlwatch-venv`` if the
    default path is missing (``python3 -m venv`` + ``pip install urlwatch==2.29``)."""
    exe = exe.expanduser()
    if not exe.is_file() and exe.absolute() == DEFAULT_URLWATCH:
        python3 = shutil.which("python3") or sys.executable
        print(f"installing urlwatch {URLWATCH_VERSION} into {URLWATCH_VENV} ...", flush=True)
        steps = [
            [python3, "-m", "venv", str(URLWATCH_VENV)],
            [str(URLWATCH_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
             f"urlwatch=={URLWATCH_VERSION}"],
        ]  # fmt: skip
        for step in steps:
            if subprocess.run(step, check=False).returncode != 0:
                raise BenchError(f"installing urlwatch failed: `{' '.join(step)}`")
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise BenchError(f"urlwatch executable not found at {exe}; pass --urlwatch PATH")
    return exe.absolute()


def write_urlwatch_files(
    folder: Path, manifest: dict[str, Any], port: int, args: argparse.Namespace
) -> tuple[Path, Path, Path]:
    """The job list, config and hooks files for urlwatch; returns their paths.

    One ``url`` job per page, equivalent to the scrubwatch watch: a ``css`` filter for the
    region the watch selects (``#main`` for the select and items styles, nothing for a
    whole-page watch), then ``html2text`` (its default ``re`` method: strip the tags), and
    the page's charset as ``encoding``. JSON is valid YAML, so each job is a JSON document.
    """
    q = json.dumps
    jobs = []
    for i, entry in enumerate(manifest["files"]):
        url = f"http://127.0.0.{1 + i % args.hosts}:{port}/{entry['file']}"
        select, _items = corpus.watch_selectors(i, args.watch_style)
        filters: list[dict[str, str]] = [{"css": select}] if select else []
        filters.append({"html2text": "re"})
        job = {
            "name": entry["id"],
            "url": url,
            "filter": filters,
            "encoding": entry["charset"],
            "timeout": 20,
        }
        jobs.append(q(job))
    urls = folder / "jobs.yaml"
    urls.write_text("\n---\n".join(jobs) + "\n", encoding="utf-8")
    # Only the stdout reporter (colour off); urlwatch merges this with its defaults, in
    # which every other reporter is disabled. Unchanged jobs are not shown.
    config = {
        "display": {"new": True, "error": True, "unchanged": False, "empty-diff": True},
        "report": {
            "text": {"details": True, "footer": True, "minimal": False, "line_length": 75},
            "stdout": {"enabled": True, "color": False},
        },
    }
    cfg = folder / "cfg.yaml"
    cfg.write_text(q(config, indent=1) + "\n", encoding="utf-8")
    # urlwatch's thread pool has a fixed size (urlwatch.worker.MAX_WORKERS = 10), read when
    # the jobs start, after the hooks file is loaded: a hooks file can change it.
    hooks = folder / "hooks.py"
    if args.urlwatch_workers != URLWATCH_DEFAULT_WORKERS:
        hooks.write_text(
            f"import urlwatch.worker\nurlwatch.worker.MAX_WORKERS = {args.urlwatch_workers}\n",
            encoding="utf-8",
        )
    return urls, cfg, hooks


def urlwatch_env(home: Path) -> dict[str, str]:
    """The environment for urlwatch: no proxies, and a private home (nothing of the user's
    own urlwatch set-up is read)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache")
    )
    return env


# --- reporting ---------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(results: list[RunResult], tool: str = "scrubwatch") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for run in RUNS:
        rs = [r for r in results if r.run == run and r.tool == tool]
        if not rs:
            continue
        kinds: Counter[str] = Counter()
        for r in rs:
            kinds.update(r.event_kinds)
        walls = [r.wall_s for r in rs]
        status: Counter[str] = Counter()
        for r in rs:
            status.update(r.server.get("status", {}))
        rows.append(
            {
                "tool": tool,
                "run": run,
                "pages": rs[0].pages,
                "repeats": len(rs),
                "wall_s": _median(walls),
                "best_wall_s": min(walls),
                "pages_per_s": _median([r.pages_per_s for r in rs]),
                "best_pages_per_s": max(r.pages_per_s for r in rs),
                "cpu_s": _median([r.cpu_s for r in rs]),
                "cpu_ms_per_page": _median([r.cpu_ms_per_page for r in rs]),
                "peak_rss_mb": max(r.peak_rss_mb for r in rs),
                "peak_pss_mb": max(r.peak_pss_mb for r in rs),
                "events": _median([float(r.events) for r in rs]),
                "event_kinds_per_rep": {k: v / len(rs) for k, v in sorted(kinds.items())},
                "status_per_rep": {k: v / len(rs) for k, v in sorted(status.items())},
                "connections": _median([float(r.server.get("connections", 0)) for r in rs]),
                "server_cpu_s": _median([float(r.server.get("cpu_s", 0.0)) for r in rs]),
                "body_mb": _median([float(r.server.get("body_mb", 0.0)) for r in rs]),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]], targets: bool = True) -> str:
    header = (
        "| run | pages | wall s (median) | best wall s | pages/s (median) | best pages/s "
        "| target pages/s | CPU s | CPU ms/page | peak RSS MB | peak PSS MB | events "
        "| HTTP 200/304 | conns | server CPU s | ok |"
    )
    sep = "|" + "---|" * header.count(" | ") + "---|"
    out = [header, sep]
    for row in rows:
        target = TARGET_PPS.get(row["run"]) if targets else None
        ok = (target is None or row["pages_per_s"] >= target) and (
            row["peak_rss_mb"] <= TARGET_RSS_MB
        )
        target_cell = f">= {target:,.0f}" if target is not None else "–"
        st = row["status_per_rep"]
        out.append(
            f"| {row['run']} | {row['pages']} | {row['wall_s']:.2f} | {row['best_wall_s']:.2f} "
            f"| {row['pages_per_s']:,.0f} | {row['best_pages_per_s']:,.0f} | {target_cell} "
            f"| {row['cpu_s']:.2f} | {row['cpu_ms_per_page']:.2f} | {row['peak_rss_mb']:.0f} "
            f"| {row['peak_pss_mb']:.0f} "
            f"| {row['events']:.0f} | {st.get('200', 0):.0f}/{st.get('304', 0):.0f} "
            f"| {row['connections']:.0f} | {row['server_cpu_s']:.2f} "
            f"| {('yes' if ok else 'NO') if targets else '–'} |"
        )
    return "\n".join(out)


def compare_table(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    """scrubwatch against urlwatch, one row per run. Both ratios: bigger = scrubwatch better."""
    by_run = {row["run"]: row for row in theirs}
    header = (
        "| run | scrubwatch pages/s | urlwatch pages/s | pages/s ratio sw/uw "
        "| scrubwatch CPU ms/page | urlwatch CPU ms/page | CPU ratio uw/sw "
        "| scrubwatch peak RSS MB | urlwatch peak RSS MB | events sw / uw "
        "| HTTP 200/304 sw / uw |"
    )
    sep = "|" + "---|" * header.count(" | ") + "---|"
    out = [header, sep]
    order = {run: k for k, run in enumerate(COMPARE_RUNS)}
    for row in sorted(ours, key=lambda r: order.get(r["run"], len(order))):
        other = by_run.get(row["run"])
        if other is None:
            continue
        pps = row["pages_per_s"] / other["pages_per_s"] if other["pages_per_s"] else 0.0
        cpu = other["cpu_ms_per_page"] / row["cpu_ms_per_page"] if row["cpu_ms_per_page"] else 0.0
        st, ot = row["status_per_rep"], other["status_per_rep"]
        out.append(
            f"| {row['run']} | {row['pages_per_s']:,.0f} | {other['pages_per_s']:,.0f} "
            f"| {pps:.2f} | {row['cpu_ms_per_page']:.2f} | {other['cpu_ms_per_page']:.2f} "
            f"| {cpu:.2f} | {row['peak_rss_mb']:.0f} | {other['peak_rss_mb']:.0f} "
            f"| {row['events']:.0f} / {other['events']:.0f} "
            f"| {st.get('200', 0):.0f}/{st.get('304', 0):.0f} / "
            f"{ot.get('200', 0):.0f}/{ot.get('304', 0):.0f} |"
        )
    return "\n".join(out)


def sanity_warnings(rows: list[dict[str, Any]]) -> list[str]:
    warnings = [f"{row['tool']} {w}" for row in rows for w in _row_warnings(row)]
    return warnings


def _row_warnings(row: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    st, pages = row["status_per_rep"], row["pages"]
    errors = row.get("event_kinds_per_rep", {}).get("error", 0)
    if errors:
        warnings.append(f"{row['run']}: {errors:.0f} pages reported as errors")
    if row["run"] == "cold" and row["events"] < pages:
        warnings.append(f"cold: {row['events']:.0f} events for {pages} new pages")
    if row["run"] == "warm-304" and st.get("304", 0) < pages:
        warnings.append(
            f"warm-304: only {st.get('304', 0):.0f}/{pages} requests answered 304 "
            "(are conditional requests sent?)"
        )
    if row["run"] in ("warm-no304", "warm-noisy") and st.get("200", 0) < pages:
        warnings.append(f"{row['run']}: only {st.get('200', 0):.0f}/{pages} full 200s")
    if row["run"] != "cold" and row["events"] > 0:
        warnings.append(f"{row['run']}: {row['events']:.0f} events on an unchanged corpus")
    if row["server_cpu_s"] > 0.8 * row["wall_s"]:
        warnings.append(
            f"{row['run']}: server used {row['server_cpu_s']:.2f} CPU s in "
            f"{row['wall_s']:.2f} s wall: it may be the bottleneck"
        )
    return warnings


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _tool_version(exe: Path) -> str:
    """``scrubwatch --version``, else the installed distribution's version, else unknown."""
    candidates = [[str(exe), "--version"]]
    python = exe.parent / "python"
    if python.exists():
        code = "import importlib.metadata as m; print('scrubwatch', m.version('scrubwatch'))"
        candidates.append([str(python), "-c", code])
    for cmd in candidates:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        lines = out.stdout.strip().splitlines()
        if out.returncode == 0 and lines:
            return lines[0]
    return "scrubwatch (version unknown)"


def _urlwatch_version(exe: Path) -> str:
    try:
        out = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "urlwatch (version unknown)"
    return out.stdout.strip() or "urlwatch (version unknown)"


def byte_compile(exe: Path) -> None:
    """Compiles the tool's package once, as pip does for a normal install. An editable
    install run with PYTHONDONTWRITEBYTECODE=1 (as on this project's machines) would
    otherwise compile every one of its modules again at every start."""
    python = exe.parent / "python"
    if not python.exists():
        return
    code = (
        "import compileall, os, scrubwatch; "
        "compileall.compile_dir(os.path.dirname(scrubwatch.__file__), quiet=1)"
    )
    subprocess.run([str(python), "-c", code], timeout=120, check=False)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Benchmark `scrubwatch check` on a local loopback corpus."
    )
    ap.add_argument("--pages", type=int, default=corpus.DEFAULT_PAGES)
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (median reported)")
    ap.add_argument("--scrubwatch", type=Path, default=DEFAULT_SCRUBWATCH)
    ap.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    ap.add_argument("--hosts", type=int, default=20, help="loopback hosts 127.0.0.1..N")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host", type=int, default=8)
    ap.add_argument(
        "--watch-style",
        choices=corpus.WATCH_STYLES,
        default="mix",
        help="mix: 80%% select+items, 10%% select only, 10%% whole page",
    )
    ap.add_argument("--corpus-dir", type=Path, default=BENCH_DIR / ".corpus")
    ap.add_argument("--run-timeout", type=float, default=900.0, help="seconds per command run")
    ap.add_argument("--json-out", type=Path, help="also write all results as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (state, logs)")
    ap.add_argument(
        "--against",
        choices=("urlwatch",),
        help=f"also run urlwatch {URLWATCH_VERSION} on the same corpus, alternating",
    )
    ap.add_argument(
        "--urlwatch",
        type=Path,
        default=DEFAULT_URLWATCH,
        help="urlwatch executable (default: bench/.urlwatch-venv, installed if missing)",
    )
    ap.add_argument(
        "--urlwatch-workers",
        type=int,
        default=URLWATCH_DEFAULT_WORKERS,
        help="urlwatch's thread pool size (its built-in 10; other values via a hooks file)",
    )
    args = ap.parse_args(argv)
    if args.pages < 1 or args.repeat < 1 or not 1 <= args.hosts <= 250:
        ap.error("--pages and --repeat must be >= 1, --hosts 1..250")
    if args.urlwatch_workers < 1:
        ap.error("--urlwatch-workers must be >= 1")
    return args


def check_binary(exe: Path) -> Path:
    exe = exe.expanduser()
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise BenchError(
            f"scrubwatch executable not found at {exe}.\n"
            "Install it first (`make -C /work/main install`, which creates .venv), "
            "or pass --scrubwatch PATH."
        )
    return exe.absolute()  # keep the venv's bin/ path: resolving symlinks would escape it


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the cleanup `finally`s


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    exe = check_binary(args.scrubwatch)
    byte_compile(exe)
    urlwatch = ensure_urlwatch(args.urlwatch) if args.against == "urlwatch" else None
    if not Path("/proc/self/statm").exists():
        raise BenchError("this benchmark needs Linux /proc to measure RSS")
    if not become_subreaper():
        print(
            "warning: prctl(PR_SET_CHILD_SUBREAPER) failed: CPU of processes the tool "
            "leaves behind (e.g. a forkserver) will be missing",
            file=sys.stderr,
        )

    t = time.perf_counter()
    corpus_dir, manifest, built = corpus.ensure_corpus(args.corpus_dir, args.pages, args.seed)
    how = f"built in {time.perf_counter() - t:.1f}s" if built else "cached"
    print(f"corpus: {corpus_dir} ({how}): {corpus.summarize(manifest)}", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="scrubwatch-bench-"))
    server_log = workdir / "server.log"
    results: list[RunResult] = []
    server: ServerProcess | None = None
    port = 0
    try:
        for rep in range(args.repeat):
            state = workdir / f"state-{rep}"
            state.mkdir()
            watchlist = workdir / "watchlist.yaml"
            uw_dir = workdir / f"urlwatch-{rep}"
            uw_dir.mkdir()
            for run in RUNS:
                mode = SERVER_MODE[run]
                if server is None or server.mode != mode:
                    if server is not None:
                        server.stop()
                    server = ServerProcess(corpus_dir, mode, args.hosts, port, server_log)
                    port = server.start()
                    if not watchlist.exists():
                        write_watchlist(watchlist, manifest, port, args)
                steps: list[tuple[str, list[str], Path, Callable[[str], str | None], Any]] = [
                    (
                        "scrubwatch",
                        [str(exe), "check", "-c", str(watchlist), "--state", str(state),
                         "--force", "--json"],
                        state, json_event, None,
                    ),
                ]  # fmt: skip
                if urlwatch is not None:
                    urls, cfg, hooks = write_urlwatch_files(uw_dir, manifest, port, args)
                    cache = uw_dir / "cache.db"
                    steps.append(
                        (
                            "urlwatch",
                            [str(urlwatch), "--urls", str(urls), "--config", str(cfg),
                             "--hooks", str(hooks), "--cache", str(cache)],
                            uw_dir, urlwatch_event, urlwatch_env(uw_dir),
                        )
                    )  # fmt: skip
                for tool, cmd, state_dir, classify, env in steps:
                    before = server.stats()
                    result = run_command(
                        cmd, run, rep, args.pages, workdir, args.run_timeout,
                        keep={server.pid}, tool=tool, classify=classify, env=env,
                    )  # fmt: skip
                    result.server = _stats_delta(before, server.stats())
                    result.state_mb = _dir_mb(state_dir)
                    results.append(result)
                    _progress(result, args.repeat)
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report(results, args, exe, urlwatch)
    return 0


def _progress(result: RunResult, repeat: int) -> None:
    print(
        f"{result.tool:<10} rep {result.rep + 1}/{repeat} {result.run:<10} "
        f"{result.wall_s:7.2f}s "
        f"{result.pages_per_s:8.0f} pages/s  cpu {result.cpu_s:6.2f}s  "
        f"rss {result.peak_rss_mb:4.0f} MB pss {result.peak_pss_mb:4.0f} MB "
        f"({result.peak_procs} procs, {result.rss_samples} samples, "
        f"{result.adopted} adopted)  events {result.events} "
        f"{dict(sorted(result.event_kinds.items()))}  "
        f"http {result.server['status']} conns {result.server['connections']}  "
        f"state {result.state_mb:.1f} MB",
        flush=True,
    )


def report(
    results: list[RunResult], args: argparse.Namespace, exe: Path, urlwatch: Path | None
) -> None:
    rows = summarize(results)
    print()
    print(
        f"{_tool_version(exe)} ({exe}) · {args.pages} pages over {args.hosts} loopback "
        f"hosts · concurrency {args.concurrency}/per-host {args.per_host} · "
        f"watch style {args.watch_style} · {args.repeat} repeat(s) · "
        f"{_cpu_model()} x {os.cpu_count()} · Python {platform.python_version()}"
    )
    print()
    print(markdown_table(rows))
    uw_rows: list[dict[str, Any]] = []
    if urlwatch is not None:
        uw_rows = summarize(results, "urlwatch")
        print()
        print(
            f"{_urlwatch_version(urlwatch)} ({urlwatch}) · same corpus and server · "
            f"{args.urlwatch_workers} worker threads · css + html2text(re) + encoding per job"
        )
        print()
        print(markdown_table(uw_rows, targets=False))
        print()
        print("side by side (ratios: bigger = scrubwatch better)")
        print()
        print(compare_table(rows, uw_rows))
    warnings = sanity_warnings(rows + uw_rows)
    if warnings:
        print()
        for w in warnings:
            print(f"warning: {w}")
    if args.json_out:
        payload = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "rows": rows + uw_rows,
            "runs": [asdict(r) | {"pages_per_s": r.pages_per_s} for r in results],
        }
        args.json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
