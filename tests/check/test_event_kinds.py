"""Every event kind, end to end: real server, real engine, real stores."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import Harness, Page, RawServer, Site, kinds, only, page

Make = Callable[..., Harness]


def jobs_page(*jobs: str, extra: str = "") -> str:
    items = "".join(f'<li class="job">{job}</li>' for job in jobs)
    return page(
        "Careers",
        f'<nav><a href="/">Home</a></nav><h1>Open positions</h1><ul id="jobs">{items}</ul>{extra}',
    )


MAP = (
    '<section id="rd-map"><h2>Our R&amp;D centres</h2>'
    '<iframe src="https://maps.example.net/embed?q=Lumen+Urumqi"></iframe>'
    "<p>Urumqi R&amp;D Center</p></section>"
)
MAP_NO_IFRAME = (
    '<section id="rd-map"><h2>Our R&amp;D centres</h2><p>Urumqi R&amp;D Center</p></section>'
)


def recruit_page(region: str) -> str:
    return page("Campus", f"<h1>Campus recruitment</h1><p>Join us.</p>{region}")


def test_first_seen_records_version_and_evidence(site: Site, harness: Make) -> None:
    site.set("/careers.html", jobs_page("Optical Engineer, Shenzhen", "Sales Manager, Hangzhou"))
    h = harness(
        [{"id": "careers", "url": site.url("/careers.html"), "select": "#jobs", "items": "li.job"}]
    )

    event = only(h.run())

    assert event.kind == "first_seen"
    assert event.watch == "careers"
    assert event.url == site.url("/careers.html")
    assert event.reason is None
    assert event.previous is None
    assert event.current is not None
    assert event.current.status == 200
    assert event.current.final_url == site.url("/careers.html")
    assert len(event.current.version) == 64
    int(event.current.version, 16)  # a SHA-256 in hex
    assert event.current.evidence is not None
    assert event.current.evidence.startswith("file://")
    data = json.loads(event.dumps())
    assert data["schema"] == "scrubwatch.event/1"
    assert data["detected_at"].endswith("Z")
    text = h.evidence.text("careers", event.current.version)
    assert text is not None
    assert text.splitlines() == ["Optical Engineer, Shenzhen", "Sales Manager, Hangzhou"]
    assert [row["version"] for row in h.history("careers")] == [event.current.version]


def test_changed_lists_items_removed_and_added_and_keywords(site: Site, harness: Make) -> None:
    site.set(
        "/careers.html",
        jobs_page("Optical Engineer, Shenzhen", "Firmware Engineer, Urumqi", "Sales Manager"),
    )
    h = harness(
        [
            {
                "id": "careers",
                "name": "Careers page",
                "url": site.url("/careers.html"),
                "select": "#jobs",
                "items": "li.job",
                "keywords": ["Urumqi", "Hangzhou"],
            }
        ]
    )
    first = only(h.run())
    assert first.kind == "first_seen"

    site.set(
        "/careers.html",
        jobs_page("Optical Engineer, Shenzhen", "Sales Manager", "Buyer, Hangzhou"),
    )
    event = only(h.run())

    assert event.kind == "changed"
    assert event.removed == ["Firmware Engineer, Urumqi"]
    assert event.added == ["Buyer, Hangzhou"]
    assert event.keywords_removed == ["Urumqi"]
    assert event.keywords_added == ["Hangzhou"]
    assert event.previous == first.current
    assert event.current is not None
    assert event.current.version != first.current.version  # type: ignore[union-attr]
    assert "-Firmware Engineer, Urumqi" in event.diff.splitlines()
    assert "Urumqi" in event.summary
    # The page stays like this: nothing more.
    assert h.runs(3) == []


def test_emptied_list_is_changed_with_every_item_removed(site: Site, harness: Make) -> None:
    site.set("/careers.html", jobs_page("Optical Engineer", "Firmware Engineer"))
    h = harness(
        [{"id": "careers", "url": site.url("/careers.html"), "select": "#jobs", "items": "li.job"}]
    )
    h.run()
    site.set("/careers.html", jobs_page())

    event = only(h.run())

    assert event.kind == "changed"
    assert event.removed == ["Optical Engineer", "Firmware Engineer"]
    assert event.added == []


def test_removed_iframe_alone_is_a_change(site: Site, harness: Make) -> None:
    site.set("/campus/recruit.html", recruit_page(MAP))
    h = harness([{"id": "rd-map", "url": site.url("/campus/recruit.html"), "select": "#rd-map"}])
    h.run()
    site.set("/campus/recruit.html", recruit_page(MAP_NO_IFRAME))

    event = only(h.run())

    assert event.kind == "changed"
    assert event.removed == ["iframe: https://maps.example.net/embed?q=Lumen+Urumqi"]
    assert event.added == []


def test_element_missing_lists_what_vanished_including_the_iframe(
    site: Site, harness: Make
) -> None:
    site.set("/campus/recruit.html", recruit_page(MAP))
    h = harness(
        [
            {
                "id": "rd-map",
                "name": "R&D map",
                "url": site.url("/campus/recruit.html"),
                "select": "#rd-map",
            }
        ]
    )
    first = only(h.run())
    assert first.kind == "first_seen"
    site.set("/campus/recruit.html", recruit_page(""))

    event = only(h.run())

    assert event.kind == "element_missing"
    assert event.reason is None
    assert "Our R&D centres" in event.removed
    assert "Urumqi R&D Center" in event.removed
    assert "iframe: https://maps.example.net/embed?q=Lumen+Urumqi" in event.removed
    assert event.previous == first.current
    assert event.current is not None
    assert event.current.status == 200
    # Still missing: nothing more.
    assert h.runs(3) == []


def test_gone_then_restored(site: Site, harness: Make) -> None:
    site.set("/products/eye-9.html", page("Eye-9", "<h1>Eye-9</h1><p>Ethnicity detection.</p>"))
    h = harness(
        [{"id": "eye-9", "name": "Eye-9", "url": site.url("/products/eye-9.html")}],
        confirm_gone=2,
    )
    first = only(h.run())
    site.set("/products/eye-9.html", Page(page("Not found", "Not found"), status=404))

    assert h.run() == []  # only suspected
    gone = only(h.run())

    assert gone.kind == "gone"
    assert gone.reason == "http_404"
    assert gone.previous == first.current
    assert "Eye-9" in gone.removed
    assert "Ethnicity detection." in gone.removed

    site.set("/products/eye-9.html", page("Eye-9", "<h1>Eye-9</h1><p>Ethnicity detection.</p>"))
    restored = only(h.run())

    assert restored.kind == "restored"
    assert restored.reason is None
    assert restored.current is not None
    assert restored.current.status == 200
    assert len({first.event_id, gone.event_id, restored.event_id}) == 3
    assert h.runs(2) == []


def test_restored_with_different_content_lists_the_difference(site: Site, harness: Make) -> None:
    site.set("/p.html", page("P", "<p>Model A</p><p>Model B</p>"))
    h = harness([{"id": "p", "url": site.url("/p.html")}], confirm_gone=1)
    h.run()
    site.set("/p.html", Page("gone", status=410))
    assert [e.kind for e in h.run()] == ["gone"]
    site.set("/p.html", page("P", "<p>Model A</p><p>Model C</p>"))

    restored = only(h.run())

    assert restored.kind == "restored"
    assert restored.removed == ["Model B"]
    assert restored.added == ["Model C"]


def test_error_after_confirm_errors_server_errors(site: Site, harness: Make) -> None:
    site.set("/api.html", page("API", "<p>fine</p>"))
    h = harness([{"id": "api", "url": site.url("/api.html")}], confirm_errors=3)
    first = only(h.run())
    site.set("/api.html", Page("oops", status=500))

    assert h.run() == []
    assert h.run() == []
    event = only(h.run())

    assert event.kind == "error"
    assert event.reason == "http_5xx"
    assert event.previous == first.current
    assert event.current is None
    assert h.runs(3) == []  # keeps failing: nothing more


def test_error_connect_refused(tmp_path: Path, harness: Make) -> None:
    # A bound socket that does not listen refuses connections at once.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x.html"
        h = harness([{"id": "down", "url": url}], confirm_errors=2)
        assert h.run() == []
        event = only(h.run())
    finally:
        sock.close()
    assert event.kind == "error"
    assert event.reason == "connect"


def test_error_timeout(raw_server: Callable[..., RawServer], harness: Make) -> None:
    def never_answer(head: bytes, wfile: Any) -> None:
        server.release.wait(30)

    server = raw_server(never_answer)
    h = harness([{"id": "slow", "url": server.url("/slow")}], confirm_errors=1, timeout="300ms")

    event = only(h.run())

    assert event.kind == "error"
    assert event.reason == "timeout"
    assert len(server.requests) == 1


def test_noise_is_not_a_change(site: Site, harness: Make) -> None:
    def noisy(minutes: int, nav: str, script: str) -> str:
        return page(
            "News",
            f"<nav>{nav}</nav><script>{script}</script>"
            f"<p>Updated {minutes} min ago</p><p>Factory opens in Urumqi.</p>",
        )

    site.set("/news.html", noisy(1, "Home", "var a = 1;"))
    h = harness(
        [
            {
                "id": "news",
                "url": site.url("/news.html"),
                "exclude": ["nav"],
                "ignore": [r"Updated \d+ min ago"],
            }
        ]
    )
    assert [e.kind for e in h.run()] == ["first_seen"]
    site.set("/news.html", noisy(7, "Home | Login", "var a = 2;"))
    assert h.run() == []
    site.set("/news.html", noisy(9, "Home", "var a = 3;").replace("Urumqi", "Kashgar"))
    event = only(h.run())
    assert event.kind == "changed"
    assert event.removed == ["Factory opens in Urumqi."]
    assert event.added == ["Factory opens in Kashgar."]


def test_several_watches_in_one_run(site: Site, harness: Make) -> None:
    site.set("/a.html", page("A", "<p>a</p>"))
    site.set("/b.html", page("B", "<p>b</p>"))
    h = harness(
        [
            {"id": "a", "url": site.url("/a.html")},
            {"id": "b", "url": site.url("/b.html")},
        ],
    )
    assert sorted(kinds(h.run())) == [("a", "first_seen"), ("b", "first_seen")]
    site.set("/b.html", page("B", "<p>b2</p>"))
    assert kinds(h.run()) == [("b", "changed")]
    assert h.runs(2) == []


def test_big_diff_is_truncated_with_a_marker(site: Site, harness: Make) -> None:
    before = "".join(f"<p>line {i} before</p>" for i in range(1500))
    after = "".join(f"<p>line {i} after</p>" for i in range(1500))
    site.set("/big.html", page("Big", before))
    h = harness([{"id": "big", "url": site.url("/big.html")}])
    h.run()
    site.set("/big.html", page("Big", after))

    event = only(h.run())

    assert event.kind == "changed"
    # The lists are cut, with the true counts beside them.
    assert len(event.removed) == len(event.added) == 200
    assert (event.removed_count, event.added_count) == (1500, 1500)
    assert "1500 lines removed" in event.summary
    last = event.diff.splitlines()[-1]
    assert "truncated" in last
    assert len(event.diff) < len(before) + len(after)
    assert len(event.dumps()) < 200_000


def test_unchanged_checks_keep_no_new_version(site: Site, harness: Make) -> None:
    site.set("/p.html", page("P", "<p>same</p>"))
    h = harness([{"id": "p", "url": site.url("/p.html")}])
    h.runs(4)
    site.set("/p.html", page("P", "<p>other</p>"))
    h.runs(3)

    rows = h.history("p")
    assert len(rows) == 2
    assert [r["status"] for r in rows] == [200, 200]
