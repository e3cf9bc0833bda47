"""The portal's read-only view of a job's File Conventions container in Azure Storage (Azurite locally).

Batch File Conventions keep all outputs of a job in one container named after the job id
(`job-<lowercased id>`, or a munged prefix plus the SHA-1 of the id when the id is not a valid
container name on its own), with task outputs at `<taskId>/$<Kind>/<path>` and job outputs at
`$<Kind>/<path>`. The emulator never imports the provider package, so the naming rule is implemented
again here, from the same published rules (docs: file-conventions.md, section 4.1).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# The standard kinds, in the order Batch Explorer lists them; custom kinds follow alphabetically.
TASK_KINDS = ("TaskOutput", "TaskPreview", "TaskLog", "TaskIntermediate")
JOB_KINDS = ("JobOutput", "JobPreview", "JobLog")
MAX_BLOBS = 5000  # a page listing more than this is no longer readable; say so instead
MAX_BLOB_BYTES = 16 * 1024 * 1024

_FAST_PATH = re.compile(r"^[a-z0-9][-a-z0-9]*$")
_MUNGE = re.compile(r"[:_-]+")


def job_output_container_name(job_id: str) -> str:
    """The File Conventions output container of a job: `job-<id>` when the lower-cased id is a valid
    container name (at most 59 characters, `[a-z0-9-]` starting alphanumeric, no trailing `-`, no
    `--`), else `job-<munged id, cut to 15>-<sha1 of the lower-cased id>`."""
    lowered = job_id.lower()
    if (
        len(lowered) <= 59
        and _FAST_PATH.fullmatch(lowered)
        and not lowered.endswith("-")
        and "--" not in lowered
    ):
        return "job-" + lowered
    digest = hashlib.sha1(lowered.encode("utf-8")).hexdigest()
    text = _MUNGE.sub("-", lowered).strip("-")[:15].strip("-") or "job"
    return f"job-{text}-{digest}"


@dataclass(frozen=True)
class StorageConfig:
    """Where the portal reads File Conventions containers: a blob endpoint and its shared key.

    `blob_url` is the account's blob endpoint (`http://127.0.0.1:10000/devstoreaccount1` for Azurite,
    `https://<account>.blob.core.windows.net` in Azure). Without `account_key` access is anonymous.
    """

    blob_url: str
    account_name: str | None = None
    account_key: str | None = None

    def resolved_account_name(self) -> str:
        """The account name, from the configuration or the endpoint (path style or host style)."""
        if self.account_name:
            return self.account_name
        parts = urlsplit(self.blob_url)
        path = parts.path.strip("/")
        return path.split("/")[0] if path else (parts.hostname or "").split(".")[0]


_CONFIG: weakref.WeakKeyDictionary[Any, StorageConfig] = weakref.WeakKeyDictionary()


def configure_storage(service: Any, config: StorageConfig | None) -> None:
    """Tell the portal of `service` where the File Conventions containers live (None to forget)."""
    if config is None:
        _CONFIG.pop(service, None)
    else:
        _CONFIG[service] = config


def storage_for(service: Any) -> StorageConfig | None:
    return _CONFIG.get(service)


def _container_client(config: StorageConfig, container: str) -> Any:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import ContainerClient

    credential = (
        AzureNamedKeyCredential(config.resolved_account_name(), config.account_key)
        if config.account_key
        else None
    )
    # A page must not hang on a stopped Azurite: short timeouts, no retries.
    return ContainerClient(
        config.blob_url.rstrip("/"),
        container,
        credential=credential,
        connection_timeout=3,
        read_timeout=10,
        retry_total=0,
    )


@dataclass
class BlobEntry:
    """One blob: its full name, the path inside its kind, size and last-modified time (ISO)."""

    name: str
    path: str
    size: int
    last_modified: str
    #: An append blob: a log the File Conventions library tracks while it grows (``batch-outputs run``).
    tracked: bool = False


@dataclass
class Outputs:
    """A container's blobs grouped as File Conventions lay them out.

    `job` maps a job output kind (without `$`) to its blobs, `tasks` maps a task id to {kind: blobs},
    `other` holds blobs outside the conventions. `exists` is False when the container is missing.
    """

    container: str
    exists: bool = True
    truncated: bool = False
    job: dict[str, list[BlobEntry]] = field(default_factory=dict)
    tasks: dict[str, dict[str, list[BlobEntry]]] = field(default_factory=dict)
    other: list[BlobEntry] = field(default_factory=list)


def _kind_order(kinds: list[str], standard: tuple[str, ...]) -> list[str]:
    known = [k for k in standard if k in kinds]
    return known + sorted(k for k in kinds if k not in standard)


def group_blob_names(
    container: str, blobs: Sequence[tuple[str, int, str] | tuple[str, int, str, bool]]
) -> Outputs:
    """Group (name, size, last-modified[, tracked]) tuples by task and kind; pure, so it is easy to test."""
    out = Outputs(container)
    for name, length, modified, *flags in blobs:
        tracked = bool(flags and flags[0])
        parts = name.split("/", 2)
        if len(parts) >= 2 and parts[0].startswith("$") and len(parts[0]) > 1:
            kind, rest = parts[0][1:], name.split("/", 1)[1]
            out.job.setdefault(kind, []).append(BlobEntry(name, rest, length, modified, tracked))
        elif len(parts) == 3 and parts[1].startswith("$") and len(parts[1]) > 1 and parts[0]:
            out.tasks.setdefault(parts[0], {}).setdefault(parts[1][1:], []).append(
                BlobEntry(name, parts[2], length, modified, tracked)
            )
        else:
            out.other.append(BlobEntry(name, name, length, modified, tracked))
    out.job = {k: out.job[k] for k in _kind_order(list(out.job), JOB_KINDS)}
    out.tasks = {
        t: {k: kinds[k] for k in _kind_order(list(kinds), TASK_KINDS)} for t, kinds in out.tasks.items()
    }
    return out


def list_outputs(config: StorageConfig, job_id: str) -> Outputs:
    """List the job's File Conventions container and group it; raises the SDK's errors on failure."""
    from azure.core.exceptions import ResourceNotFoundError

    container = job_output_container_name(job_id)
    client = _container_client(config, container)
    blobs: list[tuple[str, int, str, bool]] = []
    truncated = False
    try:
        for blob in client.list_blobs():
            if len(blobs) >= MAX_BLOBS:
                truncated = True
                break
            modified = blob.last_modified.isoformat() if blob.last_modified else ""
            tracked = str(getattr(blob.blob_type, "value", blob.blob_type)) == "AppendBlob"
            blobs.append((blob.name, int(blob.size or 0), modified, tracked))
    except ResourceNotFoundError:
        return Outputs(container, exists=False)
    finally:
        client.close()
    grouped = group_blob_names(container, blobs)
    grouped.truncated = truncated
    return grouped


def read_blob(config: StorageConfig, job_id: str, name: str) -> bytes | None:
    """The content of one blob of the job's container (None when missing); refuses very large blobs."""
    from azure.core.exceptions import ResourceNotFoundError

    client = _container_client(config, job_output_container_name(job_id))
    try:
        blob = client.get_blob_client(name)
        props = blob.get_blob_properties()
        if int(props.size or 0) > MAX_BLOB_BYTES:
            raise ValueError(f"the blob is {props.size} bytes; the portal shows at most {MAX_BLOB_BYTES}")
        return bytes(blob.download_blob().readall())
    except ResourceNotFoundError:
        return None
    finally:
        client.close()
