"""Email through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from scrubwatch.alerts.channels import Route, SmtpPublisher
from scrubwatch.core.config import EmailSettings
from scrubwatch.core.render import email_text, subject

from . import samples
from .support import SmtpServer, email_settings


def everyone(watch: str) -> tuple[str, ...]:
    return ("email", "slack")


def to_email(notify_of: Callable[[str], Sequence[str]] = everyone, minimum: str = "low") -> Route:
    return Route("email", notify_of, minimum)


def body(message: EmailMessage) -> str:
    """The text as the reader sees it (SMTP carries CRLF line ends)."""
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def settings(server: SmtpServer, **extra: object) -> EmailSettings:
    return EmailSettings.model_validate(server.settings(**extra))


def nobody_listening(port: int) -> EmailSettings:
    return EmailSettings.model_validate(email_settings("127.0.0.1", port))


def test_one_message_per_event_with_subject_addresses_id_and_body(smtp: SmtpServer) -> None:
    events = [samples.changed(), samples.gone_404(), samples.error()]

    done = SmtpPublisher(settings(smtp), to_email()).publish(events)

    assert done == [e.event_id for e in events]
    assert len(smtp.messages) == 3
    for event, got in zip(events, smtp.messages, strict=True):
        msg = got.message
        assert got.mail_from == "scrubwatch@newsroom.example"
        assert got.rcpt_tos == ["desk@newsroom.example", "reporter@newsroom.example"]
        assert msg["Subject"] == subject(event)
        assert msg["From"] == "scrubwatch@newsroom.example"
        assert [a.addr_spec for a in msg["To"].addresses] == got.rcpt_tos
        assert msg["Message-ID"] == f"<{event.event_id}@scrubwatch>"
        assert msg["Date"]
        assert msg["X-Scrubwatch-Kind"] == event.kind
        assert msg["X-Scrubwatch-Watch"] == event.watch
        assert msg.get_content_type() == "text/plain"
        assert body(msg) == email_text(event)
        assert got.login is None


def test_a_long_multiline_name_gives_a_one_line_subject(smtp: SmtpServer) -> None:
    event = replace(samples.gone_404(), name=("招聘广告\n乌鲁木齐\r\n" * 60)[:500])

    SmtpPublisher(settings(smtp), to_email()).publish([event])

    (got,) = smtp.messages
    received = str(got.message["Subject"])
    assert "\n" not in received and "\r" not in received
    assert len(received) < 100
    # A long non-ASCII subject is folded into several encoded words; the mail library may
    # drop a space at a fold (RFC 2047 ignores whitespace between encoded words).
    assert "".join(received.split()) == "".join(subject(event).split())
    assert body(got.message) == email_text(event)


def test_events_not_for_email_are_done_but_not_sent(smtp: SmtpServer) -> None:
    def notify_of(watch: str) -> tuple[str, ...]:
        return ("slack",) if watch == "careers" else ("email",)

    slack_only = samples.changed()  # watch "careers": notify: [slack]
    first = samples.first_seen()  # a first sighting is a record, never an alert
    gone = samples.gone_404()

    done = SmtpPublisher(settings(smtp), to_email(notify_of)).publish([slack_only, first, gone])

    assert sorted(done) == sorted([slack_only.event_id, first.event_id, gone.event_id])
    assert [m.message["Message-ID"] for m in smtp.messages] == [f"<{gone.event_id}@scrubwatch>"]


def test_nothing_wanted_opens_no_connection(closed_port: int) -> None:
    first = samples.first_seen()

    done = SmtpPublisher(nobody_listening(closed_port), to_email()).publish([first])

    assert done == [first.event_id]


def test_min_severity_keeps_lesser_events_out_of_the_inbox(smtp: SmtpServer) -> None:
    events = [samples.changed(), samples.error(), samples.element_missing()]

    done = SmtpPublisher(settings(smtp), to_email(minimum="high")).publish(events)

    assert sorted(done) == sorted(e.event_id for e in events)
    assert [m.message["X-Scrubwatch-Kind"] for m in smtp.messages] == ["element_missing"]


def test_password_is_read_from_the_variable_password_env_names(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBWATCH_TEST_SMTP_PASSWORD", "s3cret-from-env")
    config = settings(smtp, username="alerts", password_env="SCRUBWATCH_TEST_SMTP_PASSWORD")

    done = SmtpPublisher(config, to_email()).publish([samples.gone_404()])

    assert done == [samples.gone_404().event_id]
    (got,) = smtp.messages
    assert got.login == "alerts:s3cret-from-env"


def test_password_env_naming_a_missing_variable_is_refused(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRUBWATCH_TEST_NO_SUCH_PASSWORD", raising=False)
    config = settings(smtp, username="alerts", password_env="SCRUBWATCH_TEST_NO_SUCH_PASSWORD")

    with pytest.raises(ValueError, match="SCRUBWATCH_TEST_NO_SUCH_PASSWORD"):
        SmtpPublisher(config, to_email())


def test_a_wrong_password_delivers_nothing(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBWATCH_TEST_SMTP_PASSWORD", "wrong")
    config = settings(smtp, username="alerts", password_env="SCRUBWATCH_TEST_SMTP_PASSWORD")

    done = SmtpPublisher(config, to_email()).publish([samples.gone_404()])

    assert done == []
    assert smtp.messages == []


def test_smtp_server_down_delivers_nothing(closed_port: int) -> None:
    first = samples.first_seen()
    events = [samples.gone_404(), first, samples.changed()]

    done = SmtpPublisher(nobody_listening(closed_port), to_email()).publish(events)

    assert done == [first.event_id]  # only what was never for email


def test_display_names_in_from_and_to_survive(smtp: SmtpServer) -> None:
    config = settings(
        smtp,
        **{"from": "Scrubwatch <alerts@newsroom.example>", "to": ["Desk <desk@newsroom.example>"]},
    )

    SmtpPublisher(config, to_email()).publish([samples.gone_404()])

    (got,) = smtp.messages
    assert got.mail_from == "alerts@newsroom.example"
    assert got.rcpt_tos == ["desk@newsroom.example"]
    assert got.message["From"].addresses == (
        Address("Scrubwatch", addr_spec="alerts@newsroom.example"),
    )
