"""The `discover` key (issue 13): every mistake is one line naming the file, line and field."""

from __future__ import annotations

import pytest
from scrubwatch.core.compiled import compile_watchlist, watchlist_from_compiled
from scrubwatch.core.config import child_watch, parse_watchlist

from .test_config import only_problem

HEAD = """\
watches:
  - id: urumqi-jobs
    url: https://careers.example.com/jobs?city=urumqi
    items: "li.job"
    keywords: [Urumqi]
    every: 1h
    discover:
"""


def test_the_example_of_the_readme_parses_with_its_defaults() -> None:
    text = HEAD + (
        '      links: "li.job a"\n'
        "      match: '/jobs/\\d+'\n"
        '      child: {select: "#job-detail", every: 6h, keywords: ["Xinjiang", "Safe City"]}\n'
    )
    (watch,) = parse_watchlist(text).watches
    spec = watch.discover
    assert spec is not None
    assert (spec.links, spec.match, spec.same_site, spec.max_children) == (
        "li.job a",
        r"/jobs/\d+",
        True,
        500,
    )
    child = child_watch(watch, "urumqi-jobs/0123456789ab", "https://careers.example.com/jobs/1", "")
    assert child.select == "#job-detail"
    assert child.every == 6 * 3600
    assert child.keywords == ("Xinjiang", "Safe City")
    assert child.items is None  # the listing's items are not the ad's
    assert child.parent == "urumqi-jobs" and child.discover is None
    assert parse_watchlist("watches: []").settings.max_discovered == 5000


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        ("      links: a\n      depth: 2\n", 9, "watches[0].discover.depth", "unknown key"),
        ('      links: "li.job a["\n', 8, "watches[0].discover.links", "invalid CSS selector"),
        ("      links: a\n      match: '(['\n", 9, "watches[0].discover.match", "invalid regular"),
        ("      sitemap: not a url\n", 8, "watches[0].discover.sitemap", ""),
        ("      feed: ftp://example.com/jobs.atom\n", 8, "watches[0].discover.feed", ""),
        ("      match: x\n", 7, "watches[0].discover", "give exactly one of links"),
        (
            "      links: a\n      feed: https://example.com/f\n",
            7,
            "watches[0].discover",
            "(got links and feed)",
        ),
        ("      links: a\n      max_children: 0\n", 9, "watches[0].discover.max_children", ""),
        ("      links: a\n      child: {url: x}\n", 9, "watches[0].discover.child.url", "unknown"),
        ("      links: a\n      child: {every: soon}\n", 9, "watches[0].discover.child.every", ""),
    ],
)
def test_a_mistake_in_discover_is_one_line_naming_it(
    body: str, line: int, field: str, message: str
) -> None:
    found = only_problem(HEAD + body)
    assert (int(found["line"]), found["field"]) == (line, field)
    assert message in found["message"]


def test_a_watch_with_discover_survives_push_and_reads_the_same() -> None:
    text = HEAD + '      links: "li.job a"\n      child: {select: "#job"}\n'
    listed = parse_watchlist(text)
    pushed = watchlist_from_compiled(compile_watchlist(listed), "s3://bucket/watchlist.json")
    assert pushed.watches == listed.watches
