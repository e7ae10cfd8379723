"""Worker processes for the CPU-bound part of a check: reading pages, building evidence.

Each worker is a plain ``python -m scrubwatch.check.pool_worker`` child that reads jobs from
its stdin and writes results to its stdout, as length-prefixed pickles. It imports only the
reading code (about 21 MB resident, against about 40 MB for a multiprocessing ``spawn``
worker, which imports the parent's whole ``__main__``) and needs no multiprocessing
resource tracker (another 13 MB), no semaphores in /dev/shm (Lambda has none) and no feeder
threads. A worker exits when its stdin closes, so none outlives its parent for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import sysconfig
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .pool_worker import _HEADER, _MARK

# Jobs in flight per worker: one running, one already in its pipe, so it never waits.
_DEPTH = 2
RESPAWNS_PER_WORKER = 4
_READY_WITHIN = 60.0  # seconds for a new worker to import the reading code
# A reading that takes longer is stuck (a pathological `ignore` pattern, a parser bug):
# its worker is stopped and replaced, and that check fails instead of holding the run.
READ_DEADLINE = 300.0
# A job running longer than this is probably stuck: new jobs go to another worker, started
# for them if need be (up to `size` more), so one page's reading never holds the others'.
_SLOW = 2.0


class WorkerDied(RuntimeError):
    pass


class ReadingTimedOut(WorkerDied):
    pass


class WorkersUnavailable(RuntimeError):
    """No worker could be made ready (an install the worker cannot import, no way to start
    a process): the engine reads in its own process instead."""


class _NeverRan(WorkerDied):
    """The job was still queued in a worker that died: it can go to another one."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A job whose caller went away (cancelled) may still fail; nobody needs to hear of it.
    if not future.cancelled():
        future.exception()


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.head_since = 0.0  # when the first job in `waiting` started to run
        self.alive = True
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(_retrieve)
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
                if not self.ready.done():
                    if ok:
                        self.ready.set_result(None)
                    else:
                        self.ready.set_exception(WorkersUnavailable(f"worker not ready: {value}"))
                    continue
                future = self.waiting.popleft()
                self.head_since = asyncio.get_running_loop().time()
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
            if not closed_by_worker:
                self.stop()
            code = await self.process.wait()
            if not self.ready.done():
                self.ready.set_exception(
                    WorkersUnavailable(f"a worker exited with code {code} before it was ready")
                )
            # Jobs run in order: the first unanswered one was running when the worker died
            # (and may be why); the ones behind it never ran.
            first = True
            while self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    kind = WorkerDied if first else _NeverRan
                    future.set_exception(kind(f"a reading worker exited with code {code}"))
                first = False

    def stop(self) -> None:
        """Kills the process; a worker we no longer listen to would wait for work forever."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def send(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        stdin = self.process.stdin
        assert stdin is not None
        data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        future.add_done_callback(_retrieve)
        if not self.waiting:
            self.head_since = loop.time()
        self.waiting.append(future)
        stdin.write(_HEADER.pack(_MARK, len(data)))
        stdin.write(data)
        return future


def _worker_env() -> dict[str, str]:
    """The environment in which a worker imports this same package."""
    env = dict(os.environ)
    package_root = Path(__file__).resolve().parents[2]  # the folder holding scrubwatch/
    installed = {
        Path(p).resolve() for p in (sysconfig.get_path("purelib"), sysconfig.get_path("platlib"))
    }
    if package_root not in installed:
        # Not installed where the interpreter looks anyway (a source checkout, a Lambda
        # layer): name the folder. An installed one is not named, so site-packages never
        # comes before the standard library.
        path = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_root), path]))
    return env


class WorkerPool:
    """Runs module-level functions in ``size`` worker processes, each job on the worker
    with the fewest in flight."""

    def __init__(self, size: int, deadline: float = READ_DEADLINE, slow: float = _SLOW) -> None:
        self.size = size
        self.deadline = deadline
        self.slow = slow
        self._workers: list[_Worker] = []
        self._spares = size  # workers that may be started beside busy ones
        self._slots = asyncio.Semaphore((size + self._spares) * _DEPTH)
        self._spawning = asyncio.Lock()
        self._started: asyncio.Future[None] | None = None
        self._count = 0
        # A page that crashes the parser takes its worker down: a new one takes over, so
        # the rest of the run is still read, but a crash loop is not followed for ever.
        self._respawns = size * RESPAWNS_PER_WORKER

    async def _start(self) -> None:
        for _ in range(self.size):
            await self._spawn()

    async def _spawn(self) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",  # not the current directory first: only the worker's own code
                "-m",
                "scrubwatch.check.pool_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=_worker_env(),
            )
        except OSError as exc:
            raise WorkersUnavailable(f"cannot start a worker: {exc}") from exc
        worker = _Worker(process)
        self._workers.append(worker)
        self._count += 1
        try:
            await asyncio.wait_for(asyncio.shield(worker.ready), _READY_WITHIN)
        except TimeoutError:
            worker.stop()
            raise WorkersUnavailable("a worker was not ready in time") from None

    async def _replace_dead(self) -> None:
        async with self._spawning:  # one caller replaces; the others see its workers
            while sum(w.alive for w in self._workers) < self.size and self._respawns > 0:
                self._respawns -= 1
                await self._spawn()

    @property
    def started(self) -> int:
        """How many worker processes this pool started."""
        return self._count

    async def run(self, fn: Callable[..., Any], *args: Any, deadline: float | None = None) -> Any:
        """``fn(*args)`` in a worker; ReadingTimedOut once it has run ``deadline`` seconds
        (the pool's deadline when None, and never more)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)
        limit = self.deadline if deadline is None else min(deadline, self.deadline)
        async with self._slots:
            while True:
                try:
                    return await self._run_once(fn, args, limit)
                except _NeverRan:
                    continue  # queued behind a job that took its worker down: run it again

    async def _pick(self) -> _Worker:
        """The worker with the fewest jobs among those not stuck on a long one; a spare is
        started when every worker is."""
        await self._replace_dead()
        now = asyncio.get_running_loop().time()
        live = [w for w in self._workers if w.alive]
        if not live:
            raise WorkerDied("no reading worker is running")
        free = [w for w in live if not w.waiting or now - w.head_since < self.slow]
        if not free and self._spares > 0:
            async with self._spawning:
                if self._spares > 0:
                    self._spares -= 1
                    with contextlib.suppress(WorkersUnavailable):
                        await self._spawn()
            free = [w for w in self._workers if w.alive and not w.waiting]
        return min(free or live, key=lambda w: len(w.waiting))

    async def _run_once(
        self, fn: Callable[..., Any], args: tuple[Any, ...], deadline: float
    ) -> Any:
        worker = await self._pick()
        future = worker.send(fn, args)
        stdin = worker.process.stdin
        assert stdin is not None
        with contextlib.suppress(ConnectionError):  # it died: its reader fails the job
            await stdin.drain()
        loop = asyncio.get_running_loop()
        while True:
            # The deadline counts from when the job started to run, not from when it was
            # queued behind another one.
            remaining = deadline
            if worker.waiting and worker.waiting[0] is future:
                remaining = worker.head_since + deadline - loop.time()
                if remaining <= 0:
                    worker.stop()
                    raise ReadingTimedOut(f"a reading took longer than {deadline:g} s")
            done, _ = await asyncio.wait({future}, timeout=remaining)
            if done:
                return future.result()

    async def aclose(self) -> None:
        if self._started is not None:
            with contextlib.suppress(Exception):  # its failure was the callers' to hear
                await self._started
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout=5)
            except TimeoutError:
                worker.stop()
                await worker.process.wait()
            await worker.reader
        self._workers.clear()
