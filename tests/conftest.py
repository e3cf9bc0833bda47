"""Shared fixtures: the real emulators (Azurite and the local Batch emulator) on free loopback ports."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from pulumi_azbatch.localdev import Emulators, Endpoints, start_emulators

# Shared test helpers (arm_mocks) are imported by name from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    """Azurite and the Batch emulator, started once per test session (never skipped in CI)."""
    state = tmp_path_factory.mktemp("emulators")
    running = start_emulators(state)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    """Azurite alone (blob service), for tests that need storage but not the Batch emulator."""
    running = start_emulators(tmp_path_factory.mktemp("azurite"), batch=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def endpoints(emulators: Emulators) -> Endpoints:
    return emulators.endpoints


@pytest.fixture(scope="session")
def make_batch_client(endpoints: Endpoints) -> Callable[..., Any]:
    """Build an `azure.batch.BatchClient` for the emulator (keyword arguments go to the client)."""
    from azure.batch import BatchClient

    def make(**kwargs: Any) -> BatchClient:
        credential = AzureNamedKeyCredential(endpoints.batch_account_name, endpoints.batch_account_key)
        return BatchClient(endpoint=endpoints.batch_url, credential=credential, **kwargs)

    return make


@pytest.fixture(scope="session")
def batch_client(make_batch_client: Callable[..., Any]) -> Any:
    return make_batch_client()


@pytest.fixture(scope="session")
def blob_service(endpoints: Endpoints) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(endpoints.storage_connection_string)


@pytest.fixture
def test_output_dir(request: pytest.FixtureRequest) -> Path:
    """A per-test folder under `test-output/` for screenshots and logs a person may want to look at."""
    root = Path(__file__).resolve().parent.parent / "test-output"
    path = root / request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def emulator_timing(endpoints: Endpoints) -> Iterator[Callable[..., Any]]:
    """Switch the session's Batch emulator to another timing (`emulator_timing(mode="realistic",
    scale=0.01, allocate=...)`, see localbatch.timing); it is fast again when the test ends."""
    import json
    import urllib.request

    def set_timing(**body: Any) -> Any:
        request = urllib.request.Request(
            f"{endpoints.batch_url}/_localbatch/timing", data=json.dumps(body).encode(), method="PUT"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    try:
        yield set_timing
    finally:
        set_timing(mode="fast")


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Batch emulator of the test module's own whose clock the test moves (``ClockedBatch``)."""
    from clocked_batch import ClockedBatch

    batch = ClockedBatch(tmp_path_factory.mktemp("clocked-batch"))
    try:
        yield batch
    finally:
        batch.stop()
