"""The report `make up` prints after `pulumi up`, for any stack: its pools, its jobs and what they persisted,
and its job schedules.

Per pool: its id and nodes. Per job: state and task counts; failed tasks first, each with its exit
code, failure and the tail of its stderr; per node, the job preparation and release task results
(and, where a job preparation task wrote the JobPrepRelease sample's shared file, its contents);
then the outputs of the job's current run summarised per task and kind (``$TaskOutput``, ``$TaskLog``,
``$JobLog``...) by the File Conventions reader (``batch_file_conventions.OutputReader``), not blob by
blob, so a job of hundreds of tasks gives a page, not a listing, and the earlier runs of the job id
kept apart under ``$PreviousRuns/`` (``previous_outputs``) are named, not mixed in. Facts
are read live from the Batch data plane and the blob containers, using the stack's outputs (the
``pools``/``jobs`` maps, or the single-workload outputs of older stacks) to find them. A fact that
cannot be read is one line saying so (the service's error code and message), never a traceback.

Per job schedule (the stack's ``schedules`` map): its state, next run time, most recent job and how
many jobs it has created (read live, as the jobs are).

May import: the Azure SDKs, ``batch_file_conventions`` (the reader),
:mod:`pulumi_azbatch.dynamic_providers.lifecycle` (the provider's own readers of task counts, failed
tasks, stderr tails and node results).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from batch_file_conventions import KindSummary, OutputReader

SHARED_FILE = "shared/job_prep_and_release.txt"
RELEASE_LINE = re.compile(
    r"job (?P<job>\S+): node (?P<node>\S+): preparation exit code (?P<prep>\S+), "
    r"(?:release exit code (?P<release>-?\d+)|no release task ran)"
)
#: Up to this many tasks with outputs, the report lists them one by one; beyond, it sums per kind.
LISTED_TASKS = 10
#: Failed tasks shown per job (with their stderr tails).
LISTED_FAILURES = 10

T = TypeVar("T")


@dataclass
class NodeReport:
    """One compute node that ran the job: its preparation and release results (and the sample's shared file)."""

    node_id: str
    shared_file: str | None
    preparation_state: str | None = None
    preparation_exit_code: int | None = None
    release_exit_code: int | None = None


@dataclass
class BlobReport:
    name: str
    size: int


@dataclass
class FailedTask:
    task_id: str
    exit_code: int | None
    failure: str
    stderr_tail: str


@dataclass
class PoolReport:
    name: str
    pool_id: str
    node_ids: list[str] = field(default_factory=list)


@dataclass
class JobReport:
    """One job: state, counts, failed tasks first, per-node preparation/release, outputs by task and kind."""

    name: str
    job_id: str
    pool_id: str = ""
    job_state: str = "unknown"
    task_counts: dict[str, int] = field(default_factory=dict)
    failed: list[FailedTask] = field(default_factory=list)
    nodes: list[NodeReport] = field(default_factory=list)
    container: str = ""
    #: the current run's outputs per task and kind (``task_id`` None: the job's own, e.g. ``JobLog``)
    outputs: list[KindSummary] = field(default_factory=list)
    #: earlier runs of this job id kept apart in the container (``$PreviousRuns/<run>/``), oldest first
    previous_runs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    portal_url: str | None = None

    def render(self) -> list[str]:
        counts = ", ".join(f"{v} {k}" for k, v in self.task_counts.items()) or "no counts"
        lines = [f"Job {self.job_id} ({self.name}) on pool {self.pool_id}: {self.job_state}; tasks: {counts}"]
        lines += [f"  ! {p}" for p in self.problems]
        if self.failed:
            lines.append(f"  Failed tasks ({self.task_counts.get('failed', len(self.failed))}):")
            for task in self.failed:
                lines.append(
                    f"    {task.task_id}: exit code {task.exit_code}{f', {task.failure}' if task.failure else ''}"
                )
                lines += [f"      | {line}" for line in task.stderr_tail.splitlines()]
        for node in self.nodes:
            prep = (
                "did not run"
                if node.preparation_state is None
                else (
                    f"exit code {node.preparation_exit_code}"
                    if node.preparation_state == "completed"
                    else node.preparation_state
                )
            )
            release = (
                "" if node.release_exit_code is None else f"; release: exit code {node.release_exit_code}"
            )
            lines.append(f"  Node {node.node_id}: preparation: {prep}{release}")
            if node.shared_file is not None:
                lines.append(f"    {SHARED_FILE}:")
                lines += [f"      {line}" for line in node.shared_file.rstrip("\n").splitlines()]
        lines += [f"  {line}" for line in summarise_outputs(self.container, self.outputs, self.previous_runs)]
        if self.portal_url:
            lines.append(f"  Portal: {self.portal_url}")
        return lines


@dataclass
class ScheduleReport:
    """One job schedule: state, next run, the most recent job (its state) and how many jobs it created."""

    name: str
    schedule_id: str
    state: str = "unknown"
    next_run_time: str | None = None
    recent_job: str | None = None
    recent_job_state: str | None = None
    jobs_created: int = 0
    problems: list[str] = field(default_factory=list)
    portal_url: str | None = None

    def render(self) -> list[str]:
        next_run = self.next_run_time or "none scheduled"
        recent = (
            f"{self.recent_job} ({self.recent_job_state or 'state unknown'})"
            if self.recent_job
            else "none yet"
        )
        lines = [
            f"Job schedule {self.schedule_id} ({self.name}): {self.state}; next run: {next_run}; "
            f"recent job: {recent}; jobs created: {self.jobs_created}"
        ]
        lines += [f"  ! {p}" for p in self.problems]
        if self.portal_url:
            lines.append(f"  Portal: {self.portal_url}")
        return lines


@dataclass
class StackReport:
    """What `make up` shows for a stack: its pools, then each job, then each job schedule."""

    pools: list[PoolReport] = field(default_factory=list)
    jobs: list[JobReport] = field(default_factory=list)
    schedules: list[ScheduleReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"Pool {p.pool_id} ({p.name}): {len(p.node_ids)} node(s)" for p in self.pools]
        lines += [f"! {p}" for p in self.problems]
        for job in self.jobs:
            lines += ["", *job.render()]
        for schedule in self.schedules:
            lines += ["", *schedule.render()]
        return "\n".join(lines)

    # The single-workload view (one job), as the sample's tests and tooling read it.
    @property
    def nodes(self) -> list[NodeReport]:
        return self.jobs[0].nodes if len(self.jobs) == 1 else []

    @property
    def outputs(self) -> list[KindSummary]:
        return self.jobs[0].outputs if len(self.jobs) == 1 else []

    @property
    def container(self) -> str:
        return self.jobs[0].container if len(self.jobs) == 1 else ""


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def summarise_outputs(
    container: str, outputs: list[KindSummary], previous_runs: Sequence[str] = ()
) -> list[str]:
    """The current run's outputs per task and kind, the job's own kinds (``$JobLog``...) first.

    Up to :data:`LISTED_TASKS` tasks are listed one by one; more are summed per kind. Earlier runs
    kept apart in the container are named last.
    """
    count = sum(o.count for o in outputs)
    lines = [
        f"Outputs in container {container} (current run): {count} blob(s), {_size(sum(o.size for o in outputs))}"
    ]
    per_task: dict[str, list[KindSummary]] = defaultdict(list)
    for output in outputs:
        if output.task_id is None:
            lines.append(f"  ${output.kind}: {output.count} blob(s), {_size(output.size)}")
        else:
            per_task[output.task_id].append(output)

    def kinds(groups: list[KindSummary]) -> str:
        return ", ".join(f"${o.kind} {o.count} blob(s) {_size(o.size)}" for o in groups)

    if len(per_task) <= LISTED_TASKS:
        lines += [f"  {task}: {kinds(groups)}" for task, groups in sorted(per_task.items())]
    else:
        by_kind: dict[str, list[KindSummary]] = defaultdict(list)
        for groups in per_task.values():
            for output in groups:
                by_kind[output.kind].append(output)
        lines.append(f"  {len(per_task)} tasks with outputs ({', '.join(sorted(per_task)[:3])}, ...):")
        for kind, found in sorted(by_kind.items()):
            lines.append(
                f"    ${kind}: {len(found)} task(s), {sum(o.count for o in found)} blob(s), "
                f"{_size(sum(o.size for o in found))}"
            )
    if previous_runs:
        shown = ", ".join(previous_runs[-3:])
        lines.append(
            f"  Earlier runs of this job id, kept apart under $PreviousRuns/: {len(previous_runs)} ({shown}); "
            "OutputReader(...).previous_run(name) reads one"
        )
    return lines


def _text(value: Any) -> str:
    """An SDK enum member or string as the service's own lower-case text."""
    return str(getattr(value, "value", value))


def _attempt(problems: list[str], what: str, call: Callable[[], T], default: T) -> T:
    """``call()``, or ``default`` with one line in ``problems`` (the service's code and message)."""
    try:
        return call()
    except AzureError as exc:
        code = getattr(getattr(exc, "error", None), "code", None) or type(exc).__name__
        message = str(getattr(exc, "message", "") or exc).splitlines()[0]
        problems.append(f"could not read {what}: {code}: {message}")
        return default


def _declared(outputs: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The stack's pools and jobs by name: the ``pools``/``jobs`` maps, or an older stack's single names."""
    if isinstance(outputs.get("jobs"), dict):
        return dict(outputs.get("pools") or {}), dict(outputs["jobs"])
    pools = {"pool": {"pool_id": outputs["pool_id"]}} if outputs.get("pool_id") else {}
    jobs = {}
    if outputs.get("job_id"):
        jobs["job"] = {
            "job_id": outputs["job_id"],
            "pool_id": outputs.get("pool_id"),
            "output_container_name": outputs.get("output_container_name"),
        }
    return pools, jobs


def build_report(outputs: dict[str, Any], storage_key: str) -> StackReport:
    """Read every pool's and job's facts live; ``outputs`` are the stack outputs (with secrets shown)."""
    from azure.batch import BatchClient
    from azure.storage.blob import BlobServiceClient

    batch = BatchClient(
        endpoint=outputs["batch_account_url"],
        credential=AzureNamedKeyCredential(outputs["batch_account_name"], outputs["batch_account_key"]),
    )
    blobs = BlobServiceClient(
        account_url=outputs["blob_url"],
        credential={"account_name": outputs["storage_account_name"], "account_key": storage_key},
    )
    report = StackReport()
    pools, jobs = _declared(outputs)
    for name, pool in pools.items():
        pool_id = str(pool["pool_id"])
        listing = functools.partial(_node_ids, batch, pool_id)
        node_ids: list[str] = _attempt(report.problems, f"the nodes of pool {pool_id}", listing, [])
        report.pools.append(PoolReport(name, pool_id, node_ids))
    for name, job in jobs.items():
        report.jobs.append(
            _read_job(batch, blobs, name, job, outputs.get("backend"), outputs["batch_account_url"])
        )
    for name, schedule in dict(outputs.get("schedules") or {}).items():
        report.schedules.append(
            _read_schedule(batch, name, schedule, outputs.get("backend"), outputs["batch_account_url"])
        )
    return report


def _read_schedule(
    batch: Any, name: str, schedule: dict[str, Any], backend: Any, batch_url: str
) -> ScheduleReport:
    """One job schedule's section, read live; what cannot be read becomes a line in its ``problems``."""
    schedule_id = str(schedule["schedule_id"])
    section = ScheduleReport(name, schedule_id)
    problems = section.problems
    found = _attempt(
        problems, f"job schedule {schedule_id}", lambda: batch.get_job_schedule(schedule_id), None
    )
    if found is None:
        return section
    section.state = _text(found.state)
    info = found.execution_info
    if info is not None:
        section.next_run_time = info.next_run_time.isoformat() if info.next_run_time else None
        section.recent_job = info.recent_job.id if info.recent_job else None
    created: list[Any] = _attempt(
        problems,
        "the jobs it created",
        lambda: list(batch.list_jobs_from_schedule(schedule_id, select=["id", "state"])),
        [],
    )
    section.jobs_created = len(created)
    states = {job.id: _text(job.state) for job in created}
    section.recent_job_state = states.get(section.recent_job) if section.recent_job else None
    if backend == "local":
        section.portal_url = f"{batch_url.rstrip('/')}/portal/schedules/{schedule_id}"
    return section


def _read_job(
    batch: Any, blobs: Any, name: str, job: dict[str, Any], backend: Any, batch_url: str
) -> JobReport:
    """One job's section; what cannot be read becomes a line in its ``problems``."""
    from pulumi_azbatch.dynamic_providers.lifecycle import failed_tasks, stderr_tail, task_counts

    job_id = job["job_id"]
    section = JobReport(
        name, job_id, pool_id=job.get("pool_id") or "", container=job.get("output_container_name") or ""
    )
    problems = section.problems
    state: str | None = _attempt(problems, f"job {job_id}", lambda: _text(batch.get_job(job_id).state), None)
    if state is None:
        return section
    section.job_state = state
    section.task_counts = _attempt(problems, "task counts", lambda: task_counts(batch, job_id), {})
    if section.task_counts.get("failed"):
        failed_list: list[dict[str, Any]] = _attempt(
            problems, "failed tasks", lambda: failed_tasks(batch, job_id, limit=LISTED_FAILURES), []
        )
        for failed in failed_list:
            info = failed.get("failure_info") or {}
            failure = f"{info.get('code')}: {info.get('message')}" if info else ""
            tail = stderr_tail(batch, job_id, failed["id"])
            section.failed.append(FailedTask(failed["id"], failed.get("exit_code"), failure, tail))
    statuses: list[Any] = _attempt(
        problems,
        "preparation and release results",
        lambda: list(batch.list_job_preparation_and_release_task_status(job_id)),
        [],
    )
    for status in sorted(statuses, key=lambda s: s.node_id or ""):
        prep, release = status.job_preparation_task_execution_info, status.job_release_task_execution_info
        section.nodes.append(
            NodeReport(
                node_id=status.node_id,
                shared_file=_shared_file(batch, status.pool_id or section.pool_id, status.node_id),
                preparation_state=_text(prep.state) if prep else None,
                preparation_exit_code=prep.exit_code if prep else None,
                release_exit_code=release.exit_code if release else None,
            )
        )
    if section.container:
        reader = OutputReader(blobs.get_container_client(section.container))
        section.outputs = _attempt(problems, f"container {section.container}", reader.summary, [])
        section.previous_runs = _attempt(
            problems, f"earlier runs in container {section.container}", reader.previous_runs, []
        )
    if backend == "local":
        section.portal_url = f"{batch_url.rstrip('/')}/portal/jobs/{job_id}"
    return section


def _node_ids(batch: Any, pool_id: str) -> list[str]:
    return [n.id for n in batch.list_nodes(pool_id)]


def _shared_file(batch: Any, pool_id: str, node_id: str) -> str | None:
    """The JobPrepRelease sample's shared file on a node, when the job wrote one (else None)."""
    try:
        return b"".join(batch.download_node_file(pool_id, node_id, SHARED_FILE)).decode()
    except (ResourceNotFoundError, AzureError):
        return None


def kept_blobs(
    outputs: dict[str, Any], storage_key: str, container: str | None = None
) -> list[BlobReport] | None:
    """The blobs left in an output container (default: the single job's) after a destroy that retains it,
    or None if gone."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient(
        account_url=outputs["blob_url"],
        credential={"account_name": outputs["storage_account_name"], "account_key": storage_key},
    ).get_container_client(container or outputs["output_container_name"])
    if not client.exists():
        return None
    return [BlobReport(b.name, int(b.size)) for b in client.list_blobs()]


def release_exit_codes(destroy_output: str) -> dict[str, int | None]:
    """Each node's job release task exit code, from the lines the Job provider prints on destroy."""
    codes: dict[str, int | None] = {}
    for match in RELEASE_LINE.finditer(destroy_output):
        codes[match["node"]] = int(match["release"]) if match["release"] is not None else None
    return codes
