"""Uploading a node's service logs to a blob container (the uploadbatchservicelogs operation).

Owns: writing a few in-memory log files under one virtual directory of a container given by its URL
(with its SAS), via azure-storage-blob, and turning a storage failure into the Batch error the caller
answers. Knows nothing of nodes or the service.
May import: azure-storage-blob, `exceptions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import BatchError


@dataclass(frozen=True)
class LogFile:
    name: str
    content: bytes


def upload_log_files(container_url: str, directory: str, files: list[LogFile]) -> int:
    """Upload `files` as `<directory>/<name>` blobs; returns how many were uploaded.

    A container that does not exist or refuses the credentials is a 400 `InvalidPropertyValue` naming
    `containerUrl` (the emulator's answer: the service's own is not documented); the SAS is never echoed.
    """
    from azure.core.exceptions import AzureError, HttpResponseError
    from azure.storage.blob import ContainerClient

    try:
        with ContainerClient.from_container_url(
            container_url, retry_total=2, connection_timeout=10
        ) as client:
            for item in files:
                client.upload_blob(f"{directory}/{item.name}", item.content, overwrite=True)
    except (AzureError, ValueError) as exc:
        status = exc.status_code if isinstance(exc, HttpResponseError) else None
        reason = (
            f"The container refused the upload (HTTP {status})."
            if status
            else "The container is unreachable."
        )
        raise BatchError(
            400,
            "InvalidPropertyValue",
            "The value provided for one of the properties in the request body is invalid.",
            [("PropertyName", "containerUrl"), ("Reason", reason)],
        ) from None
    return len(files)
