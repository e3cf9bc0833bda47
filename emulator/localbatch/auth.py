"""SharedKey verification over the request as received, the way Microsoft's clients sign it.

The string to sign is: method, eleven standard header values, the sorted `ocp-*` headers, then
`/<account><raw path>` and the query parameters sorted by their original (case-preserved) names with
URL-decoded first values. The path must be the raw one as sent (`%2F` stays encoded), which is why the
server hands the undecoded request target to `verify`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs

from .exceptions import BatchError

SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
# Real Batch refuses requests whose date is more than 15 minutes away from the server clock.
MAX_CLOCK_SKEW = timedelta(minutes=15)


def string_to_sign(method: str, target: str, headers: Iterable[tuple[str, str]], account_name: str) -> str:
    """The canonical string for `method` on the raw request `target` (path and query) with `headers`."""
    # The header values as received, empty when absent: azure-batch sends `Content-Length: 0` on a
    # body-less DELETE/POST and signs "0"; @azure/batch sends no Content-Length and signs "".
    items = [(k, v) for k, v in headers if v]
    lowered = {k.lower(): v for k, v in items}
    s = method + "\n" + "\n".join(lowered.get(h, "") for h in SIGNED_HEADERS) + "\n"
    for name, value in sorted((k.lower(), v) for k, v in items if "ocp-" in k.lower()):
        s += f"{name}:{value}\n"
    path, _, query = target.partition("?")
    s += f"/{account_name}{path}"
    parsed = parse_qs(query)
    for name in sorted(parsed):
        value = parsed[name][0]
        if value:
            s += f"\n{name}:{value}"
    return s


def sign(key: str, text: str) -> str:
    """HMAC-SHA256 of `text` with the base64 account `key`, base64-encoded."""
    digest = hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _failed(detail: str) -> BatchError:
    return BatchError(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is "
        "formed correctly including the signature.",
        [("AuthenticationErrorDetail", detail)],
    )


def verify(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    account_name: str,
    account_key: str,
    now: datetime | None = None,
) -> None:
    """Raise a 403 `AuthenticationFailed` (400 `InvalidAuthenticationInfo` if malformed) unless signed."""
    header_list = list(headers)
    lowered = {k.lower(): v for k, v in header_list}
    auth = lowered.get("authorization", "")
    if not auth:
        raise _failed("The Authorization header was not specified in the request.")
    scheme, _, credential = auth.partition(" ")
    name, sep, signature = credential.strip().partition(":")
    if scheme != "SharedKey" or not sep or not name or not signature:
        raise BatchError(
            400,
            "InvalidAuthenticationInfo",
            "Authentication information is not given in the correct format. Check the value of "
            "Authorization header.",
            [("HeaderName", "Authorization"), ("HeaderValue", auth)],
        )
    if name != account_name:
        raise _failed(f"The account '{name}' specified in the Authorization header is not this account.")
    date_value = lowered.get("ocp-date") or lowered.get("date")
    if not date_value:
        raise _failed("Request date header not specified (ocp-date or Date).")
    try:
        sent = parsedate_to_datetime(date_value)
    except (TypeError, ValueError):
        raise _failed(f"The date header value '{date_value}' is not a valid RFC 1123 date.") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - sent) > MAX_CLOCK_SKEW:
        raise _failed(f"Request date header too old or too far in the future: '{date_value}'.")
    expected_text = string_to_sign(method, target, header_list, account_name)
    try:
        expected = sign(account_key, expected_text)
    except (binascii.Error, ValueError):
        raise _failed("The account key configured on the server is not valid base64.") from None
    # Bytes, not str: `compare_digest` raises TypeError for a non-ASCII str, and header values are
    # whatever the client sent (decoded as Latin-1 by http.server).
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "surrogateescape")):
        raise _failed(
            f"The MAC signature found in the HTTP request '{signature}' is not the same as any computed "
            f"signature. Server used following string to sign: '{expected_text}'."
        )
