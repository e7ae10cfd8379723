"""The contact clock (issue 14, part 2), from the command line: the contact is kept as
evidence, every page it concerns is captured at once, checked more often, and each later
event says how long after the contact it was seen."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from scrubwatch.core.config import parse_watchlist
from scrubwatch.core.contact import Contact, raised
from support import Site, page
from support.command import run_cli
from support.tsa import LocalTsa, authority_for


def setup(site: Site, tmp_path: Path, **settings: object) -> None:
    site.set("/ad.html", page("Ad 1001", "<main><p>Firmware Engineer, Urumqi</p></main>"))
    site.set("/other.html", page("Other", "<main><p>Nothing here</p></main>"))
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], **settings},
        "watches": [
            {"id": "ad", "url": site.url("/ad.html"), "tags": ["lumen"], "notify": []},
            {"id": "other", "url": site.url("/other.html"), "notify": []},
        ],
    }
    (tmp_path / "watchlist.yaml").write_text(yaml.safe_dump(data))


def test_a_contact_is_kept_captures_now_and_dates_what_follows(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)
    assert run_cli("check", cwd=tmp_path).returncode == 0

    said = run_cli("contact", "lumen", "--note", "emailed press office", cwd=tmp_path)

    assert said.returncode == 0, said.stderr
    assert (
        "recorded (" in said.stdout
        and "emailed press office): 1 page(s) checked and kept now" in (said.stdout)
    )
    assert "1 watch(es) checked every 15 min until" in said.stdout
    assert len(run_cli("history", "ad", cwd=tmp_path).stdout.splitlines()) == 2  # kept now
    status = run_cli("status", cwd=tmp_path).stdout
    assert "(emailed press office): 1 watch(es) checked every 15 min until" in status
    assert len(run_cli("history", "other", cwd=tmp_path).stdout.splitlines()) == 1
    (record,) = (tmp_path / ".scrubwatch" / "evidence" / "contacts").glob("c-*.json")
    kept = json.loads(record.read_text())
    assert kept["note"] == "emailed press office" and kept["watches"] == ["ad"]


def test_a_scrub_after_a_contact_says_how_long_after(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    at = "2026-01-01T10:00:00Z"
    assert run_cli("contact", "ad", "--note", "asked", "--at", at, cwd=tmp_path).returncode == 0
    site.pages.pop("/ad.html")

    first = run_cli("check", "--force", "--json", cwd=tmp_path)
    second = run_cli("check", "--force", "--json", cwd=tmp_path)

    events = [json.loads(x) for x in (first.stdout + second.stdout).splitlines() if x]
    (gone,) = [e for e in events if e["kind"] == "gone"]
    assert (
        gone["contact"]["note"] == "asked" and gone["contact"]["at"] == "2026-01-01T10:00:00.000Z"
    )
    assert "after contact c-" in gone["summary"] and "(asked)." in gone["summary"]


def test_a_target_that_names_nothing_is_one_line_and_exit_2(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)

    wrong = run_cli("contact", "lumon", "--note", "x", cwd=tmp_path)
    bad_time = run_cli("contact", "ad", "--note", "x", "--at", "yesterday", cwd=tmp_path)

    assert wrong.returncode == 2
    assert "'lumon' is no watch id or tag of watchlist.yaml (or `all`); its tags are lumen" in (
        wrong.stderr
    )
    assert bad_time.returncode == 2 and "--at 'yesterday': not a time" in bad_time.stderr
    assert not (tmp_path / ".scrubwatch" / "evidence" / "contacts").exists()


def test_the_contact_record_is_timestamped(site: Site, tmp_path: Path) -> None:
    tsa = LocalTsa()
    try:
        (tmp_path / "ca.pem").write_bytes(tsa.ca.read_bytes())
        setup(
            site, tmp_path, timestamp={"authorities": [{"url": tsa.url, "certificate": "ca.pem"}]}
        )
        said = run_cli("contact", "all", "--note", "called", cwd=tmp_path)
    finally:
        tsa.close()
    assert said.returncode == 0, said.stderr
    folder = tmp_path / ".scrubwatch" / "evidence" / "contacts"
    assert len(list(folder.glob("c-*.tsr"))) == 1 and len(list(folder.glob("tsa-*.pem"))) == 1
    checked = run_cli("verify", str(folder), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "1 contact record(s) stamped, each verified offline" in checked.stdout
    (record,) = folder.glob("c-*.json")
    record.write_text(record.read_text().replace("called", "emailed"))  # the note rewritten
    broken = run_cli("verify", str(folder), cwd=tmp_path)
    assert broken.returncode == 3 and "does not verify against its contact record" in broken.stderr


def test_a_contact_raises_how_often_its_watches_are_checked_while_it_lasts() -> None:
    watchlist = parse_watchlist(
        "watches:\n  - {id: ad, url: 'https://example.com/ad', every: 6h}\n"
        "  - {id: other, url: 'https://example.com/o', every: 6h}\n"
    )
    ad, other = watchlist.watches
    contact = Contact("c-1", 1000.0, "asked", "ad", ("ad",), every=900.0, until=2000.0)

    assert raised(ad, [contact], 1500.0).every == 900.0
    assert raised(other, [contact], 1500.0).every == 6 * 3600
    assert raised(ad, [contact], 2500.0).every == 6 * 3600  # over: its own every again


def test_the_same_contact_recorded_twice_keeps_its_first_record(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)
    args = ("contact", "ad", "--note", "asked", "--at", "2026-01-01T10:00:00Z")
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    (record,) = (tmp_path / ".scrubwatch" / "evidence" / "contacts").glob("c-*.json")
    first = record.read_bytes()

    again = run_cli(*args, cwd=tmp_path)

    assert again.returncode == 0 and record.read_bytes() == first
    status = run_cli("status", cwd=tmp_path).stdout
    assert status.count("contact c-") <= 1


def test_a_contact_in_the_future_or_with_no_closer_check_is_refused(
    site: Site, tmp_path: Path
) -> None:
    setup(site, tmp_path)

    ahead = run_cli("contact", "ad", "--note", "x", "--at", "2099-01-01T10:00Z", cwd=tmp_path)
    slow = run_cli("contact", "ad", "--note", "x", "--every", "1d", "--for", "1h", cwd=tmp_path)

    assert ahead.returncode == 2 and "is in the future" in ahead.stderr
    assert slow.returncode == 2 and "--every 1d is not shorter than --for 1h" in slow.stderr
    assert not (tmp_path / ".scrubwatch" / "evidence" / "contacts").exists()


def test_the_same_contact_again_says_so_and_a_page_that_fails_is_not_said_kept(
    site: Site, tmp_path: Path
) -> None:
    setup(site, tmp_path)
    site.pages.pop("/other.html")
    args = ("contact", "all", "--note", "asked", "--at", "2026-12-01T10:00Z")

    first = run_cli(*args, cwd=tmp_path)
    again = run_cli(*args, cwd=tmp_path)

    assert (
        "recorded (2026-12-01T10:00:00.000Z, asked): 1 page(s) checked and kept now, 1 could"
        in (first.stdout)
    )
    assert "was already recorded: its record stands" in again.stdout


def test_a_contact_recorded_while_the_authority_is_down_is_stamped_by_a_later_check(
    site: Site, tmp_path: Path
) -> None:
    with authority_for(tmp_path) as (tsa, timestamp):
        setup(site, tmp_path, timestamp=timestamp)
        tsa.down = True
        said = run_cli("contact", "ad", "--note", "called", cwd=tmp_path)
        folder = tmp_path / ".scrubwatch" / "evidence" / "contacts"
        assert "the contact's record has no timestamp from" in said.stderr
        assert not list(folder.glob("*.tsr"))
        tsa.down = False
        later = run_cli("check", cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    assert len(list(folder.glob("c-*.tsr"))) == 1
    checked = run_cli("verify", str(folder), cwd=tmp_path)
    assert "1 contact record(s) stamped, each verified offline" in checked.stdout
