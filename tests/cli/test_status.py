"""`scrubwatch status` on local state, after real checks against loopback servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from scrubwatch.cli.main import main
from support import Page, Site, page, serving


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUBWATCH_CONFIG", raising=False)
    monkeypatch.delenv("SCRUBWATCH_STATE", raising=False)


def write(path: Path, watches: list[dict[str, Any]]) -> Path:
    settings = {"allow_networks": ["127.0.0.1/32"], "retries": 0, "confirm_gone": 2}
    path.write_text(yaml.safe_dump({"settings": settings, "watches": watches}), "utf-8")
    return path


def status_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", "--json", "-c", str(config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {r["watch"]: r for r in rows}


def test_before_any_check_every_watch_is_not_checked_yet(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "w.yaml", [{"id": "blog", "url": site.url("/blog.html")}])

    assert main(["status", "-c", str(config)]) == 0

    captured = capsys.readouterr()
    # Said, so that a mistyped --state is not taken for a fresh start.
    assert (
        captured.err
        == f"scrubwatch: no state in {tmp_path / '.scrubwatch'} yet (nothing checked there)\n"
    )
    out = captured.out.splitlines()
    assert out[0].split()[:2] == ["WATCH", "STATE"]
    assert out[1].startswith("blog") and "not checked yet" in out[1] and "now" in out[1]
    assert not (tmp_path / ".scrubwatch").exists()  # reading made no state folder
    rows = status_json(config, capsys)
    assert rows["blog"]["state"] == "not_checked"
    assert rows["blog"]["last_check"] is None and rows["blog"]["due"] is True
    assert site.seen() == []


def test_a_server_down_is_failing_and_a_404_is_suspected_gone(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/blog.html", page("Blog", "<p>A post</p>"))
    with serving(HTTPServer(host="127.0.0.1", port=0)) as shop_server:
        shop_server.expect_request("/shop.html").respond_with_data(
            page("Shop", "<p>Things</p>"), content_type="text/html"
        )
        config = write(
            tmp_path / "w.yaml",
            [
                {"id": "blog", "url": site.url("/blog.html")},
                {"id": "shop", "url": shop_server.url_for("/shop.html")},
            ],
        )
        assert main(["check", "-c", str(config)]) == 0
    first = status_json(config, capsys)
    assert {r["state"] for r in first.values()} == {"ok"}
    assert first["blog"]["last_event"]["kind"] == "first_seen"

    # The shop's server is gone (connection refused); the blog post answers 404 once.
    site.set("/blog.html", Page(page("Not Found", "<h1>Not Found</h1>"), status=404))
    assert main(["check", "--force", "-c", str(config)]) == 0

    rows = status_json(config, capsys)
    assert rows["shop"]["state"] == "failing"
    assert (rows["shop"]["failure_streak"], rows["shop"]["reason"]) == (1, "connect")
    assert rows["blog"]["state"] == "suspected_gone"
    assert (rows["blog"]["gone_streak"], rows["blog"]["confirm_gone"]) == (1, 2)
    for row in rows.values():
        assert row["last_success"] == first[row["watch"]]["last_check"]
        assert row["last_check"] > row["last_success"]
        assert row["last_check"].endswith("Z")
        assert row["next_due"] > row["last_check"]  # rechecked soon, not in 6 h
        assert row["due"] is False

    assert main(["status", "-c", str(config)]) == 0
    table = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "failing 1 (connect)" in table["shop"]
    assert "suspected gone (1 of 2, http_404)" in table["blog"]
    assert "ago (" in table["blog"] and "in 10 min (" in table["blog"]
    assert "first_seen" in table["blog"]  # the last event


def test_a_page_never_reached_says_so(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/typo.html", Page(page("Not Found", "<h1>Not Found</h1>"), status=404))
    config = write(tmp_path / "w.yaml", [{"id": "typo", "url": site.url("/typo.html")}])
    assert main(["check", "-c", str(config)]) == 0

    rows = status_json(config, capsys)
    assert rows["typo"]["state"] == "never_reached"
    assert rows["typo"]["last_success"] is None


def test_a_watch_whose_select_matches_nothing_is_not_plain_ok(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set("/jobs.html", page("Jobs", "<ul id=jobs><li>One</li></ul>"))
    config = write(
        tmp_path / "w.yaml", [{"id": "c", "url": site.url("/jobs.html"), "select": "#job"}]
    )
    assert main(["check", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["status", "-c", str(config)]) == 0

    [row] = capsys.readouterr().out.splitlines()[1:]
    assert "ok, select matches nothing" in row
