"""Issue 9: the record tells the truth. Each event points at the capture its own check made;
an edited watch still reports a change; a page never seen is never "gone"; moves and
reorders are said as such; the not-found probe names no tool."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.evidence.build import fetch_from_warc
from scrubwatch.evidence.verify import verify_folder
from support import Harness, Page, Site, kinds, page

WARCIO = str(Path(sys.executable).parent / "warcio")

MAP = page(
    "Campus",
    "<h1>Campus</h1><div id=map><p>Beijing R&D Center</p><p>Urumqi R&D Center</p></div>"
    "<p>Contact HR</p>",
)
NO_MAP = page("Campus", "<h1>Campus</h1><p>Contact HR</p>")
HOME = page("Lumen Optics", "<h1>Welcome to Lumen Optics</h1><p>Cameras for everyone.</p>")
SOFT_404 = page("Oops", "<h1>Oops</h1><p>We looked everywhere.</p>")


def first_check(
    site: Site, harness: Callable[..., Harness], path: str, body: str, **watch: str
) -> Harness:
    """One page served, one watch of it, checked once."""
    site.set(path, body)
    h = harness([{**watch, "url": site.url(path)}])
    h.run()
    return h


def manifest_of(h: Harness, watch_id: str, version: str) -> dict[str, object]:
    path = h.root / "evidence" / watch_id / f"{version}.manifest.json"
    data: dict[str, object] = json.loads(path.read_bytes())
    return data


def scrub_map_then(h: Harness, site: Site, after: str) -> None:
    """The seed case: the map goes first (element_missing), then the page itself."""
    site.set("/campus/map.html", MAP)
    assert kinds(h.run()) == [("campus", "first_seen")]
    site.set("/campus/map.html", NO_MAP)
    assert kinds(h.run()) == [("campus", "element_missing")]
    if after == "redirect":
        site.set(
            "/campus/map.html",
            Page(b"", status=302, headers={"Location": "/"}, content_type=None),
        )
    else:
        site.set("/campus/map.html", SOFT_404)
        site.fallback = Page(SOFT_404, status=200)
    assert h.run() == []  # suspected
    assert kinds(h.run()) == [("campus", "gone")]


def check_gone_has_its_own_capture(h: Harness, expect_final: str, expect_text: str) -> None:
    missing, gone = h.collector.events[1], h.collector.events[2]
    assert gone.current is not None and missing.current is not None and gone.previous
    # The gone event's evidence is the capture its own check made, not the page before.
    assert gone.current.evidence != missing.current.evidence
    assert gone.previous.evidence == missing.current.evidence
    assert gone.current.final_url == expect_final
    rows = h.history("campus")
    assert len({r["version"] for r in rows}) == len(rows) == 3
    assert rows[-1]["version"] == gone.current.version
    kept = manifest_of(h, "campus", gone.current.version)
    assert kept["fetched_at"] == gone.current.fetched_at
    assert kept["final_url"] == expect_final
    warc = h.evidence.warc("campus", gone.current.version)
    exchange = fetch_from_warc(warc or b"")
    assert exchange is not None and expect_text in exchange.content.decode()
    head = h.state.load(["campus"])["campus"].chain_head
    assert gone.current.manifest_sha256 == head == rows[-1]["manifest_sha256"]
    report = verify_folder(h.root / "evidence" / "campus", head)
    assert report.ok and report.versions == 3, report.problems


@pytest.mark.parametrize(
    ("after", "final_path", "shown"),
    [("redirect", "/", "Cameras for everyone."), ("soft_404", "/campus/map.html", "We looked")],
)
def test_map_removed_then_the_page_gone_keeps_what_answered(
    site: Site, harness: Callable[..., Harness], after: str, final_path: str, shown: str
) -> None:
    site.set("/", HOME)
    h = harness([{"id": "campus", "url": site.url("/campus/map.html"), "select": "#map"}])
    scrub_map_then(h, site, after)
    check_gone_has_its_own_capture(h, site.url(final_path), shown)
    gone = h.collector.events[2]
    assert gone.reason == after and gone.current is not None
    if after == "redirect":  # the redirect itself is in the record, as a WARC response
        assert manifest_of(h, "campus", gone.current.version)["redirects"] == [
            {"url": site.url("/campus/map.html"), "status": 302, "location": site.url("/")}
        ]
        answers = responses(h.evidence.warc("campus", gone.current.version) or b"")
        assert answers == [
            (site.url("/"), "200", None),
            (site.url("/campus/map.html"), "302", "/"),  # as the server said it
        ]
        warc = h.evidence.warc_path("campus", gone.current.version)
        assert subprocess.run([WARCIO, "check", str(warc)], capture_output=True).returncode == 0


def responses(warc_gz: bytes) -> list[tuple[str, str, str | None]]:
    """Each response record: target, status, Location."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    for record in ArchiveIterator(io.BytesIO(warc_gz)):
        if record.rec_type == "response":
            http = record.http_headers
            out.append(
                (
                    record.rec_headers.get_header("WARC-Target-URI"),
                    http.get_statuscode(),
                    http.get_header("Location"),
                )
            )
    return out


