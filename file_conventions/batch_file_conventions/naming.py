"""Batch File Conventions naming: the output container of a job and the blob paths inside it.

This module owns the naming rules; ``pulumi_azbatch.conventions`` re-exports it so the provider and
the tasks on the nodes can never disagree. It imports only the standard library.

The Batch File Conventions standard (defined by the .NET library
`Microsoft.Azure.Batch.Conventions.Files` and ported to TypeScript by Batch Explorer) names one
storage container per job and lays out job and task outputs inside it, so that Batch Explorer and the
Azure portal can find persisted outputs without extra configuration:

* container: :func:`job_output_container_name` (``job-<id>`` or ``job-<munged id>-<sha1>``);
* job outputs: ``$<JobOutputKind>/<relative path>`` (:func:`job_output_path`, :func:`job_output_prefix`);
* task outputs: ``<taskId>/$<TaskOutputKind>/<relative path>`` (:func:`task_output_path`,
  :func:`task_output_prefix`).

Relative paths are normalised by :func:`normalize_relative_path`: backslashes become ``/``, rooted
paths are rejected and leading ``../`` (and ``./``) segments are stripped one after another. The .NET
library re-applies its strip to the original string, so ``../../x`` never terminates there; here it
gives ``x``.

Two top-level names are reserved for what is not an output of the job's current run (so the job
kinds ``Library`` and ``PreviousRuns`` are refused): ``$Library/`` (:data:`LIBRARY_PREFIX`, the
``batch-file-conventions`` wheel the job's preparation task installs on the nodes) and
``$PreviousRuns/<run>/`` (:data:`PREVIOUS_RUNS_PREFIX`, :func:`previous_run_prefix`: the outputs of
an earlier job of the same id, moved there when the job was created again). Readers skip both by
default (:func:`is_current_run_blob`).

Public API: ``TaskOutputKind``, ``JobOutputKind``, ``job_output_container_name``,
``task_output_prefix``, ``task_output_path``, ``job_output_prefix``, ``job_output_path``,
``normalize_relative_path``, ``LIBRARY_PREFIX``, ``PREVIOUS_RUNS_PREFIX``, ``previous_run_prefix``,
``is_current_run_blob``, ``parse_output_name``. Nothing here talks to Azure.
"""

from __future__ import annotations

import hashlib
import re
from typing import ClassVar

__all__ = [
    "LIBRARY_PREFIX",
    "PREVIOUS_RUNS_PREFIX",
    "JobOutputKind",
    "TaskOutputKind",
    "job_output_container_name",
    "job_output_path",
    "job_output_prefix",
    "is_current_run_blob",
    "normalize_relative_path",
    "parse_output_name",
    "previous_run_prefix",
    "task_output_path",
    "task_output_prefix",
]

#: The wheel of this library, as the job's preparation task downloads it: ``$Library/<sha>/<wheel>``.
LIBRARY_PREFIX = "$Library/"
#: Outputs of earlier runs of a job id: ``$PreviousRuns/<run>/<blob name as it was>``.
PREVIOUS_RUNS_PREFIX = "$PreviousRuns/"
_RESERVED_JOB_KINDS = frozenset(p[1:-1] for p in (LIBRARY_PREFIX, PREVIOUS_RUNS_PREFIX))
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# 63 (the container-name limit) minus len("job-").
_MAX_FAST_PATH_ID_LENGTH = 59
_FAST_PATH_ID = re.compile(r"^[a-z0-9][-a-z0-9]*$")
_MUNGE_RUNS = re.compile(r"[:_-]+")
_MUNGED_PREFIX_LENGTH = 15
_CONTAINER_PREFIX = "job-"
_DRIVE_ROOT = re.compile(r"^[A-Za-z]:")


