"""One corrupt record (a torn write after a power loss, a bad hand edit) is reported once,
set aside for inspection, and never stops the other watches (issue 10, M2)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Harness, Site, kinds, page

Make = Callable[..., Harness]


def two_watches(site: Site, harness: Make) -> Harness:
    site.set("/a.html", page("A", "<p>a one</p>"))
    site.set("/b.html", page("B", "<p>b one</p>"))
    h = harness([{"id": "a", "url": site.url("/a.html")}, {"id": "b", "url": site.url("/b.html")}])
    assert sorted(kinds(h.run())) == [("a", "first_seen"), ("b", "first_seen")]
    return h


def db(h: Harness) -> sqlite3.Connection:
    return sqlite3.connect(h.root / "state.sqlite3", isolation_level=None)


def set_aside(h: Harness) -> list[tuple[str, str]]:
    return [tuple(r) for r in db(h).execute("SELECT source, key FROM set_aside")]


@pytest.mark.parametrize(
    "damage",
    [
        "",  # a torn write
        '{"watch_id": "a", "condition": ',
        "[1, 2, 3]",
        # A key nobody knows inside the kept version (a hand edit, a newer release).
        None,
    ],
)
def test_a_corrupt_state_row_is_set_aside_and_its_watch_starts_afresh(
    damage: str | None, site: Site, harness: Make, caplog: pytest.LogCaptureFixture
) -> None:
    h = two_watches(site, harness)
    if damage is None:
        [row] = db(h).execute("SELECT state FROM watch_state WHERE watch_id = 'a'")
        state = json.loads(row[0])
        state["current"]["colour"] = "blue"
        damage = json.dumps(state)
    db(h).execute("UPDATE watch_state SET state = ? WHERE watch_id = 'a'", (damage,))
    site.set("/b.html", page("B", "<p>b two</p>"))

    events = h.run()

    assert ("b", "changed") in kinds(events)  # the other watch's alert went out
    assert ("a", "first_seen") in kinds(events)  # a starts afresh ...
    assert set_aside(h) == [("watch_state", "a")]  # ... its old row kept for a person
    assert "a: its saved state is unreadable" in caplog.text
    caplog.clear()
    assert h.run() == []  # reported once: the next run is quiet
    assert "unreadable" not in caplog.text


def test_a_malformed_outbox_row_is_set_aside_and_the_others_are_delivered(
    site: Site, harness: Make
) -> None:
    h = two_watches(site, harness)
    with db(h) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, watch_id, event) VALUES ('torn', 'a', '{\"schema\": ')"
        )
        conn.execute("INSERT INTO pending (event_id, channel) VALUES ('torn', 'collector')")
    site.set("/b.html", page("B", "<p>b two</p>"))

    assert kinds(h.run()) == [("b", "changed")]
    assert set_aside(h) == [("outbox", "torn")]


@pytest.mark.parametrize("damage", [b"", b"\x00\x00garbage", b"[]"])
def test_an_unreadable_reading_file_does_not_stop_the_watch(
    damage: bytes, site: Site, harness: Make
) -> None:
    h = two_watches(site, harness)
    [row] = db(h).execute("SELECT version FROM version WHERE watch_id = 'a'")
    reading = h.root / "evidence" / "a" / f"{row[0]}.reading.json"
    reading.write_bytes(damage)
    site.set("/a.html", page("A", "<p>a two</p>"))
    site.set("/b.html", page("B", "<p>b two</p>"))

    events = h.run()

    assert sorted(kinds(events)) == [("a", "changed"), ("b", "changed")]
    [changed] = [e for e in events if e.watch == "a"]
    # Compared with the capture itself, read again: what went and what came, exactly.
    assert (changed.removed, changed.added) == (["a one"], ["a two"])


def test_a_read_only_store_reads_a_corrupt_row_as_absent(site: Site, harness: Make) -> None:
    from scrubwatch.backends.local import SqliteStateStore

    h = two_watches(site, harness)
    db(h).execute("UPDATE watch_state SET state = '' WHERE watch_id = 'a'")
    store = SqliteStateStore(h.root / "state.sqlite3", readonly=True)
    try:
        assert store.load(["a"])["a"].last_checked == 0
    finally:
        store.close()
    assert set_aside(h) == []  # nothing written by a reading command


def test_a_watch_starting_afresh_keeps_its_evidence_and_one_chain(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubwatch.cli.main import main

    site.set("/jobs.html", page("Jobs", "<ul><li>Engineer</li></ul>"))
    config = tmp_path / "watchlist.yaml"
    config.write_text(
        "settings: {allow_networks: ['127.0.0.1/32'], retries: 0}\n"
        f"watches:\n  - id: jobs\n    url: {site.url('/jobs.html')}\n    items: li\n"
    )
    assert main(["check", "-c", str(config)]) == 0
    database = tmp_path / ".scrubwatch" / "state.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE watch_state SET state = '{' WHERE watch_id = 'jobs'")
    site.set("/jobs.html", page("Jobs", "<ul><li>Engineer</li><li>Driver</li></ul>"))

    assert main(["check", "--force", "-c", str(config)]) == 0

    # The first capture, committed before the state was lost, is still there, and the
    # new one continues its chain.
    folder = tmp_path / ".scrubwatch" / "evidence" / "jobs"
    assert len(list(folder.glob("*.manifest.json"))) == 2
    capsys.readouterr()
    assert main(["verify", "jobs", "-c", str(config)]) == 0, capsys.readouterr().err
