"""Reading a page: region, text lines, refs, items, keywords, charsets, odd bodies."""

from __future__ import annotations

import codecs
import hashlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrubwatch.core.reader import Reading, ReadSpec, normalise, read_page

URL = "https://jobs.example.com/campus/recruit.html"
HTML = {"content-type": "text/html; charset=utf-8"}


def read(
    body: str | bytes,
    spec: ReadSpec | None = None,
    headers: dict[str, str] | None = None,
    url: str = URL,
) -> Reading:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return read_page(raw, HTML if headers is None else headers, url, spec or ReadSpec())


def page(inner: str, title: str = "Careers") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{inner}</body></html>"


# --- region, exclude, dropped elements ---------------------------------------------------


def test_select_takes_only_the_region() -> None:
    r = read(
        page("<p>Outside</p><div id='rd-map'><p>Beijing centre</p></div><p>Footer</p>"),
        ReadSpec(select="#rd-map"),
    )
    assert r.kind == "html"
    assert r.region_found is True
    assert r.lines == ("Beijing centre",)


def test_select_with_several_matches_reads_them_all_in_order() -> None:
    r = read(page("<p class=a>One</p><p>skip</p><p class=a>Two</p>"), ReadSpec(select=".a"))
    assert r.lines == ("One", "Two")


def test_without_select_the_whole_body_is_read() -> None:
    r = read(page("<p>One</p><p>Two</p>"))
    assert r.lines == ("One", "Two")
    assert r.title == "Careers"


def test_exclude_removes_before_reading() -> None:
    r = read(
        page("<nav>Home | Jobs</nav><main><p>Job A</p><aside class=ad>Buy now</aside></main>"),
        ReadSpec(exclude=("nav", ".ad")),
    )
    assert r.lines == ("Job A",)


def test_exclude_inside_select_region() -> None:
    r = read(
        page("<div id=m><p>Keep</p><p class=ts>Updated today</p></div>"),
        ReadSpec(select="#m", exclude=(".ts",)),
    )
    assert r.lines == ("Keep",)


@pytest.mark.parametrize("tag", ["script", "style", "template", "noscript"])
def test_script_style_template_noscript_are_dropped(tag: str) -> None:
    r = read(page(f"<p>Visible</p><{tag}>hidden {tag} text</{tag}><p>Also</p>"))
    assert r.lines == ("Visible", "Also")
    assert "hidden" not in r.text


def test_script_in_head_and_inline_handlers_do_not_leak() -> None:
    r = read(
        "<html><head><script>var jobs = 3;</script><style>p{color:red}</style></head>"
        "<body><p onclick='x()'>Text</p></body></html>"
    )
    assert r.lines == ("Text",)


# --- lines ------------------------------------------------------------------------------


def test_block_elements_are_separate_lines_inline_stay_together() -> None:
    r = read(
        page(
            "<h1>Open positions</h1>"
            "<p>Join <b>our</b> team in <a href='/sh'>Shanghai</a> <i>now</i>.</p>"
            "<ul><li>Engineer</li><li>Analyst</li></ul>"
            "<div>Contact<br>HR office</div>"
            "<table><tr><td>Cell 1</td><td>Cell 2</td></tr></table>"
        )
    )
    assert r.lines == (
        "Open positions",
        "Join our team in Shanghai now.",
        "Engineer",
        "Analyst",
        "Contact",
        "HR office",
        "Cell 1",
        "Cell 2",
    )
    assert r.h1 == "Open positions"


@pytest.mark.parametrize(
    ("inner", "lines"),
    [
        ("<h2>Title</h2>Text after", ("Title", "Text after")),
        ("<p>Para</p>Tail", ("Para", "Tail")),
        ("<ul><li>One</li><li>Two</li></ul>After the list", ("One", "Two", "After the list")),
        ("Before<div>Block</div>After", ("Before", "Block", "After")),
    ],
)
def test_text_after_a_closed_block_starts_a_new_line(inner: str, lines: tuple[str, ...]) -> None:
    # As a browser renders it: a block ends its line, so following text does not merge
    # into the block's last word.
    assert read(page(inner)).lines == lines


