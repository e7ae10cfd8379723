"""A timestamp authority for trying trusted timestamps offline: `openssl ts -reply` with a CA
and signing certificate of its own, made by openssl in a folder and kept there.

For the demo (`scrubwatch demo --serve`) and the tests only: its tokens prove nothing to
anyone else, since whoever holds the folder can sign any time. Its signing certificate is
one rfc3161-client accepts: no extra certificates in the tokens (`certs` unset),
`ESSCertIDv2` with SHA-256.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def openssl_found() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class OpensslTsa:
    """Answers RFC 3161 queries (DER bytes) with `reply`; ``ca`` is its CA certificate
    (PEM). The keys are made in ``folder`` the first time and reused after."""

    def __init__(self, folder: Path, name: str = "Scrubwatch Test TSA") -> None:
        self.folder = folder = folder.resolve()  # openssl runs in a folder of its own
        self.ca = folder / "ca.pem"
        self._lock = threading.Lock()
        if not (folder / "tsa.pem").exists():
            self._make(name)

    def _make(self, name: str) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tsa.cnf").write_text(_CONFIG.format(dir=folder))
        (folder / "serial").write_text("01\n")
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "3650", "-subj", f"/CN={name} Root", cwd=folder,
        )  # fmt: skip
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
            "-subj", f"/CN={name}", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "tsa.pem", "-days", "3650", "-extfile", "tsa.cnf",
            "-extensions", "tsa_ext", cwd=folder,
        )  # fmt: skip

    def reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as work:
            (Path(work) / "q.tsq").write_bytes(query)
            _openssl(
                "ts", "-reply", "-config", str(self.folder / "tsa.cnf"), "-queryfile", "q.tsq",
                "-out", "r.tsr", cwd=Path(work),
            )  # fmt: skip
            return (Path(work) / "r.tsr").read_bytes()
