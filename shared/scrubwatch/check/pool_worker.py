"""The worker's side of ``scrubwatch.check.pool``: say it is ready, then read a job from stdin,
run it, write the result to stdout. Only the standard library's smallest parts here (no
asyncio, no ssl) besides the reading code itself.

A worker ends with its parent, even in the middle of a job: a closed stdin is only noticed
between jobs, and a reading that never ends (a regex that backtracks for ever) would
otherwise keep an orphan spinning at 100 % CPU after the engine was killed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys

# Each frame: a marker, then the length of the pickle that follows. A result stream that
# does not start with the marker is broken, and fails its jobs rather than hanging them.
_HEADER = struct.Struct("!4sQ")
_MARK = b"swk1"
_PIPE_BYTES = 1 << 20
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PARENT_POLL_SECONDS = 1.0


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


def _killed_with_parent() -> bool:
    """Asks Linux to SIGKILL this process when its parent dies; False where it cannot.

    Linux means the parent *thread*: the one that started this process, which is the
    engine's event loop thread (``asyncio.create_subprocess_exec`` forks from the thread
    that calls it). That thread outlives the pool, whose ``aclose`` ends every worker
    before the loop returns, so only an engine that dies takes its workers with it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)
    except (OSError, AttributeError):  # no libc to be found, or one without prctl
        return False


def watch_parent(parent: int, every: float = _PARENT_POLL_SECONDS) -> None:
    """Ends this process within ``every`` seconds of being orphaned (its parent id changes).

    A timer signal, not a thread: a thread needs the GIL to look, and a regex backtracking
    in C holds the GIL until it is done, while the signal handler still runs because the
    regex engine checks for signals as it goes (so does the interpreter between bytecodes).
    """

    def check(signum: int, frame: object) -> None:
        if os.getppid() != parent:
            os._exit(1)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, every, every)


def _end_with_parent() -> None:
    parent = os.getppid()
    if _killed_with_parent():
        # The parent may have died before the request was made: then it was never going to
        # fire. (Dead before getppid above, it left our stdin closed: the first read ends us.)
        if os.getppid() != parent:
            os._exit(1)
    elif hasattr(signal, "setitimer"):
        watch_parent(parent)


def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _end_with_parent()
    # Results go to a private copy of stdout; anything printed by accident goes to stderr
    # instead of into the result stream.
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _widen_pipes(0, results.fileno())

    def send(reply: tuple[bool, object]) -> None:
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps((False, RuntimeError(f"unpicklable result: {exc!r}")))
        results.write(_HEADER.pack(_MARK, len(data)))
        results.write(data)
        results.flush()

    # The first frame says whether this worker can read pages at all: a broken install is
    # the engine's to handle (it reads in its own process), not a failure of each page.
    try:
        import scrubwatch.check.analyse  # noqa: F401
    except Exception as exc:
        send((False, exc))
        return
    send((True, "ready"))
    jobs = sys.stdin.buffer
    while True:
        header = jobs.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the parent closed our stdin: done
        job = jobs.read(_HEADER.unpack(header)[1])
        try:
            fn, args = pickle.loads(job)
            reply = (True, fn(*args))
        except Exception as exc:  # sent back to the caller, who raises it
            reply = (False, exc)
        send(reply)


if __name__ == "__main__":
    _serve()
