"""Batch credentials, client construction and the one bounded retry policy the Job provider uses.

Clients are built inside each provider method from the resource's inputs, the environment and the
provider's namespaced config, never kept on the provider instance (it is pickled into the state).

Credentials, in order: the ``batch_account_key`` input (a secret), the ``AZURE_BATCH_ACCESS_KEY``
environment variable, else Microsoft Entra ID through ``azure.identity.DefaultAzureCredential``.
The account URL and name come from the ``batch_account_url`` / ``batch_account_name`` inputs, else
the provider config ``azbatch:batchAccountUrl`` / ``azbatch:batchAccountName``, else the environment
(``AZURE_BATCH_ENDPOINT`` / ``AZURE_BATCH_ACCOUNT``).

Retries: azure-core does not retry a POST answered 429 without ``Retry-After`` and the SDK's
``create_tasks`` re-queues 5xx without limit, so clients are built with azure-core retries off and
every call goes through :func:`call_with_retry`: 408/429/500/502/503/504 and connection errors are
retried with capped exponential backoff and jitter (``Retry-After`` honoured, also capped), a bounded
number of times.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

T = TypeVar("T")

KEY_ENV = "AZURE_BATCH_ACCESS_KEY"
URL_ENV = "AZURE_BATCH_ENDPOINT"
NAME_ENV = "AZURE_BATCH_ACCOUNT"
#: Poll interval knobs (seconds) for every wait of the provider; tests make them small.
POLL_ENV = "PULUMI_AZBATCH_POLL_INTERVAL"
POLL_MAX_ENV = "PULUMI_AZBATCH_POLL_MAX_INTERVAL"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
ENTRA_SCOPE = "https://batch.core.windows.net/.default"


@dataclass(frozen=True)
class RetrySettings:
    """A bounded retry policy: at most ``attempts`` tries, backoff ``base * 2**n`` capped at ``cap`` seconds."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 15.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0); jittered, capped."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        backoff = min(self.cap, self.base * (2**attempt))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


DEFAULT_RETRY = RetrySettings()


def poll_interval() -> float:
    """The first poll interval of the provider's waits (``PULUMI_AZBATCH_POLL_INTERVAL``, default 2 s)."""
    return float(os.environ.get(POLL_ENV, "2"))


def max_poll_interval() -> float:
    """The longest poll interval after backoff (``PULUMI_AZBATCH_POLL_MAX_INTERVAL``, default 30 s)."""
    return max(poll_interval(), float(os.environ.get(POLL_MAX_ENV, "30")))


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error, when there is one."""
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return int(status) if isinstance(status, int) else None


def error_code(exc: BaseException) -> str | None:
    """The Batch error code (``JobNotFound``, ``TaskExists``...) of an SDK error."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code) if code else None


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def is_retryable(exc: BaseException) -> bool:
    """Throttling, transient server errors and dropped connections."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(exc, HttpResponseError) and status_of(exc) in RETRYABLE_STATUS


class RetriesExhaustedError(RuntimeError):
    """A retryable failure (throttling, 5xx, dropped connection) that outlasted the bounded retries.

    Keeps ``status_code``, ``error`` and ``response`` of the last failure, so :func:`status_of` and
    :func:`error_code` read it like the SDK error it wraps.
    """

    def __init__(self, last: BaseException, what: str, attempts: int, elapsed: float) -> None:
        self.status_code = status_of(last)
        self.error = getattr(last, "error", None)
        self.response = getattr(last, "response", None)
        request = getattr(self.response, "request", None)
        if request is not None and what == "Batch request":
            from urllib.parse import urlsplit

            what = f"{what} {request.method} {urlsplit(request.url).path}"
        if self.status_code is not None:
            answer = f"answered {self.status_code} {error_code(last) or ''}".rstrip()
        else:
            answer = f"could not be reached ({type(last).__name__})"
        message = str(getattr(last, "message", None) or last).splitlines()[0]
        super().__init__(
            f"{what}: the Batch service {answer} on all {attempts} attempts over {elapsed:.0f}s "
            f"(bounded retries with backoff); it is throttling or unavailable, run the command again later. "
            f"Last error: {message}"
        )


#: How long a request whose endpoint refuses connections or whose host does not resolve is retried:
#: long enough to ride out a restarting emulator or a DNS blip, short of the whole backoff budget (a
#: minute and more) that would only delay the answer when nothing listens there.
UNREACHABLE_SECONDS = 20.0
_UNREACHABLE_MARKERS = (
    ("connection refused", "connection refused"),
    ("name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("temporary failure in name resolution", "DNS failure"),
    ("no address associated", "unknown host"),
    ("getaddrinfo failed", "unknown host"),
    ("failed to resolve", "unknown host"),
)
_HOST_PORT = re.compile(r"host='([^']+)', port=(\d+)")


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a request could not even connect (``connection refused``, ``unknown host``), else None."""
    if not isinstance(exc, ServiceRequestError):
        return None
    text = str(exc).lower()
    return next((reason for marker, reason in _UNREACHABLE_MARKERS if marker in text), None)


