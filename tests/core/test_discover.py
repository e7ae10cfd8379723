"""Child pages of a listing (issue 13): one ad, one normalised URL, one stable id."""

from __future__ import annotations

import pytest
from scrubwatch.core.discover import (
    Link,
    child_id,
    compare,
    links,
    normalise_url,
    removal_summary,
    selective,
)


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("HTTPS://Careers.Example.COM/jobs/1002#apply", "https://careers.example.com/jobs/1002"),
        ("https://careers.example.com:443/jobs/1002", "https://careers.example.com/jobs/1002"),
        ("http://careers.example.com:8080/jobs/1002", "http://careers.example.com:8080/jobs/1002"),
        (
            "https://careers.example.com/jobs/1002?utm_source=x&utm_medium=y&fbclid=z",
            "https://careers.example.com/jobs/1002",
        ),
        (
            "https://careers.example.com/job?id=1002&gclid=abc&lang=zh",
            "https://careers.example.com/job?id=1002&lang=zh",
        ),
        ("https://careers.example.com", "https://careers.example.com/"),
        ("http://[::1]:8000/a", "http://[::1]:8000/a"),
    ],
)
def test_one_ad_is_one_url(given: str, normal: str) -> None:
    assert normalise_url(given) == normal


@pytest.mark.parametrize("url", ["ftp://example.com/a", "mailto:x@example.com", "/jobs/1", ""])
def test_only_web_addresses_are_children(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)


def test_a_child_id_is_stable_and_ignores_spelling() -> None:
    a = child_id("urumqi-jobs", "https://careers.example.com/jobs/1002?utm_source=mail#top")
    b = child_id("urumqi-jobs", "HTTPS://careers.example.com:443/jobs/1002")
    assert a == b == "urumqi-jobs/" + a.split("/", 1)[1]
    assert len(a.split("/", 1)[1]) == 12
    assert child_id("urumqi-jobs", "https://careers.example.com/jobs/1003") != a
    assert child_id("other", "https://careers.example.com/jobs/1002") != a


LISTING = """<html><body><ul>
<li class="job"><a href="/jobs/1002?utm_source=feed">Firmware Engineer, <b>Urumqi</b></a></li>
<li class="job"><a href="https://careers.example.com/jobs/1002#x">same ad again</a></li>
<li class="job"><a href="jobs/1003">R&amp;D Lead, Urumqi</a> <a href="/apply/1003">Apply</a></li>
<li class="job"><a href="javascript:void(0)">no</a><a href="mailto:hr@example.com">hr</a></li>
<li class="job"><a href="ftp://files.example.com/x">ftp</a></li>
</ul><a href="/jobs/9999">outside the list</a></body></html>"""


def test_the_links_of_a_listing_in_page_order_each_once() -> None:
    found = links(LISTING, "li.job", "https://careers.example.com/list/", r"/jobs/\d+$")
    assert [(f.url, f.text) for f in found] == [
        ("https://careers.example.com/jobs/1002", "Firmware Engineer, Urumqi"),
        ("https://careers.example.com/list/jobs/1003", "R&D Lead, Urumqi"),
    ]


def test_a_selector_may_name_the_links_themselves() -> None:
    found = links(LISTING, "li.job a", "https://careers.example.com/")
    assert [f.url for f in found] == [
        "https://careers.example.com/jobs/1002",
        "https://careers.example.com/jobs/1003",
        "https://careers.example.com/apply/1003",
    ]


INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://careers.example.com/sitemap-jobs-1.xml</loc><lastmod>2026-11-01</lastmod></sitemap>
  <sitemap><loc>/sitemap-jobs-2.xml</loc></sitemap>
</sitemapindex>"""
URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://careers.example.com/jobs/1002?utm_source=sitemap</loc><lastmod>2026-12-01</lastmod></url>
  <url><loc>https://careers.example.com/jobs/1002</loc></url>
  <url><loc>ftp://careers.example.com/x</loc></url>
  <url><lastmod>2026-12-01</lastmod></url>
  <url><loc>https://careers.example.com/jobs/1003</loc></url>
</urlset>"""


def test_a_sitemap_index_names_its_sitemaps_and_a_urlset_its_pages() -> None:
    from scrubwatch.core.discover import sitemap

    index = sitemap(INDEX, "https://careers.example.com/sitemap.xml")
    assert index.kind == "index"
    assert index.entries == (
        ("https://careers.example.com/sitemap-jobs-1.xml", "2026-11-01"),
        ("https://careers.example.com/sitemap-jobs-2.xml", None),
    )
    pages = sitemap(URLSET, "https://careers.example.com/sitemap-jobs-1.xml")
    assert pages.kind == "urlset"
    assert pages.entries == (
        ("https://careers.example.com/jobs/1002", "2026-12-01"),
        ("https://careers.example.com/jobs/1003", None),
    )


# Nine levels of ten: a billion "a"s if expanded; expat refuses the amplification.
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a0 "aaaaaaaaaa">'
    + b"".join(f'<!ENTITY a{n} "{("&a" + str(n - 1) + ";") * 10}">'.encode() for n in range(1, 10))
    + b"]><urlset><url><loc>&a9;</loc></url></urlset>"
)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"<html><body>Not found</body></html>", "a <html> document, not a sitemap"),
        (b'{"not": "xml"}', "not XML"),
        (BOMB, "not XML"),
    ],
    ids=["html", "json", "entity-bomb"],
)
def test_what_is_not_a_sitemap_is_said(data: bytes, problem: str) -> None:
    from scrubwatch.core.discover import NotAListing, sitemap

    with pytest.raises(NotAListing, match=problem):
        sitemap(data, "https://careers.example.com/sitemap.xml")


