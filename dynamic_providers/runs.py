"""A job's output container when the job is created: earlier runs kept apart, the library wheel uploaded.

A replaced job keeps its id, hence its File Conventions container (``job-<id>``); so does a job
created again after a destroy that kept the container. When such a job is created (just after the
create call, before its first task is added; the provider deletes the new job again if this fails),
what the earlier
run left there (task outputs, ``$JobLog`` preparation/release logs, anything but the library and
earlier archives) is handled per the job's ``previous_outputs``:

* ``keep_apart`` (default): every such blob is copied server-side to
  ``$PreviousRuns/<UTC time>/<name>`` and only then deleted, so a failure half-way loses nothing
  (what was not moved stays where it was, the error names the blob). Readers (``OutputReader``,
  the ``make up`` report) show the current run and name the earlier ones.
* ``delete``: the blobs are deleted.
* ``mix``: nothing is touched; both runs' outputs share the names (the behaviour of Batch itself).

Only blobs named by the conventions move (``<taskId>/$<kind>/...`` and ``$<kind>/...``, ``$JobLog``
included): anything else in the container (inputs the tasks download, outputs with a plain path)
is not recognisably a run's output and stays. Both modes need list, read, write and delete on the
container: the maintenance SAS that ``BatchJob`` signs, else the job's ``output_container_url``;
when that URL's SAS does not grant them (the usual create + write), a warning says the earlier
outputs stay where they are. With ``file_conventions.install_library`` the
library wheel (:func:`pulumi_azbatch.conventions.library_wheel`) is uploaded to its
``$Library/<digest>/`` blob, and :func:`effective_spec` adds its install to the preparation task.

Owns: :func:`prepare_container`, :func:`keep_runs_apart`, :func:`upload_library`, :func:`effective_spec`
(a job's or a schedule's job specification), :func:`library_input`.
May import: the model, :mod:`pulumi_azbatch.conventions`, ``azure-storage-blob``, :mod:`.base`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from pulumi_azbatch.conventions import library_wheel, parse_output_name, previous_run_prefix
from pulumi_azbatch.model.common import contains_unknown
from pulumi_azbatch.model.job import FileConventionsSpec, JobPropertiesSpec, JobSpec

from .base import say

__all__ = [
    "effective_spec",
    "keep_runs_apart",
    "library_input",
    "prepare_container",
    "upload_library",
    "upload_library_to",
]

#: A job or a schedule's job specification (the one job model).
P = TypeVar("P", bound=JobPropertiesSpec)

#: How long a server-side copy may stay pending before the move gives up (Azure copies within an
#: account usually finish at once; Azurite always does).
COPY_TIMEOUT_SECONDS = 300.0
#: Blobs moved at once.
MOVE_WORKERS = 8


def effective_spec(spec: P, library_url: str | None) -> P:
    """The job (or a schedule's job specification) as sent to Batch: with the library's install in
    its preparation task when asked for."""
    conventions = spec.file_conventions
    if conventions is None or not conventions.install_library or not library_url:
        return spec
    return spec.with_library(library_url)


def _container(url: str) -> Any:
    from azure.storage.blob import ContainerClient

    return ContainerClient.from_container_url(url)


def _missing_permissions(url: str, needed: str) -> str:
    """The letters of ``needed`` a SAS URL's ``sp`` does not grant ("" when it has no ``sp``: unknown)."""
    granted = parse_qs(urlsplit(url).query).get("sp")
    if not granted:
        return ""
    return "".join(c for c in needed if c not in granted[0])


def prepare_container(
    spec: JobSpec, maintenance_url: str | None, library_url: str | None, *, new_run: bool = True
) -> None:
    """Before the first task of ``spec``'s job: upload the library; on a ``new_run``, handle the earlier
    run's outputs (an adopted job, left by an interrupted create, is the same run)."""
    url = maintenance_url or spec.output_container_url
    if new_run and url and spec.previous_outputs != "mix":
        missing = _missing_permissions(url, "rwdl")
        if missing:
            say(
                f"warning: job {spec.effective_id()}: previous_outputs: {spec.previous_outputs} needs list, "
                f"read, write and delete on the output container; its SAS lacks {missing!r}, so outputs "
                "of an earlier run (if any) stay beside the new run's (BatchJob with an OutputStorage signs "
                "such a SAS)"
            )
        else:
            keep_runs_apart(_container(url), spec.effective_id(), spec.previous_outputs)
    conventions = spec.file_conventions
    if conventions is not None and conventions.install_library and library_url:
        upload_url = maintenance_url or spec.output_container_url
        if not upload_url:
            raise RuntimeError(
                "file_conventions.install_library needs the job's output container (output_container_url)"
            )
        upload_library(_container(upload_url), library_url)


def keep_runs_apart(container: Any, job_id: str, mode: str, *, now: datetime | None = None) -> int:
    """Move (``keep_apart``) or delete (``delete``) the earlier run's blobs; returns how many."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    try:
        names = [b.name for b in container.list_blobs() if parse_output_name(b.name) is not None]
    except ResourceNotFoundError:
        return 0  # no container yet: no earlier run
    except HttpResponseError as exc:
        raise RuntimeError(
            f"job {job_id}: previous_outputs: {mode} needs list, read, write and delete on the output "
            f"container, which the URL it has does not grant ({getattr(exc, 'error_code', None) or exc.status_code}); give "
            "BatchJob an OutputStorage (it signs such a SAS) or set previous_outputs: mix"
        ) from None
    if not names:
        return 0
    if mode == "delete":
        for name in names:
            container.delete_blob(name, delete_snapshots="include")
        say(f"job {job_id}: deleted {len(names)} blob(s) of the previous run (previous_outputs: delete)")
        return len(names)
    run = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    prefix = previous_run_prefix(run)
    say(
        f"job {job_id}: moving {len(names)} blob(s) of the previous run under {prefix} (previous_outputs: keep_apart)"
    )

    def move(name: str) -> None:
        source = container.get_blob_client(name)
        target = container.get_blob_client(prefix + name)
        copy = target.start_copy_from_url(source.url)
        status = copy.get("copy_status")
        deadline = time.monotonic() + COPY_TIMEOUT_SECONDS
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(0.5)
            status = target.get_blob_properties().copy.status
        if status != "success":
            raise RuntimeError(
                f"job {job_id}: copying {name!r} to {prefix} ended {status!r}; it stays where it was"
            )
        source.delete_blob(delete_snapshots="include")

    # A few at a time: one copy and one delete per blob, so hundreds of blobs take seconds, not minutes.
    with ThreadPoolExecutor(max_workers=MOVE_WORKERS) as pool:
        for future in [pool.submit(move, name) for name in names]:
            future.result()
    return len(names)


def library_input(conventions: Any) -> dict[str, str] | None:
    """The library the preparation task installs (wheel blob, dependency mode), or None when none is.

    ``conventions`` is a ``file_conventions`` input (a job's or a schedule's job specification's);
    the providers keep the answer as an input, so a new library (another wheel) is a change.
    """
    if not isinstance(conventions, Mapping) or contains_unknown(conventions):
        return None
    try:
        spec = FileConventionsSpec.model_validate(conventions)
    except ValueError:
        return None  # reported by the validation
    if not spec.install_library:
        return None
    return {"wheel": library_wheel().blob_name, "dependencies": spec.library_dependencies}


def upload_library_to(container_url: str, library_url: str) -> None:
    """:func:`upload_library` into the container ``container_url`` (with a SAS that may create and write)."""
    upload_library(_container(container_url), library_url)


def upload_library(container: Any, library_url: str) -> None:
    """Upload the library wheel to the blob ``library_url`` names (a no-op when it is already there)."""
    from azure.core.exceptions import ResourceExistsError

    wheel = library_wheel()
    path = unquote(urlsplit(library_url).path)
    if not path.endswith("/" + wheel.blob_name):
        raise RuntimeError(
            f"the File Conventions library changed while deploying (the URL names {path.rsplit('/', 2)[-2:]}, "
            f"this library is {wheel.blob_name}); run `pulumi up` again"
        )
    try:
        # The name carries the wheel's digest: an existing blob of that name holds these bytes.
        container.upload_blob(wheel.blob_name, wheel.data, overwrite=False)
        say(f"uploaded the File Conventions library {wheel.filename} to {wheel.blob_name}")
    except ResourceExistsError:
        pass