def _check_kind_text(text: str) -> str:
    """Reject kind names that would break the ``$<kind>`` path segment."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("an output kind must be a non-empty string")
    if text != text.strip() or any(c in text for c in "/\\$"):
        raise ValueError(f"output kind {text!r} must not contain '/', '\\\\', '$' or surrounding whitespace")
    return text


class TaskOutputKind(str):
    """The kind of a task output: ``TaskOutput``, ``TaskPreview``, ``TaskLog``, ``TaskIntermediate`` or custom.

    Instances are plain strings holding the kind's text (without the ``$``), so they compare equal to
    their text and can be passed wherever a kind name is accepted. The four standard kinds are class
    attributes (``TaskOutputKind.TASK_LOG``); :meth:`custom` builds any other kind, as the .NET
    library's ``TaskOutputKind.Custom`` does. Kinds are case-sensitive.
    """

    TASK_OUTPUT: ClassVar[TaskOutputKind]
    TASK_PREVIEW: ClassVar[TaskOutputKind]
    TASK_LOG: ClassVar[TaskOutputKind]
    TASK_INTERMEDIATE: ClassVar[TaskOutputKind]

    def __new__(cls, text: str) -> TaskOutputKind:
        return super().__new__(cls, _check_kind_text(text))

    @classmethod
    def custom(cls, text: str) -> TaskOutputKind:
        """A custom task output kind; ``TaskOutputKind.custom("Thumbnails")`` stores under ``$Thumbnails``."""
        return cls(text)

    @classmethod
    def standard(cls) -> tuple[TaskOutputKind, ...]:
        """The four kinds defined by the standard, in the .NET library's order."""
        return (cls.TASK_OUTPUT, cls.TASK_PREVIEW, cls.TASK_LOG, cls.TASK_INTERMEDIATE)

    def __repr__(self) -> str:
        return f"TaskOutputKind({str(self)!r})"


TaskOutputKind.TASK_OUTPUT = TaskOutputKind("TaskOutput")
TaskOutputKind.TASK_PREVIEW = TaskOutputKind("TaskPreview")
TaskOutputKind.TASK_LOG = TaskOutputKind("TaskLog")
TaskOutputKind.TASK_INTERMEDIATE = TaskOutputKind("TaskIntermediate")


class JobOutputKind(str):
    """The kind of a job output: ``JobOutput``, ``JobPreview`` or custom (``JobOutputKind.custom("X")``).

    Like :class:`TaskOutputKind`, instances are strings holding the kind's text without the ``$``.
    """

    JOB_OUTPUT: ClassVar[JobOutputKind]
    JOB_PREVIEW: ClassVar[JobOutputKind]

    def __new__(cls, text: str) -> JobOutputKind:
        return super().__new__(cls, _check_kind_text(text))

    @classmethod
    def custom(cls, text: str) -> JobOutputKind:
        """A custom job output kind; ``JobOutputKind.custom("JobLog")`` stores under ``$JobLog``."""
        return cls(text)

    @classmethod
    def standard(cls) -> tuple[JobOutputKind, ...]:
        """The two kinds defined by the standard."""
        return (cls.JOB_OUTPUT, cls.JOB_PREVIEW)

    def __repr__(self) -> str:
        return f"JobOutputKind({str(self)!r})"


JobOutputKind.JOB_OUTPUT = JobOutputKind("JobOutput")
JobOutputKind.JOB_PREVIEW = JobOutputKind("JobPreview")


def job_output_container_name(job_id: str) -> str:
    """The File Conventions output container of a job, e.g. ``job-myterrificjob``.

    The lower-cased id is used as-is behind ``job-`` when it is a valid container name on its own
    (at most 59 characters, ``[a-z0-9-]`` starting alphanumeric, no trailing ``-``, no ``--``).
    Otherwise runs of ``:``, ``_`` and ``-`` collapse to one ``-``, the result is trimmed of ``-``
    and cut to 15 characters, and the SHA-1 of the lower-cased id keeps the name unique:
    ``job-<text>-<40 hex>`` (``job-job-<hash>`` when nothing is left of the text).
    """
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("job_id must be a non-empty string")
    lowered = job_id.lower()
    if (
        len(lowered) <= _MAX_FAST_PATH_ID_LENGTH
        and _FAST_PATH_ID.fullmatch(lowered)
        and not lowered.endswith("-")
        and "--" not in lowered
    ):
        return _CONTAINER_PREFIX + lowered
    digest = hashlib.sha1(lowered.encode("utf-8")).hexdigest()
    text = _MUNGE_RUNS.sub("-", lowered).strip("-")
    # Cutting can leave a trailing hyphen ("my-even-more-te-" would be invalid), so strip again.
    text = text[:_MUNGED_PREFIX_LENGTH].strip("-") or "job"
    return f"{_CONTAINER_PREFIX}{text}-{digest}"


