"""The stack's settings, as the SAM template passes them to every function: read from the
environment once per cold start, into one typed object."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_WATCHLIST = "/opt/watchlist.yaml"  # the layer carries the watch list it was built with


@dataclass(frozen=True)
class StackEnvironment:
    table_name: str = ""  # TABLE_NAME: state, history and the notifier's claims
    bucket_name: str = ""  # BUCKET_NAME: evidence
    queue_url: str = ""  # QUEUE_URL: check messages, from the scheduler to the checker
    topic_arn: str = ""  # TOPIC_ARN: alerts, from the checker (SNS fans them out)
    email_queue_arn: str = ""  # EMAIL_QUEUE_ARN: the alerts for email, to the notifier
    email_topic_arn: str = ""  # EMAIL_TOPIC_ARN: where the notifier sends each email once
    witness_queue_url: str = ""  # WITNESS_QUEUE_URL: Internet Archive captures, after checks
    # RENDER_QUEUE_URL: check messages of watches rendered in a browser (render: browser),
    # to a function of their own; unset, they go to QUEUE_URL with the others.
    render_queue_url: str = ""
    # SCRUBWATCH_CHROMIUM: the browser to render with; unset on Lambda, where the render
    # function unpacks the render layer's (aws/chromium.py), which sets it.
    scrubwatch_chromium: str = ""
    watchlist_path: str = DEFAULT_WATCHLIST  # WATCHLIST_PATH
    slack_webhook_param: str = ""  # SLACK_WEBHOOK_PARAM: the SSM parameter holding it

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ) -> StackEnvironment:
        return cls(
            **{
                name: environ[name.upper()]
                for name in cls.__dataclass_fields__
                if environ.get(name.upper())
            }
        )

    def required(self, name: str) -> str:
        """The value of setting ``name`` (a field name); RuntimeError naming the variable
        when the template did not set it for this function."""
        value: str = getattr(self, name)
        if not value:
            raise RuntimeError(f"{name.upper()} is not set")
        return value


@functools.cache
def stack() -> StackEnvironment:
    """This function's settings, read at the first call (the cold start)."""
    return StackEnvironment.read()
