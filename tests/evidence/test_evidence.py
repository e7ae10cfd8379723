"""Evidence: each version kept as a valid WARC (request, response, metadata) plus its text."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrubwatch.core.events import Event
from support import Harness, Page, RawServer, Site, chunked, only, page
from warcio.archiveiterator import ArchiveIterator

Make = Callable[..., Harness]
WARCIO = str(Path(sys.executable).with_name("warcio"))


def warc_file(event: Event) -> Path:
    assert event.current is not None and event.current.evidence is not None
    return Path(urlsplit(event.current.evidence).path)


def payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def check_warc(path: Path) -> list[Any]:
    proc = subprocess.run(
        [WARCIO, "check", "-v", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            raw = record.raw_stream.read()
            records.append((record, raw))
    return records


def test_evidence_is_a_valid_warc_with_request_response_and_metadata(
    site: Site, harness: Make
) -> None:
    html = page("Doc", "<h1>Report</h1><p>Urumqi R&amp;D Center</p>").encode()
    body = gzip.compress(html)
    site.set(
        "/doc.html",
        Page(body, headers={"Content-Encoding": "gzip", "X-Served-By": "test-site"}),
    )
    h = harness([{"id": "doc", "url": site.url("/doc.html")}])

    event = only(h.run())
    path = warc_file(event)
    assert path.name == f"{event.current.version}.warc.gz"  # type: ignore[union-attr]

    records = check_warc(path)
    by_type = {record.rec_type: (record, raw) for record, raw in records}
    assert sorted(by_type) == ["metadata", "request", "response"]

    response, raw = by_type["response"]
    assert raw == body  # exactly as received: still gzip-encoded
    assert response.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(body)
    assert response.rec_headers.get_header("WARC-Target-URI") == site.url("/doc.html")
    assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert response.http_headers.get_statuscode() == "200"
    assert response.http_headers.get_header("X-Served-By") == "test-site"
    assert response.http_headers.get_header("Content-Encoding") == "gzip"

    request, _ = by_type["request"]
    assert request.http_headers.protocol == "GET"
    assert request.http_headers.statusline.startswith("/doc.html ")
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )

    _, meta_raw = by_type["metadata"]
    meta = json.loads(meta_raw)
    assert meta["scrubwatch_watch"] == "doc"
    assert meta["scrubwatch_version"] == event.current.version  # type: ignore[union-attr]
    assert meta["requested_url"] == site.url("/doc.html")

    base = path.with_name(path.name.removesuffix(".warc.gz"))
    assert base.with_suffix(".txt").read_text("utf-8") == "Report\nUrumqi R&D Center\n"
    assert json.loads(base.with_suffix(".reading.json").read_text("utf-8"))["lines"] == [
        "Report",
        "Urumqi R&D Center",
    ]


def test_chunked_response_evidence_is_valid(
    raw_server: Callable[..., RawServer], harness: Make
) -> None:
    html = page("Chunks", "<p>first part</p><p>second part</p>").encode()

    def reply(head: bytes, wfile: Any) -> None:
        wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        wfile.write(chunked(html[:40], html[40:]))

    server = raw_server(reply)
    h = harness([{"id": "chunks", "url": server.url("/c.html")}])

    event = only(h.run())
    records = check_warc(warc_file(event))

    [(response, raw)] = [(r, raw) for r, raw in records if r.rec_type == "response"]
    assert raw == html  # de-chunked
    assert response.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(html)


def test_each_version_has_its_own_evidence(site: Site, harness: Make) -> None:
    site.set("/p.html", page("P", "<p>before</p>"))
    h = harness([{"id": "p", "url": site.url("/p.html")}])
    first = only(h.run())
    site.set("/p.html", page("P", "<p>after</p>"))
    changed = only(h.run())

    assert changed.previous == first.current
    old, new = warc_file(first), warc_file(changed)
    assert old != new
    for path in (old, new):
        check_warc(path)
    rows = h.history("p")
    assert [r["evidence"] for r in rows] == [
        first.current.evidence,  # type: ignore[union-attr]
        changed.current.evidence,  # type: ignore[union-attr]
    ]
    assert h.evidence.text("p", rows[0]["version"]) == "before\n"
    assert h.evidence.text("p", rows[1]["version"]) == "after\n"


def test_evidence_keeps_the_status_line_and_headers_as_received(
    raw_server: Callable[..., RawServer], harness: Make
) -> None:
    html = page("Raw", "<p>as received</p>").encode()

    def reply(head: bytes, wfile: Any) -> None:
        wfile.write(
            b"HTTP/1.0 200 Fine Thanks\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"X-Mixed-Case: Yes\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
            b"Content-Length: %d\r\n\r\n" % len(html)
        )
        wfile.write(html)

    server = raw_server(reply)
    h = harness([{"id": "raw", "url": server.url("/raw.html")}])

    event = only(h.run())
    records = check_warc(warc_file(event))

    [(response, raw)] = [(r, raw) for r, raw in records if r.rec_type == "response"]
    assert raw == html
    assert response.http_headers.statusline == "200 Fine Thanks"
    assert response.http_headers.protocol == "HTTP/1.0"
    headers = response.http_headers.headers
    assert ("X-Mixed-Case", "Yes") in headers
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]


def test_evidence_request_record_is_the_request_as_sent(
    raw_server: Callable[..., RawServer], harness: Make
) -> None:
    html = page("Q", "<p>query</p>").encode()

    def reply(head: bytes, wfile: Any) -> None:
        wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(html)
        )
        wfile.write(html)

    server = raw_server(reply)
    h = harness([{"id": "q", "url": server.url("/q.html?lang=zh&page=2#jobs")}])

    event = only(h.run())
    records = check_warc(warc_file(event))

    sent = server.requests[0].decode("latin-1").split("\r\n")
    method, target, _ = sent[0].split(" ")
    sent_headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in sent[1:] if line)}
    [(request, _)] = [(r, raw) for r, raw in records if r.rec_type == "request"]
    assert request.http_headers.protocol == method == "GET"
    assert request.http_headers.statusline.split(" ")[0] == target == "/q.html?lang=zh&page=2"
    assert request.http_headers.get_header("User-Agent") == sent_headers["user-agent"]
    assert request.http_headers.get_header("Host") == sent_headers["host"]