def test_upper_case_block_tags_break_lines_too() -> None:
    r = read(page("<DIV>One</DIV>Two<P>Three</P><UL><LI>Four</LI></UL>Five"))
    assert r.lines == ("One", "Two", "Three", "Four", "Five")


def test_pre_keeps_line_breaks_and_others_do_not() -> None:
    r = read(page("<p>wrapped\nsource</p><pre>col 1\ncol 2</pre><p>after</p>"))
    assert r.lines == ("wrapped source", "col 1", "col 2", "after")


def test_whitespace_is_collapsed_and_blank_lines_dropped() -> None:
    r = read(page("<p>  Many   spaces\there  </p><p>   </p><p>\u00a0</p><p>end</p>"))
    assert r.lines == ("Many spaces here", "end")


WRAPPED = "<p>We are hiring engineers for our research\n    centre in Urumqi.</p>"
REWRAPPED = "<p>We are hiring engineers\nfor our research centre\nin Urumqi.</p>"


def test_newlines_in_html_source_are_spaces_not_line_breaks() -> None:
    # Outside <pre>, a browser renders a hard-wrapped source paragraph as one run of text.
    r = read(page(WRAPPED))
    assert r.lines == ("We are hiring engineers for our research centre in Urumqi.",)


def test_rewrapping_the_html_source_is_not_a_change() -> None:
    assert read(page(WRAPPED)).fingerprint == read(page(REWRAPPED)).fingerprint


def test_keyword_spanning_a_source_line_break_matches() -> None:
    r = read(page(WRAPPED), ReadSpec(keywords=("research centre",)))
    assert r.keywords == ("research centre",)


def test_pre_keeps_its_line_breaks() -> None:
    r = read(page("<pre>line one\nline two</pre>"))
    assert r.lines == ("line one", "line two")


# --- ignore -------------------------------------------------------------------------------


def test_ignore_patterns_are_removed_before_comparing() -> None:
    spec = ReadSpec(ignore=(r"Updated \d+ min ago",))
    a = read(page("<p>Job A</p><p>Updated 5 min ago</p>"), spec)
    b = read(page("<p>Job A</p><p>Updated 47 min ago</p>"), spec)
    assert a.lines == ("Job A",)
    assert a.fingerprint == b.fingerprint
    # Without the pattern, they differ.
    assert (
        read(page("<p>Job A</p><p>Updated 5 min ago</p>")).fingerprint
        != read(page("<p>Job A</p><p>Updated 47 min ago</p>")).fingerprint
    )


def test_ignore_inside_a_line_leaves_the_rest() -> None:
    r = read(
        page("<p>Job A (Updated 5 min ago) Shanghai</p>"), ReadSpec(ignore=(r"\(Updated.*?\)",))
    )
    assert r.lines == ("Job A Shanghai",)


def test_ignore_applies_to_items_too() -> None:
    spec = ReadSpec(items="li", ignore=(r"\d+ views",))
    a = read(page("<ul><li>Engineer 12 views</li></ul>"), spec)
    b = read(page("<ul><li>Engineer 99 views</li></ul>"), spec)
    assert a.items == ("Engineer",)
    assert a.fingerprint == b.fingerprint


# --- refs: links and embedded content ----------------------------------------------------

EMBEDS = [
    ("iframe", "<iframe src='{src}'></iframe>"),
    ("img", "<img src='{src}' alt=''>"),
    ("embed", "<embed src='{src}'>"),
    ("object", "<object data='{src}'></object>"),
    ("video", "<video src='{src}'></video>"),
    ("audio", "<audio src='{src}'></audio>"),
    ("source", "<video><source src='{src}'></video>"),
]


@pytest.mark.parametrize(("kind", "markup"), EMBEDS, ids=[k for k, _ in EMBEDS])
def test_removing_embedded_content_changes_the_fingerprint(kind: str, markup: str) -> None:
    spec = ReadSpec(select="#rd-map")
    embed = markup.format(src="/maps/embed?centre=urumqi")
    with_embed = read(page(f"<div id=rd-map><p>R&amp;D centres</p>{embed}</div>"), spec)
    without = read(page("<div id=rd-map><p>R&amp;D centres</p></div>"), spec)
    assert with_embed.lines == without.lines == ("R&D centres",)
    assert with_embed.fingerprint != without.fingerprint
    assert with_embed.refs == (f"{kind}: https://jobs.example.com/maps/embed?centre=urumqi",)
    assert without.refs == ()


