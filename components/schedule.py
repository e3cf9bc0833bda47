"""BatchJobSchedule: the JobSchedule resource wired to a pool and an output container, as BatchJob is."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from pulumi_azbatch.model.job import FileConventionsSpec
from pulumi_azbatch.model.schedule import JobScheduleSpec

from .backend import PoolRef
from .job import add_task_logs
from .pool import BatchPool
from .storage import OutputStorage

__all__ = ["BatchJobSchedule", "BatchJobScheduleArgs"]


@dataclass(frozen=True)
class BatchJobScheduleArgs:
    """A job schedule, the pool its jobs run on and where their outputs go.

    ``schedule`` is a :class:`JobScheduleSpec` or a mapping of its properties; its job
    specification's ``pool_id`` and its ``output_container_url`` are set from ``pool`` and ``output``.
    The container is the schedule's File Conventions container (``job-<schedule id>``): every run
    writes there, so the job manager task keeps runs apart by the run's job id
    (``$AZ_BATCH_JOB_ID``), and destroy copies the release logs under ``$JobLog/<job id>/``.
    With ``persist_task_logs`` (default) the job manager task also persists its stdout/stderr
    (``jobmanager/$TaskLog/``, the newest run's).

    ``job_specification.file_conventions`` works as a job's: every run's tasks get the container URL
    with a write SAS of its own (``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL``, in the runs' common
    environment) and, with ``install_library``, each run's preparation task installs the library
    from ``$Library/`` (a read SAS of the wheel). A schedule's runs start long after ``up``: both
    SAS live the storage's ``sas_lifetime`` (as the schedule's output SAS; re-signed by an ``up`` in
    their last quarter and PATCHed into the schedule) unless ``file_conventions.sas_lifetime`` is set
    to another value than its default.
    """

    schedule: JobScheduleSpec | Mapping[str, Any]
    pool: BatchPool | PoolRef
    output: OutputStorage | pulumi.Input[str]
    persist_task_logs: bool = True
    adopt: bool = False
    secret_properties: frozenset[str] = frozenset()


class BatchJobSchedule(pulumi.ComponentResource):
    """A Batch job schedule (the ``azbatch:JobSchedule`` dynamic resource) on a pool, with an output container.

    Outputs: ``schedule_id``, ``url``, ``state``, ``next_run_time``, ``recent_job``, ``jobs`` (the
    jobs it created, newest first), ``output_container`` (URL without SAS). ``schedule`` is the
    underlying JobSchedule resource.
    """

    schedule_id: pulumi.Output[str]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    next_run_time: pulumi.Output[str | None]
    recent_job: pulumi.Output[str | None]
    jobs: pulumi.Output[list[dict[str, Any]]]
    output_container: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: BatchJobScheduleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("azbatch:components:BatchJobSchedule", name, None, opts)
        from pulumi_azbatch.dynamic_providers.schedule import JobSchedule

        raw = (
            args.schedule.model_dump(mode="json", exclude_defaults=True)
            if isinstance(args.schedule, JobScheduleSpec)
            else copy.deepcopy(dict(args.schedule))
        )
        raw.pop("output_container_url", None)
        pool = args.pool.ref() if isinstance(args.pool, BatchPool) else args.pool
        spec = dict(raw.get("job_specification") or {})
        spec["pool_id"] = pool.pool_id
        manager = spec.get("job_manager_task")
        if args.persist_task_logs and isinstance(manager, Mapping):
            manager = dict(manager)
            add_task_logs(manager)
            spec["job_manager_task"] = manager
        raw["job_specification"] = spec
        sas_url = args.output.sas_url if isinstance(args.output, OutputStorage) else args.output
        depends: list[pulumi.Resource] = [
            r for r in (args.pool, args.output) if isinstance(r, pulumi.Resource)
        ]
        tasks_url: pulumi.Input[str] | None = None
        library_url: pulumi.Input[str] | None = None
        storage = args.output if isinstance(args.output, OutputStorage) else None
        if spec.get("file_conventions") is not None and storage is not None:
            conventions = FileConventionsSpec.model_validate(spec["file_conventions"])
            # Runs start until the next `up`, not just after it: the storage's lifetime (the schedule's
            # output SAS's) unless the schedule sets its own.
            lifetime = conventions.sas_lifetime if "sas_lifetime" in conventions.model_fields_set else None
            tasks_url = storage.tasks_sas_url(name, lifetime, conventions.sas_permissions)
            if conventions.install_library:
                # A read SAS of the wheel's blob only: each run's preparation task downloads it.
                library_url = storage.library_sas_url(name)
        self.schedule = JobSchedule(
            name,
            raw,
            batch_account_url=pool.account.url,
            batch_account_name=pool.account.name,
            batch_account_key=pool.account.key,
            output_container_url=pulumi.Output.secret(sas_url),
            container_refusal=args.pool.container_refusal if isinstance(args.pool, BatchPool) else None,
            file_conventions_container_url=tasks_url,
            file_conventions_library_url=library_url,
            secret_properties=args.secret_properties,
            adopt=args.adopt,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.schedule_id = self.schedule.schedule_id
        self.url = self.schedule.url
        self.state = self.schedule.state
        self.next_run_time = self.schedule.next_run_time
        self.recent_job = self.schedule.recent_job
        self.jobs = self.schedule.jobs
        self.output_container = self.schedule.output_container
        self.register_outputs(
            {
                "schedule_id": self.schedule_id,
                "url": self.url,
                "state": self.state,
                "next_run_time": self.next_run_time,
                "recent_job": self.recent_job,
                "jobs": self.jobs,
                "output_container": self.output_container,
            }
        )
