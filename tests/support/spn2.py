"""A fake of the Internet Archive's Save Page Now 2, for a pytest-httpserver on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class FakeSpn2:
    """POST /save gives a job; its status says success with a capture timestamp."""

    def __init__(self, server: HTTPServer, age: timedelta = timedelta(0)) -> None:
        self.saved: list[dict[str, str]] = []
        self.age = age
        self.auth: list[str | None] = []
        server.expect_request("/save", method="POST").respond_with_handler(self.save)
        server.expect_request("/save/status/spn2-1").respond_with_handler(self.status)
        server.expect_request("/save/status/spn2-2").respond_with_handler(self.status)
        server.expect_request("/save/status/spn2-3").respond_with_handler(self.status)

    def save(self, request: Request) -> Response:
        self.saved.append(dict(request.form))
        self.auth.append(request.headers.get("Authorization"))
        return Response(
            json.dumps({"url": request.form["url"], "job_id": f"spn2-{len(self.saved)}"})
        )

    def status(self, request: Request) -> Response:
        job = request.path.rsplit("/", 1)[1]
        stamp = (datetime.now(UTC) + timedelta(seconds=1) - self.age).strftime("%Y%m%d%H%M%S")
        url = self.saved[int(job.split("-")[1]) - 1]["url"]
        return Response(
            json.dumps(
                {"status": "success", "job_id": job, "timestamp": stamp, "original_url": url}
            )
        )
