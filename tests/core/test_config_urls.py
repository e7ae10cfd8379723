"""URLs in the watch list are checked as the fetcher will send them (issue 10): what
httpx parses but cannot send is one `FILE:LINE: FIELD: message` line from validate,
and a user name or password in a URL is refused without being repeated."""

from __future__ import annotations

import re

import pytest
import yarl
from hypothesis import given, settings
from hypothesis import strategies as st
from scrubwatch.check.fetch import UnsendableURL, request_for
from scrubwatch.core.config import ConfigError, parse_watchlist

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$")

LABEL_63 = "a" * 63
HOST_253 = ".".join(["b" * 49] * 5) + ".abc"  # 5 × 50 + 3 = 253 characters


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_watchlist(text, "wl.yaml")
    return info.value.problems


def in_watch(url: str) -> str:
    # Single-quoted YAML: every character as written except '' for a quote.
    return "watches:\n  - id: w\n    url: '" + url.replace("'", "''") + "'\n"


def one_url_problem(text: str, line: int, field: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    match = LINE.match(problems[0])
    assert match, problems[0]
    assert (match["file"], int(match["line"]), match["field"]) == ("wl.yaml", line, field)
    return match["message"]


# --- what the fetcher could not send ----------------------------------------------------

UNSENDABLE = [
    pytest.param(f"https://{'a' * 70}.example/", "is 70 characters", id="label-over-63"),
    pytest.param(f"https://{HOST_253}x/", "at most 253", id="host-over-253"),
    pytest.param("https://jobs..example.org/", "empty label", id="empty-label"),
    pytest.param("https://.example.org/", "empty label", id="leading-dot"),
    pytest.param("https://xn--zz.example/", "'xn--zz' is not valid IDNA", id="bad-punycode"),
    pytest.param("https://xn--a.example/", "'xn--a' is not valid IDNA", id="punycode-of-a-control"),
    pytest.param(
        "https://xn--n3h.example/", "'xn--n3h' is not valid IDNA", id="punycode-of-a-symbol"
    ),
    pytest.param("https://\u2603.example/", "IDNA", id="symbol-not-a-name"),
    pytest.param("http://[::1/", "unbalanced or misplaced [ ]", id="unclosed-bracket"),
    pytest.param("http://::1]/", "unbalanced or misplaced [ ]", id="unopened-bracket"),
    pytest.param("http://[::1]x/", "unbalanced or misplaced [ ]", id="after-bracket"),
    pytest.param("http://[::g]/", "Invalid IPv6 address", id="bad-ipv6"),
    pytest.param("http://256.1.1.1/", "Invalid IPv4 address", id="bad-ipv4"),
    pytest.param("https://a.example:0/", "port 0 is out of range", id="port-0"),
    pytest.param("https://a.example:99999/", "port 99999 is out of range", id="port-99999"),
    pytest.param("https://a.example:http/", "Invalid port", id="port-not-a-number"),
    pytest.param("https://jobs example.org/", "has a space at character 13", id="space-in-host"),
    pytest.param("https://a.example/open jobs", "write it as %20", id="space-in-path"),
    pytest.param("https://a.example/\tjobs", "invisible character U+0009", id="tab"),
    pytest.param("https://a.example/jobs\u200b", "invisible character U+200B", id="zero-width"),
    pytest.param("https://a.example/\u00a0jobs", "invisible character U+00A0", id="no-break-space"),
    pytest.param("https://a%2Eexample/", "has '%'", id="percent-in-host"),
    pytest.param("https://a\\example/", "has '\\\\'", id="backslash-in-host"),
    pytest.param("https://a!b.example/", "has '!'", id="bang-in-host"),
    pytest.param("ftp://a.example/", "http:// or https://", id="ftp"),
    pytest.param("a.example/jobs", "http:// or https://", id="no-scheme"),
    pytest.param("https://", "no host", id="no-host"),
]


@pytest.mark.parametrize(("url", "words"), UNSENDABLE)
def test_a_watch_url_the_fetcher_could_not_send_is_one_line(url: str, words: str) -> None:
    message = one_url_problem(in_watch(url), 3, "watches[0].url")
    assert words in message


@pytest.mark.parametrize(("url", "words"), UNSENDABLE)
@pytest.mark.parametrize("key", ["wayback_endpoint", "slack_webhook"])
def test_a_settings_url_is_checked_the_same_way(url: str, words: str, key: str) -> None:
    text = f"settings:\n  {key}: '" + url.replace("'", "''") + "'\n"
    message = one_url_problem(text, 2, f"settings.{key}")
    assert words in message


@pytest.mark.parametrize(("url", "words"), UNSENDABLE)
def test_what_validation_refuses_the_fetcher_could_not_send_either(url: str, words: str) -> None:
    # The other way round from the property test below: each case is a real refusal.
    # Except those the fetcher would send with bytes nobody meant (a space, an invisible
    # character), those of a scheme it does not fetch, and a host with a character no
    # DNS name has, which httpx and aiohttp pass on to a lookup that always fails.
    meant = ("space", "%20", "invisible", "http://", "no host", "has '")
    if any(w in words for w in meant):
        return
    try:
        request = request_for(url, {}, {})
        yarl.URL(str(request.url))
    except (UnsendableURL, ValueError):
        return
    pytest.fail(f"{url!r} is refused by validation but the fetcher would send it")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/jobs?page=2&q=a%20b#top",
        "https://bücher.example/",
        "https://xn--bcher-kva.example/",
        "HTTPS://Jobs.Example.ORG/Careers",
        "https://example.org./",
        "https://my_host.example/",
        "https://-odd-.example/",
        "http://127.1:8080/",
        "http://[::1]:8080/x",
        "http://[2001:db8::1]/",
        "https://a.example:65535/",
        f"https://{LABEL_63}.example/",
        f"https://{HOST_253}/",
        f"https://{HOST_253}./",
        "https://medium.com/@someone",
        "https://a.example:8080/@someone",
        "https://a.example/é/ünïcode",
    ],
)
def test_urls_that_can_be_sent_are_accepted_as_written(url: str) -> None:
    wl = parse_watchlist(in_watch(f"  {url}  "))
    assert wl.watches[0].url == url