def test_robots_txt_names_the_sitemaps() -> None:
    from scrubwatch.core.discover import robots_sitemaps

    robots = (
        "User-agent: *\nDisallow: /admin\n"
        "SITEMAP: /sitemap.xml\nsitemap:https://cdn.example.com/s.xml\n"
    )
    assert robots_sitemaps(robots, "https://careers.example.com/robots.txt") == [
        "https://careers.example.com/sitemap.xml",
        "https://cdn.example.com/s.xml",
    ]


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Jobs</title>
<item><title>Firmware Engineer, Urumqi</title><link>https://careers.example.com/jobs/1002</link></item>
<item><title>R&amp;D Lead</title><link>/jobs/1003?utm_campaign=rss</link></item>
<item><title>no link</title></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Jobs</title>
<entry><title>Firmware Engineer, Urumqi</title><link rel="alternate" href="https://careers.example.com/jobs/1002"/>
<link rel="enclosure" href="https://careers.example.com/jobs/1002.pdf"/></entry>
<entry><title>R&amp;D Lead</title><link href="/jobs/1003"/></entry>
</feed>"""


@pytest.mark.parametrize("data", [RSS, ATOM], ids=["rss", "atom"])
def test_a_feed_lists_its_entries(data: bytes) -> None:
    from scrubwatch.core.discover import feed

    found = feed(data, "https://careers.example.com/jobs.xml")
    assert [(f.url, f.text) for f in found] == [
        ("https://careers.example.com/jobs/1002", "Firmware Engineer, Urumqi"),
        ("https://careers.example.com/jobs/1003", "R&D Lead"),
    ]


def _link(n: int) -> Link:
    return Link(f"https://careers.example.com/jobs/{n}", f"Ad {n}")


def test_a_look_at_the_children_says_what_came_and_went() -> None:
    known = {_link(1).url: True, _link(2).url: True, _link(3).url: False}
    found = [_link(2), _link(3), _link(4)]
    seen = compare(found, known, room=500)
    assert seen.added == (_link(4),)
    assert seen.relinked == (_link(3).url,)
    assert seen.unlinked == (_link(1).url,)
    assert seen.over_limit == ()


def test_children_past_the_limit_are_named_not_dropped() -> None:
    known = {_link(1).url: True}
    seen = compare([_link(n) for n in range(1, 6)], known, room=2)
    assert seen.added == (_link(2), _link(3))
    assert seen.over_limit == (_link(4), _link(5))


def test_a_selective_removal_is_said_with_its_keyword() -> None:
    removed = {f"ad-{n}": {"Urumqi", "Xinjiang"} for n in range(23)}
    removed["ad-0"] = {"Urumqi"}
    remaining = {f"ad-{n}": {"Hangzhou"} for n in range(23, 31)}
    remaining["ad-30"] = {"Hangzhou", "Xinjiang"}
    assert selective(removed, remaining) == ["Urumqi"]
    line = removal_summary([f"Ad {n}" for n in range(23)], 31, removed, remaining)
    assert line.startswith("23 of 31 pages gone: Ad 0; Ad 1; ")
    assert "Ad 9 and 13 more" in line
    assert line.endswith(" — all mention Urumqi, none of the 8 remaining do")


def test_a_removal_that_is_not_selective_says_only_what_went() -> None:
    removed = {"ad-1": {"Urumqi"}, "ad-2": {"Hangzhou"}}
    remaining = {"ad-3": {"Urumqi"}}
    assert selective(removed, remaining) == []
    assert removal_summary(["Ad 1", "Ad 2"], 3, removed, remaining) == (
        "2 of 3 pages gone: Ad 1; Ad 2"
    )
    assert selective({}, remaining) == []


def test_a_pages_name_is_its_link_text_cut_to_a_bound() -> None:
    long = "Engineer " * 1000
    (link,) = links(f'<a href="/jobs/1">{long}</a>', "a", "https://example.com/")
    assert len(link.text) == 300 and link.text.endswith("…")


def test_a_listing_is_read_up_to_max_links(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrubwatch.core import discover

    monkeypatch.setattr(discover, "MAX_LINKS", 3)
    html = "".join(f'<a href="/jobs/{i}">Ad {i}</a>' for i in range(10))
    assert [x.url for x in links(html, "a", "https://example.com/")] == [
        f"https://example.com/jobs/{i}" for i in range(3)
    ]


def test_a_pages_name_carries_no_control_or_bidi_characters() -> None:
    html = '<a href="/jobs/1">Ad\x1b]0;pwned\x07 one\u202eevil\x1b[31m red</a>'
    (link,) = links(html, "a", "https://example.com/")
    assert "\x1b" not in link.text and "\u202e" not in link.text and "\x07" not in link.text
    assert link.text.startswith("Ad") and "red" in link.text


def test_a_child_notify_of_none_is_heard_by_nobody() -> None:
    from scrubwatch.core.config import parse_watchlist
    from scrubwatch.core.routing import routes

    text = (
        "watches:\n  - id: jobs\n    url: https://example.com/jobs\n    notify: [email]\n"
        "    discover: {links: a, child: {notify: []}}\n"
    )
    email, _ = routes(parse_watchlist(text))
    assert email.notify_of("jobs/0123456789ab") == ()
    assert email.notify_of("jobs") == ("email",)
