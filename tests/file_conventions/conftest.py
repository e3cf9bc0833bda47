"""Fixtures for the File Conventions package: a job output container on the session's real Azurite.

Tasks reach storage the way they do on a node: through the container URL with a SAS.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from pulumi_azbatch.localdev import Emulators

# Test modules import `fc_helpers` from this folder (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fc_helpers import JobContainer  # noqa: E402


@pytest.fixture(scope="session")
def storage_service(azurite: Emulators) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite.endpoints.storage_connection_string)


@pytest.fixture
def make_job_container(azurite: Emulators, storage_service: BlobServiceClient) -> Callable[..., JobContainer]:
    """Create the output container of a (by default fresh) job id, as the provider does."""

    def make(job_id: str | None = None) -> JobContainer:
        job = JobContainer(
            job_id or f"job-{uuid.uuid4().hex[:10]}",
            storage_service,
            azurite.endpoints.storage_account_name,
            azurite.endpoints.storage_account_key,
        )
        job.admin.create_container()
        return job

    return make


@pytest.fixture
def job_container(make_job_container: Callable[..., JobContainer]) -> JobContainer:
    return make_job_container()
