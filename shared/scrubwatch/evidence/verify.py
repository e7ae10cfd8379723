"""Checking evidence: every file against its manifest, every WARC digest, and the chain.

Works on a watch's evidence folder or on an exported bundle, with nothing but the files:
a changed byte anywhere, or a deleted version, shows as a named broken link.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator


@dataclass
class Report:
    versions: int = 0
    head: str | None = None
    problems: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)  # manifests of uncommitted captures
    witnessed: int = 0  # witness results beside their versions (not part of the chain)
    # Each timestamped version's trusted times: version -> [(time, signer, CA fingerprint)]
    trusted: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    unstamped: int = 0  # versions with no token (where others have one)
    pinned: bool = False  # tokens had to be signed under CAs named by the caller

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
                # The payload as the server sent it (gzip stays gzip): what the manifest
                # hashed. content_stream() would undo its Content-Encoding first.
                payload = record.raw_stream.read()
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


# What an exported bundle holds besides the evidence (see cli/archive.cmd_export).
# An exported bundle's contact records (and the state folder's: evidence/contacts/).
CONTACTS = "contacts"
# An exported bundle's replay file: its WARCs again, zipped (cli/archive.py, evidence/wacz.py).
REPLAY = "replay.wacz"
BUNDLE_FILES = frozenset({"history.json", "HEAD", "README.txt", "SHA256SUMS", REPLAY})


def _beside(name: object) -> bool:
    """A plain file name in the manifest's own folder: no path, no parent, no hidden file."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def _load_manifests(folder: Path, report: Report) -> dict[str, tuple[Path, dict[str, Any]]]:
    manifests: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.manifest.json")):
        data = path.read_bytes()
        try:
            loaded = json.loads(data)
        except ValueError:
            report.problems.append(f"{path.name}: not valid JSON")
            continue
        if not isinstance(loaded, dict):
            report.problems.append(f"{path.name}: not a manifest")
            continue
        manifests[hashlib.sha256(data).hexdigest()] = (path, loaded)
    return manifests


def _check_files(folder: Path, path: Path, m: dict[str, Any], report: Report) -> set[str]:
    """Checks the files one manifest names; returns their names."""
    named = set()
    files = m.get("files")
    for role, spec in (files if isinstance(files, dict) else {}).items():
        name = spec.get("name") if isinstance(spec, dict) else None
        if not _beside(name):
            # Hashing a file elsewhere would vouch for something outside the evidence.
            report.problems.append(
                f"{path.name}: its {role} names {name!r}, which is not a file beside it"
            )
            continue
        assert isinstance(name, str)
        named.add(name)
        target = folder / name
        if not target.is_file():
            report.problems.append(f"{path.name}: its {role} file {name} is missing")
        elif _sha256(target) != spec.get("sha256"):
            report.problems.append(f"{name}: SHA-256 differs from {path.name}")
        elif role == "warc":
            report.problems.extend(_check_warc(target, m))
    return named


