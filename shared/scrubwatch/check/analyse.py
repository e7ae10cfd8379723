"""The CPU-bound part of a check, run in worker processes: read the page, build evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from ..core.exchange import Fetch
from ..core.reader import Known, Reading, ReadSpec, page_text, read_page
from ..evidence.build import Evidence, build_evidence, fetch_from_warc


@dataclass(frozen=True)
class Analysis:
    reading: Reading
    version: str  # what the page said: status and fingerprint ("same content")
    capture: str  # the stored capture this check would keep (names its evidence files)
    evidence: Evidence | None  # built only when the content differs from what we had


def version_id(status: int | None, reading: Reading) -> str:
    """A version is what the page said (status and fingerprint), not its incidental bytes."""
    return hashlib.sha256(f"{status}\n{reading.fingerprint}".encode()).hexdigest()


def capture_id(watch_id: str, content: str, final_url: str, chain_head: str | None) -> str:
    """The identity of one stored capture.

    Two captures of one content are two records (a page that moved, or the same text
    served again after a scrub), so the id is not the content's. It follows the chain
    head instead of the clock: a check repeated after a crash before its commit makes the
    same id and finds its own files, instead of forking the chain.
    """
    key = "\x1f".join(("capture", watch_id, chain_head or "", content, final_url))
    return hashlib.sha256(key.encode()).hexdigest()


def analyse(
    fetch: Fetch,
    spec: ReadSpec,
    watch_id: str,
    known_version: str | None,
    known_fingerprint: str | None = None,
    chain_head: str | None = None,
    known: Known | None = None,
) -> Analysis:
    """``known``: the last reading's digest, when this answer may be compared by it alone
    (the engine decides: same URL, same settings, the page up)."""
    content, headers = fetch.readable
    reading = read_page(
        content,
        headers,
        fetch.final_url,
        spec,
        page_text=False,
        known=known,
    )
    if (
        reading.kind == "html"
        and known_fingerprint is not None
        and (reading.fingerprint != known_fingerprint or not reading.region_found)
    ):
        # Only a page that changed since a known version is compared with the host's
        # not-found page; a first reading or an unchanged one never is. A page whose
        # watched part is missing says nothing through its fingerprint, so it always is.
        reading = replace(reading, page_text=page_text(content, headers))
    version = version_id(fetch.status, reading)
    capture = capture_id(watch_id, version, fetch.final_url, chain_head)
    evidence = None
    # The version includes the status: a 404 serving the last page's body is new evidence.
    # Same content is rarely kept (only for an event); the engine builds it then.
    if version != known_version:
        reading = unabridged(fetch, spec, reading)
        evidence = build_evidence(fetch, reading, capture, watch_id, version)
    return Analysis(reading, version, capture, evidence)


def unabridged(fetch: Fetch, spec: ReadSpec, reading: Reading) -> Reading:
    """``reading`` in full (read again if it was abridged), for evidence."""
    if not reading.abridged:
        return reading
    return read_page(*fetch.readable, fetch.final_url, spec, page_text=False)


def reread(warc_gz: bytes, spec: ReadSpec) -> Reading | None:
    """A kept capture read again with a watch's new settings (None if it has no response)."""
    fetch = fetch_from_warc(warc_gz)
    if fetch is None:
        return None
    return read_page(*fetch.readable, fetch.final_url, spec, page_text=False)


def read_probe(fetch: Fetch) -> Reading:
    return read_page(fetch.content, fetch.header_map, fetch.final_url, ReadSpec())
