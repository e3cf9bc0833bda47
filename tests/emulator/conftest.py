"""Fixtures for the Batch emulator's black-box tests: SDK clients without retries, a shared pool, a job."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m

# Test modules import `emulator_helpers` from this folder (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator_helpers import pool_options, unique  # noqa: E402


@pytest.fixture(scope="session")
def client(make_batch_client: Callable[..., BatchClient]) -> BatchClient:
    """A client without retries, so errors surface at once."""
    return make_batch_client(retry_total=0)


@pytest.fixture(scope="session")
def shared_pool(client: BatchClient) -> str:
    """A two-node pool (2 slots per node) reused by tests that just need somewhere to run."""
    pool_id = unique("shared")
    client.create_pool(pool_options(pool_id, nodes=2, task_slots_per_node=2))
    return pool_id


@pytest.fixture
def job(client: BatchClient, shared_pool: str) -> Iterator[str]:
    """A fresh job on the shared pool, deleted afterwards."""
    job_id = unique("job")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    yield job_id
    with contextlib.suppress(Exception):  # the test may have deleted it already
        client.begin_delete_job(job_id, polling_interval=0.1).result()


# ---- Azurite alone, for the node runtime's tests (runtime, resource files, output files) ----------


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Azurite without the Batch emulator; yields `localdev.Endpoints` (only the blob fields matter)."""
    from pulumi_azbatch.localdev import start_emulators

    running = start_emulators(tmp_path_factory.mktemp("azurite"), batch=False)
    try:
        yield running.endpoints
    finally:
        running.stop()


class AzuriteStorage:
    """Containers and SAS URLs on the session's Azurite, through the real azure-storage-blob SDK."""

    def __init__(self, endpoints: Any) -> None:
        from azure.storage.blob import BlobServiceClient

        self.endpoints = endpoints
        self.service = BlobServiceClient.from_connection_string(endpoints.storage_connection_string)

    def create_container(self, name: str) -> Any:
        """Create a container (deleting a leftover of the same name first) and return its client."""
        container = self.service.get_container_client(name)
        if container.exists():
            container.delete_container()
        container.create_container()
        return container

    def container_url(self, name: str, permission: str = "racwl", *, expires_in: Any = None) -> str:
        """A container URL with a service SAS of `permission` (`cw` is write-only); `expires_in` a timedelta."""
        from datetime import UTC, datetime, timedelta

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = datetime.now(UTC)
        sas = generate_container_sas(
            self.endpoints.storage_account_name,
            name,
            account_key=self.endpoints.storage_account_key,
            permission=ContainerSasPermissions.from_string(permission),
            expiry=now + (expires_in if expires_in is not None else timedelta(hours=1)),
            start=now - timedelta(minutes=5),
        )
        return f"{self.endpoints.blob_url}/{name}?{sas}"

    def blob_url(self, container: str, blob: str, permission: str = "r") -> str:
        """A blob URL carrying a container SAS of `permission` (how users hand out httpUrl inputs)."""
        base, _, sas = self.container_url(container, permission).partition("?")
        return f"{base}/{blob}?{sas}"

    def blob_names(self, container: str) -> list[str]:
        return sorted(b.name for b in self.service.get_container_client(container).list_blobs())

    def read(self, container: str, blob: str) -> bytes:
        return bytes(self.service.get_container_client(container).download_blob(blob).readall())


@pytest.fixture(scope="session")
def azurite_storage(azurite: Any) -> Iterator[AzuriteStorage]:
    """Helpers to create containers and SAS URLs on the session's Azurite."""
    storage = AzuriteStorage(azurite)
    yield storage
    storage.service.close()
