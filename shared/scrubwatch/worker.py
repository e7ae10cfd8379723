"""Worker processes for the CPU-bound part of a check: reading pages, building evidence.

Each worker is a plain ``python -m scrubwatch.worker`` child that reads jobs from its stdin
and writes results to its stdout, as length-prefixed pickles. It imports only the reading
code (about 24 MB resident, against about 40 MB for a multiprocessing ``spawn`` worker,
which imports the parent's whole ``__main__``) and needs no multiprocessing resource
tracker (another 13 MB), no semaphores in /dev/shm (Lambda has none) and no feeder threads.
A worker exits when its stdin closes, so one outliving a killed parent is not possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import struct
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Each frame: a marker, then the length of the pickle that follows. A result stream that
# does not start with the marker is broken, and fails its jobs rather than hanging them.
_HEADER = struct.Struct("!4sQ")
_MARK = b"swk1"
# Jobs in flight per worker: one running, one already in its pipe, so it never waits.
_DEPTH = 2
_PIPE_BYTES = 1 << 20


class WorkerDied(RuntimeError):
    pass


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.alive = True
        self.reader = asyncio.ensure_future(self._read_results())

    async def _read_results(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                mark, size = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                if mark != _MARK:
                    self.process.kill()
                    break
                ok, value = pickle.loads(await stdout.readexactly(size))
                future = self.waiting.popleft()
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.alive = False
            code = await self.process.wait()
            while self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_exception(WorkerDied(f"a reading worker exited with code {code}"))

    def send(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        stdin = self.process.stdin
        assert stdin is not None
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        stdin.write(_HEADER.pack(_MARK, len(data)))
        stdin.write(data)
        return future


class WorkerPool:
    """Runs module-level functions in ``size`` worker processes, each job on the worker
    with the fewest in flight."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker] = []
        self._slots = asyncio.Semaphore(size * _DEPTH)
        self._started: asyncio.Future[None] | None = None
        self._count = 0

    async def _start(self) -> None:
        # The package's own parent directory first: a worker must import this same code,
        # whatever the parent did to find it.
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, path]))}
        for _ in range(self.size):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "scrubwatch.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
            self._workers.append(_Worker(process))
            self._count += 1

    @property
    def started(self) -> int:
        """How many worker processes this pool started."""
        return self._count

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)
        async with self._slots:
            live = [w for w in self._workers if w.alive]
            if not live:
                raise WorkerDied("no reading worker is running")
            worker = min(live, key=lambda w: len(w.waiting))
            future = worker.send(fn, args)
            stdin = worker.process.stdin
            assert stdin is not None
            with contextlib.suppress(ConnectionError):  # it died: its reader fails the job
                await stdin.drain()
            return await future

    async def aclose(self) -> None:
        if self._started is not None:
            with contextlib.suppress(OSError):  # nothing started, nothing to stop
                await self._started
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout=5)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            await worker.reader
        self._workers.clear()


def _widen_pipes(*fds: int) -> None:
    """A page's job or result (a few hundred KB) fits in the pipe, so neither side waits
    for the other to read: with Linux's default 64 KB, the worker stalled on every result
    until the engine's busy event loop got round to it (a cold run took 40 % longer)."""
    try:
        import fcntl
    except ImportError:
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if set_size is None:
        return
    for fd in fds:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep default
            fcntl.fcntl(fd, set_size, _PIPE_BYTES)


def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # Results go to a private copy of stdout; anything printed by accident goes to stderr
    # instead of into the result stream.
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _widen_pipes(0, results.fileno())
    jobs = sys.stdin.buffer
    while True:
        header = jobs.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the parent closed our stdin: done
        fn, args = pickle.loads(jobs.read(_HEADER.unpack(header)[1]))
        try:
            reply = (True, fn(*args))
        except Exception as exc:  # sent back to the caller, who raises it
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps((False, RuntimeError(f"unpicklable result: {exc!r}")))
        results.write(_HEADER.pack(_MARK, len(data)))
        results.write(data)
        results.flush()


if __name__ == "__main__":
    _serve()
