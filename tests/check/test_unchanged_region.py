"""A page whose bytes change on every answer (a token, a clock) but whose watched part does
not: read as far as its watched part's digest, never alerted on, and a real change, a
changed link or a "not found" title still seen."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import pytest
from scrubwatch.check import analyse as analyse_module
from scrubwatch.core.reader import Reading
from support import Harness, Site, only, page
from werkzeug import Request, Response

Make = Callable[..., Harness]
JOBS = '<ul id="jobs"><li><a href="/jobs/1">Engineer, Urumqi</a></li><li>Tester</li></ul>'


def noisy(body: Callable[[], str]) -> Callable[[Request], Response]:
    """Every answer carries a fresh token outside the watched part, as live pages do."""
    tokens = itertools.count()

    def handler(request: Request) -> Response:
        head = f"<!-- token {next(tokens)} --><meta name=csrf content=t{next(tokens)}>"
        return Response(page("Jobs", body(), head=head), content_type="text/html; charset=utf-8")

    return handler


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> list[Reading]:
    """Every reading a check makes (the harness reads in its own process)."""
    seen: list[Reading] = []
    real = analyse_module.read_page

    def spy(*args: object, **kwargs: object) -> Reading:
        reading = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(reading)
        return reading

    monkeypatch.setattr(analyse_module, "read_page", spy)
    return seen


def test_a_noisy_page_is_read_only_as_far_as_its_digest(
    site: Site, harness: Make, readings: list[Reading]
) -> None:
    body = {"html": f"<nav>Menu</nav>{JOBS}"}
    site.set("/jobs", noisy(lambda: body["html"]))
    h = harness([{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs", "items": "li"}])
    assert [e.kind for e in h.run()] == ["first_seen"]
    assert h.runs(3) == []
    assert [r.abridged for r in readings] == [False, True, True, True]
    assert all(r.fingerprint == readings[0].fingerprint for r in readings)
    # Only the first check kept a capture: unchanged checks keep no evidence.
    assert len(h.history("jobs")) == 1

    # Outside the watched part: still nothing to read further, nothing to say.
    body["html"] = f"<nav>Menu, now with a banner</nav>{JOBS}"
    assert h.run() == []
    assert readings[-1].abridged

    # An item goes: read in full, and reported with what went.
    body["html"] = JOBS.replace("<li>Tester</li>", "")
    changed = only(h.run())
    assert (changed.kind, changed.removed) == ("changed", ["Tester"])
    assert not readings[-1].abridged


def test_a_changed_link_in_the_watched_part_is_a_change(site: Site, harness: Make) -> None:
    body = {"html": JOBS}
    site.set("/jobs", noisy(lambda: body["html"]))
    h = harness([{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs"}])
    h.runs(2)
    # Same text, another target: the digest is of the markup, so the link is seen.
    body["html"] = JOBS.replace("/jobs/1", "/jobs/9")
    changed = only(h.run())
    assert changed.kind == "changed"
    assert any("/jobs/9" in line for line in changed.added)


def test_a_not_found_title_over_an_unchanged_part_is_still_gone(site: Site, harness: Make) -> None:
    # The title is read from the whole page even when the watched part digests the same.
    titles = iter(["Jobs"] * 2 + ["Page not found"] * 9)

    def handler(request: Request) -> Response:
        return Response(page(next(titles), JOBS), content_type="text/html; charset=utf-8")

    site.set("/jobs", handler)
    h = harness([{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs"}], confirm_gone=1)
    h.runs(2)
    gone = only(h.run())
    assert (gone.kind, gone.reason) == ("gone", "soft_404")


def test_an_edited_watch_reads_the_page_in_full(
    site: Site, harness: Make, readings: list[Reading]
) -> None:
    site.set("/jobs", noisy(lambda: JOBS))
    h = harness([{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs"}])
    h.runs(2)
    assert readings[-1].abridged
    # The same state read with other settings: the digest no longer vouches for it.
    edited = harness(
        [{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs", "items": "li"}],
        state=h.state,
    )
    edited.run()
    assert not readings[-1].abridged


def test_the_debug_log_says_the_watched_part_was_as_last_time(
    site: Site, harness: Make, caplog: pytest.LogCaptureFixture
) -> None:
    site.set("/jobs", noisy(lambda: JOBS))
    h = harness([{"id": "jobs", "url": site.url("/jobs"), "select": "#jobs"}])
    h.run()
    with caplog.at_level(logging.DEBUG, logger="scrubwatch"):
        h.run()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("jobs: ")]
    assert "200 (the watched part as last time)" in line
