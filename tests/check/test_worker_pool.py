"""Reading worker processes: results, errors, stray output, a dying worker, and the engine
reading through them exactly as it reads in-process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.check.engine import Engine
from scrubwatch.check.pool import (
    RESPAWNS_PER_WORKER,
    ReadingTimedOut,
    WorkerDied,
    WorkerPool,
    WorkersUnavailable,
    _Worker,
)
from scrubwatch.evidence.verify import verify_folder
from support import Harness, Page, Site, page


def in_pool(size: int, *jobs: tuple[Any, ...]) -> tuple[list[Any], WorkerPool]:
    """Runs jobs (fn, *args) on a fresh pool; returns results or exceptions, and the pool."""

    async def go() -> tuple[list[Any], WorkerPool]:
        pool = WorkerPool(size)
        try:
            # A bound, so that a broken pool fails the test instead of hanging it.
            out = await asyncio.wait_for(
                asyncio.gather(*(pool.run(*job) for job in jobs), return_exceptions=True), 60
            )
        finally:
            await pool.aclose()
        return out, pool

    return asyncio.run(go())


def test_results_come_back_to_their_callers() -> None:
    jobs = [(sum, list(range(n))) for n in range(20)]
    results, pool = in_pool(2, *jobs)
    assert results == [sum(range(n)) for n in range(20)]
    assert pool.started == 2


def test_an_exception_in_a_job_is_raised_to_its_caller_only() -> None:
    results, _ = in_pool(1, (int, "not a number"), (int, "42"))
    assert isinstance(results[0], ValueError)
    assert results[1] == 42


class TwoArgumentError(Exception):
    """Pickles with one argument and needs two to be rebuilt: unreadable on the way back."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)


def raise_two_argument_error() -> None:
    raise TwoArgumentError("a", "b")


def test_a_job_the_worker_cannot_load_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # This test module is not importable in the worker: its function cannot be loaded there.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    results, _ = in_pool(1, (raise_two_argument_error,), (len, "abcd"))
    assert isinstance(results[0], ModuleNotFoundError)
    assert results[1] == 4


def test_an_answer_that_cannot_be_read_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    results, _ = in_pool(1, (raise_two_argument_error,), (len, "abcd"))
    assert isinstance(results[0], WorkerDied) and "unreadable" in str(results[0])
    assert results[1] == 4


def test_output_printed_by_a_job_does_not_corrupt_the_results() -> None:
    results, _ = in_pool(1, (print, "stray output"), (len, "abc"))
    assert results == [None, 3]


def test_a_worker_that_dies_fails_its_job_and_a_new_one_takes_over() -> None:
    async def go() -> tuple[BaseException | None, int, int]:
        pool = WorkerPool(1)
        try:
            assert await pool.run(len, "warm") == 4
            died: BaseException | None = None
            try:
                await pool.run(os._exit, 3)
            except WorkerDied as exc:
                died = exc
            after = [await pool.run(len, "x" * n) for n in range(4)]
            return died, sum(after), pool.started
        finally:
            await pool.aclose()

    died, total, started = asyncio.run(asyncio.wait_for(go(), 60))
    assert isinstance(died, WorkerDied) and "code 3" in str(died)
    assert total == 0 + 1 + 2 + 3
    assert started == 2


def test_a_crash_loop_ends_in_an_error_not_a_hang() -> None:
    async def go() -> None:
        pool = WorkerPool(1)
        try:
            for _ in range(1 + RESPAWNS_PER_WORKER):
                with pytest.raises(WorkerDied):
                    await pool.run(os._exit, 1)
            with pytest.raises(WorkerDied, match="no reading worker"):
                await pool.run(len, "x")
            assert pool.started == 1 + RESPAWNS_PER_WORKER
        finally:
            await pool.aclose()

    asyncio.run(asyncio.wait_for(go(), 120))


