"""Through the engine: a page goes, and the desk hears it once by email and once on Slack."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.alerts import channels as publishers
from scrubwatch.alerts import slack
from scrubwatch.alerts.channels import Route, SlackPublisher, SmtpPublisher
from scrubwatch.backends.local import SqliteStateStore
from scrubwatch.check.ports import Commit, Publisher
from scrubwatch.core.config import Watchlist
from support import Harness, Page, Site, page

from .support import Sleeps, SmtpServer, Webhook

Make = Callable[..., Harness]

AD = page(
    "Agency ad 1001",
    "<h1>Firmware Engineer (Urumqi)</h1><p>Posted by Lumen Optics.</p><p>Apply by June.</p>",
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps) -> Sleeps:
    """slack.post's real retries and attempts; its waits recorded instead of slept."""
    monkeypatch.setattr(publishers, "post", functools.partial(slack.post, sleep=sleeps))
    return sleeps


def channels(watchlist: Watchlist, webhook: Webhook) -> list[Publisher]:
    """Email and Slack, routed the way `scrubwatch check` routes them."""
    settings = watchlist.settings

    def notify_of(watch_id: str) -> tuple[str, ...]:
        watch = watchlist.get(watch_id)
        return watch.notify if watch else ()

    assert settings.email is not None
    return [
        SmtpPublisher(settings.email, Route("email", notify_of, settings.min_severity.email)),
        SlackPublisher(webhook.url, Route("slack", notify_of, settings.min_severity.slack)),
    ]


def ad_watch(site: Site, path: str = "/ads/1001.html", **extra: Any) -> dict[str, Any]:
    """Puts the ad up at ``path`` and returns a watch of it, told by email and Slack."""
    site.set(path, AD)
    return {
        "id": "ad-1001",
        "name": "Agency ad 1001",
        "url": site.url(path),
        "notify": ["email", "slack"],
        **extra,
    }


def headers(webhook: Webhook) -> list[str]:
    return [p["blocks"][0]["text"]["text"] for p in webhook.delivered()]


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp.messages]


