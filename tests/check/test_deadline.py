"""One deadline per watch (settings.deadline) covers every hop, retry and the reading, and
a watch past it never holds the others' alerts (issue 10, M8)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from scrubwatch.check.engine import Engine
from support import Harness, RawServer, Site, kinds, page
from werkzeug import Request, Response

Make = Callable[..., Harness]

HOP_SECONDS = 0.7  # each hop well inside the 1 s timeout; the chain far past the deadline


def slow_redirect_chain(server_holder: list[RawServer]) -> Callable[[bytes, Any], None]:
    def reply(head: bytes, wfile: Any) -> None:
        # A slow host: each answer takes HOP_SECONDS (released at once when the test ends).
        server_holder[0].release.wait(HOP_SECONDS)
        hop = int(re.match(rb"GET /r(\d+)", head).group(1))  # type: ignore[union-attr]
        if hop < 8:
            wfile.write(
                b"HTTP/1.1 302 Found\r\nLocation: /r%d\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n" % (hop + 1)
            )
        else:
            body = page("End", "<p>made it</p>").encode()
            wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )

    return reply


def test_a_slow_redirect_chain_ends_at_the_deadline_and_the_others_are_reported(
    site: Site, harness: Make, raw_server: Callable[..., RawServer]
) -> None:
    holder: list[RawServer] = []
    holder.append(raw_server(slow_redirect_chain(holder)))
    site.set("/good.html", page("Good", "<p>fine</p>"))
    h = harness(
        [
            {"id": "slow", "url": holder[0].url("/r0")},
            {"id": "good", "url": site.url("/good.html")},
        ],
        timeout="1s",
        deadline="2s",
        confirm_errors=1,
    )

    events = h.run()

    assert ("good", "first_seen") in kinds(events)
    [error] = [e for e in events if e.watch == "slow"]
    assert (error.kind, error.reason) == ("error", "timeout")
    assert "deadline of 2 s" in error.summary, error.summary
    # Nine hops of 0.7 s each would have taken 6.3 s: the chain was cut short.
    assert len(holder[0].requests) < 5


CATASTROPHIC = r"(a+)+$"  # backtracks exponentially on a run of a's that does not end the line


def test_a_catastrophic_ignore_pattern_is_that_watchs_read_failed_and_others_are_read(
    site: Site, harness: Make
) -> None:
    site.set("/evil.html", page("Evil", "<p>" + "a" * 40 + "!</p>"))
    site.set("/good.html", page("Good", "<p>fine</p>"))
    h = harness(
        [
            {"id": "evil", "url": site.url("/evil.html"), "ignore": [CATASTROPHIC]},
            {"id": "good", "url": site.url("/good.html")},
        ],
        timeout="1s",
        deadline="2s",
        confirm_errors=1,
    )
    # Reading in worker processes (the harness reads in its own process by default).
    engine = Engine(h.watchlist, h.state, h.evidence, [h.collector], workers=2)

    report = engine.run(force=True)

    events = h.collector.events
    assert ("good", "first_seen") in kinds(events)
    assert report.failures == {"evil": "read_failed"}
    [error] = [e for e in events if e.watch == "evil"]
    assert (error.kind, error.reason) == ("error", "read_failed")
    # Stopped within its deadline (plus the floor every reading gets), not after the five
    # minutes a stuck reading used to get.
    assert report.seconds < 60


class Recorder:
    """A channel that notes, for each delivery, whether the slow watch's check was still
    going on (nothing committed for it yet), then lets the slow page answer."""

    name = "recorder"

    def __init__(self, slow: list[RawServer], state: Any) -> None:
        self.slow = slow
        self.state = state
        self.events: list[Any] = []
        self.slow_was_pending: list[bool] = []

    def publish(self, events: Any) -> list[str]:
        self.events.extend(events)
        self.slow_was_pending.append(self.state.load(["slow"])["slow"].last_checked == 0)
        self.slow[0].release.set()
        return [e.event_id for e in events]


def test_an_alert_goes_out_while_a_slow_watch_is_still_being_checked(
    site: Site, harness: Make, raw_server: Callable[..., RawServer]
) -> None:
    holder: list[RawServer] = []

    def never_until_released(head: bytes, wfile: Any) -> None:
        holder[0].release.wait(60)

    holder.append(raw_server(never_until_released))
    site.set("/good.html", page("Good", "<p>fine</p>"))
    h = harness(
        [{"id": "slow", "url": holder[0].url("/")}, {"id": "good", "url": site.url("/good.html")}],
        timeout="5s",
    )
    recorder = Recorder(holder, h.state)

    h.engine(publishers=[recorder]).run(force=True)

    assert [e.watch for e in recorder.events] == ["good"]
    # Delivered while the other watch was still waiting for its page, not at the run's end.
    assert recorder.slow_was_pending == [True]


def test_a_run_out_of_budget_starts_no_check_and_names_what_it_left(
    site: Site, harness: Make
) -> None:
    # A Lambda's remaining time (issue 12): under one fetch timeout left, no check is a
    # fair try, so none starts; the watches are named, their state untouched.
    site.set("/a.html", page("A", "<p>a</p>"))
    h = harness([{"id": "a", "url": site.url("/a.html")}], timeout="5s")
    report = h.engine().run(force=True, budget=1.0)
    assert (report.unfinished, report.checked) == (["a"], 0)
    assert h.state.load(["a"])["a"].last_checked == 0
    assert site.seen() == []

    report = h.engine().run(force=True, budget=60.0)
    assert (report.unfinished, report.checked) == ([], 1)


def test_a_not_found_probe_the_budget_cannot_afford_leaves_the_watch_for_later(
    site: Site, harness: Make
) -> None:
    # The page changed, so the host's not-found page must be asked for; too little of the
    # budget is left for that after a slow answer. Cut short, the probe would pass for a
    # host that never answers (a soft 404 reported as a change), so the watch waits.
    body = {"html": page("Jobs", "<p>Engineer</p>")}

    def slow(request: Request) -> Response:
        time.sleep(1.5)  # the site's own slowness, the condition under test
        return Response(body["html"], content_type="text/html; charset=utf-8")

    site.set("/jobs.html", slow)
    h = harness([{"id": "jobs", "url": site.url("/jobs.html")}], timeout="2s")
    assert kinds(h.run()) == [("jobs", "first_seen")]
    body["html"] = page("Jobs", "<p>Tester</p>")
    before = h.state.load(["jobs"])["jobs"]

    report = h.engine().run(force=True, budget=3.0)
    assert (report.unfinished, report.events) == (["jobs"], [])
    assert h.state.load(["jobs"])["jobs"] == before  # untouched
    assert [s.path for s in site.seen() if s.path != "/jobs.html"] == []  # no probe sent

    assert kinds(h.run()) == [("jobs", "changed")]


def test_a_reading_gets_no_more_than_the_budget_leaves_past_its_floor(harness: Make) -> None:
    from scrubwatch.check.engine import _Run

    h = harness([{"id": "a", "url": "http://127.0.0.1:9/a.html"}], timeout="20s")
    engine = h.engine()
    assert engine._reading_time(None) == 60.0  # the watch's deadline, without a budget
    engine._run = _Run(stop_at=time.monotonic() + 30.0)
    assert 29.0 < engine._reading_time(None) <= 30.0
    engine._run = _Run(stop_at=time.monotonic() + 1.0)
    assert engine._reading_time(None) == 10.0  # the floor: a large page takes that long
