"""Tasks: the task of a job, its template, the job preparation and release tasks, and their parts.

Owns: :class:`TaskSpec`, :class:`TaskTemplateSpec`, :class:`JobPreparationTaskSpec`,
:class:`JobReleaseTaskSpec` and what they are made of (resource files, user identity, constraints,
container settings, exit conditions, dependencies), with the service's defaults for the preparation
and release tasks and each model's mapping to ``azure.batch.models``.

May import: :mod:`.common`, :mod:`.outputs`, pydantic, ``azure.batch.models``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, Self

from azure.batch import models as batch_models
from pydantic import BeforeValidator, Field, field_validator, model_validator

from .common import (
    EnvironmentValue,
    IdentityReferenceSpec,
    ImageName,
    Secret,
    SpecModel,
    choice,
    error,
    positive_duration,
)
from .outputs import OutputFileSpec, outputs_to_sdk

__all__ = [
    "DEFAULT_JOB_PREPARATION_TASK_ID",
    "DEFAULT_JOB_RELEASE_TASK_ID",
    "MAX_RELEASE_WALL_CLOCK_TIME",
    "AutoUserSpec",
    "BindMountSpec",
    "ContainerRegistrySpec",
    "ContainerSettingsSpec",
    "DependsOnSpec",
    "ExitCodeMappingSpec",
    "ExitCodeRangeSpec",
    "ExitConditionsSpec",
    "ExitOptionsSpec",
    "JobConstraintsSpec",
    "JobPreparationTaskSpec",
    "JobReleaseTaskSpec",
    "ResourceFileSpec",
    "TaskBase",
    "TaskConstraintsSpec",
    "TaskIdRangeSpec",
    "TaskSpec",
    "TaskTemplateSpec",
    "UserIdentitySpec",
    "env_to_sdk",
]

#: The service kills a job release task after at most 15 minutes and rejects longer values.
MAX_RELEASE_WALL_CLOCK_TIME = timedelta(minutes=15)

DEFAULT_JOB_PREPARATION_TASK_ID = "jobpreparation"
DEFAULT_JOB_RELEASE_TASK_ID = "jobrelease"

_DEFAULT_RETENTION_TIME = timedelta(days=7)


AutoUserScope = Annotated[
    Literal["task", "pool"], BeforeValidator(choice("auto user scope", ["task", "pool"]))
]
ElevationLevel = Annotated[
    Literal["nonadmin", "admin"], BeforeValidator(choice("elevation level", ["nonadmin", "admin"]))
]
JobAction = Annotated[
    Literal["none", "disable", "terminate"],
    BeforeValidator(choice("job action", ["none", "disable", "terminate"])),
]
DependencyAction = Annotated[
    Literal["satisfy", "block"], BeforeValidator(choice("dependency action", ["satisfy", "block"]))
]
ContainerWorkingDirectory = Annotated[
    Literal["taskWorkingDirectory", "containerImageDefault"],
    BeforeValidator(choice("container working directory", ["taskWorkingDirectory", "containerImageDefault"])),
]
ContainerHostDataPath = Annotated[
    Literal["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"],
    BeforeValidator(
        choice("container host path", ["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"])
    ),
]


class ResourceFileSpec(SpecModel):
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

    def to_arm(self) -> Any:
        """The azure-native (ARM) ``batch.ResourceFileArgs`` (imported here: only Azure deployments need it)."""
        from pulumi_azure_native import batch

        return batch.ResourceFileArgs(
            http_url=self.http_url,
            storage_container_url=self.storage_container_url,
            auto_storage_container_name=self.auto_storage_container_name,
            blob_prefix=self.blob_prefix,
            file_path=self.file_path,
            file_mode=self.file_mode,
            identity_reference=self.identity_reference.to_arm() if self.identity_reference else None,
        )


class AutoUserSpec(SpecModel):
    """The auto user a task runs as: ``scope`` (``pool``/``task``) and ``elevation_level`` (``nonadmin``/``admin``)."""

    scope: AutoUserScope | None = Field(default=None, description="Service default: pool.")
    elevation_level: ElevationLevel | None = Field(default=None, description="Service default: nonadmin.")


class UserIdentitySpec(SpecModel):
    """Who a task runs as: exactly one of ``username`` (a pool user account) or ``auto_user``.

    Left unset on a task, the service runs it as the pool-scoped non-admin auto user.
    """

    username: str | None = None
    auto_user: AutoUserSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> UserIdentitySpec:
        if (self.username is None) == (self.auto_user is None):
            raise error("set exactly one of user_identity.username or user_identity.auto_user")
        return self

    def to_sdk(self) -> batch_models.UserIdentity:
        """The SDK ``UserIdentity``."""
        auto = None
        if self.auto_user is not None:
            auto = batch_models.AutoUserSpecification(
                scope=self.auto_user.scope, elevation_level=self.auto_user.elevation_level
            )
        return batch_models.UserIdentity(username=self.username, auto_user=auto)

    def to_arm(self) -> Any:
        """The azure-native (ARM) ``batch.UserIdentityArgs`` (imported here: only Azure deployments need it)."""
        from pulumi_azure_native import batch

        auto = self.auto_user
        return batch.UserIdentityArgs(
            user_name=self.username,
            auto_user=batch.AutoUserSpecificationArgs(
                scope=batch.AutoUserScope(auto.scope.capitalize()) if auto.scope else None,
                elevation_level=(
                    None
                    if auto.elevation_level is None
                    else batch.ElevationLevel.ADMIN
                    if auto.elevation_level == "admin"
                    else batch.ElevationLevel.NON_ADMIN
                ),
            )
            if auto is not None
            else None,
        )


class TaskConstraintsSpec(SpecModel):
    """Execution constraints of a task (SDK ``BatchTaskConstraints``); None keeps the service default.

    Service defaults: ``max_wall_clock_time`` unlimited, ``retention_time`` 7 days,
    ``max_task_retry_count`` the job's ``constraints.max_task_retry_count`` (-1 = unlimited retries).
    """

    max_wall_clock_time: timedelta | None = None
    retention_time: timedelta | None = None
    max_task_retry_count: int | None = Field(default=None, ge=-1)

    _positive = field_validator("max_wall_clock_time", "retention_time")(positive_duration)

    def to_sdk(self) -> batch_models.BatchTaskConstraints:
        """The SDK ``BatchTaskConstraints``."""
        return batch_models.BatchTaskConstraints(
            max_wall_clock_time=self.max_wall_clock_time,
            retention_time=self.retention_time,
            max_task_retry_count=self.max_task_retry_count,
        )


class JobConstraintsSpec(SpecModel):
    """Job constraints (SDK ``BatchJobConstraints``).

    ``max_wall_clock_time`` is measured from job creation (None = unlimited); on expiry the service
    terminates the job. ``max_task_retry_count`` (default 0, -1 = unlimited) applies to tasks that do
    not set their own.
    """

    max_wall_clock_time: timedelta | None = None
    max_task_retry_count: int = Field(default=0, ge=-1)

    _positive = field_validator("max_wall_clock_time")(positive_duration)

    def to_sdk(self) -> batch_models.BatchJobConstraints:
        """The SDK ``BatchJobConstraints``."""
        return batch_models.BatchJobConstraints(
            max_wall_clock_time=self.max_wall_clock_time, max_task_retry_count=self.max_task_retry_count
        )


class ContainerRegistrySpec(SpecModel):
    """A private container registry (SDK ``ContainerRegistryReference``); the password is a secret."""

    registry_server: str | None = Field(default=None, description="Service default: docker.io.")
    username: str | None = None
    password: Secret | None = None
    identity_reference: IdentityReferenceSpec | None = None

    @model_validator(mode="after")
    def _credentials(self) -> ContainerRegistrySpec:
        if self.identity_reference is not None and (self.username or self.password):
            raise error("use either username and password or identity_reference, not both")
        if (self.username is None) != (self.password is None) and self.identity_reference is None:
            raise error("username and password must be given together")
        return self

    def to_sdk(self) -> batch_models.ContainerRegistryReference:
        """The SDK ``ContainerRegistryReference``."""
        return batch_models.ContainerRegistryReference(
            registry_server=self.registry_server,
            username=self.username,
            password=self.password,
            identity_reference=self.identity_reference.to_sdk() if self.identity_reference else None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.ContainerRegistryArgs``."""
        from pulumi_azure_native import batch

        return batch.ContainerRegistryArgs(
            registry_server=self.registry_server,
            user_name=self.username,
            password=self.password,
            identity_reference=self.identity_reference.to_arm() if self.identity_reference else None,
        )


