"""The report's Markdown filters: what a watched page said renders as itself, hides
nothing and links nowhere (cli/report_page.py)."""

from __future__ import annotations

from scrubwatch.cli.report_page import _code, _md, _md_link


def test_markdown_text_renders_as_itself_and_links_nowhere() -> None:
    assert _md("[click](javascript:alert(1)) *bold* <b>") == (
        "\\[click\\](javascript:alert(1)) \\*bold\\* \\<b\\>"
    )
    # An entity would bring back a right-to-left override; bidi and zero-width are dropped.
    assert _md("&#x202E;gnp.exe") == "\\&#x202E;gnp.exe"
    assert _md("a\u202egnp.exe\u200b\ufeff") == "agnp.exe"
    # Addresses, www. names and email addresses that GFM would make links of by itself.
    assert _md("see https://evil.example/x or www.evil.example, a@b.example") == (
        "see https:\\//evil.example/x or \\www.evil.example, a\\@b.example"
    )


def test_code_spans_hold_any_text_and_links_only_http() -> None:
    assert _code("a `tick` b") == "`` a `tick` b ``"
    assert _code("plain\nline") == "`plain line`"
    assert _md_link("javascript:alert(1)") == "`javascript:alert(1)`"
    assert _md_link("https://example.org/a b>c") == "<https://example.org/a%20b%3Ec>"
