"""The watch list: parsing, defaults, and one `FILE:LINE: FIELD: message` line per problem."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrubwatch.check.watchlist_file import load_watchlist
from scrubwatch.core.config import (
    ConfigError,
    Watchlist,
    parse_duration,
    parse_size,
    parse_watchlist,
    slugify,
)
from scrubwatch.core.routing import delivery_problems

# The example from the issue, verbatim apart from the comments.
ISSUE_EXAMPLE = """\
settings:                 # all optional
  user_agent: "scrubwatch/0.1 (+contact)"
  timeout: 20s
  max_bytes: 10MB
  concurrency: 32         # fetches in flight
  per_host: 4             # fetches in flight per host
  confirm_gone: 2         # consecutive checks that must see a page gone
  confirm_errors: 3       # consecutive failures before an error is reported
  allow_networks: []      # CIDRs that may be fetched although not public
defaults: {every: 6h, notify: [email]}
watches:
  - id: rd-map            # optional; else a slug of the name
    name: Campus recruitment R&D map
    url: https://example.com/campus/recruit.html
    select: "#rd-map"     # CSS; default: <body>
    exclude: ["nav"]      # CSS removed before reading
    ignore: ['Updated \\d+ min ago']   # regexes removed from the text before comparing
    items: "li.job"       # each match is one item: report items added / removed
    keywords: ["Xinjiang"] # report when one appears or disappears
    every: 1h
    notify: [email, slack]
    tags: [recruitment]
