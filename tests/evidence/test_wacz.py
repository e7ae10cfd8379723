"""WACZ export: real WARCs in, a zip out that the reference validator (py-wacz's ``wacz
validate``) accepts and whose index points at every record it names.

The validator is not a dependency of scrubwatch (it brings some fifty packages); CI installs
it in its own venv. Without it these tests fail, since an unchecked WACZ is not evidence."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from scrubwatch.evidence.wacz import Page, surt, write_wacz
from support.wacz import wacz_cli, wacz_validate
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CREATED = "2026-12-06T10:05:00Z"
META = {
    "title": "Scrubwatch: jobs.example",
    "description": "Two versions of a watched page, as captured.",
    "created": CREATED,
    "software": "scrubwatch 0.1.0",
}


def _exchange(
    writer: WARCWriter, url: str, date: str, status: str, body: bytes, extra: list[tuple[str, str]]
) -> None:
    """A request record and its response, as a capture writes them."""
    path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    request = StatusAndHeaders(
        f"GET /{path} HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True
    )
    headers = StatusAndHeaders(
        f"{status}", [("Content-Type", "text/html; charset=utf-8"), *extra], protocol="HTTP/1.1"
    )
    for record in (
        writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            http_headers=request,
            warc_headers_dict={"WARC-Date": date},
        ),
        writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": date},
        ),
    ):
        writer.write_record(record)


def _warcs(folder: Path) -> list[Path]:
    """Two versions' WARCs: a page, a redirect 301 -> 200 with a metadata record, and a 404
    with a revisit and a resource record (a packed version's extra part)."""
    first = folder / f"{hashlib.sha256(b'one').hexdigest()}.warc.gz"
    second = folder / f"{hashlib.sha256(b'two').hexdigest()}.warc.gz"
    date1, date2 = "2026-12-06T10:00:00Z", "2026-12-07T11:30:00Z"
    with first.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record(first.name, {"software": "test"}))
        _exchange(
            writer,
            "https://www.Example.com/Ad/1002?b=2&a=1",
            date1,
            "200 OK",
            b"<title>Engineer</title><h1>Engineer, Urumqi</h1>",
            [],
        )
        _exchange(
            writer,
            "http://jobs.example/old",
            date1,
            "301 Moved Permanently",
            b"",
            [("Location", "https://jobs.example/new/")],
        )
        _exchange(writer, "https://jobs.example/new/", date1, "200 OK", b"<h1>Moved here</h1>", [])
        meta = writer.create_warc_record(
            "https://jobs.example/new/",
            "metadata",
            payload=io.BytesIO(b'{"redirects": 1}'),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": date1},
        )
        writer.write_record(meta)
    with second.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        _exchange(writer, "https://jobs.example/gone", date2, "404 Not Found", b"<h1>Gone</h1>", [])
        revisit = writer.create_revisit_record(
            "https://jobs.example/new/",
            "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "https://jobs.example/new/",
            date1,
            http_headers=StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"
            ),
            warc_headers_dict={"WARC-Date": date2},
        )
        writer.write_record(revisit)
        part = writer.create_warc_record(
            "urn:scrubwatch:ad/two.txt",
            "resource",
            payload=io.BytesIO(b"Gone\n"),
            warc_content_type="text/plain; charset=utf-8",
            warc_headers_dict={"WARC-Date": date2},
        )
        writer.write_record(part)
    return [first, second]


PAGES = [
    Page("https://www.Example.com/Ad/1002?b=2&a=1", "2026-12-06T10:00:00Z", "Engineer"),
    Page("http://jobs.example/old", "2026-12-06T10:00:00Z", "Moved"),
    Page("https://jobs.example/gone", "2026-12-07T11:30:00Z", "Gone"),
]


@pytest.fixture
def wacz(tmp_path: Path) -> Path:
    out = tmp_path / "export.wacz"
    write_wacz(out, _warcs(tmp_path), PAGES, **META)
    return out


def _index(wacz: Path) -> list[tuple[str, str, dict[str, str]]]:
    with zipfile.ZipFile(wacz) as zf:
        text = zf.read("indexes/index.cdx").decode()
    lines = text.splitlines()
    assert lines == sorted(lines) and text.endswith("\n")
    return [(key, ts, json.loads(rest)) for key, ts, rest in (ln.split(" ", 2) for ln in lines)]


def test_the_reference_validator_accepts_it(wacz: Path) -> None:
    done = wacz_validate(wacz)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation succeeded" in done.stdout


def test_the_validator_rejects_a_wacz_whose_warc_was_altered(wacz: Path, tmp_path: Path) -> None:
    """The check above can fail: a word changed in an archived WARC, the WARC gzipped again
    (so it still reads as a WARC), is caught by its hash."""
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(wacz) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if b"Urumqi" in (
                plain := gzip.decompress(data) if info.filename.endswith(".gz") else b""
            ):
                data = gzip.compress(plain.replace(b"Urumqi", b"Lhasa!"), mtime=0)
            dst.writestr(info, data)
    assert wacz_validate(wacz).returncode == 0
    done = wacz_validate(tampered)
    assert done.returncode != 0, done.stdout
    assert "does not match the expected hash" in done.stdout


