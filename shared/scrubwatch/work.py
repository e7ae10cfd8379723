"""The CPU-bound part of a check, run in worker processes: read the page, build evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from .evidence import Evidence, build_evidence
from .exchange import Fetch
from .reader import Reading, ReadSpec, page_text, read_page


@dataclass(frozen=True)
class Analysis:
    reading: Reading
    version: str
    evidence: Evidence | None  # built only when the content differs from what we had


def version_id(status: int | None, reading: Reading) -> str:
    """A version is what the page said (status and fingerprint), not its incidental bytes."""
    return hashlib.sha256(f"{status}\n{reading.fingerprint}".encode()).hexdigest()


def analyse(
    fetch: Fetch,
    spec: ReadSpec,
    watch_id: str,
    known_version: str | None,
    known_fingerprint: str | None = None,
) -> Analysis:
    headers = fetch.header_map
    reading = read_page(fetch.content, headers, fetch.final_url, spec, page_text=False)
    if (
        reading.kind == "html"
        and known_fingerprint is not None
        and reading.fingerprint != known_fingerprint
    ):
        # Only a page that changed since a known version is compared with the host's
        # not-found page; a first reading or an unchanged one never is.
        reading = replace(reading, page_text=page_text(fetch.content, headers))
    version = version_id(fetch.status, reading)
    evidence = None
    # The version includes the status: a 404 serving the last page's body is new evidence.
    if version != known_version:
        evidence = build_evidence(fetch, reading, version, watch_id)
    return Analysis(reading, version, evidence)


def read_probe(fetch: Fetch) -> Reading:
    return read_page(fetch.content, fetch.header_map, fetch.final_url, ReadSpec())
