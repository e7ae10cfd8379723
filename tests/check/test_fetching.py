"""Fetching: encodings, redirects, forbidden addresses, size limits, conditional requests."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrubwatch.check.fetch import FetchOptions, HttpFetcher
from scrubwatch.check.netguard import StaticResolver
from scrubwatch.core.config import DEFAULT_USER_AGENT
from scrubwatch.core.exchange import Fetch
from support import Harness, Listener, Page, RawServer, Site, chunked, only, page, respond
from warcio.archiveiterator import ArchiveIterator

Make = Callable[..., Harness]


def evidence_path(uri: str | None) -> Path:
    assert uri is not None and uri.startswith("file://")
    return Path(urlsplit(uri).path)


# --- encodings -----------------------------------------------------------------------------

GBK_JOBS = ["算法工程师（乌鲁木齐）", "销售经理（杭州）", "客服专员 陶喆"]  # 喆 is GBK, not GB2312


def gbk_page(jobs: list[str], meta: str = "") -> bytes:
    items = "".join(f'<li class="job">{j}</li>' for j in jobs)
    html = page("招聘信息", f'<h1>社会招聘</h1><ul id="jobs">{items}</ul>', head=meta)
    return html.encode("gbk")


@pytest.mark.parametrize(
    ("content_type", "meta"),
    [
        ("text/html; charset=gbk", ""),
        ("text/html", '<meta charset="gb2312">'),
        ("text/html", '<meta http-equiv="Content-Type" content="text/html; charset=GBK">'),
    ],
    ids=["http-charset", "meta-charset-gb2312", "meta-http-equiv"],
)
def test_gbk_page_is_read_correctly(
    site: Site, harness: Make, content_type: str, meta: str
) -> None:
    site.set("/jobs.html", Page(gbk_page(GBK_JOBS, meta), content_type=content_type))
    h = harness(
        [
            {
                "id": "jobs",
                "url": site.url("/jobs.html"),
                "select": "#jobs",
                "items": "li.job",
                "keywords": ["乌鲁木齐"],
            }
        ]
    )
    first = only(h.run())
    assert first.current is not None
    assert h.evidence.text("jobs", first.current.version) == "\n".join(GBK_JOBS) + "\n"
    reading = h.evidence.reading("jobs", first.current.version)
    assert reading is not None
    assert reading.items == tuple(GBK_JOBS)
    assert reading.keywords == ("乌鲁木齐",)

    site.set(
        "/jobs.html",
        Page(gbk_page([GBK_JOBS[1], GBK_JOBS[2], "前台（深圳）"], meta), content_type=content_type),
    )
    event = only(h.run())

    assert event.kind == "changed"
    assert event.removed == ["算法工程师（乌鲁木齐）"]
    assert event.added == ["前台（深圳）"]
    assert event.keywords_removed == ["乌鲁木齐"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "text/html; charset=utf-8"),
        (b"", None),
        (b"<html><body><p>nul \x00 byte</p></body></html>", "text/html"),
        (b"<html><body><p>bad \xff\xfe\xc3 utf-8</p></body></html>", "text/html; charset=utf-8"),
        (b"<html><body><p>caf\xe9</p></body></html>", "text/html; charset=x-no-such-charset"),
        (b"%PDF-1.4\n\x00\x01\x02binary", "application/pdf"),
        (b"\x00\x01\x02\x03", None),
        (b"plain text\nsecond line\n", "text/plain"),
    ],
    ids=[
        "empty-html",
        "empty-untyped",
        "nul",
        "bad-utf8",
        "unknown-charset",
        "pdf",
        "binary",
        "text",
    ],
)
def test_odd_bodies_never_crash_a_run(
    site: Site, harness: Make, body: bytes, content_type: str | None
) -> None:
    site.set("/odd", Page(body, content_type=content_type))
    h = harness([{"id": "odd", "url": site.url("/odd")}])

    assert [e.kind for e in h.run()] == ["first_seen"]
    assert h.run() == []  # read the same way twice

    site.set("/odd", Page(body + b"\x00more" if body else b"x", content_type=content_type))
    assert [e.kind for e in h.run()] == ["changed"]


# --- redirects -----------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_recorded(site: Site, harness: Make) -> None:
    site.set("/a", Page("", status=302, headers={"Location": "/b"}))
    site.set("/b", Page("", status=301, headers={"Location": site.url("/c")}))
    site.set("/c", page("C", "<p>Final page</p>"))
    h = harness([{"id": "chain", "url": site.url("/a")}])

    event = only(h.run())

    assert event.kind == "first_seen"
    assert event.url == site.url("/a")
    assert event.current is not None
    assert event.current.final_url == site.url("/c")
    assert [s.path for s in site.seen()] == ["/a", "/b", "/c"]
    [row] = h.history("chain")
    assert row["final_url"] == site.url("/c")
    assert row["status"] == 200

    with evidence_path(event.current.evidence).open("rb") as handle:
        records = list(ArchiveIterator(handle))
    meta = [r for r in records if r.rec_type == "metadata"]
    responses = [r for r in records if r.rec_type == "response"]
    # The page first, then each redirect on the way, as it was answered.
    assert len(meta) == 1
    assert [
        (r.rec_headers.get_header("WARC-Target-URI"), r.http_headers.get_statuscode())
        for r in responses
    ] == [(site.url("/c"), "200"), (site.url("/a"), "302"), (site.url("/b"), "301")]
    with evidence_path(event.current.evidence).open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "metadata":
                data = json.loads(record.content_stream().read())
    assert data["requested_url"] == site.url("/a")
    assert data["redirects"] == [
        {"url": site.url("/a"), "status": 302, "location": site.url("/b")},
        {"url": site.url("/b"), "status": 301, "location": site.url("/c")},
    ]


def test_redirect_loop_is_an_error(site: Site, harness: Make) -> None:
    site.set("/loop", Page("", status=302, headers={"Location": "/loop2"}))
    site.set("/loop2", Page("", status=302, headers={"Location": "/loop"}))
    h = harness([{"id": "loop", "url": site.url("/loop")}], confirm_errors=1)

    event = only(h.run())

    assert event.kind == "error"
    assert len(site.seen()) == 11  # the first request and at most 10 redirects


# --- forbidden addresses -------------------------------------------------------------------


def test_forbidden_address_is_refused_on_the_first_run(site: Site, harness: Make) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))
    h = harness([{"id": "x", "url": site.url("/x.html")}], allow_networks=[], confirm_errors=3)

    event = only(h.run())

    assert event.kind == "error"
    assert event.reason == "forbidden_address"
    # The alert says what the address is and which setting, with which value, allows it.
    assert (
        "127.0.0.1 is a loopback address; scrubwatch does not fetch it unless"
        ' settings.allow_networks includes it (e.g. "127.0.0.1/32")'
    ) in event.summary
    assert site.seen() == []
    assert h.runs(3) == []  # reported once
    assert site.seen() == []


def test_redirect_into_a_forbidden_address_is_refused(
    site: Site, harness: Make, listener: Callable[..., Listener]
) -> None:
    trap = listener("127.0.0.2")
    site.set("/x.html", page("X", "<p>x</p>"))
    h = harness([{"id": "x", "url": site.url("/x.html")}], confirm_errors=3)
    assert [e.kind for e in h.run()] == ["first_seen"]

    site.set(
        "/x.html",
        Page("", status=302, headers={"Location": f"http://127.0.0.2:{trap.port}/admin"}),
    )
    event = only(h.run())

    assert event.kind == "error"
    assert event.reason == "forbidden_address"
    assert trap.connections() == 0


def test_redirect_into_a_forbidden_address_on_the_first_check(
    site: Site, harness: Make, listener: Callable[..., Listener]
) -> None:
    trap = listener("127.0.0.2")
    site.set(
        "/x.html",
        Page("", status=307, headers={"Location": f"http://127.0.0.2:{trap.port}/"}),
    )
    h = harness([{"id": "x", "url": site.url("/x.html")}])

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "forbidden_address")
    assert trap.connections() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://metadata.test/latest/meta-data/",
        "http://0.0.0.0:1/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
    ],
)
def test_forbidden_targets_are_refused_at_once(harness: Make, url: str) -> None:
    h = harness(
        [{"id": "meta", "url": url}],
        resolver=StaticResolver({"metadata.test": ["169.254.169.254"]}),
        timeout="2s",
    )

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "forbidden_address")


@pytest.mark.parametrize(
    "host", ["localhost", "127.1", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]"]
)
def test_loopback_in_any_spelling_is_refused(site: Site, harness: Make, host: str) -> None:
    # The system resolver (no network needed for these) and no allow_networks.
    site.set("/x.html", page("X", "<p>x</p>"))
    h = harness([{"id": "x", "url": f"http://{host}:{site.port}/x.html"}], allow_networks=[])

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "forbidden_address")
    assert site.seen() == []


class _Rebinding:
    """Answers with an allowed address once, then with a forbidden one (DNS rebinding)."""

    def __init__(self, good: str, bad: str) -> None:
        self.answers = [good]
        self.bad = bad
        self.calls = 0

    async def resolve(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.answers.pop(0)] if self.answers else [self.bad]


def test_dns_rebinding_cannot_reach_a_forbidden_address(
    site: Site, harness: Make, listener: Callable[..., Listener]
) -> None:
    trap = listener("127.0.0.2")
    resolver = _Rebinding("127.0.0.1", "127.0.0.2")
    h = harness(
        [{"id": "x", "url": f"http://rebind.test:{trap.port}/x.html"}],
        resolver=resolver,
        confirm_errors=1,
    )

    event = only(h.run())

    assert trap.connections() == 0
    assert (event.kind, event.reason) == ("error", "forbidden_address")


def test_redirect_to_link_local_is_refused(site: Site, harness: Make) -> None:
    site.set(
        "/x.html",
        Page("", status=302, headers={"Location": "http://169.254.169.254/latest/"}),
    )
    h = harness([{"id": "x", "url": site.url("/x.html")}], timeout="2s")

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "forbidden_address")


def test_a_name_with_a_forbidden_address_connects_only_to_the_allowed_one(
    site: Site, harness: Make, listener: Callable[..., Listener]
) -> None:
    trap = listener("127.0.0.2", site.port)  # the same port, on the forbidden address
    site.set("/x.html", page("X", "<p>x</p>"))
    # Both addresses on the site's port; only 127.0.0.1 is allowed.
    h = harness(
        [{"id": "x", "url": f"http://mixed.test:{site.port}/x.html"}],
        resolver=StaticResolver({"mixed.test": ["127.0.0.2", "127.0.0.1"]}),
    )

    events = h.run()

    assert trap.connections() == 0
    # Either the allowed address was used, or the name was refused as a whole.
    [event] = events
    if event.kind == "first_seen":
        assert len(site.seen("/x.html")) == 1
    else:
        assert (event.kind, event.reason) == ("error", "forbidden_address")


# --- size limit ----------------------------------------------------------------------------

BIG = page("Big", "<p>" + "x" * 5000 + "</p>").encode()


def test_too_large_with_content_length(site: Site, harness: Make) -> None:
    site.set("/big.html", Page(BIG))
    h = harness([{"id": "big", "url": site.url("/big.html")}], max_bytes="1KB", confirm_errors=1)

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "too_large")
    assert h.history("big") == []


def test_too_large_chunked_without_content_length(
    raw_server: Callable[..., RawServer], harness: Make
) -> None:
    def reply(head: bytes, wfile: Any) -> None:
        wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
        )
        wfile.write(chunked(*[BIG[i : i + 512] for i in range(0, len(BIG), 512)]))

    server = raw_server(reply)
    h = harness([{"id": "big", "url": server.url("/big.html")}], max_bytes="1KB")

    events = h.runs(3)

    assert [(e.kind, e.reason) for e in events] == [("error", "too_large")]
    assert len(server.requests) == 3


def test_too_large_after_decompression(site: Site, harness: Make) -> None:
    bomb = gzip.compress(b"<html><body>" + b"a" * 200_000 + b"</body></html>")
    assert len(bomb) < 1024
    site.set("/bomb.html", Page(bomb, headers={"Content-Encoding": "gzip"}))
    h = harness([{"id": "bomb", "url": site.url("/bomb.html")}], max_bytes="64KB", confirm_errors=1)

    event = only(h.run())

    assert (event.kind, event.reason) == ("error", "too_large")


def test_body_just_under_the_limit_is_fine(site: Site, harness: Make) -> None:
    body = page("Ok", "<p>" + "y" * 900 + "</p>").encode()
    assert len(body) <= 1024
    site.set("/ok.html", Page(body))
    h = harness([{"id": "ok", "url": site.url("/ok.html")}], max_bytes="1KB", confirm_errors=1)

    assert [e.kind for e in h.run()] == ["first_seen"]


# --- conditional requests ------------------------------------------------------------------

LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


def test_conditional_requests_and_304(site: Site, harness: Make) -> None:
    state = {"etag": '"v1"', "body": page("Doc", "<p>first</p>")}

    def handler(request: Any) -> Any:
        if request.headers.get("If-None-Match") == state["etag"]:
            return respond(Page(b"", status=304, headers={"ETag": state["etag"]}))
        return respond(
            Page(state["body"], headers={"ETag": state["etag"], "Last-Modified": LAST_MODIFIED})
        )

    site.set("/doc.html", handler)
    h = harness([{"id": "doc", "url": site.url("/doc.html")}])
    first = only(h.run())
    assert "if-none-match" not in site.seen("/doc.html")[0].headers

    assert h.runs(3) == []
    for seen in site.seen("/doc.html")[1:]:
        assert seen.headers["if-none-match"] == '"v1"'
        assert seen.headers["if-modified-since"] == LAST_MODIFIED
    assert len(h.history("doc")) == 1

    state["etag"], state["body"] = '"v2"', page("Doc", "<p>second</p>")
    event = only(h.run())
    assert event.kind == "changed"
    assert event.previous == first.current
    assert h.run() == []
    assert site.seen("/doc.html")[-1].headers["if-none-match"] == '"v2"'


# --- Retry-After ---------------------------------------------------------------------------


def _busy_once(status: int, retry_after: str, body: str) -> Callable[[Any], Any]:
    calls = {"n": 0}

    def handler(request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return respond(Page("busy", status=status, headers={"Retry-After": retry_after}))
        return respond(Page(body))

    return handler


def test_retry_after_zero_then_success(site: Site, harness: Make) -> None:
    site.set("/p.html", _busy_once(429, "0", page("P", "<p>hello</p>")))
    h = harness([{"id": "p", "url": site.url("/p.html")}], retries=1)

    event = only(h.run())

    assert event.kind == "first_seen"
    assert event.current is not None and event.current.status == 200
    assert len(site.seen("/p.html")) == 2


def test_retry_after_is_waited_for(site: Site, harness: Make) -> None:
    # Backoff alone would retry within 0.75 s; waiting a full second means Retry-After won.
    site.set("/p.html", _busy_once(503, "1", page("P", "<p>hello</p>")))
    h = harness([{"id": "p", "url": site.url("/p.html")}], retries=1)

    assert [e.kind for e in h.run()] == ["first_seen"]
    first, second = site.seen("/p.html")
    assert second.at - first.at >= 0.95


def test_without_retries_a_429_is_not_retried(site: Site, harness: Make) -> None:
    site.set("/p.html", _busy_once(429, "0", page("P", "<p>hello</p>")))
    h = harness([{"id": "p", "url": site.url("/p.html")}], retries=0)

    assert h.run() == []
    assert len(site.seen("/p.html")) == 1


# --- what a check sends, and how a failure reads -------------------------------------------


def _fetch(url: str, **kwargs: str) -> Fetch:
    options = FetchOptions(
        user_agent=DEFAULT_USER_AGENT,
        timeout=5,
        max_bytes=1_000_000,
        concurrency=4,
        per_host=2,
        retries=0,
        allow_networks=[ipaddress.ip_network("127.0.0.1/32")],
    )

    async def go() -> Fetch:
        async with HttpFetcher(options) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(go())


def test_the_default_user_agent_and_a_watchs_own_reach_the_site(site: Site, harness: Make) -> None:
    site.set("/x.html", page("X", "<p>x</p>"))

    harness([{"id": "x", "url": site.url("/x.html")}]).run()
    own = _fetch(site.url("/x.html"), user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")

    first, second = site.seen("/x.html")
    assert first.headers["user-agent"] == DEFAULT_USER_AGENT
    assert second.headers["user-agent"] == "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    assert own.error is None


def test_no_request_names_the_tool(site: Site, harness: Make) -> None:
    # A first check, then a change (which also asks the host for a page that cannot exist
    # and for its home page): every request, headers and all, must look like a reader's.
    site.set("/x.html", page("X", "<p>one</p>"))
    h = harness([{"id": "x", "url": site.url("/x.html")}])
    h.run()
    site.set("/x.html", page("X", "<p>two</p>"))
    h.run()

    seen = site.seen()
    assert len(seen) >= 2
    for request in seen:
        for name, value in request.headers.items():
            assert "scrubwatch" not in f"{name}: {value}".lower(), (request.path, name, value)
        # What a browser opening a page from the address bar also sends.
        assert request.headers["accept"].startswith("text/html,application/xhtml+xml")
        assert request.headers["accept-language"]


def test_a_refused_connection_reads_as_a_sentence(site: Site) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # released: nothing listens there

    result = _fetch(f"http://127.0.0.1:{port}/x.html")

    assert (result.error, result.error_detail) == (
        "connect",
        f"cannot connect to 127.0.0.1:{port}: connection refused",
    )


def test_the_debug_log_tells_a_200_with_the_same_bytes_from_a_304(
    site: Site, harness: Make, caplog: pytest.LogCaptureFixture
) -> None:
    site.set("/same.html", page("Same", "<p>same</p>"))  # no validators: never a 304
    h = harness([{"id": "same", "url": site.url("/same.html")}])
    h.run()
    caplog.clear()

    with caplog.at_level(logging.DEBUG, logger="scrubwatch"):
        h.run()

    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("same: ")]
    assert "200 (the same bytes as last time)" in line and " 304 " not in line