_HOST_CHARS = st.sampled_from([*"ab9-_.%[]:@\\ !é\u2603\u200b", "xn--", "xn--a", "ab" * 40])
_HOSTS = st.lists(_HOST_CHARS, min_size=0, max_size=8).map("".join)
_PORTS = st.one_of(st.none(), st.integers(-1, 70_000).map(str), st.sampled_from(["", "x", "08"]))
_PATHS = st.sampled_from(["", "/", "/a b", "/é", "/?q=1", "/#f", "/@x", "/\t"])


@settings(max_examples=400, deadline=None)
@given(_HOSTS, _PORTS, _PATHS, st.sampled_from(["http", "https"]))
def test_a_url_validation_accepts_is_one_the_fetcher_can_send(
    host: str, port: str | None, path: str, scheme: str
) -> None:
    url = f"{scheme}://{host}" + (f":{port}" if port is not None else "") + path
    try:
        wl = parse_watchlist(in_watch(url))
    except ConfigError as exc:
        assert len(exc.problems) == 1, exc.problems
        return
    request = request_for(wl.watches[0].url, {}, {})  # raises UnsendableURL if it cannot
    sent = yarl.URL(str(request.url))  # as aiohttp reads what httpx hands it
    assert sent.host


# --- a user name or password in a URL ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        (
            "https://ann:hunter2@jobs.example/x",
            "'https://ann:***@jobs.example/x'",
            ["hunter2"],
        ),
        ("http://ann:hunter2@[::1]:8080/", "'http://ann:***@[::1]:8080/'", ["hunter2"]),
        # A user name alone is often a token: masked too.
        ("https://ghp_TOKEN42@jobs.example/", "'https://***@jobs.example/'", ["TOKEN42"]),
        # A password holding '@' is never shown in part.
        ("https://ann:hun@ter2@jobs.example/", "'https://ann:***@jobs.example/'", ["hun", "ter2"]),
    ],
)
def test_credentials_in_a_watch_url_are_refused_without_repeating_them(
    url: str, shown: str, secrets: list[str]
) -> None:
    message = one_url_problem(in_watch(url), 3, "watches[0].url")
    assert message == (
        f"the URL {shown} has a user name or password: scrubwatch would send it to the site "
        "as Basic auth and write it into evidence and alerts; remove it (there is no "
        "setting for a site's login yet)"
    )
    for secret in secrets:
        assert secret not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://ann:hun/ter2@jobs.example/",  # '/' ends the host part early
        "https://ann:hun#ter2@jobs.example/",
        "https://ann:hun?ter2@jobs.example/",
        "ftp://ann:hunter2@jobs.example/",
        "https://ann:hunter2@jobs example/",
        "https://ann:hunter2@[::1/",
    ],
)
def test_a_password_is_never_repeated_whatever_else_is_wrong(url: str) -> None:
    problems = problems_of(in_watch(url) + "  - url: '" + url + "'\n")
    assert problems
    for problem in problems:
        assert "hun" not in problem and "ter2" not in problem, problem


@pytest.mark.parametrize("key", ["wayback_endpoint", "slack_webhook"])
def test_credentials_in_a_settings_url_are_refused_too(key: str) -> None:
    message = one_url_problem(
        f"settings:\n  {key}: https://ann:hunter2@archive.example/\n", 2, f"settings.{key}"
    )
    assert "'https://ann:***@archive.example/'" in message
    assert "Basic auth" in message and "remove it" in message
    assert "hunter2" not in message


def test_two_watches_with_the_same_credentials_do_not_repeat_them_in_an_id() -> None:
    # Without an id, a watch's id is made from its URL: a password would be in it.
    url = "https://ann:hunter2@jobs.example/"
    problems = problems_of(f"watches:\n  - url: {url}\n  - url: {url}\n")
    assert len(problems) == 2
    assert not any("hunter2" in p for p in problems)