def test_a_page_gone_is_one_email_and_one_slack_post_exactly_once(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    h = harness([ad_watch(site)], confirm_gone=1, email=smtp.settings())
    send = channels(h.watchlist, webhook)

    h.run(publishers=send)
    assert smtp.messages == [] and webhook.posts == []  # a first sighting is not news

    site.set("/ads/1001.html", Page(page("Not Found", "<h1>404</h1>"), status=404))
    h.run(publishers=send)

    assert subjects(smtp) == ["[scrubwatch] GONE: Agency ad 1001 (404)"]
    assert headers(webhook) == ["GONE: Agency ad 1001"]
    (mail,) = smtp.messages
    event_id = mail.message["Message-ID"].strip("<>").removesuffix("@scrubwatch")
    assert event_id[:12] in webhook.delivered()[0]["blocks"][-1]["elements"][0]["text"]
    body = mail.message.get_content()
    assert "Firmware Engineer (Urumqi)" in body
    assert site.url("/ads/1001.html") in body

    h.run(publishers=send)
    h.run(publishers=send)

    assert len(smtp.messages) == 1
    assert len(webhook.posts) == 1
    assert h.state.undelivered("email") == [] and h.state.undelivered("slack") == []
    assert h.reports[-1].undelivered == 0


def test_slack_down_keeps_its_alert_for_the_next_run_and_email_is_not_repeated(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook, fast_retries: Sleeps
) -> None:
    h = harness([ad_watch(site)], confirm_gone=1, email=smtp.settings())
    send = channels(h.watchlist, webhook)
    h.run(publishers=send)

    webhook.status = 500
    site.set("/ads/1001.html", Page("gone", status=404))
    h.run(publishers=send)

    assert subjects(smtp) == ["[scrubwatch] GONE: Agency ad 1001 (404)"]
    assert webhook.delivered() == []
    assert len(webhook.posts) == 4  # every attempt slack.post makes
    assert len(fast_retries.waits) >= 3
    assert h.reports[-1].undelivered == 1
    (kept,) = h.state.undelivered("slack")
    assert kept.kind == "gone"
    assert h.state.undelivered("email") == []

    webhook.status = 200
    h.run(publishers=send)

    assert headers(webhook) == ["GONE: Agency ad 1001"]
    assert webhook.delivered()[0]["blocks"][-1]["elements"][0]["text"].endswith(
        f"event {kept.event_id[:12]}"
    )
    assert len(smtp.messages) == 1  # email already had it

    h.run(publishers=send)
    assert len(webhook.delivered()) == 1 and len(smtp.messages) == 1
    assert h.reports[-1].undelivered == 0


def test_email_down_keeps_its_alert_and_slack_is_not_repeated(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook, closed_port: int
) -> None:
    down = {**smtp.settings(), "port": closed_port}
    watches = [ad_watch(site)]
    h_down = harness(watches, confirm_gone=1, email=down)
    h_down.run(publishers=channels(h_down.watchlist, webhook))
    site.set("/ads/1001.html", Page("gone", status=404))
    h_down.run(publishers=channels(h_down.watchlist, webhook))
    assert headers(webhook) == ["GONE: Agency ad 1001"]
    assert [e.kind for e in h_down.state.undelivered("email")] == ["gone"]

    # The mail server is back: the same state, a watch list pointing at it.
    h_up = harness(watches, confirm_gone=1, email=smtp.settings(), state=h_down.state)
    h_up.run(publishers=channels(h_up.watchlist, webhook))

    assert subjects(smtp) == ["[scrubwatch] GONE: Agency ad 1001 (404)"]
    assert len(webhook.posts) == 1


class CrashOnCommit(SqliteStateStore):
    """Dies once, before a batch is committed: the process died after the check."""

    armed = False

    def commit(self, commits: Sequence[Commit]) -> list[str]:
        if self.armed:
            self.armed = False
            raise RuntimeError("died before commit")
        return super().commit(commits)


def test_a_check_retried_after_a_crash_alerts_once(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook, tmp_path: Path
) -> None:
    store = CrashOnCommit(tmp_path / "crash.sqlite3")
    h = harness([ad_watch(site)], confirm_gone=1, email=smtp.settings(), state=store)
    send = [*channels(h.watchlist, webhook), h.collector]
    h.run(publishers=send)
    site.set("/ads/1001.html", Page("gone", status=404))

    store.armed = True
    with pytest.raises(RuntimeError, match="died before commit"):
        h.run(publishers=send)
    assert smtp.messages == [] and webhook.posts == []
    (gone,) = h.run(publishers=send)  # the retried check derives the same event again
    h.run(publishers=send)

    assert gone.kind == "gone"
    assert [m.message["Message-ID"] for m in smtp.messages] == [f"<{gone.event_id}@scrubwatch>"]
    assert len(webhook.posts) == 1


def test_an_event_id_already_delivered_is_never_delivered_again(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    # The outbox keeps one row per event id ("a channel that succeeded never gets it
    # twice"). If the same event reaches it again after it was delivered, as a retried or
    # replayed commit would bring it, no channel may be handed it a second time.
    h = harness([ad_watch(site)], confirm_gone=1, email=smtp.settings())
    send = [*channels(h.watchlist, webhook), h.collector]
    h.run(publishers=send)
    site.set("/ads/1001.html", Page("gone", status=404))
    (gone,) = h.run(publishers=send)
    assert len(webhook.delivered()) == 1 and len(smtp.messages) == 1

    state = h.state.load(["ad-1001"])["ad-1001"]
    again = Commit(state=state, event=gone, channels=("email", "slack", "collector"))
    assert h.state.commit([again]) == []
    h.run(publishers=send)

    assert len(webhook.delivered()) == 1
    assert len(smtp.messages) == 1
    assert [e.event_id for e in h.collector.events].count(gone.event_id) == 1


def test_min_severity_high_keeps_changes_off_slack_but_not_deletions(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    h = harness(
        [ad_watch(site)],
        confirm_gone=1,
        email=smtp.settings(),
        min_severity={"slack": "high"},
    )
    send = channels(h.watchlist, webhook)
    h.run(publishers=send)

    site.set("/ads/1001.html", AD.replace("Apply by June.", "Apply by July."))
    h.run(publishers=send)
    assert webhook.posts == []
    assert subjects(smtp) == ["[scrubwatch] CHANGED: Agency ad 1001"]
    assert h.state.undelivered("slack") == []  # not for Slack: done, not pending

    site.set("/ads/1001.html", Page("gone", status=410))
    h.run(publishers=send)
    assert headers(webhook) == ["GONE: Agency ad 1001"]
    assert subjects(smtp)[1:] == ["[scrubwatch] GONE: Agency ad 1001 (410)"]


def test_each_watch_is_told_only_where_it_asks(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    watches = [
        ad_watch(site, "/ads/1.html", id="mail-only", name="Mail only", notify=["email"]),
        ad_watch(site, "/ads/2.html", id="slack-only", name="Slack only", notify=["slack"]),
        ad_watch(site, "/ads/3.html", id="both", name="Both", notify=["email", "slack"]),
    ]
    h = harness(watches, confirm_gone=1, email=smtp.settings())
    send = channels(h.watchlist, webhook)
    h.run(publishers=send)
    for n in (1, 2, 3):
        site.set(f"/ads/{n}.html", Page("gone", status=404))

    h.run(publishers=send)

    assert sorted(subjects(smtp)) == [
        "[scrubwatch] GONE: Both (404)",
        "[scrubwatch] GONE: Mail only (404)",
    ]
    assert sorted(headers(webhook)) == ["GONE: Both", "GONE: Slack only"]
    assert h.state.undelivered("email") == [] and h.state.undelivered("slack") == []


def test_a_site_scrubbed_at_once_is_one_slack_digest_and_one_email(
    site: Site, harness: Make, smtp: SmtpServer, webhook: Webhook
) -> None:
    watches = [
        ad_watch(site, f"/ads/{n}.html", id=f"ad-{n}", name=f"Agency ad {n}") for n in range(8)
    ]
    h = harness(watches, confirm_gone=1, email=smtp.settings())
    send = channels(h.watchlist, webhook)
    h.run(publishers=send)
    for n in range(8):
        site.set(f"/ads/{n}.html", Page("gone", status=404))

    h.run(publishers=send)

    assert headers(webhook) == ["scrubwatch: 8 alerts (8 GONE)"]
    # Email too: one digest naming every ad, as on AWS, not eight messages.
    (email,) = smtp.messages
    assert email.message["Subject"] == "scrubwatch: 8 alerts (8 GONE)"
    text = email.message.get_content()
    assert all(f"Agency ad {n}" in text for n in range(8))
    h.run(publishers=send)
    assert len(webhook.posts) == 1 and len(smtp.messages) == 1
