"""Benchmark of ``render: browser``: rendered pages per second and peak memory.

Serves N pages (default 100) on 127.0.0.1 from a thread of this process. Each page is an
empty shell: an inline script fetches ``/api/pNNN.json`` by XHR and builds its list of
20–60 ``<li class="job">`` from it; a shared stylesheet and some inline CSS style it. The
content depends only on the page's number.

Rows, each a timed run of a command (a fresh state for each repetition and each
``browser_pages`` value), each tool's pair in this order:

- ``scrubwatch cold``: ``scrubwatch check -c WATCHLIST --state DIR --json``, the first
  check: every page is rendered (N first sightings expected).
- ``scrubwatch changed``: one ad removed from the JSON of every tenth page, then the same
  with ``--force``: every page is rendered again, N/10 ``changed`` events expected.
- ``scrubwatch-plain``: the same pages and change read as sent, without ``render``, for
  scale: the list is empty then, so the change cannot be seen (0 events).
- ``urlwatch`` (``--against urlwatch``): urlwatch 2.29's browser jobs (``navigate:``) on
  the same pages, its code unmodified, at ``--urlwatch-workers`` threads (each job starts
  a Playwright driver and a browser of its own). Its Playwright looks for the browser
  ``playwright install`` would download, which cannot be downloaded here;
  ``PLAYWRIGHT_BROWSERS_PATH`` names a folder of ours where the file it looks for is a
  link to Debian's Chromium (``fake_browsers_path``).

Each run is measured as a whole process tree: the command, its workers, Playwright's
Node.js driver and every Chromium process (see ``TreeSampler``). Loopback only.

Usage: ``.venv/bin/python bench/render.py [--pages 100] [--pages-open 1,2,4] [--repeat K]
[--against urlwatch [--urlwatch-workers 4,10]] [--json-out PATH] [--keep]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    DEFAULT_SCRUBWATCH,
    DEFAULT_URLWATCH,
    PAGE_SIZE,
    BenchError,
    _children_map,
    _cpu_model,
    _kill_group,
    _terminate,
    become_subreaper,
    byte_compile,
    check_binary,
    ensure_urlwatch,
    json_event,
    reap_adopted,
    urlwatch_env,
    urlwatch_event,
)

SAMPLE_INTERVAL_S = 0.050
REAP_TIMEOUT_S = 30.0
JOBS_MIN, JOBS_MAX = 20, 60
CHANGE_EVERY = 10  # one page in ten loses an ad before the second run
URLWATCH_DEFAULT_WORKERS = 10  # urlwatch.worker.MAX_WORKERS: one browser per thread
DEBIAN_CHROMIUM = "/usr/lib/chromium/chromium"

TITLES = (
    "Firmware Engineer", "Process Technician", "Line Supervisor", "Quality Inspector",
    "Warehouse Operator", "Optical Assembler", "Data Annotator", "Maintenance Fitter",
    "Logistics Planner", "Sewing Machinist", "Forklift Driver", "Test Engineer",
)  # fmt: skip
CITIES = ("Urumqi", "Kashgar", "Hotan", "Aksu", "Shenzhen", "Hangzhou", "Chengdu", "Dongguan")
COLOURS = ("#234", "#2a4d3c", "#5b2333", "#3b3561", "#6b4e16", "#1d4e63")

SITE_CSS = b"""body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:var(--accent);color:#fff;padding:18px 32px}
header nav a{color:#fff;margin-right:14px;text-decoration:none}
main{max-width:880px;margin:24px auto;padding:0 24px}
#jobs{list-style:none;padding:0}
#jobs li.job{display:grid;grid-template-columns:2fr 1fr 1fr;gap:8px;padding:10px 12px;
border-bottom:1px solid #ddd;background:#fff}
#jobs li.job:nth-child(odd){background:#f3f5f7}
#jobs .salary{text-align:right;font-variant-numeric:tabular-nums}
footer{font-size:12px;color:#777;padding:24px 32px}
"""

# Builds the list from the JSON the way a careers site's bundle would, by XHR.
PAGE_SCRIPT = """(function () {
  var xhr = new XMLHttpRequest();
  xhr.open("GET", "/api/%(id)s.json");
  xhr.onload = function () {
    var jobs = JSON.parse(xhr.responseText).jobs;
    var list = document.getElementById("jobs");
    jobs.forEach(function (job) {
      var li = document.createElement("li");
      li.className = "job";
      var a = document.createElement("a");
      a.href = "/jobs/" + job.id + ".html";
      a.textContent = job.title;
      var city = document.createElement("span");
      city.className = "city";
      city.textContent = job.city;
      var pay = document.createElement("span");
      pay.className = "salary";
      pay.textContent = job.salary;
      li.append(a, city, pay);
      list.appendChild(li);
    });
    document.getElementById("count").textContent = jobs.length + " open positions";
  };
  xhr.send();
})();"""


# --- the pages ---------------------------------------------------------------------------


def page_id(i: int) -> str:
    return f"p{i + 1:03d}"


def make_jobs(i: int) -> list[dict[str, str]]:
    """Page ``i``'s ads: 20–60 of them, from a generator seeded by ``i`` alone."""
    rng = random.Random(7919 * (i + 1))
    return [
        {
            "id": f"{page_id(i)}-{k:02d}",
            "title": rng.choice(TITLES),
            "city": rng.choice(CITIES),
            "salary": f"{rng.randrange(3, 15) * 1000:,} CNY",
        }
        for k in range(rng.randint(JOBS_MIN, JOBS_MAX))
    ]


def page_html(i: int) -> bytes:
    accent = COLOURS[i % len(COLOURS)]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Careers at Company {i + 1}</title>
<link rel="stylesheet" href="/static/site.css">
<style>:root{{--accent:{accent}}} h1{{font-weight:600;letter-spacing:.02em}}</style>
</head><body>
<header><h1>Company {i + 1}: careers</h1>
<nav><a href="/">Home</a><a href="/about.html">About</a><a href="/jobs/">Jobs</a></nav></header>
<main><p class="intro">Join our teams. <span id="count"></span></p>
<ul id="jobs"></ul></main>
<footer>Company {i + 1} · all rights reserved</footer>
<script>{PAGE_SCRIPT % {"id": page_id(i)}}</script>
</body></html>
""".encode()


def jobs_json(jobs: list[dict[str, str]]) -> bytes:
    return json.dumps({"jobs": jobs}, ensure_ascii=False).encode()


def changed_pages(pages: int) -> list[int]:
    return list(range(0, pages, CHANGE_EVERY))


class Site:
    """What the server answers, path -> (content type, body); thread-safe counters."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.files: dict[str, tuple[str, bytes]] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Every page as first served."""
        files = {"/static/site.css": ("text/css; charset=utf-8", SITE_CSS)}
        for i in range(self.pages):
            files[f"/{page_id(i)}.html"] = ("text/html; charset=utf-8", page_html(i))
            files[f"/api/{page_id(i)}.json"] = ("application/json", jobs_json(make_jobs(i)))
        self.files = files

    def remove_one_ad(self, pages: Iterable[int]) -> None:
        """The middle ad of each of ``pages`` taken off its JSON (the page is unchanged)."""
        for i in pages:
            jobs = make_jobs(i)
            del jobs[len(jobs) // 2]
            self.files[f"/api/{page_id(i)}.json"] = ("application/json", jobs_json(jobs))

    def count(self, kind: str) -> None:
        with self._lock:
            self.hits[kind] += 1

    def take_hits(self) -> dict[str, int]:
        with self._lock:
            hits, self.hits = dict(self.hits), Counter()
        return hits


def _kind(path: str) -> str:
    if path.startswith("/api/"):
        return "json"
    if path.endswith(".css"):
        return "css"
    return "html" if path.endswith(".html") else "other"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a browser expects
    server: SiteServer

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        site = self.server.site
        site.count(_kind(path))
        found = site.files.get(path)
        ctype, data = found or ("text/plain; charset=utf-8", b"not found\n")
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # No validators and no caching: every run reads every page and every JSON afresh.
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the progress lines


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Site) -> None:
        # Binding 127.0.0.1 only; the socket listens once the constructor returns, so
        # nothing has to wait for it.
        super().__init__(("127.0.0.1", 0), Handler)
        self.site = site

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def start_server(site: Site) -> SiteServer:
    server = SiteServer(site)
    threading.Thread(target=server.serve_forever, name="site", daemon=True).start()
    return server


# --- memory of a process tree ------------------------------------------------------------


class TreeSampler(threading.Thread):
    """The peak summed RSS and PSS of every descendant of this process.

    The bench is a child subreaper (``become_subreaper``) and serves its pages from a
    thread, so its descendants are exactly the command under test and whatever it started,
    including processes that left their parent: they are adopted by the bench and still
    counted. PSS (smaps_rollup) splits the pages Chromium's processes share between them:
    it is the tree's real footprint; summed RSS counts each shared page once per process.

    RSS (statm) is read every 50 ms: about 0.4 ms for 20 processes. smaps_rollup is not
    cheap in this sandbox: about 10 ms per Chromium process, 0.2 s a pass over a browser
    with 4 pages open (1.2 s over urlwatch's 10 browsers), and the processes it walks
    slow down. Read half the time (20 pages, six runs each way, alternated), the rendered
    run took a median 31 s instead of 25 s, and 17 % more CPU. So a PSS pass starts
    50 ms after the last one only if that one was quick (a run without a browser);
    otherwise so that passes take at most ``pss_share`` of the time (10 %: every 2 s or
    so with one browser open).
    A peak of PSS shorter than that gap can be missed; the RSS peak cannot.
    """

    def __init__(self, pss_share: float = 0.10) -> None:
        super().__init__(name="tree-sampler", daemon=True)
        self.pss_share = pss_share
        self.peak_rss = 0
        self.peak_pss = 0
        self.procs_at_peak = 0
        self.samples = 0
        self.pss_samples = 0
        self.cpu_s = 0.0  # this thread's own CPU: it shares the 2 cores with the command
        self.pss_from_rss = 0  # processes counted by their RSS (smaps_rollup refused)
        self._stop_event = threading.Event()
        self._ppid: dict[int, int] = {}
        self._next_pss = 0.0
        self._label: dict[int, str] = {}  # what each process is, for cpu_by_kind
        self._named: set[int] = set()  # those whose label is final
        self._cpu: dict[int, float] = {}

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        start = time.thread_time()
        while True:
            self.sample()
            self.cpu_s = time.thread_time() - start
            if self._stop_event.wait(SAMPLE_INTERVAL_S):
                return

    def sample(self) -> None:
        pids = descendants(os.getpid(), _children_map(self._ppid))
        rss = {pid: _rss(pid) for pid in pids}
        total = sum(rss.values())
        self.samples += 1
        if total > self.peak_rss:
            self.peak_rss, self.procs_at_peak = total, len(pids)
        for pid in pids:
            self._note_cpu(pid)
        if self.pss_share > 0 and time.monotonic() >= self._next_pss:
            self._pss_pass(rss)

    def _note_cpu(self, pid: int) -> None:
        """The CPU a process has used so far: the last value seen before it exits is
        kept (up to one tick of its CPU is missed)."""
        cpu = _cpu_seconds(pid)
        if cpu is None:
            return
        if pid not in self._named:
            # A child forked by Python or by a zygote has its parent's command line until
            # it runs its own (or, for a renderer, renames itself): a label is final once
            # two ticks agree.
            kind = process_kind(pid)
            if kind != "?":
                if self._label.get(pid) == kind and kind != "chromium zygote":
                    self._named.add(pid)
                self._label[pid] = kind
        self._cpu[pid] = cpu

    def cpu_by_kind(self) -> dict[str, float]:
        out: Counter[str] = Counter()
        for pid, cpu in self._cpu.items():
            out[self._label.get(pid, "?")] += cpu
        return {k: round(v, 2) for k, v in out.most_common()}

    def _pss_pass(self, rss: dict[int, int]) -> None:
        t0 = time.monotonic()
        total = 0
        for pid, resident in rss.items():
            pss = _pss(pid)
            if pss is None:
                self.pss_from_rss += 1
            total += resident if pss is None else pss
        took = time.monotonic() - t0
        self.pss_samples += 1
        self.peak_pss = max(self.peak_pss, total)
        self._next_pss = t0 + took + max(SAMPLE_INTERVAL_S, took / self.pss_share)


def descendants(root: int, children: dict[int, list[int]]) -> list[int]:
    out: list[int] = []
    stack = list(children.get(root, ()))
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: the fields after the last ')' are fixed.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (IndexError, ValueError):
        return None


def process_kind(pid: int) -> str:
    """What a process of the tree is, for the CPU breakdown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    if not argv[0]:
        return "?"  # exiting (a zombie has no command line)
    names = [os.path.basename(a.decode("utf-8", "replace")) for a in argv[:2]]
    text = b" ".join(argv)
    kind = re.search(rb"--type=([\w-]+)", text)
    if kind is not None:
        return "chromium " + kind.group(1).decode()
    if any("chrom" in n or "headless" in n for n in names[:1]):
        return "chromium browser"
    if names[0] == "node":
        return "playwright driver"
    if b"pool_worker" in text:
        return "scrubwatch worker"
    for tool in ("scrubwatch", "urlwatch"):
        if tool in names:
            return tool
    return names[0]


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0  # gone between the listing and the read


def _pss(pid: int) -> int | None:
    """PSS in bytes; None where smaps_rollup may not be read (the caller counts RSS)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (PermissionError, IndexError, ValueError):
        return None
    except OSError:
        return 0  # gone, or exiting (a zombie: ESRCH): its memory is freed
    return 0


# --- one timed run -----------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    run: str
    pages_open: int | None
    rep: int
    pages: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    procs_at_peak: int
    samples: int
    sampler_cpu_s: float
    pss_samples: int
    pss_from_rss: int
    cpu_by_kind: dict[str, float]
    events: int
    kinds: dict[str, int]
    hits: dict[str, int] = field(default_factory=dict)
    summary: str = ""
    # The machine's 1-minute load when the run began: others' work shows in the times.
    load_before: float = 0.0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0


@dataclass
class Step:
    """What to run and how to read its output."""

    tool: str
    run: str
    pages_open: int | None
    cmd: list[str]
    classify: Callable[[str], str | None] = json_event
    env: dict[str, str] | None = None


def timed_run(
    step: Step, rep: int, pages: int, work: Path, timeout: float, pss_share: float
) -> Run:
    """Runs ``step.cmd`` once: wall time, CPU of the whole tree, peak memory, events."""
    tag = f"{step.tool}-{step.run}-{step.pages_open or 0}-{rep}"
    out_path, err_path = work / f"{tag}.out", work / f"{tag}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        load = os.getloadavg()[0]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler = TreeSampler(pss_share)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            step.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True, env=step.env,
        )  # fmt: skip
        sampler.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, ())
            raise BenchError(f"{tag}: still running after {timeout:.0f}s, killed") from None
        except BaseException:
            _kill_group(proc, ())
            raise
        finally:
            wall = time.perf_counter() - t0
            sampler.stop()
        # Reaping what the command left behind brings its CPU into RUSAGE_CHILDREN.
        reap_adopted((), REAP_TIMEOUT_S)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stderr = err_path.read_text("utf-8", "replace")
    if code != 0:
        raise BenchError(f"{tag}: `{' '.join(step.cmd)}` exited {code}:\n{stderr[-3000:]}")
    kinds = _kinds(out_path, step.classify)
    return Run(
        tool=step.tool,
        run=step.run,
        pages_open=step.pages_open,
        rep=rep,
        pages=pages,
        wall_s=wall,
        cpu_s=(ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
        peak_rss_mb=sampler.peak_rss / 2**20,
        peak_pss_mb=sampler.peak_pss / 2**20,
        procs_at_peak=sampler.procs_at_peak,
        samples=sampler.samples,
        sampler_cpu_s=sampler.cpu_s,
        pss_samples=sampler.pss_samples,
        pss_from_rss=sampler.pss_from_rss,
        cpu_by_kind=sampler.cpu_by_kind(),
        events=sum(kinds.values()),
        kinds=kinds,
        summary=_last_line(stderr),
        load_before=load,
    )


def _kinds(path: Path, classify: Callable[[str], str | None]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for line in path.read_text("utf-8", "replace").splitlines():
        kind = classify(line.strip()) if line.strip() else None
        if kind is not None:
            kinds[kind] += 1
    return dict(sorted(kinds.items()))


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


# --- scrubwatch's watch lists ------------------------------------------------------------


def write_watchlist(path: Path, port: int, pages: int, pages_open: int | None) -> None:
    """The watch list: rendered with ``browser_pages: pages_open``, or plain when None."""
    lines = ["settings:", '  allow_networks: ["127.0.0.0/8"]']
    if pages_open is not None:
        lines.append(f"  browser_pages: {pages_open}")
    lines.append("watches:")
    for i in range(pages):
        lines += [
            f"  - id: {page_id(i)}",
            f"    url: http://127.0.0.1:{port}/{page_id(i)}.html",
            '    items: "#jobs li.job"',
        ]
        if pages_open is not None:
            lines.append('    render: {wait_for: "#jobs li.job"}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def scrubwatch_steps(
    exe: Path, watchlist: Path, state: Path, pages_open: int | None
) -> tuple[Step, Step]:
    tool = "scrubwatch" if pages_open is not None else "scrubwatch-plain"
    base = [str(exe), "check", "-c", str(watchlist), "--state", str(state), "--json"]
    return (
        Step(tool, "cold", pages_open, base),
        Step(tool, "changed", pages_open, [*base, "--force"]),
    )


# --- urlwatch ----------------------------------------------------------------------------


def ensure_playwright(urlwatch: Path) -> Path:
    """urlwatch's venv's Python, with the Playwright its browser jobs import (the same
    version as scrubwatch's, installed from PyPI if missing)."""
    python = urlwatch.parent / "python"
    probe = [str(python), "-c", "import playwright.sync_api"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    from importlib.metadata import PackageNotFoundError, version

    try:
        spec = f"playwright=={version('playwright')}"
    except PackageNotFoundError:  # this bench run by another Python: any version
        spec = "playwright"
    print(f"installing {spec} into urlwatch's venv ...", flush=True)
    install = [str(python), "-m", "pip", "install", "-q", spec]
    if subprocess.run(install, check=False).returncode != 0:
        raise BenchError(f"installing Playwright failed: `{' '.join(install)}`")
    return python


_LAUNCH_PROBE = """
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    try:
        b = p.chromium.launch()
    except Exception as exc:
        print("MISSING", str(exc).splitlines()[0])
    else:
        print("OK", b.version)
        b.close()
"""
_MISSING = re.compile(r"Executable doesn't exist at (\S+)")


def fake_browsers_path(python: Path, folder: Path, chromium: str) -> tuple[str, str]:
    """A PLAYWRIGHT_BROWSERS_PATH where Playwright finds Debian's Chromium.

    urlwatch's BrowserJob calls ``playwright.chromium.launch()`` with no executable (no
    job key or setting names one), so Playwright looks for the build ``playwright
    install`` would download. Asked once, it names the file it wants; a link there to
    Debian's Chromium is launched as that build. Returns (folder, browser version).
    """
    env = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(folder)}
    for _ in range(2):
        out = subprocess.run(
            [str(python), "-c", _LAUNCH_PROBE], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        answer = out.stdout.strip()
        if answer.startswith("OK "):
            return str(folder), answer[3:]
        wanted = _MISSING.search(answer)
        if wanted is None or not wanted.group(1).startswith(str(folder)):
            break
        target = Path(wanted.group(1))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(chromium)
    raise BenchError(f"urlwatch's Playwright cannot launch {chromium}: {out.stdout}{out.stderr}")


def write_urlwatch_files(folder: Path, port: int, pages: int, workers: int) -> list[str]:
    """Job list, config and hooks for urlwatch; returns the arguments naming them.

    One browser job per page, as its docs write one: ``navigate``, ``wait_for`` (a
    locator, which must match one element: the first ad), then the list's text.
    """
    jobs = [
        json.dumps(
            {
                "name": page_id(i),
                "navigate": f"http://127.0.0.1:{port}/{page_id(i)}.html",
                "wait_for": "#jobs li.job >> nth=0",
                "filter": [{"css": "#jobs"}, {"html2text": "re"}],
            }
        )
        for i in range(pages)
    ]
    urls = folder / "jobs.yaml"
    urls.write_text("\n---\n".join(jobs) + "\n", encoding="utf-8")
    config = {
        "display": {"new": True, "error": True, "unchanged": False},
        "report": {"stdout": {"enabled": True, "color": False}},
    }
    cfg = folder / "cfg.yaml"
    cfg.write_text(json.dumps(config) + "\n", encoding="utf-8")
    # Its thread pool (10, no option) is its number of browsers at once: one per job.
    hooks = folder / "hooks.py"
    hooks.write_text(f"import urlwatch.worker\nurlwatch.worker.MAX_WORKERS = {workers}\n")
    cache = folder / "cache.db"
    return ["--urls", str(urls), "--config", str(cfg), "--hooks", str(hooks), "--cache", str(cache)]


def urlwatch_steps(
    urlwatch: Path, folder: Path, port: int, pages: int, workers: int, browsers: str
) -> tuple[Step, Step]:
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(urlwatch), *write_urlwatch_files(folder, port, pages, workers)]
    env = urlwatch_env(folder) | {"PLAYWRIGHT_BROWSERS_PATH": browsers}
    return (
        Step("urlwatch", "cold", workers, cmd, urlwatch_event, env),
        Step("urlwatch", "changed", workers, cmd, urlwatch_event, env),
    )


# --- the sequence ------------------------------------------------------------------------


def run_pair(
    steps: tuple[Step, Step],
    site: Site,
    rep: int,
    args: argparse.Namespace,
    work: Path,
    results: list[Run],
) -> None:
    """The cold run on the pages as first served, then the changed one."""
    site.reset()
    site.take_hits()
    for step in steps:
        if step.run == "changed":
            site.remove_one_ad(changed_pages(args.pages))
        result = timed_run(step, rep, args.pages, work, args.run_timeout, args.pss_share)
        result.hits = site.take_hits()
        results.append(result)
        print(progress_line(result), flush=True)


def progress_line(r: Run) -> str:
    opened = f" open {r.pages_open}" if r.pages_open else ""
    return (
        f"{r.tool}{opened} {r.run} rep {r.rep + 1} (load {r.load_before:.1f}): {r.wall_s:.1f}s "
        f"{r.pages_per_s:.2f} pages/s cpu {r.cpu_s:.1f}s rss {r.peak_rss_mb:.0f} MB "
        f"pss {r.peak_pss_mb:.0f} MB ({r.procs_at_peak} procs; {r.samples} samples, "
        f"{r.pss_samples} of PSS; sampler {r.sampler_cpu_s:.1f}s cpu) events {r.kinds} "
        + (f"[PSS unreadable: RSS counted {r.pss_from_rss} times] " if r.pss_from_rss else "")
        + f"served {r.hits}\n    cpu by process: {r.cpu_by_kind}"
        + (f"\n    {r.summary}" if r.summary else "")
    )


def expected_events(r: Run) -> int:
    if r.run == "cold":
        return r.pages
    return 0 if r.tool == "scrubwatch-plain" else len(changed_pages(r.pages))


def summarize(results: list[Run]) -> list[dict[str, Any]]:
    """One row per (tool, pages open, run): median time, the worst peak of memory."""
    groups: dict[tuple[str, int | None, str], list[Run]] = {}
    for r in results:
        groups.setdefault((r.tool, r.pages_open, r.run), []).append(r)
    rows = []
    for (tool, pages_open, run), rs in groups.items():
        rows.append(
            {
                "tool": tool,
                "pages_open": pages_open,
                "run": run,
                "pages": rs[0].pages,
                "repeats": len(rs),
                "wall_s": statistics.median(r.wall_s for r in rs),
                "pages_per_s": statistics.median(r.pages_per_s for r in rs),
                "cpu_s": statistics.median(r.cpu_s for r in rs),
                "cpu_s_per_page": statistics.median(r.cpu_s / r.pages for r in rs),
                "peak_rss_mb": max(r.peak_rss_mb for r in rs),
                "peak_pss_mb": max(r.peak_pss_mb for r in rs),
                "procs_at_peak": max(r.procs_at_peak for r in rs),
                "events": statistics.median(r.events for r in rs),
                "expected": expected_events(rs[0]),
                "kinds": rs[-1].kinds,
                "cpu_s_per_page_by_process": _median_by_kind(rs),
            }
        )
    return rows


def _median_by_kind(rs: list[Run]) -> dict[str, float]:
    kinds = {k for r in rs for k in r.cpu_by_kind}
    per_page = {
        k: statistics.median(r.cpu_by_kind.get(k, 0.0) / r.pages for r in rs) for k in kinds
    }
    return dict(sorted(per_page.items(), key=lambda kv: -kv[1]))


def cpu_table(rows: list[dict[str, Any]]) -> str:
    """CPU seconds per page by process kind, as sampled (each process's last tick)."""
    kinds: list[str] = []
    for r in rows:
        kinds += [k for k in r["cpu_s_per_page_by_process"] if k not in kinds]
    out = [
        "| tool | pages open | run | " + " | ".join(kinds) + " |",
        "|---|---:|---|" + "---:|" * len(kinds),
    ]
    for r in rows:
        opened = "–" if r["pages_open"] is None else str(r["pages_open"])
        cells = [f"{r['cpu_s_per_page_by_process'].get(k, 0.0):.3f}" for k in kinds]
        out.append(f"| {r['tool']} | {opened} | {r['run']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| tool | pages open | run | pages | wall s | pages/s | CPU s | CPU s/page "
        "| peak PSS MB | peak RSS MB | procs | events (expected) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        opened = "–" if r["pages_open"] is None else str(r["pages_open"])
        out.append(
            f"| {r['tool']} | {opened} | {r['run']} | {r['pages']} | {r['wall_s']:.1f} "
            f"| {r['pages_per_s']:.2f} | {r['cpu_s']:.1f} | {r['cpu_s_per_page']:.3f} "
            f"| {r['peak_pss_mb']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['procs_at_peak']} "
            f"| {r['events']:.0f} ({r['expected']}) |"
        )
    return "\n".join(out)


def warnings(results: list[Run]) -> list[str]:
    """Runs whose events are not those expected, with the command's own summary."""
    return [
        f"{r.tool} {r.run} (open {r.pages_open}, rep {r.rep + 1}): {r.events} events, "
        f"expected {expected_events(r)} {r.kinds}: {r.summary}"
        for r in results
        if r.events != expected_events(r)
    ]


# --- main --------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values or any(not 1 <= v <= 32 for v in values):
        raise argparse.ArgumentTypeError("each value must be 1..32")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument(
        "--pages-open", type=_int_list, default=[4], help="browser_pages values, e.g. 1,2,4"
    )
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (median time)")
    ap.add_argument("--scrubwatch", type=Path, default=DEFAULT_SCRUBWATCH)
    ap.add_argument("--no-plain", action="store_true", help="skip the runs without render")
    ap.add_argument("--against", choices=("urlwatch",), help="also run urlwatch 2.29")
    ap.add_argument("--urlwatch", type=Path, default=DEFAULT_URLWATCH)
    ap.add_argument(
        "--urlwatch-workers",
        type=_int_list,
        default=[URLWATCH_DEFAULT_WORKERS],
        help="urlwatch's threads, each with a browser of its own (its default: 10)",
    )
    ap.add_argument(
        "--pss-share",
        type=float,
        default=0.10,
        help="largest share of the time spent reading PSS (0: never; 1: every 50 ms)",
    )
    ap.add_argument("--run-timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--json-out", type=Path, help="also write every measurement as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (state, output)")
    args = ap.parse_args(argv)
    if not 10 <= args.pages <= 999 or args.repeat < 1 or not 0 <= args.pss_share <= 1:
        ap.error("--pages must be 10..999, --repeat >= 1, --pss-share 0..1")
    return args


def chromium_path() -> str:
    path = os.environ.get("SCRUBWATCH_CHROMIUM") or DEBIAN_CHROMIUM
    if not os.access(path, os.X_OK):
        raise BenchError(f"no Chromium at {path}: run `make install-browser`")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    exe = check_binary(args.scrubwatch)
    byte_compile(exe)
    chromium = chromium_path()
    if not become_subreaper():
        raise BenchError("prctl(PR_SET_CHILD_SUBREAPER) failed: Chromium's orphans escape")
    work = Path(tempfile.mkdtemp(prefix="scrubwatch-render-"))
    urlwatch: tuple[Path, str, str] | None = None
    if args.against == "urlwatch":
        uw = ensure_urlwatch(args.urlwatch)
        browsers, version = fake_browsers_path(
            ensure_playwright(uw), work / "ms-playwright", chromium
        )
        urlwatch = (uw, browsers, version)
    site = Site(args.pages)
    server = start_server(site)
    results: list[Run] = []
    try:
        for rep in range(args.repeat):
            run_rep(rep, args, exe, server.port, site, work, urlwatch, results)
    finally:
        server.shutdown()
        server.server_close()
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        if results:  # a run that failed or was interrupted still shows what was measured
            report(results, args, urlwatch)
    return 0


def run_rep(
    rep: int,
    args: argparse.Namespace,
    exe: Path,
    port: int,
    site: Site,
    work: Path,
    urlwatch: tuple[Path, str, str] | None,
    results: list[Run],
) -> None:
    """One repetition: each scrubwatch pair, the plain pair, then urlwatch's; each run's
    result is appended to ``results`` as it ends."""
    opens: list[int | None] = list(args.pages_open)
    if not args.no_plain:
        opens.append(None)
    for pages_open in opens:
        name = f"{pages_open or 'plain'}-{rep}"
        watchlist, state = work / f"watchlist-{name}.yaml", work / f"state-{name}"
        write_watchlist(watchlist, port, args.pages, pages_open)
        steps = scrubwatch_steps(exe, watchlist, state, pages_open)
        run_pair(steps, site, rep, args, work, results)
    if urlwatch is not None:
        uw, browsers, _version = urlwatch
        for workers in args.urlwatch_workers:
            folder = work / f"urlwatch-{workers}-{rep}"
            steps = urlwatch_steps(uw, folder, port, args.pages, workers, browsers)
            run_pair(steps, site, rep, args, work, results)


def report(
    results: list[Run], args: argparse.Namespace, urlwatch: tuple[Path, str, str] | None
) -> None:
    rows = summarize(results)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(
        f"{when} · {args.pages} pages · {args.repeat} repeat(s) · {_cpu_model()} x "
        f"{os.cpu_count()} · {_chromium_version()}"
        + (f" · urlwatch's Playwright launched Chromium {urlwatch[2]}" if urlwatch else "")
    )
    print()
    print(table(rows))
    print()
    print("CPU seconds per page, by process (from /proc/PID/stat at each process's last tick)")
    print()
    print(cpu_table(rows))
    for w in warnings(results):
        print(f"warning: {w}")
    if args.json_out:
        payload = {
            "when": when,
            "args": {k: str(v) for k, v in vars(args).items()},
            "rows": rows,
            "runs": [asdict(r) | {"pages_per_s": r.pages_per_s} for r in results],
        }
        args.json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def _chromium_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [chromium_path(), "--version"], capture_output=True, text=True, timeout=30
        )
        return out.stdout.strip()
    return "Chromium (version unknown)"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