def test_refs_resolve_relative_urls_against_the_page_url() -> None:
    r = read(
        page(
            "<a href='apply.html'>Apply</a>"
            "<a href='../about/'>About</a>"
            "<a href='//cdn.example.net/x.pdf'>PDF</a>"
            "<iframe src='https://maps.example.net/embed?q=1'></iframe>"
        )
    )
    assert r.refs == (
        "link: https://jobs.example.com/campus/apply.html",
        "link: https://jobs.example.com/about/",
        "link: https://cdn.example.net/x.pdf",
        "iframe: https://maps.example.net/embed?q=1",
    )


@pytest.mark.parametrize(
    ("page_url", "expected"),
    [
        ("https://jobs.example.com", "https://jobs.example.com/apply"),
        ("https://jobs.example.com:8443/a/b", "https://jobs.example.com:8443/apply"),
        ("https://jobs.example.com?next=/campus/list", "https://jobs.example.com/apply"),
        ("https://jobs.example.com#/job/1002", "https://jobs.example.com/apply"),
        ("https://jobs.example.com/?next=/campus/list", "https://jobs.example.com/apply"),
    ],
)
def test_root_relative_refs_resolve_to_the_site_root(page_url: str, expected: str) -> None:
    r = read(page("<a href='/apply'>Apply</a>"), url=page_url)
    assert r.refs == (f"link: {expected}",)


def test_absolute_refs_are_kept_and_relative_ones_joined() -> None:
    r = read(
        page("<a href='http://other.example/x'>A</a><a href='?page=2'>B</a>"),
        url="https://jobs.example.com/list/index.html?page=1",
    )
    assert r.refs == (
        "link: http://other.example/x",
        "link: https://jobs.example.com/list/index.html?page=2",
    )


def test_changing_a_link_target_changes_the_fingerprint_with_equal_text() -> None:
    a = read(page("<p><a href='/jobs/1002.html'>Apply</a></p>"))
    b = read(page("<p><a href='/jobs/1003.html'>Apply</a></p>"))
    assert a.lines == b.lines
    assert a.fingerprint != b.fingerprint
    assert a.refs == ("link: https://jobs.example.com/jobs/1002.html",)


def test_refs_outside_the_region_are_not_counted() -> None:
    spec = ReadSpec(select="#m")
    a = read(page("<div id=m><p>x</p></div><img src='/a.png'>"), spec)
    b = read(page("<div id=m><p>x</p></div><img src='/b.png'>"), spec)
    assert a.refs == ()
    assert a.fingerprint == b.fingerprint


def test_fragment_javascript_and_data_refs_are_ignored() -> None:
    r = read(
        page(
            "<a href='#top'>Top</a><a href='javascript:void(0)'>JS</a>"
            "<img src='data:image/png;base64,AAAA'><a href=''>empty</a>"
        )
    )
    assert r.refs == ()


# --- items --------------------------------------------------------------------------------


def test_items_are_keyed_by_normalised_text() -> None:
    spec = ReadSpec(items="li.job")
    a = read(
        page("<ul><li class=job>  Caf\u00e9   <b>manager</b>\n</li><li class=job>Cook</li></ul>"),
        spec,
    )
    b = read(page("<ul><li class=job>Cafe\u0301 manager</li><li class=job>Cook</li></ul>"), spec)
    assert a.items == ("Café manager", "Cook")
    assert b.items == a.items
    assert a.fingerprint == b.fingerprint


def test_items_with_block_children_are_one_line() -> None:
    r = read(page("<div class=job><h3>Engineer</h3><p>Shanghai</p></div>"), ReadSpec(items=".job"))
    assert r.items == ("Engineer Shanghai",)


def test_items_none_without_items_spec_and_empty_when_nothing_matches() -> None:
    assert read(page("<ul><li>A</li></ul>")).items is None
    assert read(page("<p>no list</p>"), ReadSpec(items="li.job")).items == ()