def test_a_page_seen_again_is_a_new_capture_with_its_own_time(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/a.html", page("A", "<p>one</p>"), id="a")
    site.set("/a.html", page("A", "<p>two</p>"))
    h.run()
    site.set("/a.html", page("A", "<p>one</p>"))
    [back] = h.run()
    first = h.collector.events[0]
    assert back.current is not None and first.current is not None
    assert back.current.content == first.current.content  # the same content...
    assert back.current.version != first.current.version  # ...captured anew
    assert manifest_of(h, "a", back.current.version)["fetched_at"] == back.current.fetched_at


# --- editing a watch ---------------------------------------------------------------------


@pytest.fixture
def edits(tmp_path: Path) -> Iterator[Callable[[list[dict[str, Any]]], Harness]]:
    """One state folder, the watch list edited between runs."""
    made: list[Harness] = []

    def edit(watches: list[dict[str, Any]]) -> Harness:
        if made:
            made[-1].close()
        made.append(Harness(tmp_path / "state", watches))
        return made[-1]

    yield edit
    made[-1].close()


JOBS = page("Jobs", "<ul id=jobs><li>Sales Manager, Urumqi</li><li>Engineer, Beijing</li></ul>")
JOBS_EDITED = page(
    "Jobs", "<ul id=jobs><li>Sales Manager, Kashgar</li><li>Engineer, Beijing</li></ul>"
)


def test_a_change_made_while_the_watch_was_edited_is_still_reported(
    site: Site, edits: Callable[[list[dict[str, Any]]], Harness]
) -> None:
    site.set("/jobs.html", JOBS)
    url = site.url("/jobs.html")
    edits([{"id": "jobs", "url": url}]).run()
    site.set("/jobs.html", JOBS_EDITED)
    edited = edits([{"id": "jobs", "url": url, "keywords": ["Urumqi"]}])
    [event] = edited.run()
    assert event.kind == "changed"
    assert event.removed == ["Sales Manager, Urumqi"]
    assert event.added == ["Sales Manager, Kashgar"]
    assert event.keywords_removed == ["Urumqi"]
    assert edited.reports[-1].rebaselined == {
        "jobs": "keywords changed: the page was compared as read the new way"
    }
    assert edited.run() == []  # told once
    assert edited.reports[-1].rebaselined == {}


def test_a_select_edit_with_no_change_meanwhile_is_quiet(
    site: Site, edits: Callable[[list[dict[str, Any]]], Harness]
) -> None:
    site.set("/jobs.html", JOBS)
    url = site.url("/jobs.html")
    edits([{"id": "jobs", "url": url}]).run()
    edited = edits([{"id": "jobs", "url": url, "items": "#jobs li"}])
    assert edited.run() == []
    assert "items changed" in edited.reports[-1].rebaselined["jobs"]
    site.set("/jobs.html", JOBS_EDITED)
    [event] = edited.run()
    assert (event.removed, event.added) == (["Sales Manager, Urumqi"], ["Sales Manager, Kashgar"])


def test_a_select_edit_that_hides_a_change_still_reports_it(
    site: Site, edits: Callable[[list[dict[str, Any]]], Harness]
) -> None:
    site.set("/jobs.html", JOBS)
    url = site.url("/jobs.html")
    edits([{"id": "jobs", "url": url}]).run()
    site.set("/jobs.html", JOBS_EDITED)
    edited = edits([{"id": "jobs", "url": url, "select": "#jobs"}])
    [event] = edited.run()
    assert event.kind == "changed" and "Sales Manager, Urumqi" in event.removed


# --- never seen is never gone ----------------------------------------------------------------


def test_a_mistyped_url_is_an_error_never_gone(site: Site, harness: Callable[..., Harness]) -> None:
    h = harness([{"id": "typo", "url": site.url("/jbos.html")}])
    assert h.run() == [] and h.run() == []
    [event] = h.run()  # confirm_errors: 3
    assert (event.kind, event.reason) == ("error", "http_404")
    assert "has never been reachable" in event.summary and event.summary.endswith("Check the URL.")
    assert h.reports[-1].failed == ["typo"]
    assert h.run() == []  # once


def test_a_name_that_never_resolved_is_an_error_never_gone(harness: Callable[..., Harness]) -> None:
    h = harness([{"id": "nowhere", "url": "http://nowhere.invalid/"}], confirm_errors=1)
    [event] = h.run()
    assert event.kind == "error" and event.reason == "dns"
    assert "has never been reachable" in event.summary


# --- moves and reorders ---------------------------------------------------------------------


def test_a_permanent_move_with_the_same_content_is_one_moved_event(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(
        site, harness, "/ads/1001.html", page("Ad", "<p>Firmware Engineer, Urumqi</p>"), id="ad"
    )
    site.set("/jobs/1001.html", page("Ad", "<p>Firmware Engineer, Urumqi</p>"))
    site.set(
        "/ads/1001.html",
        Page(b"", status=301, headers={"Location": "/jobs/1001.html"}, content_type=None),
    )
    [event] = h.run()
    assert event.kind == "moved" and event.severity == "low"
    assert event.current is not None and event.current.final_url == site.url("/jobs/1001.html")
    assert site.url("/jobs/1001.html") in event.summary
    assert len(h.history("ad")) == 2  # the move is kept as evidence
    assert h.run() == []  # once


def test_items_only_reordered_are_quiet_by_default(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(
        site,
        harness,
        "/l.html",
        page("L", "<ul><li>A</li><li>B</li><li>C</li></ul>"),
        id="l",
        items="li",
    )
    site.set("/l.html", page("L", "<ul><li>C</li><li>B</li><li>A</li></ul>"))
    assert h.run() == []


# --- staying unseen --------------------------------------------------------------------------


def test_the_not_found_probe_looks_like_a_visitor_s_mistyped_link(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/careers/ads/1001.html", page("Ad", "<p>one</p>"), id="ad")
    site.set("/careers/ads/1001.html", page("Ad", "<p>two</p>"))
    h.run()
    paths = [s.path for s in site.seen()]
    probes = [p for p in paths if p not in ("/careers/ads/1001.html", "/")]
    assert len(probes) == 1
    assert probes[0].startswith("/careers/ads/") and probes[0].endswith(".html")
    for seen in site.seen():
        assert "scrubwatch" not in seen.path.lower()
        assert not any("scrubwatch" in v.lower() for v in seen.headers.values())


# --- a watch whose evidence cannot be written -------------------------------------------------


def test_an_unwritable_evidence_folder_fails_that_watch_only(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/a.html", page("A", "<p>a</p>"))
    site.set("/b.html", page("B", "<p>b</p>"))
    h = harness([{"id": "a", "url": site.url("/a.html")}, {"id": "b", "url": site.url("/b.html")}])
    (h.root / "evidence").mkdir(parents=True)
    (h.root / "evidence" / "a").write_text("a file where the folder should be")
    assert kinds(h.run()) == [("b", "first_seen")]
    assert h.reports[-1].failed == ["a"]
    assert "evidence not written" in h.reports[-1].failures["a"]
    (h.root / "evidence" / "a").unlink()
    assert kinds(h.run()) == [("a", "first_seen")]  # nothing was lost: checked again


# --- state written before captures and contents were told apart --------------------------------


OLD_SCHEMA = """
CREATE TABLE watch_state (watch_id TEXT PRIMARY KEY, rev INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE version (id INTEGER PRIMARY KEY AUTOINCREMENT, watch_id TEXT NOT NULL,
    version TEXT NOT NULL, fetched_at TEXT NOT NULL, status INTEGER, final_url TEXT,
    evidence TEXT);
"""


def test_history_of_an_older_state_file_still_reads(tmp_path: Path) -> None:
    from scrubwatch.backends.local import SqliteStateStore

    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO version (watch_id, version, fetched_at, status, final_url, evidence)"
        " VALUES ('a', 'v1', '2026-01-01T00:00:00.000Z', 200, 'http://x/', 'file:///v1')"
    )
    db.commit()
    db.close()
    path.chmod(0o444)
    readonly = SqliteStateStore(path, readonly=True)
    assert [r["version"] for r in readonly.history("a")] == ["v1"]
    readonly.close()
    path.chmod(0o644)
    store = SqliteStateStore(path)
    [row] = store.history("a")
    assert row["version"] == "v1" and row["manifest_sha256"] is None and row["content"] is None
    store.close()


def test_an_old_state_without_content_ids_sees_no_change_in_the_same_page(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/a.html", page("A", "<p>one</p>"), id="a")
    # Rewrite the state as the previous release wrote it: no content id beside the version.
    db = sqlite3.connect(h.root / "state.sqlite3")
    [(raw,)] = db.execute("SELECT state FROM watch_state WHERE watch_id = 'a'")
    state = json.loads(raw)
    state["current"].pop("content")
    state["current"].pop("manifest_sha256")
    state["body_sha256"] = None  # read the page again, not the same-bytes shortcut
    db.execute("UPDATE watch_state SET state = ? WHERE watch_id = 'a'", (json.dumps(state),))
    db.commit()
    db.close()
    assert h.run() == []
    site.set("/a.html", page("A", "<p>two</p>"))
    [event] = h.run()
    assert event.kind == "changed" and event.removed == ["one"]


def test_a_watch_asked_for_by_name_but_not_due_is_named_in_the_report(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/a.html", page("A", "<p>one</p>"), id="a")
    report = h.engine().run(only=["a"])
    assert report.checked == 0 and report.not_due == ["a"]


def test_the_report_names_a_suspicion_until_it_is_confirmed(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/a.html", page("A", "<p>one</p>"), id="a")
    del site.pages["/a.html"]
    assert h.run() == []
    assert h.reports[-1].suspected == ["a"]
    assert kinds(h.run()) == [("a", "gone")]
    assert h.reports[-1].suspected == []
    assert h.run() == [] and h.reports[-1].suspected == []


def test_a_selector_that_matches_nothing_on_the_first_check_is_a_warning(
    site: Site, harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = first_check(site, harness, "/jobs.html", JOBS, id="jobs", select="#job-list")
    assert h.reports[-1].matched_nothing == ["jobs"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "select '#job-list' matches nothing" in warning
    assert "--check-selectors" in warning


def test_a_new_url_is_a_new_baseline_not_a_change(
    site: Site, edits: Callable[[list[dict[str, Any]]], Harness]
) -> None:
    site.set("/jobs.html", JOBS)
    site.set("/jobs-2.html", JOBS_EDITED)
    edits([{"id": "jobs", "url": site.url("/jobs.html")}]).run()
    moved = edits([{"id": "jobs", "url": site.url("/jobs-2.html")}])
    assert moved.run() == []
    assert moved.reports[-1].rebaselined == {"jobs": "url changed: the new page is the baseline"}
    assert len(moved.history("jobs")) == 2  # the new page is kept as the new baseline


def test_a_state_written_by_a_newer_release_still_loads() -> None:
    from scrubwatch.core.decide import WatchState

    state = WatchState.from_json({"watch_id": "a", "condition": "up", "from_the_future": 1})
    assert state.watch_id == "a" and state.condition == "up"


def test_a_forbidden_address_is_rechecked_soon_so_a_fix_takes_effect(
    site: Site, harness: Callable[..., Harness]
) -> None:
    from scrubwatch.core.due import is_due

    site.set("/a.html", page("A", "<p>one</p>"))
    h = harness([{"id": "a", "url": site.url("/a.html"), "every": "6h"}], allow_networks=[])
    [event] = h.run()
    assert event.reason == "forbidden_address"
    state = h.state.load(["a"])["a"]
    watch = h.watchlist.watches[0]
    # recheck (10 minutes), not the watch's 6 hours.
    assert is_due(watch, state, state.last_checked + 601, recheck=600)


def test_a_blocked_page_says_it_is_not_a_deletion_last(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/a.html", page("A", "<p>one</p>"))
    h = harness([{"id": "a", "url": site.url("/a.html")}], confirm_errors=2)
    h.run()
    site.set("/a.html", Page(page("Forbidden", "<p>no</p>"), status=403))
    assert h.run() == []
    [event] = h.run()
    assert (
        event.summary
        == "ERROR: a blocks scrubwatch (http_403) 2 checks in a row. This is not a deletion."
    )


def test_a_part_removed_later_is_an_event_not_a_selector_to_check(
    site: Site, harness: Callable[..., Harness]
) -> None:
    h = first_check(site, harness, "/campus/map.html", MAP, id="campus", select="#map")
    site.set("/campus/map.html", NO_MAP)
    assert kinds(h.run()) == [("campus", "element_missing")]
    assert h.reports[-1].matched_nothing == []


def test_a_mistyped_url_corrected_in_the_watch_list_is_due_at_once(
    site: Site, harness: Callable[..., Harness]
) -> None:
    from scrubwatch.core.due import is_due, next_due

    site.set("/ad.html", page("Ad", "<p>Urumqi</p>"))
    typo = {"id": "ad", "url": site.url("/da.html"), "every": "6h"}
    h = harness([typo], confirm_errors=1)
    [error] = h.run()
    assert error.kind == "error"
    state = h.state.load(["ad"])["ad"]
    soon = state.last_checked + 60
    assert not is_due(h.watchlist.watches[0], state, soon, recheck=600)

    # The user corrects the URL: the next `scrubwatch check` checks it, not one 6 h later.
    fixed = harness([{**typo, "url": site.url("/ad.html")}], state=h.state)
    watch = fixed.watchlist.watches[0]
    assert is_due(watch, state, soon, recheck=600)
    assert next_due(watch, state, recheck=600) == state.last_checked
