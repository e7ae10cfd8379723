"""`verify` passes honest evidence and fails tampered evidence (issue 10, H2 and point 3):
compressed pages verify, a manifest may name only files beside it, and a bundle file that
no manifest names is reported."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from scrubwatch.cli.main import main
from support import Page, Site, page


def watch_list(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "watchlist.yaml"
    config.write_text(
        "settings: {allow_networks: ['127.0.0.1/32'], retries: 0}\n"
        f"watches:\n  - id: doc\n    url: {url}\n"
    )
    return config


def folder_of(config: Path) -> Path:
    return config.parent / ".scrubwatch" / "evidence" / "doc"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_a_compressed_page_verifies(
    encoding: str, encode: object, site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = page("Doc", "<p>Urumqi R&amp;D Center</p>").encode()
    assert callable(encode)
    site.set("/doc.html", Page(encode(html), headers={"Content-Encoding": encoding}))
    config = watch_list(tmp_path, site.url("/doc.html"))
    assert main(["check", "--force", "-c", str(config)]) == 0
    changed = encode(html.replace(b"Urumqi", b"Beijing"))
    site.set("/doc.html", Page(changed, headers={"Content-Encoding": encoding}))
    assert main(["check", "--force", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["verify", "doc", "-c", str(config)]) == 0, capsys.readouterr().err
    assert ": 2 version(s) verified; chain intact" in capsys.readouterr().out

    # ... and a changed byte in the stored (compressed) body is still caught.
    bundle = tmp_path / "bundle"
    assert main(["export", "doc", str(bundle), "-c", str(config)]) == 0
    assert main(["verify", str(bundle)]) == 0


def one_version(site: Site, tmp_path: Path) -> Path:
    site.set("/doc.html", page("Doc", "<p>text</p>"))
    config = watch_list(tmp_path, site.url("/doc.html"))
    assert main(["check", "--force", "-c", str(config)]) == 0
    return config


@pytest.mark.parametrize("name", ["/etc/hostname", "../../state.sqlite3", "sub/x.txt"])
def test_a_manifest_may_name_only_files_beside_it(
    name: str, site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = one_version(site, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["export", "doc", str(bundle), "-c", str(config)]) == 0
    [manifest] = bundle.glob("*.manifest.json")
    data = json.loads(manifest.read_bytes())
    data["files"]["text"]["name"] = name
    manifest.write_text(json.dumps(data))
    capsys.readouterr()

    assert main(["verify", str(bundle)]) == 3
    err = capsys.readouterr().err
    assert f"names {name!r}, which is not a file beside it" in err


def test_a_file_planted_in_a_bundle_is_reported(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = one_version(site, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["export", "doc", str(bundle), "-c", str(config)]) == 0
    (bundle / "confession.txt").write_text("the company did nothing wrong")
    capsys.readouterr()

    assert main(["verify", str(bundle)]) == 3
    assert "confession.txt: named by no manifest" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("0" * 64 + ".witness.json", '{"service": "wayback"}', "a witness result for no version"),
        (None, "the company did nothing wrong", "not JSON"),
        (None, '{"service": "confession"}', "not a witness result"),
        (
            None,
            '{"service": "wayback", "status": "archived", "url": "https://evil.example/x"}',
            "its capture is not on web.archive.org",
        ),
    ],
    ids=["no-such-version", "not-json", "not-a-witness", "not-the-archive"],
)
def test_a_planted_witness_result_is_reported(
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str | None,
    body: str,
    problem: str,
) -> None:
    """A witness result (AWS keeps the Internet Archive's answer beside a version, outside
    its manifest) passes only when it is one, for a version in the bundle."""
    config = one_version(site, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["export", "doc", str(bundle), "-c", str(config)]) == 0
    [manifest] = bundle.glob("*.manifest.json")
    version = manifest.name.removesuffix(".manifest.json")
    (bundle / f"{version}.witness.json").write_text('{"service": "wayback", "status": "archived"}')
    assert main(["verify", str(bundle)]) == 0  # a real one is fine
    planted = name or f"{version}.witness.json"
    (bundle / planted).write_text(body)
    capsys.readouterr()

    assert main(["verify", str(bundle)]) == 3
    assert f"{planted}: {problem}" in capsys.readouterr().err
