"""Watching a site, not a page (issue 13): children discovered from a listing, a sitemap
or a feed, kept at first sight, and their scrub told once. Real server, engine, stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from scrubwatch.core.discover import child_id
from scrubwatch.core.events import Event
from support import Harness, Page, Site, page

Make = Callable[..., Harness]

CITIES = {1001: "Urumqi", 1002: "Urumqi", 1003: "Shenzhen", 1004: "Urumqi", 1005: "Hangzhou"}
CHILD = {"select": "#job", "keywords": ["Urumqi"]}


def listing(site: Site, ids: list[int], extra: str = "") -> None:
    # Links as sites write them: a tracking parameter and a fragment that name no page.
    items = "".join(
        f'<li class="job"><a href="/jobs/{i}?utm_source=list#apply">Engineer {i}, '
        f"{CITIES.get(i, 'Beijing')}</a></li>"
        for i in ids
    )
    site.set("/jobs", page("Jobs", f'<ul id="jobs">{items}</ul>{extra}'))


def ad(site: Site, i: int) -> None:
    city = CITIES.get(i, "Beijing")
    site.set(
        f"/jobs/{i}",
        page(f"Engineer {i}", f'<div id="job">Engineer {i}. Based in {city}. Apply now.</div>'),
    )


def parent(site: Site, **discover: Any) -> dict[str, Any]:
    return {
        "id": "jobs",
        "name": "Jobs",
        "url": site.url("/jobs"),
        "items": "li.job",
        "discover": {"links": "li.job a", "child": CHILD, **discover},
    }


def kid(site: Site, i: int) -> str:
    return child_id("jobs", site.url(f"/jobs/{i}"))


def of_kind(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


def ads_site(site: Site, ids: list[int]) -> None:
    for i in ids:
        ad(site, i)
    listing(site, ids)


def atom(site: Site, ids: list[int]) -> str:
    """An Atom feed of the ads ``ids``, titled "Engineer <id>"."""
    entries = "".join(
        f'<entry><title>Engineer {i}</title><link href="{site.url(f"/jobs/{i}")}"/></entry>'
        for i in ids
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Jobs</title>{entries}</feed>'


def feed_watch(site: Site) -> dict[str, Any]:
    return {"id": "jobs", "url": site.url("/jobs"), "discover": {"feed": site.url("/jobs.atom")}}


def manifest(h: Harness, watch: str, version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(h.evidence.manifest(watch, version) or b"{}")
    return data


def test_first_look_keeps_every_ad_and_is_one_record(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002, 1003])
    h = harness([parent(site)])

    events = h.run()

    (found,) = of_kind(events, "children_found")
    assert found.watch == "jobs"
    assert found.added == [
        "Engineer 1001, Urumqi",
        "Engineer 1002, Urumqi",
        "Engineer 1003, Shenzhen",
    ]
    assert sorted(e.watch for e in of_kind(events, "first_seen")) == sorted(
        ["jobs", kid(site, 1001), kid(site, 1002), kid(site, 1003)]
    )
    assert {e.kind for e in events} == {"first_seen", "children_found"}
    for i in (1001, 1002, 1003):
        # Fetched once, by its normalised URL, and kept: its first version is evidence.
        assert [s.path for s in site.seen(f"/jobs/{i}")] == [f"/jobs/{i}"]
        (row,) = h.history(kid(site, i))
        text = h.evidence.text(kid(site, i), row["version"])
        assert text is not None and f"Engineer {i}. Based in" in text
    # What the look decided is in the listing's own evidence.
    (row,) = h.history("jobs")
    decided = manifest(h, "jobs", row["version"])["discovery"]
    assert decided["added"] == [site.url(f"/jobs/{i}") for i in (1001, 1002, 1003)]
    assert decided["unlinked"] == [] and decided["skipped"] == []
    # Nothing new: nothing said, nothing fetched again but the listing and the ads.
    assert h.run() == []


def test_a_new_ad_is_kept_the_run_it_appears_and_told_once(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    ad(site, 1003)
    listing(site, [1001, 1002, 1003])

    events = h.run()

    (added,) = of_kind(events, "children_added")
    assert added.added == ["Engineer 1003, Shenzhen"]
    assert added.severity == "low"
    assert "NEW PAGES: Jobs links 1 page not seen before: Engineer 1003" in added.summary
    assert [e.watch for e in of_kind(events, "first_seen")] == [kid(site, 1003)]
    assert len(h.history(kid(site, 1003))) == 1
    assert of_kind(h.run(), "children_added") == []


def test_an_ad_unlinked_but_online_is_one_low_event(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    listing(site, [1002])  # off the listing, still online

    events = h.runs(3)

    (unlinked,) = of_kind(events, "unlinked")
    assert unlinked.watch == kid(site, 1001)
    assert unlinked.severity == "low"
    assert "still online, but its listing, Jobs, stopped linking it" in unlinked.summary
    assert unlinked.parent is not None and unlinked.parent["id"] == "jobs"
    assert of_kind(events, "gone") == []


def test_an_ad_unlinked_then_404_is_one_gone_saying_so(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002, 1003, 1004, 1005])
    h = harness([parent(site)])
    h.run()
    # The Urumqi office goes: off the listing, and its ads answer 404.
    listing(site, [1003, 1005])
    for i in (1001, 1002, 1004):
        site.pages.pop(f"/jobs/{i}")

    events = h.runs(3)

    gone = of_kind(events, "gone")
    assert sorted(e.watch for e in gone) == sorted(kid(site, i) for i in (1001, 1002, 1004))
    listing_rows = h.history("jobs")
    assert len(listing_rows) == 2  # the listing before and after
    for e in gone:
        assert e.reason == "http_404"
        assert "Its listing, Jobs, stopped linking it" in e.summary
        note = e.parent
        assert note is not None
        assert note["children"] == 5
        assert note["keywords"] == ["Urumqi"]
        assert note["remaining_keywords"] == []
        assert note["linked_in"] == listing_rows[0]["evidence"]
        assert note["unlinked_in"] == listing_rows[1]["evidence"]
        # The ad as it was, and the 404 that replaced it.
        assert e.previous is not None and e.previous.status == 200
        assert e.current is not None and e.current.status == 404
    (changed,) = of_kind(events, "changed")  # the listing's own change, once
    assert changed.watch == "jobs" and changed.removed_total == 3
    # A record, not an alert: what became of the pages is the news, once known.
    assert changed.reason == "pages_unlinked" and changed.severity == "info"
    assert "Its 3 pages no longer linked are checked again" in changed.summary
    assert {e.kind for e in events} == {"gone", "changed"}
    decided = manifest(h, "jobs", listing_rows[1]["version"])["discovery"]
    assert sorted(decided["unlinked"]) == sorted(site.url(f"/jobs/{i}") for i in (1001, 1002, 1004))


def test_an_ad_redirected_to_the_listing_is_gone(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    # The listing is not a parent folder of the ads: only "it is the listing" says gone.
    site.set("/careers", site.pages["/jobs"])
    h = harness([{**parent(site), "url": site.url("/careers")}])
    h.run()
    listing(site, [1002])
    site.set("/careers", site.pages["/jobs"])
    site.set("/jobs/1001", Page("", status=302, headers={"Location": "/careers"}))

    events = h.runs(3)

    (gone,) = of_kind(events, "gone")
    assert gone.reason == "redirect"
    assert gone.watch == child_id("jobs", site.url("/jobs/1001"))


def test_a_listing_that_is_down_unlinks_nothing(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    site.set("/jobs", Page(page("Busy", "<p>Try later</p>"), status=503))

    events = h.runs(2)

    assert of_kind(events, "unlinked") == []
    assert all(c.linked for c in h.state.children(["jobs"])["jobs"])


def test_a_sitemap_index_with_two_sitemaps(site: Site, harness: Make) -> None:
    for i in (1001, 1002, 1003):
        ad(site, i)
    site.set("/jobs", page("Jobs", "<p>Search our jobs</p>"))
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sitemap-1.xml')}</loc></sitemap>"
        f"<sitemap><loc>{site.url('/sitemap-2.xml')}</loc></sitemap></sitemapindex>"
    )

    def urlset(*ids: int) -> Page:
        urls = "".join(
            f"<url><loc>{site.url(f'/jobs/{i}')}</loc><lastmod>2026-12-01</lastmod></url>"
            for i in ids
        )
        body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return Page(body, content_type="application/xml")

    site.set("/sitemap.xml", Page(index, content_type="application/xml"))
    site.set("/sitemap-1.xml", urlset(1001, 1002))
    site.set("/sitemap-2.xml", urlset(1003))
    watch = {
        "id": "jobs",
        "url": site.url("/jobs"),
        "discover": {"sitemap": site.url("/sitemap.xml"), "match": r"/jobs/\d+", "child": CHILD},
    }
    h = harness([watch])

    (found,) = of_kind(h.run(), "children_found")

    assert sorted(found.added) == sorted(site.url(f"/jobs/{i}") for i in (1001, 1002, 1003))
    site.set("/sitemap-2.xml", urlset())
    site.pages.pop("/jobs/1003")
    (gone,) = of_kind(h.runs(3), "gone")
    assert gone.watch == child_id("jobs", site.url("/jobs/1003"))


def test_an_atom_feed(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    site.set("/jobs.atom", Page(atom(site, [1001, 1002]), content_type="application/atom+xml"))
    h = harness([feed_watch(site)])

    (found,) = of_kind(h.run(), "children_found")

    assert found.added == ["Engineer 1001", "Engineer 1002"]


def test_a_sitemap_that_fails_concludes_nothing(site: Site, harness: Make) -> None:
    ads_site(site, [1001])
    site.set("/jobs.atom", Page(atom(site, [1001]), content_type="application/atom+xml"))
    h = harness([feed_watch(site)])
    h.run()
    site.set("/jobs.atom", Page("overloaded", status=500))

    events = h.runs(2)

    assert of_kind(events, "unlinked") == []
    assert h.reports[-1].discovery_failed == {"jobs": f"{site.url('/jobs.atom')}: HTTP 500"}
    assert all(c.linked for c in h.state.children(["jobs"])["jobs"])


def test_more_links_than_max_children_are_said_once_never_cut_silently(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001, 1002, 1003, 1004])
    h = harness([parent(site, max_children=2)])

    events = h.run()

    (found,) = of_kind(events, "children_found")
    assert len(found.added) == 2
    (cut,) = of_kind(events, "error")  # an alert, not a line in a record
    assert cut.reason == "max_children" and cut.watch == "jobs"
    assert cut.summary.startswith("ERROR: Jobs links 2 more pages than it may watch")
    assert "(max_children 2)" in cut.summary
    assert cut.added == ["Engineer 1003, Shenzhen", "Engineer 1004, Urumqi"]
    assert len(h.state.children(["jobs"])["jobs"]) == 2
    listing(site, [1001, 1002, 1003, 1004], extra="<p>Updated today</p>")
    assert of_kind(h.run(), "error") == []  # read again, and said once
    ads_site(site, [1001, 1002, 1003, 1004, 1005])
    (again,) = of_kind(h.run(), "error")  # one more past the limit: said again
    assert "links 3 more pages than it may watch" in again.summary


def test_settings_max_discovered_caps_every_watch_together(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002, 1003])
    h = harness([parent(site)], max_discovered=1)

    events = h.run()

    (found,) = of_kind(events, "children_found")
    assert found.added == ["Engineer 1001, Urumqi"]
    (cut,) = of_kind(events, "error")
    assert "2 more pages than it may watch (settings.max_discovered 1)" in cut.summary


def test_a_forbidden_link_is_skipped_and_recorded(site: Site, harness: Make) -> None:
    ads_site(site, [1001])
    extra = '<ul><li class="job"><a href="http://169.254.169.254/latest/">Meta</a></li></ul>'
    listing(site, [1001], extra=extra)
    h = harness([parent(site, same_site=False)])

    (found,) = of_kind(h.run(), "children_found")

    assert found.added == ["Engineer 1001, Urumqi"]
    assert "1 link skipped (`scrubwatch show jobs --discovery` says why)" in found.summary
    (row,) = h.history("jobs")
    (skipped,) = manifest(h, "jobs", row["version"])["discovery"]["skipped"]
    assert skipped["url"] == "http://169.254.169.254/latest/"
    assert skipped["why"].startswith("forbidden address")
    assert h.history(child_id("jobs", "http://169.254.169.254/latest/")) == []


def test_same_site_keeps_children_on_the_listings_site(site: Site, harness: Make) -> None:
    ads_site(site, [1001])
    foreign = site.url("/jobs/2001").replace("127.0.0.1", "localhost")
    listing(site, [1001], extra=f'<ul><li class="job"><a href="{foreign}">Else</a></li></ul>')
    h = harness([parent(site)])

    (found,) = of_kind(h.run(), "children_found")

    assert found.added == ["Engineer 1001, Urumqi"]
    (row,) = h.history("jobs")
    (skipped,) = manifest(h, "jobs", row["version"])["discovery"]["skipped"]
    assert skipped == {"url": foreign, "why": "not on 127.0.0.1 (same_site)"}


def test_one_ad_linked_twice_with_tracking_parameters_is_one_child(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001])
    twice = (
        f'<ul><li class="job"><a href="{site.url("/jobs/1001")}?utm_campaign=x">Again</a></li></ul>'
    )
    listing(site, [1001], extra=twice)
    h = harness([parent(site)])

    (found,) = of_kind(h.run(), "children_found")

    assert found.added == ["Engineer 1001, Urumqi"]
    assert len(site.seen("/jobs/1001")) == 1


def test_removing_discover_stops_checking_children_and_keeps_history(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001])
    h = harness([parent(site)])
    h.run()
    plain = {k: v for k, v in parent(site).items() if k != "discover"}
    h2 = harness([plain], state=h.state)
    h2.evidence = h.evidence
    mark = site.mark()

    h2.run()

    assert [s.path for s in site.seen(since=mark)] == ["/jobs"]
    assert len(h.history(kid(site, 1001))) == 1


def test_an_unlinked_ad_is_rechecked_soon_not_at_its_every(site: Site, harness: Make) -> None:
    from scrubwatch.check.children import RunChildren

    ads_site(site, [1001, 1002])
    h = harness([parent(site, child={**CHILD, "every": "6h"})], recheck="10m")
    h.run()
    listing(site, [1002])
    h.run()

    loaded = h.state.children(["jobs"])
    every = {w.id: w.every for w in RunChildren(h.watchlist, loaded).watches()}

    assert every == {kid(site, 1001): 600.0, kid(site, 1002): 6 * 3600.0}


def test_a_child_the_edited_discover_no_longer_takes_is_not_told_unlinked(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    h2 = harness([parent(site, match="/jobs/1002")], state=h.state)
    h2.evidence = h.evidence

    events = h2.runs(3)

    assert of_kind(events, "unlinked") == [] and of_kind(events, "children_added") == []
    (dropped,) = [c for c in h.state.children(["jobs"])["jobs"] if not c.linked]
    assert dropped.url == site.url("/jobs/1001") and dropped.said


def test_a_first_look_that_finds_nothing_says_what_to_check(site: Site, harness: Make) -> None:
    ads_site(site, [1001])
    h = harness([parent(site, links="li.advert a")])

    (found,) = of_kind(h.run(), "children_found")

    assert found.added == []
    assert "links no page that discover takes: check its links, match and same_site" in (
        found.summary
    )


def test_a_link_that_moved_under_the_same_text_is_kept_as_evidence(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    # The same titles; the first ad now lives at another address.
    moved = site.pages["/jobs"].body.replace("/jobs/1001?", "/jobs/2001?")  # type: ignore[union-attr]
    site.set("/jobs", moved)
    ad(site, 2001)

    events = h.run()

    assert of_kind(events, "changed") == []  # the listing reads the same
    (added,) = of_kind(events, "children_added")
    assert added.added == ["Engineer 1001, Urumqi"]  # its new address, under the old text
    rows = h.history("jobs")
    assert added.current is not None and added.current.version == rows[1]["version"]
    assert len(rows) == 2  # what the look decided is kept all the same
    decided = manifest(h, "jobs", rows[1]["version"])["discovery"]
    assert decided["added"] == [site.url("/jobs/2001")]
    assert decided["unlinked"] == [site.url("/jobs/1001")]
    unlinked = next(c for c in h.state.children(["jobs"])["jobs"] if not c.linked)
    assert unlinked.linked_in == rows[0]["evidence"] and unlinked.unlinked_in == rows[1]["evidence"]


def test_a_feed_is_asked_conditionally_and_a_304_concludes_nothing(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001, 1002])
    body = atom(site, [1001, 1002])

    def answer(request: Any) -> Any:
        from werkzeug import Response

        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(body, headers={"ETag": '"v1"', "Content-Type": "application/atom+xml"})

    site.set("/jobs.atom", answer)
    h = harness([feed_watch(site)])
    h.run()

    events = h.runs(2)

    assert events == []
    asked = site.seen("/jobs.atom")
    assert [s.headers.get("if-none-match") for s in asked] == [None, '"v1"', '"v1"']
    assert all(c.linked for c in h.state.children(["jobs"])["jobs"])


def test_a_sitemap_over_max_children_is_said_not_cut_silently(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002, 1003])
    urls = "".join(f"<url><loc>{site.url(f'/jobs/{i}')}</loc></url>" for i in (1001, 1002, 1003))
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    site.set("/sitemap.xml", Page(body, content_type="application/xml"))
    watch = {
        "id": "jobs",
        "url": site.url("/jobs"),
        "discover": {"sitemap": site.url("/sitemap.xml"), "max_children": 2},
    }
    h = harness([watch])

    events = h.run()

    (found,) = of_kind(events, "children_found")
    assert len(found.added) == 2
    (cut,) = of_kind(events, "error")
    assert "links 1 more page than it may watch (max_children 2)" in cut.summary
    (row,) = h.history("jobs")
    assert manifest(h, "jobs", row["version"])["discovery"]["over_limit"] == [
        site.url("/jobs/1003")
    ]


def test_a_listing_that_answers_with_no_links_unlinks_nothing(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    site.set("/jobs", page("Jobs", "<p>We are updating our job board. Come back soon.</p>"))

    events = h.runs(2)

    assert of_kind(events, "unlinked") == []
    assert all(c.linked for c in h.state.children(["jobs"])["jobs"])
    said = [r.discovery_failed.get("jobs", "") for r in h.reports]
    assert any("linked no page at all" in why for why in said), said


def test_a_sitemap_index_with_one_sitemap_missing_takes_new_pages_and_unlinks_nothing(
    site: Site, harness: Make
) -> None:
    for i in (1001, 1002, 1003):
        ad(site, i)
    site.set("/jobs", page("Jobs", "<p>Search</p>"))

    def urlset(*ids: int) -> Page:
        urls = "".join(f"<url><loc>{site.url(f'/jobs/{i}')}</loc></url>" for i in ids)
        return Page(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
            content_type="application/xml",
        )

    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/a.xml')}</loc></sitemap>"
        f"<sitemap><loc>{site.url('/b.xml')}</loc></sitemap></sitemapindex>"
    )
    site.set("/sitemap.xml", Page(index, content_type="application/xml"))
    site.set("/a.xml", urlset(1001))
    site.set("/b.xml", urlset(1002))
    watch = {
        "id": "jobs",
        "url": site.url("/jobs"),
        "discover": {"sitemap": site.url("/sitemap.xml")},
    }
    h = harness([watch])
    h.run()
    site.pages.pop("/b.xml")  # one sitemap fails; the other gains a page
    site.set("/a.xml", urlset(1001, 1003))

    events = h.run()

    (added,) = of_kind(events, "children_added")
    assert added.added == [site.url("/jobs/1003")]
    assert all(c.linked for c in h.state.children(["jobs"])["jobs"])  # 1002 stays
    assert "b.xml: HTTP 404" in h.reports[-1].discovery_failed["jobs"]


def test_gone_pages_leave_room_under_max_children(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site, max_children=2)])
    h.run()
    listing(site, [1003, 1004])
    ad(site, 1003)
    ad(site, 1004)
    for i in (1001, 1002):
        site.pages.pop(f"/jobs/{i}")

    h.runs(4)

    watched = {c.url for c in h.state.children(["jobs"])["jobs"] if c.watched}
    assert watched == {site.url("/jobs/1003"), site.url("/jobs/1004")}


def test_a_page_gone_while_listed_then_unlinked_stops_waiting(site: Site, harness: Make) -> None:
    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    site.pages.pop("/jobs/1001")
    gone = of_kind(h.runs(2), "gone")  # gone while the listing still links it
    assert [e.watch for e in gone] == [kid(site, 1001)] and gone[0].parent is None
    listing(site, [1002])

    events = h.runs(2)

    assert of_kind(events, "gone") == [] and of_kind(events, "unlinked") == []
    (record,) = [c for c in h.state.children(["jobs"])["jobs"] if c.url.endswith("/1001")]
    assert not record.waiting and record.gone_at is not None


def test_the_digest_never_says_none_remaining_mention_what_an_unlinked_page_does(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001, 1002, 1003, 1005])
    h = harness([parent(site)])
    h.run()
    # 1002 (Urumqi) is taken off the listing but stays online; 1001 and 1003 go.
    listing(site, [1005])
    for i in (1001, 1003):
        site.pages.pop(f"/jobs/{i}")

    events = h.runs(3)

    gone = of_kind(events, "gone")
    assert sorted(e.watch for e in gone) == sorted([kid(site, 1001), kid(site, 1003)])
    for e in gone:
        assert e.parent is not None and e.parent["children"] == 4
        assert e.parent["remaining_keywords"] == ["Urumqi"]  # the unlinked 1002 has it


def test_editing_discover_makes_the_watch_due_and_drops_pages_quietly(
    site: Site, harness: Make
) -> None:
    from scrubwatch.core.due import is_due

    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    h.run()
    edited = harness([parent(site, match="/jobs/1002")], state=h.state)
    edited.evidence = h.evidence
    (watch,) = edited.watchlist.watches
    state = h.state.load(["jobs"])["jobs"]
    assert is_due(watch, state, state.last_checked + 1, 600)  # not after its `every`

    edited.run()
    site.pages.pop("/jobs/1001")
    mark = site.mark()
    events = edited.runs(2)

    assert events == []
    assert "/jobs/1001" not in [s.path for s in site.seen(since=mark)]  # no longer checked


def test_a_feed_that_stays_unreadable_is_one_error_after_confirm_errors(
    site: Site, harness: Make
) -> None:
    ads_site(site, [1001])
    site.set("/jobs.atom", Page(atom(site, [1001]), content_type="application/atom+xml"))
    h = harness([feed_watch(site)], confirm_errors=3)
    h.run()
    site.pages.pop("/jobs.atom")  # the feed is taken down

    events = h.runs(5)

    (error,) = of_kind(events, "error")
    assert error.reason == "discovery_failed" and error.watch == "jobs"
    assert "could not be listed 3 times in a row" in error.summary
    assert "HTTP 404" in error.summary
    assert of_kind(events, "unlinked") == []


def test_links_are_read_in_a_worker_process_as_pages_are(site: Site, harness: Make) -> None:
    from scrubwatch.check.engine import Engine

    ads_site(site, [1001, 1002])
    h = harness([parent(site)])
    engine = Engine(h.watchlist, h.state, h.evidence, [h.collector], workers=2)

    report = engine.run(force=True)

    assert report.workers == 1  # the listing (and its links) were read there
    (found,) = of_kind(report.events, "children_found")
    assert found.added == ["Engineer 1001, Urumqi", "Engineer 1002, Urumqi"]


def test_the_run_summary_names_a_discovered_page(site: Site, harness: Make) -> None:
    from scrubwatch.core.summary import summary

    ads_site(site, [1001])
    h = harness([parent(site)])
    h.run()
    site.pages.pop("/jobs/1001")

    h.run()

    line = summary(h.reports[-1])
    assert f"1 suspected gone ({kid(site, 1001)} 'Engineer 1001, Urumqi')" in line
    assert "Checked 1 watch and 1 page they found" in line
