"""BatchJobSchedule: the JobSchedule resource wired to a pool and an output container, as BatchJob is."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from pulumi_azbatch.model.schedule import JobScheduleSpec

from .backend import PoolRef
from .job import _add_logs
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
            _add_logs(manager)
            spec["job_manager_task"] = manager
        raw["job_specification"] = spec
        sas_url = args.output.sas_url if isinstance(args.output, OutputStorage) else args.output
        depends: list[pulumi.Resource] = [
            r for r in (args.pool, args.output) if isinstance(r, pulumi.Resource)
        ]
        self.schedule = JobSchedule(
            name,
            raw,
            batch_account_url=pool.account.url,
            batch_account_name=pool.account.name,
            batch_account_key=pool.account.key,
            output_container_url=pulumi.Output.secret(sas_url),
            container_refusal=args.pool.container_refusal if isinstance(args.pool, BatchPool) else None,
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
