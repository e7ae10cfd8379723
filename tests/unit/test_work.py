"""The worker's analysis: the whole page's text is read only when a comparison needs it."""

from __future__ import annotations

from datetime import UTC, datetime

from scrubwatch.check.analyse import analyse
from scrubwatch.core.exchange import Fetch
from scrubwatch.core.reader import ReadSpec, page_text, read_page

URL = "http://127.0.0.1/jobs"
BODY = b"<html><head><title>Jobs</title></head><body><nav>Menu</nav><p>Engineer</p></body></html>"
HEADERS = [("Content-Type", "text/html; charset=utf-8")]


def fetch(body: bytes = BODY) -> Fetch:
    return Fetch(
        url=URL,
        final_url=URL,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=200,
        headers=list(HEADERS),
        body=body,
        content=body,
    )


SPEC = ReadSpec(select="p")


def test_first_reading_skips_the_page_text() -> None:
    assert analyse(fetch(), SPEC, "w", None, None).reading.page_text == ""


def test_unchanged_reading_skips_the_page_text() -> None:
    known = read_page(BODY, dict(HEADERS), URL, SPEC).fingerprint
    assert analyse(fetch(), SPEC, "w", "v", known).reading.page_text == ""


def test_changed_reading_has_the_whole_page_text() -> None:
    reading = analyse(fetch(), SPEC, "w", "v", "an older fingerprint").reading
    # The whole page, not just the selected region: what a host's not-found page is like.
    assert reading.page_text == "Menu\nEngineer"
    assert reading.page_text == read_page(BODY, dict(HEADERS), URL, SPEC).page_text


def test_known_state_without_a_reading_counts_as_changed() -> None:
    # A page gone from its first check has no fingerprint; its first content is a change.
    assert analyse(fetch(), SPEC, "w", None, "").reading.page_text == "Menu\nEngineer"


def test_page_text_alone_matches_read_page() -> None:
    body = b"<title>t</title><script>x()</script><h1>Nicht gefunden</h1><p>a\n b</p>"
    headers = {"content-type": "text/html"}
    assert page_text(body, headers) == read_page(body, headers, URL, ReadSpec()).page_text
