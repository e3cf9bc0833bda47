"""BatchJob: the Job resource wired to a pool and an output container, with File Conventions defaults."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import pulumi

from pulumi_azbatch.model.job import FileConventionsSpec, JobSpec

from .backend import PoolRef
from .pool import BatchPool
from .storage import OutputStorage

__all__ = ["TASK_LOG_FILES", "BatchJob", "BatchJobArgs", "add_task_logs", "with_task_logs"]

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
    With ``file_conventions`` on the job, its tasks get the container URL with a SAS of their own
    (lifetime and permissions from :class:`FileConventionsSpec`) in
    ``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL``, for the ``batch-file-conventions`` library; with
    ``file_conventions.install_library`` the job's preparation task installs that library on every
    node from a wheel in the container (read SAS of that blob only; needs an :class:`OutputStorage`).
    Unless the job says ``previous_outputs: mix``, the Job gets a list/read/write/delete SAS of the
    container (1 day, re-signed by ``up``) to move an earlier run's outputs aside when it is created.
    ``secret_properties`` are job properties (``common_environment_settings``, ``tasks``...; ``*``
    for all) stored as secrets, e.g. because their stack config value is secret.
    """

    job: JobSpec | Mapping[str, Any]
    pool: BatchPool | PoolRef
    output: OutputStorage | pulumi.Input[str]
    persist_task_logs: bool = True
    #: Take over an existing job of the same id that is not this resource's (announced by preview).
    adopt: bool = False
    secret_properties: frozenset[str] = frozenset()


def _segments_match(pattern: list[str], path: list[str]) -> bool:
    """Match path segments as the Batch service matches file patterns relative to the working directory.

    ``*`` and ``?`` stay inside one segment, a whole-segment ``**`` spans any number of directories,
    and ``..`` (the parent of the working directory) is matched only by a literal ``..``: ``*.txt``
    names files in the working directory, never ``../stdout.txt``.
    """
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_segments_match(rest, path[i:]) for i in range(len(path) + 1) if ".." not in path[:i])
    if not path:
        return False
    if path[0] == ".." or head == "..":
        return head == path[0] and _segments_match(rest, path[1:])
    return fnmatchcase(path[0], head) and _segments_match(rest, path[1:])


def _covers(outputs: list[Mapping[str, Any]], path: str) -> bool:
    """True when one of the task's ``TaskLog`` outputs already uploads ``path`` (so it is not added twice).

    Outputs of another kind or destination do not count: the log still belongs in ``$TaskLog``.
    """
    wanted = [p for p in path.split("/") if p not in ("", ".")]
    for output in outputs:
        if output.get("kind") != "TaskLog":
            continue
        pattern = str(output.get("file_pattern", "")).replace("\\", "/")
        if _segments_match([p for p in pattern.split("/") if p not in ("", ".")], wanted):
            return True
    return False


def add_task_logs(task: dict[str, Any]) -> None:
    """Make one task mapping (a task, a factory's template, a schedule's job manager) persist its
    stdout/stderr as ``TaskLog`` outputs, in place, unless its outputs already cover them."""
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
        add_task_logs(task)
    for factory in out.get("task_factories") or []:
        if isinstance(factory.get("repeat_task"), dict):
            add_task_logs(factory["repeat_task"])
    return out


class BatchJob(pulumi.ComponentResource):
    """A Batch job (the ``azbatch:Job`` dynamic resource) on a pool, writing to an output container.

    Outputs: ``job_id``, ``url``, ``state``, ``task_counts``, ``failed_tasks`` (each failed task's id,
    exit code, failure info and node; also a warning), ``nodes`` (per node: the preparation and
    release task results), ``output_container`` (container URL without SAS). ``job`` is the
    underlying Job resource.
    """

    job_id: pulumi.Output[str]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    task_counts: pulumi.Output[dict[str, int]]
    failed_tasks: pulumi.Output[list[dict[str, Any]]]
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
        tasks_url: pulumi.Input[str] | None = None
        library_url: pulumi.Input[str] | None = None
        maintenance_url: pulumi.Input[str] | None = None
        storage = args.output if isinstance(args.output, OutputStorage) else None
        if raw.get("file_conventions") is not None:
            conventions = FileConventionsSpec.model_validate(raw["file_conventions"])
            tasks_url = (
                storage.tasks_sas_url(name, conventions.sas_lifetime, conventions.sas_permissions)
                if storage is not None
                else sas_url
            )
            if conventions.install_library and storage is not None:
                # A read SAS of the wheel's blob only: the preparation task's resource file.
                library_url = storage.library_sas_url(name)
        if raw.get("previous_outputs", "keep_apart") != "mix" and storage is not None:
            # Moving an earlier run's blobs aside (or deleting them) needs list, read, write and delete.
            maintenance_url = storage.signed_url(f"{name}-maintenance-sas", "rcwdl", timedelta(days=1))
        self.job = Job(
            name,
            raw,
            file_conventions_container_url=tasks_url,
            file_conventions_library_url=library_url,
            maintenance_container_url=maintenance_url,
            batch_account_url=pool.account.url,
            batch_account_name=pool.account.name,
            batch_account_key=pool.account.key,
            pool_id=pool.pool_id,
            output_container_url=pulumi.Output.secret(sas_url),
            # Container tasks on a pool (or local backend) that cannot run them fail at preview.
            container_refusal=args.pool.container_refusal if isinstance(args.pool, BatchPool) else None,
            secret_properties=args.secret_properties,
            adopt=args.adopt,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.job_id = self.job.job_id
        self.url = self.job.url
        self.state = self.job.state
        self.task_counts = self.job.task_counts
        self.failed_tasks = self.job.failed_tasks
        self.failed_tasks.apply(lambda failed: _warn_failed(self, failed))
        self.nodes = self.job.nodes
        self.output_container = self.job.output_container
        self.register_outputs(
            {
                "job_id": self.job_id,
                "url": self.url,
                "state": self.state,
                "task_counts": self.task_counts,
                "failed_tasks": self.failed_tasks,
                "nodes": self.nodes,
                "output_container": self.output_container,
            }
        )


def _warn_failed(resource: pulumi.Resource, failed: list[dict[str, Any]] | None) -> None:
    """A warning listing the failed tasks (``fail_on_task_failure: false`` keeps the deployment going)."""
    if not failed:
        return
    shown = ", ".join(f"{t.get('id')} (exit code {t.get('exit_code')})" for t in failed[:10])
    more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
    pulumi.log.warn(
        f"{len(failed)} failed task(s): {shown}{more}; see the failed_tasks output", resource=resource
    )
