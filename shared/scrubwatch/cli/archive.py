"""`scrubwatch history`, `show`, `export` and `verify`, on local state or a deployed stack."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import tempfile
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator

from ..core import terminal
from ..core.config import ConfigError
from ..core.contact import Contact
from ..core.decode import content_type, decode_content, decode_text
from ..core.discover import Child
from ..core.events import Event
from ..evidence.build import DOM_PREFIX, SCREENSHOT_PREFIX
from ..evidence.packed import PARTS, unpack
from ..evidence.verify import CHILD_FOLDER, verify_contacts, verify_folder
from .state_folder import LocalBackend, UsageError, open_backend, pick

if TYPE_CHECKING:
    from ..backends.local import SqliteStateStore

log = logging.getLogger("scrubwatch")

VERIFY_FAILED = 3


class LocalArchive:
    """The state folder of the command line, opened read-only once, on first use, for
    the life of the command (a report reads thousands of pages' histories)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._backend: LocalBackend | None = None

    @property
    def _state(self) -> SqliteStateStore:
        if self._backend is None:
            self._backend = open_backend(self.root)
        return self._backend.state

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        return self._state.history(watch_id)

    def manifest(self, watch_id: str, name: str) -> bytes | None:
        try:
            return (self.folder(watch_id) / name).read_bytes()
        except FileNotFoundError:
            return None

    def chain_head(self, watch_id: str) -> str | None:
        return self._state.load([watch_id])[watch_id].chain_head

    def folder(self, watch_id: str) -> Path:
        return self.root / "evidence" / watch_id

    def contacts(self) -> list[Contact]:
        return self._state.contacts()

    def children(self, parents: list[str]) -> dict[str, list[Child]]:
        return self._state.children(parents)

    def watch_ids(self) -> list[str]:
        """Every watch with a version kept (not the pages watches discovered)."""
        return [w for w in self._state.kept_watches() if "/" not in w]

    def events(self, watch_ids: Collection[str]) -> list[Event]:
        """The events told of these watches (the outbox keeps them all)."""
        return self._state.told(watch_ids)

    def where(self) -> str:
        return str(self.root)


class AwsArchive:
    """A deployed stack: history and chain head in DynamoDB, evidence in S3."""

    def __init__(self, bucket: str, table: str) -> None:
        import boto3

        from ..backends.aws import DynamoStateStore, S3EvidenceStore

        self.bucket = bucket
        self.s3 = boto3.client("s3")
        self.evidence = S3EvidenceStore(bucket, self.s3)
        self.state = DynamoStateStore(table)
        self._downloads: list[tempfile.TemporaryDirectory[str]] = []

    @classmethod
    def of_stack(cls, name: str) -> AwsArchive:
        return cls(*stack_outputs(name))

    def manifest(self, watch_id: str, name: str) -> bytes | None:
        """The named file of the watch's evidence; None when it is not there, or when the
        name (made from a version read from the table) is no file name of that folder."""
        key = f"evidence/{watch_id}/{name}"
        if (problem := _not_a_file_name(name)) is not None:
            log.warning("not reading %r from s3://%s: %s", key, self.bucket, problem)
            return None
        if name.endswith(".manifest.json"):
            # Packed into the version's WARC object (or, kept before that, on its own).
            return self.evidence.manifest(watch_id, name.removesuffix(".manifest.json"))
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        data: bytes = reply["Body"].read()
        return data

    def history(self, watch_id: str) -> list[dict[str, Any]]:
        return self.state.history(watch_id)

    def chain_head(self, watch_id: str) -> str | None:
        return self.state.load([watch_id])[watch_id].chain_head

    def folder(self, watch_id: str) -> Path:
        """Downloads the watch's evidence into a temporary folder (removed at exit)."""
        holder = tempfile.TemporaryDirectory(prefix="scrubwatch-")
        self._downloads.append(holder)
        target = Path(holder.name)
        prefix = f"evidence/{watch_id}/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key: str = item["Key"]
                name = key.removeprefix(prefix)
                head, _, rest = name.partition("/")
                if rest and CHILD_FOLDER.match(head) and _not_a_file_name(rest) is None:
                    continue  # a page this watch discovered: its own folder, its own id
                # Whoever can write to the bucket picks the keys, and a key is any string:
                # only a plain file name is saved, so nothing lands outside ``target``.
                if (problem := _not_a_file_name(name)) is not None:
                    log.warning("skipping %r in s3://%s: %s", key, self.bucket, problem)
                    continue
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                parts = unpack(body) if name.endswith(".warc.gz") else None
                if parts is None:
                    (target / name).write_bytes(body)
                    continue
                # One object per version: the files its manifest names, as a folder has them.
                version = name.removesuffix(".warc.gz")
                (target / name).write_bytes(parts["warc"])
                for part, (suffix, _) in PARTS.items():
                    (target / f"{version}{suffix}").write_bytes(parts[part])
        return target

    def where(self) -> str:
        return f"s3://{self.bucket}"

    def contacts(self) -> list[Contact]:
        return self.state.contacts()

    def children(self, parents: list[str]) -> dict[str, list[Child]]:
        return self.state.children(parents)

    def watch_ids(self) -> list[str]:
        return []  # a table has no list of them but the watch list's (a scan would cost)

    def events(self, watch_ids: Collection[str]) -> list[Event]:
        # A stack publishes its events (SNS) and keeps none: the report's timeline is
        # made from the versions kept, which say every change.
        return []


Archive = LocalArchive | AwsArchive

_NAME_MAX = 255  # bytes in one file name, on the usual file systems


def _not_a_file_name(name: str) -> str | None:
    """Why ``name`` (what follows a watch's prefix in an object key) cannot be saved as a
    file directly in a folder; None when it can. Evidence files are ``<version>.<suffix>``."""
    if not name:
        return "no file name after the prefix"
    if "/" in name or "\\" in name:
        return "a path, not a file name"
    if name.startswith("."):  # ".", "..", and hidden files, which no capture writes
        return "a name starting with a dot"
    if ":" in name:  # on Windows, a drive ("C:x") or an alternate data stream ("a:b")
        return "a name with a colon"
    if any(unicodedata.category(c) == "Cc" for c in name):  # NUL, newlines, escapes
        return "a name with control characters"
    if len(name.encode("utf-8", "surrogatepass")) > _NAME_MAX:
        return f"a name longer than {_NAME_MAX} bytes"
    return None


def stack_outputs(name: str) -> tuple[str, str]:
    """A deployed stack's evidence bucket and table, from its CloudFormation outputs."""
    found = stack_output(name, "EvidenceBucketName", "TableName")
    return found[0], found[1]


def stack_output(name: str, *keys: str) -> list[str]:
    """These CloudFormation outputs of a deployed stack, in order."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("cloudformation")
    try:
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        region = client.meta.region_name
        raise UsageError(
            f"no stack named {name} in {region}; check the name, or set AWS_DEFAULT_REGION "
            "to the region it was deployed in"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    try:
        return [outputs[key] for key in keys]
    except KeyError as exc:
        raise UsageError(f"stack {name} has no output {exc}; is it a scrubwatch stack?") from None


def archive_for(args: argparse.Namespace, root: Path) -> Archive:
    stack = getattr(args, "stack", None)
    bucket, table = getattr(args, "bucket", None), getattr(args, "table", None)
    if stack:
        return AwsArchive.of_stack(stack)
    if bucket or table:
        if not (bucket and table):
            raise UsageError("--bucket and --table go together (or use --stack NAME)")
        return AwsArchive(bucket, table)
    return LocalArchive(root)


def _rows(archive: Archive, watch_id: str) -> list[dict[str, Any]]:
    rows = archive.history(watch_id)
    if not rows:
        raise UsageError(f"no versions kept for {watch_id!r} in {archive.where()}")
    return rows


def manifest_hashes(archive: Archive, watch_id: str, rows: list[dict[str, Any]]) -> list[str]:
    """Each row's manifest SHA-256: recorded in newer rows, computed from the file for
    rows written before it was recorded ("missing" when that file is gone)."""
    out = []
    for row in rows:
        known = row.get("manifest_sha256")
        if not known:
            # A row's version names its files, old rows (content ids) and new (captures).
            data = archive.manifest(watch_id, f"{row['version']}.manifest.json")
            known = hashlib.sha256(data).hexdigest() if data is not None else "missing"
        out.append(str(known))
    return out


def cmd_history(args: argparse.Namespace, root: Path) -> int:
    archive = archive_for(args, root)
    rows = _rows(archive, args.id)
    for row, digest in zip(rows, manifest_hashes(archive, args.id, rows), strict=True):
        if args.json:
            print(
                json.dumps({"watch": args.id, **row, "manifest_sha256": digest}, ensure_ascii=False)
            )
        else:
            version = str(row["version"])[:12]
            print(
                f"{row['fetched_at']}  {version}  {row['status']}  "
                f"manifest sha256 {digest}  {row['final_url']}"
            )
    return 0


def cmd_show(args: argparse.Namespace, root: Path) -> int:
    archive = archive_for(args, root)
    row = pick(_rows(archive, args.id), args.version, -1)
    folder = archive.folder(args.id)
    version = str(row["version"])
    if Path(version).name != version or version.startswith("."):
        # The history names the file: it may not name one outside the evidence folder.
        raise UsageError(f"the history names version {version!r}, which is not a file name")
    if args.part == "discovery":
        return _show_discovery(folder, version, args.id)
    if args.screenshot is not None or args.part == "dom":
        return _show_rendered(folder / f"{version}.warc.gz", version, args.screenshot)
    if args.part == "text":
        path = folder / f"{version}.txt"
        if not path.exists():
            raise UsageError(f"evidence for version {version} is missing")
        text = path.read_text("utf-8")
        if not text.strip():
            # A 404, an empty page, a part that matched nothing: said, not a blank screen.
            print(
                f"version {version[:12]} (HTTP {row.get('status')}) holds no text; "
                f"--headers or --html shows what was answered",
                file=sys.stderr,
            )
        _write_page_text(text)
        return 0
    path = folder / f"{version}.warc.gz"
    if not path.exists():
        raise UsageError(f"evidence for version {version} is missing")
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            if args.part == "headers":
                # Header lines end in CR LF on the wire; a terminal needs only the LF.
                _write_page_text(record.http_headers.to_str().replace("\r\n", "\n"))
                return 0
            headers = {k.lower(): v for k, v in record.http_headers.headers}
            raw = record.content_stream().read()
            body = decode_content(raw, headers.get("content-encoding"), 1 << 30)
            _, charset = content_type(headers)
            text, _ = decode_text(body, charset, html=True)
            _write_page_text(text)
            return 0
    raise UsageError(f"{path} holds no response record")


def _show_rendered(path: Path, version: str, screenshot: Path | None) -> int:
    """The DOM a browser built (printed) or its screenshot (written to ``screenshot``)."""
    if not path.exists():
        raise UsageError(f"evidence for version {version} is missing")
    if screenshot is not None and str(screenshot) == "-":
        raise UsageError("--screenshot takes a file name to write the PNG to, not -")
    prefix = SCREENSHOT_PREFIX if screenshot is not None else DOM_PREFIX
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type == "resource" and uri.startswith(prefix):
                data = record.content_stream().read()
                break
        else:
            raise UsageError(
                f"version {version[:12]} holds no {'screenshot' if screenshot else 'rendered page'}"
                ": it was not read with render: browser (--html shows the page as sent)"
            )
    if screenshot is None:
        _write_page_text(data.decode("utf-8", "replace"))
        return 0
    try:
        screenshot.write_bytes(data)
    except OSError as exc:
        raise UsageError(
            f"{screenshot}: cannot write the screenshot: {exc.strerror or exc}"
        ) from None
    print(f"{screenshot}: the screenshot of version {version[:12]} ({len(data):,} bytes, PNG)")
    return 0


def _show_discovery(folder: Path, version: str, watch_id: str) -> int:
    """What the look of a watch that discovers its pages decided on this version's check
    (the manifest's ``discovery`` section): read, added, unlinked, skipped and why."""
    path = folder / f"{version}.manifest.json"
    try:
        decided = json.loads(path.read_bytes()).get("discovery")
    except (OSError, ValueError):
        raise UsageError(f"the manifest of version {version} is missing or unreadable") from None
    if decided is None:
        raise UsageError(
            f"version {version[:12]} of {watch_id} holds no discovery record (the watch has no "
            "discover, or its pages did not change on that check; see --version)"
        )
    _write_page_text(json.dumps(decided, indent=1, ensure_ascii=False) + "\n")
    return 0


def _write_page_text(text: str) -> None:
    """Writes what a page said: on a terminal without its escape sequences and control
    characters (a page must not drive the reader's terminal); to a pipe or a file, as is."""
    sys.stdout.write(terminal.safe(text) if sys.stdout.isatty() else text)


def _state_of(folder: Path) -> tuple[Path | None, str]:
    """The state folder an evidence folder belongs to, and its watch id: ``.scrubwatch/
    evidence/<watch>`` or, for a page a watch discovered, ``evidence/<watch>/<page>``."""
    for depth, watch_id in ((1, folder.name), (2, f"{folder.parent.name}/{folder.name}")):
        evidence = folder.parents[depth - 1] if len(folder.parents) >= depth else None
        if evidence is None or evidence.name != "evidence":
            continue
        if depth == 2 and not CHILD_FOLDER.match(folder.name):
            continue
        if (evidence.parent / "state.sqlite3").exists():
            return evidence.parent, watch_id
    return None, folder.name


def configured_cas(config: Path) -> frozenset[str]:
    """The fingerprints of the CAs the watch list's timestamp authorities name: what
    `verify` of your own evidence requires (none when the list cannot be read: verify
    needs no watch list)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from ..check.timestamp import load_authorities
    from ..check.watchlist_file import load_watchlist

    try:
        authorities = load_authorities(load_watchlist(config))
    except (ConfigError, OSError):
        return frozenset()
    cas = (x509.load_pem_x509_certificate(a.ca_pem) for a in authorities)
    return frozenset(ca.fingerprint(hashes.SHA256()).hex() for ca in cas)


def _pinned(args: argparse.Namespace, own: bool = False) -> frozenset[str] | None:
    """The SHA-256 fingerprints of the CAs named by --tsa-ca, and for ``own`` evidence
    (not a bundle) those of the watch list's authorities (None: none named)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    files: list[Path] = getattr(args, "tsa_ca", None) or []
    configured: frozenset[str] = (
        getattr(args, "configured_cas", frozenset()) if own else frozenset()
    )
    if not files and not configured:
        return None
    out = set(configured)
    for path in files:
        try:
            ca = x509.load_pem_x509_certificate(path.read_bytes())
        except OSError as exc:
            raise UsageError(f"--tsa-ca {path}: {exc.strerror or exc}") from None
        except ValueError:
            raise UsageError(f"--tsa-ca {path}: not a PEM certificate") from None
        out.add(ca.fingerprint(hashes.SHA256()).hex())
    return frozenset(out)


def _print_trusted(
    trusted: dict[str, list[tuple[str, str, str]]], pinned: bool, what: str = "version(s)"
) -> None:
    """Each timestamped version's trusted times, and whose CA vouches for them."""
    if not trusted:
        return
    print(f"trusted timestamps: {len(trusted)} {what} stamped, each verified offline:")
    cas: dict[str, str] = {}
    for version, stamps in trusted.items():
        times = ", ".join(f"{when} ({ca})" for when, ca, _ in stamps)
        print(f"  {version[:12]}  {times}")
        cas.update((fingerprint, ca) for _, ca, fingerprint in stamps)
    for fingerprint, ca in cas.items():
        spaced = ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()
        print(f"  CA {ca}: SHA-256 {spaced}")
    if not pinned:
        print(
            "  These CAs are the ones kept beside the tokens: compare each fingerprint with "
            "the authority's published certificate, or name it with --tsa-ca (a timestamp "
            "proves when the record existed, not who made it)"
        )


def _verify_contacts(folder: Path, args: argparse.Namespace) -> int:
    """`verify .scrubwatch/evidence/contacts`: the contact records and their tokens."""
    report = verify_contacts(folder, _pinned(args, own=True))
    if not report.ok:
        for problem in report.problems:
            print(f"BROKEN: {problem}", file=sys.stderr)
        return VERIFY_FAILED
    print(f"OK: {folder}: {report.versions} contact record(s); every timestamp token verified")
    _print_trusted(report.trusted, pinned=bool(report.pinned), what="contact record(s)")
    if report.unstamped:
        print(f"note: {report.unstamped} contact record(s) carry no timestamp token")
    return 0


# A page a watch discovered: ``<watch>/<12 hex>`` (core.discover.child_id), not a path.
_PAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[0-9a-f]{12}$")


def _bundle_name(name: str) -> bool:
    """A file of the bundle: one of its own, or one of its contact records."""
    inner = name.removeprefix("contacts/")
    return Path(inner).name == inner and inner not in ("", ".", "..")


def cmd_verify(args: argparse.Namespace, root: Path) -> int:
    given = Path(args.target)
    if given.is_dir() and given.name == "contacts" and any(given.glob("c-*.json")):
        return _verify_contacts(given, args)
    if given.is_dir():
        # The newest manifest is named by nothing in the chain; something outside it must
        # vouch for it: a bundle's HEAD, or the state the folder belongs to.
        head_file = given / "HEAD"
        state_root, watch_id = _state_of(given.resolve())
        expected: str | None = None
        committed: set[str] | None = None  # a bundle holds only committed captures
        anchored = True
        bundle = head_file.exists()  # someone's export: their authorities, not yours
        if bundle:
            expected = head_file.read_text().strip() or None
        elif state_root is not None:
            local = LocalArchive(state_root)
            expected = local.chain_head(watch_id)
            committed = {row["version"] for row in local.history(watch_id)}
        else:
            anchored = False
        report = verify_folder(given, expected, committed, _pinned(args, own=not bundle))
        if not anchored:
            report.problems.append(
                "no HEAD file: nothing vouches for the newest version, so its change or removal "
                "would not show; verify by watch id, or an exported bundle"
            )
        if bundle and (given / "contacts").is_dir():
            report.problems += verify_contacts(given / "contacts", _pinned(args)).problems
        sums = given / "SHA256SUMS"
        if sums.exists():
            for line in sums.read_text().splitlines():
                digest, _, name = line.partition("  ")
                path = given / name
                if not _bundle_name(name):
                    report.problems.append(f"SHA256SUMS names {name!r}, outside the bundle")
                elif not path.exists():
                    report.problems.append(f"{name}: listed in SHA256SUMS but missing")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    report.problems.append(f"{name}: SHA-256 differs from SHA256SUMS")
        where = str(given)
    else:
        if "/" in args.target and not _PAGE_ID.match(args.target):
            raise UsageError(f"{args.target}: no such folder (nor a watch id)")
        archive = archive_for(args, root)
        rows = _rows(archive, args.target)  # the watch must exist
        report = verify_folder(
            archive.folder(args.target),
            archive.chain_head(args.target),
            {row["version"] for row in rows},
            _pinned(args, own=True),
        )
        where = f"{args.target} in {archive.where()}"
    if report.uncommitted:
        print(
            f"note: left out {len(report.uncommitted)} capture(s) written by a run that stopped "
            "before committing them (the next check of the watch removes them): "
            + ", ".join(report.uncommitted),
            file=sys.stderr,
        )
    if report.ok:
        head = report.head[:16] + "…" if report.head else "none"
        print(f"OK: {where}: {report.versions} version(s) verified; chain intact, head {head}")
        if report.witnessed:
            print(
                f"note: {report.witnessed} Internet Archive answer(s) (.witness.json) sit beside "
                "their versions, outside the chain: check their web.archive.org addresses there"
            )
        _print_trusted(report.trusted, pinned=bool(report.pinned))
        if report.unstamped:
            print(f"note: {report.unstamped} version(s) carry no timestamp token")
        return 0
    for problem in report.problems:
        print(f"BROKEN: {problem}", file=sys.stderr)
    return VERIFY_FAILED
