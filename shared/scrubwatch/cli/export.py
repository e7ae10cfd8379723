"""`scrubwatch export ID DIR`: a self-contained evidence bundle, for an editor or a lawyer
to check without scrubwatch, with a replay file for ReplayWeb.page and the contacts that
concern the watch."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..evidence.verify import REPLAY
from .archive import Archive, _rows, archive_for
from .state_folder import UsageError

CONTACTS = "contacts"

_README = """\
Evidence exported by scrubwatch {version} on {date}
Watch: {watch}  ({url})

Every version of the page that scrubwatch kept is here, four files each:

  <version>.warc.gz         the HTTP request and response as sent and received, and
                            each redirect on the way: the body byte for byte (content
                            encoding kept, chunking undone), the headers as the HTTP
                            library read them; WARC (ISO 28500), for any web-archive tool
  <version>.txt             the text scrubwatch read from the page
  <version>.reading.json    what scrubwatch extracted (lines, links, items, keywords)
  <version>.manifest.json   when and from where it was fetched, the status and headers,
                            SHA-256 hashes of the body, the text and every file, and
                            prev_manifest_sha256: the hash of the previous version's
                            manifest, which chains the versions in order
  <version>.witness.json    (deployed on AWS, for a watch with a witness) what the
                            Internet Archive said when asked to capture the page after
                            that check: its capture's address and time, or why not.
                            Asked after the version was kept, so not in its manifest
  <version>.<id>.tsr        (with settings.timestamp) a trusted timestamp (RFC 3161) of
                            that version's manifest, from the authority whose CA
                            certificate is tsa-<id>.pem; the next version's manifest
                            names it, with its SHA-256

history.json lists the versions in order, oldest first. HEAD holds the SHA-256 of the
newest manifest.

replay.wacz holds the same WARC files, byte for byte, with an index and a list of pages
(WACZ 1.1.1): open it in ReplayWeb.page (https://replayweb.page, which reads it in your
browser without uploading it) to see each version of the page as it was served.

How to check that nothing was altered, with common tools (run them in this folder):

  1. Every file against the list of hashes; each line must say OK:
         sha256sum -c SHA256SUMS                 (Linux)
         shasum -a 256 -c SHA256SUMS             (macOS)
  2. The WARC files' own digests; it must print nothing and exit 0:
         pip install warcio && warcio check *.warc.gz
  3. The chain. List each manifest's own hash, and the hash it names as the one before:
         sha256sum *.manifest.json               (macOS: shasum -a 256 *.manifest.json)
         grep -H prev_manifest_sha256 *.manifest.json
     The oldest manifest names null. Every other one names the hash of another manifest
     here, and each manifest but the newest is named by exactly one other, so following
     the names back from HEAD reaches every manifest, the oldest last.
     HEAD, the newest manifest's hash, is also the "manifest sha256" of the newest row of
     `scrubwatch history {watch}` and the "manifest sha256" printed in the alert about
     that version: compare it with the one you were sent.
     A changed byte in any manifest breaks the link after it; a deleted version leaves
     a manifest naming a hash that is no longer here.
  4. The trusted timestamps, if any. For each token, with openssl alone:
         openssl ts -verify -in V.ID.tsr -data V.manifest.json -CAfile tsa-ID.pem
     must say "Verification: OK"; `openssl ts -reply -in V.ID.tsr -text` shows its
     time. Compare the CA's fingerprint (openssl x509 -in tsa-ID.pem -noout
     -fingerprint -sha256) with the one the authority publishes, or use the CA file you
     got from the authority itself as -CAfile: whoever could rewrite this folder could
     also have put a CA of their own here. A timestamp proves when the record existed,
     not who made it.
  5. The contacts, if any (contacts/: when the subject was asked for comment, and the
     note; each later alert says how long after it the page changed). Their tokens:
         openssl ts -verify -in contacts/C.ID.tsr -data contacts/C.json \
             -CAfile contacts/tsa-ID.pem
     The contact's time is the word of whoever recorded it; its trusted time is when
     the record existed.
  6. Or, with scrubwatch: scrubwatch verify <this folder>

