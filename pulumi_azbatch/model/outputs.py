"""Output files: the model of one (raw, or by File Conventions kind), its resolution and SDK mapping.

Owns: :class:`OutputFileSpec`, the File Conventions kinds and upload conditions it accepts,
:func:`resolve_output_file` / :func:`convention_path` (a kind becomes container URL + blob path) and
the mapping to the SDK ``OutputFile``.

May import: :mod:`.common`, :mod:`pulumi_azbatch.conventions`, pydantic, ``azure.batch.models``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from azure.batch import models as batch_models
from pydantic import BeforeValidator, Field, model_validator

from pulumi_azbatch.conventions import (
    JobOutputKind,
    TaskOutputKind,
    job_output_container_name,
    job_output_path,
    job_output_prefix,
    normalize_relative_path,
    task_output_path,
    task_output_prefix,
)

from .common import IdentityReferenceSpec, SpecModel, choice, error, is_unknown

__all__ = [
    "OutputFileSpec",
    "OutputKind",
    "UploadCondition",
    "container_of",
    "convention_path",
    "has_wildcard",
    "is_job_kind",
    "literal_name",
    "output_to_sdk",
    "resolve_output_file",
]

UploadCondition = Annotated[
    Literal["tasksuccess", "taskfailure", "taskcompletion"],
    BeforeValidator(choice("upload condition", ["tasksuccess", "taskfailure", "taskcompletion"])),
]

_OUTPUT_KINDS: tuple[str, ...] = tuple(
    str(k) for k in (*TaskOutputKind.standard(), *JobOutputKind.standard())
)
_JOB_KINDS = frozenset(str(k) for k in JobOutputKind.standard())


def is_job_kind(kind: str) -> bool:
    """True for the File Conventions kinds stored per job (``JobOutput``, ``JobPreview``), not per task."""
    return kind in _JOB_KINDS


OutputKind = Annotated[
    Literal["TaskOutput", "TaskPreview", "TaskLog", "TaskIntermediate", "JobOutput", "JobPreview"],
    BeforeValidator(
        choice("File Conventions kind", _OUTPUT_KINDS, advice="use custom_kind for your own kind")
    ),
]


class OutputFileSpec(SpecModel):
    """A file the service uploads after the task ran: raw, or by File Conventions kind.

    *Raw*: ``file_pattern`` + ``container_url`` (a container URL with a write SAS, or without SAS and
    with ``identity_reference``) + optional ``path`` (the blob name for a literal pattern, a virtual
    directory for a wildcard pattern) + ``upload_condition`` + ``upload_headers``.

    *File Conventions*: ``file_pattern`` + ``kind`` (``TaskOutput``, ``TaskLog``, ``TaskPreview``,
    ``TaskIntermediate``, or the job kinds ``JobOutput``/``JobPreview``) or ``custom_kind``, plus an
    optional ``relative_path``. The container is the job's ``output_container_url``; the blob path is
    derived by :func:`resolve_output_file` (literal pattern: ``<taskId>/$<Kind>/<name>``; wildcard
    pattern: the virtual directory ``<taskId>/$<Kind>``).

    ``upload_condition`` defaults to ``taskcompletion`` and accepts any case (``TaskSuccess``).
    """

    file_pattern: str = Field(min_length=1)
    upload_condition: UploadCondition = "taskcompletion"
    container_url: str | None = None
    path: str | None = None
    kind: OutputKind | None = None
    custom_kind: str | None = None
    relative_path: str | None = None
    upload_headers: dict[str, str] = Field(default_factory=dict)
    identity_reference: IdentityReferenceSpec | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> OutputFileSpec:
        by_convention = self.kind is not None or self.custom_kind is not None
        if self.kind is not None and self.custom_kind is not None:
            raise error("set kind or custom_kind, not both")
        if by_convention and (self.container_url is not None or self.path is not None):
            raise error(
                "a File Conventions output (kind/custom_kind) takes its container and path from the "
                "conventions; remove container_url and path, or remove kind to write a raw output",
            )
        if not by_convention and self.container_url is None:
            raise error(
                "an output file needs a destination: container_url (raw) or kind (File Conventions)",
            )
        if not by_convention and self.relative_path is not None:
            raise error("relative_path only applies to File Conventions outputs (with kind); use path")
        if self.custom_kind is not None and not is_unknown(self.custom_kind):
            try:
                TaskOutputKind.custom(self.custom_kind)
            except ValueError as exc:
                raise error(f"custom_kind: {exc}") from None
        return self

    @property
    def by_convention(self) -> bool:
        """True for a File Conventions output (``kind`` or ``custom_kind`` set)."""
        return self.kind is not None or self.custom_kind is not None


_WILDCARD = re.compile(r"[*?\[]")


def has_wildcard(pattern: str) -> bool:
    """True when a file pattern has a wildcard, so ``path`` is a virtual directory, not a blob name."""
    return _WILDCARD.search(pattern) is not None


def container_of(url: str) -> tuple[str, str]:
    """(``scheme://host/path`` without query, container name) of a container URL."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    base = f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"
    # Azurite and other path-style endpoints put the account first: /devstoreaccount1/<container>.
    return base, path.rsplit("/", 1)[-1] if path else ""


def resolve_output_file(
    output: OutputFileSpec,
    *,
    task_id: str,
    output_container_url: str | None,
    job_id: str | None = None,
) -> OutputFileSpec:
    """The raw output file an output stands for: File Conventions kinds become container URL + path.

    A raw output is returned unchanged. For a File Conventions output the container is
    ``output_container_url`` and the path is ``<taskId>/$<Kind>/<name>`` for a literal pattern (the
    name is ``relative_path`` or else the normalised pattern, e.g. ``../stdout.txt`` ->
    ``stdout.txt``) and the virtual directory ``<taskId>/$<Kind>`` (plus ``/<relative_path>``) for a
    wildcard pattern. Job kinds (``JobOutput``, ``JobPreview``) use ``$<Kind>`` without the task id.
    When ``job_id`` is given, the container must be ``job_output_container_name(job_id)``.
    Raises ``ValueError`` when the output cannot be resolved.
    """
    if not output.by_convention:
        return output
    if not output_container_url:
        raise ValueError(
            f"output file {output.file_pattern!r} of task {task_id!r} is by File Conventions kind, "
            "but the job has no output_container_url"
        )
    if job_id is not None and not is_unknown(output_container_url) and not is_unknown(job_id):
        expected = job_output_container_name(job_id)
        _, container = container_of(output_container_url)
        if container != expected:
            raise ValueError(
                f"output_container_url names container {container!r}, but the File Conventions "
                f"container of job {job_id!r} is {expected!r}"
            )
    return output.model_copy(
        update={
            "container_url": output_container_url,
            "path": convention_path(output, task_id),
            "kind": None,
            "custom_kind": None,
            "relative_path": None,
        }
    )


def convention_path(output: OutputFileSpec, task_id: str) -> str:
    """The ``path`` of a File Conventions output of task ``task_id`` (see :func:`resolve_output_file`)."""
    kind = output.kind or output.custom_kind
    if kind is None:
        raise ValueError("not a File Conventions output (no kind or custom_kind)")
    job_level = is_job_kind(kind)
    prefix = job_output_prefix(kind) if job_level else task_output_prefix(task_id, kind)
    if has_wildcard(output.file_pattern):
        if output.relative_path:
            return f"{prefix}/{normalize_relative_path(output.relative_path).rstrip('/')}"
        return prefix
    name = output.relative_path or literal_name(output.file_pattern)
    return job_output_path(kind, name) if job_level else task_output_path(task_id, kind, name)


def literal_name(pattern: str) -> str:
    """The conventions name of a literal pattern: relative patterns keep their directories."""
    normalized = pattern.replace("\\", "/")
    if (
        normalized.startswith("/")
        or re.match(r"^[A-Za-z]:", normalized)
        or "$" in normalized
        or "%" in normalized
    ):
        # Absolute or environment-dependent: only the file name is meaningful in the blob path.
        return normalized.rsplit("/", 1)[-1]
    return normalize_relative_path(normalized)


def output_to_sdk(output: OutputFileSpec) -> batch_models.OutputFile:
    assert output.container_url is not None
    headers = [batch_models.OutputFileUploadHeader(name=k, value=v) for k, v in output.upload_headers.items()]
    return batch_models.OutputFile(
        file_pattern=output.file_pattern,
        destination=batch_models.OutputFileDestination(
            container=batch_models.OutputFileBlobContainerDestination(
                container_url=output.container_url,
                path=output.path,
                identity_reference=output.identity_reference.to_sdk() if output.identity_reference else None,
                upload_headers=headers or None,
            )
        ),
        upload_options=batch_models.OutputFileUploadConfiguration(upload_condition=output.upload_condition),
    )


def outputs_to_sdk(
    outputs: list[OutputFileSpec], *, task_id: str, output_container_url: str | None, job_id: str | None
) -> list[batch_models.OutputFile] | None:
    """A task's output files for the SDK, File Conventions kinds resolved (None when it has none)."""
    resolved = [
        output_to_sdk(
            resolve_output_file(o, task_id=task_id, output_container_url=output_container_url, job_id=job_id)
        )
        for o in outputs
    ]
    return resolved or None
