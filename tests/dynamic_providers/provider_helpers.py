"""Helpers for the Job provider's tests: unique ids, polling, a File Conventions container with a SAS."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pulumi_azbatch.localdev import Endpoints


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


def container_sas_url(endpoints: Endpoints, blob_service: Any, name: str, permission: str = "racwdl") -> str:
    """Create container ``name`` on Azurite and return its URL with a SAS valid for a day."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    with contextlib.suppress(Exception):
        blob_service.create_container(name)
    sas = generate_container_sas(
        endpoints.storage_account_name,
        name,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions.from_string(permission),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )
    return f"{endpoints.blob_url}/{name}?{sas}"


def blob_read_url(endpoints: Endpoints, container: str, blob: str) -> str:
    """The URL of one blob on Azurite with a read SAS valid for a day (the library wheel's, say)."""
    from urllib.parse import quote

    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    sas = generate_blob_sas(
        endpoints.storage_account_name,
        container,
        blob,
        account_key=endpoints.storage_account_key,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )
    return f"{endpoints.blob_url}/{container}/{quote(blob)}?{sas}"
