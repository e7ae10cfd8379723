"""The independent witness, against a fake of Save Page Now 2 served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from scrubwatch.check.netguard import StaticResolver
from support import NOT_FOUND, Harness, Page, Site, page
from support.spn2 import FakeSpn2


def witnessed(
    harness: Callable[..., Harness], site: Site, spn2: HTTPServer, host: str = "jobs.example"
) -> Harness:
    # A public-looking name (resolved here to the loopback site): the Archive is never asked
    # for an address it could not reach.
    return harness(
        [{"id": "ad", "url": f"http://{host}:{site.port}/ad.html"}],
        resolver=StaticResolver({"jobs.example": ["127.0.0.1"]}),
        confirm_gone=1,
        witness="wayback",
        wayback_endpoint=spn2.url_for("/"),
        wayback_per_minute=6000,
    )


@pytest.fixture
def spn2(second_server: HTTPServer) -> HTTPServer:
    return second_server


def test_first_sight_and_gone_are_archived_and_gone_points_at_both(
    site: Site, harness: Callable[..., Harness], spn2: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBWATCH_WAYBACK_ACCESS_KEY", "acc")
    monkeypatch.setenv("SCRUBWATCH_WAYBACK_SECRET_KEY", "sec")
    fake = FakeSpn2(spn2)
    site.set("/ad.html", Page(page("Ad 1002", "<h1>Firmware Engineer, Urumqi</h1>")))
    h = witnessed(harness, site, spn2)

    [first] = h.run()
    site.set("/ad.html", NOT_FOUND)
    [gone] = h.run()

    assert [s["capture_all"] for s in fake.saved] == ["0", "1"]
    assert fake.auth == ["LOW acc:sec", "LOW acc:sec"]
    assert first.current is not None and first.current.witness is not None
    assert first.current.witness.startswith("https://web.archive.org/web/")
    assert gone.kind == "gone"
    assert gone.previous is not None and gone.previous.witness == first.current.witness
    assert gone.current is not None and gone.current.witness is not None
    manifest = Path(
        str(gone.current.evidence).removeprefix("file://").replace(".warc.gz", ".manifest.json")
    )
    recorded = json.loads(manifest.read_text())["witness"]
    assert recorded["status"] == "archived" and recorded["job_id"] == "spn2-2"
    assert recorded["url"] == gone.current.witness


def test_a_capture_older_than_the_request_is_not_archived(
    site: Site, harness: Callable[..., Harness], spn2: HTTPServer
) -> None:
    FakeSpn2(spn2, age=timedelta(hours=3))
    site.set("/ad.html", Page(page("Ad", "<h1>x</h1>")))
    h = witnessed(harness, site, spn2)

    [first] = h.run()

    assert first.current is not None and first.current.witness is None
    manifest = Path(
        str(first.current.evidence).removeprefix("file://").replace(".warc.gz", ".manifest.json")
    )
    assert json.loads(manifest.read_text())["witness"]["status"] == "stale"


def test_a_watch_can_decline_the_witness(
    site: Site, harness: Callable[..., Harness], spn2: HTTPServer
) -> None:
    fake = FakeSpn2(spn2)
    site.set("/ad.html", Page(page("Ad", "<h1>x</h1>")))
    h = harness(
        [{"id": "ad", "url": site.url("/ad.html"), "witness": "none"}],
        witness="wayback",
        wayback_endpoint=spn2.url_for("/"),
    )
    h.run()
    assert fake.saved == []


def test_a_private_address_is_never_sent_to_the_archive(
    site: Site, harness: Callable[..., Harness], spn2: HTTPServer
) -> None:
    fake = FakeSpn2(spn2)
    site.set("/ad.html", Page(page("Ad 1002", "<h1>Firmware Engineer, Urumqi</h1>")))
    h = witnessed(harness, site, spn2, host="127.0.0.1")

    [first] = h.run()

    assert first.kind == "first_seen" and first.current is not None
    assert first.current.witness is None
    assert fake.saved == []


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("http://127.0.0.1:8080/a", False),
        ("http://127.1/a", False),  # inet_aton's spelling of loopback
        ("http://2130706433/a", False),
        ("http://[::1]/a", False),
        ("http://10.0.0.5/a", False),
        ("http://intranet.localhost/a", False),
        ("https://jobs.example/a", True),
        ("https://93.184.215.14/a", True),
    ],
)
def test_only_public_addresses_are_offered_to_the_archive(url: str, public: bool) -> None:
    from scrubwatch.check.engine import _public_url

    assert _public_url(url) is public


def test_a_contact_s_capture_is_archived_though_nothing_changed(
    site: Site, harness: Callable[..., Harness], spn2: HTTPServer
) -> None:
    fake = FakeSpn2(spn2)
    site.set("/ad.html", Page(page("Ad 1002", "<h1>Firmware Engineer, Urumqi</h1>")))
    h = witnessed(harness, site, spn2)
    h.run()
    asked = len(fake.saved)

    h.capture_all = True  # what `scrubwatch contact` does: keep every page as it is now
    assert h.run() == []

    assert len(fake.saved) == asked + 1 and fake.saved[-1]["capture_all"] == "0"
    (row,) = h.state.history("ad")[-1:]
    manifest = Path(
        str(row["evidence"]).removeprefix("file://").replace(".warc.gz", ".manifest.json")
    )
    assert json.loads(manifest.read_text())["witness"]["status"] == "archived"
