"""What a tick costs in AWS calls, measured under moto, for docs/scaling.md's cost model.

    .venv/bin/python bench/aws_calls.py [--watches 5000] [--changed 0.02] [--json-out F]

A local site on 127.0.0.1 serves N pages; the stack of template.yaml is made in moto (as
the tests make it); the three handlers run as deployed: the scheduler, then the checker on
batches of 5 messages. Tick 1 sees every page for the first time; tick 2, an hour on,
finds nothing changed; tick 3, an hour on, finds --changed of the pages edited. Every AWS
call the handlers' clients make is counted per operation, with its DynamoDB capacity
(ReturnConsumedCapacity) and the size of each S3 object put.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "shared")]

EDITED: set[int] = set()


class Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1].split(".")[0]
        if not name.isdigit():  # the checker's probe of the site's not-found page
            self.send_error(404)
            return
        n = int(name)
        state = "Closed" if n in EDITED else "Open"
        body = (
            f"<html><head><title>Ad {n}</title></head><body><main><h1>Ad {n}</h1>"
            f"<ul><li class='job'>Engineer {n}, {state}</li></ul></main></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return None


def _no_table_copy_per_transaction() -> None:
    """moto copies the whole table before each transaction, to roll back one that fails:
    a first sight of N watches then takes time and memory growing with N squared (18 GB
    at 2,600 of 5,000 watches). No transaction fails here, so the bench skips that copy;
    what is counted (the calls) does not change."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    class _Copy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = _Copy  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=5000)
    parser.add_argument("--changed", type=float, default=0.02)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_TRACE_DISABLED="1",
        POWERTOOLS_METRICS_NAMESPACE="bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    import boto3
    import yaml
    from moto import mock_aws

    _no_table_copy_per_transaction()
    with mock_aws():
        boto3.setup_default_session()
        from aws.support import _build_stack, _load

        stack = _build_stack()
        work = Path(os.environ.get("TMPDIR", "/tmp")) / f"aws-calls-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        listed = work / "watchlist.yaml"
        watches = [
            {
                "id": f"ad-{n:05d}",
                "url": f"http://127.0.0.1:{port}/ads/{n}.html",
                "every": "1h",
                "select": "main",
                "items": "li.job",
            }
            for n in range(args.watches)
        ]
        settings = {"allow_networks": ["127.0.0.1/32"], "retries": 0, "timeout": "5s"}
        listed.write_text(
            yaml.dump({"settings": settings, "watches": watches}, Dumper=yaml.CSafeDumper)
        )
        os.environ.update(
            TABLE_NAME=stack.table,
            BUCKET_NAME=stack.bucket,
            QUEUE_URL=stack.queue_url,
            TOPIC_ARN=stack.topic_arn,
            WATCHLIST_PATH=str(listed),
            SLACK_WEBHOOK_PARAM="",
            EMAIL_QUEUE_ARN=stack.email_queue_arn,
            EMAIL_TOPIC_ARN=stack.email_topic_arn,
            WITNESS_QUEUE_URL=stack.witness_queue_url,
        )
        import logging

        logging.getLogger("scrubwatch").setLevel(logging.ERROR)
        handlers = SimpleNamespace(scheduler=_load("scheduler"), checker=_load("checker"))
        logging.getLogger("scrubwatch").setLevel(logging.ERROR)
        from scrubwatch.aws import app as aws_app

        capacity: Counter[str] = Counter()
        put_bytes: list[int] = []

        def ask_capacity(params: dict[str, Any], event_name: str, **_: Any) -> None:
            op = event_name.rsplit(".", 1)[-1]
            if op in (
                "BatchGetItem",
                "GetItem",
                "Query",
                "UpdateItem",
                "PutItem",
                "TransactWriteItems",
            ):
                params["ReturnConsumedCapacity"] = "TOTAL"
            if op == "PutObject":
                put_bytes.append(len(params["Body"]))

        def note_capacity(parsed: dict[str, Any], event_name: str, **_: Any) -> None:
            used = parsed.get("ConsumedCapacity")
            for entry in used if isinstance(used, list) else [used] if used else []:
                capacity[event_name.rsplit(".", 1)[-1]] += entry.get("CapacityUnits", 0)

        stack.hook("before-parameter-build.dynamodb", ask_capacity)
        stack.hook("before-parameter-build.s3.PutObject", ask_capacity)
        stack.hook("after-call.dynamodb", note_capacity)
        results = {}
        now = time.time()
        for tick, label in enumerate(
            ("first sight", "nothing changed", f"{args.changed:.0%} changed")
        ):
            if tick == 2:
                EDITED.update(range(0, args.watches, max(1, round(1 / args.changed))))
            aws_app.time = SimpleNamespace(time=lambda t=now + tick * 3600: t)  # type: ignore[attr-defined]
            capacity.clear()
            put_bytes.clear()
            calls = stack.count_calls()
            started = time.perf_counter()
            invocations = stack.tick(handlers)
            seconds = time.perf_counter() - started
            results[label] = {
                "calls": dict(sorted(calls.items())),
                "dynamodb_capacity": {k: round(v, 1) for k, v in sorted(capacity.items())},
                "s3_put_bytes_mean": round(sum(put_bytes) / len(put_bytes)) if put_bytes else 0,
                "checker_invocations": invocations,
                "seconds": round(seconds, 1),
            }
            stack.unhook("before-call", stack._hooks[-1][1])
        # As DynamoDB bills an item: attribute names and values (the state is binary).
        item_sizes = [
            sum(
                len(name) + len(next(iter(v.values())))
                if "B" in v
                else len(name) + len(str(next(iter(v.values()))).encode())
                for name, v in i.items()
            )
            for i in stack.ddb.scan(TableName=stack.table)["Items"]
            if i["sk"]["S"] == "STATE"
        ]
    print(
        json.dumps(
            {
                "watches": args.watches,
                "ticks": results,
                "state_item_bytes": {
                    "mean": round(sum(item_sizes) / len(item_sizes)),
                    "max": max(item_sizes),
                },
            },
            indent=2,
        )
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
