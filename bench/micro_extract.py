"""Micro-benchmark: parsing + extraction alone (``scrubwatch.core.reader.read_page``) on the corpus.

No network, no state: each page's bytes are read from the cached corpus into memory, then
``read_page`` runs on every page with the same ``select``/``items`` mix as ``run.py`` and
the headers the server would send. Reports pages/s and MB/s for one process (the per-core
cost; the tool spreads this over worker processes), per-page latency percentiles, and a
split by charset and watch style. It also sanity-checks the readings: ``#main`` found,
one item per ``li.job``, GBK pages decoded as GB18030 (GBK's superset).

Usage: ``.venv/bin/python bench/micro_extract.py [--pages N] [--repeat K]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import corpus  # noqa: E402

try:
    from scrubwatch.core.reader import Reading, ReadSpec, read_page
except ImportError:  # not installed in this interpreter: try the source tree
    sys.path.insert(0, str(BENCH_DIR.parent / "shared"))
    try:
        from scrubwatch.core.reader import Reading, ReadSpec, read_page
    except ImportError as exc:
        sys.exit(
            f"bench: error: cannot import scrubwatch.core.reader ({exc}); run with the project's "
            "venv: .venv/bin/python bench/micro_extract.py"
        )


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def check_reading(entry: dict[str, Any], spec: ReadSpec, reading: Reading) -> list[str]:
    problems: list[str] = []
    if reading.kind != "html" or not reading.region_found:
        problems.append(f"kind={reading.kind} region_found={reading.region_found}")
    if spec.items and (reading.items is None or len(reading.items) != entry["items"]):
        got = None if reading.items is None else len(reading.items)
        problems.append(f"items {got} != {entry['items']}")
    want = "gb18030" if entry["charset"] == "gbk" else "utf-8"
    if reading.encoding != want:
        problems.append(f"encoding {reading.encoding} != {want}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time scrubwatch.core.reader.read_page on the corpus.")
    ap.add_argument("--pages", type=int, default=corpus.DEFAULT_PAGES)
    ap.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the corpus (best kept)")
    ap.add_argument("--watch-style", choices=corpus.WATCH_STYLES, default="mix")
    ap.add_argument("--corpus-dir", type=Path, default=BENCH_DIR / ".corpus")
    args = ap.parse_args(argv)
    if args.pages < 1 or args.repeat < 1:
        ap.error("--pages and --repeat must be >= 1")

    root, manifest, _ = corpus.ensure_corpus(args.corpus_dir, args.pages, args.seed)
    print(f"corpus: {root}: {corpus.summarize(manifest)}")
    jobs: list[tuple[dict[str, Any], bytes, dict[str, str], str, ReadSpec, str]] = []
    for i, entry in enumerate(manifest["files"]):
        select, items = corpus.watch_selectors(i, args.watch_style)
        style = "items" if items else "select" if select else "page"
        headers = {"content-type": f"text/html; charset={entry['charset']}"}
        url = f"http://127.0.0.{1 + i % 20}:8080/{entry['file']}"
        body = (root / entry["file"]).read_bytes()
        jobs.append((entry, body, headers, url, ReadSpec(select=select, items=items), style))
    total_mb = sum(len(j[1]) for j in jobs) / 2**20

    best_wall = float("inf")
    best_times: list[float] = []
    problems: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        times: list[float] = []
        t0 = time.perf_counter()
        for entry, body, headers, url, spec, _style in jobs:
            t = time.perf_counter()
            reading = read_page(body, headers, url, spec)
            times.append(time.perf_counter() - t)
            if not problems.get(entry["id"]) and (found := check_reading(entry, spec, reading)):
                problems[entry["id"]] = found
        wall = time.perf_counter() - t0
        if wall < best_wall:
            best_wall, best_times = wall, times

    n = len(jobs)
    lat = sorted(best_times)
    print(
        f"\nread_page, 1 process, best of {args.repeat}: {n} pages, {total_mb:.1f} MB in "
        f"{best_wall:.2f}s = {n / best_wall:,.0f} pages/s, {total_mb / best_wall:,.0f} MB/s; "
        f"per page p50 {1000 * _pct(lat, 0.5):.2f} ms, p95 {1000 * _pct(lat, 0.95):.2f} ms, "
        f"max {1000 * lat[-1]:.2f} ms; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    groups: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (entry, body, *_rest, style), spent in zip(jobs, best_times, strict=True):
        groups[f"charset {entry['charset']}"].append((spent, len(body)))
        groups[f"style {style}"].append((spent, len(body)))
    print("\n| group | pages | ms/page (mean) | MB/s |")
    print("|---|---|---|---|")
    for name in sorted(groups):
        rows = groups[name]
        spent = sum(s for s, _ in rows)
        mb = sum(b for _, b in rows) / 2**20
        print(
            f"| {name} | {len(rows)} | {1000 * statistics.fmean(s for s, _ in rows):.2f} "
            f"| {mb / spent if spent else 0:,.0f} |"
        )
    if problems:
        print(f"\nwarning: {len(problems)} pages read unexpectedly, e.g.:")
        for pid, found in list(problems.items())[:5]:
            print(f"  {pid}: {'; '.join(found)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
