"""Batch-shaped errors: one exception type carrying the HTTP status, the Batch error code and details.

Every failure the emulator reports goes through `BatchError`, which renders the body the real service
sends (`{"odata.metadata", "code", "message": {"lang", "value"}, "values": [{"key", "value"}]}`). The
`message.value` ends with the `RequestId` and `Time` lines, as on Azure; the SDK's error policy needs
`message` to be an object, otherwise `e.error.code` silently becomes None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# A SAS signature in any URL-like text: `sig=<value>` up to the next `&`, quote, space or end.
_SAS_SIGNATURE = re.compile(r"(?i)(\bsig=)[^&\s\"'<>]*")


def redact_sas(text: str) -> str:
    """`text` with every SAS signature replaced by `sig=REDACTED` (errors, pages and logs show no SAS)."""
    return _SAS_SIGNATURE.sub(r"\1REDACTED", text)


class BatchError(Exception):
    """An error answered to the client as a Batch error body with `status`, `code`, `message`, `values`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        values: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.values = list(values or [])
        self.headers = dict(headers or {})

    def body(self, request_id: str, base_url: str = "") -> dict[str, Any]:
        """The JSON body of this error for the response with `request_id`."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        body: dict[str, Any] = {
            "odata.metadata": f"{base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
            "code": self.code,
            "message": {"lang": "en-US", "value": f"{self.message}\nRequestId:{request_id}\nTime:{now}"},
        }
        if self.values:
            body["values"] = [{"key": k, "value": v} for k, v in self.values]
        return body


# ---- helpers for the common cases; names follow Batch's error codes -----------------------------


def not_found(code: str, what: str) -> BatchError:
    """404 with a Batch "...NotFound" code, for example `not_found("JobNotFound", "job")`."""
    return BatchError(404, code, f"The specified {what} does not exist.")


def conflict(code: str, message: str) -> BatchError:
    """409 for an operation the current state of a resource does not allow."""
    return BatchError(409, code, message)


def invalid_property(name: str, value: Any, reason: str) -> BatchError:
    """400 `InvalidPropertyValue` naming the property, its value and why it was refused."""
    return BatchError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        # The value is echoed back, like Batch does; a SAS in it (a refused resource file) is not.
        [("PropertyName", name), ("PropertyValue", redact_sas(str(value))), ("Reason", reason)],
    )


def missing_property(name: str) -> BatchError:
    """400 `MissingRequiredProperty` for a required property absent from the request body."""
    return BatchError(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        [("PropertyName", name)],
    )


def unsupported_property(name: str, reason: str) -> BatchError:
    """400 `UnsupportedProperty`: a feature this emulator (Linux, local processes) cannot provide."""
    return BatchError(
        400,
        "UnsupportedProperty",
        "A property that is not supported by this version of the service was specified in the request body.",
        [("PropertyName", name), ("Reason", reason)],
    )


def invalid_query(name: str, value: str, reason: str) -> BatchError:
    """400 `InvalidQueryParameterValue` naming the query parameter and why it was refused."""
    return BatchError(
        400,
        "InvalidQueryParameterValue",
        # The service's text (recorded traffic; also quoted in Azure/azure-sdk-for-python#20972).
        "Value for one of the query parameters specified in the request URI is invalid.",
        [("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )


def invalid_body(reason: str) -> BatchError:
    """400 `InvalidRequestBody`: the body is not valid JSON or has the wrong shape."""
    return BatchError(
        400,
        "InvalidRequestBody",
        "The specified Request Body is not syntactically valid.",
        [("Reason", reason)],
    )