class BindMountSpec(SpecModel):
    """A node path mounted into a task container (SDK ``ContainerHostBatchBindMountEntry``)."""

    source: ContainerHostDataPath
    is_read_only: bool | None = None


class ContainerSettingsSpec(SpecModel):
    """Run the task in a container (SDK ``BatchTaskContainerSettings``); the pool must support containers."""

    image_name: ImageName = Field(description="[registry[:port]/]repository[:tag][@digest]")
    container_run_options: str | None = None
    registry: ContainerRegistrySpec | None = None
    working_directory: ContainerWorkingDirectory | None = Field(
        default=None, description="Service default: taskWorkingDirectory."
    )
    container_host_batch_bind_mounts: list[BindMountSpec] = Field(default_factory=list)

    def to_sdk(self) -> batch_models.BatchTaskContainerSettings:
        """The SDK ``BatchTaskContainerSettings``."""
        registry = self.registry.to_sdk() if self.registry is not None else None
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


class ExitOptionsSpec(SpecModel):
    """What happens to the job and to dependent tasks on an exit condition (SDK ``ExitOptions``).

    ``job_action`` (``none``/``disable``/``terminate``) needs the job's ``on_task_failure`` to be
    ``performexitoptionsjobaction``; ``dependency_action`` is ``satisfy`` or ``block``.
    """

    job_action: JobAction | None = None
    dependency_action: DependencyAction | None = None

    def to_sdk(self) -> batch_models.ExitOptions:
        """The SDK ``ExitOptions``."""
        return batch_models.ExitOptions(job_action=self.job_action, dependency_action=self.dependency_action)


