"""The job: :class:`JobSpec`, its properties, tasks and provider knobs, and its mapping to the SDK.

Owns: :class:`JobPropertiesSpec` (the service properties a job shares with a job schedule's job
specification), :class:`JobSpec` (constructing one runs every rule of :mod:`.rules`), the job properties the
service can change in place (:data:`JOB_FIELDS_UPDATABLE_IN_PLACE`, read by the Job provider too),
the provider knobs (``on_destroy``, ``wait_for``...), :func:`make_job_id` and
:func:`split_job_inputs`.

May import: :mod:`.common`, :mod:`.outputs`, :mod:`.tasks`, :mod:`.factories`, :mod:`.rules`,
pydantic, ``azure.batch.models``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from azure.batch import models as batch_models
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from .common import MAX_ID_LENGTH, EnvironmentValue, SpecModel, choice, error, id_safe, positive_duration
from .factories import TaskFactory
from .rules import DEFER_RULES, Unknowns, run_rules
from .storage import check_sas_permissions
from .tasks import (
    JobConstraintsSpec,
    JobPreparationTaskSpec,
    JobReleaseTaskSpec,
    TaskSpec,
    env_to_sdk,
)

__all__ = [
    "JOB_FIELDS_PATCHED",
    "JOB_FIELDS_UPDATABLE_IN_PLACE",
    "FileConventionsSpec",
    "JobPropertiesSpec",
    "JobSpec",
    "make_job_id",
    "split_job_inputs",
]

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

#: The updatable fields a plain PATCH changes whatever their old and new values. The other two need
#: the provider's judgement first: ``pool_id`` (only while the job is disabled, else a new job) and
#: ``on_all_tasks_complete`` (applied after the tasks are added; ``terminatejob`` cannot go back).
JOB_FIELDS_PATCHED: frozenset[str] = JOB_FIELDS_UPDATABLE_IN_PLACE - {"pool_id", "on_all_tasks_complete"}


AllTasksCompleteMode = Annotated[
    Literal["noaction", "terminatejob"],
    BeforeValidator(choice("on_all_tasks_complete value", ["noaction", "terminatejob"])),
]
TaskFailureMode = Annotated[
    Literal["noaction", "performexitoptionsjobaction"],
    BeforeValidator(choice("on_task_failure value", ["noaction", "performexitoptionsjobaction"])),
]
OnDestroy = Annotated[
    Literal["terminate_then_delete", "terminate", "delete"],
    BeforeValidator(choice("on_destroy value", ["terminate_then_delete", "terminate", "delete"])),
]
WaitFor = Annotated[
    Literal["none", "preparation", "tasks"],
    BeforeValidator(choice("wait_for value", ["none", "preparation", "tasks"])),
]
PreviousOutputs = Annotated[
    Literal["keep_apart", "delete", "mix"],
    BeforeValidator(choice("previous_outputs value", ["keep_apart", "delete", "mix"])),
]
LibraryDependencies = Annotated[
    Literal["index", "preinstalled"],
    BeforeValidator(choice("library_dependencies value", ["index", "preinstalled"])),
]
NodeOs = Annotated[
    Literal["linux", "windows"], BeforeValidator(choice("node_os value", ["linux", "windows"]))
]


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
    clean_suffix = id_safe(suffix)
    clean_name = id_safe(name).strip("-") or "job"
    room = MAX_ID_LENGTH - len(clean_suffix) - 1
    if room < 1:
        raise ValueError(f"suffix {suffix!r} is too long for a Batch id")
    return f"{clean_name[:room]}-{clean_suffix}"


class FileConventionsSpec(SpecModel):
    """What the job hands its tasks for the File Conventions library (``batch-file-conventions``).

    Every task gets ``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL``: the job's output container URL with
    a write SAS of its own, signed for ``sas_permissions`` (default ``cw``; add ``r`` so a restarted
    tracker resumes its log instead of re-uploading it) and valid ``sas_lifetime`` (default 1 day:
    it must outlive the longest task, and it is kept short because every task can read it from its
    environment). The variable is set when a task is added, so a re-signed SAS reaches the tasks
    added after it. The URL is a secret in the state.

    ``install_library`` (default false) installs the library on every node the way an Azure user
    would: its wheel is uploaded to ``$Library/`` in the job's container and handed, with a read SAS
    of that one blob, as a resource file to the job preparation task, which pip-installs it into
    ``$AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions`` before the user's own preparation command
    (or as the whole preparation task). ``library_dependencies``: ``index`` (default) lets pip fetch
    ``azure-storage-blob`` from the package index (PyPI on Azure); ``preinstalled`` installs offline
    (``--no-index --no-deps``) for nodes whose ``python3`` already has it (the local emulator, a
    custom image).
    """

    sas_lifetime: timedelta = Field(default=timedelta(days=1), description="ISO-8601 (P1D) or seconds.")
    sas_permissions: str = Field(default="cw", description="Container SAS letters; must include c and w.")
    install_library: bool = Field(
        default=False,
        description="Install batch-file-conventions on the nodes through the job preparation task "
        "(into $AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions).",
    )
    library_dependencies: LibraryDependencies = Field(
        default="index",
        description="index: pip fetches azure-storage-blob (PyPI); preinstalled: offline, the node's "
        "python3 has it.",
    )

    _positive = field_validator("sas_lifetime")(positive_duration)

    _permissions = field_validator("sas_permissions")(check_sas_permissions)


class JobPropertiesSpec(SpecModel):
    """The service properties of a job, shared by a job (:class:`JobSpec`) and the job specification
    of a job schedule (:class:`~.schedule.JobSpecificationSpec`): one model, two uses.

    SDK ``BatchJobCreateOptions`` / ``BatchJobSpecification``: ``pool_id``, ``display_name``,
    ``priority`` (-1000..1000, default 0), ``max_parallel_tasks`` (-1 = unlimited, the default),
    ``allow_task_preemption``, ``constraints``, ``common_environment_settings``, ``metadata``,
    ``on_all_tasks_complete`` (``noaction`` default | ``terminatejob``), ``on_task_failure``
    (``noaction`` default | ``performexitoptionsjobaction``), ``uses_task_dependencies``,
    ``job_preparation_task``, ``job_release_task``; ``node_os`` (``linux`` default) tells the
    validation which path separator the pool's nodes use.
    """

    pool_id: str = Field(min_length=1)
    display_name: str | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    max_parallel_tasks: int = Field(default=-1, ge=-1)
    allow_task_preemption: bool = False
    uses_task_dependencies: bool = False
    constraints: JobConstraintsSpec = Field(default_factory=JobConstraintsSpec)
    common_environment_settings: dict[str, EnvironmentValue] = Field(default_factory=dict)
    metadata: dict[str, EnvironmentValue] = Field(default_factory=dict)
    on_all_tasks_complete: AllTasksCompleteMode = "noaction"
    on_task_failure: TaskFailureMode = "noaction"
    job_preparation_task: JobPreparationTaskSpec | None = None
    job_release_task: JobReleaseTaskSpec | None = None
    node_os: NodeOs = "linux"
    file_conventions: FileConventionsSpec | None = Field(
        default=None,
        description="Hand every task the output container URL with a write SAS in "
        "AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL (the batch-file-conventions library reads it); "
        "install_library: the preparation task installs the library.",
    )

    @field_validator("max_parallel_tasks")
    @classmethod
    def _parallel(cls, value: int) -> int:
        if value == 0:
            raise error("must be -1 (unlimited) or at least 1, got 0")
        return value

    def _metadata_sdk(self) -> list[batch_models.BatchMetadataItem] | None:
        return [batch_models.BatchMetadataItem(name=k, value=v) for k, v in self.metadata.items()] or None

    def with_library(self, wheel_url: str) -> Self:
        """This job (or a schedule's job specification) with its preparation task installing the library.

        ``wheel_url`` is the wheel's blob URL with a read SAS. The wheel becomes a resource file of
        the preparation task; the install command runs before the user's own preparation command
        (``/bin/sh -c '<install> && exec "$0" "$@"' <the user's command>``, so that command keeps
        its arguments as written) or is the whole task when the job declares none.
        """
        from pulumi_azbatch.conventions import library_install_command, library_wheel

        from .tasks import ResourceFileSpec

        assert self.file_conventions is not None
        wheel_file = library_wheel().filename
        install = library_install_command(wheel_file, self.file_conventions.library_dependencies)
        resource = ResourceFileSpec(http_url=wheel_url, file_path=wheel_file)
        prep = self.job_preparation_task
        if prep is None:
            prep = JobPreparationTaskSpec(
                command_line=f"/bin/sh -c {shlex.quote(install)}", resource_files=[resource]
            )
        else:
            chained = f'{install} && exec "$0" "$@"'
            prep = prep.model_copy(
                update={
                    "command_line": f"/bin/sh -c {shlex.quote(chained)} {prep.command_line}",
                    "resource_files": [*prep.resource_files, resource],
                }
            )
        return self.model_copy(update={"job_preparation_task": prep})

    def job_properties_sdk(self) -> dict[str, Any]:
        """The SDK keyword arguments these properties map to, the same in ``BatchJobCreateOptions``
        and ``BatchJobSpecification`` (``all_tasks_complete_mode`` is left to each)."""
        return {
            "display_name": self.display_name,
            "pool_info": batch_models.BatchPoolInfo(pool_id=self.pool_id),
            "priority": self.priority,
            "max_parallel_tasks": self.max_parallel_tasks,
            "allow_task_preemption": self.allow_task_preemption,
            "uses_task_dependencies": self.uses_task_dependencies,
            "constraints": self.constraints.to_sdk(),
            "common_environment_settings": env_to_sdk(self.common_environment_settings),
            "metadata": self._metadata_sdk(),
            "task_failure_mode": self.on_task_failure,
            "job_preparation_task": self.job_preparation_task.to_sdk() if self.job_preparation_task else None,
            "job_release_task": self.job_release_task.to_sdk() if self.job_release_task else None,
        }


class JobSpec(JobPropertiesSpec):
    """A whole Batch job: its properties (:class:`JobPropertiesSpec`), id, tasks, factories and provider knobs.

    ``id`` is optional: the provider autonames it from the resource name, see :func:`make_job_id`.

    Tasks: ``tasks`` (explicit) and ``task_factories`` (expanded on demand, see :meth:`expand_tasks`).

    Outputs: ``output_container_url`` is the job's File Conventions container with a write SAS (or
    without SAS plus ``identity_reference`` on the outputs); outputs declared by kind go there.

    ``file_conventions`` (:class:`FileConventionsSpec`) hands the tasks that container with a short
    write SAS through the environment, for the ``batch-file-conventions`` library.

    ``previous_outputs`` says what creating the job does with what an earlier job of the same id
    left in the container (a replaced job, or a destroy that kept the container): ``keep_apart``
    (default) moves those blobs under ``$PreviousRuns/<time>/``, ``delete`` deletes them, ``mix``
    leaves them beside the new run's.

    Provider knobs: ``on_destroy`` (``terminate_then_delete`` default | ``terminate`` | ``delete``),
    ``wait_for`` (``none`` default | ``preparation`` | ``tasks``) with ``wait_timeout`` (default 1 h)
    and ``fail_on_task_failure``.

    Constructing a ``JobSpec`` runs every rule and raises ``pydantic.ValidationError`` listing all
    failures; :func:`validate_job` returns them as a list instead, and tolerates unknown values.
    """

    id: str | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    task_factories: list[TaskFactory] = Field(default_factory=list)
    output_container_url: str | None = Field(
        default=None, description="The job's File Conventions output container URL with a write SAS (secret)."
    )
    previous_outputs: PreviousOutputs = Field(
        default="keep_apart",
        description="When the job is created, an earlier run's blobs in its output container are moved "
        "under $PreviousRuns/<time>/ (keep_apart), deleted (delete) or left (mix).",
    )
    on_destroy: OnDestroy = "terminate_then_delete"
    wait_for: WaitFor = "none"
    wait_timeout: timedelta = timedelta(hours=1)
    fail_on_task_failure: bool = Field(
        default=True, description="With wait_for: tasks, fail the deployment when a task failed."
    )

    _positive = field_validator("wait_timeout")(positive_duration)

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> JobSpec:
        if info.context and info.context.get(DEFER_RULES):
            return self
        failures = run_rules(self, Unknowns(set()), datetime.now(UTC))
        if failures:
            problems = "\n".join(f"  {f}" for f in failures)
            raise error(f"{len(failures)} problem(s) in the job:\n{problems}")
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
            id=self.effective_id(job_id), all_tasks_complete_mode="noaction", **self.job_properties_sdk()
        )

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
