"""A job's life after creation: what it looks like now, the completion gate, and its end.

* :func:`job_snapshot`: the job's real state, task counts, failed tasks and per-node preparation and
  release results (what ``pulumi refresh`` and the outputs show).
* :func:`wait_for_gate`: ``wait_for: preparation | tasks`` with a deadline, polling the task *counts*
  (one cheap call, never per-task lists) with backoff, printing progress; on failure an error with
  the failed tasks' exit codes, failure info and the tail of their stderr.
* :func:`end_job`: terminate, wait until the release task has finished on every node that ran the
  preparation task, print each node's release exit code, copy the preparation and release tasks'
  stdout/stderr to ``$JobLog/<nodeId>/{jobpreparation,jobrelease}/`` in the output container,
  delete, and wait until the job is gone. Idempotent: a completed or missing job is fine.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from .base import say
from .batch_client import call_with_retry, error_code, max_poll_interval, poll_interval
from .host import CANCELLED, sleep_or_cancel

#: Release tasks run at most 15 minutes; the delete waits that long plus this margin.
RELEASE_MARGIN = timedelta(minutes=5)
#: How many failed tasks are listed in outputs and errors.
MAX_FAILED_TASKS = 20
STDERR_TAIL_LINES = 15
STDERR_TAIL_BYTES = 4096
JOB_LOG_PREFIX = "$JobLog"


class JobGateError(RuntimeError):
    """The completion gate failed (failed tasks or preparation, or the deadline passed)."""


class JobEndError(RuntimeError):
    """Ending the job did not finish within its deadline."""


def _download(client: Any, pool_id: str, node_id: str, path: str) -> bytes:
    return b"".join(client.download_node_file(pool_id, node_id, path))


def enum_text(value: Any) -> str | None:
    """An SDK enum (or plain string) as the service spells it, lower case."""
    return None if value is None else str(getattr(value, "value", value)).lower()


def _failure(info: Any) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"category": enum_text(info.category), "code": info.code, "message": info.message}


def _exec_info(info: Any, *, prep: bool) -> dict[str, Any] | None:
    if info is None:
        return None
    result: dict[str, Any] = {
        "state": enum_text(info.state),
        "exit_code": info.exit_code,
        "result": enum_text(info.result),
        "failure_info": _failure(info.failure_info),
        "task_root_directory": info.task_root_directory,
    }
    if prep:
        result["retry_count"] = info.retry_count
    return result


# The 409 of the status list on a job with neither task: the code the service answers (recorded
# traffic) and the one the SDK docstrings name.
NO_PREP_RELEASE = frozenset({"JobPreparationTaskOrReleaseTaskNotSpecified", "JobPreparationTaskNotSpecified"})


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, ResourceNotFoundError) or error_code(exc) in {"JobNotFound", *NO_PREP_RELEASE}


def prep_release_status(
    client: Any, job_id: str
) -> list[batch_models.BatchJobPreparationAndReleaseTaskStatus]:
    """The preparation/release status list, empty when the job has neither task (409) or is gone."""
    try:
        return call_with_retry(lambda: list(client.list_job_preparation_and_release_task_status(job_id)))
    except (ResourceNotFoundError, ResourceExistsError, HttpResponseError) as exc:
        if _missing(exc):
            return []
        raise


def node_results(
    statuses: list[batch_models.BatchJobPreparationAndReleaseTaskStatus],
) -> list[dict[str, Any]]:
    """Per-node preparation and release results, sorted by node id (output shape)."""
    return [
        {
            "pool_id": s.pool_id,
            "node_id": s.node_id,
            "preparation": _exec_info(s.job_preparation_task_execution_info, prep=True),
            "release": _exec_info(s.job_release_task_execution_info, prep=False),
        }
        for s in sorted(statuses, key=lambda s: s.node_id or "")
    ]


def task_counts(client: Any, job_id: str) -> dict[str, int]:
    """The job's task counts (``active``, ``running``, ``completed``, ``succeeded``, ``failed``)."""
    counts = call_with_retry(lambda: client.get_job_task_counts(job_id)).task_counts
    return {
        k: int(getattr(counts, k) or 0) for k in ("active", "running", "completed", "succeeded", "failed")
    }


