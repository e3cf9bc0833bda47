"""The job schedule: :class:`JobScheduleSpec`, its timetable, its job specification and job manager task.

A job schedule creates one job per run from its job specification. That specification is the job
model's service properties (:class:`~.job.JobPropertiesSpec`, the same model the Job resource uses)
plus an optional :class:`JobManagerTaskSpec`; it has no id (the service names each run's job
``<schedule id>:job-<n>``) and no task list: Batch's ``jobSpecification`` carries none (REST
``JobSpecification``, SDK ``BatchJobSpecification``), so the tasks of a recurring job come from its
job manager task (which adds them, or is the work itself), or from outside. A schedule without a
job manager task creates empty jobs, e.g. for a submitter that adds tasks to the newest run.

Which properties the service changes in place (PATCH ``/jobschedules/{id}``): the timetable
(``schedule``), the whole ``job_specification`` and ``metadata``; the changes apply to the jobs
created after the update, never to a running one. ``display_name`` cannot change: a new schedule
(:data:`SCHEDULE_FIELDS_REPLACED`).

Owns: :class:`ScheduleSpec`, :class:`JobManagerTaskSpec`, :class:`JobSpecificationSpec`,
:class:`JobScheduleSpec`, their SDK mappings, :func:`as_job_spec` (the job a run of the schedule
is, for the one rules engine) and :data:`SCHEDULE_FIELDS_UPDATABLE_IN_PLACE`.

May import: :mod:`.common`, :mod:`.job`, :mod:`.tasks`, :mod:`.outputs`, pydantic, ``azure.batch.models``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from azure.batch import models as batch_models
from pydantic import Field, field_validator, model_validator

from .common import EnvironmentValue, SpecModel, error, positive_duration
from .job import JobPropertiesSpec, OnDestroy
from .outputs import OutputFileSpec, outputs_to_sdk
from .tasks import TaskBase, TaskConstraintsSpec

__all__ = [
    "DEFAULT_JOB_MANAGER_TASK_ID",
    "MIN_RECURRENCE_INTERVAL",
    "SCHEDULE_FIELDS_REPLACED",
    "SCHEDULE_FIELDS_TOGGLED",
    "SCHEDULE_FIELDS_UPDATABLE_IN_PLACE",
    "JobManagerTaskSpec",
    "JobScheduleSpec",
    "JobSpecificationSpec",
    "ScheduleSpec",
    "as_job_spec",
]

#: The service rejects a recurrence interval (and a start window) shorter than one minute.
MIN_RECURRENCE_INTERVAL = timedelta(minutes=1)
#: The job manager task's id when none is given (the service has no default: this model's choice).
DEFAULT_JOB_MANAGER_TASK_ID = "jobmanager"
#: Schedule properties the service can change on an existing schedule; they apply to later jobs only.
SCHEDULE_FIELDS_UPDATABLE_IN_PLACE: frozenset[str] = frozenset({"schedule", "job_specification", "metadata"})
#: Changed by the disable / enable operations rather than a PATCH.
SCHEDULE_FIELDS_TOGGLED: frozenset[str] = frozenset({"enabled"})
#: Schedule properties no update operation carries: a change creates a new schedule.
SCHEDULE_FIELDS_REPLACED: frozenset[str] = frozenset({"id", "display_name"})


class ScheduleSpec(SpecModel):
    """When the schedule creates jobs (SDK ``BatchJobScheduleConfiguration``).

    ``do_not_run_until`` (default: now), ``do_not_run_after`` (after it the schedule completes),
    ``start_window`` (a run not started within it after its due time is skipped; default: no limit)
    and ``recurrence_interval`` (at least 1 minute; at most one active job at a time: a run due while
    the previous job is still active waits and is skipped if its window passes; unset: one job only).
    Times are ISO-8601 with a zone (``2026-12-04T02:00:00Z``); durations ISO-8601 (``P1D``, ``PT6H``)
    or seconds.
    """

    do_not_run_until: datetime | None = None
    do_not_run_after: datetime | None = None
    start_window: timedelta | None = Field(default=None, description="At least PT1M.")
    recurrence_interval: timedelta | None = Field(default=None, description="At least PT1M.")

    @field_validator("do_not_run_until", "do_not_run_after")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise error(f"{value.isoformat()} has no time zone; add Z (UTC) or an offset such as +01:00")
        return value

    @field_validator("start_window", "recurrence_interval")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_RECURRENCE_INTERVAL:
            raise error(f"must be at least 1 minute (PT1M), got {value.total_seconds():g} s")
        return value

    @model_validator(mode="after")
    def _order(self) -> ScheduleSpec:
        if self.do_not_run_until and self.do_not_run_after and self.do_not_run_after <= self.do_not_run_until:
            raise error("do_not_run_after must be later than do_not_run_until: the schedule would never run")
        return self

    def to_sdk(self) -> batch_models.BatchJobScheduleConfiguration:
        return batch_models.BatchJobScheduleConfiguration(
            do_not_run_until=self.do_not_run_until,
            do_not_run_after=self.do_not_run_after,
            start_window=self.start_window,
            recurrence_interval=self.recurrence_interval,
        )


class JobManagerTaskSpec(TaskBase):
    """The job manager task of every job the schedule creates (SDK ``BatchJobManagerTask``).

    It starts with each run's job, before any other task; it adds the run's tasks or does the work
    itself. ``kill_job_on_completion`` (service default true) ends the job when it finishes, so the
    next run is not blocked by an active job; ``run_exclusive`` (default true) keeps its node to
    itself; ``output_files`` are declared as for a task (File Conventions kinds go to the schedule's
    output container, ``<id>/$TaskOutput/...``).
    """

    id: str = Field(default=DEFAULT_JOB_MANAGER_TASK_ID, min_length=1)
    display_name: str | None = None
    constraints: TaskConstraintsSpec | None = None
    required_slots: int | None = Field(default=None, ge=1)
    output_files: list[OutputFileSpec] = Field(default_factory=list)
    kill_job_on_completion: bool = True
    run_exclusive: bool = True
    allow_low_priority_node: bool = True

    def to_sdk(
        self, *, output_container_url: str | None = None, schedule_id: str | None = None
    ) -> batch_models.BatchJobManagerTask:
        """The SDK ``BatchJobManagerTask``; File Conventions outputs resolved against the schedule's container."""
        outputs = outputs_to_sdk(
            self.output_files, task_id=self.id, output_container_url=output_container_url, job_id=schedule_id
        )
        return batch_models.BatchJobManagerTask(
            id=self.id,
            display_name=self.display_name,
            constraints=self.constraints.to_sdk() if self.constraints else None,
            required_slots=self.required_slots,
            output_files=outputs,
            kill_job_on_completion=self.kill_job_on_completion,
            run_exclusive=self.run_exclusive,
            allow_low_priority_node=self.allow_low_priority_node,
            **self._sdk_common(),
        )


