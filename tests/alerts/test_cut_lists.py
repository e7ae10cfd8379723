"""An event that carries only the first of its removed/added entries is rendered with the
true counts: "and N more" counts what the page lost, not what the event kept."""

from __future__ import annotations

from dataclasses import replace

from scrubwatch.core.events import Event
from scrubwatch.core.render import console_text, email_text, slack_digest, slack_message

from . import samples

REMOVED, ADDED = 40_000, 250  # what the page lost and gained
KEPT = 200  # what the event carries of each


def cut() -> Event:
    return replace(
        samples.changed(),
        summary=f"CHANGED: Lumen Optics careers: {REMOVED} lines removed; {ADDED} lines added.",
        removed=[f"Job {i}" for i in range(KEPT)],
        added=[f"New job {i}" for i in range(KEPT)],
        removed_count=REMOVED,
        added_count=ADDED,
    )


def test_email_counts_what_the_event_does_not_carry() -> None:
    text = email_text(cut(), shown=10)
    assert f"  ... and {REMOVED - 10} more\n" in text
    assert f"  ... and {ADDED - 10} more\n" in text


def test_slack_counts_what_the_event_does_not_carry() -> None:
    sections = [b["text"]["text"] for b in slack_message(cut(), shown=10)["blocks"][2:4]]
    assert sections[0].startswith("*Removed*") and sections[0].endswith(
        f"… and {REMOVED - 10} more"
    )
    assert sections[1].startswith("*Added*") and sections[1].endswith(f"… and {ADDED - 10} more")


def test_a_slack_digest_counts_what_the_event_does_not_carry() -> None:
    digest = slack_digest([cut(), samples.gone_404()], shown=3)
    assert f"… and {REMOVED - 3} more" in digest["blocks"][1]["text"]["text"]


def test_the_console_counts_what_the_event_does_not_carry() -> None:
    text = console_text(cut(), shown=5)
    assert f"      ... and {REMOVED - 5} more\n" in text
    assert f"      ... and {ADDED - 5} more\n" in text


def test_a_list_cut_to_what_is_shown_still_says_there_is_more() -> None:
    # Every entry carried is shown, and still the page lost more than that.
    event = replace(cut(), removed=["Job 0", "Job 1"], removed_count=9)
    assert "  ... and 7 more\n" in email_text(event, shown=10)
    assert "      ... and 7 more\n" in console_text(event, shown=5)
