"""Where events go from the command line: the terminal or a pipe, email, Slack."""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, TextIO

import httpx

from ..core import terminal
from ..core.config import EmailSettings
from ..core.events import Event
from ..core.render import console_text, email_posts, email_text, scrubs, slack_posts, subject
from ..core.routing import Route
from .slack import SlackDeliveryFailed, post

log = logging.getLogger("scrubwatch")

# Records event ids as delivered on this channel. A publisher that sends several messages
# calls it after each one, so a process killed half-way through a delivery has recorded
# what already went out and the next run does not send it again (the engine records the
# whole list only once `publish` returns).
MarkDelivered = Callable[[Sequence[str]], None]


def _no_mark(event_ids: Sequence[str]) -> None:
    pass


class JsonLinesPublisher:
    """One event per line, ``scrubwatch.event/1``, for pipes and other programs."""

    name = "stdout"

    def __init__(self, stream: TextIO, before: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self.before = before  # called before writing (clears a progress bar)

    def publish(self, events: Sequence[Event]) -> list[str]:
        if events and self.before:
            self.before()
        for event in events:
            self.stream.write(event.dumps() + "\n")
        self.stream.flush()
        return [e.event_id for e in events]


class ConsolePublisher:
    """A short readable block per event for a person at a terminal."""

    name = "stdout"

    def __init__(
        self,
        stream: TextIO,
        show_first_seen: bool = False,
        max_lines: int = 5,
        before: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self.show_first_seen = show_first_seen
        self.max_lines = max_lines
        self.before = before  # called before writing (clears a progress bar)

    def publish(self, events: Sequence[Event]) -> list[str]:
        if events and self.before:
            self.before()
        for headline, _ in scrubs(events):
            self.stream.write(terminal.safe(f"[SCRUBBED] {headline}") + "\n\n")
        for event in events:
            if event.kind == "first_seen" and not self.show_first_seen:
                continue
            self.stream.write(self.render(event))
        self.stream.flush()
        return [e.event_id for e in events]

    def render(self, event: Event) -> str:
        return console_text(event, self.max_lines)


class SmtpPublisher:
    """One email per event, or one digest for a burst (as Slack and email on AWS), over one
    SMTP connection per delivery."""

    name = "email"

    def __init__(
        self,
        settings: EmailSettings,
        route: Route,
        mark: MarkDelivered | None = None,
        pictures: Callable[[Event], tuple[bytes, str] | None] | None = None,
    ) -> None:
        self.settings = settings
        self.route = route
        self.mark = mark or _no_mark
        # A rendered page's before/after picture, attached to its alert (render: browser).
        self.pictures = pictures
        self.password: str | None = None
        if settings.password_env:
            self.password = os.environ.get(settings.password_env)
            if self.password is None:
                raise ValueError(
                    f"settings.email.password_env names {settings.password_env}, "
                    "which is not set in the environment"
                )

    def message(self, event: Event) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = subject(event)
        msg["From"] = self.settings.from_
        msg["To"] = ", ".join(self.settings.to)
        msg["Date"] = formatdate(usegmt=True)
        # The same event always has the same Message-ID, so a resend is recognisable.
        msg["Message-ID"] = f"<{event.event_id}@scrubwatch>"
        msg["X-Scrubwatch-Kind"] = event.kind
        msg["X-Scrubwatch-Watch"] = event.watch
        msg.set_content(email_text(event))
        picture = self.pictures(event) if self.pictures and event.visual else None
        if picture is not None:
            data, mime = picture
            kind = mime.split("/", 1)[1]
            name = (
                f"{event.watch.replace('/', '-')}-before-after.{'jpg' if kind == 'jpeg' else kind}"
            )
            msg.add_attachment(data, maintype="image", subtype=kind, filename=name)
        return msg

    def digest(self, title: str, body: str, told: Sequence[Event]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = title
        msg["From"] = self.settings.from_
        msg["To"] = ", ".join(self.settings.to)
        msg["Date"] = formatdate(usegmt=True)
        # The same alerts told together again have the same Message-ID.
        ids = hashlib.sha256("\n".join(e.event_id for e in told).encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<digest-{ids}@scrubwatch>"
        msg["X-Scrubwatch-Kind"] = "digest"
        msg.set_content(body)
        return msg

    def publish(self, events: Sequence[Event]) -> list[str]:
        done = [e.event_id for e in events if not self.route.wants(e)]
        wanted = [e for e in events if self.route.wants(e)]
        if not wanted:
            return done
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.username:
                    smtp.login(s.username, self.password or "")
                for title, body, told in email_posts(wanted):
                    one = len(told) == 1
                    smtp.send_message(
                        self.message(told[0]) if one else self.digest(title, body, told)
                    )
                    ids = [e.event_id for e in told]
                    self.mark(ids)  # before the next message: see MarkDelivered
                    done.extend(ids)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("email delivery failed (%s); %d event(s) kept", exc, len(wanted))
        return done


class SlackPublisher:
    """Posts to an incoming webhook; a burst becomes one digest instead of many posts."""

    name = "slack"

    def __init__(
        self,
        webhook: str,
        route: Route,
        client: httpx.Client | None = None,
        mark: MarkDelivered | None = None,
    ) -> None:
        self.webhook = webhook
        self.route = route
        self.client = client or httpx.Client(timeout=15)
        self.mark = mark or _no_mark

    def messages(self, wanted: Sequence[Event]) -> list[tuple[dict[str, Any], list[str]]]:
        """Each message to post, with the ids of the events it tells of."""
        return [(post, [e.event_id for e in told]) for post, told in slack_posts(wanted)]

    def publish(self, events: Sequence[Event]) -> list[str]:
        done = [e.event_id for e in events if not self.route.wants(e)]
        wanted = [e for e in events if self.route.wants(e)]
        try:
            for payload, event_ids in self.messages(wanted):
                post(self.client, self.webhook, payload)
                self.mark(event_ids)  # before the next post: see MarkDelivered
                done.extend(event_ids)
        except SlackDeliveryFailed as exc:
            log.error("Slack delivery failed (%s); undelivered events kept", exc)
        return done
