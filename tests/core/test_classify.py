"""What one fetch says: ok, not_modified, gone, blocked or error, and why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrubwatch.check.fetch import Fetch, Hop
from scrubwatch.core.classify import (
    Outcome,
    classify,
    is_ancestor_redirect,
    looks_not_found,
    same_as_missing_page,
)
from scrubwatch.core.reader import Reading, ReadSpec, read_page

WATCHED = "https://agency.example/agency/jobs/1002.html"
AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def fetch(
    status: int | None = 200,
    *,
    url: str = WATCHED,
    final_url: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    hops: list[Hop] | None = None,
    error: str | None = None,
    detail: str = "",
    body: bytes = b"",
) -> Fetch:
    return Fetch(
        url=url,
        final_url=final_url or url,
        fetched_at=AT,
        status=status,
        headers=headers or [],
        hops=hops or [],
        error=error,
        error_detail=detail,
        body=body,
        content=body,
    )


def html(body: str, url: str = WATCHED) -> Reading:
    return read_page(body.encode("utf-8"), {"content-type": "text/html"}, url, ReadSpec())


JOB_PAGE = html(
    "<html><head><title>Research engineer - Agency</title></head>"
    "<body><h1>Research engineer</h1><p>Apply by May.</p></body></html>"
)


def redirected(to: str, frm: str = WATCHED, status: int = 301) -> Fetch:
    return fetch(200, url=frm, final_url=to, hops=[Hop(frm, status, to)])


# --- gone, blocked, error by status -----------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 451])
def test_gone_statuses(status: int) -> None:
    outcome = classify(fetch(status), None, WATCHED)
    assert outcome == Outcome("gone", f"http_{status}")


@pytest.mark.parametrize("status", [404, 410])
def test_gone_status_with_a_body(status: int) -> None:
    page = html("<html><head><title>Oops</title></head><body><p>Nothing</p></body></html>")
    assert classify(fetch(status), page, WATCHED).kind == "gone"


@pytest.mark.parametrize("status", [401, 403, 407, 429])
def test_blocked_statuses(status: int) -> None:
    outcome = classify(fetch(status), None, WATCHED)
    assert outcome.kind == "blocked"
    assert outcome.reason == f"http_{status}"


def test_cf_mitigated_challenge_header_is_blocked() -> None:
    f = fetch(200, headers=[("CF-Mitigated", "challenge")])
    outcome = classify(f, JOB_PAGE, WATCHED)
    assert (outcome.kind, outcome.reason) == ("blocked", "challenge")


def test_cf_mitigated_challenge_on_403_is_blocked() -> None:
    f = fetch(403, headers=[("cf-mitigated", "Challenge")])
    assert classify(f, JOB_PAGE, WATCHED).kind == "blocked"


@pytest.mark.parametrize("status", [404, 410])
def test_challenge_is_never_gone_whatever_its_status(status: int) -> None:
    # The response is the challenge, not the page: whatever its status, it says nothing
    # about whether the page still exists.
    f = fetch(status, headers=[("cf-mitigated", "challenge")])
    assert classify(f, None, WATCHED).kind == "blocked"


@pytest.mark.parametrize(
    "title",
    [
        "Just a moment...",
        "Attention Required! | Cloudflare",
        "DDoS-Guard",
        "安全验证",
        "Access denied",
    ],
)
def test_challenge_titles_are_blocked_not_gone(title: str) -> None:
    page = html(f"<html><head><title>{title}</title></head><body><p>checking</p></body></html>")
    outcome = classify(fetch(200), page, WATCHED)
    assert outcome.kind == "blocked"
    assert outcome.reason == "challenge"


def test_challenge_title_with_503_is_blocked() -> None:
    page = html("<html><head><title>Just a moment...</title></head><body></body></html>")
    outcome = classify(fetch(503), page, WATCHED)
    assert outcome.kind == "blocked"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_server_errors(status: int) -> None:
    outcome = classify(fetch(status), None, WATCHED)
    assert outcome.kind == "error"
    assert outcome.reason == "http_5xx"
    assert str(status) in outcome.detail


def test_other_4xx_is_an_error_not_gone() -> None:
    outcome = classify(fetch(418), None, WATCHED)
    assert outcome.kind == "error"
    assert outcome.reason == "http_4xx"


def test_redirect_status_left_over_is_an_error() -> None:
    assert classify(fetch(302), None, WATCHED).kind == "error"


def test_not_modified() -> None:
    assert classify(fetch(304), None, WATCHED) == Outcome("not_modified")


def test_ok() -> None:
    assert classify(fetch(200), JOB_PAGE, WATCHED) == Outcome("ok")
    assert classify(fetch(200), JOB_PAGE, None) == Outcome("ok")


# --- fetch errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", ["timeout", "connect", "too_large", "forbidden_address", "dns_error", "protocol"]
)
def test_fetch_error_is_an_error_with_that_reason(error: str) -> None:
    outcome = classify(fetch(None, error=error, detail="boom"), None, WATCHED)
    assert outcome == Outcome("error", error, "boom")


def test_dns_name_gone_is_gone_dns() -> None:
    outcome = classify(fetch(None, error="dns", detail="NXDOMAIN"), None, WATCHED)
    assert outcome == Outcome("gone", "dns", "NXDOMAIN")


def test_forbidden_address_is_immediate_and_others_are_not() -> None:
    assert Outcome("error", "forbidden_address").immediate
    assert not Outcome("error", "timeout").immediate
    assert not Outcome("blocked", "http_403").immediate
    assert not Outcome("gone", "http_404").immediate


# --- gone by redirect -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://agency.example/",
        "https://agency.example/agency/",
        "https://agency.example/agency",
        "https://agency.example/agency/jobs/",
        "https://agency.example/?from=1002",
    ],
)
def test_redirect_to_root_or_ancestor_is_gone(target: str) -> None:
    outcome = classify(redirected(target), JOB_PAGE, WATCHED)
    assert outcome.kind == "gone"
    assert outcome.reason == "redirect"
    assert target in outcome.detail


def test_redirect_chain_to_an_ancestor_is_gone() -> None:
    mid = "https://agency.example/jobs/1002"
    f = fetch(
        200,
        final_url="https://agency.example/agency/",
        hops=[Hop(WATCHED, 301, mid), Hop(mid, 302, "https://agency.example/agency/")],
    )
    assert classify(f, JOB_PAGE, WATCHED).reason == "redirect"


def test_redirect_on_the_first_check_is_not_gone() -> None:
    # Before the first good check there is nothing to compare with: it may always have
    # redirected there.
    assert classify(redirected("https://agency.example/agency/"), JOB_PAGE, None) == Outcome("ok")
    assert classify(redirected("https://agency.example/"), JOB_PAGE, None) == Outcome("ok")


def test_redirect_that_was_already_there_is_not_gone() -> None:
    f = redirected("https://agency.example/agency/")
    assert classify(f, JOB_PAGE, "https://agency.example/agency/") == Outcome("ok")


def test_http_to_https_same_path_is_not_gone() -> None:
    http = WATCHED.replace("https://", "http://")
    f = redirected(WATCHED, frm=http)
    assert classify(f, JOB_PAGE, http) == Outcome("ok")
    assert classify(f, JOB_PAGE, WATCHED) == Outcome("ok")


def test_trailing_slash_redirect_is_not_gone() -> None:
    watched = "https://agency.example/agency/jobs"
    f = redirected("https://agency.example/agency/jobs/", frm=watched)
    assert classify(f, JOB_PAGE, watched) == Outcome("ok")


@pytest.mark.parametrize(
    "target",
    [
        "https://agency.example/agency/jobsearch",
        "https://agency.example/other/",
        "https://agency.example/agency/jobs/1002-research-engineer.html",
        "https://agency.example/agency/jobs/1002.html/details",
    ],
)
def test_redirect_elsewhere_is_not_gone(target: str) -> None:
    assert classify(redirected(target), JOB_PAGE, WATCHED) == Outcome("ok")


def test_final_url_without_hops_is_not_a_redirect() -> None:
    f = fetch(200, final_url="https://agency.example/")
    assert classify(f, JOB_PAGE, WATCHED) == Outcome("ok")


@pytest.mark.parametrize(
    ("watched", "final", "expected"),
    [
        ("https://a.example/agency/jobs/1002.html", "https://a.example/agency/", True),
        ("https://a.example/agency/jobs/1002.html", "https://a.example/", True),
        ("https://a.example/agency/jobs/1002.html", "https://a.example", True),
        (
            "https://a.example/agency/jobs/1002.html",
            "https://a.example/agency/jobs/1002.html",
            False,
        ),
        ("https://a.example/agency/jobs/1002.html", "https://a.example/agen", False),
        ("https://a.example/agency/jobs/1002.html", "https://a.example/jobs/", False),
        ("https://a.example/", "https://a.example/", False),
        ("https://a.example/x", "https://a.example/x/", False),
    ],
)
def test_is_ancestor_redirect(watched: str, final: str, expected: bool) -> None:
    assert is_ancestor_redirect(watched, final) is expected


# --- soft 404 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("Page Not Found", "<p>Sorry</p>"),
        ("404 Not Found", ""),
        ("Agency", "<h1>This page isn't available</h1>"),
        ("Agency", "<h1>The page no longer exists</h1>"),
        ("页面不存在", "<p>返回首页</p>"),
        ("招聘", "<h1>抱歉，您访问的页面不存在</h1>"),
        ("职位已下线 - 招聘", ""),
        ("找不到页面", ""),
    ],
)
def test_soft_404_by_phrase_in_title_or_h1(title: str, body: str) -> None:
    page = html(f"<html><head><title>{title}</title></head><body>{body}</body></html>")
    assert looks_not_found(page)
    outcome = classify(fetch(200), page, WATCHED)
    assert outcome.kind == "gone"
    assert outcome.reason == "soft_404"


@pytest.mark.parametrize(
    "title",
    ["404", "404 | Agency", "404 error", "Error 404", "Agency - 404", "Oops! 404", "404 - Agency"],
)
def test_a_404_status_in_the_title_is_a_soft_404(title: str) -> None:
    page = html(f"<html><head><title>{title}</title></head><body><p>x</p></body></html>")
    assert classify(fetch(200), page, WATCHED) == Outcome(
        "gone", "soft_404", f"page titled {title!r}"
    )


def test_soft_404_phrase_only_in_the_body_is_not_gone() -> None:
    page = html(
        "<html><head><title>Research engineer</title></head><body><h1>Research engineer</h1>"
        "<p>If the page is not found, call us.</p></body></html>"
    )
    assert not looks_not_found(page)
    assert classify(fetch(200), page, WATCHED) == Outcome("ok")


@pytest.mark.parametrize(
    "title",
    [
        "Job 1404: Research engineer",
        "Room 404B - Campus map",
        "Reference 24049 - Tender notice",
        # The number is the name: an ad, a room, an address.
        "Ad 404",
        "Room 404",
        "Job 404: Research engineer",
        "404 Main Street - Apartments",
        "Meeting Room 404 booking",
    ],
)
def test_a_number_containing_404_in_the_title_is_not_a_soft_404(title: str) -> None:
    # A job, room or reference number that happens to contain the digits 404 is no
    # "not found" page; reading it as one would report a live page GONE.
    page = html(f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>")
    assert classify(fetch(200), page, WATCHED) == Outcome("ok")


def test_soft_404_is_not_applied_to_non_html() -> None:
    text = read_page(b"Page not found", {"content-type": "text/plain"}, WATCHED, ReadSpec())
    assert classify(fetch(200), text, WATCHED) == Outcome("ok")


# --- same as what the host returns for a missing path -----------------------------------

NOT_FOUND_SHELL = (
    "<html><head><title>Agency Careers</title></head><body><nav>Home Jobs About</nav>"
    "<p>We could not find what you were looking for. Try the search box or browse "
    "all open positions from the careers home page.</p><footer>Agency 2024</footer>"
    "</body></html>"
)


def test_same_as_missing_page_when_identical() -> None:
    a = html(NOT_FOUND_SHELL)
    b = html(NOT_FOUND_SHELL, url="https://agency.example/scrubwatch-probe-1")
    assert same_as_missing_page(a, b)


def test_same_as_missing_page_when_nearly_identical() -> None:
    a = html(NOT_FOUND_SHELL)
    b = html(NOT_FOUND_SHELL.replace("Agency 2024", "Agency 2025"))
    assert same_as_missing_page(a, b)


def test_not_same_when_titles_differ() -> None:
    a = html(NOT_FOUND_SHELL)
    b = html(NOT_FOUND_SHELL.replace("<title>Agency Careers", "<title>Research engineer"))
    assert not same_as_missing_page(a, b)


def test_not_same_when_content_differs() -> None:
    a = html(NOT_FOUND_SHELL)
    b = html(
        "<html><head><title>Agency Careers</title></head><body><nav>Home Jobs About</nav>"
        "<h1>Research engineer</h1><p>Build models of the regional labour market; "
        "three years of experience; based in Urumqi; apply before 30 May.</p></body></html>"
    )
    assert not same_as_missing_page(a, b)


def test_not_same_for_non_html() -> None:
    text = read_page(b"same", {"content-type": "text/plain"}, WATCHED, ReadSpec())
    assert not same_as_missing_page(text, text)
