"""A reading worker whose engine is killed ends too, even in the middle of a job that never
ends; it does not keep spinning as an orphan."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

WITHIN = 10.0  # seconds: the fallback looks every second; Linux ends it at once

# A job that holds its worker for ever, at 100 % CPU: a regex that backtracks without end,
# in C, holding the GIL throughout. It says on stderr when it starts.
SPIN = (
    "[__import__('sys').stderr.write('spinning\\n'), __import__('sys').stderr.flush(), "
    "__import__('re').match(r'(a+)+$', 'a' * 64 + 'b')]"
)

# The engine's side, in a process of its own that the test kills: a real pool, one worker,
# which gets the job above. Prints the worker's pid first.
ENGINE = f"""
import asyncio
from scrubwatch.check.pool import WorkerPool

async def main():
    pool = WorkerPool(1)
    await pool.run(len, "warm")  # the worker is up
    print(pool._workers[0].process.pid, flush=True)
    await pool.run(eval, {SPIN!r})

asyncio.run(main())
"""

# The portable fallback on its own (Linux never needs it: prctl ends the worker first): a
# parent that starts a child which only watches it, then spins.
WATCHER = f"""
import os
from scrubwatch.check.pool_worker import watch_parent
watch_parent(os.getppid())
eval({SPIN!r})
"""
FALLBACK = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {WATCHER!r}])
print(child.pid, flush=True)
child.wait()
"""


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped (in a container the adopting
    process 1 may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_until_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)  # polling a process's end, with a deadline
    return _gone(pid)


def _read_line(stream: object, deadline: float) -> str:
    """One line from a pipe, or fail at the deadline instead of hanging the test."""
    assert hasattr(stream, "fileno") and hasattr(stream, "readline")
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(max(0.0, deadline - time.monotonic())):
            pytest.fail("the engine process said nothing in time")
    line: str = stream.readline()
    return line


@contextlib.contextmanager
def _engine(script: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Runs the script; yields it and the pid it printed (the worker's). Whatever is left
    is killed after the test, so a failure leaves nothing spinning."""
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = 0
    try:
        deadline = time.monotonic() + 60
        worker = int(_read_line(parent.stdout, deadline))
        # The job is running: the worker is deep in it, not waiting for the next one.
        assert _read_line(parent.stderr, deadline) == "spinning\n"
        yield parent, worker
    finally:
        for pid in (parent.pid, worker):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        parent.wait()
        for stream in (parent.stdout, parent.stderr):
            if stream is not None:
                stream.close()


def test_a_worker_ends_when_its_engine_is_killed_mid_job() -> None:
    with _engine(ENGINE) as (parent, worker):
        assert not _gone(worker)

        parent.kill()
        parent.wait()

        assert _wait_until_gone(worker, WITHIN), f"worker {worker} outlived its engine"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timers")
def test_without_prctl_an_orphan_notices_within_seconds_even_inside_a_regex() -> None:
    with _engine(FALLBACK) as (parent, worker):
        parent.kill()
        parent.wait()

        assert _wait_until_gone(worker, WITHIN), f"process {worker} outlived its parent"


def test_a_pool_on_an_event_loop_in_another_thread_keeps_its_worker() -> None:
    # Linux's parent-death signal follows the thread that started the worker, here not the
    # main one: the worker must live for as long as that thread's loop uses it.
    from scrubwatch.check.pool import WorkerPool

    async def use_pool() -> list[int]:
        pool = WorkerPool(1)
        try:
            return [await pool.run(len, "x" * n) for n in range(3)]
        finally:
            await pool.aclose()

    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        results = executor.submit(asyncio.run, use_pool()).result(timeout=60)
    assert results == [0, 1, 2]