class JobSpecificationSpec(JobPropertiesSpec):
    """What every job of the schedule is: the job's service properties plus its job manager task."""

    job_manager_task: JobManagerTaskSpec | None = None

    def to_sdk(
        self, *, output_container_url: str | None = None, schedule_id: str | None = None
    ) -> batch_models.BatchJobSpecification:
        """The SDK ``BatchJobSpecification`` (``onAllTasksComplete`` as declared: the job manager adds tasks)."""
        manager = (
            self.job_manager_task.to_sdk(output_container_url=output_container_url, schedule_id=schedule_id)
            if self.job_manager_task
            else None
        )
        return batch_models.BatchJobSpecification(
            all_tasks_complete_mode=self.on_all_tasks_complete,
            job_manager_task=manager,
            **self.job_properties_sdk(),
        )


class JobScheduleSpec(SpecModel):
    """A Batch job schedule: id, timetable, the job specification of its runs, metadata, provider knobs.

    ``id`` is optional (the provider autonames it from the resource name). ``output_container_url``
    is the schedule's File Conventions container (``job-<schedule id>``) with a write SAS; the job
    manager task's outputs by kind go there. ``enabled: false`` keeps the schedule disabled (the
    service's disable: no jobs are created and due runs are lost; the active job goes on);
    ``true`` (default) enables it again. ``on_destroy`` (``terminate_then_delete`` default |
    ``terminate`` | ``delete``): what ``pulumi destroy`` does; with a terminate, the active job's
    release tasks run and their logs are copied to ``$JobLog/<job id>/`` before the schedule goes.

    Validation of every job property and of the job manager task is the job's own (one rules engine,
    see :func:`as_job_spec`).
    """

    id: str | None = None
    display_name: str | None = None
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    job_specification: JobSpecificationSpec
    metadata: dict[str, EnvironmentValue] = Field(default_factory=dict)
    enabled: bool = Field(
        default=True, description="false: the schedule is disabled (creates no jobs; its due runs are lost)."
    )
    output_container_url: str | None = Field(
        default=None,
        description="The schedule's File Conventions output container URL with a write SAS (secret).",
    )
    on_destroy: OnDestroy = "terminate_then_delete"
    release_timeout: timedelta = Field(
        default=timedelta(minutes=15),
        description="How long destroy waits for the active job's release tasks.",
    )

    _positive = field_validator("release_timeout")(positive_duration)

    def effective_id(self, schedule_id: str | None = None) -> str:
        result = schedule_id or self.id
        if not result:
            raise ValueError("the schedule has no id: set JobScheduleSpec.id or pass schedule_id")
        return result

    def _metadata_sdk(self) -> list[batch_models.BatchMetadataItem] | None:
        return [batch_models.BatchMetadataItem(name=k, value=v) for k, v in self.metadata.items()] or None

    def job_specification_sdk(self, schedule_id: str | None = None) -> batch_models.BatchJobSpecification:
        sid = self.effective_id(schedule_id)
        return self.job_specification.to_sdk(output_container_url=self.output_container_url, schedule_id=sid)

    def to_batch_job_schedule_create(
        self, *, schedule_id: str | None = None
    ) -> batch_models.BatchJobScheduleCreateOptions:
        return batch_models.BatchJobScheduleCreateOptions(
            id=self.effective_id(schedule_id),
            display_name=self.display_name,
            schedule=self.schedule.to_sdk(),
            job_specification=self.job_specification_sdk(schedule_id),
            metadata=self._metadata_sdk(),
        )

    def to_batch_job_schedule_update(
        self, fields: set[str] | frozenset[str] | list[str], *, schedule_id: str | None = None
    ) -> batch_models.BatchJobScheduleUpdateOptions:
        """The PATCH carrying ``fields`` (names of :data:`SCHEDULE_FIELDS_UPDATABLE_IN_PLACE`).

        The service replaces each given part whole: ``job_specification`` and ``schedule`` are sent
        complete, ``metadata`` as the complete list (empty clears it).
        """
        unknown = set(fields) - SCHEDULE_FIELDS_UPDATABLE_IN_PLACE
        if unknown:
            raise ValueError(f"not updatable in place: {', '.join(sorted(unknown))}")
        options = batch_models.BatchJobScheduleUpdateOptions()
        if "schedule" in fields:
            options.schedule = self.schedule.to_sdk()
        if "job_specification" in fields:
            options.job_specification = self.job_specification_sdk(schedule_id)
        if "metadata" in fields:
            options.metadata = self._metadata_sdk() or []
        return options


