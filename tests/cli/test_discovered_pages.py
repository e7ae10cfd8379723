"""Discovered pages from the command line (issue 13): status, history, verify, export and
check take a page's id like any watch's; the terminal shows its name, made safe."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from scrubwatch.core.discover import child_id
from support import Site, page
from support.command import run_cli


def site_with_ads(site: Site, names: dict[int, str]) -> None:
    items = "".join(f'<li class="job"><a href="/jobs/{i}">{n}</a></li>' for i, n in names.items())
    site.set("/jobs", page("Jobs", f"<ul>{items}</ul>"))
    for i in names:
        site.set(f"/jobs/{i}", page(f"Ad {i}", f'<div id="job">Ad {i}</div>'))


def watchlist(tmp_path: Path, site: Site) -> Path:
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], "retries": 0},
        "watches": [
            {
                "id": "jobs",
                "url": site.url("/jobs"),
                "items": "li",
                "notify": [],
                "discover": {"links": "li a", "child": {"select": "#job"}},
            }
        ],
    }
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def test_a_discovered_page_is_a_watch_for_every_command(site: Site, tmp_path: Path) -> None:
    site_with_ads(site, {1001: "Firmware Engineer", 1002: "Evil \x1b[31mred\x1b[0m ad"})
    watchlist(tmp_path, site)
    first = run_cli("check", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "[FOUND] jobs links 2 pages; each was kept as first seen" in first.stdout
    ad = child_id("jobs", site.url("/jobs/1001"))

    status = run_cli("status", cwd=tmp_path)
    assert "  + 2 pages found: 2 ok (status --children lists them)" in status.stdout
    listed = run_cli("status", "--children", cwd=tmp_path).stdout
    assert f"{ad} Firmware Engineer" in listed
    assert "\x1b" not in listed  # a page's link text never drives the terminal

    assert run_cli("history", ad, cwd=tmp_path).stdout.count("\n") == 1
    for target in (ad, "jobs", ".scrubwatch/evidence/jobs", f".scrubwatch/evidence/{ad}"):
        verified = run_cli("verify", target, cwd=tmp_path)
        assert verified.returncode == 0, (target, verified.stdout, verified.stderr)
        assert verified.stdout.startswith("OK: ")
    exported = run_cli("export", ad, str(tmp_path / "bundle"), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert run_cli("verify", str(tmp_path / "bundle"), cwd=tmp_path).returncode == 0

    mark = site.mark()
    again = run_cli("check", "--force", "--only", ad, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [s.path for s in site.seen(since=mark)] == ["/jobs/1001"]


def test_a_page_id_of_no_discovering_watch_is_a_usage_error(site: Site, tmp_path: Path) -> None:
    site_with_ads(site, {1001: "Ad"})
    watchlist(tmp_path, site)

    result = run_cli("check", "--only", "nosuch/0123456789ab", cwd=tmp_path)

    assert result.returncode == 2
    assert "no watch with id 'nosuch/0123456789ab'" in result.stderr


def test_show_discovery_prints_what_a_look_decided(site: Site, tmp_path: Path) -> None:
    site_with_ads(site, {1001: "Firmware Engineer"})
    watchlist(tmp_path, site)
    assert run_cli("check", cwd=tmp_path).returncode == 0

    shown = run_cli("show", "jobs", "--discovery", cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    decided = json.loads(shown.stdout)
    assert decided["added"] == [site.url("/jobs/1001")]
    page_id = child_id("jobs", site.url("/jobs/1001"))
    none = run_cli("show", page_id, "--discovery", cwd=tmp_path)
    assert none.returncode == 2
    assert "holds no discovery record" in none.stderr


def test_show_says_so_when_a_version_holds_no_text(site: Site, tmp_path: Path) -> None:
    site_with_ads(site, {1001: "Firmware Engineer"})
    watchlist(tmp_path, site)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    site.pages.pop("/jobs/1001")
    page_id = child_id("jobs", site.url("/jobs/1001"))
    for _ in range(2):
        assert run_cli("check", "--force", "--only", page_id, cwd=tmp_path).returncode == 0

    shown = run_cli("show", page_id, cwd=tmp_path)

    assert shown.returncode == 0 and shown.stdout == ""
    assert "(HTTP 404) holds no text; --headers or --html shows what was answered" in shown.stderr
