"""Saving, listing and fetching job and task outputs by kind, under the Batch File Conventions.

This module owns :class:`TaskOutputStorage`, :class:`JobOutputStorage` and :class:`OutputFile`, the
Python counterparts of the .NET library's classes of the same names (``OutputFileReference`` for
``OutputFile``), and the environment contract through which a task finds its storage. It imports
the standard library, ``azure-storage-blob`` and this package's :mod:`naming` and :mod:`tracked`.

Environment contract (what a job hands its tasks; Batch sets the two ids itself):

* ``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL``: the job's output container URL with a SAS. Create +
  write is enough to save; tracked saves can resume without re-uploading when it also grants read;
  listing and fetching need list + read.
* ``AZ_BATCH_JOB_ID``, ``AZ_BATCH_TASK_ID``: set by the Batch service on every task.

Differences from .NET, on purpose: a listing is exact per kind (the prefix ends with ``/``, so
``$TaskLog`` never lists ``$TaskLogArchive``); destination paths are normalised the same way
whichever overload is used; a missing output raises ``FileNotFoundError``.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient, ContentSettings

from .naming import (
    TaskOutputKind,
    job_output_container_name,
    job_output_prefix,
    normalize_relative_path,
    task_output_prefix,
)
from .tracked import DEFAULT_FLUSH_INTERVAL, FlushErrorHandler, TrackedFile

__all__ = [
    "CONTAINER_URL_ENV",
    "JOB_ID_ENV",
    "TASK_ID_ENV",
    "JobOutputStorage",
    "OutputFile",
    "TaskOutputStorage",
]

CONTAINER_URL_ENV = "AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL"
JOB_ID_ENV = "AZ_BATCH_JOB_ID"
TASK_ID_ENV = "AZ_BATCH_TASK_ID"


def _from_env(name: str, environ: dict[str, str] | os._Environ[str] | None) -> str:
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise LookupError(
            f"environment variable {name} is not set; outside a Batch task, pass the value explicitly"
        )
    return value


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


@dataclass(frozen=True)
class OutputFile:
    """One persisted output: its kind, its path relative to the kind, and the blob that holds it.

    ``size``, ``last_modified`` and ``blob_type`` come from the listing (or the properties fetched by
    ``get_output``). The download helpers read the blob each time they are called, so they see a
    tracked log as it grows.
    """

    kind: str
    path: str
    blob_name: str
    container: ContainerClient = field(repr=False, compare=False)
    size: int | None = None
    last_modified: datetime | None = None
    blob_type: str | None = None

    @property
    def blob(self) -> BlobClient:
        """The ``azure-storage-blob`` client of the blob, for anything not wrapped here."""
        return self.container.get_blob_client(self.blob_name)

    @property
    def url(self) -> str:
        """The blob's URL (carrying the container's SAS when the storage was built from one)."""
        return str(self.blob.url)

    def download_bytes(self, offset: int = 0, length: int | None = None) -> bytes:
        """The blob's content (or ``length`` bytes from ``offset``, e.g. the new part of a growing log)."""
        data: bytes = self.blob.download_blob(offset=offset, length=length).readall()
        return data

    def download_text(self, encoding: str = "utf-8", errors: str = "replace") -> str:
        return self.download_bytes().decode(encoding, errors)

    def download_to_stream(self, stream: IO[bytes]) -> int:
        """Write the content to a binary stream; returns the number of bytes written."""
        return int(self.blob.download_blob().readinto(stream))

    def download_to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the content to ``path`` (parent folders are created); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            self.download_to_stream(out)
        return target

    def download_under(self, directory: str | os.PathLike[str], *, full_name: bool = False) -> Path:
        """Download to ``directory/<path>`` (or ``directory/<blob name>`` with ``full_name``).

        Refuses a name such as ``a/../../x`` that would land outside ``directory``.
        """
        root = Path(directory).resolve()
        target = (root / (self.blob_name if full_name else self.path)).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"output {self.blob_name!r} would be written outside {root}")
        return self.download_to_file(target)

    def delete(self) -> None:
        self.blob.delete_blob()


