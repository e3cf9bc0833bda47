"""The scheduler loop: one `_tick` lets job schedules create their due jobs, moves jobs through their
asynchronous transitions (terminating -> completed, deleting -> gone, disabling -> disabled), advances
pools, sweeps retention, then assigns active tasks to free slots (priority, maxParallelTasks,
dependencies, affinity, fill type).

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import itertools
import sys
import traceback
from collections.abc import Iterator
from datetime import datetime

from .. import runtime
from ..entities import Job, Node, Pool, Task, entity_key
from ..wire import (
    SCHEDULABLE_NODE_STATES,
    iso,
    parse_duration,
    parse_iso,
    set_state,
    utcnow,
)
from .base import ServiceBase


class SchedulerPart(ServiceBase):
    """The scheduler (`BatchService` mixin)."""

    def _tick(self) -> None:
        now = utcnow()
        self._advance_job_schedules(now)
        for job in list(self.jobs.values()):
            try:
                self._advance_job(job, now)
            except Exception:  # noqa: BLE001 - one job's record must not stop every other job
                self._report_once(("job", job.key, job.seq), f"job {job.doc.get('id')!r} could not advance")
        self._finish_pool_deletes()
        self._advance_autoscale(now)
        self._advance_pools(now)
        self._sweep_retention(now)
        self._schedule(now)

    def _refill(self) -> None:
        """Run a tick now, on the thread that recorded ended attempts, so their slots are refilled in
        the same lock hold: the whole tick, in its order (a pool that resizes down or a job whose wall
        clock ran out is handled before any new assignment), not only its last step; the scheduler
        thread is then not woken for this operation. An error is reported once, and the scheduler
        thread is woken to tick again as after any operation."""
        try:
            self._tick()
        except Exception:  # noqa: BLE001 - the exits are recorded already; the next tick retries
            self._report_once(("refill",), "a tick after recorded exits failed")
            return
        self._ticked_in_op = True

    def _advance_job(self, job: Job, now: datetime) -> None:
        state = job.state
        if state in ("active", "disabled", "disabling", "enabling"):
            limit = parse_duration(job.doc.get("constraints", {}).get("maxWallClockTime"), "maxWallClockTime")
            if limit is not None and now - parse_iso(job.doc["creationTime"]) >= limit:
                self._terminate(job, "MaxWallClockTimeExpiry")
                return
        if (
            state == "active"
            and job.doc.get("onAllTasksComplete") == "terminatejob"
            and job.counts["completed"] == len(job.tasks)
        ):
            # A job with no tasks counts as "all complete" too, as on Batch.
            self._terminate(job, "AllTasksComplete")
            return
        if state == "disabling":
            busy = any(t.doc["state"] in ("running", "preparing") for t in job.tasks.values())
            if not busy or job.disable_option == "requeue":
                set_state(job.doc, "disabled", now)
                self._save_job(job)
        elif state == "enabling":
            set_state(job.doc, "active", now)
            self._save_job(job)
        elif state in ("terminating", "deleting"):
            if any(k[0] in ("task", "prep") and k[1] == job.key for k in self._executions):
                return  # wait for cancelled processes to end
            if job.release_due and job.doc.get("jobReleaseTask") and self._run_releases(job):
                return  # release tasks still running
            if state == "terminating":
                job.doc["executionInfo"]["endTime"] = iso(now)
                job.doc["executionInfo"]["terminateReason"] = job.pending_reason or "UserTerminate"
                set_state(job.doc, "completed", now)
                self._save_job(job)
                self._job_auto_pool_ended(job)
            else:
                self._job_auto_pool_ended(job)
                self._remove_job(job)

    def _schedule(self, now: datetime) -> None:
        jobs = [j for j in self.jobs.values() if j.state == "active" and j.active]
        jobs.sort(key=lambda j: (-int(j.doc.get("priority", 0)), j.seq))
        full: set[str] = set()
        for job in jobs:
            pool_key = str(job.doc["executionInfo"].get("poolId", "")).lower()
            pool = self.pools.get(pool_key)
            if pool is None or pool.doc["state"] != "active" or pool_key in full:
                continue
            if not any(self._free_slots(pool, n) > 0 for n in pool.nodes.values()):
                full.add(pool_key)  # checked before the queue is read: most ticks of a busy pool end here
                continue
            limit = int(job.doc.get("maxParallelTasks", -1))
            busy = job.counts["running"]  # running and preparing
            for task_key in _queued(job):
                if limit != -1 and busy >= limit:
                    break
                task = job.tasks[task_key]
                if ("task", job.key, task_key) in self._executions:
                    # A deleted task of the same id is still being killed: its directory is this
                    # task's directory, so this one waits until that attempt has ended.
                    continue
                try:
                    if not self._dependencies_met(job, task):
                        continue
                    node = self._pick_node(pool, job, task)
                    if node is None:
                        if not any(self._free_slots(pool, n) > 0 for n in pool.nodes.values()):
                            full.add(pool_key)
                            break
                        continue
                    self._assign(job, task, pool, node, now)
                except Exception as exc:  # noqa: BLE001 - one bad task fails alone; the loop goes on
                    self._fail_unschedulable(job, task, exc, now)
                    continue
                busy += 1

    def _fail_unschedulable(self, job: Job, task: Task, exc: Exception, now: datetime) -> None:
        """Complete a task the scheduler cannot handle (a record stored before its body was checked,
        or an emulator bug) with a failureInfo that says so; every other task keeps being scheduled."""
        self._report_once(
            ("task", job.key, task.seq), f"task {task.doc.get('id')!r} of job {job.doc.get('id')!r}"
        )
        failure = runtime.failure_info(
            "servererror",
            "TaskSchedulingFailed",
            f"The emulator could not schedule this task: {type(exc).__name__}: {str(exc)[:300]}",
        )
        try:
            node = self._node_by_ref(task.node)
            if node is not None:
                node.slots.pop((job.key, task.key), None)
            task.doc.setdefault("executionInfo", {"retryCount": 0, "requeueCount": 0})
            self._complete_task(job, task, now, exit_code=None, failure=failure, started=False)
        except Exception:  # noqa: BLE001 - not even completable: at least never pick it again
            self._report_once(
                ("task-complete", job.key, task.seq), f"task {task.doc.get('id')!r} could not fail"
            )
            job.active.pop(task.key, None)

    def _report_once(self, what: tuple[object, ...], label: str) -> None:
        """Print the traceback being handled to stderr, once per record (the loop runs 5 times a second)."""
        if what in self._reported:
            return
        self._reported.add(what)
        print(f"localbatch: scheduler: {label}: isolated after an error", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)

    def _free_slots(self, pool: Pool, node: Node) -> int:
        if node.doc["state"] not in SCHEDULABLE_NODE_STATES or node.doc.get("schedulingState") != "enabled":
            return 0
        return int(pool.doc["taskSlotsPerNode"]) - sum(node.slots.values())

    def _pick_node(self, pool: Pool, job: Job, task: Task) -> Node | None:
        need = self._slots_taken(pool, job, task)
        candidates = [
            (self._free_slots(pool, n), n)
            for n in pool.nodes.values()
            if job.instance not in n.ineligible_jobs
        ]
        candidates = [(free, n) for free, n in candidates if free >= need]
        if not candidates:
            return None
        affinity = (task.doc.get("affinityInfo") or {}).get("affinityId")
        for _, node in candidates:
            if affinity and node.doc["affinityId"] == affinity:
                return node
        if pool.doc["taskSchedulingPolicy"]["nodeFillType"] == "pack":
            return min(candidates, key=lambda c: (c[0], c[1].seq))[1]
        return max(candidates, key=lambda c: (c[0], -c[1].seq))[1]

    def _slots_taken(self, pool: Pool, job: Job, task: Task) -> int:
        """The slots a task holds on its node: its requiredSlots, or the whole node for the job manager
        task of a job whose `runExclusive` is true (the default: no other task runs beside it)."""
        need = int(task.doc.get("requiredSlots", 1))
        manager = job.doc.get("jobManagerTask")
        if manager and manager.get("runExclusive", True) and task.key == entity_key(manager):
            return max(need, int(pool.doc["taskSlotsPerNode"]))
        return need

    def _dependencies_met(self, job: Job, task: Task) -> bool:
        depends = task.doc.get("dependsOn")
        if not depends:
            return True
        if task.blocked_at == job.satisfied_version:
            return False  # no task of the job completed or came back since the last check
        ranges: list[tuple[int, int]] = []
        for rng in depends.get("taskIdRanges") or []:
            start, end = rng["start"], rng["end"]
            if not (isinstance(start, int) and isinstance(end, int)):
                raise TypeError(f"dependsOn.taskIdRanges holds a non-integer bound: {rng!r}")
            ranges.append((start, end))
        if job.dependencies_satisfied(depends.get("taskIds") or [], ranges):
            task.blocked_at = None
            return True
        task.blocked_at = job.satisfied_version
        return False

    def _satisfies_dependents(self, task: Task) -> bool:
        """Whether a task lets the tasks that depend on it run: completed, and succeeded or its exit
        options say `dependencyAction: satisfy` (the default is to block)."""
        if task.doc["state"] != "completed":
            return False
        if task.doc["executionInfo"].get("result") == "success":
            return True
        return bool(self._exit_options_for(task).get("dependencyAction", "block") == "satisfy")

    def _assign(self, job: Job, task: Task, pool: Pool, node: Node, now: datetime) -> None:
        job.active.pop(task.key, None)
        node.slots[(job.key, task.key)] = self._slots_taken(pool, job, task)
        task.node = (pool.key, node.id)
        task.terminate_requested = task.requeue_requested = False
        root_dir = f"workitems/{job.doc['id']}/job-1/{task.doc['id']}"
        task.doc["nodeInfo"] = {
            "affinityId": node.doc["affinityId"],
            "nodeUrl": node.doc["url"],
            "poolId": pool.doc["id"],
            "nodeId": node.id,
            "taskRootDirectory": root_dir,
            "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}",
        }
        self._refresh_node(node)
        prep = job.doc.get("jobPreparationTask")
        if prep:
            rec = job.prep.get(node.id)
            info = (rec or {}).get("jobPreparationTaskExecutionInfo")
            if rec is None or info is None or rec.get("_rerun"):
                self._launch_prep(job, pool, node)
                info = job.prep[node.id]["jobPreparationTaskExecutionInfo"]
            if info.get("state") == "running" and prep.get("waitForSuccess", True):
                set_state(task.doc, "preparing", now)
                self._save_task(task)
                return
        self._start_task(job, task, pool, node, now)

    def _requeue(self, job: Job, task: Task, now: datetime) -> None:
        """Put an assigned task back in the queue (pool deleted, job disabled with requeue)."""
        if ("task", job.key, task.key) in self._executions:
            task.requeue_requested = True
            self._cancel(("task", job.key, task.key))
            return
        self._unassign(job, task, now)

    def _unassign(self, job: Job, task: Task, now: datetime) -> None:
        node = self._node_by_ref(task.node)
        if node is not None:
            node.slots.pop((job.key, task.key), None)
            self._refresh_node(node)
        task.node = None
        task.requeued(now)
        job.active[task.key] = None
        self._save_task(task)


#: A tick reads this many keys of a job's queue first; the rest only if the pool still has room.
QUEUE_HEAD = 256


def _queued(job: Job) -> Iterator[str]:
    """The keys of a job's active tasks in queue order, as a snapshot (assignment removes keys):
    the first `QUEUE_HEAD`, then, only if the caller asks for more, the rest. A tick that fills the
    pool's free slots thus never copies the whole queue of a 100,000-task job."""
    head = list(itertools.islice(job.active, QUEUE_HEAD))
    yield from head
    if len(head) == QUEUE_HEAD:
        seen = set(head)
        yield from [key for key in list(job.active) if key not in seen]
