"""`scrubwatch report` (issue 14, part 3): a self-contained page a newsroom can publish, and
its Markdown twin, made from the evidence and checked against it."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import yaml
from selectolax.lexbor import LexborHTMLParser
from support import Site, page
from support.command import run_cli
from support.tsa import authority_for

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> [click](javascript:alert(3))"


def listing(*jobs: str) -> str:
    items = "".join(f'<li class="job">{j}</li>' for j in jobs)
    return page("Jobs", f'<ul id="jobs">{items}</ul>')


def setup(site: Site, tmp_path: Path, **settings: object) -> None:
    hostile = HOSTILE.replace("<", "&lt;").replace(">", "&gt;")
    site.set(
        "/jobs.html", listing("Optical Engineer, Shenzhen", f"Firmware Engineer, Urumqi {hostile}")
    )
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], "confirm_gone": 1, **settings},
        "watches": [
            {
                "id": "jobs",
                "name": "Lumen jobs",
                "url": site.url("/jobs.html"),
                "select": "#jobs",
                "items": "li.job",
                "keywords": ["Urumqi"],
                "notify": [],
            },
        ],
    }
    (tmp_path / "watchlist.yaml").write_text(yaml.safe_dump(data))


class Strict(HTMLParser):
    """Fails on a tag closed that was never opened (the report's markup must nest)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.void = {"meta", "br", "hr", "img", "input", "link"}

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.void:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def outside_code(markdown: str) -> str:
    """The Markdown's lines outside code fences (inside, text shows as it is)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def scrubbed_with_contact(site: Site, tmp_path: Path) -> None:
    assert run_cli("check", cwd=tmp_path).returncode == 0
    said = run_cli("contact", "jobs", "--note", "emailed press office", cwd=tmp_path)
    assert said.returncode == 0, said.stderr
    site.set("/jobs.html", listing("Optical Engineer, Shenzhen"))
    assert run_cli("check", "--force", cwd=tmp_path).returncode == 0


def test_the_report_shows_the_scrub_after_the_contact_with_the_evidence_hashes(
    site: Site, tmp_path: Path
) -> None:
    with authority_for(tmp_path) as (_, timestamp):
        setup(site, tmp_path, timestamp=timestamp)
        scrubbed_with_contact(site, tmp_path)
        made = run_cli("report", "jobs", "-o", "out", cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Report of 1 watch (1 change) written to out/report.html")
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    Strict().feed(html)
    tree = LexborHTMLParser(html)
    # Nothing loads from anywhere: no script, no element with a source, no stylesheet link,
    # no CSS that fetches, and a policy that forbids it all the same.
    assert not tree.css("script, img, iframe, link, object, embed, [src]")
    assert "url(" not in html and "@import" not in html
    (policy,) = tree.css('meta[http-equiv="Content-Security-Policy"]')
    assert policy.attributes["content"].startswith("default-src 'none'")
    # The hostile page's text is shown as text, in both renderings.
    removed = [li.text() for li in tree.css("li.removed")]
    assert any(HOSTILE in text for text in removed), removed
    assert f"`Firmware Engineer, Urumqi {HOSTILE}`" in md  # an item: a code span
    assert "<script>" not in outside_code(md)
    # Every version's manifest hash is the one of the file kept, and each was stamped.
    folder = tmp_path / ".scrubwatch" / "evidence" / "jobs"
    rows = run_cli("history", "jobs", "--json", cwd=tmp_path).stdout.splitlines()
    assert len(rows) == 3
    for row in map(json.loads, rows):
        digest = hashlib.sha256((folder / f"{row['version']}.manifest.json").read_bytes())
        assert digest.hexdigest() in html and digest.hexdigest() in md
    assert html.count("verified offline") >= 2
    # The contact on the timeline, and the scrub dated from it.
    assert "emailed press office" in tree.css_first("div.entry.contact").text()
    (change,) = tree.css("div.entry.change")
    assert "after contact c-" in change.text() and "Urumqi" in change.text()
    assert "Evidence verified: 3 version(s)" in html


def test_altered_evidence_is_said_in_the_report_and_its_exit(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)
    scrubbed_with_contact(site, tmp_path)
    folder = tmp_path / ".scrubwatch" / "evidence" / "jobs"
    text = sorted(folder.glob("*.txt"))[0]
    text.write_text(text.read_text() + "edited")

    made = run_cli("report", "-o", "out", cwd=tmp_path)

    assert made.returncode == 3
    assert "evidence does NOT verify for: jobs" in made.stdout
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Evidence does NOT verify" in html and f"{text.name}: SHA-256" in html


def test_a_report_around_a_contact_starts_from_the_version_before_it(
    site: Site, tmp_path: Path
) -> None:
    setup(site, tmp_path)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    site.set("/jobs.html", listing("Optical Engineer, Shenzhen", "Sales Manager"))
    assert run_cli("check", "--force", cwd=tmp_path).returncode == 0  # before the contact
    said = run_cli("contact", "jobs", "--note", "called", cwd=tmp_path)
    contact_id = said.stdout.split()[1]
    site.set("/jobs.html", listing("Sales Manager"))
    assert run_cli("check", "--force", cwd=tmp_path).returncode == 0

    made = run_cli("report", "--contact", contact_id, "-o", "out", cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    tree = LexborHTMLParser((tmp_path / "out" / "report.html").read_text())
    # The capture the contact made, then the scrub: the change before the contact is not told.
    assert len(tree.css("div.entry.change")) == 1
    assert [li.text() for li in tree.css("li.removed")] == ["Optical Engineer, Shenzhen"]


def test_mistakes_are_one_line_and_exit_2(site: Site, tmp_path: Path) -> None:
    setup(site, tmp_path)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "report.html").write_text("mine")
    (tmp_path / "afile").write_text("")

    cases = {
        ("--contact", "c-nothere"): "no contact 'c-nothere' (contacts: none recorded yet)",
        ("--since", "yesterday"): "--since 'yesterday': not a time",
        ("--since", "2999-01-01T00:00Z"): "--since '2999-01-01T00:00Z' is in the future",
        ("nosuch",): "'nosuch' is no watch id or tag of watchlist.yaml",
    }
    for args, said in cases.items():
        done = run_cli("report", *args, "-o", "out", cwd=tmp_path)
        assert done.returncode == 2 and said in done.stderr, (args, done.stderr)
        assert len(done.stderr.splitlines()) == 1
    taken = run_cli("report", "-o", "taken", cwd=tmp_path)
    assert (
        taken.returncode == 2 and "taken is not empty; give a new or empty folder" in taken.stderr
    )
    assert (tmp_path / "taken" / "report.html").read_text() == "mine"
    onto_file = run_cli("report", "-o", "afile", cwd=tmp_path)
    assert onto_file.returncode == 2 and "afile is a file" in onto_file.stderr
    assert not (tmp_path / "out").exists()


def test_a_listing_s_gone_pages_are_told_and_its_quiet_ones_named_in_a_line(
    site: Site, tmp_path: Path
) -> None:
    names = {1001: "Optical Engineer", 1002: "Firmware Engineer, Urumqi", 1003: "Sales"}
    items = "".join(f'<li class="job"><a href="/jobs/{i}">{n}</a></li>' for i, n in names.items())
    site.set("/jobs", page("Jobs", f"<ul>{items}</ul>"))
    for i, name in names.items():
        site.set(f"/jobs/{i}", page(f"Ad {i}", f'<div id="job">{name}</div>'))
    data = {
        "settings": {"allow_networks": ["127.0.0.1/32"], "retries": 0, "confirm_gone": 1},
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
    (tmp_path / "watchlist.yaml").write_text(yaml.safe_dump(data))
    assert run_cli("check", cwd=tmp_path).returncode == 0
    site.pages.pop("/jobs/1002")
    assert run_cli("check", "--force", cwd=tmp_path).returncode == 0

    made = run_cli("report", "-o", "out", cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    tree = LexborHTMLParser((tmp_path / "out" / "report.html").read_text())
    text = tree.body.text() if tree.body else ""
    assert "Pages it found: 3 with a version in this span; 1 gone" in text
    assert "1 changed or told of otherwise" not in text  # the gone page is counted once
    (told,) = tree.css("h3")
    assert told.text().startswith("Firmware Engineer, Urumqi")
    (quiet,) = [p for p in tree.css("p.quiet") if p.text().startswith("Unchanged in this span")]
    assert "Optical Engineer" in quiet.text() and "Sales" in quiet.text()
    assert "gone" in tree.css_first("div.entry.change").text()
