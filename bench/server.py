"""Minimal, fast asyncio HTTP/1.1 keep-alive server for the benchmark corpus.

Serves every page listed in ``ROOT/manifest.json`` (see ``corpus.py``) from memory, on
several loopback addresses (127.0.0.1 ... 127.0.0.N, one listening socket each, same port),
so the tool sees N distinct "hosts". Only 127.0.0.0/8 addresses are ever bound.

Modes:

* ``--mode 304``   200 responses carry a strong ``ETag`` (sha1 of the body) and
  ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` are honoured with a 304
  (RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since).
* ``--mode no304`` every GET is a 200 with the full body and no validators at all; any
  conditional request header is ignored.
* ``--mode noisy`` as no304, and every answer also carries a fresh random token in an HTML
  comment right after ``<head>`` (``<!-- nonce 0123456789abcdef -->``, same length every
  time), so no two answers have the same bytes and no byte-level shortcut (hash of the
  body) applies. The token is outside any watched region and is not text.

Extra endpoints: ``GET /__stats`` returns JSON counters (requests, status counts, body bytes,
connections accepted, server CPU seconds) for the runner to diff around each timed run;
it does not count itself as a request.

Prints ``READY <port>`` on stdout once every socket listens. Stops on SIGTERM/SIGINT, and on
its own when ``--parent-watch`` is given and the parent process goes away.

Usage: ``python bench/server.py --root bench/.corpus/v1-s1-n1000 --hosts 20 --port 0``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
MAX_REQUEST_BODY = 1024 * 1024
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SERVER_NAME = b"scrubwatch-bench"
MODES = ("304", "no304", "noisy")
# noisy mode: NONCE_OPEN + 16 random hex digits + NONCE_CLOSE, inserted after <head>.
NONCE_OPEN = b"<!-- nonce "
NONCE_CLOSE = b" -->"
NONCE_LEN = len(NONCE_OPEN) + 16 + len(NONCE_CLOSE)


@dataclass(slots=True)
class Resource:
    # In noisy mode, the page after the nonce; otherwise the whole page.
    body: bytes
    # Head of a 200 response minus the Date line and the final CRLF.
    head_200: bytes
    # Head of a 304 response minus the Date line and the final CRLF (unused in no304 mode).
    head_304: bytes
    etag: bytes
    last_modified_raw: bytes
    last_modified: int
    # noisy mode: the page up to and including ``<head>`` (the nonce goes after it).
    prefix: bytes = b""


@dataclass(slots=True)
class Stats:
    requests: int = 0
    connections: int = 0
    body_bytes: int = 0
    status: dict[int, int] = field(default_factory=dict)

    def count(self, code: int) -> None:
        self.requests += 1
        self.status[code] = self.status.get(code, 0) + 1

    def as_json(self) -> dict[str, Any]:
        cpu = os.times()
        return {
            "requests": self.requests,
            "connections": self.connections,
            "body_bytes": self.body_bytes,
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "cpu_s": round(cpu.user + cpu.system, 4),
        }


class DateCache:
    """The HTTP Date header line, recomputed at most once per second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._line