def test_each_index_line_points_at_its_record(wacz: Path) -> None:
    index = _index(wacz)
    with zipfile.ZipFile(wacz) as zf:
        archived = {
            n.removeprefix("archive/"): zf.read(n)
            for n in zf.namelist()
            if n.startswith("archive/")
        }
    assert {entry["filename"] for _, _, entry in index} == set(archived)
    for key, ts, entry in index:
        start, length = int(entry["offset"]), int(entry["length"])
        member = archived[entry["filename"]][start : start + length]
        record = next(iter(ArchiveIterator(io.BytesIO(gzip.decompress(member)))))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert key == surt(entry["url"]) and len(ts) == 14 and ts.isdigit()
        assert record.rec_type in ("response", "revisit", "resource")
    by_url = {(e["url"], e["mime"]): e for _, _, e in index}
    assert by_url["http://jobs.example/old", "text/html"]["status"] == "301"
    assert by_url["https://jobs.example/gone", "text/html"]["status"] == "404"
    assert by_url["https://jobs.example/new/", "warc/revisit"]["status"] == "200"
    assert by_url["urn:scrubwatch:ad/two.txt", "text/plain"]["digest"].startswith("sha1:")
    assert len(index) == 6  # 4 responses, 1 revisit, 1 resource; no request or metadata


def test_the_index_is_what_cdxj_indexer_writes(wacz: Path, tmp_path: Path) -> None:
    """Line for line what ``wacz create``'s indexer writes for the same records."""
    indexer = wacz_cli().parent / "cdxj-indexer"
    warcs = sorted(tmp_path.glob("*.warc.gz"))
    done = subprocess.run(
        [str(indexer), "--sort", "--records", "response,revisit,resource", *map(str, warcs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    with zipfile.ZipFile(wacz) as zf:
        assert zf.read("indexes/index.cdx").decode() == done.stdout


SURT_CASES = [
    "https://www.Example.com/Ad/1002?b=2&a=1",
    "http://example.com",
    "http://example.com/",
    "https://EXAMPLE.com:443/a/b/",
    "http://example.com:8080/a//b/./c/../d?",
    "https://www2.example.co.uk/path/?z=1&a=&a=2&y#frag",
    "https://user:pw@sub.example.org/%7Euser/%2541?q=%41",
    "https://example.com/caf%C3%A9?x=%E2%82%AC",
    "https://bücher.example/straße",
    "http://127.0.0.1:8000/index.html",
    "urn:scrubwatch:ad/Two.txt",
    "HTTP://Example.COM/a/%2E%2E/b/%2fc%2F?A=%2F&a=1&a",
    "https://example.com/%E4%B9%8C%zz/~x?%FF=1",
    "https://example.com:8443",
    "https://www.example.com./a;b,c",
]


def test_surt_keys_match_the_surt_package() -> None:
    python = wacz_cli().parent / "python"
    code = "import json, sys, surt; print(json.dumps([surt.surt(u) for u in json.load(sys.stdin)]))"
    done = subprocess.run(
        [str(python), "-c", code],
        input=json.dumps(SURT_CASES),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [surt(u) for u in SURT_CASES] == json.loads(done.stdout)


def test_the_datapackage_hashes_every_file(wacz: Path) -> None:
    with zipfile.ZipFile(wacz) as zf:
        package = json.loads(zf.read("datapackage.json"))
        digest = json.loads(zf.read("datapackage-digest.json"))
        names = set(zf.namelist())
        for resource in package["resources"]:
            data = zf.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
            assert resource["name"] == resource["path"].rsplit("/", 1)[1].lower()
        assert digest == {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest(),
        }
        stored = {i.filename: i.compress_type for i in zf.infolist()}
    assert {r["path"] for r in package["resources"]} == names - {
        "datapackage.json",
        "datapackage-digest.json",
    }
    assert all(t == zipfile.ZIP_STORED for n, t in stored.items() if n.startswith("archive/"))
    assert all(t == zipfile.ZIP_DEFLATED for n, t in stored.items() if not n.startswith("archive/"))
    assert package["wacz_version"] == "1.1.1" and package["profile"] == "data-package"
    assert {k: package[k] for k in META} == META


def test_the_archived_warcs_are_the_inputs_byte_for_byte(wacz: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wacz) as zf:
        for warc in tmp_path.glob("*.warc.gz"):
            assert zf.read(f"archive/{warc.name}") == warc.read_bytes()


def test_the_page_list(wacz: Path) -> None:
    with zipfile.ZipFile(wacz) as zf:
        lines = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
    assert lines[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert [(p["url"], p["ts"], p["title"]) for p in lines[1:]] == [
        (p.url, p.ts, p.title) for p in PAGES
    ]
    assert len({p["id"] for p in lines[1:]}) == len(PAGES)


def test_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    warcs = _warcs(tmp_path)
    write_wacz(tmp_path / "a.wacz", warcs, PAGES, **META)
    write_wacz(tmp_path / "b.wacz", warcs, PAGES, **META)
    assert (tmp_path / "a.wacz").read_bytes() == (tmp_path / "b.wacz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.wacz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 12, 6, 10, 5, 0)}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    warcs = _warcs(tmp_path)
    out = tmp_path / "export.wacz"
    out.write_bytes(b"previous")
    twice = [*PAGES, PAGES[0]]
    with pytest.raises(ValueError, match="page listed twice"):
        write_wacz(out, warcs, twice, **META)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_warc_names_must_be_unique_and_fit_a_datapackage_name(tmp_path: Path) -> None:
    """The validator needs unique resource names matching ^[-a-z0-9._/]+$ (the lower-cased
    file name): refused up front rather than written as a WACZ that fails validation."""
    warcs = _warcs(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(warcs[0], other / warcs[0].name.upper())
    shutil.copy(warcs[0], other / "a capture+1.warc.gz")
    for bad in ([warcs[0], other / warcs[0].name.upper()], [other / "a capture+1.warc.gz"], []):
        with pytest.raises(ValueError, match="need WARCs named uniquely"):
            write_wacz(tmp_path / "x.wacz", bad, PAGES, **META)
    assert not (tmp_path / "x.wacz").exists()
