"""Evidence of one version, built in memory: a gzipped WARC of the exchange, the text, the
reading, and a manifest that hashes all of them and chains to the version before.

No I/O here; stores decide where the bytes go.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..core.events import rfc3339
from ..core.exchange import Fetch, Hop, Rendered
from ..core.reader import Reading

# Headers that describe the connection, not the entity: the body we keep is de-chunked,
# so a recorded "Transfer-Encoding: chunked" would make the record unreadable.
_HOP_HEADERS = {"transfer-encoding"}


MANIFEST_SCHEMA = "scrubwatch.manifest/1"
# What a browser made of a rendered page, as resource records of the version: the names
# Browsertrix gives a full-page screenshot (urn:fullPage:) and, by the same pattern, the DOM.
DOM_PREFIX = "urn:dom:"
SCREENSHOT_PREFIX = "urn:fullPage:"


@dataclass(frozen=True)
class Evidence:
    warc_gz: bytes
    text: str
    reading_json: bytes
    # What the manifest says of the exchange; the engine adds the classification and the
    # link to the previous manifest, which only it knows.
    facts: dict[str, Any] = field(default_factory=dict)
    # SHA-256 of the three files (warc, text, reading), hashed where they were built so the
    # engine's process does not hash them again.
    files_sha256: dict[str, str] = field(default_factory=dict)

    def file_sha256(self, part: str) -> str:
        if part in self.files_sha256:
            return self.files_sha256[part]
        data = {"warc": self.warc_gz, "text": self.text.encode(), "reading": self.reading_json}
        return sha256(data[part])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(
    evidence: Evidence,
    version: str,  # the capture: names the files
    classification: dict[str, str | None],
    settings_hash: str,
    previous: str | None,
    scrubwatch_version: str,
    witness: dict[str, Any] | None = None,
    reading_settings: dict[str, Any] | None = None,
    discovery: dict[str, Any] | None = None,
    timestamps: dict[str, Any] | None = None,
) -> bytes:
    """The manifest's bytes; their SHA-256 is what the next version's manifest points at.
    ``discovery``: what a watch that discovers children decided on this version's check
    (what it read, the children added, unlinked and skipped, and why)."""
    body = {
        "schema": MANIFEST_SCHEMA,
        **evidence.facts,
        "version": version,
        "classification": classification,
        "files": {
            "warc": {"name": f"{version}.warc.gz", "sha256": evidence.file_sha256("warc")},
            "text": {"name": f"{version}.txt", "sha256": evidence.file_sha256("text")},
            "reading": {
                "name": f"{version}.reading.json",
                "sha256": evidence.file_sha256("reading"),
            },
        },
        "scrubwatch_version": scrubwatch_version,
        "settings_hash": settings_hash,
        "reading_settings": reading_settings,
        "prev_manifest_sha256": previous,
        "witness": witness,
    }
    if discovery is not None:
        body["discovery"] = discovery
    if timestamps is not None:
        # The previous version's timestamp tokens: a token removed later breaks the chain.
        body["timestamps"] = timestamps
    return (json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def _record_gz(record_bytes: bytes) -> bytes:
    # One gzip member per record, as WARC readers expect. Level 3 costs half of level 6
    # for a few percent more bytes (bench/README.md).
    return gzip.compress(record_bytes, compresslevel=3, mtime=0)


def build_warc(
    fetch: Fetch, version: str, watch_id: str, content: str | None = None
) -> tuple[bytes, list[dict[str, Any]]]:
    # Imported here: the process that only chains manifests and stores files (the engine's,
    # when workers build the evidence) never loads the WARC writer.
    from warcio.warcwriter import BufferWARCWriter

    date = rfc3339(fetch.fetched_at)
    target = fetch.final_url.split("#", 1)[0]
    # The page's own answer first (readers and `verify` take the first response as the
    # page), then each redirect that led to it, in order, then what scrubwatch noted.
    records = _exchange(target, date, fetch)
    for hop in fetch.hops:
        records += _exchange(hop.url.split("#", 1)[0], date, hop)
    if fetch.rendered is not None:
        records += _rendered(target, date, fetch.rendered, records[0])
    meta: dict[str, Any] = {
        "scrubwatch_watch": watch_id,
        "scrubwatch_version": version,
        "scrubwatch_content": content or version,
        "requested_url": fetch.url,
        "redirects": [
            {"url": h.url, "status": h.status, "location": h.location} for h in fetch.hops
        ],
    }
    if fetch.rendered is not None:
        meta["rendered"] = rendered_facts(fetch.rendered)
    metadata = BufferWARCWriter(gzip=False).create_warc_record(
        target,
        "metadata",
        payload=io.BytesIO(json.dumps(meta, ensure_ascii=False).encode()),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Concurrent-To": records[0].rec_headers["WARC-Record-ID"],
        },
    )
    records.append(metadata)
    out = io.BytesIO()
    for record in records:
        single = BufferWARCWriter(gzip=False)
        single.write_record(record)
        out.write(_record_gz(single.get_contents()))
    return out.getvalue(), [
        {
            "type": r.rec_type,
            "id": r.rec_headers.get_header("WARC-Record-ID"),
            "block_digest": r.rec_headers.get_header("WARC-Block-Digest"),
            "payload_digest": r.rec_headers.get_header("WARC-Payload-Digest"),
        }
        for r in records
    ]


def _exchange(target: str, date: str, answer: Fetch | Hop) -> list[Any]:
    """A response record and the request record that asked for it."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import BufferWARCWriter

    writer = BufferWARCWriter(gzip=False)
    host = urlsplit(target).netloc
    sent_host = [v for k, v in answer.request_headers if k.lower() == "host"]
    req_headers = [(k, v) for k, v in answer.request_headers if k.lower() != "host"]
    request = writer.create_warc_record(
        target,
        "request",
        payload=io.BytesIO(b""),
        warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(
            f"GET {answer.request_target} HTTP/1.1",
            [("Host", sent_host[0] if sent_host else host), *req_headers],
            is_http_request=True,
        ),
    )
    status = answer.status or 0
    headers = [(k, v) for k, v in answer.headers if k.lower() not in _HOP_HEADERS]
    response = writer.create_warc_record(
        target,
        "response",
        payload=io.BytesIO(answer.body),
        length=len(answer.body),
        warc_headers_dict={
            "WARC-Date": date,
            **({"WARC-IP-Address": answer.peer} if answer.peer else {}),
        },
        http_headers=StatusAndHeaders(
            f"{status} {answer.reason_phrase}".strip(), headers, protocol=answer.http_version
        ),
    )
    request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers["WARC-Record-ID"])
    return [response, request]


