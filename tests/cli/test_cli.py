"""The ``scrubwatch`` command against a real local server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrubwatch.cli.main import main
from support import Page, Site, page
from support.command import SCRUBWATCH, jobs, run_cli, write_watchlist

PROBLEM = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")

BAD = """\
settings:
  timeout: 20 parsecs
watches:
  - id: careers
    url: https://example.com/careers.html
    selector: "#jobs"
  - id: ftp
    url: ftp://example.com/file.txt
    ignore: ['(unclosed']
  - id: map
    url: https://example.com/campus.html
    select: "div[["
"""


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUBWATCH_CONFIG", raising=False)
    monkeypatch.delenv("SCRUBWATCH_STATE", raising=False)


# --- validate ------------------------------------------------------------------------------


def test_validate_good_file(tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)

    assert main(["validate", "-c", str(config)]) == 0

    out = capsys.readouterr().out
    assert "2 watch" in out
    assert not (tmp_path / ".scrubwatch").exists()
    assert site.seen() == []  # validating fetches nothing


def test_validate_bad_file_lists_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "watchlist.yaml"
    config.write_text(BAD, "utf-8")

    proc = run_cli("validate", "-c", str(config), cwd=tmp_path)

    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    problems = [PROBLEM.match(line) for line in lines]
    assert all(problems), lines
    found = {(int(m["line"]), m["field"]) for m in problems if m}
    assert found == {
        (2, "settings.timeout"),
        (6, "watches[0].selector"),
        (8, "watches[1].url"),
        (9, "watches[1].ignore[0]"),
        (12, "watches[2].select"),
    }
    assert all(m["file"] == str(config) for m in problems if m)
    assert not (tmp_path / ".scrubwatch").exists()


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("watches:\n  - url: https://a.example/\n    every: soon\n", 3, "watches[0].every"),
        ("settings:\n  max_bytes: lots\nwatches: []\n", 2, "settings.max_bytes"),
        (
            "watches:\n  - id: x\n    url: https://a.example/\n"
            "  - id: x\n    url: https://b.example/\n",
            4,
            "watches[1].id",
        ),
        ("watches:\n  - id: x\n    name: a: b\n    url: https://a.example/\n", 3, "YAML syntax"),
    ],
    ids=["duration", "size", "duplicate-id", "yaml-syntax"],
)
def test_validate_reports_file_line_and_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    field: str,
) -> None:
    config = tmp_path / "w.yaml"
    config.write_text(text, "utf-8")

    assert main(["validate", "-c", str(config)]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{config}:{line}: {field}: ")


def test_check_on_a_bad_file_touches_no_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "watchlist.yaml"
    config.write_text(BAD, "utf-8")
    state = tmp_path / "state"
    monkeypatch.chdir(tmp_path)

    assert main(["check", "--force", "-c", str(config), "--state", str(state)]) == 2
    assert main(["check", "--force", "-c", str(config)]) == 2

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 10  # five problems, twice
    assert all(PROBLEM.match(line) for line in err)
    assert not state.exists()
    assert not (tmp_path / ".scrubwatch").exists()


# --- check ---------------------------------------------------------------------------------


def test_check_json_writes_one_event_per_line(tmp_path: Path, site: Site) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)

    proc = run_cli("check", "--force", "--json", "-c", str(config), cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert sorted((e["watch"], e["kind"]) for e in events) == [
        ("careers", "first_seen"),
        ("rd-map", "first_seen"),
    ]
    assert all(e["schema"] == "scrubwatch.event/1" for e in events)
    assert "Checked 2 watch" in proc.stderr
    assert (tmp_path / ".scrubwatch" / "state.sqlite3").exists()

    # The page is scrubbed: the next check prints only the change.
    site.set("/careers.html", jobs(["Optical Engineer"]))
    site.set("/campus.html", page("Campus", "<p>Nothing here</p>"))
    proc = run_cli("check", "--force", "--json", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted((e["watch"], e["kind"]) for e in events) == [
        ("careers", "changed"),
        ("rd-map", "element_missing"),
    ]
    careers = next(e for e in events if e["watch"] == "careers")
    assert careers["removed"] == ["Firmware Engineer, Urumqi"]

    # Nothing new: nothing on stdout.
    proc = run_cli("check", "--force", "--json", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == ""


def test_check_without_json_prints_readable_alerts(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    capsys.readouterr()
    site.set("/careers.html", jobs(["Optical Engineer"]))

    assert main(["check", "--force", "-c", str(config)]) == 0

    out = capsys.readouterr().out
    assert "[CHANGED]" in out
    assert "Firmware Engineer, Urumqi" in out
    assert "Checked 2 watch" in out


def test_check_only_checks_the_named_watch(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)

    assert main(["check", "--force", "--json", "--only", "rd-map", "-c", str(config)]) == 0

    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["watch"] for e in events] == ["rd-map"]
    assert site.seen("/careers.html") == []


def test_check_only_unknown_id_is_a_usage_error(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    state = tmp_path / "state"

    code = main(["check", "--only", "unknown-id", "-c", str(config), "--state", str(state)])

    assert code == 2
    assert "unknown-id" in capsys.readouterr().err
    assert site.seen() == []
    assert not state.exists()


def test_check_without_force_checks_only_due_watches(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--json", "-c", str(config)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    mark = site.mark()

    assert main(["check", "--json", "-c", str(config)]) == 0  # every: 6h, nothing is due

    assert site.seen(since=mark) == []
    assert main(["check", "--json", "--force", "-c", str(config)]) == 0
    assert len(site.seen(since=mark)) == 2


def test_check_exits_0_when_it_finds_problems(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "watchlist.yaml"
    site.set("/x.html", Page("nope", status=404))
    config.write_text(
        yaml.safe_dump(
            {
                "settings": {"confirm_gone": 1, "retries": 0},  # no allow_networks
                "watches": [{"id": "x", "url": site.url("/x.html")}],
            }
        ),
        "utf-8",
    )

    assert main(["check", "--force", "--json", "-c", str(config)]) == 0

    [event] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (event["kind"], event["reason"]) == ("error", "forbidden_address")
    assert site.seen() == []


# --- history and diff ----------------------------------------------------------------------


def test_history_and_diff(tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    site.set("/careers.html", jobs(["Optical Engineer", "Buyer, Hangzhou"]))
    assert main(["check", "--force", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["history", "careers", "--json", "-c", str(config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert {"version", "fetched_at", "status", "evidence"} <= row.keys()
        assert row["status"] == 200
        assert re.fullmatch(r"[0-9a-f]{64}", row["version"])
        assert Path(row["evidence"].removeprefix("file://")).is_file()
    assert rows[0]["version"] != rows[1]["version"]
    assert rows[0]["fetched_at"] <= rows[1]["fetched_at"]

    assert main(["history", "careers", "-c", str(config)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    assert main(["diff", "careers", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "-Firmware Engineer, Urumqi" in out
    assert "+Buyer, Hangzhou" in out
    assert " Optical Engineer" in out
    assert not any("\x1b[" in line for line in out)  # not a terminal: no colour

    old, new = rows[0]["version"][:10], rows[1]["version"][:10]
    assert main(["diff", "careers", "--from", new, "--to", old, "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "+Firmware Engineer, Urumqi" in out
    assert "-Buyer, Hangzhou" in out


def test_history_of_an_unknown_watch_is_a_usage_error(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["history", "nope", "--json", "-c", str(config)]) == 2
    assert capsys.readouterr().out == ""


# --- environment ---------------------------------------------------------------------------


def test_environment_variables_choose_config_and_state(
    tmp_path: Path,
    site: Site,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "conf").mkdir()
    config = write_watchlist(tmp_path / "conf" / "mine.yaml", site)
    state = tmp_path / "elsewhere" / "state"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SCRUBWATCH_CONFIG", str(config))
    monkeypatch.setenv("SCRUBWATCH_STATE", str(state))

    assert main(["validate"]) == 0
    assert str(config) in capsys.readouterr().out
    assert main(["check", "--force", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert len(events) == 2
    assert (state / "state.sqlite3").is_file()
    assert not (cwd / ".scrubwatch").exists()
    assert not (tmp_path / "conf" / ".scrubwatch").exists()
    assert all(e["current"]["evidence"].startswith(state.resolve().as_uri()) for e in events)
    assert main(["history", "careers", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_default_state_is_beside_the_watch_list(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    config = write_watchlist(tmp_path / "conf" / "watchlist.yaml", site)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    assert main(["check", "--force", "-c", str(config)]) == 0

    assert (tmp_path / "conf" / ".scrubwatch" / "state.sqlite3").is_file()
    assert not (cwd / ".scrubwatch").exists()


# --- demo ----------------------------------------------------------------------------------


def test_demo(tmp_path: Path) -> None:
    proc = run_cli("demo", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for label in ("GONE", "REMOVED", "CHANGED"):
        assert f"[{label}]" in proc.stdout
    assert "iframe: https://maps.example.net/" in proc.stdout
    assert "now answers 404" in proc.stdout
    assert "redirects to" in proc.stdout


def test_demo_keeps_its_state_where_asked(tmp_path: Path) -> None:
    state = tmp_path / "demo-state"

    proc = run_cli("demo", "--state", str(state), cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert (state / "state.sqlite3").is_file()
    assert list((state / "evidence").iterdir())
    assert f"--state {state}" in proc.stdout  # how to look at what it kept
    history = run_cli("history", "careers", "--state", str(state), cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert len(history.stdout.splitlines()) == 2

    # A folder holding anything (another demo, a real state folder) is not overwritten.
    again = run_cli("demo", "--state", str(state), cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"scrubwatch: demo --state {state}: give a new or empty folder "
        "(the demo starts from nothing)"
    ]


def test_demo_refuses_a_watch_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "watchlist.yaml"
    config.write_text("watches: []\n")

    assert main(["demo", "-c", str(config)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""  # no demo ran
    [line] = captured.err.strip().splitlines()
    assert line.startswith("scrubwatch: demo runs its own watch list")
    assert "scrubwatch check -c FILE" in line


# --- small things --------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    from scrubwatch import __version__

    proc = run_cli("--version", cwd=tmp_path)

    assert proc.returncode == 0
    assert proc.stdout == f"scrubwatch {__version__}\n"


def test_verbose_shows_scrubwatch_lines_not_the_http_libraries(tmp_path: Path, site: Site) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)

    proc = run_cli("check", "--force", "-v", "-c", str(config), cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    logged = [line for line in proc.stderr.splitlines() if LOG_LINE.match(line)]
    assert any(line.split()[1].startswith("scrubwatch") for line in logged), proc.stderr
    assert [line for line in logged if not line.split()[1].startswith("scrubwatch")] == []
    # What each check saw: the answer, how long it took, what it meant.
    assert any(
        re.search(r"DEBUG scrubwatch: careers: \S+ 200 in [\d.]+s: ok$", line) for line in logged
    )


LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")


def test_the_console_says_the_kind_once(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    site.set("/careers.html", jobs(["Optical Engineer"]))
    site.set("/campus.html", Page("gone", status=410))
    for _ in range(2):  # confirm_gone: 2
        assert main(["check", "--force", "-c", str(config)]) == 0

    out = capsys.readouterr().out
    assert re.search(r"^\[CHANGED\] careers: 1 item removed", out, re.M), out
    assert re.search(r"^\[GONE\] rd-map ", out, re.M), out
    assert "CHANGED: " not in out and "GONE: " not in out


# --- the closing summary -------------------------------------------------------------------


def report(**fields: Any) -> Any:
    from scrubwatch.core.report import RunReport

    return RunReport(**{"checked": 3, "seconds": 1.5, **fields})


def event(kind: str) -> Any:
    from scrubwatch.core.events import Event

    return Event("id", "w", "W", "https://a.example/", kind, None, "t", "s")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kinds", "words"),
    [
        ([], "no changes"),
        (["changed"], "1 change"),
        (["changed", "changed", "gone"], "2 changes, 1 page gone"),
        (["element_missing"], "1 part removed"),
        (["element_missing"] * 3, "3 parts removed"),
        (["error", "error", "error"], "3 errors reported"),
        (["error"], "1 error reported"),
        (["first_seen", "first_seen"], "2 pages read for the first time"),
        (["restored", "gone", "gone"], "2 pages gone, 1 page back"),
    ],
)
def test_summary_says_what_was_found_in_words(kinds: list[str], words: str) -> None:
    from scrubwatch.core.summary import summary

    line = summary(report(events=[event(k) for k in kinds]))

    assert line == f"Checked 3 watches in 1.5s: {words}."


def test_summary_says_what_failed_and_never_no_changes() -> None:
    from scrubwatch.core.summary import summary

    line = summary(
        report(
            events=[event("changed"), event("gone")],
            failures={"shop": "connect", "blog": "timeout"},
            suspected=["eye-9"],
            matched_nothing=["careers"],
            rebaselined={"map": "select changed"},
        )
    )

    assert line == (
        "Checked 3 watches in 1.5s: 1 change, 1 page gone. 2 failed (shop: connect, "
        "blog: timeout). 1 suspected gone (eye-9), not yet confirmed. 1 watch matches "
        "nothing (careers): check its select/items. See scrubwatch status. "
        "map was re-baselined (select changed)."
    )
    only_failed = summary(report(checked=1, failures={"shop": "connect"}))
    assert (
        only_failed == "Checked 1 watch in 1.5s. 1 failed (shop: connect). See scrubwatch status."
    )


def test_a_run_with_a_server_down_says_it_failed(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "--force", "-c", str(config)]) == 0
    site.set("/careers.html", Page("down for maintenance", status=503))
    site.set("/campus.html", Page(page("Not Found", "<h1>Not Found</h1>"), status=404))
    capsys.readouterr()

    assert main(["check", "--force", "-c", str(config)]) == 0

    out = capsys.readouterr().out
    assert "no changes" not in out
    assert (
        "Checked 2 watches in " in out
        and "1 failed (careers: http_5xx). 1 suspected gone (rd-map), not yet confirmed."
        " See scrubwatch status."
        in out
    ), out


def test_only_a_watch_not_due_says_when_it_is(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "-c", str(config)]) == 0
    capsys.readouterr()
    mark = site.mark()

    assert main(["check", "--only", "careers", "-c", str(config)]) == 0

    assert site.seen(since=mark) == []
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert re.fullmatch(
        r"careers is not due until \d\d:\d\d \(use --force to check it now\)", out[0]
    ) or re.fullmatch(
        r"careers is not due until \d{4}-\d\d-\d\d \d\d:\d\d \(use --force to check it now\)",
        out[0],
    ), out


def _on_a_terminal(*args: str, cwd: Path) -> str:
    """Runs scrubwatch with stdout and stderr on one pseudo-terminal; returns what it showed."""
    import pty

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUBWATCH_")}
    proc = subprocess.Popen([SCRUBWATCH, *args], cwd=cwd, env=env, stdout=follower, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    return shown.decode()


def test_the_progress_bar_is_cleared_before_an_alert(tmp_path: Path, site: Site) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert run_cli("check", "--force", "-c", str(config), cwd=tmp_path).returncode == 0
    site.set("/careers.html", jobs(["Optical Engineer"]))

    shown = _on_a_terminal("check", "--force", "-c", str(config), cwd=tmp_path)

    bar = shown.rindex("checked", 0, shown.index("[CHANGED]"))
    between = shown[bar + len("checked") : shown.index("[CHANGED]")]
    assert between == "\r" + " " * 60 + "\r", repr(shown)


def test_check_refuses_a_notify_channel_that_is_not_set_up(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCRUBWATCH_SLACK_WEBHOOK", raising=False)
    config = write_watchlist(tmp_path / "watchlist.yaml", site, defaults={"notify": ["slack"]})
    before = site.mark()

    assert main(["check", "-c", str(config)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'slack' is not configured" in err, err
    assert site.seen(since=before) == []  # refused before anything was fetched
    assert not (tmp_path / ".scrubwatch").exists()


def test_a_run_where_nothing_is_due_says_so(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_watchlist(tmp_path / "watchlist.yaml", site)
    assert main(["check", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["check", "-c", str(config)]) == 0

    assert capsys.readouterr().out == (
        "Checked 0 of 2 watches: none is due yet (scrubwatch status says when;"
        " --force checks them now).\n"
    )


def test_ctrl_c_says_what_is_kept(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubwatch.check.engine import Engine

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "run", interrupted)
    config = write_watchlist(tmp_path / "watchlist.yaml", site)

    assert main(["check", "-c", str(config)]) == 130

    assert capsys.readouterr().err == (
        "scrubwatch: interrupted (what was already checked is kept; the rest is checked next run)\n"
    )


def test_diff_across_a_watch_edit_shows_the_change_the_alert_reported(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.set(
        "/campus.html", page("Campus", "<div id=map><p>Urumqi R&amp;D</p></div><p>Contact</p>")
    )
    watch = {"id": "map", "url": site.url("/campus.html"), "select": "#map"}
    config = tmp_path / "watchlist.yaml"
    settings = {"allow_networks": ["127.0.0.1/32"], "retries": 0}
    config.write_text(yaml.safe_dump({"settings": settings, "watches": [watch]}), "utf-8")
    assert main(["check", "-c", str(config)]) == 0
    site.set(
        "/campus.html", page("Campus", "<div id=map><p>Kashgar R&amp;D</p></div><p>Contact</p>")
    )
    watch["select"] = "body"
    config.write_text(yaml.safe_dump({"settings": settings, "watches": [watch]}), "utf-8")
    assert main(["check", "-c", str(config)]) == 0  # an edited watch is due at once
    capsys.readouterr()

    assert main(["diff", "map", "-c", str(config)]) == 0

    captured = capsys.readouterr()
    changed = [
        line
        for line in captured.out.splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-Urumqi R&D", "+Kashgar R&D"], captured.out
    assert "the watch was edited between these captures" in captured.err


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    # More rows than a pipe holds, so the command is still writing when `head` leaves.
    watches = [{"id": f"w{i}", "url": f"https://a.example/{i}"} for i in range(2000)]
    config = tmp_path / "watchlist.yaml"
    config.write_text(yaml.safe_dump({"watches": watches}), "utf-8")
    proc = subprocess.Popen(
        [SCRUBWATCH, "status", "-c", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"WATCH")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err, err
