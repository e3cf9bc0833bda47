"""Request and response types of the HTTP layer and the response shapes every handler shares.

Owns: `Request` (raw path, decoded query, lower-cased headers, body; JSON parsing, duplicate property
names refused as the OData reader refuses them; boolean-flag parsing),
`Response`, the JSON content type and JSON answers (never with a write-only secret: `WRITE_ONLY`),
`http_date` (RFC 1123) and the entity headers (ETag, Last-Modified).
May import: `wire`, `exceptions`. Not the service internals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, BinaryIO

from ..exceptions import invalid_body, invalid_query
from ..wire import Doc, parse_iso
from .literals import convert_literals

# As the service sends it, answers and error bodies alike (recorded traffic: azure-sdk-for-python's
# tests/recordings, azure-sdk-for-js's batch-rest recordings of a 409).
JSON_TYPE = "application/json; odata=minimalmetadata"


def _unique_properties(pairs: list[tuple[str, Any]]) -> Doc:
    """One JSON object, refusing a property named twice: the service's OData reader does not allow
    duplicate property names (a plain JSON parser would silently keep the last one)."""
    doc = dict(pairs)
    if len(doc) != len(pairs):  # rare: find the name for the message
        names = [n for n, _ in pairs]
        name = next(n for i, n in enumerate(names) if n in names[:i])
        raise ValueError(
            f"Multiple properties with the name '{name}' were detected in an entry or a complex "
            "value. In OData, duplicate property names are not allowed."
        )
    return doc


@dataclass
class Request:
    """One parsed request: raw path (still percent-encoded), decoded query, headers, body bytes."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    request_id: str = ""

    def json(self, required: bool = True) -> Any:
        if not self.body.strip():
            if required:
                raise invalid_body("The request body is empty.")
            return None
        try:
            return convert_literals(json.loads(self.body, object_pairs_hook=_unique_properties))
        except ValueError as exc:
            raise invalid_body(f"The request body is not valid JSON: {exc}") from None

    def json_object(self, required: bool = True) -> Doc:
        value = self.json(required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid_body("The request body must be a JSON object.")
        return value

    def flag(self, name: str) -> bool:
        """A `true` / `false` query parameter (default false)."""
        value = self.query.get(name, "false").lower()
        if value not in ("true", "false"):
            raise invalid_query(name, value, "The value must be true or false.")
        return value == "true"


@dataclass
class Response:
    """What to send: status, headers and body (`head_length` is the Content-Length a HEAD reports).

    A file's content is not read into `body`: `stream` is the open file, positioned where the body
    starts, and `head_length` its number of bytes; the server copies it in chunks and closes it, so
    memory stays bounded whatever the file's size.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    head_length: int | None = None
    stream: BinaryIO | None = None  # a file's body, sent by the server in chunks (`head_length` bytes)
    # False for list answers: a list has no one entity whose ETag / Last-Modified it could carry.
    versioned: bool = True


def http_date(dt: datetime) -> str:
    """RFC 1123, as Batch writes Last-Modified and ocp-creation-time."""
    return format_datetime(dt.astimezone(UTC), usegmt=True)


# Write-only properties: accepted in requests, never sent back (user and mount passwords and keys).
WRITE_ONLY = frozenset({"password", "sshPrivateKey", "accountKey", "sasKey"})


def without_secrets(value: Any) -> Any:
    """`value` with every write-only property removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in WRITE_ONLY}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


_SECRET_KEYS = tuple(f'"{name}":' for name in WRITE_ONLY)


def json_response(status: int, body: Doc, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; every JSON body leaves through here, so no write-only secret ever does."""
    text = json.dumps(body)
    # Most answers hold no secret property at all: a substring scan is much cheaper than the walk.
    if any(key in text for key in _SECRET_KEYS):
        text = json.dumps(without_secrets(body))
    return Response(status, {"Content-Type": JSON_TYPE, **(headers or {})}, text.encode())


def entity_headers(doc: Doc) -> dict[str, str]:
    """ETag and Last-Modified of an entity document."""
    headers = {}
    if doc.get("eTag"):
        headers["ETag"] = doc["eTag"]
    if doc.get("lastModified"):
        headers["Last-Modified"] = http_date(parse_iso(doc["lastModified"]))
    return headers