def failed_tasks(client: Any, job_id: str, *, limit: int = MAX_FAILED_TASKS) -> list[dict[str, Any]]:
    """Up to ``limit`` failed tasks with exit code and failure info (one filtered list call)."""

    def fetch() -> list[batch_models.BatchTask]:
        found = []
        for task in client.list_tasks(
            job_id, filter="executionInfo/result eq 'failure'", select=["id", "executionInfo", "nodeInfo"]
        ):
            found.append(task)
            if len(found) >= limit:
                break
        return found

    result = []
    for task in call_with_retry(fetch):
        info = task.execution_info
        result.append(
            {
                "id": task.id,
                "exit_code": info.exit_code if info else None,
                "failure_info": _failure(info.failure_info) if info else None,
                "node_id": task.node_info.node_id if task.node_info else None,
            }
        )
    return result


def get_job(client: Any, job_id: str) -> batch_models.BatchJob | None:
    """The job, or None when it does not exist."""
    try:
        return call_with_retry(lambda: client.get_job(job_id))
    except ResourceNotFoundError:
        return None


def job_snapshot(client: Any, job_id: str, job: batch_models.BatchJob | None = None) -> dict[str, Any]:
    """The computed outputs of a job: ``state``, ``task_counts``, ``failed_tasks``, ``nodes``."""
    job = job or get_job(client, job_id)
    if job is None:
        return {"state": "deleted", "task_counts": None, "failed_tasks": [], "nodes": []}
    counts = task_counts(client, job_id)
    has_prep = job.job_preparation_task is not None
    return {
        "state": enum_text(job.state),
        "task_counts": counts,
        "failed_tasks": failed_tasks(client, job_id) if counts["failed"] else [],
        "nodes": node_results(prep_release_status(client, job_id)) if has_prep else [],
    }


