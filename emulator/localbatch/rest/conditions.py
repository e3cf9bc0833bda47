"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

Owns: the check of these headers against an entity's ETag and lastModified (`precondition`, handed to
the service so it runs under the service lock against the current document) and against a file's
modification time (`check_file`); 412 `ConditionNotMet`, or 304 on reads.
May import: `types`, `wire`, `exceptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ..exceptions import BatchError
from ..wire import Doc, parse_iso
from .types import Request

CONDITIONAL_HEADERS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


def parse_http_date(value: str, header: str) -> datetime:
    """An RFC 1123 date header (400 `InvalidHeaderValue` otherwise)."""
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
            [("HeaderName", header), ("HeaderValue", value)],
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _failed() -> BatchError:
    return BatchError(
        412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met."
    )


def _not_modified() -> BatchError:
    return BatchError(304, "ConditionNotMet", "Not modified.")


def etag_value(header: str) -> str:
    """The ETag of an If-Match / If-None-Match header."""
    # azure-core quotes the ETag it sends (`"0x8DD..."`); Batch hands them out unquoted.
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def precondition(req: Request, write: bool) -> Callable[[Doc], None] | None:
    """A check of If-Match / If-None-Match / If-(Un)Modified-Since against an entity's document."""
    h = req.headers
    if not any(k in h for k in CONDITIONAL_HEADERS):
        return None

    def check(doc: Doc) -> None:
        etag = doc.get("eTag", "")
        modified = parse_iso(doc["lastModified"]).replace(microsecond=0) if doc.get("lastModified") else None
        if "if-match" in h and etag_value(h["if-match"]) not in ("*", etag):
            raise _failed()
        if "if-none-match" in h and etag_value(h["if-none-match"]) in ("*", etag):
            raise _failed() if write else _not_modified()
        since = h.get("if-unmodified-since")
        if since and modified and modified > parse_http_date(since, "If-Unmodified-Since"):
            raise _failed()
        since = h.get("if-modified-since")
        if since and modified and modified <= parse_http_date(since, "If-Modified-Since"):
            raise _failed() if write else _not_modified()

    return check


def check_read(req: Request, doc: Doc) -> None:
    """Apply the conditional headers of a read to `doc` (304 / 412)."""
    check = precondition(req, write=False)
    if check:
        check(doc)


def file_not_modified(req: Request, modified: datetime) -> bool:
    """For a file read: True for a 304 (If-Modified-Since); 412 when If-Unmodified-Since fails."""
    if "if-modified-since" in req.headers and modified <= parse_http_date(
        req.headers["if-modified-since"], "If-Modified-Since"
    ):
        return True
    if "if-unmodified-since" in req.headers and modified > parse_http_date(
        req.headers["if-unmodified-since"], "If-Unmodified-Since"
    ):
        raise _failed()
    return False
