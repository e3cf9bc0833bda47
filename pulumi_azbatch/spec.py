"""The one model of an Azure Batch job: validation, the provider's check, and the mapping to the SDK.

Everything that describes a job lives here, once: the job's own properties, its job preparation and
job release tasks, its tasks (explicit or expanded from task factories), their output files (raw or by
File Conventions kind) and the provider knobs that belong with the job (``on_destroy``, ``wait_for``).
Stack config (``config.py``), the components and the Job dynamic provider all use these models, so
defaults and rules are defined in one place.

Conventions
-----------
* **Property names are snake_case everywhere**: in Python, in stack YAML and in the dynamic
  provider's inputs. There are no camelCase aliases; the camelCase REST wire shape only exists in the
  SDK models returned by the ``to_batch_*`` methods (``.as_dict()`` gives the wire JSON). A camelCase
  key in YAML is rejected with a did-you-mean (``commandLine`` -> ``command_line``).
* Lists of name/value pairs in the REST API (environment settings, metadata, upload headers) are
  mappings here (``{"NAME": "value"}``), mapped back to lists in insertion order.
* Enumerations accept any case and are stored in the service's lower-case spelling
  (``TaskCompletion`` -> ``taskcompletion``). Durations accept ``timedelta``, ISO-8601 strings
  (``PT15M``) or seconds.
* ``None`` means "not set, the service default applies"; where the reference gives a default for the
  job preparation and job release tasks, the model carries it explicitly.
* Models are frozen (immutable); use ``model_copy(update=...)`` to derive a changed spec.

Public API
----------
Models: ``JobSpec``, ``TaskSpec``, ``TaskTemplateSpec``, ``JobPreparationTaskSpec``,
``JobReleaseTaskSpec``, ``OutputFileSpec``, ``ResourceFileSpec``, ``JobConstraintsSpec``,
``TaskConstraintsSpec``, ``UserIdentitySpec``, ``AutoUserSpec``, ``ContainerSettingsSpec``,
``ExitConditionsSpec``, ``ExitOptionsSpec``, ``DependsOnSpec``, ``ParametricSweepFactory``,
``TaskPerItemFactory``, ``ParameterSetSpec``.

Functions: ``validate_job(raw) -> list[ValidationFailure]`` (the provider's ``check``; tolerates
Pulumi's unknown sentinel), ``parse_job(raw) -> JobSpec`` (raises ``JobSpecError``),
``resolve_output_file(...)``, ``canonical_task(task)`` / ``task_fingerprint(task)`` (stable form for
diffing), ``make_job_id(name, suffix)``, ``is_unknown(value)``.

Mapping: ``JobSpec.to_batch_job_create()`` (always ``onAllTasksComplete: noaction``: a job with no
tasks counts as complete, so the provider adds the tasks first and then PATCHes the requested value
with ``JobSpec.to_batch_job_update(["on_all_tasks_complete"])``), ``JobSpec.to_batch_task_creates()``,
``TaskSpec.to_batch_task_create()``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from functools import lru_cache
from itertools import product
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from azure.batch import models as batch_models
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

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

__all__ = [
    "JOB_FIELDS_UPDATABLE_IN_PLACE",
    "UNKNOWN",
    "AutoUserSpec",
    "ContainerRegistrySpec",
    "ContainerSettingsSpec",
    "BindMountSpec",
    "DependsOnSpec",
    "ExitCodeMappingSpec",
    "ExitCodeRangeSpec",
    "ExitConditionsSpec",
    "ExitOptionsSpec",
    "IdentityReferenceSpec",
    "JobConstraintsSpec",
    "JobPreparationTaskSpec",
    "JobReleaseTaskSpec",
    "JobSpec",
    "JobSpecError",
    "OutputFileSpec",
    "ParameterSetSpec",
    "ParametricSweepFactory",
    "ResourceFileSpec",
    "TaskConstraintsSpec",
    "TaskFactory",
    "TaskIdRangeSpec",
    "TaskPerItemFactory",
    "TaskSpec",
    "TaskTemplateSpec",
    "UserIdentitySpec",
    "ValidationFailure",
    "canonical_task",
    "convention_path",
    "has_wildcard",
    "is_unknown",
    "make_job_id",
    "parse_job",
    "format_duration",
    "resolve_output_file",
    "split_job_inputs",
    "task_fingerprint",
    "validate_job",
]

#: The string Pulumi substitutes for values not yet known during a preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

#: Batch ids (jobs, tasks, pools, preparation/release tasks): 1-64 letters, digits, '-' and '_'.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ID_LENGTH = 64

#: The service kills a job release task after at most 15 minutes and rejects longer values.
MAX_RELEASE_WALL_CLOCK_TIME = timedelta(minutes=15)

DEFAULT_JOB_PREPARATION_TASK_ID = "jobpreparation"
DEFAULT_JOB_RELEASE_TASK_ID = "jobrelease"

#: Job properties the service can change on an existing job (PATCH); everything else replaces it.
#: ``pool_id`` is updatable only while the job is disabled; the provider decides what to do then.
JOB_FIELDS_UPDATABLE_IN_PLACE: frozenset[str] = frozenset(
    {
        "priority",
        "max_parallel_tasks",
        "allow_task_preemption",
        "constraints",
        "on_all_tasks_complete",
        "metadata",
        "pool_id",
    }
)

# Key into pydantic's validation context: validate_job() runs the cross-property rules itself so that
# it can skip the ones whose inputs are unknown.
_DEFER_RULES = "pulumi_azbatch.defer_rules"

_DEFAULT_RETENTION_TIME = timedelta(days=7)


def is_unknown(value: Any) -> bool:
    """True when ``value`` is (or is a string containing) Pulumi's unknown-value sentinel."""
    return isinstance(value, str) and UNKNOWN in value


