"""Tasks: add (one or a collection), terminate, reactivate, delete, file roots, and the end of an
attempt: retries, output file uploads outside the lock, completion and the job action of its
exitConditions.

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import runtime
from ..entities import Job, Node, Pool, Task, entity_key
from ..exceptions import (
    BatchError,
    conflict,
)
from ..validation import (
    constraints_with_defaults,
    job_task_retries,
    task_body,
    task_replace_constraints,
)
from ..wire import (
    DEFAULT_USER_IDENTITY,
    LIVE_JOB_STATES,
    Doc,
    clone,
    iso,
    seconds,
    set_state,
    touch,
    utcnow,
)
from .base import ServiceBase
from .executions import launch_failure
from .retention import move_out_and_remove

# Seconds the terminate-task call waits for a running process to be killed and the task completed.
TERMINATE_WAIT_SECONDS = 10.0
# At most this many tasks are examined under the lock for one page of a task list.
TASK_SCAN_LIMIT = 10_000
_ATOMIC = (str, int, float, bool)


class TasksPart(ServiceBase):
    """Task operations and attempt outcomes (`BatchService` mixin)."""

    def list_tasks_page(
        self,
        job_id: str,
        *,
        where: Callable[[Doc], bool] | None = None,
        after: str | None = None,
        limit: int = 1000,
        fields: Collection[str] | None = None,
    ) -> tuple[list[Doc], str | None]:
        """One page of a job's tasks in id order (as Batch lists them): copies of at most `limit`
        tasks matching `where`, from the first task whose id sorts after `after`, and the id to
        continue after (None when no task is left). `fields` copies only those top-level properties.

        The cost is O(page), not O(job): the page starts by bisecting the job's id index, only the
        page's tasks are copied, and the lock is held for at most `TASK_SCAN_LIMIT` tasks examined.
        A filter that matches few tasks of a large job may thus answer a short (even empty) page
        with a continuation, as Batch's list operations may.
        """

        def copies(tasks: list[Task]) -> list[Doc]:
            if fields is None:
                return clone([t.doc for t in tasks])
            return clone([{k: t.doc[k] for k in fields if k in t.doc} for t in tasks])

        with self.lock:
            job = self._job(job_id)
            found: list[Task] = []
            for examined, task in enumerate(job.tasks_after(after), start=1):
                if where is None or where(task.doc):
                    if len(found) == limit:
                        return copies(found), found[-1].key  # another match follows this page
                    found.append(task)
                if examined >= TASK_SCAN_LIMIT:
                    more = next(job.tasks_after(task.key), None) is not None
                    return copies(found), task.key if more else None
            return copies(found), None

    def iter_tasks(
        self,
        job_id: str,
        where: Callable[[Doc], bool] | None = None,
        fields: Collection[str] | None = None,
    ) -> Iterator[Doc]:
        """Every task of a job (matching `where`) in id order, read page by page so the lock is
        released between pages: for readers of a whole job (the portal's timeline and summaries)."""
        after: str | None = None
        while True:
            docs, after = self.list_tasks_page(job_id, where=where, after=after, fields=fields)
            yield from docs
            if after is None:
                return

    def list_tasks(self, job_id: str) -> list[Doc]:
        """The tasks of a job, in id order."""
        return list(self.iter_tasks(job_id))

    def get_task(self, job_id: str, task_id: str) -> Doc:
        """One task (404 `JobNotFound` / `TaskNotFound`)."""
        with self.lock:
            return clone(self._task(job_id, task_id)[1].doc)

    def replace_task(
        self,
        job_id: str,
        task_id: str,
        body: Doc,
        check: Callable[[Doc], None] | None = None,
    ) -> Doc:
        """PUT: replace the task's constraints (omitted ones reset to their defaults). A running attempt
        keeps the wall clock it started with; a completed task's new retentionTime applies to its files."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            task.doc["constraints"] = task_replace_constraints(body, job.doc)
            touch(task.doc)
            self._save_task(task)
            self._retain_task(task)
            return copy.deepcopy(task.doc)

    def list_subtasks(self, job_id: str, task_id: str) -> list[Doc]:
        """The subtasks of a multi-instance task: none, as the emulator runs no multi-instance tasks."""
        with self.lock:
            self._task(job_id, task_id)
            return []

    def task_root(self, job_id: str, task_id: str) -> Path | None:
        """The task's AZ_BATCH_TASK_DIR on this machine, or None if it never reached a node."""
        with self.lock:
            _, task = self._task(job_id, task_id)
            if task.files_cleaned:
                raise conflict("TaskFilesCleanedup", "The files of the specified task are cleanedup.")
            node_info = task.doc.get("nodeInfo")
            if not node_info:
                return None
            pool = self.pools.get(str(node_info["poolId"]).lower())
            node = pool.nodes.get(node_info["nodeId"]) if pool else None
            if node is None:
                return None
            return node.root / node_info["taskRootDirectory"]

    def _new_task_doc(self, job: Job, body: Any, now: datetime) -> Doc:
        self._check_containers(body, "task")
        checked = task_body(job.doc, body)
        task_id, required = checked.id, checked.required_slots
        constraints = body.get("constraints") or {}
        # Strings and numbers are immutable: only the nested parts are copied.
        doc: Doc = {
            k: v if type(v) in _ATOMIC else copy.deepcopy(v) for k, v in body.items() if v is not None
        }
        doc.update(
            id=task_id,
            url=self.task_url(job.doc["id"], task_id),
            creationTime=iso(now),
            state="active",
            stateTransitionTime=iso(now),
            requiredSlots=required,
            constraints=constraints_with_defaults(constraints, job_task_retries(job.doc)),
            userIdentity=body.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY),
            executionInfo={"retryCount": 0, "requeueCount": 0},
        )
        touch(doc, now)
        return doc

    def _check_job_accepts_tasks(self, job: Job) -> None:
        self._check_job_mutable(job)

    def add_task(self, job_id: str, body: Doc) -> Doc:
        """Create one task (`active`); 409 `TaskExists` for a duplicate id."""
        with self._op():
            job = self._job(job_id)
            self._check_job_accepts_tasks(job)
            doc = self._new_task_doc(job, body, utcnow())
            if doc["id"].lower() in job.tasks:
                raise conflict("TaskExists", "The specified task already exists.")
            self._insert_task(job, doc)
            return copy.deepcopy(doc)

    def add_tasks(self, job_id: str, bodies: list[Any]) -> list[Doc]:
        """Create a collection of tasks; one `BatchTaskCreateResult` (wire shape) per task."""
        with self._op():
            job = self._job(job_id)
            self._check_job_accepts_tasks(job)
            now = utcnow()
            results: list[Doc] = []
            for body in bodies:
                task_id = body.get("id") if isinstance(body, dict) else None
                try:
                    doc = self._new_task_doc(job, body, now)
                    if doc["id"].lower() in job.tasks:
                        raise conflict("TaskExists", "The specified task already exists.")
                except BatchError as err:
                    results.append({"taskId": task_id or "", "status": "clienterror", "error": err})
                    continue
                self._insert_task(job, doc)
                results.append(
                    {
                        "taskId": doc["id"],
                        "status": "success",
                        "eTag": doc["eTag"],
                        "lastModified": doc["lastModified"],
                        "location": doc["url"],
                    }
                )
            return results

    def _insert_task(self, job: Job, doc: Doc) -> None:
        task = Task(job.key, doc, next(self._seq))
        job.add(task)
        job.active[task.key] = None
        self._save_task(task)

    def terminate_task(self, job_id: str, task_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """End a task: `completed` with failureInfo `TaskEnded`; waits for a running process to die."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            state = task.doc["state"]
            if state == "completed":
                raise conflict("TaskCompleted", "The specified task is already completed.")
            waiter: threading.Event | None = None
            if state == "running":
                task.terminate_requested = True
                execution = self._executions.get(("task", job.key, task.key))
                if execution:
                    self._stop_execution(execution)
                    waiter = execution.waiter()
            else:
                self._complete_task(job, task, utcnow(), exit_code=None, failure=task_ended(), started=False)
        if waiter is not None:
            waiter.wait(TERMINATE_WAIT_SECONDS)

    def reactivate_task(self, job_id: str, task_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Put a failed, completed task back to `active` with retryCount 0 (409 `TaskNotCompleted` /
        `TaskSucceeded`, or the job's state code when it completed, is terminating or deleting)."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            self._check_job_mutable(job)
            if task.doc["state"] != "completed":
                raise conflict(
                    "TaskNotCompleted",
                    "The specified task is not in a completed state, and the requested "
                    "operation can be performed only on completed tasks.",
                )
            info = task.doc["executionInfo"]
            if info.get("result") == "success":
                raise conflict(
                    "TaskSucceeded",
                    "The specified task has already completed successfully, and the "
                    "requested operation cannot be performed on successful tasks.",
                )
            # The previous exit code and failure information are no longer available (SDK docstring).
            for name in ("startTime", "endTime", "exitCode", "failureInfo", "result", "lastRetryTime"):
                info.pop(name, None)
            info["retryCount"] = 0
            task.terminate_requested = task.requeue_requested = False
            set_state(task.doc, "active")
            job.active[task.key] = None
            self._save_task(task)

    def delete_task(self, job_id: str, task_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Remove a task and its directory on the node, whatever its retention time."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            job.remove(task)
            self._forget("task", f"{job.key}/{task.key}")
            execution = self._executions.get(("task", job.key, task.key))
            if execution:
                self._stop_execution(execution)  # its result frees the slot and removes the directory
                return
            node = self._node_by_ref(task.node)
            if node is not None:
                node.slots.pop((job.key, task.key), None)
                self._refresh_node(node)
            root = self._task_dir_of(task)
            if root is not None:
                # Out of the node's tree before the lock is released: a task added again with this
                # id gets the same directory, which a later background removal would take from it.
                self._remove_task_dir(root)

    def _remove_task_dir(self, root: Path) -> None:
        move_out_and_remove(root, root.parents[3].parent / f".deleted-task-{next(self._seq)}")

    def _task_dir_of(self, task: Task) -> Path | None:
        info = task.doc.get("nodeInfo")
        if not info:
            return None
        pool = self.pools.get(str(info["poolId"]).lower())
        node = pool.nodes.get(info["nodeId"]) if pool else None
        return node.root / info["taskRootDirectory"] if node else None

    def _start_task(self, job: Job, task: Task, pool: Pool, node: Node, now: datetime) -> None:
        set_state(task.doc, "running", now)
        task.files_cleaned = False
        task.doc["executionInfo"]["startTime"] = iso(now)
        for name in ("endTime", "exitCode", "failureInfo", "result"):
            task.doc["executionInfo"].pop(name, None)
        self._save_task(task)
        task_dir = runtime.task_directory(node.root, job.doc["id"], task.doc["id"])
        run = runtime.TaskRun(
            node_root=node.root,
            task_dir=task_dir,
            command_line=task.doc["commandLine"],
            environment=self._environment(job, pool, node, task_dir, task.doc["id"], task.doc),
            resource_files=list(task.doc.get("resourceFiles") or []),
            output_files=list(task.doc.get("outputFiles") or []),
            max_wall_clock_seconds=seconds(task.doc["constraints"]["maxWallClockTime"], "maxWallClockTime"),
            launch_failure=launch_failure(pool, task.doc["commandLine"]),
        )
        self._containerize(run, pool, task.doc, regular=True)
        key = ("task", job.key, task.key)
        seq = task.seq
        self._spawn(
            key, run, lambda result: self._task_attempt_done(key, seq, run, result), after=self._task_finish
        )

    def _task_attempt_done(
        self, key: tuple[str, ...], seq: int, run: runtime.TaskRun, result: runtime.ProcessResult
    ) -> Any:
        """Decide, under the lock, what an ended attempt means; returns work for `_task_finish`."""
        job = self.jobs.get(key[1])
        task = job.tasks.get(key[2]) if job else None
        now = utcnow()
        if job is None or task is None or task.seq != seq:
            # Deleted while running: free the slot and remove its directory.
            for any_pool in self.pools.values():
                for any_node in any_pool.nodes.values():
                    if any_node.slots.pop((key[1], key[2]), None) is not None:
                        self._refresh_node(any_node)
            self._remove_task_dir(run.task_dir)
            return None
        if task.requeue_requested and not task.terminate_requested:
            self._unassign(job, task, now)
            return None
        info = task.doc["executionInfo"]
        failure = result.failure_info
        if task.terminate_requested and failure is None:
            failure = task_ended()
        if failure is None and result.exit_code not in (0, None):
            retries = int(task.doc["constraints"].get("maxTaskRetryCount", 0))
            if retries == -1 or info.get("retryCount", 0) < retries:
                node = self._node_by_ref(task.node)
                if node is not None:
                    node.slots.pop((job.key, task.key), None)
                    self._refresh_node(node)
                info["retryCount"] = info.get("retryCount", 0) + 1
                info["lastRetryTime"] = iso(now)
                info["exitCode"] = result.exit_code
                set_state(task.doc, "active", now)
                job.active[task.key] = None
                self._save_task(task)
                return None
            failure = runtime.exit_code_failure_info(result.exit_code)
        # Output files are uploaded once, after the last attempt, if the process ran at all; that
        # happens outside the lock (`_task_finish`). Without uploads the task completes right here.
        if result.exit_code is None or not run.output_files:
            self._complete_task(
                job, task, result.end_time, exit_code=result.exit_code, failure=failure, started=True
            )
            return None
        return (job.key, task.key, seq, result, failure, run)

    def _task_finish(self, work: Any) -> None:
        """Upload output files outside the lock, then mark the task completed."""
        if work is None:
            return
        job_key, task_key, seq, result, failure, run = work
        upload_failure = None
        if run is not None and run.output_files:
            try:
                upload_failure = runtime.upload_outputs(run, result.exit_code)
            except Exception as exc:  # noqa: BLE001 - an upload bug must not leave the task running
                upload_failure = runtime.failure_info(
                    "usererror", "FileUploadMiscError", f"Output file upload failed: {exc}"
                )
        with self._op():
            job = self.jobs.get(job_key)
            task = job.tasks.get(task_key) if job else None
            if job is None or task is None or task.seq != seq:
                return
            self._complete_task(
                job,
                task,
                result.end_time,
                exit_code=result.exit_code,
                failure=failure or upload_failure,
                started=True,
                upload_failed=failure is None and upload_failure is not None,
            )

    def _complete_task(
        self,
        job: Job,
        task: Task,
        now: datetime,
        *,
        exit_code: int | None,
        failure: Doc | None,
        started: bool,
        upload_failed: bool = False,
    ) -> None:
        info = task.doc["executionInfo"]
        info["endTime"] = iso(now)
        if exit_code is not None:
            info["exitCode"] = exit_code
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = failure
        else:
            info.pop("failureInfo", None)
        set_state(task.doc, "completed", now)
        job.active.pop(task.key, None)
        self._retain_task(task)
        node = self._node_by_ref(task.node)
        if node is not None:
            if node.slots.pop((job.key, task.key), None) is not None and started:
                node.doc["totalTasksRun"] += 1
                if not failure:
                    node.doc["totalTasksSucceeded"] += 1
            self._refresh_node(node)
        self._save_task(task)
        manager = job.doc.get("jobManagerTask")
        if (
            manager
            and manager.get("killJobOnCompletion", True)
            and task.key == entity_key(manager)
            and job.state in LIVE_JOB_STATES
        ):
            self._terminate(job, "JMComplete")  # the job manager task completed: the job ends
            return
        if job.state == "active" and not task.terminate_requested:
            self._apply_exit_action(job, task, exit_code, failure, upload_failed)

    def _exit_options_for(self, task: Task) -> Doc:
        """The exitConditions entry matching how the task ended (empty when none matches)."""
        conditions = task.doc.get("exitConditions") or {}
        info = task.doc["executionInfo"]
        code = info.get("exitCode")
        failure = info.get("failureInfo") or {}
        if code is not None:
            for item in conditions.get("exitCodes") or []:
                if item.get("code") == code:
                    return item.get("exitOptions") or {}
            for item in conditions.get("exitCodeRanges") or []:
                if item.get("start", 0) <= code <= item.get("end", -1):
                    return item.get("exitOptions") or {}
        if code is None and failure and conditions.get("preProcessingError"):
            return conditions["preProcessingError"]
        if str(failure.get("code", "")).startswith("FileUpload") and conditions.get("fileUploadError"):
            return conditions["fileUploadError"]
        if info.get("result") == "failure" and conditions.get("default"):
            return conditions["default"]
        return {}

    def _apply_exit_action(
        self, job: Job, task: Task, exit_code: int | None, failure: Doc | None, upload_failed: bool
    ) -> None:
        if job.doc.get("onTaskFailure") != "performexitoptionsjobaction":
            return
        options = self._exit_options_for(task)
        action = options.get("jobAction")
        if action is None:
            action = "terminate" if failure else "none"
        if action == "terminate":
            self._terminate(job, "TaskFailed")
        elif action == "disable":
            self._disable(job, "requeue")


def task_ended() -> Doc:
    """The failureInfo of a task ended by the user (terminate task, job or node)."""
    return runtime.failure_info("usererror", "TaskEnded", "Task was ended by user request")
