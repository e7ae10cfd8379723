"""The stack's environment, read once into one typed object."""

from __future__ import annotations

import pytest
from scrubwatch.aws.environment import DEFAULT_WATCHLIST, StackEnvironment


def test_the_template_variables_become_fields() -> None:
    env = StackEnvironment.read(
        {"TABLE_NAME": "t", "BUCKET_NAME": "b", "QUEUE_URL": "q", "TOPIC_ARN": "arn", "X": "y"}
    )
    assert (env.table_name, env.bucket_name, env.queue_url, env.topic_arn) == ("t", "b", "q", "arn")
    assert env.watchlist_path == DEFAULT_WATCHLIST
    assert env.slack_webhook_param == ""


def test_a_setting_the_function_needs_and_lacks_names_its_variable() -> None:
    env = StackEnvironment.read({"TABLE_NAME": "t", "QUEUE_URL": ""})
    assert env.required("table_name") == "t"
    with pytest.raises(RuntimeError, match=r"^QUEUE_URL is not set$"):
        env.required("queue_url")
