"""Checking evidence: every file against its manifest, every WARC digest, and the chain.

Works on a watch's evidence folder or on an exported bundle, with nothing but the files:
a changed byte anywhere, or a deleted version, shows as a named broken link.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator


@dataclass
class Report:
    versions: int = 0
    head: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_warc(path: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    expected = {r["id"]: r for r in manifest.get("warc_records", [])}
    # The page's own response is the first listed; the others are the redirects before it.
    page = next(
        (r["id"] for r in manifest.get("warc_records", []) if r["type"] == "response"), None
    )
    seen = set()
    try:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests=True):
                payload = record.content_stream().read()
                rid = record.rec_headers.get_header("WARC-Record-ID")
                seen.add(rid)
                if record.digest_checker.passed is False:
                    problems.append(f"{path.name}: record {rid} fails its WARC digest")
                want = expected.get(rid)
                if want is None:
                    problems.append(f"{path.name}: record {rid} is not in the manifest")
                elif record.rec_headers.get_header("WARC-Payload-Digest") != want["payload_digest"]:
                    problems.append(f"{path.name}: record {rid} digest differs from the manifest")
                raw = manifest.get("sha256", {}).get("raw_body")
                if rid == page and hashlib.sha256(payload).hexdigest() != raw:
                    problems.append(f"{path.name}: response body differs from the manifest")
    except Exception as exc:  # a damaged gzip or WARC header is a finding, not a crash
        problems.append(f"{path.name}: unreadable WARC ({type(exc).__name__}: {exc})")
    for rid in expected.keys() - seen:
        problems.append(f"{path.name}: record {rid} named in the manifest is missing")
    return problems


def verify_folder(folder: Path, expected_head: str | None = None) -> Report:
    report = Report()
    manifests: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.manifest.json")):
        data = path.read_bytes()
        try:
            manifests[hashlib.sha256(data).hexdigest()] = (path, json.loads(data))
        except ValueError:
            report.problems.append(f"{path.name}: not valid JSON")
    report.versions = len(manifests)
    ordered = sorted(manifests.items(), key=lambda item: str(item[1][1].get("fetched_at")))
    for _, (path, m) in ordered:
        for role, spec in m.get("files", {}).items():
            target = folder / spec["name"]
            if not target.exists():
                report.problems.append(f"{path.name}: its {role} file {spec['name']} is missing")
            elif _sha256(target) != spec["sha256"]:
                report.problems.append(f"{spec['name']}: SHA-256 differs from {path.name}")
            elif role == "warc":
                report.problems.extend(_check_warc(target, m))
    # The chain: each manifest names the one before; exactly one (the newest) is named by
    # none, and walking back from it reaches every manifest.
    named = {m.get("prev_manifest_sha256") for _, m in manifests.values()}
    heads = [h for h in manifests if h not in named]
    if manifests and len(heads) != 1:
        report.problems.append(f"the chain has {len(heads)} ends instead of one")
    if heads:
        head = max(heads, key=lambda h: str(manifests[h][1].get("fetched_at")))
        report.head = head
        seen = set()
        cursor: str | None = head
        while cursor is not None:
            if cursor not in manifests:
                child = next(
                    p.name for p, m in manifests.values() if m.get("prev_manifest_sha256") == cursor
                )
                report.problems.append(
                    f"broken link: {child} names manifest {cursor[:16]}…, which is missing "
                    "(a version was deleted or its manifest changed)"
                )
                break
            if cursor in seen:
                report.problems.append("the chain loops")
                break
            seen.add(cursor)
            cursor = manifests[cursor][1].get("prev_manifest_sha256")
        for h, (path, _) in manifests.items():
            if h not in seen and len(heads) == 1:
                report.problems.append(f"{path.name} is not on the chain")
    if expected_head is not None and report.head != expected_head:
        report.problems.append(
            f"the newest manifest should be {expected_head[:16]}…; it is missing or was replaced"
        )
    return report
