"""The scheduler alone at scale, under moto: time and peak memory of a tick.

    .venv/bin/python bench/aws_scheduler.py [--watches 100000] [--quiet-only]

A list of N watches (40 per host, every 1h) is pushed to the stack's bucket as
`scrubwatch push` does. Then ticks run as deployed (aws/app.schedule): "first" finds the
list new and reads every state (none exist yet: all due), "quiet", 15 minutes on, reads
none and queues the watches whose slot came round. ``--quiet-only`` records the first tick
as done (what a stack that already saw the list has) and runs the quiet one alone.
Peak memory is the process's maximum resident set (moto's storage included), measured
after the list is pushed and reported with what the process held before the tick.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "shared")]


def megabytes() -> int:
    """This process's peak resident memory so far. VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over an exec from the process that forked it (a test runner of gigabytes),
    while VmHWM belongs to this program's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _pushed_list(watches: int) -> tuple[bytes, str]:
    import subprocess

    script = f"""
import sys
sys.path.insert(0, {str(REPO / "shared")!r})
from scrubwatch.aws.schedule import watchlist_digest
from scrubwatch.core.compiled import compile_watchlist
from scrubwatch.core.config import LARGE, parse_watchlist
text = "watches:\\n" + "".join(
    f"  - id: agency-{{i // 40:05d}}-notice-{{i:06d}}\\n"
    f"    url: https://agency-{{i // 40:05d}}.example.org/notices/{{i}}.html\\n"
    "    every: 1h\\n"
    for i in range({watches})
)
listed = parse_watchlist(text, "watchlist.yaml", LARGE)
sys.stderr.write(watchlist_digest(listed))
sys.stdout.buffer.write(compile_watchlist(listed))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    return done.stdout, done.stderr.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=100_000)
    parser.add_argument("--quiet-only", action="store_true")
    args = parser.parse_args()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
    )
    from moto import mock_aws

    with mock_aws():
        from aws.support import _build_stack
        from scrubwatch.aws import app
        from scrubwatch.aws.watchlists import PUSHED_KEY
        from scrubwatch.backends.aws import DynamoStateStore

        stack = _build_stack()
        # Made in a child process, as `push` makes it on the user's machine: the YAML's
        # peak memory is not the scheduler's.
        compiled, digest = _pushed_list(args.watches)
        stack.s3.put_object(Bucket=stack.bucket, Key=PUSHED_KEY, Body=compiled)
        del compiled
        os.environ.update(
            TABLE_NAME=stack.table,
            BUCKET_NAME=stack.bucket,
            QUEUE_URL=stack.queue_url,
            WATCHLIST_PATH="/nonexistent",  # the pushed list is the one used
        )
        t0 = 1_800_000_000.0
        ticks = [("first", t0), ("quiet", t0 + 900)]
        if args.quiet_only:
            DynamoStateStore(stack.table).save_tick(t0, digest)
            ticks = ticks[1:]
        gc.collect()
        for name, at in ticks:
            before = megabytes()
            started = time.perf_counter()
            report = app.schedule(now=at)
            seconds = time.perf_counter() - started
            line = {
                "tick": name,
                "watches": args.watches,
                "due": report.due,
                "messages": report.messages,
                "states_read": report.states_read,
                "seconds": round(seconds, 1),
                "peak_mb": megabytes(),
                "before_mb": before,
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
