"""`scrubwatch push`: validate watchlist.yaml here and hand it to a deployed stack.

The stack's functions use the pushed list from their next invocation (aws/watchlists.py),
so editing the list needs no build and no deploy. The bucket is versioned: every push is
kept, and `aws s3api list-object-versions` shows them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ..check.watchlist_file import load_watchlist
from ..core.compiled import compile_watchlist
from ..core.config import LARGE
from .archive import stack_outputs
from .state_folder import UsageError


def cmd_push(args: argparse.Namespace, config: Path) -> int:
    from ..aws.watchlists import PUSHED_KEY
    from .validate import aws_problems

    stack, bucket = getattr(args, "stack", None), getattr(args, "bucket", None)
    if not (stack or bucket):
        raise UsageError("push needs the stack: --stack NAME (or --bucket ITS_EVIDENCE_BUCKET)")
    watchlist = load_watchlist(config, LARGE)
    problems = aws_problems(watchlist)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    if any(
        _has_password(p) for p in {watchlist.settings.proxy, *(w.proxy for w in watchlist.watches)}
    ):
        print(
            "scrubwatch: note: a proxy's password is in the list, and goes into the bucket "
            "with it (kept in every version, and under Object Lock until the lock ends)",
            file=sys.stderr,
        )
    if stack:
        bucket, _ = stack_outputs(stack)
    import boto3

    body = compile_watchlist(watchlist)
    reply = boto3.client("s3").put_object(
        Bucket=bucket,
        Key=PUSHED_KEY,
        Body=body,
        ContentType="application/json",
        ChecksumAlgorithm="SHA256",
        Metadata={
            "watches": str(len(watchlist.watches)),
            "sha256": hashlib.sha256(body).hexdigest(),
        },
    )
    version = reply.get("VersionId")
    print(
        f"pushed {len(watchlist.watches)} watch(es) from {config} to s3://{bucket}/{PUSHED_KEY}"
        + (f" (version {version})" if version else "")
        + "; the stack checks by it from its next tick"
    )
    return 0


def _has_password(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).password is not None