def normalize_relative_path(relative_path: str) -> str:
    """Normalise a path relative to the task working directory into a blob-name suffix.

    Backslashes become ``/``; rooted paths (``/x``, ``\\\\server\\x``, ``C:\\x``) raise
    ``ValueError``; leading ``../`` and ``./`` segments are removed one after another, so
    ``..\\stdout.txt`` gives ``stdout.txt`` and ``../../x`` gives ``x``. Empty results raise
    ``ValueError``. Segments after the first real name are kept verbatim.
    """
    if not isinstance(relative_path, str):
        raise ValueError("relative_path must be a string")
    path = relative_path.replace("\\", "/")
    if path.startswith("/") or _DRIVE_ROOT.match(path):
        raise ValueError(f"relative_path {relative_path!r} is rooted; give a path relative to the task")
    # Strip one leading segment per iteration, always from the current remainder, so the loop ends.
    while True:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/"):
            # "..//x" leaves an empty segment behind; drop it rather than produce a rooted name.
            path = path[1:]
        else:
            break
    if path in ("", ".", ".."):
        raise ValueError(f"relative_path {relative_path!r} names no file")
    return path


def task_output_prefix(task_id: str, kind: TaskOutputKind | str) -> str:
    """The blob prefix of a task's outputs of one kind, without a trailing slash: ``<taskId>/$<kind>``.

    This is what the .NET library's ``GetOutputStoragePath(kind)`` returns, and what a wildcard output
    file uses as its ``path`` (a virtual directory).
    """
    if not isinstance(task_id, str) or not task_id:
        raise ValueError("task_id must be a non-empty string")
    return f"{task_id}/${_check_kind_text(str(kind))}"


def task_output_path(task_id: str, kind: TaskOutputKind | str, relative_path: str) -> str:
    """The blob name of one task output: ``<taskId>/$<kind>/<normalised relative path>``.

    ``task_output_path("analysis-309", TaskOutputKind.TASK_LOG, "analytics.log")`` is
    ``analysis-309/$TaskLog/analytics.log``.
    """
    return f"{task_output_prefix(task_id, kind)}/{normalize_relative_path(relative_path)}"


def job_output_prefix(kind: JobOutputKind | str) -> str:
    """The blob prefix of a job's outputs of one kind, without a trailing slash: ``$<kind>``."""
    text = _check_kind_text(str(kind))
    if text in _RESERVED_JOB_KINDS:
        raise ValueError(
            f"job output kind {text!r} is reserved (${text}/ holds no outputs of the current run)"
        )
    return f"${text}"


def job_output_path(kind: JobOutputKind | str, relative_path: str) -> str:
    """The blob name of one job output: ``$<kind>/<normalised relative path>``, e.g. ``$JobOutput/out/merged.txt``."""
    return f"{job_output_prefix(kind)}/{normalize_relative_path(relative_path)}"


def previous_run_prefix(run: str) -> str:
    """The prefix an earlier run's blobs are moved under, with a trailing slash: ``$PreviousRuns/<run>/``."""
    if not isinstance(run, str) or not _RUN_NAME.match(run):
        raise ValueError(f"run name {run!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return f"{PREVIOUS_RUNS_PREFIX}{run}/"


def is_current_run_blob(blob_name: str) -> bool:
    """False for the library wheel and earlier runs' blobs, True for everything else in the container."""
    return not blob_name.startswith((LIBRARY_PREFIX, PREVIOUS_RUNS_PREFIX))


def parse_output_name(blob_name: str) -> tuple[str | None, str, str] | None:
    """``(task id, kind, path)`` of a blob named by the conventions (task id None for a job output).

    None for anything else: the library wheel, earlier runs' archives, names not laid out by kind
    (``inputs/data.txt``). ``parse_output_name("task-1/$TaskLog/stdout.txt")`` is
    ``("task-1", "TaskLog", "stdout.txt")``.
    """
    if not is_current_run_blob(blob_name):
        return None
    first, _, rest = blob_name.partition("/")
    if first.startswith("$") and len(first) > 1 and rest:
        return None, first[1:], rest
    kind, _, path = rest.partition("/")
    if first and kind.startswith("$") and len(kind) > 1 and path:
        return first, kind[1:], path
    return None
