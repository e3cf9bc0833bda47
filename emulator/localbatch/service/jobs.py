"""Jobs: create, update (PATCH/PUT), terminate, delete, disable, enable and their state rules;
`task_counts` reads the counts the `Job` entity keeps.

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from ..entities import Job
from ..exceptions import (
    conflict,
    invalid_property,
    unsupported_property,
)
from ..validation import (
    disable_tasks_option,
    job_body,
    job_manager_task_body,
    job_properties,
    job_settings,
)
from ..wire import (
    Doc,
    iso,
    set_state,
    touch,
    utcnow,
)
from .base import ServiceBase
from .retention import move_out_and_remove
from .tasks import task_ended


class JobsPart(ServiceBase):
    """Job operations (`BatchService` mixin)."""

    def list_jobs(self) -> list[Doc]:
        """Every job, in creation order."""
        with self.lock:
            return [copy.deepcopy(j.doc) for j in sorted(self.jobs.values(), key=lambda j: j.seq)]

    def get_job(self, job_id: str) -> Doc:
        """One job (404 `JobNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._job(job_id).doc)

    def task_counts(self, job_id: str) -> Doc:
        """`{"taskCounts": {...}, "taskSlotCounts": {...}}`; `running` includes `preparing`."""
        with self.lock:
            job = self._job(job_id)
            return {"taskCounts": dict(job.counts), "taskSlotCounts": dict(job.slot_counts)}

    def create_job(self, body: Doc) -> Doc:
        """Create a job (state `active`) after checking every rule of reference §5 and §6."""
        self._check_containers(body)
        spec = job_body(body)
        job_id, settings = spec.id, spec.settings
        with self._op():
            self._check_new_job_id(job_id)
            auto = settings["poolInfo"].get("autoPoolSpecification")
            if auto is not None:
                if auto["poolLifetimeOption"] != "job":
                    raise invalid_property(
                        "poolInfo.autoPoolSpecification.poolLifetimeOption",
                        auto["poolLifetimeOption"],
                        "A job that is not created by a job schedule takes poolLifetimeOption job.",
                    )
                self._check_package_references(auto["pool"].get("applicationPackageReferences") or [])
                pool_id = self._create_auto_pool(auto)
            else:
                pool_id = settings["poolInfo"]["poolId"]
            return copy.deepcopy(self._add_job(job_id, job_properties(body, spec), pool_id).doc)

    def _check_new_job_id(self, job_id: str) -> None:
        """409 when a job or a job schedule already has this id (they share one namespace)."""
        if job_id.lower() in self.jobs:
            raise conflict("JobExists", "The specified job already exists.")
        if job_id.lower() in self.job_schedules:
            raise conflict(
                "JobScheduleWithSameIdExists",
                "A job schedule with the specified job id exists. "
                "Job and job schedule cannot have the same id.",
            )

    def _add_job(self, job_id: str, properties: Doc, pool_id: str) -> Job:
        """Insert an `active` job with checked `properties` (see `validation.job_properties`) running on
        `pool_id` (lock held): a job created by a client or by a job schedule. Its jobManagerTask, if
        any, becomes its first task."""
        now = utcnow()
        doc: Doc = {
            **properties,
            "id": job_id,
            "url": self.job_url(job_id),
            "creationTime": iso(now),
            "state": "active",
            "stateTransitionTime": iso(now),
            "executionInfo": {"startTime": iso(now), "poolId": pool_id},
        }
        touch(doc, now)
        job = Job(doc, next(self._seq))
        self.jobs[job.key] = job
        self._save_job(job)
        manager = doc.get("jobManagerTask")
        if manager:
            # The service creates the job manager task with the job, first in its queue.
            self._insert_task(job, self._new_task_doc(job, job_manager_task_body(manager), now))
        return job

    def _check_job_mutable(self, job: Job) -> None:
        state = job.state
        if state == "completed":
            raise conflict("JobCompleted", "The specified job is already in a completed state.")
        if state == "terminating":
            raise conflict("JobBeingTerminated", "The specified job is being terminated.")
        if state == "deleting":
            raise conflict("JobBeingDeleted", "The specified job has been marked for deletion.")

    def update_job(
        self, job_id: str, body: Doc, *, replace: bool, check: Callable[[Doc], None] | None = None
    ) -> Doc:
        """PATCH (merge: omitted properties unchanged) or PUT (replace: omitted ones reset)."""
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            self._check_job_mutable(job)
            settings = job_settings(body, job.doc, replace=replace)
            new_pool = settings.get("poolInfo")
            if (
                new_pool
                and new_pool != job.doc["poolInfo"]
                and ("autoPoolSpecification" in new_pool or "autoPoolSpecification" in job.doc["poolInfo"])
            ):
                raise unsupported_property(
                    "poolInfo",
                    "Moving a job to or from an auto pool is not emulated; create a new job.",
                )
            # An unchanged auto pool specification (a PUT sends the job's poolInfo back as it is)
            # has no poolId: only a job on a named pool can move to another.
            old_pool_id = job.doc["poolInfo"].get("poolId")
            if new_pool and old_pool_id and new_pool["poolId"].lower() != old_pool_id.lower():
                if job.state != "disabled":
                    raise invalid_property(
                        "poolInfo",
                        new_pool["poolId"],
                        "The pool of a job can only be changed while the job is disabled.",
                    )
                job.doc["executionInfo"]["poolId"] = new_pool["poolId"]
            if replace and "metadata" in settings and not settings["metadata"]:
                job.doc.pop("metadata", None)
                settings.pop("metadata")
            job.doc.update(settings)
            touch(job.doc)
            self._save_job(job)
            return copy.deepcopy(job.doc)

    def terminate_job(
        self, job_id: str, reason: str | None = None, check: Callable[[Doc], None] | None = None
    ) -> None:
        """Move the job to `terminating` now; running tasks end, release tasks run, then `completed`."""
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            self._check_job_mutable(job)
            self._terminate(job, reason or "UserTerminate")

    def _terminate(self, job: Job, reason: str) -> None:
        now = utcnow()
        job.pending_reason = reason
        job.release_due = True
        set_state(job.doc, "terminating", now)
        self._save_job(job)
        self._stop_job_work(job, now)

    def _stop_job_work(self, job: Job, now: datetime) -> None:
        """End running and preparing tasks (TaskEnded) and any running job preparation task."""
        for task in job.tasks.values():
            state = task.doc["state"]
            if state == "running":
                task.terminate_requested = True
                self._cancel(("task", job.key, task.key))
            elif state == "preparing":
                self._complete_task(job, task, now, exit_code=None, failure=task_ended(), started=False)
        for key, execution in self._executions.items():
            if key[0] == "prep" and key[1] == job.key:
                self._stop_execution(execution)

    def delete_job(self, job_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Move the job to `deleting` now; release tasks run if it had not ended, then it is gone."""
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            if job.state == "deleting":
                raise conflict("JobBeingDeleted", "The specified job has been marked for deletion.")
            self._begin_job_delete(job, utcnow())

    def _begin_job_delete(self, job: Job, now: datetime) -> None:
        """Move a job to `deleting` (lock held): the scheduler runs its release tasks, then removes it."""
        if job.state not in ("completed", "terminating"):
            job.release_due = True  # deleting a job that had not ended runs the release task
        set_state(job.doc, "deleting", now)
        self._save_job(job)
        self._stop_job_work(job, now)

    def disable_job(
        self, job_id: str, disable_tasks: str, check: Callable[[Doc], None] | None = None
    ) -> None:
        """`requeue` / `terminate` running tasks or `wait` for them; `disabling` then `disabled`."""
        option = disable_tasks_option(disable_tasks)
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            self._check_job_mutable(job)
            if job.state != "active":
                raise conflict("JobNotActive", "The specified job is not in an active state.")
            self._disable(job, option)

    def _disable(self, job: Job, option: str) -> None:
        now = utcnow()
        job.disable_option = option
        set_state(job.doc, "disabling", now)
        self._save_job(job)
        for task in job.tasks.values():
            if task.doc["state"] not in ("running", "preparing"):
                continue
            if option == "requeue":
                self._requeue(job, task, now)
            elif option == "terminate":
                if task.doc["state"] == "preparing":
                    self._complete_task(job, task, now, exit_code=None, failure=task_ended(), started=False)
                else:
                    task.terminate_requested = True
                    self._cancel(("task", job.key, task.key))

    def enable_job(self, job_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Move a disabled job to `enabling`; the scheduler makes it `active` again."""
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            self._check_job_mutable(job)
            if job.state not in ("disabled", "disabling"):
                raise conflict("JobNotDisabled", "The specified job is not in a disabled state.")
            set_state(job.doc, "enabling")
            self._save_job(job)

    def _remove_job(self, job: Job) -> None:
        del self.jobs[job.key]
        self._forget("job", job.key)
        for task in job.tasks.values():
            self._forget("task", f"{job.key}/{task.key}")
        for node_id in job.prep:
            self._forget("prep", f"{job.key}/{node_id}")
        for pool in self.pools.values():
            for node in pool.nodes.values():
                trash = node.root.parent / f".deleted-{node.id}-job-{next(self._seq)}"
                move_out_and_remove(node.root / "workitems" / job.doc["id"], trash)
                if job.instance in node.ineligible_jobs:
                    # The mark lives as long as the job: nothing can ever match it again.
                    node.ineligible_jobs.discard(job.instance)
                    self._save_node(node)
