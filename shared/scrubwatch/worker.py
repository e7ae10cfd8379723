"""Worker processes for the CPU-bound part of a check: reading pages, building evidence.

Each worker is a plain ``python -m scrubwatch.worker_process`` child that reads jobs from its stdin
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
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .worker_process import _HEADER, _MARK

# Jobs in flight per worker: one running, one already in its pipe, so it never waits.
_DEPTH = 2
RESPAWNS_PER_WORKER = 4


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
        closed_by_worker = False  # it ended by closing its output (else we stopped reading)
        try:
            while True:
                mark, size = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                if mark != _MARK:
                    break
                payload = await stdout.readexactly(size)
                try:
                    ok, value = pickle.loads(payload)
                except Exception as exc:  # an exception type that cannot be rebuilt here
                    ok, value = False, WorkerDied(f"a worker's answer is unreadable: {exc!r}")
                future = self.waiting.popleft()
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            closed_by_worker = True
        finally:
            self.alive = False
            if not closed_by_worker and self.process.returncode is None:
                # A worker we stopped listening to must not be waited for: it would wait
                # for its next job forever.
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
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
        # A page that crashes the parser takes its worker down: a new one takes over, so
        # the rest of the run is still read, but a crash loop is not followed for ever.
        self._respawns = size * RESPAWNS_PER_WORKER

    async def _start(self) -> None:
        for _ in range(self.size):
            await self._spawn()

    async def _spawn(self) -> None:
        # The package's own parent directory first: a worker must import this same code,
        # whatever the parent did to find it.
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, path]))}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scrubwatch.worker_process",
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
            while sum(w.alive for w in self._workers) < self.size and self._respawns > 0:
                self._respawns -= 1
                await self._spawn()
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
