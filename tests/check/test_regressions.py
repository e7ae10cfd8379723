"""Bugs found in review, each pinned by the sequence that showed it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from scrubwatch.check.netguard import is_public
from scrubwatch.cli.main import main
from scrubwatch.evidence.verify import verify_folder
from support import Harness, Page, Site, kinds, page
from werkzeug import Request, Response

from .test_crash_safety import Crash, CrashBeforeCommit


def test_a_crash_after_writing_evidence_does_not_fork_the_chain(site: Site, tmp_path: Path) -> None:
    site.set("/a.html", page("A", "<p>one</p>"))
    store = CrashBeforeCommit(tmp_path / "s.sqlite3")
    h = Harness(tmp_path, [{"id": "a", "url": site.url("/a.html")}], state=store)
    try:
        h.run()
        site.set("/a.html", page("A", "<p>two</p>"))
        store.armed = True
        with pytest.raises(Crash):
            h.run()
        assert kinds(h.run()) == [("a", "changed")]
        site.set("/a.html", page("A", "<p>three</p>"))
        assert kinds(h.run()) == [("a", "changed")]
        report = verify_folder(tmp_path / "evidence" / "a", store.load(["a"])["a"].chain_head)
        assert report.ok, report.problems
        assert report.versions == 3
    finally:
        h.close()


def test_a_reading_change_answered_by_304_does_not_swallow_the_next_change(
    site: Site, tmp_path: Path
) -> None:
    served = {"body": page("A", "<div id=x>alpha</div><div id=y>beta</div>"), "etag": '"1"'}

    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == served["etag"]:
            return Response(status=304, headers={"ETag": served["etag"]})
        return Response(
            served["body"], headers={"ETag": served["etag"], "Content-Type": "text/html"}
        )

    site.set("/a.html", answer)
    first = Harness(tmp_path, [{"id": "a", "url": site.url("/a.html"), "select": "#x"}])
    first.run()
    first.close()
    h = Harness(tmp_path, [{"id": "a", "url": site.url("/a.html"), "select": "#y"}])
    try:
        assert h.run() == []  # new reading settings: a silent new baseline
        served.update(body=page("A", "<div id=x>alpha</div><div id=y>gamma</div>"), etag='"2"')
        [event] = h.run()
        assert (event.kind, event.removed, event.added) == ("changed", ["beta"], ["gamma"])
    finally:
        h.close()


def test_a_wall_in_front_of_the_whole_site_is_not_a_deletion(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/jobs/1.html", page("Job 1", "<p>Engineer wanted</p>"))
    h = harness([{"id": "a", "url": site.url("/jobs/1.html")}], confirm_errors=2)
    h.run()
    site.pages.clear()
    site.fallback = Page(page("Security check", "<p>Please enable JavaScript.</p>"))
    events = h.runs(3)
    assert [(e.kind, e.reason) for e in events] == [("error", "site_wide_page")]


def test_a_404_serving_the_old_body_keeps_its_own_evidence(
    site: Site, harness: Callable[..., Harness]
) -> None:
    shell = page("Shop", "<div id=app>Loading</div>")
    site.set("/p/1", shell)
    h = harness([{"id": "p", "url": site.url("/p/1")}], confirm_gone=1)
    h.run()
    site.set("/p/1", Page(shell, status=404))
    [gone] = h.run()
    assert gone.current is not None and gone.current.status == 404
    assert Path(str(gone.current.evidence).removeprefix("file://")).exists()


def test_a_room_numbered_404_is_a_page(site: Site, harness: Callable[..., Harness]) -> None:
    site.set("/r.html", page("Meeting Room 404 booking", "<p>free slots</p>"))
    h = harness([{"id": "r", "url": site.url("/r.html")}])
    assert [e.kind for e in h.runs(2)] == ["first_seen"]


def test_verifying_a_bare_folder_needs_something_to_vouch_for_the_newest_version(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/a.html", page("A", "<p>one</p>"))
    h = Harness(tmp_path / "state", [{"id": "a", "url": site.url("/a.html")}])
    h.run()
    site.set("/a.html", page("A", "<p>two</p>"))
    h.run()
    h.close()
    folder = tmp_path / "state" / "evidence" / "a"
    # Inside its state folder, the state vouches: deleting the newest version shows.
    versions = sorted(folder.glob("*.manifest.json"), key=lambda p: p.stat().st_mtime)
    for path in folder.glob(versions[-1].name.replace(".manifest.json", ".*")):
        path.unlink()
    assert main(["verify", str(folder)]) == 3
    # A copy elsewhere has no anchor: it is not passed as OK.
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert main(["verify", str(copy)]) == 3
    assert "no HEAD file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "address", ["2002:a9fe:a9fe::1", "2002:7f00:1::1", "fec0::1", "::ffff:10.0.0.1"]
)
def test_ipv4_inside_ipv6_and_site_local_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_a_failed_probe_neither_confirms_nor_clears_a_suspected_soft_404(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/", page("Example Corp", "<h1>Welcome</h1><p>Home</p>"))
    site.set("/jobs/1.html", page("Job 1", "<p>Engineer wanted</p>"))
    h = harness([{"id": "a", "url": site.url("/jobs/1.html")}])
    h.run()
    sorry = page("Example Corp", "<p>Sorry, we could not find that.</p>")
    site.set("/jobs/1.html", sorry)
    site.fallback = Page(sorry)
    assert h.run() == []  # suspected
    site.fallback = Page("busy", status=503)  # only the probe fails this time
    assert h.run() == []  # no `changed`
    site.fallback = Page(sorry)
    assert [(e.kind, e.reason) for e in h.runs(2)] == [("gone", "soft_404")]
