"""Benchmark of a watch that discovers its pages (issue 13): one listing linking N ads.

Rows, each a timed ``scrubwatch check --force --json`` on loopback only (127.0.0.1):

- ``discover-cold``: the first look; every ad is fetched and kept in the same run.
- ``discover-warm``: nothing changed (304 mode): the listing and every ad checked again.
- ``vanish-1``, ``vanish-2``: ``--vanish`` ads (default 500) are taken off the listing
  and answer 404. The first run unlinks them and sees each 404 once; the second confirms
  them gone (``confirm_gone: 2``). The alerts column counts the emails and Slack
  messages those events make (``render.email_posts``): one digest, not 500.
- ``listed-cold``, ``listed-warm``: the same N + 1 pages as N + 1 listed watches, for
  the cost per page of a discovered page against a listed one.
- ``report``: ``scrubwatch report`` of it all after the scrub (every page's evidence
  verified first), with the sizes of report.html and report.md.

Usage: ``.venv/bin/python bench/discovery.py [--ads 5000] [--vanish 500] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    REPO_DIR,
    BenchError,
    RunResult,
    ServerProcess,
    become_subreaper,
    run_command,
)

CITIES = ("Urumqi", "Shenzhen", "Hangzhou", "Beijing", "Kashgar", "Chengdu")


def ad_page(i: int) -> str:
    city = CITIES[i % len(CITIES)]
    filler = "".join(
        f"<p>Responsibility {k}: maintain optical assemblies for the {city} office.</p>"
        for k in range(40)
    )
    return (
        f"<!doctype html><html><head><title>Job {i}</title></head><body>"
        f'<nav><a href="/">Home</a></nav><div id="job"><h1>Engineer {i}</h1>'
        f"<p>Based in {city}.</p>{filler}</div></body></html>"
    )


def listing_page(ids: list[int]) -> str:
    items = "".join(
        f'<li class="job"><a href="/jobs/ad-{i}.html?utm_source=list">Engineer {i}, '
        f"{CITIES[i % len(CITIES)]}</a></li>"
        for i in ids
    )
    head = "<!doctype html><html><head><title>Jobs</title></head>"
    return f'{head}<body><ul id="jobs">{items}</ul></body></html>'


def write_corpus(root: Path, ads: int, gone: set[int]) -> None:
    """The server's corpus: the listing without ``gone``, and every ad but ``gone``."""
    if root.exists():
        shutil.rmtree(root)
    (root / "jobs").mkdir(parents=True)
    files = []
    live = [i for i in range(ads) if i not in gone]
    (root / "jobs" / "index.html").write_text(listing_page(live), "utf-8")
    files.append({"file": "jobs/index.html", "charset": "utf-8", "last_modified": 1700000000})
    for i in live:
        name = f"jobs/ad-{i}.html"
        (root / name).write_text(ad_page(i), "utf-8")
        files.append({"file": name, "charset": "utf-8", "last_modified": 1700000000})
    (root / "manifest.json").write_text(json.dumps({"files": files}), "utf-8")


def write_watchlist(path: Path, port: int, ads: int, discover: bool) -> None:
    base = f"http://127.0.0.1:{port}"
    settings = (
        "settings:\n  allow_networks: ['127.0.0.0/8']\n  timeout: 20s\n"
        "  concurrency: 64\n  per_host: 8\n  confirm_gone: 2\n  max_discovered: 100000\n"
    )
    if discover:
        watches = (
            f"watches:\n  - id: jobs\n    url: {base}/jobs/index.html\n    items: li.job\n"
            f"    discover:\n      links: li.job a\n      max_children: {ads}\n"
            '      child: {select: "#job", keywords: [Urumqi]}\n'
        )
    else:
        lines = [f"  - id: jobs\n    url: {base}/jobs/index.html\n    items: li.job\n"]
        lines += [
            f'  - id: ad-{i}\n    url: {base}/jobs/ad-{i}.html\n    select: "#job"\n'
            "    keywords: [Urumqi]\n"
            for i in range(ads)
        ]
        watches = "watches:\n" + "".join(lines)
    path.write_text(settings + watches, "utf-8")


