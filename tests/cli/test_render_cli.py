"""Issue 15 as a user walks it: a job list built by JavaScript is watched, an ad removed,
and the alert, the screenshots, the report and the bundle show it (all on 127.0.0.1)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from alerts.support import Mailbox, SmtpServer, serving_smtp
from PIL import Image
from support import Site, page
from support.command import run_cli
from support.js_site import ADS, serve_ads


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    with serving_smtp(Mailbox()) as server:
        yield server


def _watchlist(tmp_path: Path, site: Site, mail: SmtpServer) -> Path:
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], "retries": 0, "email": mail.settings()},
        "watches": [
            {
                "id": "careers",
                "url": site.url("/careers"),
                "items": "#jobs li.job",
                "render": {"wait_for": "#jobs li.job"},
            }
        ],
    }
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def test_a_removed_ad_is_told_with_before_and_after(
    site: Site, mail: SmtpServer, tmp_path: Path
) -> None:
    serve_ads(site, ADS)
    listed = _watchlist(tmp_path, site, mail)

    def scrubwatch(*args: str) -> str:
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return str(done.stdout)

    scrubwatch("check", "-c", str(listed))
    serve_ads(site, ADS[2:])
    out = scrubwatch("check", "-c", str(listed), "--force")
    assert "Optics engineer, Urumqi" in out and "Firmware engineer, Urumqi" in out
    assert re.search(r"screenshot: \d+ % of the page changed, in \d+ regions?", out), out

    # The email names the ads and carries the picture of before and after.
    told = mail.messages[-1].message
    body = told.get_body(("plain",))
    assert body is not None and "Optics engineer, Urumqi" in body.get_content()
    assert "Screenshot: " in body.get_content()
    [picture] = list(told.iter_attachments())
    assert picture.get_content_type() in ("image/png", "image/jpeg")
    assert picture.get_filename().startswith("careers-before-after.")
    shown = Image.open(io.BytesIO(picture.get_content()))
    assert shown.width > shown.height  # two pages side by side

    # Each version's screenshot and rendered page can be had from the evidence.
    shot = tmp_path / "after.png"
    assert "the screenshot of version" in scrubwatch("show", "careers", "--screenshot", str(shot))
    assert Image.open(shot).format == "PNG"
    dom = scrubwatch("show", "careers", "--dom")
    assert "Buyer, Hangzhou" in dom and "Optics engineer" not in dom
    assert "<li" not in scrubwatch("show", "careers", "--html")  # the page as sent

    # The report shows the pair, outlined, and keeps both pictures beside it.
    said = scrubwatch("report", "careers", "-o", str(tmp_path / "report"))
    assert "screenshots in" in said
    html = (tmp_path / "report" / "report.html").read_text("utf-8")
    marked = re.search(r'<img src="data:image/(png|jpeg);base64,([^"]+)"', html)
    assert marked is not None
    assert Image.open(io.BytesIO(base64.b64decode(marked[2]))).width > 0
    assert "img-src data:" in html  # the page loads nothing else
    assert len(list((tmp_path / "report" / "screenshots").glob("careers-*.png"))) == 2
    markdown = (tmp_path / "report" / "report.md").read_text("utf-8")
    assert "[before](screenshots/careers-" in markdown

    # The bundle carries them, and verifies.
    scrubwatch("export", "careers", str(tmp_path / "bundle"))
    assert "verified" in scrubwatch("verify", str(tmp_path / "bundle"))


def test_show_of_a_page_read_as_sent_says_there_is_no_screenshot(
    site: Site, tmp_path: Path
) -> None:
    site.set("/plain", page("Plain", "<p>as sent</p>"))
    listed = tmp_path / "watchlist.yaml"
    watches = [{"id": "plain", "url": site.url("/plain")}]
    settings = {"allow_networks": ["127.0.0.1/32"]}
    listed.write_text(yaml.safe_dump({"settings": settings, "watches": watches}), "utf-8")
    assert run_cli("check", "-c", str(listed), cwd=tmp_path).returncode == 0
    done = run_cli("show", "plain", "--screenshot", str(tmp_path / "x.png"), cwd=tmp_path)
    assert done.returncode == 2
    assert "holds no screenshot: it was not read with render: browser" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_check_selectors_reads_a_rendered_page_as_check_does(
    site: Site, mail: SmtpServer, tmp_path: Path
) -> None:
    serve_ads(site, ADS)
    listed = _watchlist(tmp_path, site, mail)
    done = run_cli("validate", "--check-selectors", "-c", str(listed), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "items '#jobs li.job': 3 item(s)" in done.stdout


def test_check_selectors_says_when_wait_for_never_matches(
    site: Site, mail: SmtpServer, tmp_path: Path
) -> None:
    serve_ads(site, ADS)
    listed = _watchlist(tmp_path, site, mail)
    listed.write_text(
        listed.read_text("utf-8").replace("wait_for: '#jobs li.job'", "wait_for: '#jobz li'")
    )
    done = run_cli("validate", "--check-selectors", "-c", str(listed), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "watches[0].render: wait_for '#jobz li' matches nothing" in done.stderr


def test_show_screenshot_wants_a_file_name(site: Site, mail: SmtpServer, tmp_path: Path) -> None:
    serve_ads(site, ADS)
    listed = _watchlist(tmp_path, site, mail)
    assert run_cli("check", "-c", str(listed), cwd=tmp_path).returncode == 0
    done = run_cli("show", "careers", "--screenshot", "-", cwd=tmp_path)
    assert done.returncode == 2
    assert "--screenshot takes a file name to write the PNG to, not -" in done.stderr
    assert not (tmp_path / "-").exists()
