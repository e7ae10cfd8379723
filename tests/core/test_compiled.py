"""The pushed form of a watch list: the same list back, and a clear refusal of anything else."""

from __future__ import annotations

import json

import pytest
from scrubwatch.core.compiled import compile_watchlist, watchlist_from_compiled
from scrubwatch.core.config import ConfigError, parse_watchlist

YAML = """
settings:
  timeout: 7s
  allow_networks: [127.0.0.1/32]
  email: {to: [desk@example.org], from: sw@example.org, host: smtp.example.org}
defaults:
  every: 2h
  notify: [email]
watches:
  - id: careers
    url: https://example.org/careers
    select: "#jobs"
    items: li.job
    keywords: [Urumqi]
    exclude: [.ad]
  - id: map
    url: https://example.org/map
    every: 15m
    witness: wayback
"""


def test_a_pushed_list_reads_back_as_the_same_list() -> None:
    listed = parse_watchlist(YAML)
    back = watchlist_from_compiled(compile_watchlist(listed), "s3://b/watchlist.json")
    assert back.watches == listed.watches
    assert back.settings == listed.settings
    assert back.get("map") is not None and back.get("map").every == 900  # type: ignore[union-attr]
    assert [w.settings_hash for w in back.watches] == [w.settings_hash for w in listed.watches]


def _tampered(change: dict[str, object]) -> bytes:
    data = json.loads(compile_watchlist(parse_watchlist(YAML)))
    data.update(change)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"not json", "not a watch list pushed by scrubwatch"),
        (_tampered({"schema": "scrubwatch.watchlist/9"}), "schema"),
        (_tampered({"extra": 1}), "extra"),
        (_tampered({"watches": [{"id": "x"}]}), "watches.0"),
        (_tampered({"settings": {"timeout": "soon"}}), "timeout"),
    ],
    ids=["not-json", "schema", "unknown-key", "watch-fields", "bad-setting"],
)
def test_anything_else_is_refused_in_one_line(raw: bytes, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        watchlist_from_compiled(raw, "s3://b/watchlist.json")
    [line] = caught.value.problems
    assert line.startswith("s3://b/watchlist.json: ") and says in line


def test_a_duplicate_id_is_refused() -> None:
    data = json.loads(compile_watchlist(parse_watchlist(YAML)))
    data["watches"].append(data["watches"][0])
    with pytest.raises(ConfigError, match="listed twice"):
        watchlist_from_compiled(json.dumps(data).encode(), "s3://b/watchlist.json")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("every", 0, "every is 0"),
        ("url", "file:///etc/passwd", "not http(s)"),
        ("notify", ["pager"], "unknown channels: pager"),
    ],
)
def test_a_hand_edited_watch_the_scheduler_could_not_survive_is_refused(
    field: str, value: object, says: str
) -> None:
    data = json.loads(compile_watchlist(parse_watchlist(YAML)))
    data["watches"][1][field] = value
    with pytest.raises(ConfigError) as caught:
        watchlist_from_compiled(json.dumps(data).encode(), "s3://b/watchlist.json")
    [line] = caught.value.problems
    assert line.startswith("s3://b/watchlist.json: watches.1 (map): ") and says in line


def test_the_slack_webhook_stays_out_of_the_bucket() -> None:
    hook = "  slack_webhook: https://hooks.slack.com/services/T/B/secret\n"
    compiled = compile_watchlist(parse_watchlist(YAML.replace("settings:\n", "settings:\n" + hook)))
    assert b"secret" not in compiled
    assert watchlist_from_compiled(compiled, "s3://b/w.json").settings.slack_webhook is None
