"""The worker's analysis: the whole page's text is read only when a comparison needs it, and
a page whose watched part digests as last time is read no further."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrubwatch.check.analyse import analyse
from scrubwatch.core.exchange import Fetch
from scrubwatch.core.reader import Known, ReadSpec, page_text, read_page
from scrubwatch.evidence.build import build_evidence

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


def test_a_known_digest_abridges_the_reading_and_keeps_what_classify_needs() -> None:
    full = read_page(BODY, dict(HEADERS), URL, SPEC)
    noisy = BODY.replace(b"<nav>Menu</nav>", b"<nav>Menu 2</nav>")
    again = read_page(noisy, dict(HEADERS), URL, SPEC, known=Known(full.digest, "fp"))
    assert again.abridged and again.digest == full.digest
    assert (again.fingerprint, again.lines, again.title) == ("fp", (), "Jobs")


def test_another_url_or_part_does_not_digest_the_same() -> None:
    full = read_page(BODY, dict(HEADERS), URL, SPEC)
    elsewhere = read_page(BODY, dict(HEADERS), URL + "?moved", SPEC)
    changed = read_page(BODY.replace(b"Engineer", b"Tester"), dict(HEADERS), URL, SPEC)
    assert len({full.digest, elsewhere.digest, changed.digest}) == 3
    again = read_page(BODY, dict(HEADERS), URL, SPEC, known=Known(elsewhere.digest, "fp"))
    assert not again.abridged and again.lines == ("Engineer",)


def test_a_new_version_is_never_kept_from_an_abridged_reading() -> None:
    # The digest matches, but the status made another version: its evidence is read in full.
    full = read_page(BODY, dict(HEADERS), URL, SPEC)
    analysis = analyse(
        fetch(),
        SPEC,
        "w",
        "an older version",
        full.fingerprint,
        None,
        Known(full.digest, full.fingerprint),
    )
    assert analysis.evidence is not None and not analysis.reading.abridged
    assert b"Engineer" in analysis.evidence.reading_json


def test_evidence_refuses_an_abridged_reading() -> None:
    full = read_page(BODY, dict(HEADERS), URL, SPEC)
    abridged = read_page(BODY, dict(HEADERS), URL, SPEC, known=Known(full.digest, "fp"))
    with pytest.raises(ValueError, match="abridged"):
        build_evidence(fetch(), abridged, "v", "w")


def test_items_picked_by_an_ancestor_outside_the_watched_part_are_digested() -> None:
    # The items selector looks above the watched part: closing the board empties the list
    # although the watched part's own markup is the same.
    spec = ReadSpec(select="#jobs", items="body:not(.closed) li")
    open_board = b"<body><ul id=jobs><li>Engineer</li><li>Tester</li></ul></body>"
    closed = open_board.replace(b"<body>", b'<body class="closed">')
    before = read_page(open_board, dict(HEADERS), URL, spec)
    after = read_page(closed, dict(HEADERS), URL, spec, known=Known(before.digest, "fp"))
    assert not after.abridged
    assert (before.items, after.items) == (("Engineer", "Tester"), ())
