"""Trusted timestamps (issue 14, part 1): every new version's manifest stamped by a real
RFC 3161 authority on 127.0.0.1, kept beside it, named by the next manifest, and checked
offline by `verify`; an authority that is down never blocks a check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrubwatch.check.engine import Engine
from scrubwatch.check.ports import Commit
from scrubwatch.check.timestamp import load_authorities
from scrubwatch.core.events import Event
from scrubwatch.core.summary import summary
from scrubwatch.evidence.verify import verify_folder
from support import Harness, Site, page
from support.command import run_cli
from support.tsa import LocalTsa

Make = Callable[..., Harness]


@pytest.fixture
def tsa() -> Iterator[LocalTsa]:
    authority = LocalTsa()
    yield authority
    authority.close()


def watched(site: Site, harness: Make, tsa: LocalTsa) -> Harness:
    site.set("/notice.html", page("Notice", "<main><p>Tender 2026/17 closes in March.</p></main>"))
    authorities = [{"url": tsa.url, "certificate": str(tsa.ca)}]
    return harness(
        [{"id": "notice", "url": site.url("/notice.html")}],
        timestamp={"authorities": authorities},
    )


def run(h: Harness) -> list[Event]:
    engine = Engine(
        h.watchlist,
        h.state,
        h.evidence,
        [h.collector],
        workers=1,
        authorities=load_authorities(h.watchlist),
    )
    start = len(h.collector.events)
    h.reports.append(engine.run(force=True))
    return h.collector.events[start:]


def folder(h: Harness) -> Path:
    return h.root / "evidence" / "notice"


def tokens(h: Harness) -> list[Path]:
    return sorted(folder(h).glob("*.tsr"))


def test_a_new_version_is_stamped_and_verifies_offline(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    h = watched(site, harness, tsa)

    run(h)

    (row,) = h.history("notice")
    (token,) = tokens(h)
    assert token.name.startswith(row["version"] + ".")
    assert len(list(folder(h).glob("tsa-*.pem"))) == 1
    report = verify_folder(folder(h), h.state.load(["notice"])["notice"].chain_head)
    assert report.ok, report.problems
    ((when, ca, _),) = report.trusted[row["version"]]
    assert ca == "Scrubwatch Test TSA Root" and when >= row["fetched_at"][:19]
    assert h.state.stamps_due() == []


def test_the_next_manifest_names_the_token_and_a_removed_token_breaks_the_chain(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    h = watched(site, harness, tsa)
    run(h)
    site.set("/notice.html", page("Notice", "<main><p>Tender 2026/17 is cancelled.</p></main>"))
    run(h)
    first, second = h.history("notice")
    (first_token,) = [t for t in tokens(h) if t.name.startswith(first["version"])]
    listed = json.loads((folder(h) / f"{second['version']}.manifest.json").read_text())
    assert listed["timestamps"]["version"] == first["version"]
    assert [t["file"] for t in listed["timestamps"]["tokens"]] == [first_token.name]

    first_token.unlink()

    report = verify_folder(folder(h), h.state.load(["notice"])["notice"].chain_head)
    assert f"{first_token.name}: named by {second['version']}.manifest.json but missing" in (
        report.problems
    )


def test_an_altered_token_or_a_consistently_rewritten_manifest_fails_verify(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    h = watched(site, harness, tsa)
    run(h)
    (row,) = h.history("notice")
    (token,) = tokens(h)
    good = token.read_bytes()
    token.write_bytes(good[:-40] + bytes(b ^ 0xFF for b in good[-40:]))
    assert not verify_folder(folder(h)).ok
    token.write_bytes(good)
    # Rewritten with everything consistent (its own hashes, the head that vouches for it),
    # the manifest no longer matches the token the authority signed.
    path = folder(h) / f"{row['version']}.manifest.json"
    rewritten = path.read_bytes().replace(b'"classification"', b'"classification" ', 1)
    path.write_bytes(rewritten)
    import hashlib

    report = verify_folder(folder(h), hashlib.sha256(rewritten).hexdigest())
    assert [p for p in report.problems if p.startswith(token.name)], report.problems


def test_an_authority_that_is_down_never_blocks_a_check_and_is_asked_again(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    h = watched(site, harness, tsa)
    tsa.down = True

    events = run(h)

    assert [e.kind for e in events] == ["first_seen"]  # the check went on
    assert tokens(h) == []
    (due,) = h.state.stamps_due()
    assert due.why == "HTTP 503" and due.tries == 1
    assert f"No timestamp from {tsa.url} (HTTP 503); asked again next run." in summary(
        h.reports[-1]
    )
    tsa.down = False
    run(h)  # nothing new on the page: only the token owed is asked for
    assert len(tokens(h)) == 1 and h.state.stamps_due() == []


def test_the_command_line_stamps_reports_and_verifies(
    site: Site, tmp_path: Path, tsa: LocalTsa
) -> None:
    site.set("/notice.html", page("Notice", "<main><p>Tender 2026/17.</p></main>"))
    data: dict[str, Any] = {
        "settings": {
            "allow_networks": ["127.0.0.1/32"],
            "timestamp": {"authorities": [{"url": tsa.url, "certificate": "tsa-ca.pem"}]},
        },
        "watches": [{"id": "notice", "url": site.url("/notice.html"), "notify": []}],
    }
    (tmp_path / "tsa-ca.pem").write_bytes(tsa.ca.read_bytes())
    (tmp_path / "watchlist.yaml").write_text(json.dumps(data))
    tsa.down = True
    assert run_cli("check", cwd=tmp_path).returncode == 0
    status = run_cli("status", cwd=tmp_path).stdout
    assert f"timestamps: 1 version(s) wait for {tsa.url} (last: HTTP 503)" in status
    tsa.down = False
    assert run_cli("check", cwd=tmp_path).returncode == 0

    verified = run_cli("verify", "notice", cwd=tmp_path)

    assert verified.returncode == 0, verified.stderr
    assert "trusted timestamps: 1 version(s) stamped, each verified offline:" in verified.stdout
    assert "CA Scrubwatch Test TSA Root: SHA-256 " in verified.stdout
    # Your own evidence is held to your watch list's authorities: no fingerprint to compare.
    assert "compare each fingerprint" not in verified.stdout
    exported = run_cli("export", "notice", str(tmp_path / "bundle"), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    bundle = run_cli("verify", str(tmp_path / "bundle"), cwd=tmp_path)
    assert bundle.returncode == 0 and "trusted timestamps" in bundle.stdout
    assert "compare each fingerprint with the authority's published certificate" in bundle.stdout
    pinned = run_cli("verify", "--tsa-ca", "tsa-ca.pem", str(tmp_path / "bundle"), cwd=tmp_path)
    assert pinned.returncode == 0 and "compare each fingerprint" not in pinned.stdout
    # A CA planted in your own evidence fails against the one your watch list names.
    own = tmp_path / ".scrubwatch" / "evidence" / "notice"
    (token,) = own.glob("*.tsr")
    forger = LocalTsa()
    try:
        version = token.name.split(".")[0]
        planted = _mint(forger, (own / f"{version}.manifest.json").read_bytes())
    finally:
        forger.close()
    token.unlink()
    (own / f"{version}.{planted[0]}.tsr").write_bytes(planted[1])
    (own / f"tsa-{planted[0]}.pem").write_bytes(planted[2])
    broken = run_cli("verify", "notice", cwd=tmp_path)
    assert broken.returncode == 3
    assert "signed under a CA you did not name" in broken.stderr


def _mint(forger: LocalTsa, manifest: bytes) -> tuple[str, bytes, bytes]:
    """A token of ``manifest`` from another authority: (its file id, token, CA)."""
    import asyncio

    import httpx
    from scrubwatch.check.timestamp import Authority, stamp

    fake = Authority(forger.url, forger.ca.read_bytes())

    async def mint() -> bytes:
        async with httpx.AsyncClient() as client:
            return await stamp(client, fake, manifest)

    return fake.slug, asyncio.run(mint()), fake.ca_pem


def test_a_certificate_that_cannot_be_read_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "watchlist.yaml").write_text(
        "settings:\n  timestamp:\n    authorities:\n"
        "      - {url: 'http://127.0.0.1:9/tsr', certificate: missing.pem}\n"
        "watches: []\n"
    )

    result = run_cli("validate", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(
        "watchlist.yaml:4: settings.timestamp.authorities[0].certificate: cannot read "
    )
    aws = run_cli("validate", "--for", "aws", cwd=tmp_path)
    assert aws.returncode == 2 and "not on AWS" in aws.stderr


def test_a_token_kept_by_a_run_that_stopped_is_not_asked_again(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    h = watched(site, harness, tsa)
    run(h)
    (token,) = tokens(h)
    kept = token.read_bytes()
    # The run stopped after writing the token, before the state said so.
    (row,) = h.history("notice")
    owed = ((row["version"], tsa.url),)
    state = h.state.load(["notice"])["notice"]
    assert h.state.commit([Commit(state=state, stamps=owed)]) == []
    asked = tsa.asked

    run(h)

    assert tsa.asked == asked and token.read_bytes() == kept
    assert h.state.stamps_due() == []


def test_a_token_from_a_planted_authority_fails_once_the_real_ca_is_named(
    site: Site, harness: Make, tsa: LocalTsa, tmp_path: Path
) -> None:
    import asyncio

    import httpx
    from scrubwatch.check.timestamp import Authority, stamp

    h = watched(site, harness, tsa)
    run(h)
    (row,) = h.history("notice")
    (token,) = tokens(h)
    # Whoever rewrites the folder mints a token of their own, with their own CA beside it.
    forger = LocalTsa()
    try:
        fake = Authority(forger.url, forger.ca.read_bytes())
        manifest = (folder(h) / f"{row['version']}.manifest.json").read_bytes()

        async def mint() -> bytes:
            async with httpx.AsyncClient() as client:
                return await stamp(client, fake, manifest)

        token.unlink()
        (folder(h) / f"{row['version']}.{fake.slug}.tsr").write_bytes(asyncio.run(mint()))
        (folder(h) / fake.ca_name).write_bytes(fake.ca_pem)
    finally:
        forger.close()
    head = h.state.load(["notice"])["notice"].chain_head
    real = tsa.ca.read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    pin = x509.load_pem_x509_certificate(real).fingerprint(hashes.SHA256()).hex()

    unpinned = verify_folder(folder(h), head)
    pinned = verify_folder(folder(h), head, pinned=frozenset({pin}))

    assert unpinned.ok  # the folder alone cannot tell: the README says to pin the CA
    assert [p for p in pinned.problems if "signed under a CA you did not name" in p]


def test_a_mistyped_authority_corrected_stamps_what_it_could_not(
    site: Site, harness: Make, tsa: LocalTsa
) -> None:
    site.set("/notice.html", page("Notice", "<main><p>Tender 2026/17.</p></main>"))
    wrong = [{"url": "http://127.0.0.1:9/tsr", "certificate": str(tsa.ca)}]
    watches = [{"id": "notice", "url": site.url("/notice.html")}]
    h = harness(watches, timestamp={"authorities": wrong})
    run(h)
    (first,) = h.history("notice")
    assert [d.authority for d in h.state.stamps_due()] == ["http://127.0.0.1:9/tsr"]
    fixed = watched(site, harness, tsa)  # the URL corrected, same state and evidence
    fixed.state, fixed.evidence, fixed.root = h.state, h.evidence, h.root

    run(fixed)

    assert [t for t in tokens(fixed) if t.name.startswith(first["version"])]
    assert h.state.stamps_due() == []
