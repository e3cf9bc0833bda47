"""BatchJob: the Job resource wired to a pool and an output container, with File Conventions defaults."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pulumi

from pulumi_azbatch.model.job import JobSpec

from .backend import PoolRef
from .pool import BatchPool
from .storage import OutputStorage

__all__ = ["TASK_LOG_FILES", "BatchJob", "BatchJobArgs", "with_task_logs"]

#: The task log files persisted by default: the task's stdout and stderr, one level above its working
#: directory, stored as ``{taskId}/$TaskLog/stdout.txt`` and ``.../stderr.txt``.
TASK_LOG_FILES = ("../stdout.txt", "../stderr.txt")


@dataclass(frozen=True)
class BatchJobArgs:
    """A job, the pool it runs on and where its outputs go.

    ``job`` is a :class:`JobSpec` or a mapping of its properties; its ``pool_id`` and
    ``output_container_url`` are set from ``pool`` and ``output`` (so a mapping may leave them out).
    ``pool`` is a :class:`BatchPool` or a :class:`PoolRef` (e.g. from another stack's outputs).
    ``output`` is an :class:`OutputStorage` or a container URL with a write SAS (secret).
    With ``persist_task_logs`` (default), every task also persists its stdout/stderr to
    ``{taskId}/$TaskLog`` on completion, unless it already declares an output for that file.
    """

    job: JobSpec | Mapping[str, Any]
    pool: BatchPool | PoolRef
    output: OutputStorage | pulumi.Input[str]
    persist_task_logs: bool = True


def _covers(outputs: list[Mapping[str, Any]], path: str) -> bool:
    """True when one of the task's output files already matches ``path`` (so it is not added twice)."""
    for output in outputs:
        pattern = str(output.get("file_pattern", "")).replace("\\", "/")
        if pattern == path or fnmatchcase(path, pattern):
            return True
    return False


def _add_logs(task: dict[str, Any]) -> None:
    outputs = list(task.get("output_files") or [])
    for path in TASK_LOG_FILES:
        if not _covers(outputs, path):
            outputs.append({"file_pattern": path, "kind": "TaskLog", "upload_condition": "taskcompletion"})
    task["output_files"] = outputs


def with_task_logs(job: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a job mapping whose every task (and task factory template) persists stdout/stderr.

    The outputs are File Conventions ``TaskLog`` outputs with upload condition ``taskcompletion``,
    so they land in ``{taskId}/$TaskLog/`` of the job's output container whatever the exit code.
    """
    out = copy.deepcopy(dict(job))
    for task in out.get("tasks") or []:
        _add_logs(task)
    for factory in out.get("task_factories") or []:
        if isinstance(factory.get("repeat_task"), dict):
            _add_logs(factory["repeat_task"])
    return out


class BatchJob(pulumi.ComponentResource):
    """A Batch job (the ``azbatch:Job`` dynamic resource) on a pool, writing to an output container.

    Outputs: ``job_id``, ``url``, ``state``, ``task_counts``, ``nodes`` (per node: the preparation and
    release task results), ``output_container`` (container URL without SAS). ``job`` is the
    underlying Job resource.
    """

    job_id: pulumi.Output[str]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    task_counts: pulumi.Output[dict[str, int]]
    nodes: pulumi.Output[list[dict[str, Any]]]
    output_container: pulumi.Output[str | None]

    def __init__(self, name: str, args: BatchJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("azbatch:components:BatchJob", name, None, opts)
        from pulumi_azbatch.dynamic_providers.job import Job

        raw = (
            args.job.model_dump(mode="json", exclude_defaults=True)
            if isinstance(args.job, JobSpec)
            else copy.deepcopy(dict(args.job))
        )
        if args.persist_task_logs:
            raw = with_task_logs(raw)
        raw.pop("pool_id", None)
        raw.pop("output_container_url", None)
        pool = args.pool.ref() if isinstance(args.pool, BatchPool) else args.pool
        sas_url = args.output.sas_url if isinstance(args.output, OutputStorage) else args.output
        depends: list[pulumi.Resource] = []
        if isinstance(args.pool, BatchPool):
            depends.append(args.pool)
        if isinstance(args.output, OutputStorage):
            depends.append(args.output)
        self.job = Job(
            name,
            raw,
            batch_account_url=pool.account.url,
            batch_account_name=pool.account.name,
            batch_account_key=pool.account.key,
            pool_id=pool.pool_id,
            output_container_url=pulumi.Output.secret(sas_url),
            # Container tasks on a pool (or local backend) that cannot run them fail at preview.
            container_refusal=args.pool.container_refusal if isinstance(args.pool, BatchPool) else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.job_id = self.job.job_id
        self.url = self.job.url
        self.state = self.job.state
        self.task_counts = self.job.task_counts
        self.nodes = self.job.nodes
        self.output_container = self.job.output_container
        self.register_outputs(
            {
                "job_id": self.job_id,
                "url": self.url,
                "state": self.state,
                "task_counts": self.task_counts,
                "nodes": self.nodes,
                "output_container": self.output_container,
            }
        )