def test_a_job_queued_behind_a_crash_runs_again_elsewhere() -> None:
    results, pool = in_pool(1, (os._exit, 3), (len, "innocent"))
    assert isinstance(results[0], WorkerDied)
    assert results[1] == len("innocent")
    assert pool.started == 2


def test_workers_that_die_together_are_replaced_once() -> None:
    async def go() -> int:
        pool = WorkerPool(1)
        try:
            await pool.run(len, "warm")
            with pytest.raises(WorkerDied):
                await pool.run(os._exit, 3)
            assert await asyncio.gather(*(pool.run(len, "x" * n) for n in range(4))) == [
                0,
                1,
                2,
                3,
            ]
            return pool.started
        finally:
            await pool.aclose()

    assert asyncio.run(asyncio.wait_for(go(), 60)) == 2


def test_a_reading_past_its_deadline_is_stopped_and_the_next_one_runs() -> None:
    async def go() -> list[Any]:
        pool = WorkerPool(1, deadline=1.0)
        try:
            return await asyncio.gather(
                pool.run(time.sleep, 60), pool.run(len, "abc"), return_exceptions=True
            )
        finally:
            await pool.aclose()

    started = time.monotonic()
    results = asyncio.run(asyncio.wait_for(go(), 30))
    assert isinstance(results[0], ReadingTimedOut)
    assert results[1] == 3
    assert time.monotonic() - started < 20


def test_a_job_stuck_in_the_only_worker_does_not_hold_the_next_one() -> None:
    async def go() -> tuple[Any, bool, int]:
        pool = WorkerPool(1, deadline=30.0, slow=0.2)
        try:
            stuck = asyncio.ensure_future(pool.run(time.sleep, 30))
            while not pool._workers or not pool._workers[0].waiting:
                await asyncio.sleep(0.01)  # until the stuck job is in its worker
            await asyncio.sleep(0.4)  # ... and has run past `slow`
            result = await pool.run(len, "abc")  # a spare worker reads it
            still_stuck = not stuck.done()
            stuck.cancel()
            return result, still_stuck, pool.started
        finally:
            await pool.aclose()

    result, still_stuck, started = asyncio.run(asyncio.wait_for(go(), 25))
    assert (result, still_stuck, started) == (3, True, 2)


def test_a_module_in_the_current_directory_does_not_shadow_the_workers_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "struct.py").write_text("raise SystemExit(7)\n")
    monkeypatch.chdir(tmp_path)
    results, _ = in_pool(1, (len, "abc"))
    assert results == [3]


