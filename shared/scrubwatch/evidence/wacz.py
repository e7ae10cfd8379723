"""WACZ 1.1.1 (https://specs.webrecorder.net/wacz/1.1.1/): a version's WARCs in one zip that
ReplayWeb.page opens and ``wacz validate`` accepts.

Written with the standard library and warcio only: the ``wacz`` package would bring some fifty
packages into the Lambda layer, so it serves only the tests, as the validator. The index
follows what ``cdxj-indexer`` writes (``wacz create``'s indexer) line for line, offsets and
lengths as strings included, for the records it lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

WACZ_VERSION = "1.1.1"
# Metadata records are left out although cdxj-indexer lists them: ours share the page's URL
# and time, and a replayer could serve the metadata JSON in place of the page.
INDEXED = ("response", "revisit", "resource")
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
_WWW = re.compile(r"^www\d*\.")
_MIME_END = re.compile(r"[;\s]")
_NAME = re.compile(r"[-a-z0-9._]+")
# What surt's escapeOnce leaves as it is (besides letters, digits and "_.-~").
_SAFE = "!\"$&'()*+,-./:;<=>?@[\\]^_`{|}~"
_DEFAULT_PORT = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Page:
    url: str  # the URL the page was requested at (the WARC-Target-URI of its response record)
    ts: str  # RFC 3339 time of the capture, e.g. "2026-12-06T10:00:00Z"
    title: str  # a title for ReplayWeb.page's page list


def _unescape(part: str) -> bytes:
    # Decoded until stable (then encoded once): "%7E", "%257E" and "~" make the same key.
    raw = part.encode()
    while (decoded := unquote_to_bytes(raw)) != raw:
        raw = decoded
    return raw


def _normal_path(path: bytes) -> bytes:
    # surt's normalizePath: "." and ".." resolved, empty segments dropped but a final "/" kept.
    kept: list[bytes] = []
    for segment in path.split(b"/")[1:]:
        if segment == b"..":
            kept = kept[:-1] if kept else [b".."]
        elif segment != b".":
            kept.append(segment)
    return b"/" + b"".join(s + b"/" for s in kept[:-1] if s) + (kept[-1] if kept else b"")


def surt(url: str) -> str:
    """The key ``surt.surt`` gives an ordinary URL: no scheme, user or fragment; host labels
    reversed without ``www.``; default port dropped; path and query lower-cased, query sorted.
    Session ids (jsessionid=...) are kept, and numeric hosts are not rewritten as dotted IPs."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url  # as cdxj-indexer does when surt cannot parse the URL
    host = (parts.hostname or "").replace("..", ".").strip(".")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # surt, too, keeps a host IDNA refuses
            host = host.encode("idna").decode()
    raw = _normal_path(_unescape(parts.path)) if host else _unescape(parts.path)
    path = quote_from_bytes(raw, safe=_SAFE).lower()
    path = path[:-1] if len(path) > 1 and path.endswith("/") else path
    query = quote_from_bytes(_unescape(parts.query), safe=_SAFE).lower()
    if query:
        pairs = sorted(tuple(arg.split("=", 1)) for arg in query.split("&"))
        path = (path or "/") + "?" + "&".join("=".join(pair) for pair in pairs)
    if not host:
        return f"{parts.scheme}:{path}"
    labels = ",".join(reversed(_WWW.sub("", host, count=1).split(".")))
    if port is not None and port != _DEFAULT_PORT.get(parts.scheme):
        labels += f":{port}"
    return f"{labels}){path}"


