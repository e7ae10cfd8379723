"""One object per version (S3): the WARC, then the text, reading and manifest as records.
The object is itself a valid WARC, and unpacks into exactly the files its manifest names."""

from __future__ import annotations

import io

from scrubwatch.evidence.packed import PART_HEADER, pack, unpack
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import BufferWARCWriter


def _warc() -> bytes:
    writer = BufferWARCWriter(gzip=True)
    record = writer.create_warc_record(
        "https://jobs.example/ad/1002",
        "resource",
        payload=io.BytesIO(b"<h1>Firmware Engineer, Urumqi</h1>"),
        warc_content_type="text/html",
    )
    writer.write_record(record)
    return writer.get_contents()


def test_a_packed_version_unpacks_byte_for_byte() -> None:
    warc = _warc()
    text = "Firmware Engineer, Urumqi 乌鲁木齐\n".encode()
    packed = pack(warc, text, b'{"lines": []}', b'{"version": "v"}\n', "ad", "v")
    assert unpack(packed) == {
        "warc": warc,
        "text": text,
        "reading": b'{"lines": []}',
        "manifest": b'{"version": "v"}\n',
    }


def test_a_packed_version_is_a_valid_warc_with_its_parts_last() -> None:
    packed = pack(_warc(), b"text", b"{}", b"{}", "ad", "v")
    records = list(ArchiveIterator(io.BytesIO(packed), check_digests="raise"))
    parts = [r.rec_headers.get_header(PART_HEADER) for r in records]
    assert parts == [None, "text", "reading", "manifest"]
    assert all(r.rec_type == "resource" for r in records)


def test_what_is_not_packed_does_not_unpack() -> None:
    warc = _warc()
    assert unpack(warc) is None  # a WARC kept before versions were packed
    assert unpack(b"not a warc at all") is None
    assert unpack(b"") is None
    packed = pack(warc, b"text", b"{}", b"{}", "ad", "v")
    assert unpack(packed[: len(warc) + 40]) is None  # cut short: its parts are not all there


def test_a_record_slipped_into_a_packed_version_unpacks_as_nothing() -> None:
    """WARC tools would show a record added after the manifest (or between the parts),
    which no hash covers: such an object is not a packed version, so verify fails it."""
    warc = _warc()
    packed = pack(warc, b"text", b"{}", b"{}", "ad", "v")
    assert unpack(packed + _warc()) is None
    assert unpack(packed + pack(b"", b"x", b"{}", b"{}", "ad", "v")) is None  # parts again
