"""`scrubwatch show`, `export` and `verify` on the local state folder."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from .cli import UsageError, open_backend
from .decode import content_type, decode_content, decode_text
from .verify import verify_folder

VERIFY_FAILED = 3

_README = """\
Evidence exported by scrubwatch {version} on {date}
Watch: {watch}  ({url})

Every version of the page that scrubwatch kept is here, four files each:

  <version>.warc.gz         the HTTP request and response exactly as sent and received,
                            in WARC (ISO 28500), readable by any web-archive tool
  <version>.txt             the text scrubwatch read from the page
  <version>.reading.json    what scrubwatch extracted (lines, links, items, keywords)
  <version>.manifest.json   when and from where it was fetched, the status and headers,
                            SHA-256 hashes of the body, the text and every file, and
                            prev_manifest_sha256: the hash of the previous version's
                            manifest, which chains the versions in order

history.json lists the versions in order. HEAD holds the SHA-256 of the newest manifest.

How to check that nothing was altered, with common tools:

  1. Every file against the list of hashes:
         sha256sum -c SHA256SUMS                 (Linux)
         shasum -a 256 -c SHA256SUMS             (macOS)
  2. The WARC files' own digests:
         pip install warcio && warcio check *.warc.gz
  3. The chain: for each manifest, `sha256sum X.manifest.json` must equal the
     prev_manifest_sha256 written in the next version's manifest, and the newest
     manifest's hash must equal HEAD (and the hash in scrubwatch's alert or history).
     A changed byte in any manifest breaks the link after it; a deleted version leaves
     a manifest pointing at a hash that is no longer there.
  4. Or, with scrubwatch: scrubwatch verify <this folder>

To read a page as it was: open the .txt, or `warcio extract --payload X.warc.gz 0`.
"""


def _rows(root: Path, watch_id: str) -> list[dict[str, object]]:
    backend = open_backend(root)
    try:
        rows = backend.state.history(watch_id)
    finally:
        backend.close()
    if not rows:
        raise UsageError(f"no versions kept for {watch_id!r} in {root}")
    return rows


def _pick(rows: list[dict[str, object]], prefix: str | None) -> dict[str, object]:
    if prefix is None:
        return rows[-1]
    matches = [r for r in rows if str(r["version"]).startswith(prefix)]
    if not matches:
        raise UsageError(f"no version starting with {prefix!r}")
    return matches[-1]


def cmd_show(args: argparse.Namespace, root: Path) -> int:
    row = _pick(_rows(root, args.id), args.version)
    folder = root / "evidence" / args.id
    version = str(row["version"])
    if args.part == "text":
        path = folder / f"{version}.txt"
        if not path.exists():
            raise UsageError(f"evidence for version {version} is missing")
        sys.stdout.write(path.read_text("utf-8"))
        return 0
    path = folder / f"{version}.warc.gz"
    if not path.exists():
        raise UsageError(f"evidence for version {version} is missing")
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            if args.part == "headers":
                sys.stdout.write(record.http_headers.to_str())
                return 0
            headers = {k.lower(): v for k, v in record.http_headers.headers}
            raw = record.content_stream().read()
            body = decode_content(raw, headers.get("content-encoding"), 1 << 30)
            _, charset = content_type(headers)
            text, _ = decode_text(body, charset, html=True)
            sys.stdout.write(text)
            return 0
    raise UsageError(f"{path} holds no response record")


def _chain_head(root: Path, watch_id: str) -> str | None:
    backend = open_backend(root)
    try:
        state = backend.state.load([watch_id])[watch_id]
    finally:
        backend.close()
    return state.chain_head


def cmd_export(args: argparse.Namespace, root: Path) -> int:
    from . import __version__
    from .events import rfc3339

    rows = _rows(root, args.id)
    source = root / "evidence" / args.id
    target: Path = args.dir
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} exists and is not empty")
    head = _chain_head(root, args.id)
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted(source.iterdir()):
        if path.name.startswith("."):
            continue
        shutil.copy2(path, target / path.name)
        names.append(path.name)
    (target / "history.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    (target / "HEAD").write_text(f"{head or ''}\n")
    url = ""
    for name in names:
        if name.endswith(".manifest.json"):
            url = json.loads((target / name).read_text("utf-8")).get("requested_url", "")
            break
    from datetime import UTC, datetime

    (target / "README.txt").write_text(
        _README.format(version=__version__, date=rfc3339(datetime.now(UTC)), watch=args.id, url=url)
    )
    sums = []
    for name in [*names, "history.json", "HEAD", "README.txt"]:
        digest = hashlib.sha256((target / name).read_bytes()).hexdigest()
        sums.append(f"{digest}  {name}\n")
    (target / "SHA256SUMS").write_text("".join(sums))
    print(f"exported {len(rows)} version(s) of {args.id} to {target}")
    return 0


def cmd_verify(args: argparse.Namespace, root: Path) -> int:
    given = Path(args.target)
    if given.is_dir():
        head_file = given / "HEAD"
        expected = head_file.read_text().strip() or None if head_file.exists() else None
        report = verify_folder(given, expected)
        sums = given / "SHA256SUMS"
        if sums.exists():
            for line in sums.read_text().splitlines():
                digest, _, name = line.partition("  ")
                path = given / name
                if not path.exists():
                    report.problems.append(f"{name}: listed in SHA256SUMS but missing")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    report.problems.append(f"{name}: SHA-256 differs from SHA256SUMS")
        where = str(given)
    else:
        _rows(root, args.target)  # the watch must exist
        report = verify_folder(root / "evidence" / args.target, _chain_head(root, args.target))
        where = f"{args.target} in {root}"
    if report.ok:
        head = report.head[:16] + "…" if report.head else "none"
        print(f"OK: {report.versions} version(s) of {where} verify; chain intact, head {head}")
        return 0
    for problem in report.problems:
        print(f"BROKEN: {problem}", file=sys.stderr)
    return VERIFY_FAILED