def test_a_worker_writing_anything_but_results_fails_its_jobs_instead_of_hanging() -> None:
    async def go() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys, time; sys.stdout.write('not a result ' * 4); sys.stdout.flush(); "
            "time.sleep(120)",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = _Worker(process)
        try:
            with pytest.raises(WorkerDied):
                await asyncio.wait_for(worker.send(len, ("x",)), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
            await worker.reader

    asyncio.run(go())


def test_workers_import_the_reading_code_only() -> None:
    from scrubwatch.check import analyse as work

    (reading, modules), _ = in_pool(
        1,
        (work.read_probe, _probe_fetch()),
        (eval, "sorted(__import__('sys').modules)"),
    )
    assert reading.title == "Gone"
    assert "scrubwatch.check.analyse" in modules
    heavy_modules = (
        "aiohttp",
        "httpx",
        "pydantic",
        "yaml",
        "sqlite3",
        "multiprocessing",
        "asyncio",
    )
    for heavy in heavy_modules:
        assert heavy not in modules, heavy


def _probe_fetch() -> Any:
    from datetime import UTC, datetime

    from scrubwatch.core.exchange import Fetch

    body = page("Gone", "<h1>Nothing here</h1>").encode()
    return Fetch(
        url="http://127.0.0.1/x",
        final_url="http://127.0.0.1/x",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=200,
        headers=[("Content-Type", "text/html")],
        body=body,
        content=body,
    )


def test_a_workers_pipes_hold_a_whole_page() -> None:
    # A result bigger than the pipe would make the worker wait for the engine's event loop.
    # (Linux, like every machine this project runs on; fd 3 is the worker's result pipe.)
    code = "[__import__('fcntl').fcntl(fd, 1032) for fd in (0, 3)]"  # F_GETPIPE_SZ
    (sizes,), _ = in_pool(1, (eval, code))
    assert sizes == [1 << 20, 1 << 20]


def test_closing_the_pool_ends_its_workers() -> None:
    async def go() -> list[int | None]:
        pool = WorkerPool(2)
        await pool.run(len, "x")
        processes = [w.process for w in pool._workers]
        await pool.aclose()
        return [p.returncode for p in processes]

    assert asyncio.run(go()) == [0, 0]


# --- the engine with workers -------------------------------------------------------------


WATCHES = 8


def _pages(site: Site, n: int, version: int) -> list[dict[str, Any]]:
    watches = []
    for i in range(n):
        items = "".join(f"<li class=job>Job {i}-{j}</li>" for j in range(version, version + 3))
        site.set(f"/p{i}.html", page(f"Jobs {i}", f"<ul id=main>{items}</ul>"))
        watches.append({"id": f"p{i}", "url": site.url(f"/p{i}.html"), "items": "li.job"})
    return watches


def _engine(h: Harness, workers: int) -> Engine:
    return Engine(h.watchlist, h.state, h.evidence, [h.collector], workers=workers)


@pytest.mark.parametrize("workers", [2, 3])
def test_engine_reads_the_same_through_workers_as_in_process(
    site: Site, harness: Callable[..., Harness], workers: int
) -> None:
    # Two processes: one worker and this one. Three: two workers.
    n = WATCHES + 2
    watches = _pages(site, n, 0)
    pooled, inline = harness(watches), harness(watches)
    first = _engine(pooled, workers).run(force=True)
    assert first.workers == workers - 1
    _engine(inline, 1).run(force=True)
    _pages(site, n, 1)  # every list loses its first job and gains one
    second = _engine(pooled, workers).run(force=True)
    _engine(inline, 1).run(force=True)

    def seen(h: Harness) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        events = h.collector.events
        return sorted((e.watch, e.kind, tuple(e.removed), tuple(e.added)) for e in events)

    assert seen(pooled) == seen(inline)
    assert len(pooled.collector.events) == 2 * n
    assert second.outcomes["ok"] == n
    by_id = {e.watch: e for e in pooled.collector.events if e.kind == "changed"}
    assert by_id["p3"].removed == ["Job 3-0"] and by_id["p3"].added == ["Job 3-3"]
    states = pooled.state.load([w["id"] for w in watches])
    for w in watches:
        # Same contents kept; the captures' own ids differ (each chains to its own run).
        assert [r["content"] for r in pooled.history(w["id"])] == [
            r["content"] for r in inline.history(w["id"])
        ]
        report = verify_folder(pooled.root / "evidence" / w["id"], states[w["id"]].chain_head)
        assert report.ok and report.versions == 2, report.problems


def test_a_run_with_nothing_to_read_starts_no_worker(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = harness(_pages(site, WATCHES, 0))
    assert _engine(h, 3).run(force=True).workers == 2
    # Same bytes again: recognised by their hash, nothing is parsed.
    again = _engine(h, 3).run(force=True)
    assert again.checked == WATCHES
    assert again.workers == 0


def test_checks_are_committed_even_if_stopping_the_workers_fails(
    site: Site, harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness(_pages(site, WATCHES, 0))
    original = WorkerPool.aclose

    async def failing(self: WorkerPool) -> None:
        await original(self)
        raise RuntimeError("stopping the workers failed")

    monkeypatch.setattr(WorkerPool, "aclose", failing)
    with pytest.raises(RuntimeError, match="stopping the workers failed"):
        _engine(h, 2).run(force=True)
    assert all(len(h.history(f"p{i}")) == 1 for i in range(WATCHES))


def analyse_or_crash(fetch: Any, *rest: Any) -> Any:
    """Runs in the worker: p5's page takes the worker down, the others are read."""
    from scrubwatch.check.analyse import analyse

    if fetch.url.endswith("/p5.html"):
        os._exit(9)
    return analyse(fetch, *rest)


def test_a_page_that_kills_its_reader_is_an_error_of_that_watch_alone(
    site: Site,
    harness: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import scrubwatch.check.engine

    watches = _pages(site, WATCHES, 0)
    h = harness(watches, confirm_errors=2)
    # The worker looks the function up by name: it must find this module.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    monkeypatch.setattr(scrubwatch.check.engine, "analyse", analyse_or_crash)
    first = _engine(h, 2).run(force=True)  # completes: one page is not the run
    assert first.outcomes["error"] == 1 and first.outcomes["ok"] == WATCHES - 1
    assert "p5: reading " in caplog.text and "/p5.html failed" in caplog.text
    read = [w["id"] for w in watches if h.history(w["id"])]
    assert "p5" not in read and len(read) == WATCHES - 1
    assert [e.kind for e in h.collector.events if e.watch == "p5"] == []
    _engine(h, 2).run(force=True)  # the second failure in a row is reported, once
    errors = [e for e in h.collector.events if e.watch == "p5"]
    assert [(e.kind, e.reason) for e in errors] == [("error", "read_failed")]
    assert "could not be read" in errors[0].summary


def test_by_default_pages_are_read_in_a_worker_even_for_a_short_list(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = harness(_pages(site, 2, 0))
    report = Engine(h.watchlist, h.state, h.evidence, [h.collector]).run(force=True)
    assert report.workers >= 1
    assert [e.kind for e in h.collector.events] == ["first_seen", "first_seen"]


@pytest.fixture
def broken_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that cannot import the reading code: a selectolax that fails to load."""
    (tmp_path / "selectolax").mkdir()
    (tmp_path / "selectolax" / "__init__.py").write_text("raise ImportError('broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))


@pytest.mark.usefixtures("broken_install")
def test_a_worker_that_cannot_read_pages_is_reported_as_unavailable() -> None:
    results, pool = in_pool(1, (len, "abc"), (len, "de"))
    assert all(isinstance(r, WorkersUnavailable) for r in results), results
    assert "broken" in str(results[0])
    assert pool.started == 1  # not retried page after page


@pytest.mark.usefixtures("broken_install")
def test_without_workers_the_engine_reads_in_its_own_process(
    site: Site, harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(_pages(site, 3, 0))
    report = _engine(h, 2).run(force=True)
    assert [e.kind for e in h.collector.events] == ["first_seen"] * 3
    assert report.outcomes["ok"] == 3
    assert "reading pages in this process instead of workers" in caplog.text


def read_probe_or_crash(fetch: Any) -> Any:
    """Runs in the worker: the host's not-found page takes the worker down."""
    from scrubwatch.check.analyse import read_probe

    if "/scrubwatch-probe-" in fetch.url:
        os._exit(9)
    return read_probe(fetch)


def test_a_not_found_page_that_kills_its_reader_counts_as_no_answer(
    site: Site, harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    import scrubwatch.check.engine

    watches = _pages(site, 2, 0)
    h = harness(watches)
    site.fallback = Page(page("Oops", "<p>Nothing here</p>"))  # a soft 404: 200 for anything
    _engine(h, 2).run(force=True)
    _pages(site, 2, 1)  # both pages change: the host's not-found page is asked for
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    monkeypatch.setattr(scrubwatch.check.engine, "read_probe", read_probe_or_crash)
    report = _engine(h, 2).run(force=True)
    assert report.outcomes["ok"] == 2
    assert [e.kind for e in h.collector.events if e.kind != "first_seen"] == ["changed"] * 2
