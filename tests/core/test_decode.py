"""Bytes to text as browsers do, and content-encoding undone within a limit."""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrubwatch.core.decode import (
    BodyTooLarge,
    content_type,
    decode_content,
    decode_text,
    normalise_label,
    sniff_encoding,
)

GBK_META = b'<html><head><meta charset="gbk"></head><body>'
CN = "新疆研发中心"


# --- sniffing order ---------------------------------------------------------------------


def test_bom_beats_http_charset() -> None:
    assert sniff_encoding(codecs.BOM_UTF8 + b"<p>x</p>", "gbk", html=True) == "utf-8"
    assert sniff_encoding(codecs.BOM_UTF16_LE + b"<\x00", "gbk", html=True) == "utf-16-le"
    assert sniff_encoding(codecs.BOM_UTF16_BE + b"\x00<", "iso-8859-1", html=True) == "utf-16-be"


def test_bom_beats_meta() -> None:
    assert sniff_encoding(codecs.BOM_UTF8 + GBK_META, None, html=True) == "utf-8"


def test_http_charset_beats_meta() -> None:
    assert sniff_encoding(GBK_META, "utf-8", html=True) == "utf-8"
    assert sniff_encoding(b'<meta charset="utf-8">', "gbk", html=True) == "gb18030"


def test_meta_beats_utf8_validity() -> None:
    # Pure ASCII is valid UTF-8, but the meta says GBK.
    assert sniff_encoding(GBK_META, None, html=True) == "gb18030"


def test_meta_http_equiv_content_type() -> None:
    body = b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    assert sniff_encoding(body, None, html=True) == "gb18030"


def test_meta_only_in_the_first_1024_bytes() -> None:
    body = b"<html>" + b" " * 1100 + b'<meta charset="gbk">'
    assert sniff_encoding(body, None, html=True) == "utf-8"


def test_meta_is_ignored_for_non_html() -> None:
    assert sniff_encoding(GBK_META, None, html=False) == "utf-8"


def test_valid_utf8_then_cp1252() -> None:
    assert sniff_encoding("Café".encode(), None, html=True) == "utf-8"
    assert sniff_encoding(b"Caf\xe9", None, html=True) == "cp1252"
    assert sniff_encoding(b"", None, html=True) == "utf-8"


@pytest.mark.parametrize("label", ["klingon", "", "  ", "x-made-up"])
def test_unknown_http_label_is_skipped(label: str) -> None:
    assert sniff_encoding(GBK_META, label, html=True) == "gb18030"
    assert sniff_encoding(b"Caf\xe9", label, html=False) == "cp1252"


def test_unknown_meta_label_is_skipped() -> None:
    assert sniff_encoding(b'<meta charset="klingon">Caf\xc3\xa9', None, html=True) == "utf-8"


def test_meta_claiming_utf16_on_ascii_bytes_is_utf8() -> None:
    # WHATWG: a <meta> that says UTF-16 is read as UTF-8 (the bytes are ASCII-compatible).
    assert sniff_encoding(b'<meta charset="utf-16">', None, html=True) == "utf-8"


@pytest.mark.parametrize(("label", "codec"), [("utf-16le", "utf-16-le"), ("UTF-16BE", "utf-16-be")])
def test_http_charset_utf16_without_bom_is_honoured(label: str, codec: str) -> None:
    # WHATWG: only a <meta> UTF-16 label becomes UTF-8; the transport layer's label is used
    # as given, so a page served as UTF-16LE without a BOM decodes as UTF-16LE.
    body = f"<p>{CN}</p>".encode(codec)
    assert sniff_encoding(body, label, html=True) == codec
    text, used = decode_text(body, label, html=True)
    assert text == f"<p>{CN}</p>"
    assert used == codec


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["gbk", "GBK", "gb2312", "GB2312", "x-gbk", "cp936", "csgb2312", " 'gbk' "]
)
def test_gbk_family_reads_as_gb18030(label: str) -> None:
    assert normalise_label(label) == "gb18030"


@pytest.mark.parametrize(
    "label", ["latin1", "latin-1", "iso-8859-1", "ISO-8859-1", "us-ascii", "ascii"]
)
def test_latin1_family_reads_as_cp1252(label: str) -> None:
    assert normalise_label(label) == "cp1252"


@pytest.mark.parametrize(
    "label", [None, "", "klingon", "utf-9", pytest.param("utf\x008", id="nul-inside")]
)
def test_unknown_labels_are_none(label: str | None) -> None:
    assert normalise_label(label) is None


def test_gb18030_decodes_beyond_gb2312() -> None:
    # 镕 is in GBK but not GB2312: a strict gb2312 codec would turn it into U+FFFD.
    body = "朱镕基".encode("gbk")
    text, used = decode_text(body, "gb2312", html=False)
    assert text == "朱镕基"
    assert used == "gb18030"


def test_latin1_label_decodes_windows_1252_punctuation() -> None:
    text, used = decode_text(b"\x93quoted\x94 \x80", "iso-8859-1", html=False)
    assert text == "\u201cquoted\u201d \u20ac"
    assert used == "cp1252"


# --- decode_text ----------------------------------------------------------------------------


