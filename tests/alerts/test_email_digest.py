"""The email digest: one email for a burst, every alert shown or counted, bounded."""

from __future__ import annotations

import dataclasses

from scrubwatch.core.events import Event
from scrubwatch.core.render import DIGEST_OVER, email_digest, email_posts

from . import samples


def burst(n: int, removed: int = 1) -> list[Event]:
    base = samples.gone_404()
    return [
        dataclasses.replace(
            base,
            event_id=f"{i:032x}",
            watch=f"ad-{i}",
            summary=f"GONE: ad {i}",
            removed=[f"ad {i} line {j} " + "x" * 200 for j in range(removed)],
        )
        for i in range(n)
    ]


def test_a_few_alerts_are_an_email_each_a_burst_is_one() -> None:
    assert len(email_posts(burst(DIGEST_OVER))) == DIGEST_OVER
    [(subject, body, told)] = email_posts(burst(DIGEST_OVER + 1))
    assert len(told) == DIGEST_OVER + 1
    assert subject == f"scrubwatch: {DIGEST_OVER + 1} alerts ({DIGEST_OVER + 1} GONE)"
    assert all(f"GONE: ad {i}" in body for i in range(DIGEST_OVER + 1))


def test_a_huge_burst_stays_bounded_and_counts_what_it_does_not_show_in_full() -> None:
    events = burst(300, removed=10)
    subject, body = email_digest(events, limit=50_000)
    assert len(body) < 52_000 and len(subject) < 100
    shown = body.count("\n" + "=" * 60 + "\n") - 1  # the separator before "... and N more"
    assert f"... and {300 - shown} more alerts in full" in body
    # The list at the top names the first hundred and counts the rest.
    assert "GONE: ad 99\n" in body and "  ... and 200 more" in body


def test_a_digest_of_chinese_pages_fits_an_sns_message() -> None:
    """The bound is in bytes: 25 alerts of Chinese text were 98,606 characters and
    265,152 bytes, over SNS's 262,144."""
    events = [
        dataclasses.replace(e, removed=["乌鲁木齐研发中心招聘工程师" * 20] * 10, diff="删除" * 5000)
        for e in burst(25)
    ]
    _, body = email_digest(events)
    assert len(body.encode()) <= 100_000
