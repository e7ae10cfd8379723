"""A malformed answer is that watch's error: the run goes on and the other watches' alerts
are delivered (issue 10, H1). Every answer here is written byte by byte by a raw socket
server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support import Harness, RawServer, Site, kinds, page

Make = Callable[..., Harness]

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
HTML = page("Jobs", "<ul><li>Engineer</li></ul>").encode()

# What each answer breaks in the HTTP stack (the audit's list).
MALFORMED: dict[str, bytes] = {
    "bad status line": b"HTTP/1.1 two hundred OK\r\nContent-Length: 0\r\n\r\n",
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "header line over 8190 bytes": OK_HEAD + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n" + HTML,
    "more than 127 headers": OK_HEAD
    + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    + b"\r\n"
    + HTML,
    "Transfer-Encoding with Content-Length": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "NUL in a header": OK_HEAD + b"X-Nul: a\x00b\r\n\r\n" + HTML,
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
    "redirect to a broken IPv6 literal": b"HTTP/1.1 302 Found\r\nLocation: http://[::1/\r\n"
    b"Content-Length: 0\r\n\r\n",
    "redirect to a host label over 63 characters": b"HTTP/1.1 302 Found\r\nLocation: http://"
    + b"a" * 70
    + b".example/\r\nContent-Length: 0\r\n\r\n",
    "redirect to a bad xn-- label": b"HTTP/1.1 302 Found\r\nLocation: http://xn--a.example/\r\n"
    b"Content-Length: 0\r\n\r\n",
    "redirect to a bad port": b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:99999/\r\n"
    b"Content-Length: 0\r\n\r\n",
}


def beside_a_good_watch(harness: Make, site: Site, watch_id: str, url: str) -> Harness:
    """The watch under attack and a good one, whose alert must come whatever happens."""
    site.set("/good.html", page("Good", "<p>fine</p>"))
    return harness(
        [{"id": watch_id, "url": url}, {"id": "good", "url": site.url("/good.html")}],
        confirm_errors=1,
    )


def answer(data: bytes) -> Callable[[bytes, Any], None]:
    def reply(head: bytes, wfile: Any) -> None:
        wfile.write(data)

    return reply


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_answer_is_that_watchs_error_and_the_run_goes_on(
    name: str, site: Site, harness: Make, raw_server: Callable[..., RawServer]
) -> None:
    bad = raw_server(answer(MALFORMED[name]))
    h = beside_a_good_watch(harness, site, "hostile", bad.url("/jobs.html"))

    events = h.run()

    # The good watch's alert came; the hostile watch is one clear error, not a crash.
    assert ("good", "first_seen") in kinds(events)
    [error] = [e for e in events if e.watch == "hostile"]
    assert error.kind == "error"
    assert error.reason in ("protocol", "invalid_url"), error.reason
    assert h.reports[-1].failures["hostile"] in ("protocol", "invalid_url")
    assert h.state.load(["hostile"])["hostile"].last_checked > 0  # committed


def test_a_malformed_not_found_page_leaves_the_change_reported(
    harness: Make, raw_server: Callable[..., RawServer]
) -> None:
    content = {"now": page("Jobs", "<ul><li>Engineer</li><li>Analyst</li></ul>").encode()}

    def reply(head: bytes, wfile: Any) -> None:
        if head.startswith(b"GET /jobs.html "):
            body = content["now"]
            wfile.write(OK_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        else:  # the host's not-found page, which the probe asks for, is broken
            wfile.write(MALFORMED["bad status line"])

    server = raw_server(reply)
    h = harness([{"id": "jobs", "url": server.url("/jobs.html"), "items": "li"}])
    assert kinds(h.run()) == [("jobs", "first_seen")]
    content["now"] = page("Jobs", "<ul><li>Engineer</li></ul>").encode()

    [event] = h.run()

    assert event.kind == "changed"
    assert event.removed == ["Analyst"]


def test_whatever_else_a_page_provokes_is_that_watchs_internal_error(
    site: Site, harness: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scrubwatch.check.engine

    real = scrubwatch.check.engine.classify

    def classify_or_fail(fetch: Any, *args: Any) -> Any:
        if fetch.url.endswith("/odd.html"):
            raise KeyError("a case nobody foresaw")
        return real(fetch, *args)

    monkeypatch.setattr(scrubwatch.check.engine, "classify", classify_or_fail)
    site.set("/odd.html", page("Odd", "<p>odd</p>"))
    h = beside_a_good_watch(harness, site, "odd", site.url("/odd.html"))

    events = h.run()

    assert ("good", "first_seen") in kinds(events)
    [error] = [e for e in events if e.watch == "odd"]
    assert (error.kind, error.reason) == ("error", "internal")
    assert "a case nobody foresaw" in error.summary
