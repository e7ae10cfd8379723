"""render: browser, end to end: a page built by JavaScript in Debian's Chromium, through
the vetting proxy, read, compared and kept (issue 15). Every site is on 127.0.0.x."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from support import Harness, Listener, Site, page
from support.command import run_cli
from support.engine import build_watchlist
from support.web import Page
from warcio.archiveiterator import ArchiveIterator

ADS = ["Optics engineer, Urumqi", "Firmware engineer, Urumqi", "Buyer, Hangzhou"]

# The list is built by the page's own script: the HTML as sent has an empty <ul>.
INLINE = """<ul id="jobs"></ul>
<script>
for (const ad of %s) {
  const li = document.createElement("li"); li.textContent = ad;
  document.getElementById("jobs").appendChild(li);
}
</script>"""

# The list comes from the site's API, after the page has loaded.
FETCHED = """<ul id="jobs"></ul>
<script>
window.addEventListener("load", () => setTimeout(async () => {
  const ads = await (await fetch("/api/jobs.json")).json();
  for (const ad of ads) {
    const li = document.createElement("li"); li.textContent = ad;
    document.getElementById("jobs").appendChild(li);
  }
  document.body.dataset.ready = "yes";
}, 50));
</script>"""


def jobs_page(ads: list[str]) -> str:
    return page("Careers", "<h1>Careers</h1>" + INLINE % json.dumps(ads))


def records(warc_gz: bytes) -> dict[str, tuple[str, bytes]]:
    """Each record's target URI -> (type, content)."""
    out = {}
    for record in ArchiveIterator(io.BytesIO(warc_gz)):
        uri = record.rec_headers.get_header("WARC-Target-URI")
        out.setdefault(uri, (record.rec_type, record.content_stream().read()))
    return out


def warc_of(h: Harness, watch_id: str, version: str) -> bytes:
    warc = h.evidence.warc(watch_id, version)
    assert warc is not None
    return warc