"""

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$", re.S)


def problems_of(text: str, path: str = "wl.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_watchlist(text, path)
    assert info.value.problems, "a ConfigError must list at least one problem"
    assert str(info.value) == "\n".join(info.value.problems)
    for problem in info.value.problems:
        assert "\n" not in problem, f"a problem must be one line: {problem!r}"
    return info.value.problems


def only_problem(text: str, path: str = "wl.yaml") -> re.Match[str]:
    problems = problems_of(text, path)
    assert len(problems) == 1, problems
    match = LINE.match(problems[0])
    assert match, f"not FILE:LINE: FIELD: message: {problems[0]!r}"
    assert match["file"] == path
    return match


# --- the example and the defaults ---------------------------------------------------------


def test_issue_example_parses_with_every_field() -> None:
    wl = parse_watchlist(ISSUE_EXAMPLE, "watchlist.yaml")
    assert isinstance(wl, Watchlist)
    assert wl.path == "watchlist.yaml"
    s = wl.settings
    assert s.user_agent == "scrubwatch/0.1 (+contact)"
    assert s.timeout == 20.0
    assert s.max_bytes == 10 * 1024 * 1024
    assert (s.concurrency, s.per_host) == (32, 4)
    assert (s.confirm_gone, s.confirm_errors) == (2, 3)
    assert s.allow_networks == ()
    assert len(wl.watches) == 1
    w = wl.watches[0]
    assert w.id == "rd-map"
    assert w.name == "Campus recruitment R&D map"
    assert w.url == "https://example.com/campus/recruit.html"
    assert w.select == "#rd-map"
    assert w.exclude == ("nav",)
    assert w.ignore == (r"Updated \d+ min ago",)
    assert w.items == "li.job"
    assert w.keywords == ("Xinjiang",)
    assert w.every == 3600.0
    assert w.notify == ("email", "slack")
    assert w.tags == ("recruitment",)
    assert wl.get("rd-map") is w
    assert wl.get("nope") is None


def test_defaults_apply_to_watches_that_do_not_override_them() -> None:
    text = ISSUE_EXAMPLE.replace(
        "defaults: {every: 6h, notify: [email]}",
        "defaults: {every: 6h, notify: [email], tags: [careers], ignore: ['\\d+ views']}",
    ) + (
        "  - name: Agency job 1002\n"
        "    url: https://agency.example/agency/jobs/1002.html\n"
        "  - url: https://Jobs.Example.org/Careers?page=2\n"
        "    notify: [slack]\n"
    )
    wl = parse_watchlist(text)
    first, second, third = wl.watches
    # The first watch overrides every, notify and tags but inherits nothing it set.
    assert (first.every, first.notify, first.tags) == (3600.0, ("email", "slack"), ("recruitment",))
    assert first.ignore == (r"Updated \d+ min ago",)
    # No id: a slug of the name; the defaults fill in every, notify, tags and ignore.
    assert second.id == "agency-job-1002"
    assert second.name == "Agency job 1002"
    assert second.every == 6 * 3600.0
    assert second.notify == ("email",)
    assert second.tags == ("careers",)
    assert second.ignore == (r"\d+ views",)
    assert second.select is None and second.items is None and second.keywords == ()
    # No id and no name: a slug of the URL, which is also the name.
    assert third.id == "jobs-example-org-careers-page-2"
    assert third.name == third.id
    assert third.notify == ("slack",)
    assert third.every == 6 * 3600.0


def test_settings_defaults_when_the_file_has_only_watches() -> None:
    wl = parse_watchlist("watches:\n  - url: http://a.example/\n")
    s = wl.settings
    assert s.timeout == 20.0
    assert s.deadline == 60.0
    assert s.max_bytes == 10 * 1024 * 1024
    assert (s.concurrency, s.per_host, s.confirm_gone, s.confirm_errors) == (32, 4, 2, 3)
    w = wl.watches[0]
    assert w.every == 6 * 3600.0
    assert w.notify == ("email",)
    assert w.tags == ()


def test_allow_networks_parse_to_networks() -> None:
    wl = parse_watchlist("settings:\n  allow_networks: ['127.0.0.1/32', '::1', 10.0.0.0/8]\n")
    assert wl.settings.allow_networks == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/8"),
    )


def test_empty_watches_key_means_no_watches() -> None:
    assert parse_watchlist("watches:\n").watches == ()
    assert parse_watchlist("watches: []\n").watches == ()


def test_empty_file_is_an_empty_watch_list_not_a_crash() -> None:
    # An empty (or comment-only) file is read as a mapping without watches, like `{}`.
    for text in ("", "\n", "# nothing watched yet\n"):
        wl = parse_watchlist(text)
        assert wl.watches == ()


def test_slugify() -> None:
    assert slugify("Campus recruitment R&D map") == "campus-recruitment-r-d-map"
    assert slugify("Café  Région") == "cafe-region"
    assert slugify("新疆") == "watch"
    assert len(slugify("x" * 300)) == 64


def test_settings_hash_follows_reading_not_schedule() -> None:
    base = "watches:\n  - id: a\n    url: https://a.example/\n"
    h = parse_watchlist(base).watches[0].settings_hash
    assert parse_watchlist(base + "    every: 1h\n").watches[0].settings_hash == h
    assert parse_watchlist(base + "    notify: [slack]\n").watches[0].settings_hash == h
    assert parse_watchlist(base + "    select: main\n").watches[0].settings_hash != h
    assert parse_watchlist(base + "    keywords: [x]\n").watches[0].settings_hash != h


# --- one line per problem -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        pytest.param(
            "watches:\n  - url: https://a.example/\n    selector: '#x'\n",
            3,
            "watches[0].selector",
            "unknown key",
            id="typo-selector",
        ),
        pytest.param(
            "settings:\n  timeout: 20s\n  concurency: 4\n",
            3,
            "settings.concurency",
            "unknown key",
            id="typo-in-settings",
        ),
        pytest.param(
            "watchs:\n  - url: https://a.example/\n",
            1,
            "watchs",
            "unknown key",
            id="typo-top-level",
        ),
        pytest.param(
            "watches:\n  - url: ftp://a.example/file\n",
            2,
            "watches[0].url",
            "http",
            id="ftp-url",
        ),
        pytest.param(
            "watches:\n  - url: file:///etc/passwd\n",
            2,
            "watches[0].url",
            "http",
            id="file-url",
        ),
        pytest.param(
            "watches:\n  - url: https://\n",
            2,
            "watches[0].url",
            "host",
            id="url-without-host",
        ),
        pytest.param(
            "watches:\n  - name: no url\n",
            2,
            "watches[0].url",
            "missing",
            id="missing-url",
        ),
        pytest.param(
            "watches:\n"
            "  - url: https://a.example/\n"
            "  - url: https://b.example/\n"
            "  - url: https://c.example/\n"
            "    name: third\n"
            "    select: 'div[['\n",
            6,
            "watches[2].select",
            "CSS selector",
            id="bad-css-select",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    items: 'li:::job'\n",
            3,
            "watches[0].items",
            "CSS selector",
            id="bad-css-items",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    exclude: ['nav', 'p >> q']\n",
            3,
            "watches[0].exclude[1]",
            "CSS selector",
            id="bad-css-exclude",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    ignore:\n      - ok\n      - '(unclosed'\n",
            5,
            "watches[0].ignore[1]",
            "regular expression",
            id="bad-regex",
        ),
        pytest.param(
            "defaults:\n  ignore: ['[a-']\n",
            2,
            "defaults.ignore[0]",
            "regular expression",
            id="bad-regex-in-defaults",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    every: 5 fortnights\n",
            3,
            "watches[0].every",
            "duration",
            id="bad-duration",
        ),
        pytest.param(
            "settings:\n  timeout: 0s\n",
            2,
            "settings.timeout",
            "greater than zero",
            id="zero-duration",
        ),
        pytest.param(
            "defaults:\n  every: -5\n",
            2,
            "defaults.every",
            "greater than zero",
            id="negative-duration",
        ),
        pytest.param(
            "settings:\n  timeout: 20s\n  max_bytes: lots\n",
            3,
            "settings.max_bytes",
            "size",
            id="bad-size",
        ),
        pytest.param(
            "settings:\n  max_bytes: 10 parsecs\n",
            2,
            "settings.max_bytes",
            "size",
            id="bad-size-unit",
        ),
        pytest.param(
            "settings:\n  allow_networks: ['127.0.0.1/32', '10.0.0.0/33']\n",
            2,
            "settings.allow_networks",
            "10.0.0.0/33",
            id="bad-cidr",
        ),
        pytest.param(
            "settings:\n  allow_networks: 127.0.0.1/32\n",
            2,
            "settings.allow_networks",
            "list",
            id="cidr-not-a-list",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    notify: [email, pager]\n",
            3,
            "watches[0].notify[1]",
            "'email' or 'slack'",
            id="unknown-channel",
        ),
        pytest.param(
            "defaults:\n  notify: [sms]\n",
            2,
            "defaults.notify[0]",
            "'email' or 'slack'",
            id="unknown-channel-in-defaults",
        ),
        pytest.param(
            "watches:\n  - id: 'has space'\n    url: https://a.example/\n",
            2,
            "watches[0].id",
            "invalid id",
            id="bad-id",
        ),
        pytest.param(
            "settings:\n  concurrency: 0\n",
            2,
            "settings.concurrency",
            "greater than or equal to 1",
            id="concurrency-zero",
        ),
        pytest.param(
            "watches: {url: https://a.example/}\n",
            1,
            "watches",
            "tuple",
            id="watches-not-a-list",
        ),
    ],
)
def test_each_problem_is_one_line_naming_file_line_and_field(
    text: str, line: int, field: str, words: str
) -> None:
    match = only_problem(text)
    assert int(match["line"]) == line
    assert match["field"] == field
    assert words.lower() in match["message"].lower()
    assert "Traceback" not in match["message"]


def test_duplicate_explicit_ids() -> None:
    text = (
        "watches:\n"
        "  - id: jobs\n"
        "    url: https://a.example/\n"
        "  - id: other\n"
        "    url: https://b.example/\n"
        "  - id: jobs\n"
        "    url: https://c.example/\n"
    )
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (6, "watches[2].id")
    assert "duplicate id 'jobs'" in match["message"]
    assert "watches[0]" in match["message"]


def test_duplicate_ids_from_slugs_of_names() -> None:
    text = (
        "watches:\n"
        "  - name: Careers page\n"
        "    url: https://a.example/\n"
        "  - url: https://b.example/\n"
        "    name: careers   PAGE!\n"
    )
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (5, "watches[1].name")
    assert "'careers-page'" in match["message"]


def test_explicit_id_colliding_with_a_slug_of_a_url() -> None:
    text = (
        "watches:\n  - url: https://a.example/x\n  - id: a-example-x\n    url: https://b.example/\n"
    )
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (3, "watches[1].id")


def test_yaml_syntax_error_names_the_line_of_the_error() -> None:
    text = (
        "settings:\n"
        "  timeout: 20s\n"
        "watches:\n"
        "  - url: https://a.example/\n"
        "    name: a: b\n"
        "  - url: https://b.example/\n"
    )
    match = only_problem(text)
    assert int(match["line"]) == 5
    assert match["field"] == "YAML syntax"
    assert "mapping values" in match["message"]


def test_yaml_tab_indentation_is_a_syntax_error_on_its_line() -> None:
    match = only_problem("watches:\n\t- url: https://a.example/\n")
    assert int(match["line"]) == 2
    assert match["field"] == "YAML syntax"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("watches: []\nwatches: []\n", 2, "watches"),
        (
            "watches:\n  - url: https://a.example/\n    every: 1h\n    url: https://b.example/\n",
            4,
            "watches[0].url",
        ),
        ("settings:\n  timeout: 3s\n  timeout: 5s\n", 3, "settings.timeout"),
    ],
)
def test_duplicate_yaml_key(text: str, line: int, field: str) -> None:
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (line, field)
    assert "duplicate key" in match["message"]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "[1, 2]\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    match = only_problem(text)
    assert int(match["line"]) == 1
    assert "mapping" in match["message"]


def test_several_problems_are_several_lines_sorted_by_line() -> None:
    # settings comes after watches in the file, but pydantic validates settings first,
    # and the duplicate key is found before validation starts: only sorting puts
    # these in file order.
    text = (
        "watches:\n"  # 1
        "  - url: https://a.example/\n"  # 2
        "    selector: '#x'\n"  # 3
        "  - url: ftp://b.example/\n"  # 4
        "  - url: https://c.example/\n"  # 5
        "    every: never\n"  # 6
        "    every: sometimes\n"  # 7
        "settings:\n"  # 8
        "  timeout: soon\n"  # 9
        "  max_bytes: lots\n"  # 10
    )
    problems = problems_of(text)
    parsed = [LINE.match(p) for p in problems]
    assert all(parsed), problems
    located = [(int(m["line"]), m["field"]) for m in parsed if m]
    assert located == [
        (3, "watches[0].selector"),
        (4, "watches[1].url"),
        (7, "watches[2].every"),
        (7, "watches[2].every"),
        (9, "settings.timeout"),
        (10, "settings.max_bytes"),
    ]
    line_7 = [m["message"] for m in parsed if m and int(m["line"]) == 7]
    assert any("duplicate key" in msg for msg in line_7)
    assert any("sometimes" in msg for msg in line_7)


def test_duplicate_ids_are_reported_with_other_problems_sorted() -> None:
    text = (
        "watches:\n"
        "  - id: a\n"
        "    url: https://a.example/\n"
        "  - id: a\n"
        "    url: https://b.example/\n"
        "  - id: b\n"
        "    url: https://b.example/\n"
        "  - id: b\n"
        "    url: https://b.example/\n"
    )
    problems = problems_of(text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["wl.yaml:4", "watches[1].id"],
        ["wl.yaml:8", "watches[3].id"],
    ]


# --- reading the file -----------------------------------------------------------------


def test_load_watchlist_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")
    wl = load_watchlist(path)
    assert wl.path == str(path)
    assert [w.id for w in wl.watches] == ["rd-map"]


def test_load_watchlist_accepts_a_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + ISSUE_EXAMPLE.encode())
    assert [w.id for w in load_watchlist(path).watches] == ["rd-map"]


def test_load_watchlist_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("watches:\n  - url: gopher://a.example/\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_watchlist(path)
    assert info.value.problems[0].startswith(f"{path}:2: watches[0].url: ")


def test_load_watchlist_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_watchlist(path)
    assert len(info.value.problems) == 1
    assert str(path) in info.value.problems[0]


def test_load_watchlist_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_watchlist(tmp_path)


def test_load_watchlist_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(b"watches:\n  - url: https://a.example/\n    name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_watchlist(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(f"{path}:3: ")
    assert "UTF-8" in info.value.problems[0]


# --- durations and sizes --------------------------------------------------------------

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("20s", 20.0),
        ("15m", 900.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1H30M", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (" 2m ", 120.0),
        (90, 90.0),
        (0.5, 0.5),
    ],
)
def test_parse_duration_examples(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    ["", "   ", "h", "10", "1x", "1h30", "30m1", "one hour", "-1h", "0s", 0, -3, True, None],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(float("nan"), id="float-nan"),
        pytest.param(float("inf"), id="float-inf"),
        pytest.param("nan", id="str-nan"),
        pytest.param("inf", id="str-inf"),
    ],
)
def test_parse_duration_rejects_non_finite(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_nan_duration_in_the_file_is_a_problem() -> None:
    # YAML's .nan is a float; a NaN `every` would make a watch never (or always) due.
    match = only_problem("watches:\n  - url: https://a.example/\n    every: .nan\n")
    assert (int(match["line"]), match["field"]) == (3, "watches[0].every")


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(sorted(UNITS))),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["", " "]),
    st.booleans(),
)
def test_parse_duration_of_combinations_is_the_sum(
    parts: list[tuple[int, str]], sep: str, upper: bool
) -> None:
    text = sep.join(f"{n}{unit}" for n, unit in parts)
    if upper:
        text = text.upper()
    expected = sum(n * UNITS[unit] for n, unit in parts)
    if expected <= 0:
        with pytest.raises(ValueError):
            parse_duration(text)
    else:
        assert parse_duration(text) == pytest.approx(expected, rel=1e-12)


SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
}


@settings(deadline=None)
@given(
    st.integers(min_value=0, max_value=100_000),
    st.sampled_from(sorted(SIZE_UNITS)),
    st.sampled_from(["", " "]),
    st.sampled_from([str.lower, str.upper, str.title]),
)
def test_parse_size_is_number_times_unit(
    n: int, unit: str, sep: str, case: Callable[[str], str]
) -> None:
    text = f"{n}{sep}{case(unit)}"
    expected = n * SIZE_UNITS[unit]
    if expected <= 0:
        with pytest.raises(ValueError):
            parse_size(text)
    else:
        assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "size"),
    [("10MB", 10 * 1024**2), ("512KB", 512 * 1024), ("1.5kb", 1536), (4096, 4096)],
)
def test_parse_size_examples(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "MB", "10 TB", "-1MB", "0", 0, -1, 1.5, True, None, "ten"])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


# --- never anything but a Watchlist or a ConfigError ------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("!custom x\n", id="unknown-local-tag"),
        pytest.param("watches:\n  - !!python/object:os.system x\n", id="python-tag"),
        pytest.param("settings:\n  timeout: !!int abc\n", id="bad-int-tag"),
        pytest.param("settings:\n  timeout: !!float abc\n", id="bad-float-tag"),
        pytest.param("watches: !!timestamp nope\n", id="bad-timestamp-tag"),
        pytest.param("watches: &a [*a]\n", id="recursive-alias"),
        pytest.param("&a [*a]\n", id="recursive-alias-top"),
        pytest.param("a: 1\n---\nb: 2\n", id="two-documents"),
        pytest.param("\x00", id="nul"),
        pytest.param("watches:\n  - url: https://a.example/\n    name: =\n", id="bare-equals"),
        pytest.param("? [a, b]\n: c\n", id="complex-key"),
        pytest.param("watches: " + "[" * 1500 + "]" * 1500 + "\n", id="deep-flow-nesting"),
        pytest.param(
            "watches:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 1200)),
            id="deep-block-nesting",
        ),
    ],
)
def test_odd_yaml_is_a_config_error(text: str) -> None:
    problems = problems_of(text, "watchlist.yaml")
    assert all(LINE.match(p) for p in problems), problems


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_watchlist_on_arbitrary_text_never_raises_anything_else(text: str) -> None:
    try:
        result = parse_watchlist(text)
    except ConfigError as exc:
        assert exc.problems
        assert all(p.startswith("watchlist.yaml:") for p in exc.problems)
        assert all("\n" not in p for p in exc.problems), exc.problems
    else:
        assert isinstance(result, Watchlist)


_KEYS = st.sampled_from(
    ["settings", "defaults", "watches", "url", "id", "name", "every", "timeout", "select"]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["https://a.example/", "1h", "10MB", "#x", "li", "[", "email"]),
)
_YAML_DATA = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_YAML_DATA)
def test_parse_watchlist_on_arbitrary_yaml_structures(data: object) -> None:
    import yaml

    text = yaml.safe_dump(data)
    try:
        result = parse_watchlist(text)
    except ConfigError as exc:
        assert exc.problems
    else:
        assert isinstance(result, Watchlist)
        for w in result.watches:
            assert w.url.startswith(("http://", "https://"))
            assert w.every > 0 and math.isfinite(w.every)


# --- empty values: a `#` read as a YAML comment ------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        pytest.param(
            "watches:\n  - url: https://a.example/\n    select: #jobs\n",
            3,
            "watches[0].select",
            "empty value: an unquoted '#' starts a YAML comment; "
            'quote the selector: select: "#jobs"',
            id="select-eaten-as-comment",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    items: #list > li\n",
            3,
            "watches[0].items",
            "an unquoted '#' starts a YAML comment; quote the value or remove the key",
            id="items-eaten-as-comment-with-spaces",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    exclude:\n      - nav\n      - #ads\n",
            5,
            "watches[0].exclude[1]",
            'quote the selector: - "#ads"',
            id="exclude-entry-eaten-as-comment",
        ),
        pytest.param(
            "defaults:\n  exclude:\n    - #cookie-banner\n",
            3,
            "defaults.exclude[0]",
            'quote the selector: - "#cookie-banner"',
            id="defaults-exclude-entry-eaten-as-comment",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    select:\n",
            3,
            "watches[0].select",
            "empty value: give a value or remove the key",
            id="select-empty",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    items: null\n",
            3,
            "watches[0].items",
            "empty value",
            id="items-null",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    exclude:\n",
            3,
            "watches[0].exclude",
            "empty value",
            id="exclude-empty",
        ),
        pytest.param(
            "watches:\n  - name: x\n    url:\n",
            3,
            "watches[0].url",
            "empty value: give the page's address",
            id="url-empty",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    name: ~\n",
            3,
            "watches[0].name",
            "empty value",
            id="name-null",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    keywords: [Urumqi, ~]\n",
            3,
            "watches[0].keywords[1]",
            "empty value: remove the empty entry",
            id="keywords-entry-null",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    every:\n",
            3,
            "watches[0].every",
            "empty value",
            id="every-empty",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    notify:\n",
            3,
            "watches[0].notify",
            "empty value",
            id="notify-empty",
        ),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    user_agent:\n",
            3,
            "watches[0].user_agent",
            "empty value",
            id="user-agent-empty",
        ),
        pytest.param(
            "settings:\n  timeout: # seconds\n",
            2,
            "settings.timeout",
            "an unquoted '#' starts a YAML comment",
            id="settings-value-eaten-as-comment",
        ),
        pytest.param(
            "watches:\n  -\n  - url: https://a.example/\n",
            2,
            "watches[0]",
            "empty value: remove the empty entry",
            id="empty-watch-entry",
        ),
    ],
)
def test_an_empty_value_is_a_problem_naming_its_line(
    text: str, line: int, field: str, words: str
) -> None:
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (line, field)
    assert words in match["message"]


def test_a_misspelt_key_with_an_empty_value_is_reported_as_misspelt() -> None:
    match = only_problem("watches:\n  - url: https://a.example/\n    selector: #jobs\n")
    assert (int(match["line"]), match["field"]) == (3, "watches[0].selector")
    assert match["message"] == "unknown key (check the spelling)"


def test_a_quoted_hash_selector_is_a_selector() -> None:
    wl = parse_watchlist(
        'watches:\n  - url: https://a.example/\n    select: "#jobs"  # the list\n'
        "    exclude: ['#ads']\n"
    )
    assert wl.watches[0].select == "#jobs"
    assert wl.watches[0].exclude == ("#ads",)


@pytest.mark.parametrize("section", ["settings", "defaults"])
def test_a_section_whose_every_line_is_commented_out_is_empty(section: str) -> None:
    wl = parse_watchlist(f"{section}:\n  # every: 1h\nwatches:\n  - url: https://a.example/\n")
    assert wl.watches[0].every == 6 * 3600.0


# --- duplicate ids are found with the other problems ----------------------------------------


def test_duplicate_ids_are_reported_in_the_same_pass_as_other_problems() -> None:
    text = (
        "watches:\n"  # 1
        "  - id: jobs\n"  # 2
        "    url: https://a.example/\n"  # 3
        "  - id: jobs\n"  # 4
        "    url: https://b.example/\n"  # 5
        "    every: never\n"  # 6  (this watch is invalid, but its id is not)
        "  - name: Careers\n"  # 7
        "    url: https://c.example/\n"  # 8
        "  - name: careers\n"  # 9
        "    url: https://d.example/\n"  # 10
        "    select: 'div[['\n"  # 11
        "settings:\n"  # 12
        "  timeout: soon\n"  # 13
    )
    problems = problems_of(text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["wl.yaml:4", "watches[1].id"],
        ["wl.yaml:6", "watches[1].every"],
        ["wl.yaml:9", "watches[3].name"],
        ["wl.yaml:11", "watches[3].select"],
        ["wl.yaml:13", "settings.timeout"],
    ]
    assert "duplicate id 'jobs' (also watches[0])" in problems[0]
    assert "duplicate id 'careers' (also watches[2])" in problems[2]


# --- proxies and user agents -------------------------------------------------------------


@pytest.mark.parametrize(
    "proxy",
    [
        "http://proxy.example:3128",
        "https://proxy.example:443",
        "socks5://127.0.0.1:9050",
        "socks5h://127.0.0.1:9050",
        "socks5h://user:secret@[::1]:9050/",
        " SOCKS5H://tor:9050 ",
    ],
)
def test_proxy_addresses_that_are_accepted(proxy: str) -> None:
    wl = parse_watchlist(
        f"settings:\n  proxy: '{proxy}'\nwatches:\n  - url: https://a.example/\n"
        f"  - url: https://b.example/\n    proxy: '{proxy}'\n"
    )
    assert wl.settings.proxy == proxy.strip()
    assert [w.proxy for w in wl.watches] == [proxy.strip()] * 2


@pytest.mark.parametrize(
    ("proxy", "words"),
    [
        ("ftp://proxy.example:21", "must start with http://, https://, socks5:// or socks5h://"),
        ("socks4://proxy.example:1080", "(got socks4://)"),
        ("proxy.example:3128", "must start with"),
        ("", "must start with"),
        ("http://:3128", "no host"),
        ("socks5h://127.0.0.1", "no port"),
        ("http://proxy.example:0", "no port"),
        ("http://proxy.example:99999", "invalid proxy address"),
        ("http://proxy.example:3128/path", "no path or query"),
    ],
)
@pytest.mark.parametrize("where", ["settings", "watch"])
def test_a_bad_proxy_names_its_line(proxy: str, words: str, where: str) -> None:
    if where == "settings":
        text, line, field = f"settings:\n  proxy: '{proxy}'\n", 2, "settings.proxy"
    else:
        text = f"watches:\n  - url: https://a.example/\n    proxy: '{proxy}'\n"
        line, field = 3, "watches[0].proxy"
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (line, field)
    assert words in match["message"]


def test_a_bad_proxy_message_does_not_repeat_its_password() -> None:
    match = only_problem("settings:\n  proxy: 'socks5h://me:hunter2@tor'\n")
    assert "no port" in match["message"]
    assert "hunter2" not in match["message"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("watches:\n  - url: https://a.example/\n    user_agent: '   '\n", "watches[0].user_agent"),
        ("settings:\n  user_agent: ''\n", "settings.user_agent"),
    ],
)
def test_a_blank_user_agent_is_a_problem(text: str, field: str) -> None:
    match = only_problem(text)
    assert match["field"] == field
    assert "at least 1 character" in match["message"]


# --- what the file says where ------------------------------------------------------------


def test_the_watchlist_keeps_the_line_of_each_key() -> None:
    wl = parse_watchlist(
        "defaults:\n  notify: [email]\n"
        "watches:\n  - url: https://a.example/\n    notify: [slack]\n",
        "wl.yaml",
    )
    assert wl.lines[("defaults", "notify")] == 2
    assert wl.lines[("watches", 0, "notify")] == 5
    assert wl.where(("watches", 0, "notify")) == "wl.yaml:5: watches[0].notify"
    # A key not in the file: the nearest enclosing one's line.
    assert wl.where(("watches", 0, "select")) == "wl.yaml:4: watches[0].select"


def test_the_shipped_watch_list_validates_and_does_not_name_the_tool() -> None:
    path = Path(__file__).resolve().parents[2] / "watchlist.yaml"
    wl = load_watchlist(path)
    assert wl.watches
    assert "scrubwatch" not in wl.settings.user_agent.lower()
    assert all(w.user_agent is None for w in wl.watches)
    # As shipped it runs with no email or Slack set up, alerting on the terminal.
    assert delivery_problems(wl, {}) == []


def test_a_duplicate_id_made_from_the_url_is_reported_at_the_url() -> None:
    from scrubwatch.core.config import ConfigError, parse_watchlist

    text = "watches:\n  - url: https://a.example/x\n  - url: https://a.example/x\n"
    with pytest.raises(ConfigError) as caught:
        parse_watchlist(text, "w.yaml")
    assert caught.value.problems == [
        "w.yaml:3: watches[1].url: duplicate id 'a-example-x' (also watches[0]); give each "
        "watch a unique id"
    ]


# --- settings.deadline: the most one watch's check may take in all ---------------------


@pytest.mark.parametrize(
    ("settings_text", "timeout", "deadline"),
    [
        pytest.param("", 20.0, 60.0, id="neither: 3 x the default timeout"),
        pytest.param("  timeout: 30s\n", 30.0, 90.0, id="timeout only: 3 x timeout"),
        pytest.param("  timeout: 1m\n  deadline: 2m\n", 60.0, 120.0, id="both"),
        pytest.param("  deadline: 1h30m\n", 20.0, 5400.0, id="duration syntax"),
        pytest.param("  deadline: 45\n", 20.0, 45.0, id="seconds"),
        pytest.param("  timeout: 20s\n  deadline: 20s\n", 20.0, 20.0, id="equal to timeout"),
    ],
)
def test_deadline_defaults_to_three_timeouts(
    settings_text: str, timeout: float, deadline: float
) -> None:
    wl = parse_watchlist("settings:\n" + settings_text + "watches: []\n")
    assert (wl.settings.timeout, wl.settings.deadline) == (timeout, deadline)


def test_a_deadline_shorter_than_the_timeout_names_its_line() -> None:
    match = only_problem("settings:\n  timeout: 1m\n  deadline: 30s\n")
    assert (int(match["line"]), match["field"]) == (3, "settings.deadline")
    assert match["message"] == (
        "deadline 30s is shorter than timeout 60s, so a check could not wait for even one "
        "answer: make it at least the timeout (without deadline it is 3 × timeout)"
    )


def test_a_deadline_shorter_than_the_default_timeout_is_a_problem() -> None:
    match = only_problem("settings:\n  deadline: 10s\n")
    assert match["field"] == "settings.deadline"
    assert "shorter than timeout 20s" in match["message"]


@pytest.mark.parametrize(
    ("value", "words"),
    [("soon", "invalid duration 'soon'"), ("0s", "greater than zero"), ("-5", "greater than zero")],
)
def test_a_bad_deadline_is_a_duration_problem(value: str, words: str) -> None:
    match = only_problem(f"settings:\n  deadline: {value}\n")
    assert match["field"] == "settings.deadline"
    assert words in match["message"]


def test_a_bad_timeout_without_a_deadline_is_one_problem_about_the_timeout() -> None:
    match = only_problem("settings:\n  timeout: soon\n")
    assert match["field"] == "settings.timeout"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        pytest.param(
            "watches:\n  - url: https://a.example/\n    deadline: 30s\n",
            3,
            "watches[0].deadline",
            id="deadline-in-a-watch",
        ),
        pytest.param("defaults:\n  deadline: 30s\n", 2, "defaults.deadline", id="in-defaults"),
        pytest.param(
            "watches:\n  - url: https://a.example/\n    timeout: 5s\n",
            3,
            "watches[0].timeout",
            id="timeout-in-a-watch",
        ),
    ],
)
def test_a_setting_written_in_a_watch_or_defaults_says_where_it_goes(
    text: str, line: int, field: str
) -> None:
    # There is no per-watch timeout, so there is no per-watch deadline either.
    match = only_problem(text)
    assert (int(match["line"]), match["field"]) == (line, field)
    key = field.rsplit(".", 1)[1]
    assert match["message"] == f"{key} is set for all watches at once: move it under settings"


def test_a_misspelt_key_in_a_watch_is_still_a_spelling_problem() -> None:
    match = only_problem("watches:\n  - url: https://a.example/\n    dedline: 30s\n")
    assert match["message"] == "unknown key (check the spelling)"


def test_the_id_of_the_contact_records_folder_is_reserved() -> None:
    import pytest
    from scrubwatch.core.config import ConfigError, parse_watchlist

    with pytest.raises(ConfigError) as caught:
        parse_watchlist("watches:\n  - {id: contacts, url: 'https://example.org/'}\n")

    assert "the id 'contacts' is reserved; choose another" in caught.value.problems[0]