def _rendered(target: str, date: str, rendered: Rendered, response: Any) -> list[Any]:
    """The rendered DOM and the screenshot as resource records of the page's response."""
    from warcio.warcwriter import BufferWARCWriter

    writer = BufferWARCWriter(gzip=False)
    parts = [(DOM_PREFIX, rendered.dom, "text/html; charset=utf-8")]
    if rendered.screenshot:
        parts.append((SCREENSHOT_PREFIX, rendered.screenshot, "image/png"))
    return [
        writer.create_warc_record(
            prefix + target,
            "resource",
            payload=io.BytesIO(data),
            length=len(data),
            warc_content_type=mime,
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers["WARC-Record-ID"],
            },
        )
        for prefix, data, mime in parts
    ]


def rendered_facts(rendered: Rendered) -> dict[str, Any]:
    """What the manifest and the WARC's metadata say of a rendering."""
    return {
        "browser": rendered.browser,
        "url": rendered.url,
        "dom_sha256": sha256(rendered.dom),
        "screenshot_sha256": sha256(rendered.screenshot) if rendered.screenshot else None,
        "requests": rendered.requests,
        "wait_for_matched": rendered.wait_for_matched,
        "screenshot_cut": rendered.screenshot_cut,
        "refused": [{"method": m, "to": to, "why": why} for m, to, why in rendered.refused],
        # The document as fetched is the response record; the browser was handed it
        # decoded, and what it built from it (scripts run) is the DOM record.
        "note": "rendered in a headless browser from the response above",
    }