def test_empty_items_are_skipped() -> None:
    r = read(page("<ul><li class=job>A</li><li class=job>  </li></ul>"), ReadSpec(items="li.job"))
    assert r.items == ("A",)


def test_items_only_inside_the_region() -> None:
    r = read(
        page("<ul id=a><li>In</li></ul><ul id=b><li>Out</li></ul>"),
        ReadSpec(select="#a", items="li"),
    )
    assert r.items == ("In",)


def test_removing_an_item_changes_the_fingerprint() -> None:
    spec = ReadSpec(items="li")
    a = read(page("<ul><li>A</li><li>B</li></ul>"), spec)
    b = read(page("<ul><li>A</li></ul>"), spec)
    assert a.fingerprint != b.fingerprint


# --- keywords -----------------------------------------------------------------------------


def test_keywords_are_matched_case_insensitively() -> None:
    r = read(page("<p>Research centre in XINJIANG</p>"), ReadSpec(keywords=("Xinjiang", "Tibet")))
    assert r.keywords == ("Xinjiang",)


def test_decomposed_keyword_matches_composed_text() -> None:
    decomposed = "Re\u0301gion"
    assert unicodedata.normalize("NFC", decomposed) == "Région"
    r = read(page("<p>Centre de la Région</p>"), ReadSpec(keywords=(decomposed,)))
    assert r.keywords == (decomposed,)


def test_composed_keyword_matches_decomposed_text() -> None:
    r = read(page("<p>Centre de la Re\u0301gion</p>"), ReadSpec(keywords=("région",)))
    assert r.keywords == ("région",)


def test_keyword_split_by_inline_markup_still_matches() -> None:
    r = read(page("<p><b>Xin</b>jiang office</p>"), ReadSpec(keywords=("xinjiang",)))
    assert r.keywords == ("xinjiang",)


def test_keywords_only_in_the_region_after_exclude_and_ignore() -> None:
    spec = ReadSpec(
        select="#m", exclude=(".note",), ignore=("Tibet",), keywords=("Xinjiang", "Lhasa", "Tibet")
    )
    r = read(
        page("<p>Xinjiang</p><div id=m><p class=note>Lhasa</p><p>Tibet office</p></div>"), spec
    )
    assert r.keywords == ()


def test_keyword_with_extra_whitespace_matches_normalised_text() -> None:
    r = read(page("<p>R&amp;D   centre\n in Urumqi</p>"), ReadSpec(keywords=("r&d  centre",)))
    assert r.keywords == ("r&d  centre",)


# --- region found or not ----------------------------------------------------------------


def test_region_not_found_when_select_matches_nothing() -> None:
    r = read(page("<p>Still here</p>"), ReadSpec(select="#rd-map"))
    assert r.region_found is False
    assert r.lines == ()
    assert r.refs == ()
    # The page itself is still there: its text is kept for soft-404 comparison.
    assert r.page_text == "Still here"


def test_empty_region_and_missing_region_have_different_fingerprints() -> None:
    spec = ReadSpec(select="#rd-map")
    empty = read(page("<div id=rd-map></div><p>x</p>"), spec)
    missing = read(page("<p>x</p>"), spec)
    assert empty.region_found and not missing.region_found
    assert empty.lines == missing.lines == ()
    assert empty.fingerprint != missing.fingerprint


# --- charsets ---------------------------------------------------------------------------

GBK_TEXT = "新疆研发中心招聘"


def gbk_page(meta: str = "") -> bytes:
    return (
        f"<html><head>{meta}<title>招聘</title></head><body><p>{GBK_TEXT}</p></body></html>"
    ).encode("gbk")


@pytest.mark.parametrize("label", ["gbk", "GBK", "gb2312", "GB2312", "gb18030", '"gbk"'])
def test_gbk_page_via_http_charset(label: str) -> None:
    r = read(gbk_page(), headers={"content-type": f"text/html; charset={label}"})
    assert r.lines == (GBK_TEXT,)
    assert r.title == "招聘"
    assert r.encoding == "gb18030"


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="gb2312">',
        "<meta charset=gbk>",
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
    ],
)
def test_gbk_page_via_meta_charset(meta: str) -> None:
    r = read(gbk_page(meta), headers={"content-type": "text/html"})
    assert r.lines == (GBK_TEXT,)
    assert r.encoding == "gb18030"


