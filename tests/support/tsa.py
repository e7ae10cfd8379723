"""A real RFC 3161 timestamp authority on 127.0.0.1: the demo's `openssl ts -reply`
authority (scrubwatch/cli/demo_tsa.py) behind a small HTTP server, with its own CA and
signing certificate made in a temporary folder."""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scrubwatch.cli.demo_tsa import OpensslTsa


class LocalTsa:
    """``url`` answers timestamp queries; ``ca`` is its CA certificate (PEM); set ``down``
    to make it answer 503."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="scrubwatch-tsa-")
        self.folder = Path(self._folder.name)
        self.authority = OpensslTsa(self.folder)
        self.ca = self.authority.ca
        self.down = False
        self.asked = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if tsa.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                with tsa._lock:
                    tsa.asked += 1
                body = tsa.authority.reply(query)
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


@contextlib.contextmanager
def authority_for(folder: Path) -> Iterator[tuple[LocalTsa, dict[str, object]]]:
    """A local authority, its CA written to ``folder/ca.pem``, and the watch list's
    ``timestamp`` setting that names them; closed afterwards."""
    tsa = LocalTsa()
    try:
        (folder / "ca.pem").write_bytes(tsa.ca.read_bytes())
        yield tsa, {"authorities": [{"url": tsa.url, "certificate": "ca.pem"}]}
    finally:
        tsa.close()