def split_job_inputs(props: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a provider's inputs into the ``JobSpec`` properties and everything else.

    The Job provider's inputs hold the spec's properties beside its own (credentials, ``__provider``,
    outputs); this returns ``(spec_properties, other_properties)`` so the first can go to
    :func:`validate_job` / :func:`parse_job`, which reject unknown properties.
    """
    fields = JobSpec.model_fields
    spec = {k: v for k, v in props.items() if k in fields}
    rest = {k: v for k, v in props.items() if k not in fields}
    return spec, rest


def make_job_id(name: str, suffix: str) -> str:
    """A valid Batch job id from a Pulumi resource name plus a random suffix (Pulumi's autonaming).

    Characters Batch does not allow become ``-``; the name is shortened so that ``<name>-<suffix>``
    fits in 64 characters. ``make_job_id("render job", "a1b2c3d")`` is ``render-job-a1b2c3d``.
    """
    clean_suffix = re.sub(r"[^A-Za-z0-9_-]", "-", suffix)
    clean_name = re.sub(r"[^A-Za-z0-9_-]", "-", name).strip("-") or "job"
    room = MAX_ID_LENGTH - len(clean_suffix) - 1
    if room < 1:
        raise ValueError(f"suffix {suffix!r} is too long for a Batch id")
    return f"{clean_name[:room]}-{clean_suffix}"


# --------------------------------------------------------------------------------------------------
# Enumerations: case-insensitive input, did-you-mean on typos, the service's lower-case spelling.
# --------------------------------------------------------------------------------------------------


def _error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown verbatim (no context, so braces are not templates)."""
    return PydanticCustomError("azbatch", message)


def _did_you_mean(value: str, choices: Sequence[str]) -> str | None:
    """The closest choice to ``value`` (compared in lower case), or None when nothing is close."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def _choice(what: str, choices: Sequence[str]) -> Callable[[Any], Any]:
    """A before-validator accepting ``choices`` in any case (also ignoring ``_``/``-``/spaces)."""
    by_key = {re.sub(r"[\s_-]", "", c).lower(): c for c in choices}

    def normalize(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        key = re.sub(r"[\s_-]", "", value).lower()
        if key in by_key:
            return by_key[key]
        suggestion = _did_you_mean(value, choices)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise _error(f"unknown {what} {value!r}{hint} (allowed: {', '.join(choices)})")

    return normalize


UploadCondition = Annotated[
    Literal["tasksuccess", "taskfailure", "taskcompletion"],
    BeforeValidator(_choice("upload condition", ["tasksuccess", "taskfailure", "taskcompletion"])),
]
AllTasksCompleteMode = Annotated[
    Literal["noaction", "terminatejob"],
    BeforeValidator(_choice("on_all_tasks_complete value", ["noaction", "terminatejob"])),
]
TaskFailureMode = Annotated[
    Literal["noaction", "performexitoptionsjobaction"],
    BeforeValidator(_choice("on_task_failure value", ["noaction", "performexitoptionsjobaction"])),
]
AutoUserScope = Annotated[Literal["task", "pool"], BeforeValidator(_choice("auto user scope", ["task", "pool"]))]
ElevationLevel = Annotated[
    Literal["nonadmin", "admin"], BeforeValidator(_choice("elevation level", ["nonadmin", "admin"]))
]
JobAction = Annotated[
    Literal["none", "disable", "terminate"],
    BeforeValidator(_choice("job action", ["none", "disable", "terminate"])),
]
DependencyAction = Annotated[
    Literal["satisfy", "block"], BeforeValidator(_choice("dependency action", ["satisfy", "block"]))
]
ContainerWorkingDirectory = Annotated[
    Literal["taskWorkingDirectory", "containerImageDefault"],
    BeforeValidator(_choice("container working directory", ["taskWorkingDirectory", "containerImageDefault"])),
]
ContainerHostDataPath = Annotated[
    Literal["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"],
    BeforeValidator(
        _choice("container host path", ["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"])
    ),
]
OnDestroy = Annotated[
    Literal["terminate_then_delete", "terminate", "delete"],
    BeforeValidator(_choice("on_destroy value", ["terminate_then_delete", "terminate", "delete"])),
]
WaitFor = Annotated[
    Literal["none", "preparation", "tasks"],
    BeforeValidator(_choice("wait_for value", ["none", "preparation", "tasks"])),
]
NodeOs = Annotated[Literal["linux", "windows"], BeforeValidator(_choice("node_os value", ["linux", "windows"]))]

_OUTPUT_KINDS: tuple[str, ...] = tuple(str(k) for k in (*TaskOutputKind.standard(), *JobOutputKind.standard()))
_JOB_KINDS = frozenset(str(k) for k in JobOutputKind.standard())


def _normalize_kind(value: Any) -> Any:
    """Accept the standard File Conventions kinds in any case; typos get a did-you-mean."""
    if not isinstance(value, str):
        return value
    for kind in _OUTPUT_KINDS:
        if value.lower() == kind.lower():
            return kind
    suggestion = _did_you_mean(value, _OUTPUT_KINDS)
    hint = f"did you mean {suggestion!r}? " if suggestion else ""
    raise _error(
        f"unknown File Conventions kind {value!r}; {hint}(standard kinds: {', '.join(_OUTPUT_KINDS)}; "
        "use custom_kind for your own kind)"
    )


OutputKind = Annotated[
    Literal["TaskOutput", "TaskPreview", "TaskLog", "TaskIntermediate", "JobOutput", "JobPreview"],
    BeforeValidator(_normalize_kind),
]


def format_duration(value: timedelta) -> str:
    """A duration as people write it: ``1 h 30 min``, ``15 min``, ``30 days``, ``-5 s``."""
    total = value.total_seconds()
    if total <= 0:
        return f"{total:g} s"
    days, rest = divmod(int(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else "", f"{seconds} s" if seconds else ""]
    return " ".join(p for p in parts if p) or f"{total:g} s"


def _positive_duration(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise _error(f"must be a positive duration, got {format_duration(value)}")
    return value


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


class _Spec(BaseModel):
    """Base of every spec model: snake_case only, unknown properties rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)


class IdentityReferenceSpec(_Spec):
    """A user-assigned managed identity of the pool (``identityReference``), by ARM resource id."""

    resource_id: str = Field(min_length=1, description="ARM resource id of a user-assigned identity of the pool.")

    def to_sdk(self) -> batch_models.BatchNodeIdentityReference:
        """The SDK ``BatchNodeIdentityReference``."""
        return batch_models.BatchNodeIdentityReference(resource_id=self.resource_id)


class ResourceFileSpec(_Spec):
    """A file downloaded to the node before the task runs (SDK ``ResourceFile``).

    Exactly one source: ``http_url`` (then ``file_path`` is required and is the full target path),
    ``storage_container_url`` or ``auto_storage_container_name`` (then ``file_path`` is an optional
    target directory and ``blob_prefix`` may filter blobs). ``file_path`` is relative to the task's
    working directory and may not contain ``..``. ``file_mode`` is an octal string (Linux only,
    service default ``0770``).
    """

    http_url: str | None = None
    storage_container_url: str | None = None
    auto_storage_container_name: str | None = None
    blob_prefix: str | None = None
    file_path: str | None = None
    file_mode: str | None = None
    identity_reference: IdentityReferenceSpec | None = None

    def to_sdk(self) -> batch_models.ResourceFile:
        """The SDK ``ResourceFile``."""
        return batch_models.ResourceFile(
            http_url=self.http_url,
            storage_container_url=self.storage_container_url,
            auto_storage_container_name=self.auto_storage_container_name,
            blob_prefix=self.blob_prefix,
            file_path=self.file_path,
            file_mode=self.file_mode,
            identity_reference=self.identity_reference.to_sdk() if self.identity_reference else None,
        )


class AutoUserSpec(_Spec):
    """The auto user a task runs as: ``scope`` (``pool``/``task``) and ``elevation_level`` (``nonadmin``/``admin``)."""

    scope: AutoUserScope | None = Field(default=None, description="Service default: pool.")
    elevation_level: ElevationLevel | None = Field(default=None, description="Service default: nonadmin.")


class UserIdentitySpec(_Spec):
    """Who a task runs as: exactly one of ``username`` (a pool user account) or ``auto_user``.

    Left unset on a task, the service runs it as the pool-scoped non-admin auto user.
    """

    username: str | None = None
    auto_user: AutoUserSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> UserIdentitySpec:
        if (self.username is None) == (self.auto_user is None):
            raise _error(
                "set exactly one of user_identity.username or user_identity.auto_user"
            )
        return self

    def to_sdk(self) -> batch_models.UserIdentity:
        """The SDK ``UserIdentity``."""
        auto = None
        if self.auto_user is not None:
            auto = batch_models.AutoUserSpecification(
                scope=self.auto_user.scope, elevation_level=self.auto_user.elevation_level
            )
        return batch_models.UserIdentity(username=self.username, auto_user=auto)


class TaskConstraintsSpec(_Spec):
    """Execution constraints of a task (SDK ``BatchTaskConstraints``); None keeps the service default.

    Service defaults: ``max_wall_clock_time`` unlimited, ``retention_time`` 7 days,
    ``max_task_retry_count`` the job's ``constraints.max_task_retry_count`` (-1 = unlimited retries).
    """

    max_wall_clock_time: timedelta | None = None
    retention_time: timedelta | None = None
    max_task_retry_count: int | None = Field(default=None, ge=-1)

    _positive = field_validator("max_wall_clock_time", "retention_time")(_positive_duration)

    def to_sdk(self) -> batch_models.BatchTaskConstraints:
        """The SDK ``BatchTaskConstraints``."""
        return batch_models.BatchTaskConstraints(
            max_wall_clock_time=self.max_wall_clock_time,
            retention_time=self.retention_time,
            max_task_retry_count=self.max_task_retry_count,
        )


class JobConstraintsSpec(_Spec):
    """Job constraints (SDK ``BatchJobConstraints``).

    ``max_wall_clock_time`` is measured from job creation (None = unlimited); on expiry the service
    terminates the job. ``max_task_retry_count`` (default 0, -1 = unlimited) applies to tasks that do
    not set their own.
    """

    max_wall_clock_time: timedelta | None = None
    max_task_retry_count: int = Field(default=0, ge=-1)

    _positive = field_validator("max_wall_clock_time")(_positive_duration)

    def to_sdk(self) -> batch_models.BatchJobConstraints:
        """The SDK ``BatchJobConstraints``."""
        return batch_models.BatchJobConstraints(
            max_wall_clock_time=self.max_wall_clock_time, max_task_retry_count=self.max_task_retry_count
        )


class ContainerRegistrySpec(_Spec):
    """A private container registry (SDK ``ContainerRegistryReference``); the password is a secret."""

    registry_server: str | None = None
    username: str | None = None
    password: str | None = None
    identity_reference: IdentityReferenceSpec | None = None


class BindMountSpec(_Spec):
    """A node path mounted into a task container (SDK ``ContainerHostBatchBindMountEntry``)."""

    source: ContainerHostDataPath
    is_read_only: bool | None = None


class ContainerSettingsSpec(_Spec):
    """Run the task in a container (SDK ``BatchTaskContainerSettings``); the pool must support containers."""

    image_name: str = Field(min_length=1)
    container_run_options: str | None = None
    registry: ContainerRegistrySpec | None = None
    working_directory: ContainerWorkingDirectory | None = Field(
        default=None, description="Service default: taskWorkingDirectory."
    )
    container_host_batch_bind_mounts: list[BindMountSpec] = Field(default_factory=list)

    def to_sdk(self) -> batch_models.BatchTaskContainerSettings:
        """The SDK ``BatchTaskContainerSettings``."""
        registry = None
        if self.registry is not None:
            r = self.registry
            registry = batch_models.ContainerRegistryReference(
                registry_server=r.registry_server,
                username=r.username,
                password=r.password,
                identity_reference=r.identity_reference.to_sdk() if r.identity_reference else None,
            )
        mounts = [
            batch_models.ContainerHostBatchBindMountEntry(source=m.source, is_read_only=m.is_read_only)
            for m in self.container_host_batch_bind_mounts
        ]
        return batch_models.BatchTaskContainerSettings(
            image_name=self.image_name,
            container_run_options=self.container_run_options,
            registry=registry,
            working_directory=self.working_directory,
            container_host_batch_bind_mounts=mounts or None,
        )


class ExitOptionsSpec(_Spec):
    """What happens to the job and to dependent tasks on an exit condition (SDK ``ExitOptions``).

    ``job_action`` (``none``/``disable``/``terminate``) needs the job's ``on_task_failure`` to be
    ``performexitoptionsjobaction``; ``dependency_action`` is ``satisfy`` or ``block``.
    """

    job_action: JobAction | None = None
    dependency_action: DependencyAction | None = None

    def to_sdk(self) -> batch_models.ExitOptions:
        """The SDK ``ExitOptions``."""
        return batch_models.ExitOptions(job_action=self.job_action, dependency_action=self.dependency_action)


class ExitCodeMappingSpec(_Spec):
    """Exit options for one exit code."""

    code: int
    exit_options: ExitOptionsSpec


class ExitCodeRangeSpec(_Spec):
    """Exit options for an inclusive range of exit codes."""

    start: int
    end: int
    exit_options: ExitOptionsSpec

    @model_validator(mode="after")
    def _ordered(self) -> ExitCodeRangeSpec:
        if self.start > self.end:
            raise _error(f"exit code range start {self.start} is greater than end {self.end}")
        return self


class ExitConditionsSpec(_Spec):
    """How the service reacts to a task's completion (SDK ``ExitConditions``)."""

    exit_codes: list[ExitCodeMappingSpec] = Field(default_factory=list)
    exit_code_ranges: list[ExitCodeRangeSpec] = Field(default_factory=list)
    pre_processing_error: ExitOptionsSpec | None = None
    file_upload_error: ExitOptionsSpec | None = None
    default: ExitOptionsSpec | None = None

    def to_sdk(self) -> batch_models.ExitConditions:
        """The SDK ``ExitConditions``."""
        return batch_models.ExitConditions(
            exit_codes=[
                batch_models.ExitCodeMapping(code=m.code, exit_options=m.exit_options.to_sdk()) for m in self.exit_codes
            ]
            or None,
            exit_code_ranges=[
                batch_models.ExitCodeRangeMapping(start=r.start, end=r.end, exit_options=r.exit_options.to_sdk())
                for r in self.exit_code_ranges
            ]
            or None,
            pre_processing_error=self.pre_processing_error.to_sdk() if self.pre_processing_error else None,
            file_upload_error=self.file_upload_error.to_sdk() if self.file_upload_error else None,
            default=self.default.to_sdk() if self.default else None,
        )

    def iter_options(self) -> Iterator[tuple[tuple[str | int, ...], ExitOptionsSpec]]:
        """Every ``ExitOptionsSpec`` with its path relative to ``exit_conditions``."""
        for i, m in enumerate(self.exit_codes):
            yield ("exit_codes", i, "exit_options"), m.exit_options
        for i, r in enumerate(self.exit_code_ranges):
            yield ("exit_code_ranges", i, "exit_options"), r.exit_options
        for name in ("pre_processing_error", "file_upload_error", "default"):
            value = getattr(self, name)
            if value is not None:
                yield (name,), value


class TaskIdRangeSpec(_Spec):
    """An inclusive range of integer task ids a task depends on."""

    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> TaskIdRangeSpec:
        if self.start > self.end:
            raise _error(f"task id range start {self.start} is greater than end {self.end}")
        return self


class DependsOnSpec(_Spec):
    """The tasks that must complete successfully first (SDK ``BatchTaskDependencies``).

    Needs ``uses_task_dependencies: true`` on the job.
    """

    task_ids: list[str] = Field(default_factory=list)
    task_id_ranges: list[TaskIdRangeSpec] = Field(default_factory=list)

    def to_sdk(self) -> batch_models.BatchTaskDependencies:
        """The SDK ``BatchTaskDependencies``."""
        return batch_models.BatchTaskDependencies(
            task_ids=list(self.task_ids) or None,
            task_id_ranges=[batch_models.BatchTaskIdRange(start=r.start, end=r.end) for r in self.task_id_ranges]
            or None,
        )


class OutputFileSpec(_Spec):
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
            raise _error("set kind or custom_kind, not both")
        if by_convention and (self.container_url is not None or self.path is not None):
            raise _error(
                "a File Conventions output (kind/custom_kind) takes its container and path from the "
                "conventions; remove container_url and path, or remove kind to write a raw output",
            )
        if not by_convention and self.container_url is None:
            raise _error(
                "an output file needs a destination: container_url (raw) or kind (File Conventions)",
            )
        if not by_convention and self.relative_path is not None:
            raise _error(
                "relative_path only applies to File Conventions outputs (with kind); use path"
            )
        if self.custom_kind is not None and not is_unknown(self.custom_kind):
            try:
                TaskOutputKind.custom(self.custom_kind)
            except ValueError as exc:
                raise _error(f"custom_kind: {exc}") from None
        return self

    @property
    def by_convention(self) -> bool:
        """True for a File Conventions output (``kind`` or ``custom_kind`` set)."""
        return self.kind is not None or self.custom_kind is not None


class _TaskBase(_Spec):
    """Properties shared by tasks and the job preparation and release tasks."""

    command_line: str = Field(
        min_length=1, description="Run without a shell; use /bin/sh -c '...' for shell features."
    )
    resource_files: list[ResourceFileSpec] = Field(default_factory=list)
    environment_settings: dict[str, str] = Field(default_factory=dict)
    user_identity: UserIdentitySpec | None = Field(
        default=None, description="Service default: the pool-scoped non-admin auto user."
    )
    container_settings: ContainerSettingsSpec | None = None

    def _sdk_common(self) -> dict[str, Any]:
        return {
            "command_line": self.command_line,
            "resource_files": [r.to_sdk() for r in self.resource_files] or None,
            "environment_settings": _env_to_sdk(self.environment_settings),
            "user_identity": self.user_identity.to_sdk() if self.user_identity else None,
            "container_settings": self.container_settings.to_sdk() if self.container_settings else None,
        }


def _env_to_sdk(settings: Mapping[str, str]) -> list[batch_models.EnvironmentSetting] | None:
    return [batch_models.EnvironmentSetting(name=k, value=v) for k, v in settings.items()] or None


class TaskSpec(_TaskBase):
    """One task of the job (SDK ``BatchTaskCreateOptions``).

    ``id`` follows the Batch id rules and is unique in the job, case-insensitively, including the
    job preparation and release task ids. ``required_slots`` defaults to 1 on the service.
    ``depends_on`` needs ``uses_task_dependencies: true`` on the job.
    """

    id: str = Field(min_length=1)
    display_name: str | None = None
    constraints: TaskConstraintsSpec | None = None
    exit_conditions: ExitConditionsSpec | None = None
    required_slots: int | None = Field(default=None, ge=1)
    depends_on: DependsOnSpec | None = None
    output_files: list[OutputFileSpec] = Field(default_factory=list)

    def to_batch_task_create(
        self, *, output_container_url: str | None = None, job_id: str | None = None
    ) -> batch_models.BatchTaskCreateOptions:
        """The SDK ``BatchTaskCreateOptions`` for this task, File Conventions outputs resolved.

        ``output_container_url`` is the job's output container (with SAS) and is required when any
        output file is by kind; ``job_id``, when given, checks that the container is the job's File
        Conventions container (see :func:`resolve_output_file`).
        """
        outputs = [
            _output_to_sdk(resolve_output_file(o, task_id=self.id, output_container_url=output_container_url,
                                               job_id=job_id))
            for o in self.output_files
        ]
        return batch_models.BatchTaskCreateOptions(
            id=self.id,
            display_name=self.display_name,
            constraints=self.constraints.to_sdk() if self.constraints else None,
            exit_conditions=self.exit_conditions.to_sdk() if self.exit_conditions else None,
            required_slots=self.required_slots,
            depends_on=self.depends_on.to_sdk() if self.depends_on else None,
            output_files=outputs or None,
            **self._sdk_common(),
        )


class TaskTemplateSpec(TaskSpec):
    """The task a factory repeats: a :class:`TaskSpec` whose string values may hold placeholders.

    ``{0}``, ``{1}``... are replaced by the factory's values for each task; ``{0:4}`` zero-pads to 4
    characters; ``{{`` and ``}}`` are literal braces. Other braces (``${HOME}``) are left alone.
    ``id`` is optional: when set it is a template for the task ids (``frame-{0:4}``), otherwise ids
    are ``<id_prefix>-<index>``. Placeholders work in every string value (command line, resource
    files, environment values, output file patterns and paths), not in numbers.
    """

    id: str | None = None  # type: ignore[assignment]


class JobPreparationTaskSpec(_TaskBase):
    """The job preparation task (SDK ``BatchJobPreparationTask``), with the service's defaults explicit.

    It runs once on each node before the first task of the job there. Defaults: ``id``
    ``jobpreparation``; ``wait_for_success`` true (tasks wait until it exits 0; on failure the node is
    not used for this job); ``rerun_on_node_reboot_after_success`` true; ``constraints``
    ``max_wall_clock_time`` unlimited, ``retention_time`` 7 days, ``max_task_retry_count`` 0;
    ``user_identity`` unset = pool-scoped non-admin auto user. It cannot have output files.
    """

    id: str = DEFAULT_JOB_PREPARATION_TASK_ID
    constraints: TaskConstraintsSpec = Field(
        default_factory=lambda: TaskConstraintsSpec(retention_time=_DEFAULT_RETENTION_TIME, max_task_retry_count=0)
    )
    wait_for_success: bool = True
    rerun_on_node_reboot_after_success: bool = True

    def to_sdk(self) -> batch_models.BatchJobPreparationTask:
        """The SDK ``BatchJobPreparationTask``."""
        return batch_models.BatchJobPreparationTask(
            id=self.id,
            constraints=self.constraints.to_sdk(),
            wait_for_success=self.wait_for_success,
            rerun_on_node_reboot_after_success=self.rerun_on_node_reboot_after_success,
            **self._sdk_common(),
        )


class JobReleaseTaskSpec(_TaskBase):
    """The job release task (SDK ``BatchJobReleaseTask``), with the service's defaults explicit.

    It runs when the job ends (terminate, delete of an active job, max wall clock) on every node that
    ran the job preparation task, which it requires. Defaults: ``id`` ``jobrelease``;
    ``max_wall_clock_time`` 15 minutes (the maximum); ``retention_time`` 7 days. It has no retry
    count, no ``wait_for_success`` and no output files.
    """

    id: str = DEFAULT_JOB_RELEASE_TASK_ID
    max_wall_clock_time: timedelta = MAX_RELEASE_WALL_CLOCK_TIME
    retention_time: timedelta = _DEFAULT_RETENTION_TIME

    _positive = field_validator("max_wall_clock_time", "retention_time")(_positive_duration)

    def to_sdk(self) -> batch_models.BatchJobReleaseTask:
        """The SDK ``BatchJobReleaseTask``."""
        return batch_models.BatchJobReleaseTask(
            id=self.id,
            max_wall_clock_time=self.max_wall_clock_time,
            retention_time=self.retention_time,
            **self._sdk_common(),
        )


# --------------------------------------------------------------------------------------------------
# Task factories
# --------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)(?::(\d+))?\}")


def _substitute(text: str, values: Sequence[str]) -> str:
    """Replace ``{N}`` / ``{N:W}`` with ``values[N]`` (zero-padded to W); ``{{``/``}}`` are braces."""
    if "{" not in text and "}" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        index = int(match.group(1))
        if index >= len(values):
            raise ValueError(f"placeholder {token} but the factory gives only {len(values)} value(s)")
        value = values[index]
        width = match.group(2)
        return value.zfill(int(width)) if width else value

    return _PLACEHOLDER.sub(replace, text)


def _substitute_tree(node: Any, values: Sequence[str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, values)
    if isinstance(node, dict):
        return {k: _substitute_tree(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_tree(v, values) for v in node]
    return node


class _FactoryBase(_Spec):
    repeat_task: TaskTemplateSpec
    id_prefix: str = Field(default="task", min_length=1, description="Task ids are <id_prefix>-<index>.")
    id_width: int = Field(default=5, ge=1, le=20, description="Zero-padding of the index in generated ids.")

    # Expansion is cached per (immutable) factory instance; it is deterministic.
    _expanded: list[TaskSpec] | None = PrivateAttr(default=None)

    def value_sets(self) -> Iterable[Sequence[str]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def task_count(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def task_id(self, index: int, values: Sequence[str]) -> str:
        """The id of the ``index``-th generated task: the ``repeat_task.id`` template or ``<prefix>-<index>``."""
        if self.repeat_task.id is not None:
            return _substitute(self.repeat_task.id, values)
        return f"{self.id_prefix}-{index:0{self.id_width}d}"

    def expand(self) -> list[TaskSpec]:
        """The tasks this factory stands for, in a stable order with stable ids.

        Raises ``ValueError`` naming the generated task when a substituted task is invalid.
        """
        if self._expanded is not None:
            return self._expanded
        template = self.repeat_task.model_dump(exclude_defaults=True, exclude={"id"})
        tasks: list[TaskSpec] = []
        validate = TaskSpec.model_validate
        for index, values in enumerate(self.value_sets()):
            try:
                data = _substitute_tree(template, values)
                data["id"] = self.task_id(index, values)
                tasks.append(validate(data))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{format_path(tuple(e['loc']))}: {e['msg']}" if e["loc"] else str(e["msg"]) for e in exc.errors()
                )
                raise ValueError(
                    f"generated task {index} (values {', '.join(map(repr, values))}) is invalid: {problems}"
                ) from None
            except ValueError as exc:
                raise ValueError(
                    f"generated task {index} (values {', '.join(map(repr, values))}) is invalid: {exc}"
                ) from None
        self._expanded = tasks
        return tasks


class ParameterSetSpec(_Spec):
    """An inclusive integer range ``start..end`` by ``step`` (negative steps count down), as in the az batch CLI."""

    start: int
    end: int
    step: int = 1

    @model_validator(mode="after")
    def _direction(self) -> ParameterSetSpec:
        if self.step == 0:
            raise _error("step must not be 0")
        if (self.end - self.start) * self.step < 0:
            sign = "negative" if self.end < self.start else "positive"
            raise _error(f"step {self.step} never reaches end {self.end} from start {self.start}; use a {sign} step")
        return self

    def values(self) -> range:
        """The values of this parameter, end included."""
        return range(self.start, self.end + (1 if self.step > 0 else -1), self.step)


class ParametricSweepFactory(_FactoryBase):
    """One task per combination of integer parameters (the az batch CLI's ``parametricSweep``).

    ``parameter_sets`` are combined as nested loops, the last one varying fastest; ``{0}`` is the
    first parameter's value, ``{1}`` the second's. Generated ids ``<id_prefix>-<index>`` follow that
    order, so they are stable while the sweep is unchanged and when a single range grows at its end;
    set ``repeat_task.id`` to a template such as ``frame-{0}-{1}`` for ids that never shift.
    """

    type: Literal["parametric_sweep"]
    parameter_sets: list[ParameterSetSpec] = Field(min_length=1)

    def value_sets(self) -> Iterable[Sequence[str]]:
        """Each task's placeholder values as strings, in expansion order."""
        ranges = [[str(v) for v in p.values()] for p in self.parameter_sets]
        return product(*ranges)

    def task_count(self) -> int:
        """How many tasks the sweep expands to, without expanding it."""
        count = 1
        for p in self.parameter_sets:
            count *= len(p.values())
        return count


def _item_to_values(value: Any) -> Any:
    """A plain item is a one-value list, so ``{0}`` is the item itself; numbers become strings."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return value


class TaskPerItemFactory(_FactoryBase):
    """One task per item of a list; an item is a string (``{0}``) or a list of strings (``{0}``, ``{1}``...)."""

    type: Literal["task_per_item"]
    items: list[Annotated[list[str], BeforeValidator(_item_to_values)]] = Field(min_length=1)

    def value_sets(self) -> Iterable[Sequence[str]]:
        """Each task's placeholder values, in list order."""
        return self.items

    def task_count(self) -> int:
        """How many tasks the factory expands to."""
        return len(self.items)


TaskFactory = Annotated[ParametricSweepFactory | TaskPerItemFactory, Field(discriminator="type")]


# --------------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------------


class JobSpec(_Spec):
    """A whole Batch job: its properties, preparation and release tasks, tasks, factories and provider knobs.

    Service properties (SDK ``BatchJobCreateOptions``): ``id`` (optional; the provider autonames it
    from the resource name, see :func:`make_job_id`), ``pool_id``, ``display_name``, ``priority``
    (-1000..1000, default 0), ``max_parallel_tasks`` (-1 = unlimited, the default),
    ``allow_task_preemption``, ``constraints``, ``common_environment_settings``, ``metadata``,
    ``on_all_tasks_complete`` (``noaction`` default | ``terminatejob``), ``on_task_failure``
    (``noaction`` default | ``performexitoptionsjobaction``), ``uses_task_dependencies``,
    ``job_preparation_task``, ``job_release_task``.

    Tasks: ``tasks`` (explicit) and ``task_factories`` (expanded on demand, see :meth:`expand_tasks`).

    Outputs: ``output_container_url`` is the job's File Conventions container with a write SAS (or
    without SAS plus ``identity_reference`` on the outputs); outputs declared by kind go there.

    Provider knobs: ``on_destroy`` (``terminate_then_delete`` default | ``terminate`` | ``delete``),
    ``wait_for`` (``none`` default | ``preparation`` | ``tasks``) with ``wait_timeout`` (default 1 h)
    and ``fail_on_task_failure``; ``node_os`` (``linux`` default) tells the validation which path
    separator the pool's nodes use.

    Constructing a ``JobSpec`` runs every rule and raises ``pydantic.ValidationError`` listing all
    failures; :func:`validate_job` returns them as a list instead, and tolerates unknown values.
    """

    id: str | None = None
    pool_id: str = Field(min_length=1)
    display_name: str | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    max_parallel_tasks: int = Field(default=-1, ge=-1)
    allow_task_preemption: bool = False
    uses_task_dependencies: bool = False
    constraints: JobConstraintsSpec = Field(default_factory=JobConstraintsSpec)
    common_environment_settings: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    on_all_tasks_complete: AllTasksCompleteMode = "noaction"
    on_task_failure: TaskFailureMode = "noaction"
    job_preparation_task: JobPreparationTaskSpec | None = None
    job_release_task: JobReleaseTaskSpec | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    task_factories: list[TaskFactory] = Field(default_factory=list)
    output_container_url: str | None = Field(
        default=None, description="The job's File Conventions output container URL with a write SAS (secret)."
    )
    on_destroy: OnDestroy = "terminate_then_delete"
    wait_for: WaitFor = "none"
    wait_timeout: timedelta = timedelta(hours=1)
    fail_on_task_failure: bool = Field(
        default=True, description="With wait_for: tasks, fail the deployment when a task failed."
    )
    node_os: NodeOs = "linux"

    _positive = field_validator("wait_timeout")(_positive_duration)

    @field_validator("max_parallel_tasks")
    @classmethod
    def _parallel(cls, value: int) -> int:
        if value == 0:
            raise _error("must be -1 (unlimited) or at least 1, got 0")
        return value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> JobSpec:
        if info.context and info.context.get(_DEFER_RULES):
            return self
        failures = _run_rules(self, _Unknowns(set()), datetime.now(UTC))
        if failures:
            problems = "\n".join(f"  {f}" for f in failures)
            raise _error(f"{len(failures)} problem(s) in the job:\n{problems}")
        return self

    # -- tasks --------------------------------------------------------------------------------------

    def expand_tasks(self) -> list[TaskSpec]:
        """All tasks of the job: the explicit ``tasks`` then each factory's expansion, in order."""
        tasks = list(self.tasks)
        for factory in self.task_factories:
            tasks.extend(factory.expand())
        return tasks

    def task_count(self) -> int:
        """How many tasks the job has, without expanding the factories."""
        return len(self.tasks) + sum(f.task_count() for f in self.task_factories)

    def reserved_task_ids(self) -> dict[str, str]:
        """Lower-cased ids taken by the job preparation and release tasks, mapped to their property."""
        reserved: dict[str, str] = {}
        if self.job_preparation_task is not None:
            reserved[self.job_preparation_task.id.lower()] = "job_preparation_task.id"
        if self.job_release_task is not None:
            reserved.setdefault(self.job_release_task.id.lower(), "job_release_task.id")
        return reserved

    # -- mapping to the SDK -------------------------------------------------------------------------

    def effective_id(self, job_id: str | None = None) -> str:
        """``job_id`` if given, else ``id``; raises ``ValueError`` when neither is set."""
        result = job_id or self.id
        if not result:
            raise ValueError("the job has no id: set JobSpec.id or pass job_id (the provider's autoname)")
        return result

    def to_batch_job_create(self, *, job_id: str | None = None) -> batch_models.BatchJobCreateOptions:
        """The SDK ``BatchJobCreateOptions`` for this job, without tasks.

        ``onAllTasksComplete`` is always ``noaction`` here: a job with no tasks counts as complete,
        so ``terminatejob`` at creation could end the job before its tasks are added. The provider
        adds the tasks (:meth:`to_batch_task_creates`) and then applies the requested value with
        :meth:`to_batch_job_update`. ``job_id`` overrides ``id`` (autonaming).
        """
        return batch_models.BatchJobCreateOptions(
            id=self.effective_id(job_id),
            display_name=self.display_name,
            pool_info=batch_models.BatchPoolInfo(pool_id=self.pool_id),
            priority=self.priority,
            max_parallel_tasks=self.max_parallel_tasks,
            allow_task_preemption=self.allow_task_preemption,
            uses_task_dependencies=self.uses_task_dependencies,
            constraints=self.constraints.to_sdk(),
            common_environment_settings=_env_to_sdk(self.common_environment_settings),
            metadata=self._metadata_sdk(),
            all_tasks_complete_mode="noaction",
            task_failure_mode=self.on_task_failure,
            job_preparation_task=self.job_preparation_task.to_sdk() if self.job_preparation_task else None,
            job_release_task=self.job_release_task.to_sdk() if self.job_release_task else None,
        )

    def _metadata_sdk(self) -> list[batch_models.BatchMetadataItem] | None:
        return [batch_models.BatchMetadataItem(name=k, value=v) for k, v in self.metadata.items()] or None

    def to_batch_job_update(self, fields: Iterable[str] | None = None) -> batch_models.BatchJobUpdateOptions:
        """The SDK ``BatchJobUpdateOptions`` (a PATCH) carrying only ``fields`` (default: all updatable).

        ``fields`` are names from :data:`JOB_FIELDS_UPDATABLE_IN_PLACE`. ``metadata`` is sent as the
        complete list (an empty dict clears it); ``pool_id`` only succeeds while the job is disabled.
        """
        wanted = set(JOB_FIELDS_UPDATABLE_IN_PLACE if fields is None else fields)
        unknown = wanted - JOB_FIELDS_UPDATABLE_IN_PLACE
        if unknown:
            raise ValueError(f"not updatable in place: {', '.join(sorted(unknown))}")
        options = batch_models.BatchJobUpdateOptions()
        if "priority" in wanted:
            options.priority = self.priority
        if "max_parallel_tasks" in wanted:
            options.max_parallel_tasks = self.max_parallel_tasks
        if "allow_task_preemption" in wanted:
            options.allow_task_preemption = self.allow_task_preemption
        if "constraints" in wanted:
            options.constraints = self.constraints.to_sdk()
        if "on_all_tasks_complete" in wanted:
            options.all_tasks_complete_mode = self.on_all_tasks_complete
        if "metadata" in wanted:
            options.metadata = self._metadata_sdk() or []
        if "pool_id" in wanted:
            options.pool_info = batch_models.BatchPoolInfo(pool_id=self.pool_id)
        return options

    def to_batch_task_creates(
        self, *, output_container_url: str | None = None, job_id: str | None = None
    ) -> list[batch_models.BatchTaskCreateOptions]:
        """The SDK ``BatchTaskCreateOptions`` of every task (factories expanded, conventions resolved).

        ``output_container_url`` defaults to the spec's own; ``job_id`` (default: ``id``) is used to
        check that the container is the job's File Conventions container.
        """
        url = output_container_url or self.output_container_url
        jid = job_id or self.id
        return [t.to_batch_task_create(output_container_url=url, job_id=jid) for t in self.expand_tasks()]


# --------------------------------------------------------------------------------------------------
# Output file resolution
# --------------------------------------------------------------------------------------------------

_WILDCARD = re.compile(r"[*?\[]")


def has_wildcard(pattern: str) -> bool:
    """True when a file pattern has a wildcard, so ``path`` is a virtual directory, not a blob name."""
    return _WILDCARD.search(pattern) is not None


def _container_of(url: str) -> tuple[str, str]:
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
        _, container = _container_of(output_container_url)
        if container != expected:
            raise ValueError(
                f"output_container_url names container {container!r}, but the File Conventions "
                f"container of job {job_id!r} is {expected!r}"
            )
    return output.model_copy(
        update={"container_url": output_container_url, "path": convention_path(output, task_id),
                "kind": None, "custom_kind": None, "relative_path": None}
    )


def convention_path(output: OutputFileSpec, task_id: str) -> str:
    """The ``path`` of a File Conventions output of task ``task_id`` (see :func:`resolve_output_file`)."""
    kind = output.kind or output.custom_kind
    if kind is None:
        raise ValueError("not a File Conventions output (no kind or custom_kind)")
    job_level = kind in _JOB_KINDS
    prefix = job_output_prefix(kind) if job_level else task_output_prefix(task_id, kind)
    if has_wildcard(output.file_pattern):
        if output.relative_path:
            return f"{prefix}/{normalize_relative_path(output.relative_path).rstrip('/')}"
        return prefix
    name = output.relative_path or _literal_name(output.file_pattern)
    return job_output_path(kind, name) if job_level else task_output_path(task_id, kind, name)


def _literal_name(pattern: str) -> str:
    """The conventions name of a literal pattern: relative patterns keep their directories."""
    normalized = pattern.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized) or "$" in normalized or "%" in normalized:
        # Absolute or environment-dependent: only the file name is meaningful in the blob path.
        return normalized.rsplit("/", 1)[-1]
    return normalize_relative_path(normalized)


def _output_to_sdk(output: OutputFileSpec) -> batch_models.OutputFile:
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


# --------------------------------------------------------------------------------------------------
# Canonical form (diffing)
# --------------------------------------------------------------------------------------------------

_URL_KEYS = frozenset({"container_url", "http_url", "storage_container_url"})


def _strip_sas(url: str) -> str:
    """A URL without its SAS query, so that rotating a SAS does not look like a changed task."""
    parts = urlsplit(url)
    if "sig=" not in parts.query:
        return url
    return parts._replace(query="").geturl()


def _canonical_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (_strip_sas(v) if k in _URL_KEYS and isinstance(v, str) else _canonical_tree(v))
            for k, v in sorted(node.items())
        }
    if isinstance(node, list):
        return [_canonical_tree(v) for v in node]
    return node


def canonical_task(task: TaskSpec) -> dict[str, Any]:
    """A stable, JSON-ready dict of a task for diffing: defaults omitted, keys sorted, SAS stripped.

    Two specs of the same task give the same dict whether a default is written out or omitted.
    Container and resource URLs lose their SAS query (a rotated SAS is not a different task).
    File Conventions outputs stay unresolved (kind + relative path), so the form does not depend on
    the job id or the container URL.
    """
    dumped = task.model_dump(mode="json", exclude_defaults=True)
    canonical = _canonical_tree(dumped)
    assert isinstance(canonical, dict)
    return canonical


def task_fingerprint(task: TaskSpec) -> str:
    """SHA-256 (hex) of :func:`canonical_task`: equal fingerprints mean the same task."""
    text = json.dumps(canonical_task(task), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class ValidationFailure:
    """One problem with a job spec: ``property`` is a path like ``tasks[3].output_files[0].upload_condition``.

    The fields mirror Pulumi's ``CheckFailure(property, reason)`` so the provider can pass them on.
    """

    property: str
    reason: str

    def __str__(self) -> str:
        return f"{self.property}: {self.reason}" if self.property else self.reason


class JobSpecError(ValueError):
    """Raised by :func:`parse_job`; ``failures`` holds every :class:`ValidationFailure`."""

    def __init__(self, failures: Sequence[ValidationFailure]) -> None:
        self.failures = list(failures)
        super().__init__("invalid job spec:\n" + "\n".join(f"  {f}" for f in self.failures))


def format_path(path: Path) -> str:
    """``("tasks", 3, "id")`` -> ``tasks[3].id``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


class _Unknowns:
    """Paths of the raw input that hold Pulumi's unknown sentinel; rules reading them are skipped."""

    def __init__(self, paths: set[Path]) -> None:
        self.exact = set(paths)
        self.ancestors: set[Path] = {p[:i] for p in paths for i in range(len(p))}

    def add(self, path: Path) -> None:
        self.exact.add(path)
        self.ancestors.update(path[:i] for i in range(len(path)))

    def affects(self, path: Path) -> bool:
        """True when the value at ``path`` is unknown, inside an unknown value, or contains one."""
        if not self.exact:
            return False
        if path in self.ancestors:
            return True
        return any(path[:i] in self.exact for i in range(len(path) + 1))

    def known(self, *paths: Path) -> bool:
        if not self.exact:
            return True
        return not any(self.affects(p) for p in paths)


def _collect_unknowns(node: Any, path: Path, out: set[Path]) -> None:
    if isinstance(node, str):
        if UNKNOWN in node:
            out.add(path)
    elif isinstance(node, Mapping):
        for k, v in node.items():
            _collect_unknowns(v, (*path, str(k)), out)
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            _collect_unknowns(v, (*path, i), out)


def _plain_copy(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain_copy(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain_copy(v) for v in node]
    return node


def _loc_to_path(loc: Sequence[str | int], data: Any) -> Path:
    """A pydantic error location as a path in the raw input (discriminated-union tags removed)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            if isinstance(part, str) and node.get("type") == part:
                continue  # the tag pydantic adds for a discriminated union member
            path.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            path.append(part)
            node = None
    return tuple(path)


def _child(node: Any, part: str | int) -> Any:
    """``node[part]`` for a dict key or list index that exists, else None."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _remove_at(data: Any, path: Path, unknowns: _Unknowns) -> None:
    """Remove the value at ``path`` (or, when it is missing, the object holding it) from ``data``."""
    while path:
        parent: Any = data
        for part in path[:-1]:
            parent = _child(parent, part)
        last = path[-1]
        if isinstance(parent, dict) and last in parent:
            del parent[last]
            return
        if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            del parent[last]
            # Later elements moved: treat the whole list as unknown so no rule reports shifted paths.
            unknowns.add(path[:-1])
            return
        # Missing: a required value was unknown, so the object holding it is unusable.
        unknowns.add(path[:-1])
        path = path[:-1]


_ALL_FIELD_NAMES: frozenset[str] = frozenset()


def _field_names() -> frozenset[str]:
    global _ALL_FIELD_NAMES
    if not _ALL_FIELD_NAMES:
        models: list[type[BaseModel]] = [
            JobSpec, TaskSpec, JobPreparationTaskSpec, JobReleaseTaskSpec, OutputFileSpec, ResourceFileSpec,
            JobConstraintsSpec, TaskConstraintsSpec, UserIdentitySpec, AutoUserSpec, ContainerSettingsSpec,
            ContainerRegistrySpec, BindMountSpec, ExitConditionsSpec, ExitOptionsSpec, ExitCodeMappingSpec,
            ExitCodeRangeSpec, DependsOnSpec, TaskIdRangeSpec, ParametricSweepFactory, TaskPerItemFactory,
            ParameterSetSpec, IdentityReferenceSpec,
        ]
        _ALL_FIELD_NAMES = frozenset(name for m in models for name in m.model_fields)
    return _ALL_FIELD_NAMES


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _error_to_failure(error: Mapping[str, Any], data: Any) -> ValidationFailure:
    """A pydantic error as a ValidationFailure with a raw-input path and a readable reason."""
    path = _loc_to_path(error["loc"], data)
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else ""
        candidates = _field_names()
        suggestion = _snake(name) if _snake(name) in candidates else None
        if suggestion is None:
            close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
            suggestion = close[0] if close else None
        hint = f"; did you mean {suggestion!r}? (property names are snake_case)" if suggestion else ""
        return ValidationFailure(format_path(path), f"unknown property {name!r}{hint}")
    if kind == "missing":
        return ValidationFailure(format_path(path), "required property is missing")
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "azbatch":
        return ValidationFailure(format_path(path), message)
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and not isinstance(value, dict):
        message = f"{message}; got {value!r}"
    return ValidationFailure(format_path(path), message)


def validate_job(raw: Mapping[str, Any] | JobSpec, *, now: datetime | None = None) -> list[ValidationFailure]:
    """Every problem with a job spec, each naming its property; an empty list means valid.

    ``raw`` is the mapping from stack config or the provider's inputs (snake_case keys), or a
    ``JobSpec``. Values holding Pulumi's unknown sentinel (:data:`UNKNOWN`, during preview) are
    tolerated: a rule whose inputs are unknown is skipped. Structural errors (types, unknown
    properties, missing values) are reported first; the cross-property rules run once the structure
    is valid. ``now`` (UTC) is for SAS expiry checks and defaults to the current time.
    """
    return _validate(raw, now or datetime.now(UTC))[1]


def _validate(raw: Mapping[str, Any] | JobSpec, now: datetime) -> tuple[JobSpec | None, list[ValidationFailure]]:
    if isinstance(raw, JobSpec):
        return raw, _run_rules(raw, _Unknowns(set()), now)
    if not isinstance(raw, Mapping):
        return None, [ValidationFailure("", f"a job spec must be a mapping, got {type(raw).__name__}")]
    data = _plain_copy(raw)
    unknown_paths: set[Path] = set()
    _collect_unknowns(data, (), unknown_paths)
    unknowns = _Unknowns(unknown_paths)
    context = {_DEFER_RULES: True}
    # Each round removes the unknown values pydantic cannot accept (an int, an enum, a required
    # value...); every removal is recorded as unknown so no rule reads the defaults left behind.
    for _ in range(32):
        try:
            spec = JobSpec.model_validate(data, context=context)
        except ValidationError as exc:
            hard: list[ValidationFailure] = []
            tolerated: list[Path] = []
            for error in exc.errors():
                path = _loc_to_path(error["loc"], data)
                if unknowns.affects(path) or is_unknown(error.get("input")):
                    tolerated.append(path)
                else:
                    hard.append(_error_to_failure(error, data))
            if hard:
                return None, _dedupe(hard)
            for path in sorted(tolerated, key=_path_sort_key, reverse=True):
                _remove_at(data, path, unknowns)
            continue
        return spec, _run_rules(spec, unknowns, now)
    return None, []  # everything that failed was unknown: nothing definite to report


def _path_sort_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def _dedupe(failures: list[ValidationFailure]) -> list[ValidationFailure]:
    return list(dict.fromkeys(failures))


def load_stored_job(raw: Mapping[str, Any]) -> JobSpec:
    """The ``JobSpec`` of inputs stored in the state, checked for structure only.

    The cross-property rules (a SAS expiring before the job can finish, ...) were enforced when the
    job was created; re-applying them to stored inputs would let a SAS that has expired since block
    a diff or a destroy.
    """
    return JobSpec.model_validate(raw, context={_DEFER_RULES: True})


def parse_job(raw: Mapping[str, Any] | JobSpec, *, now: datetime | None = None) -> JobSpec:
    """A valid ``JobSpec`` from ``raw``, or ``JobSpecError`` listing every failure.

    Unlike :func:`validate_job`, unknown values are an error here: creating or updating a job needs
    every value. This is what the provider's create/update should call.
    """
    if not isinstance(raw, JobSpec):
        unknown_paths: set[Path] = set()
        _collect_unknowns(raw, (), unknown_paths)
        if unknown_paths:
            raise JobSpecError(
                [ValidationFailure(format_path(p), "value is unknown (only allowed during preview)")
                 for p in sorted(unknown_paths, key=_path_sort_key)]
            )
    spec, failures = _validate(raw, now or datetime.now(UTC))
    if failures or spec is None:
        raise JobSpecError(failures)
    return spec


# --------------------------------------------------------------------------------------------------
# The cross-property rules
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sas:
    present: bool
    permissions: str | None
    expiry: datetime | None
    expiry_text: str | None


@lru_cache(maxsize=1024)
def _parse_sas(url: str) -> _Sas:
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    present = "sig" in query
    permissions = query["sp"][0] if "sp" in query else None
    expiry_text = query["se"][0] if "se" in query else None
    return _Sas(present, permissions, _parse_time(expiry_text) if expiry_text else None, expiry_text)


def _parse_time(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _segments(pattern: str) -> list[str]:
    return pattern.split("/")


def _segment_matches_only_dotfiles(segment: str) -> bool:
    """True for a segment whose first character can only be '.', written as a wildcard class.

    Batch skips names starting with '.' unless the pattern names the dot literally, so ``[.]env``
    or ``[.]*`` can only ever match dot files and therefore never matches anything.
    """
    match = re.match(r"^\[(!?)([^\]]*)\]", segment)
    if not match or match.group(1):
        return False
    members = match.group(2)
    return bool(members) and set(members) == {"."}


class _RuleRunner:
    """Runs the cross-property rules over a validated spec, skipping rules whose inputs are unknown."""

    def __init__(self, spec: JobSpec, unknowns: _Unknowns, now: datetime) -> None:
        self.spec = spec
        self.unknowns = unknowns
        self.now = now
        self.failures: list[ValidationFailure] = []
        # Generated tasks report against their factory's template, once per property.
        self._template_failures: dict[str, int] = {}
        self._template_counts: dict[str, int] = {}
        # False when some task ids cannot be known yet (unknown values in tasks or factories).
        self.all_tasks_known = unknowns.known(("tasks",), ("task_factories",))
        self.saw_convention_output = False

    def fail(self, path: Path, reason: str, *inputs: Path) -> None:
        if not self.unknowns.known(path, *inputs):
            return
        self.failures.append(ValidationFailure(format_path(path), reason))

    def fail_template(self, path: Path, reason: str, *inputs: Path) -> None:
        """Like :meth:`fail`, but one failure per template property, with a count of generated tasks."""
        if not self.unknowns.known(path, *inputs):
            return
        key = format_path(path)
        if key in self._template_failures:
            self._template_counts[key] += 1
            return
        self._template_failures[key] = len(self.failures)
        self._template_counts[key] = 1
        self.failures.append(ValidationFailure(key, reason))

    def finish(self) -> list[ValidationFailure]:
        for key, index in self._template_failures.items():
            count = self._template_counts[key]
            if count > 1:
                f = self.failures[index]
                self.failures[index] = ValidationFailure(
                    f.property, f"{f.reason} (and {count - 1} more generated task(s))"
                )
        return _dedupe(self.failures)


def _run_rules(spec: JobSpec, unknowns: _Unknowns, now: datetime) -> list[ValidationFailure]:
    r = _RuleRunner(spec, unknowns, now)
    _job_rules(r)
    tasks = _task_sources(r)
    for source in tasks:
        _task_rules(r, source)
    _cross_task_rules(r, tasks)
    url = spec.output_container_url
    if (r.saw_convention_output and url is not None and spec.id is not None and ID_PATTERN.match(spec.id)
            and not is_unknown(url)):
        container = _container_of(url)[1]
        expected = job_output_container_name(spec.id)
        if container != expected:
            r.fail(("output_container_url",),
                   f"File Conventions outputs need the job's container {expected!r}, but the URL names "
                   f"{container!r}; Batch Explorer and the portal will not find the outputs", ("id",))
    return r.finish()


def _check_id(r: _RuleRunner, value: str | None, path: Path, what: str, *, template: bool = False) -> None:
    if value is None or ID_PATTERN.match(value):
        return
    if not value:
        reason = f"{what} must not be empty"
    elif len(value) > MAX_ID_LENGTH:
        reason = f"{what} {value!r} is {len(value)} characters long; Batch allows at most {MAX_ID_LENGTH}"
    else:
        bad = sorted({c for c in value if not re.match(r"[A-Za-z0-9_-]", c)})
        reason = (
            f"{what} {value!r} may only contain letters, digits, '-' and '_' "
            f"(found {', '.join(repr(c) for c in bad)})"
        )
    (r.fail_template if template else r.fail)(path, reason)


def _job_rules(r: _RuleRunner) -> None:
    spec = r.spec
    _check_id(r, spec.id, ("id",), "job id")
    _check_id(r, spec.pool_id, ("pool_id",), "pool id")
    prep, release = spec.job_preparation_task, spec.job_release_task
    if release is not None and prep is None:
        r.fail(
            ("job_release_task",),
            "a job release task requires a job preparation task (the service rejects the job); add "
            "job_preparation_task, even a no-op such as '/bin/true'",
            ("job_preparation_task",),
        )
    if release is not None and release.max_wall_clock_time > MAX_RELEASE_WALL_CLOCK_TIME:
        r.fail(
            ("job_release_task", "max_wall_clock_time"),
            f"a job release task may run at most 15 min; got {format_duration(release.max_wall_clock_time)}",
        )
    for name, task in (("job_preparation_task", prep), ("job_release_task", release)):
        if task is None:
            continue
        base: Path = (name,)
        _check_id(r, task.id, (*base, "id"), f"{name.replace('_', ' ')} id")
        _resource_file_rules(r, task.resource_files, base, template=False)
    if prep is not None and release is not None and prep.id.lower() == release.id.lower():
        r.fail(
            ("job_release_task", "id"),
            f"the job release task id {release.id!r} is the same as the job preparation task id; give them "
            "different ids",
            ("job_preparation_task", "id"),
        )
    if spec.output_container_url is not None:
        _sas_rules(r, spec.output_container_url, ("output_container_url",), need="w", template=False)


@dataclass
class _TaskSource:
    """One expanded task with where its properties live in the input."""

    task: TaskSpec
    base: Path  # ("tasks", i) or ("task_factories", i, "repeat_task")
    id_path: Path
    generated: bool


def _task_sources(r: _RuleRunner) -> list[_TaskSource]:
    spec = r.spec
    sources: list[_TaskSource] = []
    for i, task in enumerate(spec.tasks):
        base: Path = ("tasks", i)
        sources.append(_TaskSource(task, base, (*base, "id"), False))
    for i, factory in enumerate(spec.task_factories):
        fbase: Path = ("task_factories", i)
        if not r.unknowns.known(fbase):
            continue  # cannot expand what is not known yet
        template = factory.repeat_task
        try:
            expanded = factory.expand()
        except ValueError as exc:
            r.fail(fbase, str(exc))
            continue
        base = (*fbase, "repeat_task")
        id_path = (*base, "id") if template.id is not None else (*fbase, "id_prefix")
        sources.extend(_TaskSource(t, base, id_path, True) for t in expanded)
    return sources


def _resource_file_rules(r: _RuleRunner, files: Sequence[ResourceFileSpec], base: Path, *, template: bool) -> None:
    fail = r.fail_template if template else r.fail
    for i, rf in enumerate(files):
        p: Path = (*base, "resource_files", i)
        sources = [n for n in ("http_url", "storage_container_url", "auto_storage_container_name")
                   if getattr(rf, n) is not None]
        if len(sources) != 1:
            fail(p, "set exactly one of http_url, storage_container_url or auto_storage_container_name"
                 + (f" (found {', '.join(sources)})" if sources else ""))
        if rf.http_url is not None and not rf.file_path:
            fail((*p, "file_path"), "file_path is required with http_url (it is the full path of the downloaded file)")
        if rf.http_url is not None and rf.blob_prefix is not None:
            fail((*p, "blob_prefix"), "blob_prefix only applies to storage_container_url or auto_storage_container_name")
        if rf.file_path is not None and not is_unknown(rf.file_path):
            parts = rf.file_path.replace("\\", "/").split("/")
            if ".." in parts:
                fail((*p, "file_path"), f"file_path {rf.file_path!r} may not contain '..' (it must stay inside the task's working directory)")
            elif rf.file_path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rf.file_path):
                fail((*p, "file_path"), f"file_path {rf.file_path!r} must be relative to the task's working directory")
        if rf.file_mode is not None and not re.fullmatch(r"0?[0-7]{3}", rf.file_mode):
            fail((*p, "file_mode"), f"file_mode {rf.file_mode!r} must be an octal mode such as '0770' or '755'")
        if rf.storage_container_url is not None:
            _sas_rules(r, rf.storage_container_url, (*p, "storage_container_url"), need="rl", template=template,
                       require_sas=False)
        if rf.http_url is not None:
            _sas_rules(r, rf.http_url, (*p, "http_url"), need="r", template=template, require_sas=False)


_PERMISSION_NAMES = {"r": "read", "l": "list", "w": "write", "c": "create", "a": "add"}


def _sas_rules(
    r: _RuleRunner, url: str, path: Path, *, need: str, template: bool, require_sas: bool = True,
    identity: bool = False,
) -> None:
    """A SAS in ``url`` must grant ``need`` and must not expire before the job can finish."""
    if is_unknown(url) or not r.unknowns.known(path):
        return
    fail = r.fail_template if template else r.fail
    sas = _parse_sas(url)
    if not sas.present:
        if require_sas and not identity:
            fail(path, "the container URL has no SAS (no 'sig' parameter) and the output has no identity_reference; "
                 "the upload will be denied. Use a container SAS with write permission or an identity_reference")
        return
    if sas.permissions is not None:
        missing = [c for c in need if c not in sas.permissions]
        if missing:
            names = ", ".join(f"{c} ({_PERMISSION_NAMES[c]})" for c in missing)
            advice = " (grant at least 'cw' for output files)" if "w" in missing else ""
            fail(path, f"the SAS grants '{sas.permissions}' but lacks {names}{advice}")
    if sas.expiry_text is not None:
        if sas.expiry is None:
            fail(path, f"the SAS expiry se={sas.expiry_text!r} is not an ISO-8601 time")
            return
        if sas.expiry <= r.now:
            fail(path, f"the SAS expired at {sas.expiry_text}")
            return
        limit = r.spec.constraints.max_wall_clock_time
        if limit is not None and sas.expiry < r.now + limit and r.unknowns.known(("constraints", "max_wall_clock_time")):
            fail(path, f"the SAS expires at {sas.expiry_text}, before the job can finish (constraints."
                 f"max_wall_clock_time is {format_duration(limit)} from now); use a later expiry")


def _task_rules(r: _RuleRunner, source: _TaskSource) -> None:
    spec, task, base = r.spec, source.task, source.base
    template = source.generated
    fail = r.fail_template if template else r.fail
    _check_id(r, task.id, source.id_path, "task id", template=template)
    _resource_file_rules(r, task.resource_files, base, template=template)
    if task.depends_on is not None and not spec.uses_task_dependencies:
        fail((*base, "depends_on"),
             f"task {task.id!r} has depends_on, but the job does not set uses_task_dependencies: true "
             "(the service rejects the task)", ("uses_task_dependencies",))
    if task.depends_on is not None:
        for i, dep in enumerate(task.depends_on.task_ids):
            if dep.lower() == task.id.lower():
                fail((*base, "depends_on", "task_ids", i), f"task {task.id!r} depends on itself")
    if task.exit_conditions is not None and spec.on_task_failure != "performexitoptionsjobaction":
        for sub, options in task.exit_conditions.iter_options():
            if options.job_action is not None:
                fail((*base, "exit_conditions", *sub, "job_action"),
                     "job_action needs the job's on_task_failure to be 'performexitoptionsjobaction' "
                     "(otherwise the service rejects the task)", ("on_task_failure",))
                break
    for i, output in enumerate(task.output_files):
        _output_rules(r, task, output, (*base, "output_files", i), template)


def _output_rules(r: _RuleRunner, task: TaskSpec, output: OutputFileSpec, p: Path, template: bool) -> None:
    spec = r.spec
    fail = r.fail_template if template else r.fail
    pattern = output.file_pattern
    if spec.node_os == "linux" and "\\" in pattern and not is_unknown(pattern):
        fail((*p, "file_pattern"),
             f"file pattern {pattern!r} contains a backslash, which is not a path separator on Linux nodes, "
             f"so it can never match; use {pattern.replace(chr(92), '/')!r}", ("node_os",))
    elif not is_unknown(pattern):
        for segment in _segments(pattern.replace("\\", "/") if spec.node_os == "windows" else pattern):
            if _segment_matches_only_dotfiles(segment):
                fail((*p, "file_pattern"),
                     f"file pattern {pattern!r}: segment {segment!r} can only match names starting with '.', "
                     "and Batch skips those unless the pattern spells the dot literally; write "
                     f"{('.' + segment[segment.index(']') + 1:])!r} instead")
                break
    if output.by_convention:
        if spec.output_container_url is None:
            fail(p, "a File Conventions output (kind) needs the job's output_container_url", ("output_container_url",))
        if output.relative_path is not None and not is_unknown(output.relative_path):
            try:
                normalize_relative_path(output.relative_path)
            except ValueError as exc:
                fail((*p, "relative_path"), str(exc))
        elif not has_wildcard(pattern) and not is_unknown(pattern):
            try:
                _literal_name(pattern)
            except ValueError as exc:
                fail((*p, "file_pattern"), f"cannot derive a blob name from the pattern: {exc}; set relative_path")
        r.saw_convention_output = True
    elif output.container_url is not None:
        _sas_rules(r, output.container_url, (*p, "container_url"), need="w", template=template,
                   identity=output.identity_reference is not None)


@dataclass(frozen=True)
class _Destination:
    container: str
    literal: str | None  # the exact blob name, or None for a wildcard pattern
    prefix: str  # the virtual directory of a wildcard pattern ("" = container root)
    glob: str | None  # last pattern segment for a wildcard pattern without "**"
    condition: str
    task_id: str
    path: Path


def _destination(
    r: _RuleRunner, task: TaskSpec, output: OutputFileSpec, p: Path, id_path: Path
) -> _Destination | None:
    """Where an output writes, or None when that cannot be told before the task runs."""
    if is_unknown(output.file_pattern) or not r.unknowns.known(p):
        return None
    if output.by_convention and not r.unknowns.known(id_path):
        return None  # the blob path contains the (unknown) task id
    if output.by_convention:
        if r.spec.output_container_url is None:
            return None
        container = "<output_container_url>"  # conventions outputs all share the job's container
        try:
            blob_path = convention_path(output, task.id)
        except ValueError:
            return None
    else:
        if output.container_url is None or is_unknown(output.container_url):
            return None
        container = _container_of(output.container_url)[0]
        blob_path = output.path or ""
    pattern = output.file_pattern.replace("\\", "/") if r.spec.node_os == "windows" else output.file_pattern
    if "$" in pattern or "%" in pattern:
        return None  # environment variables are expanded on the node
    path = blob_path.strip("/")
    if has_wildcard(pattern):
        last = pattern.rsplit("/", 1)[-1]
        glob = None if "**" in pattern else last
        return _Destination(container, None, path, glob, output.upload_condition, task.id, p)
    name = path or pattern.rsplit("/", 1)[-1]
    return _Destination(container, name, "", None, output.upload_condition, task.id, p)


def _exclusive(a: _Destination, b: _Destination) -> bool:
    """Two outputs of one task whose conditions can never both hold (success vs failure)."""
    return a.task_id == b.task_id and {a.condition, b.condition} == {"tasksuccess", "taskfailure"}


def _cross_task_rules(r: _RuleRunner, sources: list[_TaskSource]) -> None:
    spec = r.spec
    all_known = r.all_tasks_known
    # Duplicate ids, case-insensitively, including the preparation and release task ids.
    seen: dict[str, _TaskSource] = {}
    reserved = spec.reserved_task_ids()
    for source in sources:
        tid = source.task.id
        key = tid.lower()
        fail = r.fail_template if source.generated else r.fail
        if key in reserved:
            which = "job preparation" if reserved[key].startswith("job_preparation") else "job release"
            code = "TaskIdSameAsJobPreparationTask" if which == "job preparation" else "TaskIdSameAsJobReleaseTask"
            fail(source.id_path,
                 f"task id {tid!r} is the {which} task's id ({reserved[key]}); the service rejects it with "
                 f"{code}. Rename the task or set {reserved[key]}", (reserved[key].split(".")[0], "id"))
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = source
            continue
        same_case = first.task.id == tid
        fail(source.id_path,
             f"task id {tid!r} is used twice (also at {format_path(first.id_path)}"
             + ("" if same_case else f" as {first.task.id!r}; task ids are compared case-insensitively")
             + ")", first.id_path)
    # Dependencies on tasks the job does not have.
    if all_known:
        ids = set(seen)
        for source in sources:
            deps = source.task.depends_on
            if deps is None:
                continue
            fail = r.fail_template if source.generated else r.fail
            for i, dep in enumerate(deps.task_ids):
                if dep.lower() not in ids and dep.lower() != source.task.id.lower():
                    suggestion = difflib.get_close_matches(dep.lower(), list(ids), n=1, cutoff=0.8) if len(ids) < 5000 else []
                    hint = f"; did you mean {seen[suggestion[0]].task.id!r}?" if suggestion else ""
                    fail((*source.base, "depends_on", "task_ids", i),
                         f"task {source.task.id!r} depends on {dep!r}, which is not a task of this job{hint}")
    _same_blob_rule(r, sources)


def _same_blob_rule(r: _RuleRunner, sources: list[_TaskSource]) -> None:
    literals: dict[tuple[str, str], _Destination] = {}
    globs: dict[tuple[str, str, str], _Destination] = {}
    by_dir: dict[tuple[str, str], list[_Destination]] = {}
    for source in sources:
        for i, output in enumerate(source.task.output_files):
            p: Path = (*source.base, "output_files", i)
            dest = _destination(r, source.task, output, p, source.id_path)
            if dest is None:
                continue
            fail = r.fail_template if source.generated else r.fail
            if dest.literal is not None:
                key = (dest.container, dest.literal)
                other = literals.get(key)
                if other is not None and not _exclusive(other, dest):
                    fail(p, f"task {dest.task_id!r} writes blob {dest.literal!r}, which task {other.task_id!r} "
                         f"also writes ({format_path(other.path)}); one upload overwrites the other. Put the task "
                         "id in the path, or use a File Conventions kind", other.path)
                    continue
                literals.setdefault(key, dest)
                directory = dest.literal.rsplit("/", 1)[0] if "/" in dest.literal else ""
                by_dir.setdefault((dest.container, directory), []).append(dest)
            elif dest.glob is not None:
                key3 = (dest.container, dest.prefix, dest.glob)
                other = globs.get(key3)
                if other is not None and not _exclusive(other, dest):
                    where = dest.prefix or "the container root"
                    fail(p, f"task {dest.task_id!r} uploads files matching {dest.glob!r} into {where!r}, as "
                         f"task {other.task_id!r} does ({format_path(other.path)}); files with the same name "
                         "overwrite each other. Put the task id in the path, or use a File Conventions kind",
                         other.path)
                    continue
                globs.setdefault(key3, dest)
    # A literal blob that a wildcard output of another task may also produce.
    for (container, prefix, glob), dest in globs.items():
        for lit in by_dir.get((container, prefix), []):
            name = lit.literal.rsplit("/", 1)[-1] if lit.literal else ""
            if fnmatchcase(name, glob) and lit.task_id != dest.task_id:
                fail = r.fail_template if dest.path[0] == "task_factories" else r.fail
                fail(dest.path, f"files matching {glob!r} from task {dest.task_id!r} may overwrite blob "
                     f"{lit.literal!r} written by task {lit.task_id!r} ({format_path(lit.path)})", lit.path)
                break
