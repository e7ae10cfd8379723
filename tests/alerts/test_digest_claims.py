"""A delivery killed half-way is not sent again whole: each Slack post and each email is
recorded as delivered as soon as it is sent, before the next one goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from scrubwatch.alerts.channels import SlackPublisher, SmtpPublisher
from scrubwatch.core.config import EmailSettings
from scrubwatch.core.events import Event
from scrubwatch.core.render import DIGEST_OVER
from scrubwatch.core.routing import Route
from support import Page, Site, page
from werkzeug.wrappers import Request, Response

from . import samples
from .support import Mailbox, SmtpServer, Webhook, email_settings, serving_smtp

SCRUBWATCH = str(Path(sys.executable).with_name("scrubwatch"))
ADS = DIGEST_OVER  # no more than that: one post per event
KILLED_AT = 3  # the engine dies while its third message is being sent


def gone_events(n: int) -> list[Event]:
    base = samples.gone_404()
    return [
        replace(base, event_id=f"{i:032x}", watch=f"ad-{i}", name=f"Agency ad {i}")
        for i in range(n)
    ]


def to(channel: str) -> Route:
    return Route(channel, lambda watch: ("email", "slack"), "low")


# --- in one process: when each message is recorded ----------------------------------------


def test_each_slack_post_is_recorded_before_the_next_is_sent(webhook: Webhook) -> None:
    events = gone_events(ADS)
    posts_when_marked: list[tuple[list[str], int]] = []

    def mark(event_ids: Sequence[str]) -> None:
        posts_when_marked.append((list(event_ids), len(webhook.posts)))

    done = SlackPublisher(webhook.url, to("slack"), mark=mark).publish(events)

    assert done == [e.event_id for e in events]
    # The k-th event is recorded once the k-th post is answered, before post k + 1.
    assert posts_when_marked == [([e.event_id], k + 1) for k, e in enumerate(events)]


def test_a_digest_is_recorded_whole_once_posted_and_not_at_all_if_refused(
    webhook: Webhook,
) -> None:
    events = gone_events(8)
    marked: list[list[str]] = []

    SlackPublisher(webhook.url, to("slack"), mark=lambda ids: marked.append(list(ids))).publish(
        events
    )
    assert marked == [[e.event_id for e in events]]
    assert len(webhook.posts) == 1

    webhook.status = 400
    marked.clear()
    done = SlackPublisher(
        webhook.url, to("slack"), mark=lambda ids: marked.append(list(ids))
    ).publish(events)
    assert done == [] and marked == []


def test_each_email_is_recorded_before_the_next_is_sent(smtp: SmtpServer) -> None:
    events = gone_events(3)
    sent_when_marked: list[tuple[list[str], int]] = []

    def mark(event_ids: Sequence[str]) -> None:
        sent_when_marked.append((list(event_ids), len(smtp.messages)))

    settings = EmailSettings.model_validate(smtp.settings())
    done = SmtpPublisher(settings, to("email"), mark=mark).publish(events)

    assert done == [e.event_id for e in events]
    assert sent_when_marked == [([e.event_id], k + 1) for k, e in enumerate(events)]


# --- `scrubwatch check` killed half-way through a delivery ---------------------------------


class Killer:
    """Kills the `scrubwatch check` it is aimed at while that sends its KILLED_AT-th
    message, which is then not delivered (nobody was left to hear it was)."""

    def __init__(self) -> None:
        self.seen = 0
        self._pid = 0
        self._aimed = threading.Event()
        self._lock = threading.Lock()

    def aim(self, pid: int) -> None:
        self._pid = pid
        self._aimed.set()

    def deliver(self) -> bool:
        """Whether the message that just arrived counts as delivered."""
        with self._lock:
            self.seen += 1
            if self.seen != KILLED_AT:
                return True
        assert self._aimed.wait(30), "no process to kill"
        os.kill(self._pid, signal.SIGKILL)
        return False


class KillingWebhook(Webhook):
    def __init__(self, server: HTTPServer, killer: Killer) -> None:
        self.killer = killer
        super().__init__(server)

    def _handle(self, request: Request) -> Response:
        if not self.killer.deliver():
            return Response("the sender died", status=500)
        return super()._handle(request)


class KillingMailbox(Mailbox):
    def __init__(self, killer: Killer) -> None:
        super().__init__()
        self.killer = killer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.killer.deliver():
            return "451 the sender died"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def killing_smtp(killer: Killer) -> Iterator[SmtpServer]:
    with serving_smtp(KillingMailbox(killer)) as server:
        yield server


@pytest.fixture
def killer() -> Killer:
    return Killer()


def ads(site: Site, channel: str) -> list[dict[str, Any]]:
    """ADS pages up, each watched and told to ``channel`` alone."""
    watches: list[dict[str, Any]] = []
    for n in range(ADS):
        site.set(f"/ads/{n}.html", page(f"Agency ad {n}", f"<h1>Job {n}</h1>"))
        url = site.url(f"/ads/{n}.html")
        watches.append({"id": f"ad-{n}", "name": f"Agency ad {n}", "url": url, "notify": [channel]})
    return watches


def check(config: Path, state: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [SCRUBWATCH, "check", "--force", "-c", str(config), "--state", str(state)],
            env=env,
            stdout=out,
            stderr=out,
        )


def run_killed_then_again(
    tmp_path: Path,
    site: Site,
    watches: list[dict[str, Any]],
    settings: dict[str, Any],
    env: dict[str, str],
    killer: Killer,
) -> None:
    """A baseline run, then every ad gone and a run killed mid-delivery, then a rerun."""
    base = {"allow_networks": ["127.0.0.1/32"], "retries": 0, "confirm_gone": 1}
    config = tmp_path / "watchlist.yaml"
    data = {"settings": {**base, **settings}, "watches": watches}
    config.write_text(yaml.safe_dump(data), "utf-8")
    state, log = tmp_path / "state", tmp_path / "runs.log"
    assert check(config, state, env, log).wait(60) == 0, log.read_text()

    for n in range(ADS):
        site.set(f"/ads/{n}.html", Page("gone", status=404))
    killed = check(config, state, env, log)
    killer.aim(killed.pid)
    assert killed.wait(60) == -signal.SIGKILL, log.read_text()
    assert killer.seen == KILLED_AT

    assert check(config, state, env, log).wait(60) == 0, log.read_text()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUBWATCH_")}
    return {**env, **extra}


def test_slack_posts_sent_before_a_kill_are_not_posted_again(
    tmp_path: Path, site: Site, slack_server: HTTPServer, killer: Killer
) -> None:
    webhook = KillingWebhook(slack_server, killer)
    env = _env(SCRUBWATCH_SLACK_WEBHOOK=webhook.url)

    run_killed_then_again(tmp_path, site, ads(site, "slack"), {}, env, killer)

    headers = sorted(p["blocks"][0]["text"]["text"] for p in webhook.delivered())
    assert headers == [f"GONE: Agency ad {n}" for n in range(ADS)]


def test_emails_sent_before_a_kill_are_not_sent_again(
    tmp_path: Path, site: Site, killing_smtp: SmtpServer, killer: Killer
) -> None:
    settings = {"email": email_settings(killing_smtp.host, killing_smtp.port)}

    run_killed_then_again(tmp_path, site, ads(site, "email"), settings, _env(), killer)

    subjects = sorted(str(m.message["Subject"]) for m in killing_smtp.messages)
    assert subjects == [f"[scrubwatch] GONE: Agency ad {n} (404)" for n in range(ADS)]
