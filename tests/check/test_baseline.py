"""Two shortcuts that must not change what users hear: identical bytes, and a re-read watch."""

from __future__ import annotations

from collections.abc import Callable

from support import Harness, Page, Site, kinds, page

JOBS = page("Jobs", '<ul id="jobs"><li class="job">Engineer</li><li class="job">Analyst</li></ul>')


def test_identical_bytes_without_validators_count_as_not_modified(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/jobs.html", Page(JOBS))  # no ETag, no Last-Modified: never a 304
    h = harness([{"id": "jobs", "url": site.url("/jobs.html"), "items": "li.job"}])
    assert kinds(h.run()) == [("jobs", "first_seen")]
    assert h.run() == []
    assert h.reports[-1].outcomes == {"not_modified": 1}
    assert len(h.history("jobs")) == 1


def test_changed_bytes_are_still_read_after_identical_ones(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/jobs.html", Page(JOBS))
    h = harness([{"id": "jobs", "url": site.url("/jobs.html"), "items": "li.job"}])
    h.runs(2)
    site.set("/jobs.html", Page(JOBS.replace('<li class="job">Analyst</li>', "")))
    [event] = h.run()
    assert (event.kind, event.removed) == ("changed", ["Analyst"])


def test_editing_how_a_watch_reads_its_page_is_no_change_of_the_page(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/jobs.html", Page(JOBS))
    url = site.url("/jobs.html")
    before = harness([{"id": "jobs", "url": url}])
    before.run()
    before.close()
    # Same state folder, the watch now reads only the list: a new baseline, no alert.
    after = Harness(before.root, [{"id": "jobs", "url": url, "items": "li.job"}])
    try:
        assert after.run() == []
        assert len(after.history("jobs")) == 2
        site.set("/jobs.html", Page(JOBS.replace('<li class="job">Engineer</li>', "")))
        [event] = after.run()
        assert (event.kind, event.removed) == ("changed", ["Engineer"])
    finally:
        after.close()
