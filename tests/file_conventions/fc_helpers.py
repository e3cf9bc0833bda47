"""Helpers of the File Conventions tests: a job output container on Azurite, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)
from batch_file_conventions import job_output_container_name


@dataclass
class JobContainer:
    """A job's output container: its name, an account-key client, and SAS URLs made to order."""

    job_id: str
    service: BlobServiceClient
    account_name: str
    account_key: str

    @property
    def name(self) -> str:
        return job_output_container_name(self.job_id)

    @property
    def admin(self) -> ContainerClient:
        return self.service.get_container_client(self.name)

    def sas_url(self, permission: str = "racwl", expiry: datetime | None = None) -> str:
        sas = generate_container_sas(
            self.account_name,
            self.name,
            account_key=self.account_key,
            permission=ContainerSasPermissions.from_string(permission),
            start=datetime.now(UTC) - timedelta(minutes=15),
            expiry=expiry or datetime.now(UTC) + timedelta(hours=1),
        )
        return f"{self.service.url.rstrip('/')}/{self.name}?{sas}"

    def blob_bytes(self, blob_name: str) -> bytes:
        data: bytes = self.admin.get_blob_client(blob_name).download_blob().readall()
        return data


def eventually(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it is truthy; fail with its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
