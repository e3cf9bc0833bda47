"""Request guards at the edge of the server, checked before a request reaches any handler.

Owns: the limits a request must meet before its body is read or parsed (`Content-Length` shape and
size, JSON nesting depth, `$filter` nesting depth) and the browser guards of the unauthenticated
routes (`/_localbatch/` admin, `/portal/`): loopback `Host` only (no DNS rebinding), no cross-origin
requests, no CORS-simple `text/plain` POST. Each check raises a Batch-shaped `BatchError`.
Imports only `exceptions`; the server calls these functions, nothing else does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .exceptions import BatchError, invalid_body, invalid_query

# Batch documents 1 MB as the largest task collection (`RequestBodyTooLarge`, 413) and refuses
# oversized single adds the same way. The front end reads a little more than that so that the
# per-operation check (which names the collection limit) still answers between 1 and 4 MiB; anything
# larger is refused from its Content-Length, before one byte of it is read.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Batch's front end is ASP.NET; its JSON readers refuse documents nested deeper than 64 levels.
MAX_JSON_DEPTH = 64
# `$filter` is parsed recursively; a bounded parenthesis depth keeps every parse far below the
# interpreter's recursion limit. Real filters nest two or three levels.
MAX_FILTER_DEPTH = 32
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def content_length(headers: Mapping[str, str]) -> int:
    """The declared body length (0 when absent); 400 when malformed, 413 when over `MAX_BODY_BYTES`."""
    if "transfer-encoding" in headers:
        # The emulator reads bodies by Content-Length only; a chunked body would be read as the
        # next request. Batch's SDKs always send Content-Length.
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
            [("HeaderName", "Transfer-Encoding"), ("HeaderValue", headers["transfer-encoding"][:64])],
        )
    raw = headers.get("content-length")
    if raw is None:
        return 0
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        if text.isascii() and text.isdigit():
            raise too_large(f"Content-Length {text[:32]}... exceeds {MAX_BODY_BYTES} bytes.")
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
            [("HeaderName", "Content-Length"), ("HeaderValue", raw[:64])],
        )
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise too_large(f"Content-Length {length} exceeds {MAX_BODY_BYTES} bytes.")
    return length


def too_large(reason: str) -> BatchError:
    """413 `RequestBodyTooLarge`, as Batch answers an oversized request."""
    return BatchError(
        413,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
        [("Reason", reason)],
    )


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of a JSON text without parsing it; 400 `InvalidRequestBody` beyond `limit`.

    Strings are blanked first so brackets inside them do not count. Works on malformed text too (the
    parser reports that afterwards); never recurses, so no depth makes it fail.
    """
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise invalid_body(f"The request body is nested deeper than {limit} levels.")
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def filter_depth(text: str, limit: int = MAX_FILTER_DEPTH) -> None:
    """400 `InvalidQueryParameterValue` for a `$filter` whose parentheses nest deeper than `limit`."""
    depth = 0
    for ch in re.sub(r"'(?:[^']|'')*'", "''", text):
        if ch == "(":
            depth += 1
            if depth > limit:
                raise invalid_query(
                    "$filter", text[:256], f"The filter is nested deeper than {limit} levels."
                )
        elif ch == ")":
            depth = max(0, depth - 1)
    # `not not not ...` recurses once per operator, like a parenthesis.
    if len(re.findall(r"\bnot\b", text)) > limit:
        raise invalid_query("$filter", text[:256], f"The filter is nested deeper than {limit} levels.")


def _forbidden(reason: str) -> BatchError:
    return BatchError(
        403,
        "Forbidden",
        "This route only answers requests made on this machine, not by a web page.",
        [("Reason", reason)],
    )


def local_browser_request(
    method: str, headers: Mapping[str, str], port: int, *, read_only: bool = False
) -> None:
    """403 unless an unauthenticated admin/portal request comes from this machine, not a web page.

    - `Host` must name loopback with the bound port: a DNS-rebound name (`evil.example` resolving to
      127.0.0.1) is refused, so a page cannot read the portal through its own origin.
    - `Origin`, when sent, must be that same loopback origin; `Sec-Fetch-Site` must be `same-origin`
      or `none` (typed in the address bar): a page on another site cannot drive or read these routes.
    - On routes that change state (not `read_only`), a POST must carry `Content-Type: application/json`, which a page can only
      send after a CORS preflight this server never grants (a `text/plain` form POST is refused).
    """
    host = headers.get("host", "")
    allowed = {f"{name}:{port}" for name in LOOPBACK_HOSTS}
    if host.lower() not in allowed:
        raise _forbidden(f"Host header {host[:64]!r} is not a loopback address with port {port}.")
    origin = headers.get("origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in allowed}:
        raise _forbidden(f"Cross-origin request from {origin[:64]!r}.")
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        raise _forbidden(f"Cross-site request (Sec-Fetch-Site: {site[:32]}).")
    # DELETE and PUT are never CORS-simple (a page must preflight them, which is never granted).
    if (
        not read_only
        and method == "POST"
        and headers.get("content-type", "").split(";")[0].strip().lower() != "application/json"
    ):
        raise _forbidden("A state-changing request must be sent as application/json.")