To read a page as it was: open the .txt, or `warcio extract --payload X.warc.gz 0`.
A page read in a browser (render: browser) also has, in its WARC, the page as the
browser built it (`urn:dom:` record) and its picture (`urn:fullPage:`, a PNG):
`warcio index X.warc.gz` lists the records' offsets, and `warcio extract --payload
X.warc.gz OFFSET` writes one out. What the page's scripts loaded is not kept: a replay
of the WARC shows the page as sent, the DOM record what its scripts made of it.
"""


def cmd_export(args: argparse.Namespace, root: Path) -> int:
    archive = archive_for(args, root)
    rows = _rows(archive, args.id)
    target: Path = args.dir
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty folder")
    try:
        return _export(archive, args.id, rows, target)
    except OSError as exc:
        where = exc.filename or target
        raise UsageError(f"cannot write the bundle: {where}: {exc.strerror or exc}") from None


def _export(archive: Archive, watch_id: str, rows: list[dict[str, Any]], target: Path) -> int:
    from .. import __version__
    from ..core.events import rfc3339

    source = archive.folder(watch_id)
    head = archive.chain_head(watch_id)
    target.mkdir(parents=True, exist_ok=True)
    names = _copy_evidence(source, target, {row["version"] for row in rows})
    names += _copy_contacts(archive, watch_id, target)
    for row in rows:
        # Where each capture is in this bundle (not where it was kept: that path is the
        # exporter's own, and the bundle is made to be handed on).
        row["warc"] = row["evidence"] = f"{row['version']}.warc.gz"
    (target / "history.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    (target / "HEAD").write_text(f"{head or ''}\n")
    url = ""
    for name in names:
        if name.endswith(".manifest.json"):
            url = json.loads((target / name).read_text("utf-8")).get("requested_url", "")
            break
    made = rfc3339(datetime.now(UTC))
    (target / "README.txt").write_text(
        _README.format(version=__version__, date=made, watch=watch_id, url=url)
    )
    replay = _replay(target, watch_id, rows, made)
    sums = []
    for name in [*names, "history.json", "HEAD", "README.txt", *replay]:
        digest = hashlib.sha256((target / name).read_bytes()).hexdigest()
        sums.append(f"{digest}  {name}\n")
    (target / "SHA256SUMS").write_text("".join(sums))
    print(f"exported {len(rows)} version(s) of {watch_id} to {target}")
    return 0


def _copy_evidence(source: Path, target: Path, kept: set[str]) -> list[str]:
    """Only what the history lists: a capture a stopped run never committed is not
    evidence. The timestamp authorities' CAs come along."""
    names = []
    for path in sorted(source.iterdir()):
        authority_ca = path.name.startswith("tsa-") and path.name.endswith(".pem")
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name.split(".", 1)[0] not in kept and not authority_ca:
            continue
        shutil.copy2(path, target / path.name)
        # Kept owner-only in the state folder; a bundle is made to be handed on.
        (target / path.name).chmod(0o644)
        names.append(path.name)
    return names


def _copy_contacts(archive: Archive, watch_id: str, target: Path) -> list[str]:
    """The records of the contacts that concern the watch (or the listing that found it),
    their tokens and the authorities' CAs, in ``contacts/``."""
    parent = watch_id.split("/", 1)[0] if "/" in watch_id else None
    ids = [c.id for c in archive.contacts() if watch_id in c.watches or parent in c.watches]
    if not ids:
        return []
    source = archive.folder(CONTACTS)
    wanted = [p for p in sorted(source.glob("*")) if p.is_file() and p.name.split(".")[0] in ids]
    wanted += [p for p in sorted(source.glob("tsa-*.pem"))]
    (target / CONTACTS).mkdir()
    for path in wanted:
        shutil.copy2(path, target / CONTACTS / path.name)
        (target / CONTACTS / path.name).chmod(0o644)
    return [f"{CONTACTS}/{p.name}" for p in wanted]


def _replay(target: Path, watch_id: str, rows: list[dict[str, Any]], made: str) -> list[str]:
    """``replay.wacz``: the bundle's WARCs as one WACZ, the pages listed by version, for
    ReplayWeb.page (https://replayweb.page, which opens it in the browser, offline).
    Damaged evidence is no reason to export nothing: it is said, and left to `verify`."""
    from .. import __version__
    from ..evidence.wacz import Page, write_wacz

    warcs, pages = [], []
    try:
        for row in rows:
            warc = target / f"{row['version']}.warc.gz"
            manifest = target / f"{row['version']}.manifest.json"
            if not warc.exists() or not manifest.exists():
                continue
            facts = json.loads(manifest.read_text("utf-8"))
            when, status = str(row["fetched_at"]), row.get("status")
            url = str(facts.get("requested_url") or "") if isinstance(facts, dict) else ""
            warcs.append(warc)
            pages.append(Page(url=url, ts=when, title=f"{watch_id}: {when} (HTTP {status})"))
        if not warcs:
            return []
        write_wacz(
            target / REPLAY,
            warcs,
            pages,
            title=f"scrubwatch evidence: {watch_id}",
            description=f"Every kept version of {watch_id}, as exported by scrubwatch",
            created=made,
            software=f"scrubwatch {__version__}",
        )
    except OSError:
        raise
    except Exception as exc:  # a damaged WARC or manifest: the rest is exported all the same
        print(
            f"scrubwatch: {REPLAY} not written ({type(exc).__name__}: {str(exc)[:200]}); "
            f"the evidence is exported: `scrubwatch verify {target}` names what is damaged",
            file=sys.stderr,
        )
        return []
    return [REPLAY]
