"""A city's ads removed at once (issue 13): one email, one Slack message and one headline
on the terminal, naming the ads and the keyword they share, through the engine."""

from __future__ import annotations

import io
from collections.abc import Callable

from scrubwatch.alerts.channels import ConsolePublisher, SlackPublisher, SmtpPublisher
from scrubwatch.check.ports import Publisher
from scrubwatch.core.config import Watchlist
from scrubwatch.core.routing import routes
from support import Harness, Site, page

from .support import SmtpServer, Webhook

Make = Callable[..., Harness]
CITIES = {1001: "Urumqi", 1002: "Urumqi", 1003: "Shenzhen", 1004: "Urumqi", 1005: "Hangzhou"}
URUMQI = (1001, 1002, 1004)


def listing(site: Site, ids: list[int]) -> None:
    items = "".join(
        f'<li class="job"><a href="/jobs/{i}">Engineer {i}, {CITIES[i]}</a></li>' for i in ids
    )
    site.set("/jobs", page("Jobs", f"<ul>{items}</ul>"))


def publishers(watchlist: Watchlist, webhook: Webhook, console: io.StringIO) -> list[Publisher]:
    """Email, Slack and the terminal, routed as `scrubwatch check` routes them."""
    email, slack = routes(watchlist)
    assert watchlist.settings.email is not None
    return [
        SmtpPublisher(watchlist.settings.email, email),
        SlackPublisher(webhook.url, slack),
        ConsolePublisher(console),
    ]


def test_a_city_removed_at_once_is_one_alert_per_channel(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    for i, city in CITIES.items():
        site.set(f"/jobs/{i}", page(f"Ad {i}", f'<div id="job">Ad {i}, based in {city}.</div>'))
    listing(site, list(CITIES))
    watch = {
        "id": "jobs",
        "name": "Jobs",
        "url": site.url("/jobs"),
        "items": "li.job",
        "notify": ["email", "slack"],
        "discover": {"links": "li.job a", "child": {"select": "#job", "keywords": ["Urumqi"]}},
    }
    h = harness([watch], email=smtp.settings())
    console = io.StringIO()
    send = publishers(h.watchlist, webhook, console)
    h.run(publishers=send)
    listing(site, [1003, 1005])
    for i in URUMQI:
        site.pages.pop(f"/jobs/{i}")

    h.runs(3, publishers=send)

    headline = (
        "Jobs: 3 of 5 pages gone: Engineer 1001, Urumqi; Engineer 1002, Urumqi; "
        "Engineer 1004, Urumqi — all mention Urumqi, none of the 2 remaining do"
    )
    (email,) = smtp.messages
    assert email.message["Subject"] == f"scrubwatch: {headline}"[:98] + "…"
    assert email.message.get_content().startswith(headline)
    (post,) = webhook.delivered()
    assert headline in post["blocks"][1]["text"]["text"]
    assert f"[SCRUBBED] {headline}" in console.getvalue()