def verify_folder(
    folder: Path,
    expected_head: str | None = None,
    committed: set[str] | None = None,
    pinned: frozenset[str] | None = None,
) -> Report:
    """Checks a watch's evidence folder or a bundle. ``expected_head``: the manifest the
    state (or the bundle's HEAD) vouches for. ``committed``: the versions the state's
    history lists; a capture outside it and off the chain was written by a run that
    stopped before its commit, and is left out (the next check of the watch removes it)."""
    report = Report(pinned=pinned is not None)
    manifests = _load_manifests(folder, report)
    if expected_head is not None and committed is not None:
        on_chain = _walk(manifests, expected_head)
        for h in list(manifests):
            if h not in on_chain and manifests[h][1].get("version") not in committed:
                report.uncommitted.append(manifests.pop(h)[0].name)
    report.versions = len(manifests)
    ordered = sorted(manifests.items(), key=lambda item: str(item[1][1].get("fetched_at")))
    named: set[str] = {p.name for p, _ in manifests.values()}
    for _, (path, m) in ordered:
        named |= _check_files(folder, path, m, report)
    left_out = {n for name in report.uncommitted for n in [name, *_names_of(folder / name)]}
    versions = {str(m.get("version")) for _, m in manifests.values()}
    for path in sorted(folder.iterdir()):
        if path.name in named | left_out | BUNDLE_FILES or path.name.startswith("."):
            continue
        if path.is_dir() and CHILD_FOLDER.match(path.name):
            continue  # a page this watch discovered: its own chain, verified by its own id
        if path.is_dir() and path.name == CONTACTS:
            continue  # a bundle's contact records: verify_contacts
        if path.name.endswith(TOKEN_SUFFIX) or _is_ca(path.name):
            if path.name.endswith(TOKEN_SUFFIX) and path.name.split(".", 1)[0] not in versions:
                report.problems.append(f"{path.name}: a timestamp token for no version here")
            continue  # checked with their manifests (_check_tokens)
        if path.name.endswith(WITNESS_SUFFIX):
            report.problems.extend(_check_witness(path, versions))
            report.witnessed += 1
        else:
            report.problems.append(f"{path.name}: named by no manifest")
    _check_chain(manifests, report)
    if (folder / REPLAY).exists():
        report.problems.extend(_check_replay(folder / REPLAY, named))
    tokens = sorted(p for p in folder.iterdir() if p.name.endswith(TOKEN_SUFFIX))
    if tokens and not _can_check_tokens(report):
        return report
    for _, (path, m) in ordered:
        _check_tokens(folder, path, m, tokens, report, pinned)
    if expected_head is not None and report.head != expected_head:
        report.problems.append(
            f"the newest manifest should be {expected_head[:16]}…; it is missing or was replaced"
        )
    return report


# A watch's folder also holds one folder per page it discovered (core.discover.child_id).
CHILD_FOLDER = re.compile(r"^[0-9a-f]{12}$")

# Trusted timestamps (issue 14): ``<version>.<authority>.tsr`` tokens (RFC 3161
# TimeStampResp, DER) of that version's manifest, checked with ``tsa-<authority>.pem``.
TOKEN_SUFFIX = ".tsr"


def _is_ca(name: str) -> bool:
    return name.startswith("tsa-") and name.endswith(".pem")


def _can_check_tokens(report: Report) -> bool:
    try:
        import rfc3161_client  # noqa: F401
    except ImportError:
        report.problems.append(
            "timestamp tokens are here but cannot be checked without rfc3161-client: "
            "pip install 'scrubwatch[timestamp]', or check them with openssl (README.txt)"
        )
        return False
    return True


_VERSION = re.compile(r"^[0-9a-f]{64}$")


