"""Delivery configured or refused: `routing.delivery_problems`, which `validate` (and
`check`) use, one `FILE:LINE: FIELD: message` line per channel asked for but not set up."""

from __future__ import annotations

from dataclasses import replace

from scrubwatch.core.config import parse_watchlist
from scrubwatch.core.routing import delivery_problems


def email(extra: str = "") -> str:
    """A settings.email line (and more lines when ``extra`` has a newline)."""
    return (
        "  email: {host: smtp.example.org, from: a@example.org, to: [desk@example.org]"
        + extra
        + "}\n"
    )


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    return delivery_problems(parse_watchlist(text, "wl.yaml"), environ or {})


def test_email_in_notify_without_settings_email() -> None:
    text = (
        "watches:\n"  # 1
        "  - url: https://a.example/\n"  # 2
        "    notify: [email]\n"  # 3
    )
    assert problems(text) == [
        "wl.yaml:3: watches[0].notify: 'email' is not configured: add settings.email "
        "(see README) or remove it from notify"
    ]


def test_slack_in_notify_without_a_webhook() -> None:
    text = (
        "watches:\n  - url: https://a.example/\n  - url: https://b.example/\n    notify: [slack]\n"
    )
    assert problems(text) == [
        "wl.yaml:4: watches[1].notify: 'slack' is not configured: add settings.slack_webhook "
        "(or set SCRUBWATCH_SLACK_WEBHOOK) or remove it from notify"
    ]


def test_slack_is_configured_by_the_setting_or_the_environment() -> None:
    text = "watches:\n  - url: https://a.example/\n    notify: [slack]\n"
    assert problems(text, {"SCRUBWATCH_SLACK_WEBHOOK": "https://hooks.slack.com/x"}) == []
    assert problems(text, {"SCRUBWATCH_SLACK_WEBHOOK": ""}) != []
    assert problems("settings:\n  slack_webhook: https://hooks.slack.com/x\n" + text) == []


def test_email_is_configured_by_settings_email() -> None:
    text = "settings:\n" + email() + "watches:\n  - url: https://a.example/\n    notify: [email]\n"
    assert problems(text) == []


def test_every_watch_and_channel_is_one_line_in_file_order() -> None:
    text = (
        "watches:\n"  # 1
        "  - url: https://a.example/\n"  # 2
        "    notify: [email, slack]\n"  # 3
        "  - url: https://b.example/\n"  # 4
        "    notify: []\n"  # 5
        "  - url: https://c.example/\n"  # 6
        "    notify: [slack]\n"  # 7
    )
    found = [p.split(": ")[:3] for p in problems(text)]
    assert found == [
        ["wl.yaml:3", "watches[0].notify", "'email' is not configured"],
        ["wl.yaml:3", "watches[0].notify", "'slack' is not configured"],
        ["wl.yaml:7", "watches[2].notify", "'slack' is not configured"],
    ]


def test_a_notify_written_in_defaults_is_reported_once_at_its_line() -> None:
    text = (
        "defaults:\n"  # 1
        "  notify: [email]\n"  # 2
        "watches:\n"  # 3
        "  - url: https://a.example/\n"  # 4
        "  - url: https://b.example/\n"  # 5
        "  - url: https://c.example/\n"  # 6
        "    notify: []\n"  # 7
    )
    assert problems(text) == [
        "wl.yaml:2: defaults.notify: 'email' is not configured: add settings.email "
        "(see README) or remove it from notify"
    ]


def test_the_built_in_default_is_email_where_it_is_set_up() -> None:
    # No notify anywhere: the command line prints every event on the terminal and emails
    # only when settings.email is there; on AWS the stack's subscription is the email.
    wl = parse_watchlist("watches:\n  - url: https://a.example/\n")
    assert wl.watches[0].notify == ("email",)
    assert delivery_problems(wl, {}) == []


def test_a_watch_list_built_in_code_counts_its_notify_as_written() -> None:
    wl = parse_watchlist("watches:\n  - url: https://a.example/\n", "wl.yaml")
    built = replace(wl, lines={})
    assert delivery_problems(built, {}) == [
        "wl.yaml:1: watches[0].notify: 'email' is not configured: add settings.email "
        "(see README) or remove it from notify"
    ]


def test_password_env_naming_an_unset_variable() -> None:
    text = (
        "settings:\n"  # 1
        + email(",\n          password_env: SMTP_PW")  # 2, 3
        + "watches:\n  - url: https://a.example/\n    notify: [email]\n"
    )
    expected = [
        "wl.yaml:3: settings.email.password_env: the variable SMTP_PW is not set; "
        "export it or remove password_env"
    ]
    assert problems(text) == expected
    assert problems(text, {"SMTP_PW": ""}) == expected
    assert problems(text, {"SMTP_PW": "s3cret"}) == []


def test_problems_are_sorted_by_line() -> None:
    text = (
        "watches:\n"  # 1
        "  - url: https://a.example/\n"  # 2
        "    notify: [slack]\n"  # 3
        "settings:\n" + email(", password_env: SMTP_PW")  # 4  # 5
    )
    assert [p.split(": ")[0] for p in problems(text)] == ["wl.yaml:3", "wl.yaml:5"]
