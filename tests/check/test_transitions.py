"""One event per transition; gone only when confirmed; blocked is never gone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import Harness, Page, Site, only, page

Make = Callable[..., Harness]

AD = page("Ad 1002", "<h1>Firmware Engineer</h1><p>Urumqi</p>")
NOT_FOUND = Page(page("Not Found", "<h1>Not Found</h1>"), status=404)


def test_gone_needs_confirm_gone_consecutive_checks(site: Site, harness: Make) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=3)
    assert [e.kind for e in h.run()] == ["first_seen"]

    # Two 404s, then the page answers again unchanged: the streak is broken, no event.
    site.set("/ad.html", NOT_FOUND)
    assert h.runs(2) == []
    site.set("/ad.html", AD)
    assert h.run() == []

    # Two more 404s are again only a suspicion; the third in a row confirms it.
    site.set("/ad.html", NOT_FOUND)
    assert h.run() == []
    assert h.run() == []
    gone = only(h.run())
    assert (gone.kind, gone.reason) == ("gone", "http_404")


def test_suspected_gone_emits_no_changed_even_when_the_body_differs(
    site: Site, harness: Make
) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=3)
    h.run()
    # Each suspected check sees a different error page; none of that is a "change".
    for n in range(2):
        site.set("/ad.html", Page(page("Not Found", f"<p>request {n}</p>"), status=404))
        assert h.run() == []
    site.set("/ad.html", Page(page("Not Found", "<p>request 9</p>"), status=404))
    assert [e.kind for e in h.run()] == ["gone"]


def test_consecutive_gone_checks_count_whatever_their_reason(site: Site, harness: Make) -> None:
    # A 404 and then a 410 are two consecutive checks that saw the page gone.
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=2)
    h.run()
    site.set("/ad.html", NOT_FOUND)
    assert h.run() == []
    site.set("/ad.html", Page("gone", status=410))
    event = only(h.run())
    assert event.kind == "gone"
    assert event.reason in ("http_404", "http_410")
    assert h.runs(2) == []


def test_one_event_per_transition_over_many_runs(site: Site, harness: Make) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=2, confirm_errors=2)
    timeline: list[tuple[str, str | None]] = []

    def run(times: int) -> None:
        for _ in range(times):
            timeline.extend((e.kind, e.reason) for e in h.run())

    run(3)  # stays the same
    site.set("/ad.html", AD.replace("Urumqi", "Kashgar"))
    run(3)  # changed once, then stays the same
    site.set("/ad.html", NOT_FOUND)
    run(4)  # gone once confirmed, then stays gone
    site.set("/ad.html", AD)
    run(3)  # restored, then stays
    site.set("/ad.html", Page("oops", status=503))
    run(4)  # keeps failing
    site.set("/ad.html", AD)
    run(2)  # works again, same content: nothing to say
    site.set("/ad.html", NOT_FOUND)
    run(3)  # gone a second time
    site.set("/ad.html", AD)
    run(2)

    assert timeline == [
        ("first_seen", None),
        ("changed", None),
        ("gone", "http_404"),
        ("restored", None),
        ("error", "http_5xx"),
        ("gone", "http_404"),
        ("restored", None),
    ]
    ids = [e.event_id for e in h.collector.events]
    assert len(set(ids)) == len(ids)  # the second gone/restored are new transitions


BLOCKED = {
    "403": Page(page("Forbidden", "<h1>403 Forbidden</h1>"), status=403),
    "429": Page("slow down", status=429, headers={"Retry-After": "0"}),
    "challenge": Page(
        page("Just a moment...", "<p>Checking your browser</p>"),
        headers={"cf-mitigated": "challenge"},
    ),
    "challenge-404-title": Page(
        page("404 Not Found", "<p>Verify you are human</p>"),
        headers={"cf-mitigated": "challenge"},
    ),
}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("403", "http_403"),
        ("429", "http_429"),
        ("challenge", "challenge"),
        ("challenge-404-title", "challenge"),
    ],
)
def test_blocked_is_never_gone(site: Site, harness: Make, name: str, reason: str) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=2, confirm_errors=3)
    assert [e.kind for e in h.run()] == ["first_seen"]
    site.set("/ad.html", BLOCKED[name])

    events = h.runs(6)

    assert [(e.kind, e.reason) for e in events] == [("error", reason)]
    assert "not a deletion" in events[0].summary
    assert len(site.seen("/ad.html")) == 7  # no retries: retries is 0

    # Unblocked with the same content: no `restored`, no `changed`.
    site.set("/ad.html", AD)
    assert h.run() == []


def test_blocked_on_the_first_check_is_not_gone(site: Site, harness: Make) -> None:
    site.set("/ad.html", BLOCKED["403"])
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_errors=3)
    assert [(e.kind, e.reason) for e in h.runs(6)] == [("error", "http_403")]
    site.set("/ad.html", AD)
    assert [e.kind for e in h.run()] == ["first_seen"]