def _tail(data: bytes, lines: int = STDERR_TAIL_LINES) -> str:
    text = data[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def stderr_tail(client: Any, job_id: str, task_id: str, *, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of a task's stderr.txt ('' when it cannot be read)."""
    try:
        data = b"".join(client.download_task_file(job_id, task_id, "stderr.txt"))
    except Exception:  # noqa: BLE001 - best effort: the error message is what matters
        return ""
    return _tail(data, lines)


def _indented_tail(tail: str) -> str:
    return "\n    stderr (tail):\n" + "\n".join(f"      {line}" for line in tail.splitlines()) if tail else ""


def preparation_failures(
    client: Any, job_id: str, statuses: list[batch_models.BatchJobPreparationAndReleaseTaskStatus]
) -> str | None:
    """A report of the nodes whose job preparation task failed (exit code, failure, stderr tail), or None."""
    lines = []
    for s in statuses:
        info = s.job_preparation_task_execution_info
        if info is None or enum_text(info.result) != "failure":
            continue
        f = _failure(info.failure_info) or {}
        line = f"  node {s.node_id}: exit code {info.exit_code}"
        if f:
            line += f", {f.get('category')} {f.get('code')}: {f.get('message')}"
        tail = ""
        if info.task_root_directory and s.pool_id and s.node_id:
            path = f"{info.task_root_directory.rstrip('/')}/stderr.txt"
            try:
                tail = _tail(_download(client, s.pool_id, s.node_id, path))
            except Exception:  # noqa: BLE001 - best effort: the exit code is what matters
                tail = ""
        lines.append(line + _indented_tail(tail))
    if not lines:
        return None
    return (
        f"job {job_id}: the job preparation task failed on {len(lines)} node(s); no task runs on such a "
        "node:\n" + "\n".join(lines)
    )


def describe_failed_tasks(client: Any, job_id: str, failed: list[dict[str, Any]]) -> str:
    """A readable report of failed tasks: exit code, failure info and stderr tail of each."""
    parts = []
    for task in failed:
        info = task.get("failure_info") or {}
        head = f"  task {task['id']}: exit code {task['exit_code']}"
        if info:
            head += f", {info.get('category')} {info.get('code')}: {info.get('message')}"
        parts.append(head + _indented_tail(stderr_tail(client, job_id, task["id"])))
    return "\n".join(parts)


#: The first sleep of every wait, so that a wait about to end (a release task of a few milliseconds,
#: a job being removed) costs a fraction of a second rather than a whole poll interval.
FIRST_POLL = 0.1


class _Poller:
    """Sleeps between polls: 0.1 s at first, doubling up to the configured interval, then x1.5 up to
    the maximum. The number of polls grows with the log of the wait, never with the number of tasks."""

    def __init__(self) -> None:
        self.base = poll_interval()
        self.cap = max_poll_interval()
        self.floor = min(FIRST_POLL, self.base)
        self.interval = self.floor

    def sleep(self, deadline: float, eta: float | None = None, *, cancellable: bool = False) -> bool:
        """Sleep the current interval, or less when the wait is expected to end sooner (``eta`` seconds).

        A ``cancellable`` sleep ends early when the engine cancels (first Ctrl-C); returns True then.
        Waits that end a job (destroy) are not cancellable: stopping them halfway helps nobody.
        """
        wanted = self.interval if eta is None else min(self.interval, max(self.floor, eta))
        seconds = max(0.0, min(wanted, deadline - time.monotonic()))
        if self.interval < self.base:
            self.interval = min(self.base, self.interval * 2)
        else:
            self.interval = min(self.cap, self.interval * 1.5)
        if cancellable:
            return sleep_or_cancel(seconds)
        time.sleep(seconds)
        return False


def wait_for_gate(
    client: Any,
    job_id: str,
    *,
    wait_for: str,
    timeout: timedelta,
    expected_tasks: int,
    fail_on_task_failure: bool = True,
    has_preparation: bool = False,
) -> dict[str, int] | None:
    """Block until the gate ``wait_for`` (``none`` | ``preparation`` | ``tasks``) is reached.

    ``preparation``: the preparation task has completed on every node it started on (at least one),
    and failed on none. ``tasks``: every task is completed; with ``fail_on_task_failure`` a failed task
    fails the gate, without it the failed tasks are reported as a warning. A preparation task that
    failed on a node (``has_preparation``) fails either gate at once: no task runs on that node.
    Raises :class:`JobGateError` with details (exit codes, failure info, stderr tail) on failure,
    when ``timeout`` passes, and when the engine cancels (Ctrl-C), within a poll interval.
    """
    if wait_for == "none":
        return None
    started = time.monotonic()
    deadline = started + timeout.total_seconds()
    poller = _Poller()
    last = ""
    first: tuple[float, int] | None = None  # (time, completed) at the first poll: the completion rate
    previous = 0
    eta: float | None = None
    while True:
        if CANCELLED.is_set():
            raise JobGateError(
                f"job {job_id}: the wait for '{wait_for}' was cancelled (Ctrl-C) after "
                f"{time.monotonic() - started:.1f} s; last status: {last or 'not polled yet'}. The job and "
                "its tasks go on; the next `pulumi up` waits again without resubmitting anything"
            )
        if wait_for == "preparation":
            statuses = prep_release_status(client, job_id)
            preps = [
                s.job_preparation_task_execution_info
                for s in statuses
                if s.job_preparation_task_execution_info
            ]
            done = [p for p in preps if enum_text(p.state) == "completed"]
            if failure := preparation_failures(client, job_id, statuses):
                raise JobGateError(failure)
            line = f"job {job_id}: preparation completed on {len(done)}/{len(preps)} node(s)"
            if preps and len(done) == len(preps):
                say(line)
                return None
            if expected_tasks == 0:
                say(f"job {job_id}: no tasks, so the preparation task runs on no node; not waiting")
                return None
        else:
            counts = task_counts(client, job_id)
            line = (
                f"job {job_id}: {counts['completed']}/{expected_tasks} tasks completed "
                f"({counts['running']} running, {counts['active']} active, {counts['failed']} failed)"
            )
            if counts["active"] == 0 and counts["running"] == 0 and counts["completed"] >= expected_tasks:
                say(line)
                if counts["failed"]:
                    failed_list = failed_tasks(client, job_id)
                    report = (
                        f"job {job_id}: {counts['failed']} of {counts['completed']} task(s) failed:\n"
                        + describe_failed_tasks(client, job_id, failed_list)
                    )
                    if fail_on_task_failure:
                        raise JobGateError(report)
                    say(f"warning: {report}\n(fail_on_task_failure: false, so the deployment goes on)")
                return counts
            # Tasks wait while the preparation task fails on the nodes: say so now, not at the deadline.
            if (
                has_preparation
                and counts["active"]
                and (failure := preparation_failures(client, job_id, prep_release_status(client, job_id)))
            ):
                raise JobGateError(failure)
            # Expected time to the last completion at the rate seen so far, so the next poll lands
            # near the end instead of up to a whole (backed-off) interval after it. Only while tasks
            # keep completing: a stalled last task falls back to the backoff, never to fast polls.
            now = time.monotonic()
            eta = None
            if first is None:
                first = (now, counts["completed"])
            elif counts["completed"] > previous and now > first[0]:
                rate = (counts["completed"] - first[1]) / (now - first[0])
                eta = max(0, expected_tasks - counts["completed"]) / rate
            previous = counts["completed"]
        if line != last:
            say(line)
            last = line
        if time.monotonic() >= deadline:
            raise JobGateError(
                f"job {job_id}: wait_for '{wait_for}' did not finish within {timeout}; last status: {line}. "
                "The job and its tasks go on; the next `pulumi up` waits again"
            )
        poller.sleep(deadline, eta, cancellable=True)


# ---- the end of a job ------------------------------------------------------------------------------


@dataclass
class EndReport:
    """What :func:`end_job` saw: per-node results before deletion and the harvested blob names."""

    nodes: list[dict[str, Any]]
    harvested: list[str]
    deleted: bool


def _terminate(client: Any, job_id: str) -> None:
    # azure-batch 15.1.0 fails client-side on a terminate without options, so always send a reason.
    options = batch_models._models.BatchJobTerminateOptions(termination_reason="UserTerminate")
    try:
        # The SDK's poller polls on its own thread; our own loop below owns the deadline.
        call_with_retry(lambda: client.begin_terminate_job(job_id, options, polling_interval=1))
    except (ResourceExistsError, HttpResponseError) as exc:
        # Already completed / terminating / being deleted: nothing to do here.
        if error_code(exc) not in {"JobCompleted", "JobBeingTerminated", "JobBeingDeleted"} and not _missing(
            exc
        ):
            raise


def wait_released(client: Any, job_id: str, deadline: float, *, label: str = "") -> list[dict[str, Any]]:
    """Wait until the job left ``terminating`` and release finished on every node that ran preparation.

    Prints each node's preparation and release exit codes and returns the per-node results.
    """
    poller = _Poller()
    last = ""
    while True:
        job = get_job(client, job_id)
        if job is None:
            return []
        statuses = prep_release_status(client, job_id) if job.job_preparation_task is not None else []
        ran_prep = [
            s
            for s in statuses
            if s.job_preparation_task_execution_info is not None
            and enum_text(s.job_preparation_task_execution_info.state) == "completed"
        ]
        waiting = [
            s.node_id
            for s in ran_prep
            if job.job_release_task is not None
            and (
                s.job_release_task_execution_info is None
                or enum_text(s.job_release_task_execution_info.state) != "completed"
            )
        ]
        state = enum_text(job.state)
        if state != "terminating" and not waiting:
            nodes = node_results(statuses)
            for node in nodes:
                prep = node["preparation"] or {}
                rel = node["release"]
                rel_text = f"release exit code {rel['exit_code']}" if rel else "no release task ran"
                say(
                    f"job {job_id}: node {node['node_id']}: preparation exit code {prep.get('exit_code')}, {rel_text}"
                )
            return nodes
        line = f"job {job_id}: {state}; waiting for the release task on {len(waiting)} node(s){label}"
        if line != last:
            say(line)
            last = line
        if time.monotonic() >= deadline:
            raise JobEndError(
                f"job {job_id}: still {state} with the release task unfinished on "
                f"{', '.join(str(n) for n in waiting) or 'no node'} at the deadline; run destroy again"
            )
        poller.sleep(deadline)


def harvest_logs(
    client: Any,
    job_id: str,
    statuses: list[dict[str, Any]],
    output_container_url: str | None,
    *,
    prefix: str = JOB_LOG_PREFIX,
) -> list[str]:
    """Copy preparation and release stdout/stderr of every node into ``<prefix>/<nodeId>/<task>/``.

    ``prefix`` is ``$JobLog`` for a job's own container; a schedule's runs share one container and
    keep apart under ``$JobLog/<job id>``.

    Best effort: a missing file or node is skipped with a message; returns the blob names written.
    """
    if not output_container_url or not statuses:
        return []
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_container_url(output_container_url)
    written: list[str] = []
    for node in statuses:
        for kind, info in (("jobpreparation", node["preparation"]), ("jobrelease", node["release"])):
            if not info or not info.get("task_root_directory"):
                continue
            for name in ("stdout.txt", "stderr.txt"):
                path = f"{info['task_root_directory'].rstrip('/')}/{name}"
                blob = f"{prefix}/{node['node_id']}/{kind}/{name}"
                try:
                    data = call_with_retry(
                        functools.partial(_download, client, node["pool_id"], node["node_id"], path)
                    )
                    container.upload_blob(blob, data, overwrite=True)
                except Exception as exc:  # noqa: BLE001 - logs are a courtesy; never block the delete
                    say(
                        f"job {job_id}: could not copy {path} from node {node['node_id']}: {type(exc).__name__}"
                    )
                    continue
                written.append(blob)
    if written:
        say(f"job {job_id}: copied {len(written)} preparation/release log file(s) to {prefix}/")
    return written


def wait_gone(client: Any, job_id: str, deadline: float) -> None:
    """Wait until the job no longer exists (so a replacement can reuse its id)."""
    poller = _Poller()
    while get_job(client, job_id) is not None:
        if time.monotonic() >= deadline:
            raise JobEndError(f"job {job_id} is still being deleted at the deadline; run destroy again")
        poller.sleep(deadline)


def _delete(client: Any, job_id: str) -> None:
    try:
        call_with_retry(lambda: client.begin_delete_job(job_id, polling_interval=1))
    except (ResourceNotFoundError, ResourceExistsError, HttpResponseError) as exc:
        if not _missing(exc) and error_code(exc) != "JobBeingDeleted":
            raise


def end_job(
    client: Any,
    job_id: str,
    *,
    mode: str,
    output_container_url: str | None,
    release_timeout: timedelta,
    on_progress: Callable[[str], None] | None = None,
) -> EndReport:
    """End job ``job_id`` per ``mode`` (``terminate_then_delete`` | ``terminate`` | ``delete``).

    The wait for release tasks lasts ``release_timeout`` plus :data:`RELEASE_MARGIN`; the wait for
    the deletion as long again. A missing job is success.
    """
    deadline = time.monotonic() + (release_timeout + RELEASE_MARGIN).total_seconds()
    job = get_job(client, job_id)
    if job is None:
        say(f"job {job_id} no longer exists; nothing to end")
        return EndReport([], [], True)
    state = enum_text(job.state)
    nodes: list[dict[str, Any]] = []
    harvested: list[str] = []
    if state == "deleting":
        wait_gone(client, job_id, deadline)
        return EndReport([], [], True)
    if mode in ("terminate_then_delete", "terminate"):
        if state in ("active", "disabled", "disabling", "enabling"):
            say(f"job {job_id}: terminating (release tasks run on every node that ran the preparation task)")
            _terminate(client, job_id)
        nodes = wait_released(client, job_id, deadline)
        harvested = harvest_logs(client, job_id, nodes, output_container_url)
        if mode == "terminate":
            say(f"job {job_id}: terminated and kept as history (on_destroy: terminate)")
            return EndReport(nodes, harvested, False)
    else:
        # Deleting an active job runs release, but deletion also removes the node files: keep the
        # preparation logs that exist now.
        nodes = node_results(prep_release_status(client, job_id)) if job.job_preparation_task else []
        harvested = harvest_logs(client, job_id, nodes, output_container_url)
    say(f"job {job_id}: deleting")
    _delete(client, job_id)
    wait_gone(client, job_id, time.monotonic() + (release_timeout + RELEASE_MARGIN).total_seconds())
    say(f"job {job_id}: deleted")
    return EndReport(nodes, harvested, True)
