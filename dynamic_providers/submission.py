"""Adding a job's tasks: ⌈N/100⌉ add-collection calls, run concurrently with a bound, with bounded retries.

Why not the SDK's ``create_tasks``: it re-queues 5xx answers and per-task ``servererror`` results
without limit (a deployment that never ends) and counts ``TaskExists`` as success even when the
existing task is a different one. Here a chunk answered 408/429/5xx or dropped is retried through
:func:`call_with_retry`; a chunk the service finds too large (``RequestBodyTooLarge``) is halved;
per-task ``servererror`` results are resubmitted a bounded number of times; a ``TaskExists`` result
counts as success only when the existing task matches the wanted one. Task models may be handed
over with a converter (``to_sdk``): each chunk's SDK bodies are built just before its call, so the
first tasks start while the rest are still being converted.

:func:`delete_tasks` removes single tasks (a changed task is deleted, then added again with its id),
one call per task (Batch has no bulk delete), concurrently with the same bound; a task already gone
counts as deleted.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError

from pulumi_azbatch.model.common import strip_query

from .batch_client import DEFAULT_RETRY, RetrySettings, call_with_retry, error_code

MAX_TASKS_PER_CALL = 100
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class TaskAddFailure:
    """A task the service refused (or that exists with a different definition)."""

    task_id: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.task_id}: {self.code}: {self.message}"


@dataclass
class SubmissionReport:
    """What :func:`submit_tasks` did: added / already present (matching) / failed tasks, and the calls made."""

    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failures: list[TaskAddFailure] = field(default_factory=list)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        *,
        added: Sequence[str] = (),
        existing: Sequence[str] = (),
        failures: Sequence[TaskAddFailure] = (),
        calls: int = 0,
    ) -> None:
        with self._lock:
            self.added.extend(added)
            self.existing.extend(existing)
            self.failures.extend(failures)
            self.calls += calls


def chunks(tasks: Sequence[Any], size: int = MAX_TASKS_PER_CALL) -> list[list[Any]]:
    """``tasks`` cut into lists of at most ``size``: ⌈N/size⌉ of them."""
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def _strip_query(url: str | None) -> str | None:
    return strip_query(url) if url else url


def _env(settings: Sequence[Any] | None) -> dict[str, str]:
    return {s.name: s.value or "" for s in settings or []}


def task_differences(
    existing: batch_models.BatchTask, wanted: batch_models.BatchTaskCreateOptions
) -> list[str]:
    """The properties in which an existing task differs from the wanted one (empty: the same task).

    Compares what decides what a task does: command line, environment, resource files and output
    files (URLs without their SAS, which may have been rotated), slots, dependencies, retry count.
    """
    diffs: list[str] = []
    if existing.command_line != wanted.command_line:
        diffs.append("command_line")
    if _env(existing.environment_settings) != _env(wanted.environment_settings):
        diffs.append("environment_settings")

    def files(items: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        return sorted(
            (
                _strip_query(f.http_url),
                _strip_query(f.storage_container_url),
                f.auto_storage_container_name,
                f.blob_prefix,
                f.file_path,
            )
            for f in items or []
        )

    if files(existing.resource_files) != files(wanted.resource_files):
        diffs.append("resource_files")

    def outputs(items: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        result = []
        for o in items or []:
            dest = o.destination.container
            result.append(
                (
                    o.file_pattern,
                    _strip_query(dest.container_url),
                    dest.path or "",
                    str(
                        getattr(o.upload_options.upload_condition, "value", o.upload_options.upload_condition)
                    ).lower(),
                )
            )
        return sorted(result)

    if outputs(existing.output_files) != outputs(wanted.output_files):
        diffs.append("output_files")
    if (existing.required_slots or 1) != (wanted.required_slots or 1):
        diffs.append("required_slots")
    old_deps = sorted((existing.depends_on.task_ids or []) if existing.depends_on else [])
    new_deps = sorted((wanted.depends_on.task_ids or []) if wanted.depends_on else [])
    if old_deps != new_deps:
        diffs.append("depends_on")
    if wanted.constraints is not None and wanted.constraints.max_task_retry_count is not None:
        have = existing.constraints.max_task_retry_count if existing.constraints else None
        if have != wanted.constraints.max_task_retry_count:
            diffs.append("constraints.max_task_retry_count")
    return diffs


def submit_tasks(
    client: Any,
    job_id: str,
    tasks: Sequence[Any],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    retry: RetrySettings = DEFAULT_RETRY,
    server_error_rounds: int = 5,
    to_sdk: Callable[[Any], batch_models.BatchTaskCreateOptions] | None = None,
) -> SubmissionReport:
    """Add ``tasks`` to job ``job_id`` with ⌈N/100⌉ add-collection calls, at most ``concurrency`` at once.

    ``tasks`` are SDK ``BatchTaskCreateOptions``, or anything ``to_sdk`` turns into one: each chunk
    is converted just before its call, so the first tasks reach the service (and start running)
    without waiting for the SDK bodies of all N, and only the chunks in flight hold SDK bodies.

    Returns a report; it does not raise for refused tasks (see ``report.failures``), only when a
    whole call fails for a non-retryable reason or keeps failing after the bounded retries.
    """
    report = SubmissionReport()
    parts = chunks(tasks)
    if not parts:
        return report

    def add(part: list[Any]) -> None:
        chunk = [to_sdk(t) for t in part] if to_sdk is not None else part
        # A result names a task of its own call: the chunk is all a call's results need to look up.
        wanted = {t.id.lower(): t for t in chunk}
        _add_chunk(client, job_id, chunk, wanted, report, retry, server_error_rounds)

    workers = max(1, min(concurrency, len(parts)))
    if workers == 1:
        for part in parts:
            add(part)
        return report
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="azbatch-add") as pool:
        # list() re-raises the first exception of any chunk.
        list(pool.map(add, parts))
    return report


def _add_chunk(
    client: Any,
    job_id: str,
    chunk: list[batch_models.BatchTaskCreateOptions],
    wanted: dict[str, batch_models.BatchTaskCreateOptions],
    report: SubmissionReport,
    retry: RetrySettings,
    server_error_rounds: int,
) -> None:
    pending = chunk
    for round_ in range(server_error_rounds + 1):
        calls = 0

        def call(items: list[batch_models.BatchTaskCreateOptions] = pending) -> Any:
            nonlocal calls
            calls += 1
            return client.create_task_collection(job_id, batch_models.BatchTaskGroup(task_values=items))

        try:
            result = call_with_retry(call, what=f"add {len(pending)} task(s) to job {job_id}", settings=retry)
        except HttpResponseError as exc:
            report.record(calls=calls)
            if error_code(exc) == "RequestBodyTooLarge" and len(pending) > 1:
                half = len(pending) // 2
                _add_chunk(client, job_id, pending[:half], wanted, report, retry, server_error_rounds)
                _add_chunk(client, job_id, pending[half:], wanted, report, retry, server_error_rounds)
                return
            raise
        report.record(calls=calls)
        again: list[batch_models.BatchTaskCreateOptions] = []
        added: list[str] = []
        existing: list[str] = []
        failures: list[TaskAddFailure] = []
        for item in result.result_values or []:
            status = str(getattr(item.status, "value", item.status)).lower()
            task = wanted.get(item.task_id.lower())
            if status == "success":
                added.append(item.task_id)
            elif status == "servererror" and task is not None:
                again.append(task)
            elif item.error is not None and item.error.code == "TaskExists" and task is not None:
                existing_task = call_with_retry(
                    functools.partial(client.get_task, job_id, item.task_id), settings=retry
                )
                differences = task_differences(existing_task, task)
                if differences:
                    failures.append(
                        TaskAddFailure(
                            item.task_id,
                            "TaskExists",
                            f"a task with this id already exists in job {job_id} with a different "
                            f"{', '.join(differences)}; the job needs to be replaced",
                        )
                    )
                else:
                    existing.append(item.task_id)
            else:
                code = item.error.code if item.error is not None else status
                message = item.error.message.value if item.error is not None and item.error.message else ""
                details = (
                    "; ".join(f"{d.key}={d.value}" for d in (item.error.error_values or []))
                    if item.error is not None
                    else ""
                )
                failures.append(TaskAddFailure(item.task_id, str(code), f"{message} {details}".strip()))
        report.record(added=added, existing=existing, failures=failures)
        if not again:
            return
        if round_ < server_error_rounds:
            time.sleep(retry.delay(round_))
        pending = again
    report.record(
        failures=[
            TaskAddFailure(t.id, "ServerError", "the service kept answering servererror") for t in pending
        ]
    )


def delete_tasks(
    client: Any, job_id: str, task_ids: Sequence[str], *, concurrency: int = DEFAULT_CONCURRENCY
) -> list[TaskAddFailure]:
    """Delete ``task_ids`` of a job (idempotent: ``TaskNotFound`` is success); the failures, if any."""

    def delete(task_id: str) -> TaskAddFailure | None:
        try:
            call_with_retry(lambda: client.delete_task(job_id, task_id))
        except HttpResponseError as exc:
            if error_code(exc) == "TaskNotFound" or exc.status_code == 404 and error_code(exc) is None:
                return None
            return TaskAddFailure(task_id, error_code(exc) or str(exc.status_code), str(exc.message or exc))
        return None

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(task_ids)))) as pool:
        return [f for f in pool.map(delete, task_ids) if f is not None]
