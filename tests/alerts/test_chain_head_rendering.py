"""Every rendering of an event names the manifest of the capture it points at (the chain
head when it is the newest), so an alert can be matched to `history` and a bundle's HEAD."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from scrubwatch.alerts.channels import ConsolePublisher
from scrubwatch.core.events import Event
from scrubwatch.core.render import SLACK_TOTAL, _size, email_text, slack_message

from . import samples

HEAD = "9" * 64


def with_head(event: Event) -> Event:
    assert event.current is not None
    return replace(event, current=replace(event.current, manifest_sha256=HEAD))


@pytest.mark.parametrize("case", ["changed", "element_missing", "gone_http_404"])
def test_the_email_names_the_manifest_under_evidence(case: str) -> None:
    event = with_head(samples.BUILDERS[case]())

    body = email_text(event)

    evidence = body[body.index("Evidence:") :]
    assert f"  now:    {event.current.evidence}\n" in evidence  # type: ignore[union-attr]
    assert f"          manifest sha256 {HEAD}\n" in evidence
    assert HEAD not in email_text(samples.BUILDERS[case]())  # old events: nothing to show


def test_slack_names_it_within_its_limits() -> None:
    event = with_head(samples.BUILDERS["changed"]())

    message = slack_message(event)

    context = message["blocks"][-1]["elements"][0]["text"]
    assert f"manifest sha256 {HEAD}" in context
    assert _size(message) <= SLACK_TOTAL


def test_the_console_names_it_and_says_the_kind_once() -> None:
    stream = io.StringIO()

    ConsolePublisher(stream).publish([with_head(samples.BUILDERS["gone_http_404"]())])

    out = stream.getvalue()
    assert f"    manifest sha256:   {HEAD}\n" in out
    assert out.startswith("[GONE] ") and "GONE: " not in out
