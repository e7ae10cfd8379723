"""The web sites tests watch, on 127.0.0.1 only.

* ``Site``: a scripted site on pytest-httpserver. Pages (HTML, a ``Page`` or a handler)
  can be swapped between runs; every request is logged with its headers.
* ``RawServer``: a threaded socket server that writes exactly the bytes a test gives it
  (chunked bodies, a server that never answers, malformed answers).
* ``Listener``: a listening socket that must never see a connection.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response


def page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head>{head}<title>{title}</title></head><body>{body}</body></html>"
    )


@contextlib.contextmanager
def serving(server: HTTPServer) -> Iterator[HTTPServer]:
    """Starts a pytest-httpserver server, and stops it (and forgets its handlers) after."""
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


# --- the scripted site -------------------------------------------------------------------


@dataclass
class Page:
    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Seen:
    path: str
    host: str
    headers: dict[str, str]  # names in lower case
    at: float  # time.monotonic() when the server saw it


NOT_FOUND = Page(page("Not Found", "<h1>Not Found</h1>"), status=404)


class Site:
    """Serves ``pages`` (path -> Page or handler); anything else gets ``fallback``."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.pages: dict[str, Page | Handler | str] = {}  # a str is an HTML page
        self.fallback: Page | Handler = NOT_FOUND
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def paths(self) -> list[str]:
        """The paths asked for, in order."""
        return [seen.path for seen in self.seen()]

    @property
    def port(self) -> int:
        return int(self.server.port)

    def url(self, path: str) -> str:
        return str(self.server.url_for(path))

    def set(self, path: str, what: Page | Handler | str) -> None:
        self.pages[path] = Page(what) if isinstance(what, str) else what

    def seen(self, path: str | None = None, since: int = 0) -> list[Seen]:
        with self._lock:
            log = self.requests[since:]
        return [s for s in log if path is None or s.path == path]

    def mark(self) -> int:
        with self._lock:
            return len(self.requests)

    def _handle(self, request: Request) -> Response:
        seen = Seen(
            path=request.path,
            host=request.headers.get("Host", ""),
            headers={k.lower(): v for k, v in request.headers.items()},
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(seen)
        what = self.pages.get(request.path, self.fallback)
        if callable(what):
            return what(request)
        return respond(Page(what) if isinstance(what, str) else what)


def respond(p: Page) -> Response:
    body = p.body.encode("utf-8") if isinstance(p.body, str) else p.body
    response = Response(body, status=p.status)
    del response.headers["Content-Type"]
    if p.content_type is not None:
        response.headers["Content-Type"] = p.content_type
    for key, value in p.headers.items():
        response.headers[key] = value
    return response


# --- a raw socket server -------------------------------------------------------------------


class RawServer:
    """Threaded TCP server; ``reply(request_head, wfile)`` writes the whole response."""

    def __init__(self, reply: Callable[[bytes, Any], None], host: str = "127.0.0.1") -> None:
        self.requests: list[bytes] = []
        self.release = threading.Event()  # set at close: unblocks a reply that waits
        outer = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    head += chunk
                outer.requests.append(head)
                try:
                    reply(head, self.wfile)
                    self.wfile.flush()
                except OSError:
                    pass  # the client hung up first, as it should for a too-large body

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server((host, 0), _Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def chunked(*chunks: bytes) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return out + b"0\r\n\r\n"


class Listener:
    """A bound, listening socket that must never see a connection."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.host = host
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        """Connections the kernel completed (they wait in the backlog even when closed)."""
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.sock.close()