def load_resources(root: Path, mode: str) -> dict[bytes, Resource]:
    """Read the corpus into memory and precompute every response head."""
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    resources: dict[bytes, Resource] = {}
    validators = mode == "304"
    for entry in manifest["files"]:
        path = root / entry["file"]
        body = path.read_bytes()
        prefix = b""
        if mode == "noisy":
            # '<' never occurs inside a GBK character, so a byte search is safe.
            at = body.find(b"<head>")
            at = 0 if at < 0 else at + len(b"<head>")
            prefix, body = body[:at], body[at:]
        lm = int(entry.get("last_modified") or path.stat().st_mtime)
        lm_raw = formatdate(lm, usegmt=True).encode()
        etag = b'"' + hashlib.sha1(body).hexdigest().encode() + b'"'
        charset = str(entry.get("charset", "utf-8")).encode()
        common = b"Server: " + SERVER_NAME + b"\r\n"
        if validators:
            common += b"ETag: " + etag + b"\r\nLast-Modified: " + lm_raw + b"\r\n"
            common += b"Cache-Control: no-cache\r\n"
        else:
            common += b"Cache-Control: no-store\r\n"
        head_200 = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=" + charset + b"\r\n"
            b"Content-Length: "
            + str(len(prefix) + (NONCE_LEN if mode == "noisy" else 0) + len(body)).encode()
            + b"\r\n"
            + common
        )
        head_304 = b"HTTP/1.1 304 Not Modified\r\n" + common
        resources[b"/" + entry["file"].encode()] = Resource(
            body, head_200, head_304, etag, lm_raw, lm, prefix
        )
    return resources


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison of an If-None-Match list against our strong ETag (RFC 9110)."""
    value = if_none_match.strip()
    if value == b"*":
        return True
    for candidate in value.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def not_modified_since(if_modified_since: bytes, res: Resource) -> bool:
    if if_modified_since == res.last_modified_raw:  # the common case: echo of our header
        return True
    try:
        when = parsedate_to_datetime(if_modified_since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        return False
    return res.last_modified <= int(when.timestamp())


class HttpProtocol(asyncio.Protocol):
    __slots__ = ("app", "buf", "closing", "paused", "transport")

    def __init__(self, app: App) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.paused = False
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.app.stats.connections += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.buf.clear()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.process()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.paused:
            self.process()

    def process(self) -> None:
        """Answer every complete request in the buffer (pipelining-safe)."""
        buf = self.buf
        while not self.paused and not self.closing and self.transport is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    self.simple(431, b"Request Header Fields Too Large", close=True)
                return
            head = bytes(buf[:end])
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                del buf[:]
                self.simple(400, b"Bad Request", close=True)
                return
            method, target, version = parts
            inm = ims = b""
            conn = b""
            clen = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"if-none-match":
                    inm = value.strip()
                elif name == b"if-modified-since":
                    ims = value.strip()
                elif name == b"connection":
                    conn = value.strip().lower()
                elif name == b"content-length":
                    try:
                        clen = int(value)
                    except ValueError:
                        clen = -1
                elif name == b"transfer-encoding":
                    clen = -1
            if clen < 0 or clen > MAX_REQUEST_BODY:
                del buf[:]
                self.simple(400, b"Bad Request", close=True)
                return
            if len(buf) < end + 4 + clen:
                return  # wait for the (ignored) request body
            del buf[: end + 4 + clen]
            # HTTP/1.1 defaults to keep-alive, HTTP/1.0 to close.
            close = b"close" in conn if version == b"HTTP/1.1" else b"keep-alive" not in conn
            self.respond(method, target, inm, ims, close)
            if close:
                self.closing = True
                assert self.transport is not None
                self.transport.close()

    def respond(self, method: bytes, target: bytes, inm: bytes, ims: bytes, close: bool) -> None:
        app = self.app
        transport = self.transport
        assert transport is not None
        if method != b"GET" and method != b"HEAD":
            self.simple(405, b"Method Not Allowed", close=close)
            return
        path = target.split(b"?", 1)[0]
        res = app.resources.get(path)
        if res is None:
            if path == b"/__stats":
                body = json.dumps(app.stats.as_json()).encode()
                self.simple(200, b"OK", body, b"application/json", close=close, count=False)
            else:
                self.simple(404, b"Not Found", close=close)
            return
        conn_line = b"Connection: close\r\n" if close else b""
        if app.validators and (
            etag_matches(inm, res.etag) if inm else (ims and not_modified_since(ims, res))
        ):
            app.stats.count(304)
            transport.write(res.head_304 + app.date.line() + conn_line + b"\r\n")
            return
        app.stats.count(200)
        transport.write(res.head_200 + app.date.line() + conn_line + b"\r\n")
        if method == b"GET":
            if app.noisy:
                nonce = NONCE_OPEN + secrets.token_hex(8).encode() + NONCE_CLOSE
                transport.write(res.prefix + nonce)
                app.stats.body_bytes += len(res.prefix) + NONCE_LEN
            transport.write(res.body)
            app.stats.body_bytes += len(res.body)

    def simple(
        self,
        code: int,
        reason: bytes,
        body: bytes | None = None,
        ctype: bytes = b"text/plain; charset=utf-8",
        *,
        close: bool = False,
        count: bool = True,
    ) -> None:
        if self.transport is None:
            return
        if body is None:
            body = reason + b"\n"
        if count:
            self.app.stats.count(code)
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nServer: %s\r\n"
            % (code, reason, ctype, len(body), SERVER_NAME)
            + self.app.date.line()
            + (b"Connection: close\r\n" if close else b"")
            + b"\r\n"
            + body
        )
        if close and not self.closing:
            self.closing = True
            self.transport.close()


class App:
    def __init__(
        self, resources: dict[bytes, Resource], validators: bool, noisy: bool = False
    ) -> None:
        self.resources = resources
        self.validators = validators
        self.noisy = noisy
        self.stats = Stats()
        self.date = DateCache()


def loopback_hosts(first: int, count: int) -> list[str]:
    hosts = [str(ipaddress.ip_address(f"127.0.0.{first}") + k) for k in range(count)]
    for host in hosts:
        if ipaddress.ip_address(host) not in LOOPBACK:
            raise SystemExit(f"refusing to bind non-loopback address {host}")
    return hosts


def bind_all(hosts: list[str], port: int, attempts: int = 20) -> tuple[list[socket.socket], int]:
    """Bind one listening socket per host on a common port (port 0: pick a free one)."""
    for _ in range(attempts if port == 0 else 1):
        socks: list[socket.socket] = []
        chosen = port
        try:
            for host in hosts:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, chosen))
                chosen = s.getsockname()[1]
                s.listen(1024)
                s.setblocking(False)
            return socks, chosen
        except OSError as exc:
            for s in socks:
                s.close()
            if port != 0:
                msg = f"cannot bind {hosts[0]}..{hosts[-1]} port {port}: {exc}"
                raise SystemExit(msg) from exc
    raise SystemExit(f"no common free port on {hosts[0]}..{hosts[-1]} after {attempts} tries")


async def serve(args: argparse.Namespace) -> None:
    resources = load_resources(args.root, args.mode)
    app = App(resources, validators=args.mode == "304", noisy=args.mode == "noisy")
    hosts = loopback_hosts(args.first_host, args.hosts)
    socks, port = bind_all(hosts, args.port)
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(lambda: HttpProtocol(app), sock=s, backlog=1024) for s in socks
    ]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {port}", flush=True)
    print(
        f"serving {len(resources)} pages on {hosts[0]}..{hosts[-1]}:{port} mode={args.mode}",
        file=sys.stderr,
        flush=True,
    )
    parent = os.getppid()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            if args.parent_watch and os.getppid() != parent:
                break  # the runner died without stopping us
    for srv in servers:
        srv.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="corpus dir with manifest.json")
    ap.add_argument("--mode", choices=MODES, default="304")
    ap.add_argument("--hosts", type=int, default=20, help="listen on 127.0.0.FIRST..+N-1")
    ap.add_argument("--first-host", type=int, default=1)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--parent-watch", action="store_true", help="exit when the parent dies")
    args = ap.parse_args(argv)
    if not 1 <= args.hosts <= 250 or not 1 <= args.first_host <= 254:
        ap.error("--hosts must be 1..250 and --first-host 1..254")
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
