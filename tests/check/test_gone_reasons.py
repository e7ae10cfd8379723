"""Every reason a page is gone, and what must not count as gone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from scrubwatch.check.netguard import ResolveFailed, StaticResolver
from support import Harness, Page, Site, kinds, only, page

Make = Callable[..., Harness]

AD = page("Agency ad 1002", "<h1>Firmware Engineer (Urumqi)</h1><p>Posted by Lumen Optics.</p>")
AGENCY = page("Agency", "<h1>All our openings</h1><p>Browse them all.</p>")


@pytest.mark.parametrize(("status", "reason"), [(404, "http_404"), (410, "http_410")])
def test_gone_by_status(site: Site, harness: Make, status: int, reason: str) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}])
    first = only(h.run())
    site.set("/ad.html", Page(page("Error", "<h1>Error</h1>"), status=status))

    assert h.run() == []
    event = only(h.run())

    assert event.kind == "gone"
    assert event.reason == reason
    assert event.previous == first.current
    assert event.current is not None
    assert event.current.status == status


def test_gone_by_redirect_to_an_ancestor(site: Site, harness: Make) -> None:
    site.set("/agency/jobs/1002.html", AD)
    site.set("/agency/", AGENCY)
    url = site.url("/agency/jobs/1002.html")
    h = harness([{"id": "agency-1002", "url": url}])
    first = only(h.run())
    assert first.current is not None
    assert first.current.final_url == url

    site.set("/agency/jobs/1002.html", Page("", status=302, headers={"Location": "/agency/"}))
    assert h.run() == []
    event = only(h.run())

    assert event.kind == "gone"
    assert event.reason == "redirect"
    assert event.current is not None
    assert event.current.final_url == site.url("/agency/")
    assert "Firmware Engineer (Urumqi)" in event.removed
    assert h.runs(2) == []


def test_redirect_to_site_root_is_gone(site: Site, harness: Make) -> None:
    site.set("/shop/item/77.html", page("Item 77", "<p>Camera</p>"))
    site.set("/", page("Shop", "<p>Welcome</p>"))
    h = harness([{"id": "item", "url": site.url("/shop/item/77.html")}], confirm_gone=1)
    h.run()
    site.set("/shop/item/77.html", Page("", status=301, headers={"Location": "/"}))

    event = only(h.run())

    assert (event.kind, event.reason) == ("gone", "redirect")


def test_a_page_always_redirected_to_its_parent_is_not_gone(site: Site, harness: Make) -> None:
    # Redirected to an ancestor from the very first check: that is just where it lives.
    site.set("/old/page.html", Page("", status=302, headers={"Location": "/old/"}))
    site.set("/old/", page("Old", "<p>Archive</p>"))
    h = harness([{"id": "old", "url": site.url("/old/page.html")}], confirm_gone=1)

    first = only(h.run())
    assert first.kind == "first_seen"
    assert first.current is not None
    assert first.current.final_url == site.url("/old/")
    assert h.runs(3) == []


def test_redirect_to_another_page_is_not_gone(site: Site, harness: Make) -> None:
    site.set("/jobs/1002.html", AD)
    site.set("/careers/1002.html", AD.replace("Posted by", "Reposted by"))
    h = harness([{"id": "ad", "url": site.url("/jobs/1002.html")}], confirm_gone=1)
    h.run()
    site.set("/jobs/1002.html", Page("", status=301, headers={"Location": "/careers/1002.html"}))

    event = only(h.run())

    assert event.kind == "changed"


@pytest.mark.parametrize(
    "title", ["页面不存在", "Page not found", "抱歉，您访问的页面不存在 - 某某招聘"]
)
def test_soft_404_by_phrase(site: Site, harness: Make, title: str) -> None:
    site.set("/ad.html", AD)
    h = harness([{"id": "ad", "url": site.url("/ad.html")}])
    h.run()
    site.set("/ad.html", page(title, f"<h1>{title}</h1><p>返回首页 / Back home</p>"))

    assert h.run() == []
    event = only(h.run())

    assert event.kind == "gone"
    assert event.reason == "soft_404"
    assert event.current is not None
    assert event.current.status == 200


@pytest.mark.parametrize(
    "title",
    [
        "Job 140457: Firmware Engineer",
        "Model 4040 thermal camera",
    ],
)
def test_a_title_that_merely_contains_404_is_not_a_soft_404(
    site: Site, harness: Make, title: str
) -> None:
    # "404" inside a longer number (a job id, a model number) says nothing about the page.
    site.set("/ad.html", page(title, f"<h1>{title}</h1><p>Apply now.</p>"))
    h = harness([{"id": "ad", "url": site.url("/ad.html")}], confirm_gone=1)

    events = h.run()
    events += h.run()

    assert [e.kind for e in events] == ["first_seen"]


NOT_FOUND_SHOP = page(
    "Lumen Shop",
    "<header>Lumen Shop</header><p>Sorry, we could not find what you were looking for.</p>"
    "<p>Try the search box or browse our catalogue.</p>",
)


def test_soft_404_by_probe_once_per_host_per_run(site: Site, harness: Make) -> None:
    # The host answers 200 with the same neutral page for every path it does not know.
    site.fallback = Page(NOT_FOUND_SHOP)
    resolver = StaticResolver({"shop.test": ["127.0.0.1"], "news.test": ["127.0.0.1"]})

    def url(host: str, path: str) -> str:
        return f"http://{host}:{site.port}{path}"

    pages = {
        "/p/1.html": page("Lumen Shop", '<div id="p"><h1>Eye-9</h1><p>Camera</p></div>'),
        "/p/2.html": page("Lumen Shop", '<div id="p"><h1>Eye-10</h1><p>Camera</p></div>'),
        "/p/3.html": page("Lumen Shop", '<div id="p"><h1>Eye-11</h1><p>Camera</p></div>'),
        "/p/4.html": page("Lumen Shop", '<div id="p"><h1>Eye-12</h1><p>Camera</p></div>'),
    }
    for path, body in pages.items():
        site.set(path, body)
    site.set("/", page("Lumen Shop", "<h1>Welcome to Lumen Shop</h1><p>Cameras and more</p>"))
    watches = [
        {"id": "shop-1", "url": url("shop.test", "/p/1.html"), "select": "#p"},
        {"id": "shop-2", "url": url("shop.test", "/p/2.html")},
        {"id": "shop-3", "url": url("shop.test", "/p/3.html")},
        {"id": "news-4", "url": url("news.test", "/p/4.html")},
    ]
    h = harness(watches, resolver=resolver, confirm_gone=2)

    probe_paths: set[str] = set()

    def probes(since: int) -> Counter[str]:
        # The random path, and the home page (asked with it, to tell a site-wide wall).
        found = [s for s in site.seen(since=since) if s.path not in pages and s.path != "/"]
        homes = Counter(s.host.split(":")[0] for s in site.seen(since=since) if s.path == "/")
        assert all(n == 1 for n in homes.values()), homes
        probe_paths.update(s.path for s in found)
        return Counter(s.host.split(":")[0] for s in found)

    mark = site.mark()
    assert sorted(e.kind for e in h.run()) == ["first_seen"] * 4
    assert probes(mark) == {}  # nothing new was seen: no probe needed

    mark = site.mark()
    assert h.run() == []
    assert probes(mark) == {}  # nothing changed: no probe needed

    # Three pages on shop.test and one on news.test become the host's "not found" page;
    # shop-2 is edited for real.
    for path in ("/p/1.html", "/p/3.html", "/p/4.html"):
        site.set(path, NOT_FOUND_SHOP)
    site.set("/p/2.html", pages["/p/2.html"].replace("Camera", "Camera, discontinued"))
    mark = site.mark()
    events = h.run()
    assert kinds(events) == [("shop-2", "changed")]  # suspected gone: no event, no `changed`
    assert probes(mark) == {"shop.test": 1, "news.test": 1}

    mark = site.mark()
    events = h.run()
    assert sorted((e.watch, e.kind, e.reason) for e in events) == [
        ("news-4", "gone", "soft_404"),
        ("shop-1", "gone", "soft_404"),
        ("shop-3", "gone", "soft_404"),
    ]
    assert all(n == 1 for n in probes(mark).values())
    assert set(probes(mark)) <= {"shop.test", "news.test"}

    for _ in range(2):  # stays gone: nothing more, and still at most one probe per host
        mark = site.mark()
        assert h.run() == []
        assert all(n <= 1 for n in probes(mark).values())
    # Every probe asked for a path of its own: a random one, never one a page could have.
    assert len(probe_paths) == sum(1 for s in site.seen() if s.path not in {*pages, "/"})


def test_page_that_differs_from_the_probe_is_changed_not_gone(site: Site, harness: Make) -> None:
    site.fallback = Page(NOT_FOUND_SHOP)
    site.set("/p/1.html", page("Lumen Shop", "<h1>Eye-9</h1><p>Camera</p>"))
    h = harness([{"id": "p1", "url": site.url("/p/1.html")}], confirm_gone=1)
    h.run()
    site.set("/p/1.html", page("Lumen Shop", "<h1>Eye-9</h1><p>Camera, now in red</p>"))

    assert [e.kind for e in h.run()] == ["changed"]


def test_gone_by_dns(site: Site, harness: Make) -> None:
    site.set("/item.html", page("Item", "<p>Camera</p>"))
    known = StaticResolver({"shop.test": ["127.0.0.1"]})
    unknown = StaticResolver({})
    h = harness([{"id": "item", "url": f"http://shop.test:{site.port}/item.html"}], resolver=known)
    first = only(h.run())
    assert first.kind == "first_seen"
    assert site.seen("/item.html")[0].host == f"shop.test:{site.port}"

    assert h.run(resolver=unknown) == []
    event = only(h.run(resolver=unknown))

    assert event.kind == "gone"
    assert event.reason == "dns"
    assert event.previous == first.current
    assert event.current is None
    assert h.runs(2, resolver=unknown) == []

    restored = only(h.run(resolver=known))
    assert restored.kind == "restored"


def test_gone_by_dns_lists_what_vanished(site: Site, harness: Make) -> None:
    # Like every other gone event, a page whose name vanished says what it held.
    site.set("/item.html", page("Item", "<p>Eye-9 camera</p>"))
    h = harness(
        [{"id": "item", "url": f"http://shop.test:{site.port}/item.html"}],
        resolver=StaticResolver({"shop.test": ["127.0.0.1"]}),
        confirm_gone=1,
    )
    h.run()

    event = only(h.run(resolver=StaticResolver({})))

    assert (event.kind, event.reason) == ("gone", "dns")
    assert event.removed == ["Eye-9 camera"]


class _BrokenResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        raise ResolveFailed(f"{host}: temporary failure in name resolution")


def test_resolver_failure_is_an_error_not_gone(site: Site, harness: Make) -> None:
    site.set("/item.html", page("Item", "<p>Camera</p>"))
    h = harness(
        [{"id": "item", "url": f"http://shop.test:{site.port}/item.html"}],
        resolver=StaticResolver({"shop.test": ["127.0.0.1"]}),
        confirm_errors=3,
    )
    h.run()

    events = h.runs(6, resolver=_BrokenResolver())

    assert [(e.kind, e.reason) for e in events] == [("error", "dns_error")]
