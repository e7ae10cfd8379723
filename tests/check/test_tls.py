"""TLS: certificates are verified. A site whose certificate nobody vouches for is an error
(``connect``), never a page read."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from scrubwatch.check.fetch import FetchOptions, HttpFetcher
from support import serving


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[HTTPServer]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with serving(HTTPServer(host="127.0.0.1", port=0, ssl_context=context)) as server:
        page = "<title>Trust me</title>"
        server.expect_request("/").respond_with_data(page, content_type="text/html")
        yield server


def test_a_certificate_nobody_vouches_for_is_an_error(self_signed_server: HTTPServer) -> None:
    options = FetchOptions(
        user_agent="scrubwatch-test",
        timeout=5,
        max_bytes=1_000_000,
        concurrency=4,
        per_host=2,
        retries=0,
        allow_networks=[ipaddress.ip_network("127.0.0.1/32")],
    )
    url = f"https://127.0.0.1:{self_signed_server.port}/"

    async def go():  # type: ignore[no-untyped-def]
        async with HttpFetcher(options) as fetcher:
            return await fetcher.fetch(url)

    result = asyncio.run(go())
    assert result.error == "connect"
    assert "certificate" in result.error_detail.lower()
    assert result.status is None and result.body == b""
    assert self_signed_server.log == []  # the handshake failed: no request was made
