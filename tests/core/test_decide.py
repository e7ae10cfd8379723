"""The state machine: one event per transition, confirmations, and the event record."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from scrubwatch.check.analyse import version_id
from scrubwatch.core.classify import Outcome
from scrubwatch.core.config import Settings, Watch
from scrubwatch.core.decide import Observation, Transition, WatchState, decide
from scrubwatch.core.events import SCHEMA, Event, VersionRef, event_id, rfc3339
from scrubwatch.core.reader import Reading, ReadSpec, read_page

URL = "https://jobs.example.com/campus/recruit.html"
START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

OK = Outcome("ok")
NOT_MODIFIED = Outcome("not_modified")
GONE_404 = Outcome("gone", "http_404")
GONE_410 = Outcome("gone", "http_410")
GONE_DNS = Outcome("gone", "dns", "NXDOMAIN")
SOFT_404 = Outcome("gone", "soft_404")
TIMEOUT = Outcome("error", "timeout", "read timed out")
HTTP_500 = Outcome("error", "http_5xx", "HTTP 500")
FORBIDDEN = Outcome("error", "forbidden_address", "10.0.0.5 is private")
BLOCKED_403 = Outcome("blocked", "http_403")


def make_watch(**overrides: object) -> Watch:
    values: dict[str, object] = {
        "id": "rd-map",
        "name": "Campus recruitment R&D map",
        "url": URL,
        "select": None,
        "exclude": (),
        "ignore": (),
        "items": None,
        "keywords": (),
        "every": 3600.0,
        "notify": ("email",),
        "tags": (),
    }
    values.update(overrides)
    return Watch(**values)  # type: ignore[arg-type]


def page(inner: str, title: str = "Campus recruitment") -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><nav>Menu</nav>{inner}</body></html>"
    ).encode()


@dataclass
class Run:
    """Drives decide() the way the engine does, one check at a time, by hand."""

    watch: Watch
    settings: Settings = field(default_factory=Settings)
    state: WatchState | None = None
    now: datetime = START
    readings: dict[str, Reading] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = WatchState(self.watch.id)

    @property
    def spec(self) -> ReadSpec:
        w = self.watch
        return ReadSpec(w.select, w.exclude, w.ignore, w.items, w.keywords)

    def observe(
        self,
        outcome: Outcome,
        body: bytes | None = None,
        status: int | None = None,
        final_url: str = URL,
        content_type: str = "text/html; charset=utf-8",
    ) -> Observation:
        assert self.state is not None
        reading = version = previous = None
        if body is not None:
            reading = read_page(body, {"content-type": content_type}, final_url, self.spec)
            code = status if status is not None else 200
            version = VersionRef(
                version=version_id(code, reading),
                fetched_at=rfc3339(self.now),
                status=code,
                final_url=final_url,
                evidence=f"file:///evidence/{self.watch.id}/{version_id(code, reading)}",
            )
            self.readings.setdefault(version.version, reading)
            current = self.state.current
            if current is not None and reading.fingerprint != self.state.fingerprint:
                previous = self.readings[current.version]
        return Observation(
            outcome=outcome,
            checked_at=self.now,
            version=version,
            reading=reading,
            previous_reading=previous,
        )

    def check(self, outcome: Outcome, body: bytes | None = None, **kw: object) -> Event | None:
        assert self.state is not None
        obs = self.observe(outcome, body, **kw)  # type: ignore[arg-type]
        t = decide(self.watch, self.settings, self.state, obs)
        self.transitions.append(t)
        self.state = t.state
        self.now += timedelta(hours=1)
        if t.event is not None:
            self.events.append(t.event)
        return t.event

    def ok(self, body: bytes) -> Event | None:
        return self.check(OK, body)

    def readings_fp(self, body: bytes) -> str:
        return read_page(body, {"content-type": "text/html"}, URL, self.spec).fingerprint

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


BASE = page("<div id=rd-map><p>Beijing centre</p><p>Urumqi centre</p></div><p>Contact HR</p>")
EDITED = page("<div id=rd-map><p>Beijing centre</p></div><p>Contact HR</p>")
NOT_FOUND = page("<p>Sorry, nothing here.</p>", title="Not found")


def up(watch: Watch | None = None, body: bytes = BASE, **kw: object) -> Run:
    run = Run(watch or make_watch(), **kw)  # type: ignore[arg-type]
    first = run.ok(body)
    assert first is not None and first.kind == "first_seen"
    return run


# --- first_seen and unchanged -----------------------------------------------------------


def test_first_check_is_first_seen() -> None:
    run = Run(make_watch())
    event = run.ok(BASE)
    assert event is not None
    assert event.kind == "first_seen"
    assert event.reason is None
    assert event.previous is None
    assert event.current is not None and event.current.status == 200
    assert event.watch == "rd-map" and event.url == URL
    assert run.transitions[-1].keep_version is True
    assert run.state is not None
    assert run.state.condition == "up"
    assert run.state.current == event.current
    assert run.state.seq == 1


def test_unchanged_page_gives_no_event() -> None:
    run = up()
    for _ in range(5):
        assert run.ok(BASE) is None
    assert run.kinds() == ["first_seen"]
    assert run.transitions[-1].keep_version is False


def test_not_modified_gives_no_event_and_keeps_the_version() -> None:
    run = up()
    assert run.state is not None
    current = run.state.current
    assert run.check(NOT_MODIFIED) is None
    assert run.state.current == current
    assert run.state.condition == "up"


# --- changed ------------------------------------------------------------------------------


def test_changed_lists_removed_and_added_lines() -> None:
    run = up()
    assert run.state is not None
    before = run.state.current
    event = run.ok(
        page("<div id=rd-map><p>Beijing centre</p><p>Lhasa centre</p></div><p>Contact HR</p>")
    )
    assert event is not None and event.kind == "changed"
    assert event.removed == ["Urumqi centre"]
    assert event.added == ["Lhasa centre"]
    assert event.previous == before
    assert event.current is not None and event.current != before
    assert "-Urumqi centre" in event.diff and "+Lhasa centre" in event.diff
    assert run.state.current == event.current
    # Staying the same after the change: nothing more.
    assert (
        run.ok(
            page("<div id=rd-map><p>Beijing centre</p><p>Lhasa centre</p></div><p>Contact HR</p>")
        )
        is None
    )
    assert run.kinds() == ["first_seen", "changed"]


def test_changed_lists_removed_embeds_and_links() -> None:
    with_map = page(
        "<div id=rd-map><p>Centres</p><iframe src='https://maps.example.net/embed?q=urumqi'>"
        "</iframe><a href='/apply'>Apply</a></div>"
    )
    without = page("<div id=rd-map><p>Centres</p><a href='/apply-now'>Apply</a></div>")
    run = up(body=with_map)
    event = run.ok(without)
    assert event is not None and event.kind == "changed"
    assert event.removed == [
        "iframe: https://maps.example.net/embed?q=urumqi",
        "link: https://jobs.example.com/apply",
    ]
    assert event.added == ["link: https://jobs.example.com/apply-now"]


JOBS = make_watch(items="li.job", keywords=("Xinjiang", "Tibet"))


def jobs(*titles: str) -> bytes:
    lis = "".join(f"<li class=job>{t}</li>" for t in titles)
    return page(f"<ul>{lis}</ul><p>Updated daily</p>")


def test_changed_with_items_removed_and_added() -> None:
    run = up(JOBS, jobs("Engineer, Xinjiang", "Analyst, Beijing", "Driver, Shanghai"))
    event = run.ok(jobs("Analyst, Beijing", "Driver, Shanghai", "Nurse, Tibet"))
    assert event is not None and event.kind == "changed"
    assert event.removed == ["Engineer, Xinjiang"]
    assert event.added == ["Nurse, Tibet"]
    assert event.keywords_removed == ["Xinjiang"]
    assert event.keywords_added == ["Tibet"]
    assert "Xinjiang" in event.summary


def test_reordered_items_are_not_reported_by_default() -> None:
    run = up(JOBS, jobs("A", "B", "C"))
    assert run.ok(jobs("C", "A", "B")) is None
    # The new order is the baseline: the same order again is no change either.
    assert run.ok(jobs("C", "A", "B")) is None
    assert run.state is not None and run.state.fingerprint == run.readings_fp(jobs("C", "A", "B"))


def test_reordered_items_reported_as_such_when_asked() -> None:
    run = up(replace(JOBS, items_order="report"), jobs("A", "B", "C"))
    event = run.ok(jobs("C", "A", "B"))
    # Nothing vanished and nothing arrived: a low-severity note that says what happened.
    assert event is not None and event.kind == "changed" and event.reason == "reordered"
    assert event.removed == [] and event.added == []
    assert event.severity == "low"
    assert "order of 3 items changed" in event.summary


def test_reordered_lines_are_an_order_change_not_content_changed() -> None:
    run = up(make_watch(select="ul"), jobs("A", "B", "C"))
    event = run.ok(jobs("C", "A", "B"))
    assert event is not None and event.reason == "reordered"
    assert "order of 3 lines changed" in event.summary


def test_emptied_item_list_is_changed_with_every_item_removed() -> None:
    run = up(JOBS, jobs("Engineer, Xinjiang", "Analyst, Beijing"))
    event = run.ok(jobs())
    assert event is not None
    assert event.kind == "changed"
    assert event.removed == ["Engineer, Xinjiang", "Analyst, Beijing"]
    assert event.added == []
    assert event.keywords_removed == ["Xinjiang"]
    assert "empty" in event.summary


def test_keyword_only_change() -> None:
    watch = make_watch(keywords=("Xinjiang",))
    run = up(watch, page("<p>Offices in Beijing and Xinjiang</p>"))
    event = run.ok(page("<p>Offices in Beijing</p>"))
    assert event is not None and event.kind == "changed"
    assert event.keywords_removed == ["Xinjiang"]
    assert event.keywords_added == []
    event = run.ok(page("<p>Offices in Beijing and XINJIANG</p>"))
    assert event is not None and event.keywords_added == ["Xinjiang"]


# --- element_missing ----------------------------------------------------------------------

MAP = make_watch(select="#rd-map")
MAP_PAGE = page(
    "<div id=rd-map><h2>R&amp;D centres</h2><p>Urumqi</p>"
    "<iframe src='https://maps.example.net/embed?pb=1'></iframe></div><p>Contact HR</p>"
)
MAP_CUT = page("<h2>Campus recruitment</h2><p>Contact HR</p>")


def test_element_missing_when_the_region_vanishes_from_a_live_page() -> None:
    run = up(MAP, MAP_PAGE)
    event = run.ok(MAP_CUT)
    assert event is not None
    assert event.kind == "element_missing"
    assert event.removed == [
        "R&D centres",
        "Urumqi",
        "iframe: https://maps.example.net/embed?pb=1",
    ]
    assert event.added == []
    assert "#rd-map" in event.summary
    assert run.transitions[-1].keep_version is True
    # Still missing: nothing more.
    assert run.ok(MAP_CUT) is None
    # Other edits outside the (absent) region change nothing that is watched.
    assert run.ok(page("<p>other text, still no map</p>")) is None
    assert run.kinds() == ["first_seen", "element_missing"]


def test_element_missing_then_back_is_a_change() -> None:
    run = up(MAP, MAP_PAGE)
    run.ok(MAP_CUT)
    event = run.ok(MAP_PAGE)
    assert event is not None
    assert event.kind == "changed"
    assert "Urumqi" in event.added


def test_region_missing_from_the_first_check_is_first_seen_not_element_missing() -> None:
    run = Run(MAP)
    event = run.ok(MAP_CUT)
    assert event is not None and event.kind == "first_seen"
    assert "#rd-map" in event.summary
    assert run.ok(MAP_CUT) is None


# --- gone ---------------------------------------------------------------------------------


def test_gone_only_after_confirm_gone_checks_and_nothing_while_suspected() -> None:
    run = up()
    assert run.state is not None
    before = run.state.current
    # Suspected: a 404 with a different body. No event, least of all `changed`.
    assert run.check(GONE_404, NOT_FOUND, status=404) is None
    assert run.state.condition == "up"
    assert run.state.gone_streak == 1
    assert run.state.current == before
    event = run.check(GONE_404, NOT_FOUND, status=404)
    assert event is not None
    assert event.kind == "gone"
    assert event.reason == "http_404"
    assert event.previous == before
    assert event.current is not None and event.current.status == 404
    assert event.removed == ["Menu", "Beijing centre", "Urumqi centre", "Contact HR"]
    assert run.state.condition == "gone"
    assert run.kinds() == ["first_seen", "gone"]


@pytest.mark.parametrize("confirm", [1, 2, 3, 5])
def test_gone_needs_exactly_confirm_gone_checks(confirm: int) -> None:
    run = up(settings=Settings(confirm_gone=confirm))
    for _ in range(confirm - 1):
        assert run.check(GONE_404, NOT_FOUND, status=404) is None
    event = run.check(GONE_404, NOT_FOUND, status=404)
    assert event is not None and event.kind == "gone"


def test_staying_gone_gives_no_more_events() -> None:
    run = up()
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(GONE_404, NOT_FOUND, status=404)
    for _ in range(10):
        assert run.check(GONE_404, NOT_FOUND, status=404) is None
    assert run.check(GONE_410) is None
    assert run.check(GONE_DNS) is None
    assert run.kinds() == ["first_seen", "gone"]


def test_suspected_gone_then_back_unchanged_gives_no_event_at_all() -> None:
    run = up()
    assert run.check(GONE_404, NOT_FOUND, status=404) is None
    assert run.ok(BASE) is None
    assert run.state is not None
    assert run.state.gone_streak == 0
    assert run.kinds() == ["first_seen"]


def test_recovery_clears_the_gone_streak() -> None:
    run = up()
    run.check(GONE_404, NOT_FOUND, status=404)
    run.ok(BASE)
    # One more 404 is a fresh suspicion, not the second of two.
    assert run.check(GONE_404, NOT_FOUND, status=404) is None
    assert run.kinds() == ["first_seen"]


def test_not_modified_also_clears_a_gone_suspicion() -> None:
    run = up()
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(NOT_MODIFIED)
    assert run.check(GONE_404, NOT_FOUND, status=404) is None
    assert run.kinds() == ["first_seen"]


def test_consecutive_gone_checks_with_different_reasons_confirm_gone() -> None:
    # "gone comes after confirm_gone consecutive gone checks": a 404 then a 410 are two.
    run = up()
    assert run.check(GONE_404, NOT_FOUND, status=404) is None
    event = run.check(GONE_410, NOT_FOUND, status=410)
    assert event is not None and event.kind == "gone"


@pytest.mark.parametrize(
    ("outcome", "body", "status"),
    [
        (GONE_DNS, None, None),
        (SOFT_404, page("<p>x</p>", title="Page not found"), 200),
        (Outcome("gone", "redirect", "redirected to https://jobs.example.com/"), BASE, 200),
        (GONE_410, None, None),
    ],
)
def test_every_gone_reason(outcome: Outcome, body: bytes | None, status: int | None) -> None:
    run = up()
    kw = {"status": status} if status else {}
    assert run.check(outcome, body, **kw) is None
    event = run.check(outcome, body, **kw)
    assert event is not None
    assert (event.kind, event.reason) == ("gone", outcome.reason)
    assert event.summary.startswith("GONE")


def test_gone_redirect_summary_names_the_target() -> None:
    run = up()
    target = "https://jobs.example.com/"
    redirect = Outcome("gone", "redirect", f"redirected to {target}")
    home = page("<p>Welcome</p>", title="Home")
    run.check(redirect, home, final_url=target)
    event = run.check(redirect, home, final_url=target)
    assert event is not None and target in event.summary


def test_gone_lists_the_content_that_went() -> None:
    run = up(JOBS, jobs("Engineer, Xinjiang", "Analyst"))
    run.check(GONE_404, NOT_FOUND, status=404)
    event = run.check(GONE_404, NOT_FOUND, status=404)
    assert event is not None and event.kind == "gone"
    assert event.removed == ["Engineer, Xinjiang", "Analyst"]
    assert event.keywords_removed == ["Xinjiang"]


# --- restored -----------------------------------------------------------------------------


def gone_run(body: bytes = BASE, watch: Watch | None = None) -> Run:
    run = up(watch, body)
    run.check(GONE_404, NOT_FOUND, status=404)
    assert run.check(GONE_404, NOT_FOUND, status=404) is not None
    return run


def test_restored_when_a_gone_page_answers_again() -> None:
    run = gone_run()
    assert run.state is not None
    last_good = run.state.current
    event = run.ok(BASE)
    assert event is not None
    assert event.kind == "restored"
    assert event.previous == last_good
    assert event.current is not None and event.current.status == 200
    assert run.state.condition == "up"
    assert run.ok(BASE) is None
    assert run.kinds() == ["first_seen", "gone", "restored"]


def test_restored_with_different_content_lists_the_difference() -> None:
    run = gone_run()
    event = run.ok(EDITED)
    assert event is not None and event.kind == "restored"
    assert event.removed == ["Urumqi centre"]
    assert run.transitions[-1].keep_version is True


def test_not_modified_does_not_restore_a_gone_page() -> None:
    run = gone_run()
    assert run.check(NOT_MODIFIED) is None
    assert run.state is not None and run.state.condition == "gone"


def test_gone_again_after_restore_is_a_new_gone_event() -> None:
    run = gone_run()
    run.ok(BASE)
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(GONE_404, NOT_FOUND, status=404)
    assert run.kinds() == ["first_seen", "gone", "restored", "gone"]
    assert len({e.event_id for e in run.events}) == 4


# --- errors and blocks --------------------------------------------------------------------


def test_error_only_after_confirm_errors_and_only_once() -> None:
    run = up()
    assert run.check(TIMEOUT) is None
    assert run.check(TIMEOUT) is None
    event = run.check(TIMEOUT)
    assert event is not None
    assert event.kind == "error"
    assert event.reason == "timeout"
    assert event.current is None
    assert event.previous is not None
    for _ in range(10):
        assert run.check(TIMEOUT) is None
    assert run.check(HTTP_500) is None
    assert run.kinds() == ["first_seen", "error"]
    assert run.transitions[-1].keep_version is False


@pytest.mark.parametrize("confirm", [1, 2, 4])
def test_error_needs_exactly_confirm_errors(confirm: int) -> None:
    run = up(settings=Settings(confirm_errors=confirm))
    for _ in range(confirm - 1):
        assert run.check(HTTP_500) is None
    event = run.check(HTTP_500)
    assert event is not None and (event.kind, event.reason) == ("error", "http_5xx")


def test_forbidden_address_is_reported_at_once() -> None:
    run = up()
    event = run.check(FORBIDDEN)
    assert event is not None
    assert (event.kind, event.reason) == ("error", "forbidden_address")
    assert run.check(FORBIDDEN) is None


def test_forbidden_address_on_the_very_first_check() -> None:
    run = Run(make_watch())
    event = run.check(FORBIDDEN)
    assert event is not None and event.kind == "error"
    assert event.previous is None and event.current is None


def test_blocked_many_times_is_one_error_and_never_gone() -> None:
    run = up()
    for _ in range(25):
        run.check(BLOCKED_403)
    assert run.kinds() == ["first_seen", "error"]
    event = run.events[-1]
    assert event.reason == "http_403"
    assert "not a deletion" in event.summary
    assert run.state is not None and run.state.condition == "up"
    assert run.state.gone_streak == 0


def test_recovery_clears_the_error_streak_and_a_new_failure_run_reports_again() -> None:
    run = up()
    run.check(TIMEOUT)
    run.check(TIMEOUT)
    assert run.ok(BASE) is None
    assert run.state is not None
    assert (run.state.error_streak, run.state.error_reason) == (0, None)
    assert run.check(TIMEOUT) is None
    assert run.check(TIMEOUT) is None
    assert run.kinds() == ["first_seen"]
    # A reported failure, then recovery, then a new run of failures: a new transition.
    assert run.check(TIMEOUT) is not None
    run.ok(BASE)
    assert run.state.error_reported is False
    run.check(TIMEOUT)
    run.check(TIMEOUT)
    run.check(TIMEOUT)
    assert run.kinds() == ["first_seen", "error", "error"]
    assert run.events[1].event_id != run.events[2].event_id


def test_errors_while_suspected_gone_do_not_emit_changed() -> None:
    run = up()
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(TIMEOUT)
    assert "changed" not in run.kinds()


# --- ids and seq --------------------------------------------------------------------------


def script(run: Run) -> None:
    run.ok(BASE)
    run.ok(EDITED)
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(GONE_404, NOT_FOUND, status=404)
    run.ok(BASE)
    run.check(FORBIDDEN)


def test_event_ids_are_deterministic_and_distinct() -> None:
    a, b = Run(make_watch()), Run(make_watch())
    script(a)
    script(b)
    assert a.kinds() == ["first_seen", "changed", "gone", "restored", "error"]
    assert [e.event_id for e in a.events] == [e.event_id for e in b.events]
    assert len({e.event_id for e in a.events}) == len(a.events)
    assert all(re.fullmatch(r"[0-9a-f]{32}", e.event_id) for e in a.events)


def test_a_retried_check_yields_the_same_event_id() -> None:
    run = up()
    assert run.state is not None
    state = run.state
    obs = run.observe(OK, EDITED)
    first = decide(run.watch, run.settings, state, obs)
    again = decide(run.watch, run.settings, state, obs)
    assert first.event is not None and again.event is not None
    assert first.event.event_id == again.event.event_id
    assert first.event == again.event
    assert first.state == again.state


def test_event_id_depends_on_the_watch() -> None:
    a, b = Run(make_watch()), Run(make_watch(id="other"))
    a.ok(BASE)
    b.ok(BASE)
    assert a.events[0].event_id != b.events[0].event_id


def test_event_id_function() -> None:
    one = event_id("w", 3, "gone", "http_404", "v1", None)
    assert one == event_id("w", 3, "gone", "http_404", "v1", None)
    assert one != event_id("w", 4, "gone", "http_404", "v1", None)
    assert one != event_id("w", 3, "gone", "http_410", "v1", None)
    assert one != event_id("w", 3, "error", "http_404", "v1", None)
    assert one != event_id("w", 3, "gone", "http_404", "v2", None)
    assert one != event_id("w", 3, "gone", "http_404", "v1", "v2")


def test_seq_increments_only_when_an_event_is_emitted() -> None:
    run = Run(make_watch())
    steps: list[tuple[Outcome, bytes | None, dict[str, object]]] = [
        (OK, BASE, {}),
        (OK, BASE, {}),
        (NOT_MODIFIED, None, {}),
        (OK, EDITED, {}),
        (GONE_404, NOT_FOUND, {"status": 404}),
        (GONE_404, NOT_FOUND, {"status": 404}),
        (GONE_404, NOT_FOUND, {"status": 404}),
        (OK, EDITED, {}),
        (TIMEOUT, None, {}),
        (TIMEOUT, None, {}),
        (TIMEOUT, None, {}),
        (TIMEOUT, None, {}),
    ]
    for outcome, body, kw in steps:
        assert run.state is not None
        seq = run.state.seq
        event = run.check(outcome, body, **kw)
        assert run.state.seq == seq + (1 if event else 0)
    assert run.kinds() == ["first_seen", "changed", "gone", "restored", "error"]
    assert run.state is not None and run.state.seq == 5


def test_last_checked_follows_every_check() -> None:
    run = Run(make_watch())
    run.ok(BASE)
    assert run.state is not None
    assert run.state.last_checked == START.timestamp()
    run.check(TIMEOUT)
    assert run.state.last_checked == (START + timedelta(hours=1)).timestamp()


def test_state_round_trips_through_json() -> None:
    run = up()
    run.check(GONE_404, NOT_FOUND, status=404)
    assert run.state is not None
    again = WatchState.from_json(json.loads(json.dumps(run.state.to_json())))
    assert again == run.state


# --- the event record ----------------------------------------------------------------------

FIELDS = {
    "schema",
    "event_id",
    "watch",
    "name",
    "url",
    "kind",
    "reason",
    "detected_at",
    "removed",
    "added",
    "keywords_removed",
    "keywords_added",
    "previous",
    "current",
    "diff",
    "summary",
}
# `witness` (issue 5): where an independent archive holds the same version, or null.
VERSION_FIELDS = {
    "version",
    "fetched_at",
    "status",
    "final_url",
    "evidence",
    "witness",
    "manifest_sha256",
    "content",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def all_kinds() -> list[Event]:
    run = Run(make_watch(select="#rd-map", keywords=("Urumqi",)))
    run.ok(BASE)  # first_seen
    run.ok(EDITED)  # changed
    run.ok(page("<p>Contact HR</p>"))  # element_missing
    run.check(GONE_404, NOT_FOUND, status=404)
    run.check(GONE_404, NOT_FOUND, status=404)  # gone
    run.ok(BASE)  # restored
    run.check(TIMEOUT)
    run.check(TIMEOUT)
    run.check(TIMEOUT)  # error
    assert run.kinds() == [
        "first_seen",
        "changed",
        "element_missing",
        "gone",
        "restored",
        "error",
    ]
    return run.events


@pytest.mark.parametrize("index", range(6))
def test_every_event_json_has_the_schema_fields(index: int) -> None:
    event = all_kinds()[index]
    data = json.loads(event.dumps())
    assert set(data) >= FIELDS
    assert data["schema"] == SCHEMA == "scrubwatch.event/1"
    assert data["event_id"] == event.event_id
    assert data["watch"] == "rd-map"
    assert data["name"] == "Campus recruitment R&D map"
    assert data["url"] == URL
    assert data["kind"] == event.kind
    assert data["reason"] is None or isinstance(data["reason"], str)
    assert RFC3339_UTC.match(data["detected_at"]), data["detected_at"]
    for key in ("removed", "added", "keywords_removed", "keywords_added"):
        assert isinstance(data[key], list)
        assert all(isinstance(x, str) for x in data[key])
    for key in ("previous", "current"):
        assert data[key] is None or set(data[key]) == VERSION_FIELDS
    assert isinstance(data["diff"], str)
    assert isinstance(data["summary"], str) and data["summary"].strip()
    assert "\n" not in data["summary"]
    assert Event.from_json(data) == event


def test_reason_is_set_exactly_for_gone_and_error() -> None:
    for event in all_kinds():
        if event.kind in ("gone", "error"):
            assert event.reason
        else:
            assert event.reason is None


def test_detected_at_is_the_check_time_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    run = Run(make_watch(), now=datetime(2024, 5, 1, 16, 30, 15, 250000, tzinfo=shanghai))
    event = run.ok(BASE)
    assert event is not None
    assert event.detected_at == "2024-05-01T08:30:15.250Z"
    parsed = datetime.fromisoformat(event.detected_at.replace("Z", "+00:00"))
    assert parsed == run.now - timedelta(hours=1)


def test_previous_and_current_carry_version_status_and_evidence() -> None:
    run = up()
    event = run.ok(EDITED)
    assert event is not None and event.previous is not None and event.current is not None
    data = event.to_json()
    assert data["previous"]["status"] == 200
    assert data["current"]["evidence"].endswith(event.current.version)
    assert data["previous"]["version"] != data["current"]["version"]
    assert RFC3339_UTC.match(data["current"]["fetched_at"])


def test_event_json_keeps_non_ascii() -> None:
    run = Run(make_watch(name="新疆研发中心"))
    event = run.ok(page("<p>新疆</p>"))
    assert event is not None
    assert "新疆研发中心" in event.dumps()


def test_changed_event_diff_is_unified_of_the_text() -> None:
    run = up()
    event = run.ok(EDITED)
    assert event is not None
    lines = event.diff.splitlines()
    assert lines[0] == "--- previous"
    assert lines[1] == "+++ current"
    assert "-Urumqi centre" in lines