class ExitCodeMappingSpec(SpecModel):
    """Exit options for one exit code."""

    code: int
    exit_options: ExitOptionsSpec


class InclusiveRangeSpec(SpecModel):
    """An inclusive integer range ``start``..``end``; ``RANGE_OF`` names it in the error."""

    RANGE_OF: ClassVar[str]
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start > self.end:
            raise error(f"{self.RANGE_OF} range start {self.start} is greater than end {self.end}")
        return self


class ExitCodeRangeSpec(InclusiveRangeSpec):
    """Exit options for an inclusive range of exit codes."""

    RANGE_OF: ClassVar[str] = "exit code"
    exit_options: ExitOptionsSpec


class ExitConditionsSpec(SpecModel):
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
                batch_models.ExitCodeMapping(code=m.code, exit_options=m.exit_options.to_sdk())
                for m in self.exit_codes
            ]
            or None,
            exit_code_ranges=[
                batch_models.ExitCodeRangeMapping(
                    start=r.start, end=r.end, exit_options=r.exit_options.to_sdk()
                )
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


class TaskIdRangeSpec(InclusiveRangeSpec):
    """An inclusive range of integer task ids a task depends on."""

    RANGE_OF: ClassVar[str] = "task id"


class DependsOnSpec(SpecModel):
    """The tasks that must complete successfully first (SDK ``BatchTaskDependencies``).

    Needs ``uses_task_dependencies: true`` on the job.
    """

    task_ids: list[str] = Field(default_factory=list)
    task_id_ranges: list[TaskIdRangeSpec] = Field(default_factory=list)

    def to_sdk(self) -> batch_models.BatchTaskDependencies:
        """The SDK ``BatchTaskDependencies``."""
        return batch_models.BatchTaskDependencies(
            task_ids=list(self.task_ids) or None,
            task_id_ranges=[
                batch_models.BatchTaskIdRange(start=r.start, end=r.end) for r in self.task_id_ranges
            ]
            or None,
        )


class TaskBase(SpecModel):
    """Properties shared by tasks and the job preparation and release tasks."""

    command_line: str = Field(
        min_length=1, description="Run without a shell; use /bin/sh -c '...' for shell features."
    )
    resource_files: list[ResourceFileSpec] = Field(default_factory=list)
    environment_settings: dict[str, EnvironmentValue] = Field(default_factory=dict)
    user_identity: UserIdentitySpec | None = Field(
        default=None, description="Service default: the pool-scoped non-admin auto user."
    )
    container_settings: ContainerSettingsSpec | None = None

    def _sdk_common(self) -> dict[str, Any]:
        return {
            "command_line": self.command_line,
            "resource_files": [r.to_sdk() for r in self.resource_files] or None,
            "environment_settings": env_to_sdk(self.environment_settings),
            "user_identity": self.user_identity.to_sdk() if self.user_identity else None,
            "container_settings": self.container_settings.to_sdk() if self.container_settings else None,
        }


def env_to_sdk(settings: Mapping[str, str]) -> list[batch_models.EnvironmentSetting] | None:
    return [batch_models.EnvironmentSetting(name=k, value=v) for k, v in settings.items()] or None


class TaskSpec(TaskBase):
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
        outputs = outputs_to_sdk(
            self.output_files, task_id=self.id, output_container_url=output_container_url, job_id=job_id
        )
        return batch_models.BatchTaskCreateOptions(
            id=self.id,
            display_name=self.display_name,
            constraints=self.constraints.to_sdk() if self.constraints else None,
            exit_conditions=self.exit_conditions.to_sdk() if self.exit_conditions else None,
            required_slots=self.required_slots,
            depends_on=self.depends_on.to_sdk() if self.depends_on else None,
            output_files=outputs,
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


class JobPreparationTaskSpec(TaskBase):
    """The job preparation task (SDK ``BatchJobPreparationTask``), with the service's defaults explicit.

    It runs once on each node before the first task of the job there. Defaults: ``id``
    ``jobpreparation``; ``wait_for_success`` true (tasks wait until it exits 0; on failure the node is
    not used for this job); ``rerun_on_node_reboot_after_success`` true; ``constraints``
    ``max_wall_clock_time`` unlimited, ``retention_time`` 7 days, ``max_task_retry_count`` 0;
    ``user_identity`` unset = pool-scoped non-admin auto user. It cannot have output files.
    """

    id: str = DEFAULT_JOB_PREPARATION_TASK_ID
    constraints: TaskConstraintsSpec = Field(
        default_factory=lambda: TaskConstraintsSpec(
            retention_time=_DEFAULT_RETENTION_TIME, max_task_retry_count=0
        )
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


class JobReleaseTaskSpec(TaskBase):
    """The job release task (SDK ``BatchJobReleaseTask``), with the service's defaults explicit.

    It runs when the job ends (terminate, delete of an active job, max wall clock) on every node that
    ran the job preparation task, which it requires. Defaults: ``id`` ``jobrelease``;
    ``max_wall_clock_time`` 15 minutes (the maximum); ``retention_time`` 7 days. It has no retry
    count, no ``wait_for_success`` and no output files.
    """

    id: str = DEFAULT_JOB_RELEASE_TASK_ID
    max_wall_clock_time: timedelta = MAX_RELEASE_WALL_CLOCK_TIME
    retention_time: timedelta = _DEFAULT_RETENTION_TIME

    _positive = field_validator("max_wall_clock_time", "retention_time")(positive_duration)

    def to_sdk(self) -> batch_models.BatchJobReleaseTask:
        """The SDK ``BatchJobReleaseTask``."""
        return batch_models.BatchJobReleaseTask(
            id=self.id,
            max_wall_clock_time=self.max_wall_clock_time,
            retention_time=self.retention_time,
            **self._sdk_common(),
        )