def _index_lines(warc: Path) -> list[str]:
    """CDXJ lines of one WARC: ``<SURT> <14 digits> {json}``, each naming its record's gzip
    member by offset and length in ``archive/<name>``."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.timeutils import iso_date_to_timestamp

    lines = []
    with warc.open("rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            fields, http, kind = record.rec_headers, record.http_headers, record.rec_type
            url = fields.get_header("WARC-Target-URI")
            if kind not in INDEXED or not url:
                continue
            source = http if kind == "response" else fields
            mime = source.get_header("Content-Type") if source else None
            if kind == "revisit":
                mime = "warc/revisit"
            elif mime:
                mime = _MIME_END.split(mime, maxsplit=1)[0].strip()
            entry = {
                "url": url,
                "mime": mime,
                "status": http.get_statuscode() if http else None,
                "digest": fields.get_header("WARC-Payload-Digest"),
                # Asked after the headers: warcio reads to the record's end to know these.
                "length": str(records.get_record_length()),
                "offset": str(records.get_record_offset()),
                "filename": warc.name,
            }
            entry = {key: value for key, value in entry.items() if value is not None}
            stamp = iso_date_to_timestamp(fields.get_header("WARC-Date"))
            lines.append(f"{surt(url)} {stamp} {json.dumps(entry)}\n")
    return lines


def _pages_jsonl(pages: Sequence[Page]) -> bytes:
    lines, seen = [json.dumps(PAGES_HEADER)], set()
    for page in pages:
        # Named by what it is, so a capture keeps its id in every WACZ it is in.
        page_id = hashlib.sha256(f"{page.ts} {page.url}".encode()).hexdigest()[:32]
        if page_id in seen:
            raise ValueError(f"page listed twice: {page.url} at {page.ts}")
        seen.add(page_id)
        item = {"id": page_id, "url": page.url, "ts": page.ts, "title": page.title}
        lines.append(json.dumps(item, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _add(zf: zipfile.ZipFile, path: str, created: str, data: bytes | Path) -> dict[str, object]:
    """Put one file in the zip, returning its datapackage resource. A WARC is stored (it is
    gzipped already) and streamed, as it may be large; text is deflated."""
    # Fixed date (created, in UTC; a time without offset read as UTC), system and mode: the
    # same input gives the same bytes on any machine.
    when = datetime.fromisoformat(created)
    when = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
    info = zipfile.ZipInfo(path, when.timetuple()[:6])
    info.create_system, info.external_attr = 3, 0o644 << 16
    digest = hashlib.sha256()
    if isinstance(data, Path):
        info.file_size = data.stat().st_size  # tells zipfile up front whether zip64 is needed
        with data.open("rb") as src, zf.open(info, "w") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
        digest.update(data)
    name = path.rsplit("/", 1)[-1].lower()
    return {
        "name": name,
        "path": path,
        "hash": f"sha256:{digest.hexdigest()}",
        "bytes": info.file_size,
    }


def _contents(
    zf: zipfile.ZipFile, warcs: Sequence[Path], pages: Sequence[Page], created: str
) -> list[dict[str, object]]:
    """The WARCs, index and page list, returning their datapackage resources."""
    # Resource names are the lower-cased file names (as wacz create writes them), which the
    # datapackage schema limits to [-a-z0-9._/] and the validator needs unique.
    names = [warc.name.lower() for warc in warcs]
    if not warcs or len(set(names)) != len(names) or not all(map(_NAME.fullmatch, names)):
        raise ValueError(f"need WARCs named uniquely with only [-a-z0-9._]: {names}")
    lines = sorted(line for warc in warcs for line in _index_lines(warc))
    resources = [_add(zf, f"archive/{warc.name}", created, warc) for warc in warcs]
    resources.append(_add(zf, "indexes/index.cdx", created, "".join(lines).encode()))
    resources.append(_add(zf, "pages/pages.jsonl", created, _pages_jsonl(pages)))
    return resources


def write_wacz(
    out: Path,
    warcs: Sequence[Path],
    pages: Sequence[Page],
    *,
    title: str,
    description: str,
    created: str,
    software: str,
) -> None:
    """Write ``out``: the WARCs byte for byte, a CDXJ index, the page list and a datapackage
    with every file's SHA-256, then the datapackage's own digest. Whole or not at all: built
    beside ``out`` and renamed over it."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as zf:
            package = {
                "profile": "data-package",
                "resources": _contents(zf, warcs, pages, created),
                "title": title,
                "description": description,
                "created": created,
                "wacz_version": WACZ_VERSION,
                "software": software,
            }
            data = json.dumps(package, indent=2, ensure_ascii=False).encode()
            _add(zf, "datapackage.json", created, data)
            digest = {
                "path": "datapackage.json",
                "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
            }
            _add(zf, "datapackage-digest.json", created, json.dumps(digest, indent=2).encode())
        os.chmod(name, 0o644)
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