def test_gbk_page_via_meta_without_content_type() -> None:
    r = read(gbk_page('<meta charset="gb2312">'), headers={})
    assert r.kind == "html"
    assert r.lines == (GBK_TEXT,)


def test_gbk_keyword_matches_after_decoding() -> None:
    r = read(
        gbk_page(),
        spec=ReadSpec(keywords=("新疆",)),
        headers={"content-type": "text/html; charset=gbk"},
    )
    assert r.keywords == ("新疆",)


def test_utf8_bom_beats_a_wrong_http_charset() -> None:
    body = codecs.BOM_UTF8 + page(f"<p>{GBK_TEXT}</p>").encode("utf-8")
    r = read(body, headers={"content-type": "text/html; charset=gbk"})
    assert r.lines == (GBK_TEXT,)
    assert r.encoding == "utf-8"


@pytest.mark.parametrize(
    ("bom", "codec"), [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_utf16_page_via_bom(bom: bytes, codec: str) -> None:
    body = bom + page(f"<p>{GBK_TEXT}</p>").encode(codec)
    r = read(body, headers={"content-type": "text/html"})
    assert r.lines == (GBK_TEXT,)
    assert r.encoding == codec


def test_same_text_in_gbk_and_utf8_has_the_same_fingerprint() -> None:
    inner = f"<p>{GBK_TEXT}</p>"
    gbk = read(page(inner).encode("gbk"), headers={"content-type": "text/html; charset=gbk"})
    utf8 = read(page(inner))
    assert gbk.fingerprint == utf8.fingerprint


@pytest.mark.parametrize("label", ["klingon", "x-unknown-42", "", "utf-9", "'"])
def test_unknown_http_charset_falls_back(label: str) -> None:
    r = read(
        page("<p>Café</p>").encode("utf-8"), headers={"content-type": f"text/html; charset={label}"}
    )
    assert r.lines == ("Café",)
    assert r.encoding == "utf-8"


def test_unknown_meta_charset_falls_back_to_cp1252_for_non_utf8() -> None:
    body = b"<html><head><meta charset='klingon'></head><body><p>Caf\xe9</p></body></html>"
    r = read(body, headers={"content-type": "text/html"})
    assert r.lines == ("Café",)
    assert r.encoding == "cp1252"


# --- odd bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"content-type": "text/html"}, {"content-type": "text/plain"}]
)
def test_empty_body(headers: dict[str, str]) -> None:
    r = read(b"", headers=headers)
    assert r.lines == ()
    assert r.region_found is True


def test_nul_bytes_in_html() -> None:
    r = read(
        b"<html><body><p>a\x00b</p><p>c</p></body></html>", headers={"content-type": "text/html"}
    )
    assert len(r.lines) == 2
    assert "\x00" not in r.text
    assert r.lines[1] == "c"


def test_malformed_utf8_declared_as_utf8() -> None:
    r = read(b"<html><body><p>ok \xff\xfe \xc3</p></body></html>")
    assert r.lines[0].startswith("ok")
    assert "\ufffd" in r.lines[0]


CONTENT_TYPES = [
    "",
    "text/html",
    "text/html; charset=utf-8",
    "text/html; charset=gbk",
    "text/html; charset=klingon",
    "text/html; charset=utf-16",
    "text/html; charset=",
    "application/xhtml+xml",
    "text/plain",
    "text/plain; charset=utf-32",
    "application/json",
    "application/pdf",
    "application/octet-stream",
    "image/png",
    "garbage",
    ";;;",
    'text/html; charset="unterminated',
]


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.binary(max_size=500).map(lambda b: b"<html><body><p>" + b + b"</p></body></html>"),
        st.binary(max_size=500).map(lambda b: b"<meta charset=" + b),
    ),
    content_type=st.one_of(
        st.sampled_from(CONTENT_TYPES),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60),
    ),
    select=st.sampled_from([None, "p", "#x", "body > *"]),
    items=st.sampled_from([None, "li", "p"]),
)
def test_read_page_never_raises(
    body: bytes, content_type: str, select: str | None, items: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    spec = ReadSpec(select=select, items=items, ignore=(r"\d+",), keywords=("x", "é"))
    r = read_page(body, headers, URL, spec)
    assert r.kind in ("html", "text", "binary")
    assert r.fingerprint
    assert all(line and "\n" not in line for line in r.lines)
    assert "\x00" not in r.text


# --- not HTML ---------------------------------------------------------------------------


def test_plain_text_compared_by_its_normalised_text() -> None:
    plain = {"content-type": "text/plain; charset=utf-8"}
    a = read("Line one\n\n   Line   two  \n", headers=plain)
    b = read("Line one\nLine two", headers=plain)
    c = read("Line one\nLine three", headers=plain)
    assert a.kind == "text"
    assert a.lines == ("Line one", "Line two")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_plain_text_is_not_parsed_as_html() -> None:
    r = read("<p>literal</p>", headers={"content-type": "text/plain"})
    assert r.kind == "text"
    assert r.lines == ("<p>literal</p>",)


def test_plain_text_keywords_and_ignore() -> None:
    r = read(
        "Xinjiang office\nGenerated 12:30\n",
        ReadSpec(ignore=(r"Generated \d+:\d+",), keywords=("XINJIANG",)),
        headers={"content-type": "text/plain"},
    )
    assert r.lines == ("Xinjiang office",)
    assert r.keywords == ("XINJIANG",)


def test_gbk_plain_text_via_http_charset() -> None:
    r = read(GBK_TEXT.encode("gbk"), headers={"content-type": "text/plain; charset=gb2312"})
    assert r.lines == (GBK_TEXT,)


def test_pdf_is_compared_by_its_bytes() -> None:
    pdf = {"content-type": "application/pdf"}
    a_bytes = b"%PDF-1.4\n\x00\x01binary stream A"
    a = read(a_bytes, headers=pdf)
    a_again = read(a_bytes, headers=pdf)
    b = read(b"%PDF-1.4\n\x00\x01binary stream B", headers=pdf)
    assert a.kind == "binary"
    assert a.fingerprint == a_again.fingerprint == hashlib.sha256(a_bytes).hexdigest()
    assert a.fingerprint != b.fingerprint
    assert a.lines == (
        f"application/pdf, {len(a_bytes)} bytes, sha256 {hashlib.sha256(a_bytes).hexdigest()}",
    )


def test_binary_without_content_type_is_binary() -> None:
    r = read(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", headers={})
    assert r.kind == "binary"
    assert r.lines[0].startswith("application/octet-stream, ")


def test_html_sniffed_without_content_type() -> None:
    r = read(b"  <!DOCTYPE html><html><body><p>Hi</p></body></html>", headers={})
    assert r.kind == "html"
    assert r.lines == ("Hi",)


# --- serialisation ------------------------------------------------------------------------


def test_reading_round_trips_through_json() -> None:
    r = read(
        page("<ul><li>A</li></ul><iframe src='/m'></iframe>"),
        ReadSpec(items="li", keywords=("a",)),
    )
    again = Reading.from_json(r.to_json())
    assert again == r
    assert again.fingerprint == r.fingerprint


# --- normalise ----------------------------------------------------------------------------


def test_normalise_examples() -> None:
    assert normalise("  a \t b \n\n\n c  ") == "a b\nc"
    assert normalise("Cafe\u0301") == "Café"
    assert normalise("") == ""
    assert normalise(" \n \t \n") == ""
    assert normalise("x\r\ny") == "x\ny"


@settings(max_examples=500, deadline=None)
@given(st.text(), st.booleans())
def test_normalise_properties(text: str, html: bool) -> None:
    out = normalise(text, html=html)
    assert normalise(out) == out
    assert unicodedata.is_normalized("NFC", out)
    if out:
        for line in out.split("\n"):
            assert line, "no blank lines"
            assert line == line.strip(), "no edge whitespace"
            assert "  " not in line


@settings(deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=8))
def test_normalise_keeps_every_non_blank_line_in_order(lines: list[str]) -> None:
    expected = [" ".join(unicodedata.normalize("NFC", ln).split()) for ln in lines]
    out = normalise("\n".join(ln.replace("\n", " ") for ln in lines))
    assert out == "\n".join(e for e in expected if e)
