"""Trusted timestamps (RFC 3161, issue 14): each new version's manifest is sent to every
configured authority, and the token it answers is kept beside the manifest.

A token proves that the manifest, and through its hashes the capture and the chain before
it, existed at the authority's time. It is asked after the check, never during it: an
authority that is slow or down delays no alert, and what it could not stamp is asked
again at the next run (the state keeps the list).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..core.config import ConfigError, Watchlist
from ..core.terminal import one_line

log = logging.getLogger("scrubwatch")

TOKEN_SUFFIX = ".tsr"
CA_PREFIX = "tsa-"


def slug(url: str, ca_pem: bytes) -> str:
    """Names an authority and its CA in file names: a token ``<version>.<slug>.tsr``, the
    CA ``tsa-<slug>.pem`` (a renewed CA is a new name, never a replaced file)."""
    return hashlib.sha256(url.encode() + b"\0" + ca_pem).hexdigest()[:8]


@dataclass(frozen=True)
class Authority:
    url: str
    ca_pem: bytes  # the authority's CA certificate, kept with the evidence

    @property
    def slug(self) -> str:
        return slug(self.url, self.ca_pem)

    @property
    def ca_name(self) -> str:
        return f"{CA_PREFIX}{self.slug}.pem"


def load_authorities(watchlist: Watchlist) -> list[Authority]:
    """The configured authorities with their CA certificates read (relative to the watch
    list); ConfigError, a line each, for a certificate that cannot be read or is not one."""
    from cryptography import x509

    settings = watchlist.settings.timestamp
    if settings is None:
        return []
    try:
        import rfc3161_client  # noqa: F401
    except ImportError:
        where = watchlist.where(("settings", "timestamp"))
        need = "trusted timestamps need rfc3161-client: pip install 'scrubwatch[timestamp]'"
        raise ConfigError([f"{where}: {need}"]) from None
    base = Path(watchlist.path).parent
    problems, out = [], []
    for i, authority in enumerate(settings.authorities):
        where = watchlist.where(("settings", "timestamp", "authorities", i, "certificate"))
        path = base / authority.certificate
        try:
            pem = path.read_bytes()
            x509.load_pem_x509_certificate(pem)
        except OSError as exc:
            problems.append(f"{where}: cannot read {path}: {exc.strerror or exc}")
            continue
        except ValueError:
            problems.append(f"{where}: {path} is not a PEM certificate")
            continue
        out.append(Authority(authority.url, pem))
    if problems:
        raise ConfigError(problems)
    return out


class StampFailed(Exception):
    """The authority gave no token for this manifest (said in one line)."""


async def stamp(client: httpx.AsyncClient, authority: Authority, manifest: bytes) -> bytes:
    """The authority's answer (a TimeStampResp, DER) for ``manifest``, checked: granted,
    for this manifest's SHA-256, with the nonce asked, signed by a certificate that chains
    to the authority's CA."""
    from cryptography import x509
    from rfc3161_client import (
        HashAlgorithm,
        TimestampRequestBuilder,
        VerificationError,
        VerifierBuilder,
        decode_timestamp_response,
    )

    builder = TimestampRequestBuilder().data(manifest).hash_algorithm(HashAlgorithm.SHA256)
    request = builder.nonce(nonce=True).build()
    try:
        reply = await client.post(
            authority.url,
            content=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
        )
    except httpx.HTTPError as exc:
        raise StampFailed(f"{type(exc).__name__}: {one_line(exc, 200)}") from None
    if reply.status_code != 200:
        raise StampFailed(f"HTTP {reply.status_code}")
    try:
        answer = decode_timestamp_response(reply.content)
        ca = x509.load_pem_x509_certificate(authority.ca_pem)
        verifier = VerifierBuilder.from_request(request).add_root_certificate(ca).build()
        verifier.verify_message(answer, manifest)
    except (ValueError, VerificationError) as exc:
        raise StampFailed(f"not a valid token for this manifest: {one_line(exc, 200)}") from None
    return reply.content