#: Where the job manager task sits in the job :func:`as_job_spec` builds.
MANAGER_TASK_PATH = ("tasks", 0)


def as_job_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw job a run of the raw schedule ``raw`` is, for the job's validation and rules.

    The job specification's properties, the schedule's id and output container, and the job manager
    task as the job's only task (its schedule-only flags dropped). Failures on it map back with
    :func:`schedule_path`. ``raw`` is the mapping given by the user (values may be unknown).
    """
    spec = raw.get("job_specification")
    fields = JobPropertiesSpec.model_fields
    # Only the job's service properties: anything else is reported by the schedule's own structure.
    job: dict[str, Any] = {k: v for k, v in spec.items() if k in fields} if isinstance(spec, dict) else {}
    if raw.get("id") is not None:
        job["id"] = raw["id"]
    if raw.get("output_container_url") is not None:
        job["output_container_url"] = raw["output_container_url"]
    manager = spec.get("job_manager_task") if isinstance(spec, dict) else None
    if isinstance(manager, dict):
        extra = set(JobManagerTaskSpec.model_fields) - {"id", *_TASK_FIELDS}
        task = {k: v for k, v in manager.items() if k not in extra}
        task.setdefault("id", DEFAULT_JOB_MANAGER_TASK_ID)
        job["tasks"] = [task]
    return job


_TASK_FIELDS = ("display_name", "constraints", "required_slots", "output_files", *TaskBase.model_fields)


def schedule_path(job_path: str) -> str:
    """A property path of :func:`as_job_spec`'s job as the schedule's (``tasks[0].x`` is the job manager's)."""
    if job_path in ("id", "output_container_url") or job_path.startswith("output_container_url"):
        return job_path
    if job_path.startswith("tasks[0]"):
        return "job_specification.job_manager_task" + job_path[len("tasks[0]") :]
    return f"job_specification.{job_path}" if job_path else "job_specification"