class EndpointUnreachableError(ConnectionError):
    """Nothing accepts connections at the endpoint: the message names it and what to check."""

    def __init__(self, last: BaseException, what: str, reason: str, attempts: int, elapsed: float) -> None:
        match = _HOST_PORT.search(str(last))
        host = match.group(1) if match else None
        endpoint = f"{host}:{match.group(2)}" if match else "the endpoint"
        if host in ("localhost", "127.0.0.1", "::1"):
            hint = "is the local Batch emulator running? Start it with `make emulators`"
        else:
            hint = (
                "check the Batch account URL (batch_account_url, azbatch:batchAccountUrl or "
                f"{URL_ENV}), DNS, and the network or firewall between this machine and Azure"
            )
        super().__init__(
            f"{what}: cannot reach {endpoint} ({reason}; {attempts} attempts in {elapsed:.0f}s): {hint}"
        )


def call_with_retry(
    fn: Callable[[], T],
    *,
    what: str = "Batch request",
    settings: RetrySettings = DEFAULT_RETRY,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run ``fn``, retrying retryable failures per ``settings``.

    A non-retryable failure is raised as is; an endpoint that refuses connections or a host that
    does not resolve ends after :data:`UNREACHABLE_SECONDS` with an
    :class:`EndpointUnreachableError` naming it; when the retries are exhausted a
    :class:`RetriesExhaustedError` says what was tried, how often, for how long and the last answer.
    """
    started = time.monotonic()
    for attempt in range(settings.attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            reason = unreachable_reason(exc)
            elapsed = time.monotonic() - started
            last = attempt + 1 >= settings.attempts
            if reason is not None and (elapsed >= UNREACHABLE_SECONDS or last):
                raise EndpointUnreachableError(
                    exc, what, reason, attempt + 1, time.monotonic() - started
                ) from exc
            if attempt + 1 >= settings.attempts:
                raise RetriesExhaustedError(exc, what, settings.attempts, time.monotonic() - started) from exc
            delay = settings.delay(attempt, _retry_after(exc))
            if on_retry is not None:
                on_retry(exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class BatchAccount:
    """Where the Batch account is and how to authenticate; ``key`` None means Microsoft Entra ID."""

    url: str
    name: str
    key: str | None

    def client(self, **kwargs: Any) -> Any:
        """A new ``azure.batch.BatchClient`` with azure-core retries off (see :func:`call_with_retry`)."""
        from azure.batch import BatchClient

        credential: Any
        if self.key:
            from azure.core.credentials import AzureNamedKeyCredential

            credential = AzureNamedKeyCredential(self.name, self.key)
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        kwargs.setdefault("retry_total", 0)
        kwargs.setdefault("connection_timeout", 30)
        kwargs.setdefault("read_timeout", 120)
        return BatchClient(endpoint=self.url.rstrip("/"), credential=credential, **kwargs)

    def job_url(self, job_id: str) -> str:
        """The job's REST URL (what the portal and the SDK call the job's ``url``)."""
        return f"{self.url.rstrip('/')}/jobs/{job_id}"


def resolve_account(props: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> BatchAccount:
    """The account of a Job resource from its inputs, the provider config and the environment.

    Raises ``ValueError`` naming the missing input when the URL or the name cannot be found.
    """
    config = config or {}
    url = props.get("batch_account_url") or config.get("batch_account_url") or os.environ.get(URL_ENV)
    name = props.get("batch_account_name") or config.get("batch_account_name") or os.environ.get(NAME_ENV)
    if not url:
        raise ValueError(
            f"batch_account_url is required (input, config azbatch:batchAccountUrl or {URL_ENV})"
        )
    if not name:
        raise ValueError(
            f"batch_account_name is required (input, config azbatch:batchAccountName or {NAME_ENV})"
        )
    key = props.get("batch_account_key") or os.environ.get(KEY_ENV) or None
    return BatchAccount(url=str(url), name=str(name), key=str(key) if key else None)


class AccountConfigured:
    """A provider whose account comes from its inputs, else the namespaced stack config
    (``azbatch:batchAccountUrl`` / ``azbatch:batchAccountName``), else the environment."""

    _config: dict[str, Any] | None = None

    def configure(self, req: Any) -> None:
        self._config = {
            "batch_account_url": req.config.get("azbatch:batchAccountUrl"),
            "batch_account_name": req.config.get("azbatch:batchAccountName"),
        }

    def _account(self, props: Mapping[str, Any]) -> BatchAccount:
        return resolve_account(props, self._config)
