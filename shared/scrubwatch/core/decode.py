"""Turning response bytes into text the way browsers do (WHATWG encoding sniffing, simplified).

Order: byte-order mark, the HTTP ``charset``, a ``<meta>`` charset in the first 1024 bytes,
then UTF-8 if the bytes are valid UTF-8, else windows-1252. Labels Python does not know are
skipped, and GBK/GB2312 are read as GB18030 (their superset, as browsers do).
"""

from __future__ import annotations

import codecs
import re
import zlib
from email.message import Message

_META = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG maps these labels to a superset; Python's codecs would decode them too strictly.
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "x-user-defined": "cp1252",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "tis-620": "cp874",
}


def normalise_label(label: str | None) -> str | None:
    """A charset label to a Python codec name, or None when it is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    # Python also registers codecs that are no text encoding (base64, rot13, undefined).
    if not getattr(info, "_is_text_encoding", True) or info.name == "undefined":
        return None
    return info.name


def content_type(headers: dict[str, str]) -> tuple[str, str | None]:
    """The media type (lower case) and charset parameter of a Content-Type header."""
    raw = headers.get("content-type", "")
    if not raw:
        return "", None
    msg = Message()
    msg["content-type"] = raw
    charset = msg.get_param("charset")
    return msg.get_content_type().lower() if "/" in raw else "", (
        str(charset) if isinstance(charset, str) else None
    )


def sniff_encoding(body: bytes, http_charset: str | None, html: bool) -> str:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if label := normalise_label(http_charset):
        return label
    meta = _META.search(body[:1024]) if html else None
    if meta and (label := normalise_label(meta.group(1).decode("ascii", "replace"))):
        # A <meta> claiming UTF-16 in bytes we could read as ASCII is wrong (as WHATWG says).
        return "utf-8" if label.startswith("utf-16") else label
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_text(body: bytes, http_charset: str | None, html: bool) -> tuple[str, str]:
    """Decoded text and the codec used; undecodable bytes become U+FFFD, never an error."""
    encoding = sniff_encoding(body, http_charset, html)
    if encoding == "utf-8" and body.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    try:
        text = body.decode(encoding, errors="replace").removeprefix("\ufeff")
    except (UnicodeError, LookupError):
        encoding = "utf-8"
        text = body.decode(encoding, errors="replace")
    return text.replace("\x00", "\ufffd"), encoding.removesuffix("-sig")


class BodyTooLarge(Exception):
    pass


def decode_content(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo gzip/deflate as sent; a body that inflates past ``limit`` raises BodyTooLarge.

    Unknown or broken encodings return the bytes as received, so a bad server never
    crashes a run (the raw bytes are still what the evidence keeps).
    """
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding in ("gzip", "x-gzip"):
        wbits = zlib.MAX_WBITS | 16
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS if raw[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        return raw
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        return raw
    if len(out) > limit:
        raise BodyTooLarge(f"body inflates past {limit} bytes")
    if not inflater.eof:
        return raw  # truncated: what we would read is not what the server meant
    return out
