"""Unreachable endpoints fail within seconds, naming the endpoint and what to do."""

from __future__ import annotations

import time

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from pulumi_azbatch.dynamic_providers.batch_client import EndpointUnreachableError, call_with_retry

from pulumi_azbatch.endpoints import Endpoints, EndpointsUnreachableError
from pulumi_azbatch.localdev import free_port


def test_a_stopped_emulator_fails_the_call_within_seconds() -> None:
    port = free_port()  # nothing listens there
    client = BatchClient(
        f"http://127.0.0.1:{port}",
        AzureNamedKeyCredential("devbatchaccount1", "a2V5"),
        retry_total=0,
        connection_timeout=2,
    )
    started = time.monotonic()
    with pytest.raises(EndpointUnreachableError) as caught:
        call_with_retry(lambda: client.get_pool("p"), what="get pool p")
    assert time.monotonic() - started < 40  # UNREACHABLE_SECONDS, not the minute-long backoff budget
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "connection refused" in message
    assert "make emulators" in message


def test_an_unknown_host_names_what_to_check() -> None:
    client = BatchClient(
        "https://nosuchaccount.invalid",
        AzureNamedKeyCredential("a", "a2V5"),
        retry_total=0,
        connection_timeout=2,
    )
    with pytest.raises(EndpointUnreachableError) as caught:
        call_with_retry(lambda: client.get_pool("p"), what="get pool p")
    message = str(caught.value)
    assert "nosuchaccount.invalid" in message and "unknown host" in message
    assert "Batch account URL" in message and "make emulators" not in message


def test_the_endpoints_file_is_checked_before_anything_is_deployed(endpoints: Endpoints) -> None:
    endpoints.check_reachable()  # the running emulators
    down = Endpoints(**{**endpoints.__dict__, "batch_url": f"http://127.0.0.1:{free_port()}"})
    started = time.monotonic()
    with pytest.raises(EndpointsUnreachableError) as caught:
        down.check_reachable()
    assert time.monotonic() - started < 5
    assert down.batch_url in str(caught.value) and "make emulators" in str(caught.value)
    assert "Azurite" not in str(caught.value)