def test_a_list_built_by_script_is_read_and_its_removal_told(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/careers", jobs_page(ADS))
    watch = {"id": "careers", "url": site.url("/careers"), "items": "#jobs li"}
    h = harness([{**watch, "render": "browser"}])
    [first_seen] = h.run()
    assert first_seen.kind == "first_seen" and "3 items" in first_seen.summary
    state = h.state.load(["careers"])["careers"]
    assert state.current is not None
    first = state.current.version
    reading = h.evidence.reading("careers", first)
    assert reading is not None and list(reading.items) == ADS

    site.set("/careers", jobs_page(ADS[2:]))
    [event] = h.run()
    assert event.kind == "changed"
    assert event.removed == ADS[:2]
    # Each version keeps the document as sent, the DOM the browser built, and its picture.
    assert event.current is not None
    for version, ads in ((first, ADS), (event.current.version, ADS[2:])):
        kept = records(warc_of(h, "careers", version))
        url = site.url("/careers")
        assert kept[url][0] == "response" and b"<li>" not in kept[url][1]
        kind, dom = kept["urn:dom:" + url]
        assert kind == "resource" and all(ad.encode() in dom for ad in ads)
        kind, png = kept["urn:fullPage:" + url]
        assert kind == "resource" and Image.open(io.BytesIO(png)).format == "PNG"
    # The page was asked for once per check: the browser was handed the answer.
    assert len(site.seen("/careers")) == 2


def test_a_list_fetched_after_load_is_waited_for(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/careers", page("Careers", FETCHED))
    api = Page(json.dumps(ADS), content_type="application/json")
    site.set("/api/jobs.json", api)
    render = {"wait_for": "body[data-ready]"}
    h = harness([{"id": "c", "url": site.url("/careers"), "items": "#jobs li", "render": render}])
    h.run()
    state = h.state.load(["c"])["c"]
    assert state.current is not None
    reading = h.evidence.reading("c", state.current.version)
    assert reading is not None and list(reading.items) == ADS

    site.set("/api/jobs.json", Page(json.dumps(ADS[1:]), content_type="application/json"))
    [event] = h.run()
    assert event.removed == ADS[:1]


def test_a_script_cannot_reach_a_forbidden_address(
    site: Site, harness: Callable[..., Harness]
) -> None:
    forbidden = Listener("127.0.0.2")
    try:
        targets = [f"http://127.0.0.2:{forbidden.port}/x", "http://169.254.169.254/latest/"]
        script = "".join(
            f'<img src="{t}img"><script>fetch("{t}").catch(() => 0)</script>' for t in targets
        )
        site.set("/p", page("P", "<p id=ok>read</p>" + script))
        h = harness([{"id": "p", "url": site.url("/p"), "render": "browser"}])
        h.run()
        # The page was read; not one packet reached the forbidden server.
        assert forbidden.connections() == 0
        state = h.state.load(["p"])["p"]
        assert state.condition == "up" and state.current is not None
        noted = _metadata(warc_of(h, "p", state.current.version))["rendered"]
        refused = {(r["to"], r["why"]) for r in noted["refused"]}
        assert (f"127.0.0.2:{forbidden.port}", "forbidden_address") in refused
        assert ("169.254.169.254:80", "forbidden_address") in refused
    finally:
        forbidden.close()


def test_a_page_that_never_finishes_loading_is_that_watch_error(
    site: Site, harness: Callable[..., Harness], raw_server: Callable[..., Any]
) -> None:
    held: list[Any] = []
    hanging = raw_server(lambda head, wfile: held[0].release.wait(30))  # never answers
    held.append(hanging)
    site.set("/slow", page("Slow", f'<script src="{hanging.url("/s.js")}"></script>'))
    site.set("/fine", jobs_page(ADS))
    h = harness(
        [
            {"id": "slow", "url": site.url("/slow"), "render": "browser"},
            {"id": "fine", "url": site.url("/fine"), "items": "#jobs li", "render": "browser"},
        ],
        timeout="2s",
        deadline="4s",
        confirm_errors=1,
    )
    events = h.run()
    assert h.reports[-1].failures == {"slow": "timeout"}
    [told] = [e for e in events if e.watch == "slow"]
    assert "in the browser: the page did not finish loading within 4 s" in told.summary
    fine = h.state.load(["fine"])["fine"]
    assert fine.current is not None


def test_no_browser_is_said_with_what_to_do(site: Site, tmp_path: Path) -> None:
    site.set("/careers", jobs_page(ADS))
    site.set("/plain", page("Plain", "<p>as sent</p>"))
    watches = [
        {"id": "careers", "url": site.url("/careers"), "render": "browser"},
        {"id": "plain", "url": site.url("/plain")},
    ]
    settings = {"allow_networks": ["127.0.0.1/32"], "retries": 0}
    listed = tmp_path / "watchlist.yaml"
    listed.write_text(yaml.safe_dump({"settings": settings, "watches": watches}), "utf-8")
    missing = tmp_path / "no-such-browser"
    done = run_cli(
        "check", "-c", str(listed), cwd=tmp_path, env={"SCRUBWATCH_CHROMIUM": str(missing)}
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout + done.stderr
    assert "1 failed (careers: browser_missing)" in out
    assert (
        f"Pages with render: browser were not read. SCRUBWATCH_CHROMIUM={missing} is not "
        "an executable browser." in out
    )
    # The other watch was read as ever.
    assert [s.path for s in site.seen()].count("/plain") == 1


def _metadata(warc_gz: bytes) -> dict[str, Any]:
    for record in ArchiveIterator(io.BytesIO(warc_gz)):
        if record.rec_type == "metadata":
            return dict(json.loads(record.content_stream().read()))
    raise AssertionError("no metadata record")


def test_gzip_stays_valid_per_record(site: Site, harness: Callable[..., Harness]) -> None:
    """Each record, the rendered ones included, is its own gzip member."""
    site.set("/careers", jobs_page(ADS))
    h = harness([{"id": "c", "url": site.url("/careers"), "render": "browser"}])
    h.run()
    state = h.state.load(["c"])["c"]
    assert state.current is not None
    warc = warc_of(h, "c", state.current.version)
    members = 0
    with gzip.GzipFile(fileobj=io.BytesIO(warc)) as whole:
        assert whole.read().count(b"WARC/1.") >= 5
    for _ in ArchiveIterator(io.BytesIO(warc)):
        members += 1
    assert members >= 5  # response, request, DOM, screenshot, metadata


def test_turning_the_browser_on_or_off_is_a_new_baseline_not_a_change(
    site: Site, harness: Callable[..., Harness]
) -> None:
    """As sent the list is empty; rendered it has three ads. Neither reading is the site's
    doing, so switching between them tells nothing: the capture cannot be read again the
    other way."""
    site.set("/careers", jobs_page(ADS))
    plain = {"id": "careers", "url": site.url("/careers"), "items": "#jobs li"}
    h = harness([plain])
    h.run()
    other_wait = {**plain, "render": {"wait_for": "h1"}}  # matches before the list is built
    for watches in ([{**plain, "render": "browser"}], [other_wait], [plain]):
        h.watchlist = build_watchlist(watches)
        assert h.run() == []
        said = h.reports[-1].rebaselined["careers"]
        assert said.startswith("render changed: the page is now read ")
    site.set("/careers", jobs_page(ADS[1:]))
    h.watchlist = build_watchlist([{**plain, "render": "browser"}])
    h.run()  # the baseline again, rendered
    site.set("/careers", jobs_page(ADS[2:]))
    [event] = h.run()
    assert event.removed == [ADS[1]]


def test_what_a_page_loads_is_bounded(site: Site, harness: Callable[..., Harness]) -> None:
    """max_bytes bounds the page as sent; the page and all it loads get ten times that,
    past which every connection is cut and the check fails as too_large."""
    site.set("/big.bin", Page(b"x" * 3_000_000, content_type="application/octet-stream"))
    loads = '<script>fetch("/big.bin").then(r => r.arrayBuffer())</script>'
    site.set("/heavy", page("Heavy", "<p>heavy</p>" + loads))
    h = harness(
        [{"id": "heavy", "url": site.url("/heavy"), "render": "browser"}],
        max_bytes="256KB",
        confirm_errors=1,
    )
    [told] = h.run()
    assert h.reports[-1].failures == {"heavy": "too_large"}
    assert "the page's requests brought over 2621440 bytes (10 × max_bytes)" in told.summary


def test_a_very_tall_page_is_pictured_to_its_top(
    site: Site, harness: Callable[..., Harness]
) -> None:
    site.set("/tall", page("Tall", '<div style="height:40000px">endless</div>'))
    h = harness([{"id": "tall", "url": site.url("/tall"), "render": "browser"}])
    h.run()
    state = h.state.load(["tall"])["tall"]
    assert state.current is not None
    _, png = records(warc_of(h, "tall", state.current.version))["urn:fullPage:" + site.url("/tall")]
    assert Image.open(io.BytesIO(png)).size == (1280, 16_000)


def test_a_page_cannot_start_a_program(
    site: Site, harness: Callable[..., Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium hands mailto: and news: links to xdg-open, whose mail client or newsreader
    would connect around the proxy and show itself on the user's screen."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    started = tmp_path / "started"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$@" >> {started}\n')
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    script = '<script>location = "mailto:desk@example.org"</script>'
    site.set("/p", page("P", "<p>a page</p>" + script))
    h = harness([{"id": "p", "url": site.url("/p"), "render": "browser"}])
    h.run()
    assert not started.exists()


def test_a_page_sent_to_a_forbidden_address_is_that_error_not_a_version(
    site: Site, harness: Callable[..., Harness]
) -> None:
    forbidden = Listener("127.0.0.2")
    try:
        target = f"http://127.0.0.2:{forbidden.port}/"
        script = f'<script>setTimeout(() => {{ location = "{target}" }}, 10)</script>'
        site.set("/p", page("P", "<ul id=jobs><li>ad</li></ul>" + script))
        h = harness(
            [{"id": "p", "url": site.url("/p"), "render": {"wait": "1s"}}], confirm_errors=1
        )
        [told] = h.run()
        assert forbidden.connections() == 0
        assert h.reports[-1].failures == {"p": "forbidden_address"}
        assert f"the page sent the browser to 127.0.0.2:{forbidden.port}" in told.summary
        assert h.history("p") == []  # Chromium's error page was not kept as the page
    finally:
        forbidden.close()


@pytest.mark.parametrize("status", [503, 404])
def test_a_list_whose_api_fails_is_an_error_not_every_ad_removed(
    site: Site, harness: Callable[..., Harness], status: int
) -> None:
    site.set("/careers", page("Careers", FETCHED))
    site.set("/api/jobs.json", Page(json.dumps(ADS), content_type="application/json"))
    watch = {"id": "c", "url": site.url("/careers"), "items": "#jobs li"}
    h = harness([{**watch, "render": {"wait_for": "body[data-ready]"}}], confirm_errors=1)
    h.run()
    site.set("/api/jobs.json", Page("not here today", status=status))
    [told] = h.run()
    assert told.kind == "error"
    assert f"the page's own requests failed (GET /api/jobs.json: {status})" in told.summary
    assert h.reports[-1].failures == {"c": "render_failed"}


def test_an_address_in_another_form_is_still_fetched_once(
    site: Site, harness: Callable[..., Harness]
) -> None:
    """The browser asks for /caf%C3%A9 where the watch says /café: it is handed the
    fetched answer all the same, and the site is not asked twice."""
    site.set("/café", jobs_page(ADS))
    h = harness([{"id": "c", "url": site.url("/café"), "items": "#jobs li", "render": "browser"}])
    [first_seen] = h.run()
    assert "3 items" in first_seen.summary
    assert len(site.seen("/café")) == 1


def test_a_browser_that_does_not_start_fails_its_pages_quickly(
    site: Site, harness: Callable[..., Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launches = tmp_path / "launches"
    hanging = tmp_path / "chromium"
    hanging.write_text(f"#!/bin/sh\necho started >> {launches}\nexec sleep 600\n")
    hanging.chmod(0o755)
    monkeypatch.setenv("SCRUBWATCH_CHROMIUM", str(hanging))
    site.set("/a", jobs_page(ADS))
    site.set("/b", jobs_page(ADS))
    h = harness(
        [
            {"id": "a", "url": site.url("/a"), "render": "browser"},
            {"id": "b", "url": site.url("/b"), "render": "browser"},
        ],
        timeout="3s",
        deadline="5s",
        confirm_errors=1,
        browser_pages=1,
    )
    events = h.run()
    assert h.reports[-1].failures == {"a": "render_failed", "b": "render_failed"}
    assert all("the browser did not start" in e.summary for e in events), events
    # Started once: the second page did not wait out a second launch.
    assert launches.read_text() == "started\n"
