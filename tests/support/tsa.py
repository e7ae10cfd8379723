"""A real RFC 3161 timestamp authority on 127.0.0.1: `openssl ts -reply` behind a small HTTP
server, with its own CA and signing certificate made by openssl in a temporary folder.

Its signing certificate is one the client library accepts: no extra certificates in the
tokens (`certs` unset), `ESSCertIDv2` with SHA-256.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class LocalTsa:
    """``url`` answers timestamp queries; ``ca`` is its CA certificate (PEM); set ``down``
    to make it answer 503."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="scrubwatch-tsa-")
        folder = self.folder = Path(self._folder.name)
        (folder / "tsa.cnf").write_text(_CONFIG.format(dir=folder))
        (folder / "serial").write_text("01\n")
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Scrubwatch Test TSA Root",
            cwd=folder,
        )  # fmt: skip
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
            "-subj", "/CN=Scrubwatch Test TSA", cwd=folder,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "tsa.pem", "-days", "3650", "-extfile", "tsa.cnf",
            "-extensions", "tsa_ext", cwd=folder,
        )  # fmt: skip
        self.ca = folder / "ca.pem"
        self.down = False
        self.asked = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    def _reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as work:
            self.asked += 1
            (Path(work) / "q.tsq").write_bytes(query)
            _openssl(
                "ts", "-reply", "-config", str(self.folder / "tsa.cnf"), "-queryfile", "q.tsq",
                "-out", "r.tsr", cwd=Path(work),
            )  # fmt: skip
            return (Path(work) / "r.tsr").read_bytes()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if tsa.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = tsa._reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._folder.cleanup()
