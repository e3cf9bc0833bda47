"""The core of the service: its state, its one lock, persistence and lookups.

Owns: the account's pools, jobs and job schedules (`ServiceBase.pools`, `.jobs`, `.job_schedules`), the
one `RLock` every operation holds (`_op`: lock, then write what changed to the `Store` in one transaction, wake the scheduler,
launch what was queued), start-up (`_load`: read everything back; work that was running is requeued
as after a node reboot), the scheduler thread's loop, URLs, and the id lookups that answer 404s.
The parts in this package (`pools`, `nodes`, `jobs`, `schedules`, `tasks`, `scheduler`, `prep_release`,
`executions`, `retention`) are mixins over this class; `BatchService` composes them.
May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, `containers`, `store`, `timing`. Not HTTP
or the portal.
"""

from __future__ import annotations

import collections
import itertools
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import autoscale, orphans, runtime
from ..containers import ContainerRuntime
from ..entities import Job, JobSchedule, Node, Pool, Task
from ..exceptions import (
    not_found,
    unsupported_property,
)
from ..store import Store
from ..timing import Timing
from ..validation import container_properties
from ..wire import (
    LIVE_JOB_STATES,
    Doc,
    advance_clock,
    iso,
    set_state,
    utcnow,
)


class ServiceBase:
    """State, lock, persistence and lookups shared by every part of `BatchService`."""

    if TYPE_CHECKING:
        # What the parts offer each other: declared here so each part type-checks on its own; each is
        # defined once, in the part that owns it (see the module docstrings).
        def _advance_autoscale(self, now: datetime) -> None: ...
        def _advance_pools(self, now: datetime) -> None: ...
        def _advance_job_schedules(self, now: datetime) -> None: ...
        def _add_job(self, job_id: str, properties: Doc, pool_id: str) -> Job: ...
        def _check_new_job_id(self, job_id: str) -> None: ...
        def _begin_job_delete(self, job: Job, now: datetime) -> None: ...
        def _report_once(self, what: tuple[object, ...], label: str) -> None: ...
        def _new_task_doc(self, job: Job, body: Any, now: datetime) -> Doc: ...
        def _insert_task(self, job: Job, doc: Doc) -> None: ...
        def job_statistics(self, job_id: str) -> Doc: ...
        def _app_package_environment(self, pool: Pool, node: Node, spec: Doc) -> dict[str, str]: ...
        def _check_not_deleting(self, pool: Pool) -> None: ...
        def _containerize(
            self, run: runtime.TaskRun, pool: Pool, spec: Doc, *, regular: bool = False
        ) -> None: ...
        def _check_package_references(self, refs: list[Doc]) -> None: ...
        def _begin_pool_delete(self, pool: Pool) -> None: ...
        def _create_auto_pool(self, spec: Doc) -> str: ...
        def _job_auto_pool_ended(self, job: Job) -> None: ...
        def _new_pool(self, spec: PoolBody) -> Pool: ...
        def _handle_node_work(self, node: Node, option: str, now: datetime) -> None: ...
        def _prepare_mounts(self, pool: Pool, node: Node) -> None: ...
        def _release_auto_pool(self, pool_id: str, spec: Doc) -> None: ...
        def _run_autoscale(self, pool: Pool, now: datetime, *, apply: bool) -> None: ...
        def _begin_node_op(self, node: Node, op: str, option: str, now: datetime) -> None: ...
        def _boot(self, pool: Pool, node: Node, now: datetime) -> None: ...
        def _cancel(self, key: tuple[str, ...]) -> None: ...
        def _check_job_mutable(self, job: Job) -> None: ...
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
        ) -> None: ...
        def _count_nodes(self, pool: Pool) -> None: ...
        def _disable(self, job: Job, option: str) -> None: ...
        def _drop_node(self, pool: Pool, node: Node) -> None: ...
        def _environment(
            self, job: Job, pool: Pool, node: Node, task_dir: Path, task_id: str, spec: Doc
        ) -> dict[str, str]: ...
        def _exit_options_for(self, task: Task) -> Doc: ...
        def _finish_pool_deletes(self) -> None: ...
        def _launch_pending(self) -> None: ...
        def _stop_launch_helpers(self) -> None: ...
        def _launch_prep(self, job: Job, pool: Pool, node: Node, retry_count: int = 0) -> None: ...
        def _launch_start_task(self, pool: Pool, node: Node) -> None: ...
        def _node_busy(self, node: Node) -> bool: ...

        def _on_exits(self, ended: list[tuple[Any, runtime.ProcessResult]]) -> None: ...
        def _refresh_node(self, node: Node) -> None: ...
        def _refill(self) -> None: ...
        def _remove_job(self, job: Job) -> None: ...
        def _requeue(self, job: Job, task: Task, now: datetime) -> None: ...
        def _retain_prep(self, job: Job, node_id: str) -> None: ...
        def _retain_task(self, task: Task) -> None: ...
        def _run_releases(self, job: Job) -> bool: ...
        def _satisfies_dependents(self, task: Task) -> bool: ...
        def _spawn(
            self,
            key: tuple[str, ...],
            run: runtime.TaskRun,
            on_result: Callable[[runtime.ProcessResult], Any],
            after: Callable[[Any], None] | None = None,
        ) -> None: ...
        def _start_task(self, job: Job, task: Task, pool: Pool, node: Node, now: datetime) -> None: ...
        def _stop_execution(self, execution: Execution) -> None: ...
        def _sweep_retention(self, now: datetime) -> None: ...
        def _task_dir_of(self, task: Task) -> Path | None: ...
        def _terminate(self, job: Job, reason: str) -> None: ...
        def _tick(self) -> None: ...
        def _unassign(self, job: Job, task: Task, now: datetime) -> None: ...

    def __init__(
        self,
        data_dir: Path,
        *,
        account_name: str,
        base_url: str = "http://127.0.0.1",
        max_nodes: int | None = None,
        applications_dir: Path | None = None,
        timing: Timing | None = None,
        container_runtime: ContainerRuntime | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        # Runs container tasks (see `containers`); None: container pools and tasks are refused.
        self.container_runtime = container_runtime
        # Fast by default; realistic node allocation, boot, reboot and reimage times on request.
        self.timing = timing or Timing()
        self.account_name = account_name
        self.base_url = base_url.rstrip("/")
        self.max_nodes = max_nodes
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # Attempts queued under the lock and launched after it is released (see `_spawn`), the one
        # thread that waits for every task process, and a count of finished operations so the
        # scheduler never sleeps through a change.
        self._to_launch: collections.deque[Execution] = collections.deque()
        self._launching = threading.local()
        self._launch_wakeups: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._launch_helpers: list[threading.Thread] = []
        self._launch_helpers_lock = threading.Lock()
        self._reaper = runtime.Reaper(self._on_exits)
        self._changes = 0
        self._ticked_in_op = False  # set by an operation whose last step was a whole tick
        self.pools: dict[str, Pool] = {}
        self.jobs: dict[str, Job] = {}
        self.job_schedules: dict[str, JobSchedule] = {}
        self._executions: dict[tuple[str, ...], Execution] = {}
        self._seq = itertools.count(1)
        self._puts: dict[tuple[str, str], Doc] = {}
        self._deletes: set[tuple[str, str]] = set()
        # Directories to delete once their retentionTime runs out: (due epoch seconds, kind, job
        # key, task key or node id, endTime it was scheduled for); checked again when it comes due.
        self._retention: list[tuple[float, str, str, str, str]] = []
        # Autoscale (see `scaling`): per pool, the metric samples, when the last one was taken and
        # when autoscale was last enabled. In memory only: a restart starts the histories again.
        self._samples: dict[str, autoscale.InMemorySampleSource] = {}
        self._sampled_at: dict[str, datetime] = {}
        self._autoscale_enabled_at: dict[str, datetime] = {}
        self.applications_dir = Path(applications_dir) if applications_dir else self.data_dir / "applications"
        # Records whose error the scheduler already printed (it isolates them and keeps running).
        self._reported: set[tuple[object, ...]] = set()
        self._last_tick_error = ""
        self.store = Store(self.data_dir / "localbatch.sqlite3")
        self._load()

    def start(self) -> None:
        """Start the scheduler thread (and re-run start tasks of nodes that "rebooted")."""
        if self.container_runtime is not None:
            # Containers a killed run of this emulator left behind (their tasks are requeued).
            self.container_runtime.remove_owned(str(self.data_dir))
        with self._op():
            for pool in self.pools.values():
                for node in pool.nodes.values():
                    if node.doc["state"] in ("starting", "waitingforstarttask") and node.pending is None:
                        self._launch_start_task(pool, node)
        self._thread = threading.Thread(target=self._loop, name="localbatch-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the scheduler and kill running processes (state is already persisted)."""
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
            for execution in self._executions.values():
                self._stop_execution(execution)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._stop_launch_helpers()
        self._reaper.close()
        self.store.close()

    @contextmanager
    def _op(self) -> Iterator[None]:
        """Hold the lock for one operation, then persist what changed and wake the scheduler."""
        try:
            with self.lock:
                try:
                    yield
                finally:
                    self._flush()
                    if self._ticked_in_op:
                        # The operation ended with a tick of its own (exits refilling their slots):
                        # the scheduler thread would find nothing new, so it is not woken for it.
                        self._ticked_in_op = False
                    else:
                        self._changes += 1
                        self._wake.notify_all()
        finally:
            self._launch_pending()

    def _save(self, kind: str, key: str, record: Doc) -> None:
        self._deletes.discard((kind, key))
        self._puts[(kind, key)] = record

    def _forget(self, kind: str, key: str) -> None:
        self._puts.pop((kind, key), None)
        self._deletes.add((kind, key))

    def _check_containers(self, body: Any, prefix: str = "") -> None:
        """400 `UnsupportedProperty` when ``body`` asks for containers and this machine has no runtime."""
        if self.container_runtime is None:
            for path in container_properties(body, prefix):
                raise unsupported_property(
                    path,
                    "The local Batch emulator runs containers with Podman, or Docker with a running "
                    "daemon; this machine has neither (localbatch serve --container-runtime).",
                )

    def _flush(self) -> None:
        if not self._puts and not self._deletes:
            return
        # No copy: every caller holds the lock, and the store serializes the records before returning.
        puts = [(kind, key, rec) for (kind, key), rec in self._puts.items()]
        deletes = list(self._deletes)
        self._puts.clear()
        self._deletes.clear()
        self.store.write(puts, deletes)

    def _save_pool(self, pool: Pool) -> None:
        self._save("pool", pool.key, pool.record())

    def _save_node(self, node: Node) -> None:
        self._save("node", f"{node.pool_key}/{node.id}", node.record())

    def _save_job(self, job: Job) -> None:
        self._save("job", job.key, job.record())

    def _save_job_schedule(self, schedule: JobSchedule) -> None:
        self._save("jobschedule", schedule.key, schedule.record())

    def _save_task(self, task: Task) -> None:
        # Every change of a task is saved, so this is where its job's counts and indexes follow it.
        job = self.jobs.get(task.job_key)
        if job is not None and job.tasks.get(task.key) is task:
            self._index_task(job, task)
        self._save("task", f"{task.job_key}/{task.key}", task.record())

    def _index_task(self, job: Job, task: Task) -> None:
        job.count(task)
        job.mark_satisfied(task, self._satisfies_dependents(task))

    def advance_clock(self, seconds: float) -> float:
        """Move the service's clock forward (`wire.advance_clock`) and wake the scheduler, so what came
        due (a schedule's run, a deadline) happens now; returns the clock's total offset in seconds."""
        with self._op():
            return advance_clock(seconds)

    def _save_prep(self, job: Job, node_id: str) -> None:
        self._save("prep", f"{job.key}/{node_id}", {"doc": job.prep[node_id]})

    def _load(self) -> None:
        """Read everything back; processes that were running are requeued, as after a node reboot."""
        now = utcnow()
        max_seq = 0
        for _, rec in self.store.load("pool"):
            pool = Pool.from_record(rec)
            self.pools[pool.key] = pool
            max_seq = max(max_seq, pool.seq)
        for _, rec in self.store.load("node"):
            owner = self.pools.get(rec["pool"])
            if owner is None:
                continue
            node = Node.from_record(rec)
            owner.next_index = max(owner.next_index, len(owner.nodes) + 1)
            # The node "rebooted": processes a killed emulator left running end now, before requeueing.
            orphans.reap_orphans(node.root)
            doc = node.doc
            doc.update(runningTasksCount=0, runningTaskSlotsCount=0, lastBootTime=iso(now))
            if node.pending is not None:
                pass  # a reboot, reimage or removal in progress: the scheduler finishes it
            elif doc["state"] in ("preempted", "deallocated"):
                pass  # stays so until restored or started
            elif doc.get("startTask") and doc["state"] != "starttaskfailed":
                set_state(doc, "waitingforstarttask" if node.waits_for_start else "idle", now)
            elif doc["state"] not in ("starttaskfailed",):
                set_state(doc, "idle", now)
            owner.nodes[node.id] = node
            self._save_node(node)
        for _, rec in self.store.load("job"):
            job = Job.from_record(rec)
            self.jobs[job.key] = job
            max_seq = max(max_seq, job.seq)
        for _, rec in self.store.load("jobschedule"):
            schedule = JobSchedule.from_record(rec)
            self.job_schedules[schedule.key] = schedule
            max_seq = max(max_seq, schedule.seq)
        tasks = [rec for _, rec in self.store.load("task")]
        for rec in sorted(tasks, key=lambda r: int(r.get("seq", 0)) if isinstance(r, dict) else 0):
            try:
                max_seq = max(max_seq, self._load_task(rec, now))
            except Exception:  # noqa: BLE001 - one unreadable record must not keep the emulator down
                print(
                    f"localbatch: task record {str(rec)[:200]} could not be loaded; skipped", file=sys.stderr
                )
                traceback.print_exc(file=sys.stderr)
        for key, rec in self.store.load("prep"):
            job_key, node_id = key.split("/", 1)
            owner_job = self.jobs.get(job_key)
            if owner_job is None:
                continue
            job = owner_job
            doc = rec["doc"]
            prep_info = doc.get("jobPreparationTaskExecutionInfo") or {}
            release_info = doc.get("jobReleaseTaskExecutionInfo") or {}
            if release_info.get("state") == "running":
                doc.pop("jobReleaseTaskExecutionInfo")  # relaunched by the scheduler
            prep_def = job.doc.get("jobPreparationTask") or {}
            if prep_info.get("state") == "running" or (
                prep_info.get("result") == "success"
                and prep_def.get("rerunOnNodeRebootAfterSuccess", True)
                and "jobReleaseTaskExecutionInfo" not in doc
                and job.state in LIVE_JOB_STATES
            ):
                doc["_rerun"] = True  # prep runs again before the next task of the job on that node
            job.prep[node_id] = doc
            self._save_prep(job, node_id)
            self._retain_prep(job, node_id)
        self._seq = itertools.count(max_seq + 1)
        self._flush()

    def _load_task(self, rec: Doc, now: datetime) -> int:
        """Read one task record back (its job already loaded); returns its seq."""
        parent = self.jobs.get(rec["job"])
        if parent is None:
            return 0
        task = Task.from_record(rec)
        parent.add(task)
        self._retain_task(task)
        self._index_task(parent, task)
        if task.doc["state"] in ("running", "preparing"):
            # The node "rebooted": the task goes back to the queue, counted as a requeue.
            task.requeued(now)
            self._save_task(task)
        if task.doc["state"] == "active":
            # Even one whose body an older emulator stored unchecked: the scheduler isolates it.
            parent.active[task.key] = None
        return task.seq

    def _loop(self) -> None:
        while not self._stopped.is_set():
            with self._wake:
                seen = self._changes
                try:
                    self._tick()
                except Exception:  # noqa: BLE001 - the loop must outlive any error (each part isolates its own)
                    text = traceback.format_exc()
                    if text != self._last_tick_error:  # five ticks a second: print each new error once
                        self._last_tick_error = text
                        print(
                            f"localbatch: scheduler tick failed; the loop continues\n{text}", file=sys.stderr
                        )
                finally:
                    self._flush()
            try:
                self._launch_pending()
            except Exception:  # noqa: BLE001 - as above
                traceback.print_exc(file=sys.stderr)
            with self._wake:
                if self._changes == seen and not self._stopped.is_set():
                    self._wake.wait(timeout=0.2)

    def pool_url(self, pool_id: str) -> str:
        return f"{self.base_url}/pools/{pool_id}"

    def node_url(self, pool_id: str, node_id: str) -> str:
        return f"{self.base_url}/pools/{pool_id}/nodes/{node_id}"

    def job_url(self, job_id: str) -> str:
        return f"{self.base_url}/jobs/{job_id}"

    def job_schedule_url(self, schedule_id: str) -> str:
        return f"{self.base_url}/jobschedules/{schedule_id}"

    def task_url(self, job_id: str, task_id: str) -> str:
        return f"{self.base_url}/jobs/{job_id}/tasks/{task_id}"

    def _pool(self, pool_id: str) -> Pool:
        pool = self.pools.get(pool_id.lower())
        if pool is None:
            raise not_found("PoolNotFound", "pool")
        return pool

    def _node(self, pool_id: str, node_id: str) -> tuple[Pool, Node]:
        pool = self._pool(pool_id)
        node = pool.nodes.get(node_id) or next(
            (n for n in pool.nodes.values() if n.id.lower() == node_id.lower()), None
        )
        if node is None:
            raise not_found("NodeNotFound", "node")
        return pool, node

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id.lower())
        if job is None:
            raise not_found("JobNotFound", "job")
        return job

    def _job_schedule(self, schedule_id: str) -> JobSchedule:
        schedule = self.job_schedules.get(schedule_id.lower())
        if schedule is None:
            raise not_found("JobScheduleNotFound", "job schedule")
        return schedule

    def _task(self, job_id: str, task_id: str) -> tuple[Job, Task]:
        job = self._job(job_id)
        task = job.tasks.get(task_id.lower())
        if task is None:
            raise not_found("TaskNotFound", "task")
        return job, task

    def _node_by_ref(self, ref: tuple[str, str] | None) -> Node | None:
        if ref is None:
            return None
        pool = self.pools.get(ref[0])
        return pool.nodes.get(ref[1]) if pool else None


if TYPE_CHECKING:
    from ..validation import PoolBody
    from .executions import Execution