def _check_tokens(
    folder: Path,
    path: Path,
    m: dict[str, Any],
    tokens: list[Path],
    report: Report,
    pinned: frozenset[str] | None,
) -> None:
    """The tokens of one version's manifest: each signed under its authority's CA (one of
    ``pinned``, when given), for these very bytes, and not older than the capture; and
    the tokens the manifest names (of the version before) still there, unaltered."""
    version = str(m.get("version"))
    if not _VERSION.match(version):
        return  # no capture id: its files are reported by name above
    manifest = path.read_bytes()
    mine = [t for t in tokens if t.name.startswith(f"{version}.")]
    for token in mine:
        found = _check_token(folder, token, manifest, str(m.get("fetched_at") or ""))
        _take(report, version, token, found, pinned)
    if tokens and not mine:
        report.unstamped += 1
    listed = m.get("timestamps")
    entries = listed.get("tokens") if isinstance(listed, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("file") if isinstance(entry, dict) else None
        if not _beside(name):
            report.problems.append(f"{path.name}: names a token {name!r} not beside it")
            continue
        target = folder / str(name)
        if not target.is_file():
            report.problems.append(f"{name}: named by {path.name} but missing")
        elif _sha256(target) != entry.get("sha256"):
            report.problems.append(f"{name}: SHA-256 differs from {path.name}")


def _take(
    report: Report,
    key: str,
    token: Path,
    found: tuple[str, str, str] | str,
    pinned: frozenset[str] | None,
) -> None:
    """A checked token: a trusted time of ``key``, or a problem (it did not verify, or its
    CA is not one of ``pinned``)."""
    if isinstance(found, str):
        report.problems.append(f"{token.name}: {found}")
    elif pinned is not None and found[2] not in pinned:
        report.problems.append(
            f"{token.name}: signed under a CA you did not name (SHA-256 {found[2]})"
        )
    else:
        report.trusted.setdefault(key, []).append(found)


def _check_token(
    folder: Path, token: Path, manifest: bytes, fetched_at: str, stamped: str = "manifest"
) -> tuple[str, str, str] | str:
    """(trusted time, signer, CA fingerprint), or what is wrong with the token."""
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    authority = token.name.split(".")[-2]
    ca_path = folder / f"tsa-{authority}.pem"
    if token.is_symlink() or ca_path.is_symlink():
        return "a symbolic link, not a file kept here"
    try:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    except (OSError, ValueError):
        return f"its authority's certificate {ca_path.name} is missing or unreadable"
    try:
        answer = decode_timestamp_response(token.read_bytes())
    except ValueError:
        return "not a timestamp token (RFC 3161) that can be read"
    try:
        VerifierBuilder().add_root_certificate(ca).build().verify_message(answer, manifest)
    except (ValueError, VerificationError) as exc:
        # The library's own words end in an OpenSSL error stack: its first sentence says it.
        why = re.split(r"\s*\(?ErrorStack|\s*\[Error", str(exc))[0][:120]
        return (
            f"does not verify against its {stamped} and {ca_path.name} ({why}): the token or "
            f"the {stamped} was altered, or another authority signed it"
        )
    when = answer.tst_info.gen_time
    try:
        fetched = datetime.fromisoformat(fetched_at.replace("Z", "+00:00"))
    except ValueError:
        return "its manifest has no fetched_at to compare the time with"
    if when + timedelta(seconds=2) < fetched:
        return f"stamped at {when.isoformat()}, before the capture was fetched ({fetched_at})"
    names = ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    signer = ", ".join(str(a.value) for a in names)
    fingerprint = ca.fingerprint(hashes.SHA256()).hex()
    return when.isoformat().replace("+00:00", "Z"), str(signer) or "?", fingerprint


def verify_contacts(folder: Path, pinned: frozenset[str] | None = None) -> Report:
    """The contact records (`scrubwatch contact`) in ``folder`` and their timestamp tokens:
    each token for its record's very bytes, signed under its authority's CA (one of
    ``pinned``, when given), and not older than the record. ``trusted``: by contact id."""
    report = Report(pinned=pinned is not None)
    records = sorted(folder.glob("c-*.json"))
    report.versions = len(records)
    tokens = sorted(folder.glob(f"c-*{TOKEN_SUFFIX}"))
    if tokens and not _can_check_tokens(report):
        return report
    for token in tokens:
        contact_id = token.name.split(".", 1)[0]
        record = folder / f"{contact_id}.json"
        if not record.is_file():
            report.problems.append(f"{token.name}: a timestamp token for no contact here")
            continue
        body = record.read_bytes()
        try:
            recorded = str(json.loads(body).get("recorded_at") or "")
        except (ValueError, AttributeError):
            report.problems.append(f"{record.name}: not a contact record (JSON)")
            continue
        found = _check_token(folder, token, body, recorded, "contact record")
        _take(report, contact_id, token, found, pinned)
    report.unstamped = sum(1 for r in records if r.stem not in report.trusted)
    return report


# What the Internet Archive said of a version, asked after it was kept (on AWS: the
# witness queue), so named by no manifest: it must belong to a version here, and say so.
WITNESS_SUFFIX = ".witness.json"


def _check_replay(path: Path, named: set[str]) -> list[str]:
    """A bundle's replay file must hold the bundle's own WARCs, each once, byte for byte,
    and no other, and its index and page list must say what those WARCs hold: a replay
    that shows something else than the evidence (a page under another version's time) is
    worse than none."""
    import zipfile

    warcs = {n for n in named if n.endswith(".warc.gz") and (path.parent / n).is_file()}
    try:
        with zipfile.ZipFile(path) as zf:
            held = [n.removeprefix("archive/") for n in zf.namelist() if n.startswith("archive/")]
            if len(held) != len(set(held)):
                return [f"{path.name}: holds a WARC twice under one name"]
            problems = [f"{path.name}: lacks {n}" for n in sorted(warcs - set(held))]
            problems += [
                f"{path.name}: holds {n}, which no manifest here names"
                for n in sorted(set(held) - warcs)
            ]
            for name in sorted(warcs & set(held)):
                h = hashlib.sha256()
                with zf.open(f"archive/{name}") as inside:
                    for block in iter(lambda: inside.read(1 << 20), b""):
                        h.update(block)
                if h.hexdigest() != _sha256(path.parent / name):
                    problems.append(f"{path.name}: its {name} differs from the one here")
            return problems or _check_replay_index(zf, path.name)
    except Exception as exc:  # a damaged or crafted zip: whatever the zip module raises
        return [f"{path.name}: not a readable zip ({type(exc).__name__}: {str(exc)[:100]})"]


def _check_replay_index(zf: Any, name: str) -> list[str]:
    """Each index line names the very record at its offset (address and time), and each
    listed page is an address the index holds."""
    problems: list[str] = []
    held: dict[str, bytes] = {}
    urls: set[str] = set()
    indexes = [n for n in zf.namelist() if n.startswith("indexes/") and n.endswith(".cdx")]
    for index in indexes:
        for number, line in enumerate(zf.read(index).decode("utf-8").splitlines(), 1):
            where = f"{name}: {index} line {number}"
            try:
                _, stamp, blob = line.split(" ", 2)
                entry = json.loads(blob)
                member = f"archive/{entry['filename']}"
                data = held.setdefault(member, zf.read(member))
                start, length = int(entry["offset"]), int(entry["length"])
                record = next(ArchiveIterator(io.BytesIO(data[start : start + length])))
                uri = record.rec_headers.get_header("WARC-Target-URI")
                date = re.sub(r"\D", "", record.rec_headers.get_header("WARC-Date") or "")
            except Exception:  # whatever a crafted line makes of it
                problems.append(f"{where}: points at no record")
                continue
            if uri != entry.get("url") or date[:14] != stamp:
                problems.append(
                    f"{where}: names {entry.get('url')} at {stamp}; the record there "
                    f"is {uri} at {date[:14]}"
                )
            urls.add(str(entry.get("url")))
    listed = "pages/pages.jsonl"
    lines = zf.read(listed).decode("utf-8").splitlines() if listed in zf.namelist() else []
    for number, line in enumerate(lines[1:], 2):
        try:
            url = json.loads(line).get("url")
        except (ValueError, AttributeError):
            problems.append(f"{name}: {listed} line {number} is not a page")
            continue
        if url not in urls:
            problems.append(f"{name}: lists a page at {url}, which it does not hold")
    return problems


def _check_witness(path: Path, versions: set[str]) -> list[str]:
    if path.name.removesuffix(WITNESS_SUFFIX) not in versions:
        return [f"{path.name}: a witness result for no version here"]
    try:
        result = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return [f"{path.name}: not JSON"]
    if not isinstance(result, dict) or result.get("service") != "wayback":
        return [f"{path.name}: not a witness result"]
    if result.get("status") not in ("archived", "stale", "failed"):
        return [f"{path.name}: not a witness result (status {result.get('status')!r})"]
    url = result.get("url")
    if url is not None and not str(url).startswith("https://web.archive.org/web/"):
        return [f"{path.name}: its capture is not on web.archive.org: {str(url)[:100]}"]
    return []


def _names_of(manifest_path: Path) -> list[str]:
    try:
        files = json.loads(manifest_path.read_bytes()).get("files", {})
        return [spec["name"] for spec in files.values()]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return []


def _walk(manifests: dict[str, tuple[Path, dict[str, Any]]], head: str) -> set[str]:
    """The manifests reached walking back from ``head``."""
    seen: set[str] = set()
    cursor: str | None = head
    while cursor is not None and cursor in manifests and cursor not in seen:
        seen.add(cursor)
        cursor = manifests[cursor][1].get("prev_manifest_sha256")
    return seen


def _check_chain(manifests: dict[str, tuple[Path, dict[str, Any]]], report: Report) -> None:
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
