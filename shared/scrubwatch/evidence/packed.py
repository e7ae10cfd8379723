"""One object per version: the version's WARC with its text, reading and manifest appended
as three more WARC records (pure; S3 keeps evidence this way, one PUT instead of four).

The object starts with the WARC exactly as the manifest hashes it, byte for byte; each
part follows as its own gzip member, a ``resource`` record whose ``WARC-Scrubwatch-Part``
header names it and whose payload is that file's bytes. So the object is itself a valid
WARC that any web-archive tool reads (the manifest is its last record), and ``unpack``
gives back the four files the manifest names, which then verify exactly as files kept in
a folder do. The manifest cannot hash the object it is part of; it hashes the parts.
"""

from __future__ import annotations

import gzip
import io

PART_HEADER = "WARC-Scrubwatch-Part"
# Part -> (file suffix, content type), in the order they are appended.
PARTS = {
    "text": (".txt", "text/plain; charset=utf-8"),
    "reading": (".reading.json", "application/json"),
    "manifest": (".manifest.json", "application/json"),
}


def pack(
    warc_gz: bytes, text: bytes, reading: bytes, manifest: bytes, watch_id: str, version: str
) -> bytes:
    from warcio.warcwriter import BufferWARCWriter

    out = io.BytesIO(warc_gz)
    out.seek(0, io.SEEK_END)
    for part, data in (("text", text), ("reading", reading), ("manifest", manifest)):
        suffix, kind = PARTS[part]
        writer = BufferWARCWriter(gzip=False)
        record = writer.create_warc_record(
            f"urn:scrubwatch:{watch_id}/{version}{suffix}",
            "resource",
            payload=io.BytesIO(data),
            warc_content_type=kind,
            warc_headers_dict={PART_HEADER: part},
        )
        writer.write_record(record)
        out.write(gzip.compress(writer.get_contents(), compresslevel=3, mtime=0))
    return out.getvalue()


def unpack(data: bytes) -> dict[str, bytes] | None:
    """``warc``, ``text``, ``reading`` and ``manifest`` of a packed object; None for an
    object that is only a WARC (evidence kept before versions were packed) or is damaged."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    parts: dict[str, bytes] = {}
    start: int | None = None
    order = list(PARTS)
    try:
        records = ArchiveIterator(io.BytesIO(data), check_digests=False)
        for record in records:
            part = record.rec_headers.get_header(PART_HEADER)
            if part is None and start is None:
                continue  # the WARC's own records
            # The parts, once and in order, and nothing after the manifest: a record slipped
            # in anywhere else would be read by WARC tools but checked by nothing.
            if len(parts) == len(order) or part != order[len(parts)]:
                return None
            parts[part] = record.content_stream().read()
            if start is None:
                start = records.get_record_offset()
    except (ArchiveLoadFailed, OSError, ValueError, EOFError):
        return None
    if start is None or len(parts) != len(order):
        return None
    return {"warc": data[:start], **parts}
