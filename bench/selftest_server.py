"""Self-test of the benchmark server: HTTP behaviour checks plus a throughput probe.

Starts ``server.py`` (via ``run.ServerProcess``) on a small cached corpus, checks 200/304
semantics in all three modes (304, no304, noisy) with the standard-library client, then
loads it with a raw asyncio keep-alive client (one request in flight per connection unless
``--pipeline`` > 1) and reports requests/s, MB/s and requests per server CPU-second, i.e.
what one server core can answer. Standard library only; exits 1 if a behaviour check fails.

Usage: ``python bench/selftest_server.py [--pages 200] [--seconds 3] [--connections 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import corpus  # noqa: E402
from run import ServerProcess  # noqa: E402

Check = tuple[str, bool, str]


def get(
    host: str, port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def behaviour_checks(root: Path, manifest: dict[str, object], log: Path) -> list[Check]:
    files = manifest["files"]
    assert isinstance(files, list)
    gbk = next(f for f in files if f["charset"] == "gbk")
    utf = next(f for f in files if f["charset"] == "utf-8")
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append((name, ok, detail))

    server = ServerProcess(root, "304", 20, 0, log)
    port = server.start()
    try:
        path = "/" + gbk["file"]
        status, h, body = get("127.0.0.5", port, path)
        check("200 on 127.0.0.5", status == 200, str(status))
        check("body matches file", body == (root / gbk["file"]).read_bytes())
        check("gbk charset header", h.get("content-type") == "text/html; charset=gbk", str(h))
        check("strong ETag", h.get("etag", "").startswith('"'), h.get("etag", ""))
        check("Last-Modified", "last-modified" in h)
        check("Date", "date" in h)
        etag, lm = h.get("etag", ""), h.get("last-modified", "")
        status, h2, body = get("127.0.0.20", port, path, {"If-None-Match": etag})
        check("If-None-Match -> 304", status == 304 and body == b"", str(status))
        check("304 repeats ETag", h2.get("etag") == etag)
        status, _, _ = get("127.0.0.1", port, path, {"If-None-Match": f'"x", W/{etag}'})
        check("If-None-Match list/weak -> 304", status == 304, str(status))
        status, _, _ = get("127.0.0.1", port, path, {"If-None-Match": '"stale"'})
        check("stale If-None-Match -> 200", status == 200, str(status))
        status, _, _ = get("127.0.0.1", port, path, {"If-Modified-Since": lm})
        check("If-Modified-Since echo -> 304", status == 304, str(status))
        status, _, _ = get(
            "127.0.0.1", port, path, {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
        )
        check("older If-Modified-Since -> 200", status == 200, str(status))
        status, _, _ = get(
            "127.0.0.1",
            port,
            path,
            {"If-None-Match": '"stale"', "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        )
        check("If-None-Match wins over IMS", status == 200, str(status))
        status, h, body = get("127.0.0.1", port, "/" + utf["file"], method="HEAD")
        check(
            "HEAD: headers, no body",
            status == 200 and body == b"" and h.get("content-length") == str(utf["bytes"]),
        )
        status, _, _ = get("127.0.0.1", port, "/missing.html")
        check("404 for unknown path", status == 404, str(status))

        # keep-alive: three requests on one connection count one connection server-side
        before = server.stats()
        conn = http.client.HTTPConnection("127.0.0.2", port, timeout=10)
        for _ in range(3):
            conn.request("GET", "/" + utf["file"])
            conn.getresponse().read()
        conn.close()
        after = server.stats()
        check(
            "keep-alive reuses the connection",
            after["connections"] - before["connections"] == 1
            and after["requests"] - before["requests"] == 3,
            f"{after['connections'] - before['connections']} conns",
        )
        # pipelining: two requests in one write are answered in order
        check("pipelined requests", _pipelined(port, "/" + gbk["file"], "/" + utf["file"]))
    finally:
        server.stop()

    server = ServerProcess(root, "no304", 20, port, log)
    server.start()
    try:
        status, h, body = get("127.0.0.9", port, path, {"If-None-Match": etag})
        check("no304: conditional GET -> 200", status == 200 and len(body) == gbk["bytes"])
        check("no304: no validators", "etag" not in h and "last-modified" not in h, str(h))
        status, _, _ = get("127.0.0.9", port, path, {"If-Modified-Since": lm})
        check("no304: IMS ignored", status == 200, str(status))
    finally:
        server.stop()

    server = ServerProcess(root, "noisy", 20, port, log)
    server.start()
    try:
        original = (root / gbk["file"]).read_bytes()
        status, h, body = get("127.0.0.3", port, path, {"If-None-Match": etag})
        status2, h2, body2 = get("127.0.0.3", port, path)
        check("noisy: conditional GET -> 200", status == 200 and status2 == 200, str(status))
        check("noisy: no validators", "etag" not in h and "last-modified" not in h, str(h))
        check("noisy: Content-Length right", h.get("content-length") == str(len(body)))
        check("noisy: every answer differs", body != body2 and len(body) == len(body2))
        at = original.find(b"<head>") + len(b"<head>")
        nonce = body[at : len(body) - (len(original) - at)]
        check(
            "noisy: page + nonce comment after <head>",
            body[:at] == original[:at]
            and body[at + len(nonce) :] == original[at:]
            and nonce.startswith(b"<!-- nonce ")
            and nonce.endswith(b" -->"),
            repr(nonce),
        )
    finally:
        server.stop()
    return checks


def _pipelined(port: int, first: str, second: str) -> bool:
    import socket

    with socket.create_connection(("127.0.0.3", port), timeout=10) as s:
        s.sendall(
            f"GET {first} HTTP/1.1\r\nHost: x\r\n\r\nGET {second} HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := s.recv(1 << 20):
            data += chunk
    return data.count(b"HTTP/1.1 200 OK") == 2 and b"Connection: close" in data


# --- throughput probe --------------------------------------------------------------------


class LoadClient(asyncio.Protocol):
    """Keep-alive client sending ``depth`` requests at a time until ``deadline``."""

    def __init__(self, request: Callable[[], bytes], depth: int, deadline: float) -> None:
        self.request = request
        self.depth = depth
        self.deadline = deadline
        self.buf = bytearray()
        self.body_left = 0
        self.responses = 0
        self.bytes = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.in_flight = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.in_flight = self.depth
        transport.write(b"".join(self.request() for _ in range(self.depth)))

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        buf = self.buf
        buf += data
        while True:
            if self.body_left:
                take = min(self.body_left, len(buf))
                del buf[:take]
                self.body_left -= take
                if self.body_left:
                    return
                self._completed()
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            pos = head.find(b"\r\nContent-Length: ")
            length = int(head[pos + 18 : head.find(b"\r\n", pos + 2)]) if pos >= 0 else 0
            if length and not head.startswith(b"HTTP/1.1 304"):
                self.body_left = length
            else:
                self._completed()

    def _completed(self) -> None:
        self.responses += 1
        self.in_flight -= 1
        assert self.transport is not None
        if time.monotonic() < self.deadline:
            self.in_flight += 1
            self.transport.write(self.request())
        elif self.in_flight == 0:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _load(
    port: int, paths: list[str], etags: dict[str, str], conns: int, depth: int, seconds: float
) -> tuple[int, int, float]:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    counter = 0

    def make(host_index: int) -> Callable[[], bytes]:
        def request() -> bytes:
            nonlocal counter
            counter += 1
            path = paths[counter % len(paths)]
            inm = f"If-None-Match: {etags[path]}\r\n" if etags else ""
            return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.{host_index}\r\n{inm}\r\n".encode()

        return request

    t0 = time.perf_counter()
    clients: list[LoadClient] = []
    for k in range(conns):
        host = 1 + k % 20
        factory = functools.partial(LoadClient, make(host), depth, deadline)
        _, proto = await loop.create_connection(factory, f"127.0.0.{host}", port)
        clients.append(proto)
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), timeout=seconds + 30)
    elapsed = time.perf_counter() - t0
    return sum(c.responses for c in clients), sum(c.bytes for c in clients), elapsed


def throughput(
    root: Path, manifest: dict[str, object], args: argparse.Namespace, log: Path
) -> None:
    files = manifest["files"]
    assert isinstance(files, list)
    small = sorted(files, key=lambda f: f["bytes"])
    paths = ["/" + f["file"] for f in small]
    server = ServerProcess(root, "304", 20, 0, log)
    port = server.start()
    try:
        etags = {p: get("127.0.0.1", port, p, method="HEAD")[1]["etag"] for p in paths}
        print(
            f"throughput: {args.connections} connections over 20 hosts, "
            f"pipeline depth {args.pipeline}, {args.seconds:.0f}s each"
        )
        print("| load | requests | req/s | MB/s | server CPU s | req per server CPU s |")
        print("|---|---|---|---|---|---|")
        for name, use_paths, use_etags in (
            ("304 (If-None-Match)", paths, etags),
            ("200, 30 KB pages", paths[:20], {}),
            ("200, all pages", paths, {}),
        ):
            before = server.stats()
            n, nbytes, elapsed = asyncio.run(
                _load(port, use_paths, use_etags, args.connections, args.pipeline, args.seconds)
            )
            after = server.stats()
            cpu = after["cpu_s"] - before["cpu_s"]
            print(
                f"| {name} | {n} | {n / elapsed:,.0f} | {nbytes / elapsed / 2**20:,.0f} "
                f"| {cpu:.2f} | {n / cpu if cpu else 0:,.0f} |"
            )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Check and load-test bench/server.py.")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--corpus-dir", type=Path, default=BENCH_DIR / ".corpus")
    ap.add_argument("--no-load", action="store_true", help="behaviour checks only")
    args = ap.parse_args(argv)
    root, manifest, _ = corpus.ensure_corpus(args.corpus_dir, args.pages, corpus.DEFAULT_SEED)
    with tempfile.TemporaryDirectory(prefix="scrubwatch-selftest-") as tmp:
        log = Path(tmp) / "server.log"
        checks = behaviour_checks(root, manifest, log)
        for name, ok, detail in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if not ok else ""))
        failed = sum(1 for _, ok, _ in checks if not ok)
        print(f"{len(checks) - failed} passed, {failed} failed")
        if not args.no_load:
            throughput(root, manifest, args, log)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
