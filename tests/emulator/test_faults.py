"""Fault injection of the emulator (faults.py) as the SDK sees it: 429, 503, dropped connections."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from emulator_helpers import admin


def test_fault_429_without_retry_after_then_normal(client: BatchClient, endpoints: Any, job: str) -> None:
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 1, "status": 429, "retryAfter": None, "method": "GET", "pathRegex": f"^/jobs/{job}$"},
    )
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job)
    assert err.value.status_code == 429 and "Retry-After" not in err.value.response.headers
    assert client.get_job(job).id == job, "only the next matching request fails"


def test_fault_503_with_retry_after_is_retried_by_the_sdk(
    make_batch_client: Any, endpoints: Any, job: str
) -> None:
    retrying = make_batch_client(retry_backoff_factor=0.01)
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 2, "status": 503, "retryAfter": 0.1, "pathRegex": f"^/jobs/{job}/tasks$"},
    )
    retrying.create_task(job, m.BatchTaskCreateOptions(id="after-503", command_line="/bin/true"))
    assert retrying.get_task(job, "after-503").id == "after-503"
    assert admin(endpoints.batch_url, "GET", "/_localbatch/faults")["faults"] == []


def test_fault_drop_and_header(client: BatchClient, endpoints: Any, job: str) -> None:
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 1, "status": "drop", "pathRegex": f"^/jobs/{job}$"},
    )
    with pytest.raises((ServiceResponseError, ServiceRequestError)):
        client.get_job(job)
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job, headers={"x-localbatch-fault": "429; retry-after=3"})
    assert err.value.status_code == 429 and err.value.response.headers["Retry-After"] == "3"
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job, headers={"x-localbatch-fault": "503"})
    assert err.value.status_code == 503 and err.value.error.code == "ServerBusy"
    assert client.get_job(job).state == "active"