def build_evidence(
    fetch: Fetch, reading: Reading, version: str, watch_id: str, content: str | None = None
) -> Evidence:
    """``version`` names the capture; ``content`` is the content id it shows."""
    if reading.abridged:
        # Its lines and items were not read: as evidence it would say the page was empty.
        raise ValueError("evidence needs the page's whole reading, not an abridged one")
    warc_gz, records = build_warc(fetch, version, watch_id, content)
    text = reading.text + "\n" if reading.lines else ""
    text_sha256 = sha256(text.encode())
    raw_sha256 = sha256(fetch.body)
    reading_json = json.dumps(reading.to_json(), ensure_ascii=False).encode()
    facts = {
        "watch": watch_id,
        "content_version": content or version,
        "requested_url": fetch.url,
        "final_url": fetch.final_url,
        "redirects": [
            {"url": h.url, "status": h.status, "location": h.location} for h in fetch.hops
        ],
        "fetched_at": rfc3339(fetch.fetched_at),
        "ip": fetch.peer,
        # A check made through a proxy says so (its address, never its login): the peer
        # above is then the proxy's view, or none where the proxy resolved the name.
        "proxy": fetch.proxy,
        "status": fetch.status,
        "headers": [[k, v] for k, v in fetch.headers],
        "sha256": {
            "raw_body": raw_sha256,
            "decoded_body": raw_sha256 if fetch.content is fetch.body else sha256(fetch.content),
            "text": text_sha256,
        },
        "warc_records": records,
    }
    if fetch.rendered is not None:
        facts["rendered"] = rendered_facts(fetch.rendered)
    return Evidence(
        warc_gz=warc_gz,
        text=text,
        reading_json=reading_json,
        facts=facts,
        files_sha256={
            "warc": sha256(warc_gz),
            "text": text_sha256,
            "reading": sha256(reading_json),
        },
    )


def screenshot_of(warc_gz: bytes) -> bytes | None:
    """The screenshot a rendered version keeps (None for a page read as sent)."""
    from warcio.archiveiterator import ArchiveIterator

    for record in ArchiveIterator(io.BytesIO(warc_gz)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        if record.rec_type == "resource" and uri.startswith(SCREENSHOT_PREFIX):
            return bytes(record.content_stream().read())
    return None


def fetch_from_warc(warc_gz: bytes) -> Fetch | None:
    """The exchange a kept WARC holds, as a Fetch (its response and metadata records)."""
    from warcio.archiveiterator import ArchiveIterator

    from ..core.decode import decode_content

    fetch: Fetch | None = None
    requested = None
    made: dict[str, bytes] = {}
    rendering: dict[str, Any] = {}
    for record in ArchiveIterator(io.BytesIO(warc_gz)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        if record.rec_type == "resource" and uri.startswith((DOM_PREFIX, SCREENSHOT_PREFIX)):
            made[uri.split(":", 2)[1]] = record.content_stream().read()
            continue
        if record.rec_type == "response" and fetch is None:
            http = record.http_headers
            headers = list(http.headers) if http else []
            body = record.raw_stream.read()
            fetch = Fetch(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                final_url=record.rec_headers.get_header("WARC-Target-URI"),
                fetched_at=datetime.fromisoformat(
                    record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
                ),
                status=int(http.get_statuscode()) if http else None,
                headers=[(str(k), str(v)) for k, v in headers],
                body=body,
            )
        elif record.rec_type == "metadata":
            with contextlib.suppress(ValueError):
                noted = json.loads(record.content_stream().read())
                requested = noted.get("requested_url")
                rendering = noted.get("rendered") or {}
    if fetch is None:
        return None
    if "dom" in made:
        fetch.rendered = Rendered(
            dom=made["dom"],
            screenshot=made.get("fullPage", b""),
            url=str(rendering.get("url") or fetch.final_url),
            browser=str(rendering.get("browser") or ""),
        )
    # It was read within max_bytes when fetched; a kept body is not limited again.
    fetch.content = decode_content(fetch.body, fetch.header_map.get("content-encoding"), 1 << 40)
    if requested:
        fetch.url = requested
    return fetch