class _OutputStorage:
    """What job and task storage share: a container, a prefix per kind, save/list/get.

    ``root`` (default none) puts every name under a prefix: ``previous_run_prefix(run)`` reads the
    outputs of an earlier run of the job, moved there when the job was created again.
    """

    def __init__(self, container: ContainerClient, *, root: str = "") -> None:
        self.container = container
        self.root = root

    def _prefix(self, kind: str) -> str:
        raise NotImplementedError

    def _blob_name(self, kind: str, destination: str) -> str:
        return f"{self._prefix(kind)}/{normalize_relative_path(destination)}"

    # ---- saving -----------------------------------------------------------------------------------
    def save(
        self,
        kind: str,
        path: str | os.PathLike[str],
        destination: str | None = None,
        *,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> OutputFile:
        """Upload a file as a block blob of ``kind`` (overwriting), and return its reference.

        Without ``destination``, ``path`` must be relative (to ``base_dir``, default the current
        directory) and names the blob too, after leading ``../`` are stripped: ``../stdout.txt``
        (the task's stdout beside its working directory) is stored as ``stdout.txt``. An absolute
        ``path`` needs a ``destination``.
        """
        source, dest = self._source_and_destination(path, destination, base_dir)
        blob_name = self._blob_name(kind, dest)
        with open(source, "rb") as data:
            self.container.upload_blob(
                blob_name,
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=_content_type(dest)),
            )
        return self._reference(kind, blob_name, size=source.stat().st_size, blob_type="BlockBlob")

    def save_text(self, kind: str, text: str, destination: str, *, encoding: str = "utf-8") -> OutputFile:
        """Store ``text`` as a block blob of ``kind`` at ``destination`` (overwriting)."""
        blob_name = self._blob_name(kind, destination)
        data = text.encode(encoding)
        content_type = _content_type(destination)
        if content_type == "application/octet-stream":
            content_type = f"text/plain; charset={encoding}"
        self.container.upload_blob(
            blob_name, data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )
        return self._reference(kind, blob_name, size=len(data), blob_type="BlockBlob")

    @staticmethod
    def _source_and_destination(
        path: str | os.PathLike[str], destination: str | None, base_dir: str | os.PathLike[str] | None
    ) -> tuple[Path, str]:
        text = os.fspath(path)
        if not text:
            raise ValueError("path must not be empty")
        if destination is not None:
            source = Path(text)
            if not source.is_absolute() and base_dir is not None:
                source = Path(base_dir) / source
            return source, destination
        if os.path.isabs(text):
            raise ValueError(
                f"{text!r} is an absolute path; give a relative path or a destination for the blob name"
            )
        return Path(base_dir or Path.cwd()) / text, text

    # ---- reading ----------------------------------------------------------------------------------
    def list_outputs(self, kind: str) -> Iterator[OutputFile]:
        """The outputs of exactly one kind, lazily, in blob-name order (needs list permission)."""
        prefix = self._prefix(kind) + "/"
        for item in self.container.list_blobs(name_starts_with=prefix):
            yield OutputFile(
                kind=str(kind),
                path=item.name[len(prefix) :],
                blob_name=item.name,
                size=item.size,
                last_modified=item.last_modified,
                blob_type=_blob_type_text(item.blob_type),
                container=self.container,
            )

    def get_output(self, kind: str, path: str) -> OutputFile:
        """The output of ``kind`` at ``path`` (as given to ``save``); ``FileNotFoundError`` if none."""
        blob_name = self._blob_name(kind, path)
        try:
            properties = self.container.get_blob_client(blob_name).get_blob_properties()
        except ResourceNotFoundError as error:
            raise FileNotFoundError(
                f"no {kind} output {path!r} in container {self.container.container_name!r} ({blob_name})"
            ) from error
        return self._reference(
            kind,
            blob_name,
            size=properties.size,
            last_modified=properties.last_modified,
            blob_type=_blob_type_text(properties.blob_type),
        )

    def download_outputs(self, kind: str, directory: str | os.PathLike[str]) -> list[Path]:
        """Download every output of ``kind`` under ``directory``, keeping relative paths."""
        return [output.download_under(directory) for output in self.list_outputs(kind)]

    def _reference(self, kind: str, blob_name: str, **details: Any) -> OutputFile:
        path = blob_name[len(self._prefix(kind)) + 1 :]
        return OutputFile(kind=str(kind), path=path, blob_name=blob_name, container=self.container, **details)


