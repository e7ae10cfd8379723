"""The before/after picture an email about a rendered page carries (render: browser).

Made when the email is sent, from the two versions' screenshots in the evidence: a derived
picture, not evidence itself, so nothing is kept of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..check.ports import EvidenceStore
from ..core.events import Event
from ..evidence.build import screenshot_of

log = logging.getLogger("scrubwatch")

Picture = tuple[bytes, str]  # the image and its MIME type


def before_after_of(evidence: EvidenceStore) -> Callable[[Event], Picture | None]:
    """What makes an event's picture (None for an event with no screenshots to compare)."""

    def picture(event: Event) -> Picture | None:
        if not (event.visual and event.previous and event.current):
            return None
        try:
            return _made(evidence, event)
        except Exception as exc:  # damaged evidence, memory: the email goes without it
            log.warning("%s: no before/after picture: %s", event.watch, exc)
            return None

    return picture


def _made(evidence: EvidenceStore, event: Event) -> Picture | None:
    from ..check.visual import before_after, compare

    assert event.previous is not None and event.current is not None
    shots = []
    for ref in (event.previous, event.current):
        warc = evidence.warc(event.watch, ref.version)
        shot = screenshot_of(warc) if warc is not None else None
        if shot is None:
            return None
        shots.append(shot)
    return before_after(shots[0], shots[1], compare(shots[0], shots[1]))
