"""Which watch list a function works from: the one `scrubwatch push` put in the evidence
bucket when there is one, else the one bundled in the layer.

The pushed list is read again only when it changed (a conditional GET, answered 304 on
every invocation but the first after a push). A pushed file that does not validate (put
there by hand, say) is logged and passed over for the newest earlier version that does:
a bad upload never stops the checks.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..check.watchlist_file import load_watchlist
from ..core.compiled import watchlist_from_compiled
from ..core.config import ConfigError, Watchlist
from . import clients
from .environment import stack

log = logging.getLogger("scrubwatch")

PUSHED_KEY = "watchlist/watchlist.json"
_EARLIER_VERSIONS = 10  # looked at, newest first, when the newest does not validate


@dataclass
class _Pushed:
    etag: str = ""
    watchlist: Watchlist | None = None


_pushed = _Pushed()


@functools.cache
def bundled() -> Watchlist:
    return load_watchlist(stack().watchlist_path)


def forget() -> None:
    """A cold start (tests): nothing cached."""
    global _pushed
    _pushed = _Pushed()
    bundled.cache_clear()


def current(s3: Any = None) -> Watchlist:
    bucket = stack().bucket_name
    if not bucket:
        return bundled()
    s3 = s3 or clients.client("s3")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": PUSHED_KEY}
    if _pushed.etag:
        kwargs["IfNoneMatch"] = _pushed.etag
    try:
        reply = s3.get_object(**kwargs)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("304", "NotModified") and _pushed.watchlist is not None:
            return _pushed.watchlist
        if code in ("NoSuchKey", "404"):
            return bundled()
        if code in ("AccessDenied", "403") and _pushed.watchlist is None:
            # S3 answers a missing key with 403 to a caller that may not list the bucket:
            # taken as "nothing pushed", said, in case it is a policy that needs fixing.
            log.warning(
                "reading s3://%s/%s was refused; using the bundled list", bucket, PUSHED_KEY
            )
            return bundled()
        raise
    where = f"s3://{bucket}/{PUSHED_KEY}"
    try:
        watchlist = watchlist_from_compiled(reply["Body"].read(), where)
    except ConfigError as exc:
        log.error("the pushed watch list is not valid: %s", exc.problems[0])
        watchlist = _last_valid(s3, bucket, reply.get("VersionId"))
    _pushed.etag, _pushed.watchlist = reply["ETag"], watchlist
    return watchlist


def _last_valid(s3: Any, bucket: str, newest: str | None) -> Watchlist:
    """The newest earlier pushed version that validates, else the bundled list."""
    versions = s3.list_object_versions(Bucket=bucket, Prefix=PUSHED_KEY).get("Versions", [])
    earlier = [v for v in versions if v["Key"] == PUSHED_KEY and v["VersionId"] != newest]
    earlier.sort(key=lambda v: v["LastModified"], reverse=True)
    for version in earlier[:_EARLIER_VERSIONS]:
        body = s3.get_object(Bucket=bucket, Key=PUSHED_KEY, VersionId=version["VersionId"])
        where = f"s3://{bucket}/{PUSHED_KEY}?versionId={version['VersionId']}"
        try:
            watchlist = watchlist_from_compiled(body["Body"].read(), where)
        except ConfigError:
            continue
        log.warning("using the pushed watch list of %s", version["LastModified"])
        return watchlist
    log.warning("no valid pushed watch list; using the one bundled in the layer")
    return bundled()
