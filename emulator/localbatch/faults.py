"""Fault injection for tests: make the next N matching requests fail the way a busy service does.

Two ways in, as Azurite offers: the unauthenticated admin route `POST /_localbatch/faults` with
`{"count": N, "status": 429|503|500, "retryAfter": 1|null, "method": "POST", "pathRegex": "^/jobs"}`
(or `"status": "drop"` to close the connection without an answer; `"probability": 0.2` makes each
matching request fail with that chance, so a large count gives "20% of all requests"), and, for a
single request, the header `x-localbatch-fault: 429` / `503` / `drop` / `429; retry-after=2`. Faults
are checked before authentication, so a dropped connection is dropped whatever the request carried.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from .exceptions import BatchError

HEADER = "x-localbatch-fault"
DROP = "drop"


@dataclass
class Fault:
    """One injected fault: answer `status` (or drop) to the next `count` matching requests."""

    count: int
    status: int | str
    retry_after: float | None = None
    method: str | None = None
    path_regex: str | None = None
    probability: float = 1.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_regex or re.search(self.path_regex, path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "status": self.status,
            "retryAfter": self.retry_after,
            "method": self.method,
            "pathRegex": self.path_regex,
            "probability": self.probability,
        }


def _status(value: Any) -> int | str:
    if isinstance(value, str) and value.lower() == DROP:
        return DROP
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"status must be an HTTP status code or 'drop', not {value!r}") from None
    if not 400 <= status <= 599:
        raise ValueError(f"status must be 4xx or 5xx, not {status}")
    return status


def parse_spec(spec: Any) -> Fault:
    """Validate the JSON body of `POST /_localbatch/faults` (ValueError with a readable reason)."""
    if not isinstance(spec, dict):
        raise ValueError("the body must be a JSON object")
    count = spec.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    retry_after = spec.get("retryAfter")
    if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
        raise ValueError("retryAfter must be a non-negative number or null")
    regex = spec.get("pathRegex")
    if regex is not None:
        re.compile(regex)
    probability = spec.get("probability", 1.0)
    if not isinstance(probability, int | float) or not 0 < probability <= 1:
        raise ValueError("probability must be a number in (0, 1]")
    status = _status(DROP if spec.get("drop") else spec.get("status", 503))
    return Fault(count, status, retry_after, spec.get("method"), regex, float(probability))


def parse_header(value: str) -> Fault:
    """A one-shot fault from the `x-localbatch-fault` header: `429`, `503; retry-after=1`, `drop`."""
    parts = [p.strip() for p in value.split(";") if p.strip()]
    if not parts:
        raise ValueError("empty fault header")
    retry_after = None
    for part in parts[1:]:
        name, _, arg = part.partition("=")
        if name.strip().lower() == "retry-after":
            retry_after = float(arg)
    return Fault(1, _status(parts[0]), retry_after)


class FaultInjector:
    """The armed faults, consumed in order by matching requests (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, with its count decremented."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    # A probabilistic fault that does not fire leaves the request to the next fault.
                    if fault.probability < 1 and random.random() >= fault.probability:  # noqa: S311
                        continue
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def error_for(fault: Fault) -> BatchError:
    """The Batch error answered for an injected status fault."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    status = int(fault.status)
    if status == 429:
        return BatchError(
            429, "TooManyRequests", "The server is throttling requests (injected fault).", headers=headers
        )
    if status == 503:
        return BatchError(
            503,
            "ServerBusy",
            "The server is currently unable to receive requests (injected fault).",
            headers=headers,
        )
    return BatchError(
        status, "InternalError", "The server encountered an internal error (injected fault).", headers=headers
    )
