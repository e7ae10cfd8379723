"""HTTP client cost per conditional request (304) on the local corpus server.

Compares httpx's own pool, httpx over the aiohttp transport (through AsyncClient and
through the transport API directly, as scrubwatch's fetcher does) and raw aiohttp, at
concurrency 64 over 20 loopback hosts. Usage: ``.venv/bin/python bench/clients.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

CORPUS = Path(__file__).parent / ".corpus" / "v1-s1-n300"
CONCURRENCY = 64
ROUNDS = 4

Get = Callable[[str, dict[str, str]], Awaitable[tuple[int, dict[str, str]]]]


async def measure(label: str, get: Get, urls: list[str]) -> None:
    etags = {}
    for url in urls:
        _, headers = await get(url, {})
        etags[url] = headers["etag"]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(url: str) -> None:
        async with gate:
            status, _ = await get(url, {"If-None-Match": etags[url]})
            assert status == 304, status

    work = urls * ROUNDS
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(u) for u in work))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {label} | {len(work) / wall:,.0f} | {cpu / len(work) * 1e6:,.0f} |")


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=8),
        auto_decompress=False,
    )


async def main(urls: list[str]) -> None:
    print("| client | 304s per second | client CPU µs per request |\n|---|---|---|")
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as client:

        async def via_httpx(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
            r = await client.get(url, headers=headers)
            return r.status_code, dict(r.headers)

        await measure("httpx AsyncClient, own pool", via_httpx, urls)

    async with httpx.AsyncClient(transport=AiohttpTransport(client=session)) as client:

        async def via_client(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
            r = await client.get(url, headers=headers)
            return r.status_code, dict(r.headers)

        await measure("httpx AsyncClient, aiohttp transport", via_client, urls)

    transport = AiohttpTransport(client=session)

    async def via_transport(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        r = await transport.handle_async_request(httpx.Request("GET", url, headers=headers))
        await r.aread()
        await r.aclose()
        return r.status_code, dict(r.headers)

    await measure("httpx.Request to the aiohttp transport (scrubwatch)", via_transport, urls)
    await transport.aclose()

    async with session() as raw:

        async def via_aiohttp(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
            async with raw.get(url, headers=headers) as r:
                await r.read()
                return r.status, {k.lower(): v for k, v in r.headers.items()}

        await measure("raw aiohttp", via_aiohttp, urls)


if __name__ == "__main__":
    if not (CORPUS / "manifest.json").exists():
        sys.exit("build the corpus first: .venv/bin/python bench/run.py --pages 300")
    server = subprocess.Popen(
        [
            *(sys.executable, str(Path(__file__).parent / "server.py"), "--root", str(CORPUS)),
            *("--mode", "304", "--hosts", "20", "--port", "0", "--parent-watch"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        files = json.loads((CORPUS / "manifest.json").read_text())["files"]
        urls = [f"http://127.0.0.{1 + i % 20}:{port}/{f['file']}" for i, f in enumerate(files)]
        asyncio.run(main(urls))
    finally:
        server.terminate()
        server.wait(timeout=10)