def _blob_type_text(value: object) -> str | None:
    # The SDK gives a BlobType enum from listings and a plain string from properties.
    return None if value is None else str(getattr(value, "value", value))


def _container_from_url(container_url: str) -> ContainerClient:
    if not container_url.startswith(("http://", "https://")):
        raise ValueError("container_url must be an http(s) URL of a blob container (with a SAS)")
    return ContainerClient.from_container_url(container_url)


class TaskOutputStorage(_OutputStorage):
    """The outputs of one task: ``<taskId>/$<kind>/<path>`` in its job's output container.

    Build it from the container URL with a SAS (what a task gets), from a blob service client and
    the job id (what a client with the account key has), or from the environment of a Batch task
    (:meth:`from_environment`). As with .NET, the container must already exist.
    """

    def __init__(self, container: ContainerClient, task_id: str, *, root: str = "") -> None:
        super().__init__(container, root=root)
        task_output_prefix(task_id, TaskOutputKind.TASK_OUTPUT)  # validates the id
        self.task_id = task_id

    @classmethod
    def from_container_url(cls, container_url: str, task_id: str) -> TaskOutputStorage:
        return cls(_container_from_url(container_url), task_id)

    @classmethod
    def from_blob_service(cls, service: BlobServiceClient, job_id: str, task_id: str) -> TaskOutputStorage:
        return cls(service.get_container_client(job_output_container_name(job_id)), task_id)

    @classmethod
    def from_environment(
        cls, environ: dict[str, str] | None = None, *, task_id: str | None = None
    ) -> TaskOutputStorage:
        """The storage of the running task: ``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL`` and ``AZ_BATCH_TASK_ID``."""
        return cls.from_container_url(
            _from_env(CONTAINER_URL_ENV, environ), task_id or _from_env(TASK_ID_ENV, environ)
        )

    def _prefix(self, kind: str) -> str:
        return self.root + task_output_prefix(self.task_id, kind)

    def track(
        self,
        kind: str,
        source: str | os.PathLike[str],
        destination: str | None = None,
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_flush_error: FlushErrorHandler | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> TrackedFile:
        """Start mirroring a growing file into an append blob of ``kind``; use the result in ``with``.

        Path rules are those of :meth:`save`. The first flush runs at once, then one every
        ``flush_interval`` seconds (default 60, as in .NET); leaving the ``with`` block flushes
        a last time and raises if that fails. Background failures go to ``on_flush_error`` (default:
        a logged warning). A blob left by an earlier run of the task is resumed when it is a prefix
        of the file and replaced otherwise, so a retried task never duplicates its log.
        """
        path, dest = self._source_and_destination(source, destination, base_dir)
        blob = self.container.get_blob_client(self._blob_name(kind, dest))
        content_type = _content_type(dest)
        if content_type == "application/octet-stream":
            content_type = "text/plain; charset=utf-8"  # tracked files are logs in practice
        return TrackedFile(
            blob,
            path,
            flush_interval=flush_interval,
            on_flush_error=on_flush_error,
            content_type=content_type,
        )


class JobOutputStorage(_OutputStorage):
    """The outputs of a job as a whole: ``$<kind>/<path>`` in its output container (no tracked saves)."""

    @classmethod
    def from_container_url(cls, container_url: str) -> JobOutputStorage:
        return cls(_container_from_url(container_url))

    @classmethod
    def from_blob_service(cls, service: BlobServiceClient, job_id: str) -> JobOutputStorage:
        return cls(service.get_container_client(job_output_container_name(job_id)))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> JobOutputStorage:
        return cls.from_container_url(_from_env(CONTAINER_URL_ENV, environ))

    def _prefix(self, kind: str) -> str:
        return self.root + job_output_prefix(kind)

    def prepare(self) -> bool:
        """Create the container if it does not exist (private access); True if it was created.

        What the .NET ``PrepareOutputStorageAsync`` does; needs an account-level credential.
        """
        try:
            self.container.create_container()
        except ResourceExistsError:
            return False
        return True

    def task(self, task_id: str) -> TaskOutputStorage:
        """The storage of one task of this job (same container, same root)."""
        return TaskOutputStorage(self.container, task_id, root=self.root)