def test_decode_text_strips_the_bom() -> None:
    assert decode_text(codecs.BOM_UTF8 + b"hi", None, html=True) == ("hi", "utf-8")
    assert decode_text(codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"), None, html=True) == (
        "hi",
        "utf-16-le",
    )
    assert decode_text(codecs.BOM_UTF16_BE + "hi".encode("utf-16-be"), None, html=True) == (
        "hi",
        "utf-16-be",
    )


def test_decode_text_gbk_via_meta() -> None:
    body = b'<meta charset="gb2312"><p>' + CN.encode("gbk") + b"</p>"
    text, used = decode_text(body, None, html=True)
    assert CN in text
    assert used == "gb18030"


def test_decode_text_replaces_nul_and_bad_bytes() -> None:
    text, _ = decode_text(b"a\x00b", None, html=False)
    assert text == "a\ufffdb"
    text, used = decode_text(b"ok \xff\xc3", "utf-8", html=True)
    assert text == "ok \ufffd\ufffd"
    assert used == "utf-8"


_LABELS = st.text(st.characters(blacklist_characters="\x00"), max_size=20)


@settings(deadline=None)
@given(st.binary(max_size=2000), st.one_of(st.none(), _LABELS), st.booleans())
def test_decode_text_never_raises(body: bytes, label: str | None, html: bool) -> None:
    text, used = decode_text(body, label, html)
    assert isinstance(text, str)
    assert "\x00" not in text
    assert codecs.lookup(used)


# --- content-type --------------------------------------------------------------------------


def test_content_type_parsing() -> None:
    assert content_type({"content-type": 'text/HTML; Charset="GBK"'}) == ("text/html", "GBK")
    assert content_type({"content-type": "application/pdf"}) == ("application/pdf", None)
    assert content_type({}) == ("", None)
    assert content_type({"content-type": "garbage"}) == ("", None)


# --- content-encoding -----------------------------------------------------------------------

DATA = b"<html><body>" + b"<p>Job listing</p>" * 200 + b"</body></html>"


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "GZIP", " gzip "])
def test_gzip(coding: str) -> None:
    assert decode_content(gzip.compress(DATA), coding, 1 << 20) == DATA


def test_deflate_zlib_wrapped() -> None:
    assert decode_content(zlib.compress(DATA), "deflate", 1 << 20) == DATA


def test_deflate_raw() -> None:
    assert decode_content(raw_deflate(DATA), "deflate", 1 << 20) == DATA


@pytest.mark.parametrize("coding", [None, "", "identity"])
def test_no_encoding_returns_bytes_as_is(coding: str | None) -> None:
    assert decode_content(DATA, coding, 10) == DATA


@pytest.mark.parametrize(
    ("body", "coding"),
    [
        pytest.param(b"not gzip at all", "gzip", id="gzip-garbage"),
        pytest.param(b"not deflate either", "deflate", id="deflate-garbage"),
        pytest.param(b"\x78\x9cbroken", "deflate", id="deflate-corrupt-after-header"),
        pytest.param(b"\x1f\x8b\x08broken", "gzip", id="gzip-corrupt-after-magic"),
        pytest.param(gzip.compress(DATA, mtime=0)[:60], "gzip", id="gzip-truncated"),
        pytest.param(zlib.compress(DATA)[:60], "deflate", id="deflate-truncated"),
        pytest.param(b"anything", "br", id="br"),
        pytest.param(b"anything", "zstd", id="zstd"),
        pytest.param(b"anything", "compress", id="compress"),
        pytest.param(b"anything", "gzip, br", id="stacked"),
    ],
)
def test_unknown_or_broken_encodings_return_the_raw_bytes(body: bytes, coding: str) -> None:
    # Broken includes truncated and corrupt streams: never a silently partial inflation.
    assert decode_content(body, coding, 1 << 20) == body


@pytest.mark.parametrize(
    "compress", [gzip.compress, zlib.compress, raw_deflate], ids=["gzip", "zlib", "raw"]
)
def test_inflating_past_the_limit_raises(compress: Callable[[bytes], bytes]) -> None:
    bomb = compress(b"\x00" * 5_000_000)
    coding = "gzip" if compress is gzip.compress else "deflate"
    assert len(bomb) < 50_000
    with pytest.raises(BodyTooLarge):
        decode_content(bomb, coding, 100_000)


def test_inflating_to_exactly_the_limit_is_fine() -> None:
    data = b"a" * 1000
    assert decode_content(gzip.compress(data), "gzip", 1000) == data
    with pytest.raises(BodyTooLarge):
        decode_content(gzip.compress(data), "gzip", 999)


@settings(deadline=None)
@given(st.binary(max_size=500), st.sampled_from(["gzip", "deflate", "x-gzip", "br", ""]))
def test_decode_content_never_raises_on_small_garbage(body: bytes, coding: str) -> None:
    out = decode_content(body, coding, 1 << 20)
    assert isinstance(out, bytes)


@settings(deadline=None)
@given(st.binary(max_size=2000))
def test_gzip_round_trip(data: bytes) -> None:
    assert decode_content(gzip.compress(data), "gzip", 1 << 20) == data
    assert decode_content(zlib.compress(data), "deflate", 1 << 20) == data
    assert decode_content(raw_deflate(data), "deflate", 1 << 20) == data
