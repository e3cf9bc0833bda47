"""Azurite, as the project installs and starts it, enforces container SAS permissions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from pulumi_azbatch.localdev import Emulators

pytestmark = pytest.mark.azurite


def test_write_only_sas_uploads_but_cannot_list_or_read(azurite: Emulators) -> None:
    ep = azurite.endpoints
    service = BlobServiceClient.from_connection_string(ep.storage_connection_string)
    name = f"sas-{uuid.uuid4().hex[:10]}"
    service.create_container(name)
    sas = generate_container_sas(
        ep.storage_account_name,
        name,
        account_key=ep.storage_account_key,
        permission=ContainerSasPermissions(create=True, write=True),
        start=datetime.now(UTC) - timedelta(minutes=15),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    container = ContainerClient.from_container_url(f"{ep.blob_url}/{name}?{sas}")

    container.upload_blob("task-1/$TaskOutput/output.txt", b"hello")
    # The blob is really there (read with the account key).
    stored = service.get_blob_client(name, "task-1/$TaskOutput/output.txt").download_blob().readall()
    assert stored == b"hello"

    with pytest.raises(HttpResponseError) as listing:
        list(container.list_blobs())
    assert listing.value.status_code == 403
    with pytest.raises(HttpResponseError) as reading:
        container.get_blob_client("task-1/$TaskOutput/output.txt").download_blob().readall()
    assert reading.value.status_code == 403