def alerts_of(events_file: Path) -> dict[str, int]:
    """The emails and Slack messages the run's events make (core.render), and gone count."""
    from scrubwatch.core.events import RECORDS, SEVERITY_RANK, Event
    from scrubwatch.core.render import email_posts, slack_posts

    events = [Event.from_json(json.loads(line)) for line in events_file.read_text().splitlines()]
    # As routed with the default min_severity (low): records and info are never sent.
    low = SEVERITY_RANK["low"]
    alerted = [e for e in events if e.kind not in RECORDS and SEVERITY_RANK[e.severity] >= low]
    return {
        "gone": sum(e.kind == "gone" for e in events),
        "emails": len(email_posts(alerted)) if alerted else 0,
        "slack": len(slack_posts(alerted)) if alerted else 0,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(
    name: str, pages: int, work: Path, wl: Path, state: Path, server: ServerProcess
) -> tuple[RunResult, dict[str, int]]:
    exe = REPO_DIR / ".venv" / "bin" / "scrubwatch"
    cmd = [str(exe), "check", "-c", str(wl), "--state", str(state), "--force", "--json"]
    result = run_command(cmd, name, 0, pages, work, 1800, keep=[server.pid])
    return result, alerts_of(work / f"events-0-{name}-scrubwatch.txt")


def _report(pages: int, work: Path, wl: Path, state: Path, server: ServerProcess) -> dict[str, Any]:
    """``scrubwatch report`` of the whole state after the scrub: every page's evidence
    verified, the gone ones told, the rest named in a line (issue 14)."""
    exe = REPO_DIR / ".venv" / "bin" / "scrubwatch"
    out = work / "report"
    cmd = [str(exe), "report", "-c", str(wl), "--state", str(state), "-o", str(out)]
    result = run_command(cmd, "report", 0, pages, work, 1800, keep=[server.pid])
    size = (out / "report.html").stat().st_size // 1024
    print(f"report.html: {size} KB, report.md: {(out / 'report.md').stat().st_size // 1024} KB")
    return _row(result, {"gone": 0, "emails": 0, "slack": 0})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ads", type=int, default=5000)
    ap.add_argument("--vanish", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args(argv)
    become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="scrubwatch-discovery-"))
    corpus = work / "corpus"
    port = free_port()
    rows: list[dict[str, Any]] = []
    server: ServerProcess | None = None

    def serve(gone: set[int]) -> ServerProcess:
        nonlocal server
        if server is not None:
            server.stop()
        write_corpus(corpus, args.ads, gone)
        server = ServerProcess(corpus, "304", 1, port, work / "server.log")
        server.start()
        return server

    try:
        pages = args.ads + 1
        for kind in ("listed", "discover"):
            srv = serve(set())
            wl, state = work / f"{kind}.yaml", work / f"state-{kind}"
            write_watchlist(wl, port, args.ads, discover=kind == "discover")
            for name in (f"{kind}-cold", f"{kind}-warm"):
                result, alerts = step(name, pages, work, wl, state, srv)
                rows.append(_row(result, alerts))
                print(_line(rows[-1]), flush=True)
        srv = serve(set(range(0, args.ads, max(args.ads // args.vanish, 1))[: args.vanish]))
        for name in ("vanish-1", "vanish-2"):
            result, alerts = step(name, pages, work, work / "discover.yaml", state, srv)
            rows.append(_row(result, alerts))
            print(_line(rows[-1]), flush=True)
        rows.append(_report(pages, work, work / "discover.yaml", state, srv))
        print(_line(rows[-1]), flush=True)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    print()
    print(
        "| run | pages | wall s | pages/s | CPU ms/page | peak RSS MB | events | gone "
        "| emails | Slack |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['run']} | {r['pages']} | {r['wall_s']:.1f} | {r['pages_per_s']:.0f} | "
            f"{r['cpu_ms_per_page']:.2f} | {r['peak_rss_mb']:.0f} | {r['events']} | "
            f"{r['gone']} | {r['emails']} | {r['slack']} |"
        )
    return 0


def _row(result: RunResult, alerts: dict[str, int]) -> dict[str, Any]:
    return {
        "run": result.run,
        "pages": result.pages,
        "wall_s": result.wall_s,
        "pages_per_s": result.pages_per_s,
        "cpu_ms_per_page": result.cpu_ms_per_page,
        "peak_rss_mb": result.peak_rss_mb,
        "events": result.events,
        **alerts,
    }


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['run']}: {row['wall_s']:.1f}s, {row['pages_per_s']:.0f} pages/s, "
        f"{row['peak_rss_mb']:.0f} MB, {row['events']} events, {row['gone']} gone, "
        f"{row['emails']} email(s), {row['slack']} Slack message(s)"
    )


if __name__ == "__main__":
    sys.exit(main())
