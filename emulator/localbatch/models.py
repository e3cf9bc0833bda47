"""State and behaviour of the emulated Batch account, with no HTTP: pools, nodes, jobs, tasks, the
job preparation and release tasks, and the scheduler that assigns active tasks to free task slots.

Every public method takes and returns wire-shape dicts (camelCase, as in the REST bodies), so the HTTP
layer (`responses.py`) and the read-only portal both read the same documents. All state lives behind
one lock; every change is written through to the `Store` before the lock is released, so an API call
that returned success survives a crash. Task processes are launched through `runtime.launch` once the
lock is released, and one `runtime.Reaper` thread waits for all of them; exits that arrive together
are recorded under one lock hold and one store transaction. Only slow pre- and post-processing
(resource file downloads, output file uploads) gets a thread of its own. The scheduler thread
(`_tick`) moves jobs and pools through their asynchronous transitions (terminating -> completed,
deleting -> gone) exactly as the reference describes.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import heapq
import itertools
import re
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import runtime
from .exceptions import (
    BatchError,
    conflict,
    invalid_property,
    missing_property,
    not_found,
    unsupported_property,
)
from .store import Store

Doc = dict[str, Any]

# .NET TimeSpan.MaxValue: what Batch returns for an unset ("unlimited") duration.
UNLIMITED = "P10675199DT2H48M5.4775807S"
DEFAULT_RETENTION = "P7D"
RELEASE_DEFAULT_WALL_CLOCK = "PT15M"
RELEASE_MAX_WALL_CLOCK = timedelta(minutes=15)
DEFAULT_USER_IDENTITY: Doc = {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SCHEDULABLE_NODE_STATES = ("idle", "running")
COUNT_BUCKETS = ("active", "running", "completed", "succeeded", "failed")
# Seconds the terminate-task call waits for a running process to be killed and the task completed.
TERMINATE_WAIT_SECONDS = 10.0
# What to do with a node's running tasks on reboot, reimage, removal or pool shrink (same four values
# for nodeRebootOption, nodeReimageOption and nodeDeallocationOption; requeue is the default).
NODE_TASK_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")
# Node states a reboot or reimage is accepted in (the docs say idle or running; a node whose start
# task failed or that is unusable is exactly the one users reboot, so those are accepted too).
REBOOTABLE_NODE_STATES = ("idle", "running", "starttaskfailed", "unusable", "waitingforstarttask", "offline")
# Minimum seconds a node stays `rebooting` / `reimaging`, so pollers and users can see the state.
REBOOT_SECONDS = 0.3

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


# ---- small helpers ------------------------------------------------------------------------------


def utcnow() -> datetime:
    """The current UTC time (a function so there is one clock)."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """RFC 3339 UTC with microseconds and `Z`, the form Batch puts in bodies."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    """Parse a timestamp written by `iso` (or any RFC 3339 UTC value with up to 7 fraction digits)."""
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_duration(value: Any, name: str) -> timedelta | None:
    """An ISO-8601 duration as sent by the SDK (`PT01H30M00S`, `P7D`, `PT0.5S`); None if unlimited."""
    if value is None:
        return None
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match or value in ("P", "PT"):
        raise invalid_property(name, value, "The value is not a valid ISO-8601 duration.")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    delta = timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )
    # Anything of ten thousand days or more is the service's "unlimited".
    return None if delta >= timedelta(days=10000) else delta


def _seconds(value: Any, name: str) -> float | None:
    delta = parse_duration(value, name)
    return None if delta is None else delta.total_seconds()


def _check_id(value: Any, name: str = "id") -> str:
    if value is None or value == "":
        raise missing_property(name)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise invalid_property(
            name, value, "An id may contain only letters, digits, hyphens and underscores, up to 64 characters."
        )
    return value


def _check_enum(body: Doc, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in allowed:
        raise invalid_property(name, value, f"Allowed values: {', '.join(allowed)}.")
    return value.lower()


def _check_int(body: Doc, name: str, default: int, lo: int, hi: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid_property(name, value, f"The value must be an integer from {lo} to {hi}.")
    return value


def _check_list(body: Doc, name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_property(name, value, "The value must be a list.")
    return value


def _check_name_values(body: Doc, name: str) -> list[Doc]:
    items = _check_list(body, name)
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            raise missing_property(f"{name}.name")
    return items


_etag_counter = itertools.count(int(time.time() * 1e7))


def _touch(doc: Doc, now: datetime | None = None) -> None:
    """Give `doc` a new ETag and lastModified, as every change on the service does."""
    doc["eTag"] = f"0x8DD{next(_etag_counter) % 16**12:012X}"
    doc["lastModified"] = iso(now or utcnow())


def _set_state(doc: Doc, state: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    if doc.get("state") == state:
        return
    if "state" in doc:
        doc["previousState"] = doc["state"]
        doc["previousStateTransitionTime"] = doc["stateTransitionTime"]
    doc["state"] = state
    doc["stateTransitionTime"] = iso(now)
    _touch(doc, now)


def _windows_refused(name: str) -> BatchError:
    return unsupported_property(
        name, "Windows-only feature: the local Batch emulator runs Linux nodes as local processes."
    )


# ---- entities -----------------------------------------------------------------------------------


@dataclass
class Node:
    """A compute node: its wire document, sandbox root and which tasks hold its slots."""

    pool_key: str
    doc: Doc
    root: Path
    seq: int
    slots: dict[tuple[str, str], int] = field(default_factory=dict)
    ineligible_jobs: set[str] = field(default_factory=set)
    # A reboot, reimage or removal in progress: {"op": reboot|reimage|remove, "option", "since"}.
    pending: Doc | None = None

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    def record(self) -> Doc:
        return {"doc": self.doc, "pool": self.pool_key, "root": str(self.root), "seq": self.seq,
                "ineligible": sorted(self.ineligible_jobs), "pending": self.pending}  # fmt: skip


@dataclass
class Pool:
    """A pool and its nodes (keyed by node id)."""

    doc: Doc
    seq: int
    nodes: dict[str, Node] = field(default_factory=dict)
    next_index: int = 0  # the index the next new node's id is derived from (never reused)
    deallocation: str = "requeue"  # nodeDeallocationOption of the resize in progress

    @property
    def key(self) -> str:
        return str(self.doc["id"]).lower()

    def record(self) -> Doc:
        return {"doc": self.doc, "seq": self.seq, "nextIndex": self.next_index, "deallocation": self.deallocation}


@dataclass
class Task:
    """A task of a job; `node` is (pool key, node id) while it holds a slot."""

    job_key: str
    doc: Doc
    seq: int
    node: tuple[str, str] | None = None
    terminate_requested: bool = False
    requeue_requested: bool = False
    counted: tuple[str, str | None, int] | None = None  # what this task adds to its job's counts
    files_cleaned: bool = False  # its directory was deleted when its retentionTime ran out

    @property
    def key(self) -> str:
        return str(self.doc["id"]).lower()

    def record(self) -> Doc:
        return {"doc": self.doc, "job": self.job_key, "seq": self.seq,
                "node": list(self.node) if self.node else None, "cleaned": self.files_cleaned}  # fmt: skip


@dataclass
class Job:
    """A job, its tasks, the queue of active tasks and the prep/release records per node."""

    doc: Doc
    seq: int
    tasks: dict[str, Task] = field(default_factory=dict)
    active: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of task keys
    prep: dict[str, Doc] = field(default_factory=dict)  # node id -> status record (wire shape)
    pending_reason: str | None = None  # terminateReason recorded when the job completes
    release_due: bool = False  # the job ended in a way that runs the release task
    disable_option: str | None = None
    # Running task and slot counts by state (`running` includes `preparing`), kept up to date on
    # every task change so that `task_counts` and the scheduler never iterate over all tasks.
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_BUCKETS, 0))
    slot_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_BUCKETS, 0))

    @property
    def key(self) -> str:
        return str(self.doc["id"]).lower()

    @property
    def state(self) -> str:
        return str(self.doc["state"])

    def record(self) -> Doc:
        return {"doc": self.doc, "seq": self.seq, "reason": self.pending_reason,
                "releaseDue": self.release_due, "disable": self.disable_option}  # fmt: skip


@dataclass
class Execution:
    """One attempt of a task, prep, release or start task: what to run, what to do with its result,
    the process once launched, and the events to stop/await it.

    `on_result` runs under the service lock with the `ProcessResult`; a non-None return value is
    handed to `after` on a thread of its own, outside the lock (output file uploads).
    """

    key: tuple[str, ...]
    run: runtime.TaskRun
    on_result: Callable[[runtime.ProcessResult], Any]
    after: Callable[[Any], None] | None = None
    process: runtime.Process | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


# ---- the service --------------------------------------------------------------------------------


class BatchService:
    """The emulated Batch account: all pools, nodes, jobs and tasks, persisted in `data_dir`.

    `base_url` is the account URL used in `url` fields and `AZ_BATCH_ACCOUNT_URL`; the server sets it
    once it knows its port. Call `start()` to run the scheduler thread, `stop()` to end it and cancel
    running processes. Methods raise `BatchError` for anything the service would refuse.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        account_name: str,
        base_url: str = "http://127.0.0.1",
        max_nodes: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
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
        self._reaper = runtime.Reaper(self._on_exits)
        self._changes = 0
        self.pools: dict[str, Pool] = {}
        self.jobs: dict[str, Job] = {}
        self._executions: dict[tuple[str, ...], Execution] = {}
        self._seq = itertools.count(1)
        self._puts: dict[tuple[str, str], Doc] = {}
        self._deletes: set[tuple[str, str]] = set()
        # Directories to delete once their retentionTime runs out: (due epoch seconds, kind, job
        # key, task key or node id, endTime it was scheduled for); checked again when it comes due.
        self._retention: list[tuple[float, str, str, str, str]] = []
        self.store = Store(self.data_dir / "localbatch.sqlite3")
        self._load()

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread (and re-run start tasks of nodes that "rebooted")."""
        with self._op():
            for pool in self.pools.values():
                for node in pool.nodes.values():
                    if node.doc["state"] in ("starting", "waitingforstarttask"):
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

    def _save_task(self, task: Task) -> None:
        # Every change of a task is saved, so this is where its job's counts follow it.
        job = self.jobs.get(task.job_key)
        if job is not None and job.tasks.get(task.key) is task:
            self._count(job, task)
        self._save("task", f"{task.job_key}/{task.key}", task.record())

    @staticmethod
    def _count(job: Job, task: Task) -> None:
        """Move `task`'s contribution to `job.counts` / `job.slot_counts` to its current state."""
        doc = task.doc
        state = doc["state"]
        result = None
        if state == "completed":
            result = "succeeded" if doc["executionInfo"].get("result") == "success" else "failed"
        now = ("running" if state == "preparing" else state, result, int(doc.get("requiredSlots", 1)))
        if now != task.counted:
            BatchService._uncount(job, task)
            bucket, outcome, weight = now
            job.counts[bucket] += 1
            job.slot_counts[bucket] += weight
            if outcome is not None:
                job.counts[outcome] += 1
                job.slot_counts[outcome] += weight
            task.counted = now

    @staticmethod
    def _uncount(job: Job, task: Task) -> None:
        """Take `task` out of its job's counts (deleted, or about to be counted again)."""
        if task.counted is None:
            return
        bucket, outcome, weight = task.counted
        job.counts[bucket] -= 1
        job.slot_counts[bucket] -= weight
        if outcome is not None:
            job.counts[outcome] -= 1
            job.slot_counts[outcome] -= weight
        task.counted = None

    def _save_prep(self, job: Job, node_id: str) -> None:
        self._save("prep", f"{job.key}/{node_id}", {"doc": job.prep[node_id]})

    def _load(self) -> None:
        """Read everything back; processes that were running are requeued, as after a node reboot."""
        now = utcnow()
        max_seq = 0
        for _, rec in self.store.load("pool"):
            pool = Pool(rec["doc"], rec["seq"], next_index=rec.get("nextIndex", 0),
                        deallocation=rec.get("deallocation", "requeue"))  # fmt: skip
            self.pools[pool.key] = pool
            max_seq = max(max_seq, pool.seq)
        for _, rec in self.store.load("node"):
            owner = self.pools.get(rec["pool"])
            if owner is None:
                continue
            node = Node(rec["pool"], rec["doc"], Path(rec["root"]), rec["seq"], {}, set(rec["ineligible"]),
                        rec.get("pending"))  # fmt: skip
            owner.next_index = max(owner.next_index, len(owner.nodes) + 1)
            # The node "rebooted": processes a killed emulator left running end now, before requeueing.
            runtime.reap_orphans(node.root)
            doc = node.doc
            doc.update(runningTasksCount=0, runningTaskSlotsCount=0, lastBootTime=iso(now))
            if node.pending is not None:
                pass  # a reboot, reimage or removal in progress: the scheduler finishes it
            elif doc.get("startTask") and doc["state"] != "starttaskfailed":
                _set_state(doc, "waitingforstarttask" if self._waits_for_start(doc) else "idle", now)
            elif doc["state"] not in ("starttaskfailed",):
                _set_state(doc, "idle", now)
            owner.nodes[node.id] = node
            self._save_node(node)
        for _, rec in self.store.load("job"):
            job = Job(rec["doc"], rec["seq"], pending_reason=rec.get("reason"),
                      release_due=rec.get("releaseDue", False), disable_option=rec.get("disable"))  # fmt: skip
            self.jobs[job.key] = job
            max_seq = max(max_seq, job.seq)
        tasks = [rec for _, rec in self.store.load("task")]
        for rec in sorted(tasks, key=lambda r: r["seq"]):
            parent = self.jobs.get(rec["job"])
            if parent is None:
                continue
            task = Task(parent.key, rec["doc"], rec["seq"], files_cleaned=rec.get("cleaned", False))
            parent.tasks[task.key] = task
            self._retain_task(task)
            self._count(parent, task)
            max_seq = max(max_seq, task.seq)
            if task.doc["state"] in ("running", "preparing"):
                # The node "rebooted": the task goes back to the queue, counted as a requeue.
                info = task.doc["executionInfo"]
                info["requeueCount"] = info.get("requeueCount", 0) + 1
                info["lastRequeueTime"] = iso(now)
                _set_state(task.doc, "active", now)
                self._save_task(task)
            if task.doc["state"] == "active":
                parent.active[task.key] = None
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
                and job.state in ("active", "disabled", "disabling", "enabling")
            ):
                doc["_rerun"] = True  # prep runs again before the next task of the job on that node
            job.prep[node_id] = doc
            self._save_prep(job, node_id)
            self._retain_prep(job, node_id)
        self._seq = itertools.count(max_seq + 1)
        self._flush()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            with self._wake:
                seen = self._changes
                try:
                    self._tick()
                finally:
                    self._flush()
            self._launch_pending()
            with self._wake:
                if self._changes == seen and not self._stopped.is_set():
                    self._wake.wait(timeout=0.2)

    # ---- URLs -----------------------------------------------------------------------------------

    def pool_url(self, pool_id: str) -> str:
        return f"{self.base_url}/pools/{pool_id}"

    def node_url(self, pool_id: str, node_id: str) -> str:
        return f"{self.base_url}/pools/{pool_id}/nodes/{node_id}"

    def job_url(self, job_id: str) -> str:
        return f"{self.base_url}/jobs/{job_id}"

    def task_url(self, job_id: str, task_id: str) -> str:
        return f"{self.base_url}/jobs/{job_id}/tasks/{task_id}"

    # ---- lookups --------------------------------------------------------------------------------

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

    # ---- read API (wire-shape copies; used by responses.py and the portal) -----------------------

    def list_pools(self) -> list[Doc]:
        """Every pool, in creation order."""
        with self.lock:
            return [copy.deepcopy(p.doc) for p in sorted(self.pools.values(), key=lambda p: p.seq)]

    def get_pool(self, pool_id: str) -> Doc:
        """One pool (404 `PoolNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._pool(pool_id).doc)

    def list_nodes(self, pool_id: str) -> list[Doc]:
        """The nodes of a pool, in creation order."""
        with self.lock:
            pool = self._pool(pool_id)
            return [copy.deepcopy(n.doc) for n in sorted(pool.nodes.values(), key=lambda n: n.seq)]

    def get_node(self, pool_id: str, node_id: str) -> Doc:
        """One node (404 `PoolNotFound` / `NodeNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._node(pool_id, node_id)[1].doc)

    def node_root(self, pool_id: str, node_id: str) -> Path:
        """The node's AZ_BATCH_NODE_ROOT_DIR on this machine (for the node-file API)."""
        with self.lock:
            return self._node(pool_id, node_id)[1].root

    def list_jobs(self) -> list[Doc]:
        """Every job, in creation order."""
        with self.lock:
            return [copy.deepcopy(j.doc) for j in sorted(self.jobs.values(), key=lambda j: j.seq)]

    def get_job(self, job_id: str) -> Doc:
        """One job (404 `JobNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._job(job_id).doc)

    def list_tasks(self, job_id: str) -> list[Doc]:
        """The tasks of a job, in creation order."""
        with self.lock:
            return [copy.deepcopy(t.doc) for t in self._job(job_id).tasks.values()]

    def get_task(self, job_id: str, task_id: str) -> Doc:
        """One task (404 `JobNotFound` / `TaskNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._task(job_id, task_id)[1].doc)

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

    def task_counts(self, job_id: str) -> Doc:
        """`{"taskCounts": {...}, "taskSlotCounts": {...}}`; `running` includes `preparing`."""
        with self.lock:
            job = self._job(job_id)
            return {"taskCounts": dict(job.counts), "taskSlotCounts": dict(job.slot_counts)}

    def list_preparation_and_release_status(self, job_id: str) -> list[Doc]:
        """One record per node that ran the job preparation or release task (409 without them)."""
        with self.lock:
            job = self._job(job_id)
            if not job.doc.get("jobPreparationTask") and not job.doc.get("jobReleaseTask"):
                raise conflict(
                    "JobPreparationTaskNotSpecified",
                    "The specified job does not have a job preparation task or job release task.",
                )
            out = []
            for rec in job.prep.values():
                if "jobPreparationTaskExecutionInfo" in rec or "jobReleaseTaskExecutionInfo" in rec:
                    out.append({k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")})
            return out

    # ---- pools ----------------------------------------------------------------------------------

    def create_pool(self, body: Doc) -> Doc:
        """Create a pool with its nodes at once (`allocationState` steady); returns the pool."""
        pool_id = _check_id(body.get("id"))
        if body.get("cloudServiceConfiguration"):
            raise _windows_refused("cloudServiceConfiguration")
        if not body.get("vmSize"):
            raise missing_property("vmSize")
        vmc = body.get("virtualMachineConfiguration")
        if not isinstance(vmc, dict):
            raise missing_property("virtualMachineConfiguration")
        if not vmc.get("imageReference"):
            raise missing_property("virtualMachineConfiguration.imageReference")
        sku = vmc.get("nodeAgentSKUId")
        if not sku:
            raise missing_property("virtualMachineConfiguration.nodeAgentSKUId")
        if "windows" in str(sku).lower() or vmc.get("windowsConfiguration"):
            raise _windows_refused("virtualMachineConfiguration.nodeAgentSKUId")
        for name in ("containerConfiguration", "diskEncryptionConfiguration"):
            if vmc.get(name):
                raise unsupported_property(f"virtualMachineConfiguration.{name}", "Not emulated locally.")
        if body.get("enableAutoScale"):
            raise unsupported_property("enableAutoScale", "Autoscale is not emulated; set targetDedicatedNodes.")
        if body.get("mountConfiguration"):
            raise unsupported_property("mountConfiguration", "File system mounts are not emulated locally.")
        for account in _check_list(body, "userAccounts"):
            if isinstance(account, dict) and account.get("windowsUserConfiguration"):
                raise _windows_refused("userAccounts.windowsUserConfiguration")
        slots = _check_int(body, "taskSlotsPerNode", 1, 1, 256)
        policy = body.get("taskSchedulingPolicy") or {}
        fill = _check_enum(policy, "nodeFillType", ("spread", "pack"), "spread")
        dedicated = _check_int(body, "targetDedicatedNodes", 0, 0, 10000)
        low = _check_int(body, "targetLowPriorityNodes", 0, 0, 10000)
        start_task = body.get("startTask")
        if start_task is not None:
            self._check_task_like(start_task, "startTask")
        parse_duration(body.get("resizeTimeout"), "resizeTimeout")
        with self._op():
            if pool_id.lower() in self.pools:
                raise conflict("PoolExists", "The specified pool already exists.")
            now = utcnow()
            doc: Doc = {k: copy.deepcopy(v) for k, v in body.items() if v is not None}
            doc.update(
                id=pool_id, url=self.pool_url(pool_id), creationTime=iso(now), state="active",
                stateTransitionTime=iso(now), allocationState="steady",
                allocationStateTransitionTime=iso(now), resizeTimeout=body.get("resizeTimeout") or "PT15M",
                targetDedicatedNodes=dedicated, targetLowPriorityNodes=low, enableAutoScale=False,
                enableInterNodeCommunication=bool(body.get("enableInterNodeCommunication", False)),
                taskSlotsPerNode=slots, taskSchedulingPolicy={**policy, "nodeFillType": fill},
            )  # fmt: skip
            _touch(doc, now)
            pool = Pool(doc, next(self._seq))
            self.pools[pool.key] = pool
            existing = sum(len(p.nodes) for p in self.pools.values())
            room = None if self.max_nodes is None else max(0, self.max_nodes - existing)
            want = [True] * dedicated + [False] * low
            grant = want if room is None else want[:room]
            if len(grant) < len(want):
                doc["resizeErrors"] = [{
                    "code": "AccountCoreQuotaReached",
                    "message": f"The local emulator's node cap (--max-nodes {self.max_nodes}) was reached: "
                               f"allocated {len(grant)} of {len(want)} nodes.",
                }]  # fmt: skip
            for index, is_dedicated in enumerate(grant):
                self._add_node(pool, index, is_dedicated, now)
            doc["currentDedicatedNodes"] = sum(1 for d in grant if d)
            doc["currentLowPriorityNodes"] = sum(1 for d in grant if not d)
            self._save_pool(pool)
            return copy.deepcopy(doc)

    def _add_node(self, pool: Pool, index: int, is_dedicated: bool, now: datetime) -> Node:
        digest = hashlib.sha256(f"{pool.doc['id']}|{pool.doc['creationTime']}|{index}".encode()).hexdigest()
        node_id = f"tvmps_{digest}_{'d' if is_dedicated else 'p'}"
        root = self.data_dir / "nodes" / pool.doc["id"] / node_id
        runtime.prepare_node_root(root)
        vmc = pool.doc["virtualMachineConfiguration"]
        doc: Doc = {
            "id": node_id, "url": self.node_url(pool.doc["id"], node_id), "state": "starting",
            "schedulingState": "enabled", "stateTransitionTime": iso(now), "lastBootTime": iso(now),
            "allocationTime": iso(now), "ipAddress": f"10.0.{index // 250}.{index % 250 + 4}",
            "affinityId": f"TVM:{node_id}", "vmSize": pool.doc["vmSize"], "totalTasksRun": 0,
            "totalTasksSucceeded": 0, "runningTasksCount": 0, "runningTaskSlotsCount": 0,
            "isDedicated": is_dedicated,
            "nodeAgentInfo": {"version": "1.11.0-localbatch", "lastUpdateTime": iso(now)},
            "virtualMachineInfo": {"imageReference": copy.deepcopy(vmc.get("imageReference"))},
        }  # fmt: skip
        if pool.doc.get("startTask"):
            doc["startTask"] = copy.deepcopy(pool.doc["startTask"])
        _touch(doc, now)
        node = Node(pool.key, doc, root, next(self._seq))
        pool.nodes[node_id] = node
        pool.next_index = max(pool.next_index, index + 1)
        if doc.get("startTask"):
            _set_state(doc, "waitingforstarttask" if self._waits_for_start(doc) else "idle", now)
            self._launch_start_task(pool, node)
        else:
            _set_state(doc, "idle", now)
        self._save_node(node)
        return node

    @staticmethod
    def _waits_for_start(node_doc: Doc) -> bool:
        return bool((node_doc.get("startTask") or {}).get("waitForSuccess", True))

    def delete_pool(self, pool_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Move the pool to `deleting` now; running tasks are requeued and the pool disappears later."""
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            if pool.doc["state"] == "deleting":
                raise conflict("PoolBeingDeleted", "The specified pool has been marked for deletion.")
            now = utcnow()
            _set_state(pool.doc, "deleting", now)
            pool.doc["allocationState"] = "resizing"
            pool.doc["allocationStateTransitionTime"] = iso(now)
            self._save_pool(pool)
            for node in pool.nodes.values():
                _set_state(node.doc, "leavingpool", now)
                self._save_node(node)
                for job_key, task_key in list(node.slots):
                    job = self.jobs.get(job_key)
                    task = job.tasks.get(task_key) if job else None
                    if job and task:
                        self._requeue(job, task, now)
                for key, execution in self._executions.items():
                    if key[0] in ("prep", "release") and key[2] == node.id or key == ("start", node.id):
                        self._stop_execution(execution)

    def _finish_pool_deletes(self) -> None:
        for pool in list(self.pools.values()):
            if pool.doc["state"] != "deleting":
                continue
            node_ids = set(pool.nodes)
            if any(n.slots for n in pool.nodes.values()) or any(
                (k[0] in ("prep", "release") and k[2] in node_ids) or (k[0] == "start" and k[1] in node_ids)
                for k in self._executions
            ):
                continue
            del self.pools[pool.key]
            self._forget("pool", pool.key)
            for node in pool.nodes.values():
                self._forget("node", f"{pool.key}/{node.id}")
            _remove_tree_later(self.data_dir / "nodes" / pool.doc["id"])

    # ---- node operations: reboot, reimage, remove; pool resize ----------------------------------

    def reboot_node(self, pool_id: str, node_id: str, option: Any = None, *, reimage: bool = False) -> None:
        """Reboot (or reimage) a node: it is `rebooting` / `reimaging` before this returns; its tasks
        are handled per `option`, then it boots again (start task reruns; reimage wipes its disk)."""
        option = _node_task_option(option, "nodeReimageOption" if reimage else "nodeRebootOption")
        with self._op():
            pool, node = self._node(pool_id, node_id)
            if pool.doc["state"] == "deleting":
                raise conflict("PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.")
            state = node.doc["state"]
            if state == "rebooting":
                raise conflict("NodeBeingRebooted", "The specified node is being rebooted.")
            if state == "reimaging":
                raise conflict("NodeBeingReimaged", "The specified node is being reimaged.")
            if node.pending is not None or state not in REBOOTABLE_NODE_STATES:
                raise conflict("OperationNotValidOnNode", f"The operation is not valid on a node in the {state} state.")
            self._begin_node_op(node, "reimage" if reimage else "reboot", option, utcnow())

    def remove_nodes(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> None:
        """Remove the listed nodes (`nodeList`, at most 100): the pool goes `resizing` until they left."""
        node_ids = body.get("nodeList")
        if not isinstance(node_ids, list) or not node_ids:
            raise missing_property("nodeList")
        if len(node_ids) > 100:
            raise invalid_property("nodeList", len(node_ids), "At most 100 nodes can be removed per request.")
        option = _node_task_option(body.get("nodeDeallocationOption"), "nodeDeallocationOption")
        parse_duration(body.get("resizeTimeout"), "resizeTimeout")
        with self._op():
            pool = self._steady_pool(pool_id, check)
            nodes = [self._node(pool_id, str(n))[1] for n in node_ids]
            now = utcnow()
            for node in nodes:
                if node.pending is None or node.pending["op"] != "remove":
                    self._begin_node_op(node, "remove", option, now)
            current = [n for n in pool.nodes.values() if n.pending is None or n.pending["op"] != "remove"]
            pool.doc["targetDedicatedNodes"] = sum(1 for n in current if n.doc["isDedicated"])
            pool.doc["targetLowPriorityNodes"] = sum(1 for n in current if not n.doc["isDedicated"])
            self._set_allocation(pool, "resizing", now)

    def resize_pool(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> None:
        """Set new node targets; the pool is `resizing` before this returns and `steady` once nodes
        joined (start task) or left (their tasks handled per `nodeDeallocationOption`)."""
        # An omitted target keeps its current value.
        dedicated = _check_int(body, "targetDedicatedNodes", 0, 0, 10000) if body.get("targetDedicatedNodes") is not None else -1
        low = _check_int(body, "targetLowPriorityNodes", 0, 0, 10000) if body.get("targetLowPriorityNodes") is not None else -1
        option = _node_task_option(body.get("nodeDeallocationOption"), "nodeDeallocationOption")
        parse_duration(body.get("resizeTimeout"), "resizeTimeout")
        with self._op():
            pool = self._steady_pool(pool_id, check)
            if dedicated >= 0:
                pool.doc["targetDedicatedNodes"] = dedicated
            if low >= 0:
                pool.doc["targetLowPriorityNodes"] = low
            if body.get("resizeTimeout"):
                pool.doc["resizeTimeout"] = body["resizeTimeout"]
            pool.deallocation = option
            pool.doc.pop("resizeErrors", None)  # cleared by the next resize, as on Batch
            self._set_allocation(pool, "resizing", utcnow())

    def stop_resize(self, pool_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Stop a resize: the pool keeps the nodes it has now (`stopping`, then `steady`)."""
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            if pool.doc["state"] == "deleting":
                raise conflict("PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.")
            if pool.doc["allocationState"] == "steady":
                return
            staying = [n for n in pool.nodes.values() if n.pending is None or n.pending["op"] != "remove"]
            pool.doc["targetDedicatedNodes"] = sum(1 for n in staying if n.doc["isDedicated"])
            pool.doc["targetLowPriorityNodes"] = sum(1 for n in staying if not n.doc["isDedicated"])
            self._set_allocation(pool, "stopping", utcnow())

    def _steady_pool(self, pool_id: str, check: Callable[[Doc], None] | None) -> Pool:
        pool = self._pool(pool_id)
        if check:
            check(pool.doc)
        if pool.doc["state"] == "deleting":
            raise conflict("PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.")
        if pool.doc["allocationState"] != "steady":
            raise conflict("PoolBeingResized", "The specified pool is being resized.")
        return pool

    def _set_allocation(self, pool: Pool, state: str, now: datetime) -> None:
        if pool.doc["allocationState"] != state:
            pool.doc["allocationState"] = state
            pool.doc["allocationStateTransitionTime"] = iso(now)
        _touch(pool.doc, now)
        self._save_pool(pool)

    def _begin_node_op(self, node: Node, op: str, option: str, now: datetime) -> None:
        """Start a reboot / reimage / removal: new state now, the node's work handled per `option`."""
        node.pending = {"op": op, "option": option, "since": iso(now)}
        _set_state(node.doc, {"reboot": "rebooting", "reimage": "reimaging", "remove": "leavingpool"}[op], now)
        self._save_node(node)
        drain = option in ("taskcompletion", "retaineddata")
        for job_key, task_key in list(node.slots):
            job = self.jobs.get(job_key)
            task = job.tasks.get(task_key) if job else None
            if job is None or task is None:
                continue
            if task.doc["state"] == "preparing" or option == "requeue":
                self._requeue(job, task, now)  # not started yet: always back to the queue
            elif option == "terminate":
                task.terminate_requested = True
                self._cancel(("task", job.key, task.key))
            # taskcompletion / retaineddata: running tasks finish; nothing new is scheduled here.
        for key, execution in list(self._executions.items()):
            if key == ("start", node.id):
                self._stop_execution(execution)  # it runs again on the next boot
            elif key[0] in ("prep", "release") and key[2] == node.id and not drain:
                job = self.jobs.get(key[1])
                if job is not None and node.id in job.prep:
                    job.prep[node.id]["_interrupted" if key[0] == "prep" else "_interrupted_release"] = True
                    job.prep[node.id]["_rerun"] = True
                    self._save_prep(job, node.id)
                self._stop_execution(execution)

    def _node_busy(self, node: Node) -> bool:
        return bool(node.slots) or any(
            (k[0] in ("prep", "release") and k[2] == node.id) or k == ("start", node.id) for k in self._executions
        )

    def _advance_pools(self, now: datetime) -> None:
        """Finish reboots, reimages and removals whose node is quiet; grow or shrink resizing pools."""
        for pool in list(self.pools.values()):
            if pool.doc["state"] == "deleting":
                continue
            for node in list(pool.nodes.values()):
                if node.pending is None or self._node_busy(node):
                    continue
                if node.pending["op"] == "remove":
                    self._drop_node(pool, node)
                elif now - parse_iso(node.pending["since"]) >= timedelta(seconds=REBOOT_SECONDS):
                    self._boot(pool, node, now)
            if pool.doc["allocationState"] == "resizing":
                self._resize_step(pool, now)
            if pool.doc["allocationState"] in ("resizing", "stopping") and not any(
                n.pending is not None and n.pending["op"] == "remove" for n in pool.nodes.values()
            ):
                self._count_nodes(pool)
                self._set_allocation(pool, "steady", now)

    def _resize_step(self, pool: Pool, now: datetime) -> None:
        """Add missing nodes (within --max-nodes) and mark surplus ones to leave, idle ones first."""
        for dedicated, target_key in ((True, "targetDedicatedNodes"), (False, "targetLowPriorityNodes")):
            staying = [n for n in pool.nodes.values() if n.doc["isDedicated"] == dedicated
                       and (n.pending is None or n.pending["op"] != "remove")]  # fmt: skip
            target = int(pool.doc.get(target_key) or 0)
            if len(staying) > target:
                # Batch picks which nodes go: the least busy, newest first.
                staying.sort(key=lambda n: (len(n.slots), -n.seq))
                for node in staying[: len(staying) - target]:
                    self._begin_node_op(node, "remove", pool.deallocation, now)
            for _ in range(target - len(staying)):
                existing = sum(len(p.nodes) for p in self.pools.values())
                if self.max_nodes is not None and existing >= self.max_nodes:
                    pool.doc["resizeErrors"] = [{
                        "code": "AccountCoreQuotaReached",
                        "message": f"The local emulator's node cap (--max-nodes {self.max_nodes}) was reached.",
                    }]  # fmt: skip
                    break
                self._add_node(pool, pool.next_index, dedicated, now)
        self._count_nodes(pool)

    def _count_nodes(self, pool: Pool) -> None:
        staying = [n for n in pool.nodes.values() if n.pending is None or n.pending["op"] != "remove"]
        pool.doc["currentDedicatedNodes"] = sum(1 for n in staying if n.doc["isDedicated"])
        pool.doc["currentLowPriorityNodes"] = sum(1 for n in staying if not n.doc["isDedicated"])
        self._save_pool(pool)

    def _drop_node(self, pool: Pool, node: Node) -> None:
        """A removed node leaves the pool: its record and its directories go."""
        del pool.nodes[node.id]
        self._forget("node", f"{pool.key}/{node.id}")
        for job in self.jobs.values():
            for task in job.tasks.values():
                if task.node == (pool.key, node.id):
                    task.node = None
        _remove_tree_later(node.root)
        self._count_nodes(pool)

    def _boot(self, pool: Pool, node: Node, now: datetime) -> None:
        """The node comes back from a reboot or reimage: prep reruns as documented, start task reruns."""
        assert node.pending is not None
        reimage = node.pending["op"] == "reimage"
        node.pending = None
        if reimage:
            # A fresh OS disk: the task, shared and startup directories are gone, and the node is
            # eligible again for jobs whose preparation task failed on it.
            for name in ("workitems", "shared", "startup"):
                path = node.root / name
                if path.exists():
                    trash = node.root.parent / f".reimaged-{node.id}-{name}-{next(self._seq)}"
                    path.rename(trash)
                    _remove_tree_later(trash)
            node.ineligible_jobs.clear()
        runtime.prepare_node_root(node.root)
        for job in self.jobs.values():
            rec = job.prep.get(node.id)
            if rec is None or "jobReleaseTaskExecutionInfo" in rec:
                continue  # the job ended there already
            info = rec.get("jobPreparationTaskExecutionInfo") or {}
            spec = job.doc.get("jobPreparationTask") or {}
            if reimage:
                rec["_rerun"] = True
                rec["_wiped"] = True  # release runs there only if prep runs again first
            elif info.get("state") != "completed" or (
                info.get("result") == "success" and spec.get("rerunOnNodeRebootAfterSuccess", True)
            ):
                rec["_rerun"] = True
            self._save_prep(job, node.id)
        doc = node.doc
        doc["lastBootTime"] = iso(now)
        doc.update(runningTasksCount=0, runningTaskSlotsCount=0)
        if doc.get("startTask"):
            doc["startTaskInfo"] = {"retryCount": 0}
            _set_state(doc, "waitingforstarttask" if self._waits_for_start(doc) else "idle", now)
            self._launch_start_task(pool, node)
        else:
            _set_state(doc, "idle", now)
        self._save_node(node)

    # ---- retention ------------------------------------------------------------------------------

    def _retain_task(self, task: Task) -> None:
        """Schedule the deletion of a completed task's directory after its retentionTime."""
        info = task.doc.get("executionInfo") or {}
        if task.doc.get("state") != "completed" or task.files_cleaned or not task.doc.get("nodeInfo") or not info.get("endTime"):
            return
        keep = parse_duration(task.doc.get("constraints", {}).get("retentionTime") or DEFAULT_RETENTION, "retentionTime")
        if keep is None:
            return
        due = (parse_iso(info["endTime"]) + keep).timestamp()
        heapq.heappush(self._retention, (due, "task", task.job_key, task.key, info["endTime"]))

    def _retain_prep(self, job: Job, node_id: str) -> None:
        """Schedule the deletion of the prep / release task directories on a node after theirs."""
        rec = job.prep.get(node_id) or {}
        for kind, info_key, spec_key in (("prep", "jobPreparationTaskExecutionInfo", "jobPreparationTask"),
                                         ("release", "jobReleaseTaskExecutionInfo", "jobReleaseTask")):  # fmt: skip
            info = rec.get(info_key) or {}
            spec = job.doc.get(spec_key) or {}
            if info.get("state") != "completed" or not info.get("endTime") or not spec:
                continue
            value = (spec.get("constraints") or {}).get("retentionTime") if kind == "prep" else spec.get("retentionTime")
            keep = parse_duration(value or DEFAULT_RETENTION, "retentionTime")
            if keep is not None:
                due = (parse_iso(info["endTime"]) + keep).timestamp()
                heapq.heappush(self._retention, (due, kind, job.key, node_id, info["endTime"]))

    def _sweep_retention(self, now: datetime) -> None:
        """Delete the directories whose retentionTime ran out (entries are re-checked: a task that
        was reactivated or deleted since has a different endTime or is gone)."""
        stamp = now.timestamp()
        while self._retention and self._retention[0][0] <= stamp:
            _, kind, job_key, item, end_time = heapq.heappop(self._retention)
            job = self.jobs.get(job_key)
            if job is None:
                continue
            if kind == "task":
                task = job.tasks.get(item)
                if task is None or task.doc["state"] != "completed" or task.files_cleaned:
                    continue
                if task.doc["executionInfo"].get("endTime") != end_time:
                    continue
                path = self._task_dir_of(task)
                task.files_cleaned = True
                self._save_task(task)
            else:
                rec = job.prep.get(item) or {}
                info = rec.get("jobPreparationTaskExecutionInfo" if kind == "prep" else "jobReleaseTaskExecutionInfo") or {}
                if info.get("endTime") != end_time or (kind == "prep" and f"prep/{job_key}/{item}" in self._busy_keys()):
                    continue
                pool = self.pools.get(str(rec.get("poolId", "")).lower())
                node = pool.nodes.get(item) if pool else None
                path = node.root / info["taskRootDirectory"] if node and info.get("taskRootDirectory") else None
            if path is not None:
                _remove_tree_later(path)

    def _busy_keys(self) -> set[str]:
        return {"/".join(k) for k in self._executions}

    # ---- start task -----------------------------------------------------------------------------

    def _launch_start_task(self, pool: Pool, node: Node) -> None:
        spec = node.doc["startTask"]
        now = utcnow()
        info = node.doc.setdefault("startTaskInfo", {"retryCount": 0})
        info.update(state="running", startTime=iso(now))
        for name in ("endTime", "exitCode", "result", "failureInfo"):
            info.pop(name, None)
        env = runtime.task_environment(
            account_name=self.account_name, account_url=self.base_url, pool_id=pool.doc["id"],
            node_id=node.id, node_root=node.root, task_dir=node.root / "startup",
            is_dedicated=bool(node.doc["isDedicated"]), user_identity=spec.get("userIdentity"),
            environment_settings=spec.get("environmentSettings"),
        )  # fmt: skip
        run = runtime.TaskRun(
            node_root=node.root, task_dir=node.root / "startup", command_line=spec["commandLine"],
            environment=env, resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=None,
        )  # fmt: skip
        key = ("start", node.id)
        self._spawn(key, run, lambda result: self._start_task_done(pool.key, node.id, run, result))

    def _start_task_done(self, pool_key: str, node_id: str, run: runtime.TaskRun, result: runtime.ProcessResult) -> None:
        pool = self.pools.get(pool_key)
        node = pool.nodes.get(node_id) if pool else None
        if pool is None or node is None or pool.doc["state"] == "deleting" or node.pending is not None:
            return  # killed by a reboot, reimage or removal: the node's next boot runs it again
        spec = node.doc["startTask"]
        info = node.doc["startTaskInfo"]
        max_retries = int(spec.get("maxTaskRetryCount", 0))
        failed = result.failure_info is not None or result.exit_code != 0
        if failed and result.failure_info is None and (max_retries == -1 or info["retryCount"] < max_retries):
            info["retryCount"] += 1
            info["lastRetryTime"] = iso(utcnow())
            self._launch_start_task(pool, node)
            return
        info.update(state="completed", endTime=iso(result.end_time), result="failure" if failed else "success")
        if result.exit_code is not None:
            info["exitCode"] = result.exit_code
        if failed:
            info["failureInfo"] = result.failure_info or runtime.exit_code_failure_info(result.exit_code)
        if self._waits_for_start(node.doc):
            _set_state(node.doc, "starttaskfailed" if failed else ("running" if node.slots else "idle"))
        _touch(node.doc)
        self._save_node(node)

    # ---- jobs -----------------------------------------------------------------------------------

    def _check_task_like(self, spec: Any, name: str) -> None:
        """Rules shared by start, prep, release and regular tasks."""
        if not isinstance(spec, dict):
            raise invalid_property(name, spec, "The value must be an object.")
        if not spec.get("commandLine"):
            raise missing_property(f"{name}.commandLine")
        if spec.get("containerSettings"):
            raise unsupported_property(f"{name}.containerSettings", "Container tasks are not emulated locally.")
        _check_name_values(spec, "environmentSettings")
        for rf in _check_list(spec, "resourceFiles"):
            problem = _resource_file_problem(rf)
            if problem:
                raise invalid_property(f"{name}.resourceFiles", rf, problem)
        for output in _check_list(spec, "outputFiles"):
            _check_output_file(output, f"{name}.outputFiles")
        identity = spec.get("userIdentity")
        if identity is not None:
            if not isinstance(identity, dict) or (
                bool(identity.get("username")) == bool(identity.get("autoUser"))
            ):
                raise invalid_property(
                    f"{name}.userIdentity", identity, "Specify exactly one of username or autoUser."
                )
            auto = identity.get("autoUser") or {}
            _check_enum(auto, "scope", ("task", "pool"), "pool")
            _check_enum(auto, "elevationLevel", ("nonadmin", "admin"), "nonadmin")
        constraints = spec.get("constraints") or {}
        parse_duration(constraints.get("maxWallClockTime"), f"{name}.constraints.maxWallClockTime")
        parse_duration(constraints.get("retentionTime"), f"{name}.constraints.retentionTime")
        _check_int(constraints, "maxTaskRetryCount", 0, -1, 100)

    def _job_settings(self, body: Doc, current: Doc | None, replace: bool) -> Doc:
        """Validate the updatable job properties of `body`; returns the values to store."""
        out: Doc = {}

        def given(name: str) -> bool:
            return name in body and body[name] is not None

        if replace or given("priority"):
            out["priority"] = _check_int(body, "priority", 0, -1000, 1000)
        if replace or given("maxParallelTasks"):
            value = _check_int(body, "maxParallelTasks", -1, -1, 1_000_000)
            if value == 0:
                raise invalid_property("maxParallelTasks", 0, "Use -1 for unlimited or a positive number.")
            out["maxParallelTasks"] = value
        if replace or given("allowTaskPreemption"):
            out["allowTaskPreemption"] = bool(body.get("allowTaskPreemption", False))
        if replace or given("constraints"):
            constraints = body.get("constraints") or {}
            if not isinstance(constraints, dict):
                raise invalid_property("constraints", constraints, "The value must be an object.")
            parse_duration(constraints.get("maxWallClockTime"), "constraints.maxWallClockTime")
            out["constraints"] = {
                "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
                "maxTaskRetryCount": _check_int(constraints, "maxTaskRetryCount", 0, -1, 100),
            }
        if replace or given("onAllTasksComplete"):
            mode = _check_enum(body, "onAllTasksComplete", ("noaction", "terminatejob"), "noaction")
            if current is not None and current.get("onAllTasksComplete") == "terminatejob" and mode == "noaction":
                raise invalid_property(
                    "onAllTasksComplete", body.get("onAllTasksComplete", "noaction"),
                    "onAllTasksComplete cannot be changed from terminatejob back to noaction.",
                )  # fmt: skip
            out["onAllTasksComplete"] = mode
        if replace or given("metadata"):
            out["metadata"] = _check_name_values(body, "metadata")
        if replace or given("poolInfo"):
            out["poolInfo"] = self._check_pool_info(body.get("poolInfo"))
        return out

    @staticmethod
    def _check_pool_info(pool_info: Any) -> Doc:
        if not isinstance(pool_info, dict):
            raise missing_property("poolInfo")
        if pool_info.get("autoPoolSpecification"):
            raise unsupported_property(
                "poolInfo.autoPoolSpecification",
                "Auto pools are not supported by the local Batch emulator; create a pool and set poolInfo.poolId.",
            )
        pool_id = pool_info.get("poolId")
        if not pool_id:
            raise missing_property("poolInfo.poolId")
        _check_id(pool_id, "poolInfo.poolId")
        return {"poolId": pool_id}

    def create_job(self, body: Doc) -> Doc:
        """Create a job (state `active`) after checking every rule of reference §5 and §6."""
        job_id = _check_id(body.get("id"))
        if "poolInfo" not in body:
            raise missing_property("poolInfo")
        if body.get("jobManagerTask"):
            raise unsupported_property("jobManagerTask", "Job manager tasks are not emulated locally.")
        settings = self._job_settings(body, None, replace=True)
        on_failure = _check_enum(body, "onTaskFailure", ("noaction", "performexitoptionsjobaction"), "noaction")
        _check_name_values(body, "commonEnvironmentSettings")
        prep = body.get("jobPreparationTask")
        release = body.get("jobReleaseTask")
        # `{}` is a task without a command line (400), not "no task": compare with None.
        if release is not None and prep is None:
            raise invalid_property(
                "jobReleaseTask", "(specified)",
                "A job release task requires a job preparation task on the same job.",
            )  # fmt: skip
        prep_doc = release_doc = None
        if prep is not None:
            self._check_task_like(prep, "jobPreparationTask")
            prep_doc = copy.deepcopy(prep)
            prep_doc["id"] = _check_id(prep.get("id") or "jobpreparation", "jobPreparationTask.id")
            constraints = prep.get("constraints") or {}
            prep_doc["constraints"] = {
                "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
                "retentionTime": constraints.get("retentionTime") or DEFAULT_RETENTION,
                "maxTaskRetryCount": int(constraints.get("maxTaskRetryCount") or 0),
            }
            prep_doc["waitForSuccess"] = bool(prep.get("waitForSuccess", True))
            prep_doc["rerunOnNodeRebootAfterSuccess"] = bool(prep.get("rerunOnNodeRebootAfterSuccess", True))
            prep_doc["userIdentity"] = prep.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY)
        if release is not None:
            self._check_task_like(release, "jobReleaseTask")
            release_doc = copy.deepcopy(release)
            release_doc["id"] = _check_id(release.get("id") or "jobrelease", "jobReleaseTask.id")
            wall = parse_duration(release.get("maxWallClockTime"), "jobReleaseTask.maxWallClockTime")
            if wall is None and release.get("maxWallClockTime") or (wall is not None and wall > RELEASE_MAX_WALL_CLOCK):
                raise invalid_property(
                    "jobReleaseTask.maxWallClockTime", release.get("maxWallClockTime"),
                    "The maximum wall clock time of a job release task is 15 minutes.",
                )  # fmt: skip
            parse_duration(release.get("retentionTime"), "jobReleaseTask.retentionTime")
            release_doc["maxWallClockTime"] = release.get("maxWallClockTime") or RELEASE_DEFAULT_WALL_CLOCK
            release_doc["retentionTime"] = release.get("retentionTime") or DEFAULT_RETENTION
            release_doc["userIdentity"] = release.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY)
            if prep_doc and release_doc["id"].lower() == prep_doc["id"].lower():
                raise invalid_property("jobReleaseTask.id", release_doc["id"], "Must differ from the job preparation task id.")
        with self._op():
            if job_id.lower() in self.jobs:
                raise conflict("JobExists", "The specified job already exists.")
            now = utcnow()
            doc: Doc = {k: copy.deepcopy(v) for k, v in body.items() if v is not None}
            doc.update(settings)
            doc.update(
                id=job_id, url=self.job_url(job_id), creationTime=iso(now), state="active",
                stateTransitionTime=iso(now), onTaskFailure=on_failure,
                usesTaskDependencies=bool(body.get("usesTaskDependencies", False)),
                executionInfo={"startTime": iso(now), "poolId": settings["poolInfo"]["poolId"]},
            )  # fmt: skip
            if not doc.get("metadata"):
                doc.pop("metadata", None)
            if prep_doc:
                doc["jobPreparationTask"] = prep_doc
            if release_doc:
                doc["jobReleaseTask"] = release_doc
            _touch(doc, now)
            job = Job(doc, next(self._seq))
            self.jobs[job.key] = job
            self._save_job(job)
            return copy.deepcopy(doc)

    def _check_job_mutable(self, job: Job) -> None:
        state = job.state
        if state == "completed":
            raise conflict("JobCompleted", "The specified job is already in a completed state.")
        if state == "terminating":
            raise conflict("JobBeingTerminated", "The specified job is being terminated.")
        if state == "deleting":
            raise conflict("JobBeingDeleted", "The specified job has been marked for deletion.")

    def update_job(self, job_id: str, body: Doc, *, replace: bool, check: Callable[[Doc], None] | None = None) -> Doc:
        """PATCH (merge: omitted properties unchanged) or PUT (replace: omitted ones reset)."""
        with self._op():
            job = self._job(job_id)
            if check:
                check(job.doc)
            self._check_job_mutable(job)
            settings = self._job_settings(body, job.doc, replace=replace)
            new_pool = settings.get("poolInfo")
            if new_pool and new_pool["poolId"].lower() != job.doc["poolInfo"]["poolId"].lower():
                if job.state != "disabled":
                    raise invalid_property("poolInfo", new_pool["poolId"], "The pool of a job can only be changed while the job is disabled.")
                job.doc["executionInfo"]["poolId"] = new_pool["poolId"]
            if replace and "metadata" in settings and not settings["metadata"]:
                job.doc.pop("metadata", None)
                settings.pop("metadata")
            job.doc.update(settings)
            _touch(job.doc)
            self._save_job(job)
            return copy.deepcopy(job.doc)

    def terminate_job(self, job_id: str, reason: str | None = None, check: Callable[[Doc], None] | None = None) -> None:
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
        _set_state(job.doc, "terminating", now)
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
                self._complete_task(job, task, now, exit_code=None, failure=_task_ended(), started=False)
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
            now = utcnow()
            if job.state not in ("completed", "terminating"):
                job.release_due = True  # deleting a job that had not ended runs the release task
            _set_state(job.doc, "deleting", now)
            self._save_job(job)
            self._stop_job_work(job, now)

    def disable_job(self, job_id: str, disable_tasks: str, check: Callable[[Doc], None] | None = None) -> None:
        """`requeue` / `terminate` running tasks or `wait` for them; `disabling` then `disabled`."""
        option = (disable_tasks or "").lower()
        if option not in ("requeue", "terminate", "wait"):
            raise invalid_property("disableTasks", disable_tasks, "Allowed values: requeue, terminate, wait.")
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
        _set_state(job.doc, "disabling", now)
        self._save_job(job)
        for task in job.tasks.values():
            if task.doc["state"] not in ("running", "preparing"):
                continue
            if option == "requeue":
                self._requeue(job, task, now)
            elif option == "terminate":
                if task.doc["state"] == "preparing":
                    self._complete_task(job, task, now, exit_code=None, failure=_task_ended(), started=False)
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
            _set_state(job.doc, "enabling")
            self._save_job(job)

    # ---- tasks ----------------------------------------------------------------------------------

    def _new_task_doc(self, job: Job, body: Any, now: datetime) -> Doc:
        if not isinstance(body, dict):
            raise invalid_property("value", body, "Each task must be an object.")
        task_id = _check_id(body.get("id"))
        self._check_task_like(body, "task")
        for name, reason in (
            ("multiInstanceSettings", "Multi-instance tasks are not emulated locally."),
            ("applicationPackageReferences", "Application packages are not emulated locally."),
        ):
            if body.get(name):
                raise unsupported_property(name, reason)
        prep = job.doc.get("jobPreparationTask")
        release = job.doc.get("jobReleaseTask")
        if prep and task_id.lower() == prep["id"].lower():
            raise conflict("TaskIdSameAsJobPreparationTask", "The task id is the same as the job preparation task id.")
        if release and task_id.lower() == release["id"].lower():
            raise conflict("TaskIdSameAsJobReleaseTask", "The task id is the same as the job release task id.")
        if body.get("dependsOn") and not job.doc.get("usesTaskDependencies"):
            raise BatchError(400, "TaskDependenciesNotSpecifiedOnJob",
                             "The job does not allow task dependencies (usesTaskDependencies is false).")  # fmt: skip
        if body.get("exitConditions") and job.doc.get("onTaskFailure") != "performexitoptionsjobaction":
            for options in _exit_options(body["exitConditions"]):
                if options.get("jobAction") not in (None, "none"):
                    raise invalid_property(
                        "exitConditions.jobAction", options["jobAction"],
                        "A jobAction requires the job's onTaskFailure to be performexitoptionsjobaction.",
                    )  # fmt: skip
        required = _check_int(body, "requiredSlots", 1, 1, 256)
        constraints = body.get("constraints") or {}
        job_retries = int(job.doc.get("constraints", {}).get("maxTaskRetryCount", 0))
        doc: Doc = {k: copy.deepcopy(v) for k, v in body.items() if v is not None}
        doc.update(
            id=task_id, url=self.task_url(job.doc["id"], task_id), creationTime=iso(now), state="active",
            stateTransitionTime=iso(now), requiredSlots=required,
            constraints={
                "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
                "retentionTime": constraints.get("retentionTime") or DEFAULT_RETENTION,
                "maxTaskRetryCount": constraints.get("maxTaskRetryCount", job_retries),
            },
            userIdentity=body.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY),
            executionInfo={"retryCount": 0, "requeueCount": 0},
        )  # fmt: skip
        _touch(doc, now)
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
                results.append({"taskId": doc["id"], "status": "success", "eTag": doc["eTag"],
                                "lastModified": doc["lastModified"], "location": doc["url"]})  # fmt: skip
            return results

    def _insert_task(self, job: Job, doc: Doc) -> None:
        task = Task(job.key, doc, next(self._seq))
        job.tasks[task.key] = task
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
            if state == "running":
                task.terminate_requested = True
                execution = self._executions.get(("task", job.key, task.key))
                if execution:
                    self._stop_execution(execution)
            else:
                self._complete_task(job, task, utcnow(), exit_code=None, failure=_task_ended(), started=False)
                execution = None
        if execution is not None:
            execution.done.wait(TERMINATE_WAIT_SECONDS)

    def reactivate_task(self, job_id: str, task_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Put a failed, completed task back to `active` with retryCount 0 (409 `TaskNotCompleted` /
        `TaskSucceeded`, or the job's state code when it completed, is terminating or deleting)."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            self._check_job_mutable(job)
            if task.doc["state"] != "completed":
                raise conflict("TaskNotCompleted", "The specified task is not in a completed state, and the requested "
                               "operation can be performed only on completed tasks.")  # fmt: skip
            info = task.doc["executionInfo"]
            if info.get("result") == "success":
                raise conflict("TaskSucceeded", "The specified task has already completed successfully, and the "
                               "requested operation cannot be performed on successful tasks.")  # fmt: skip
            # The previous exit code and failure information are no longer available (SDK docstring).
            for name in ("startTime", "endTime", "exitCode", "failureInfo", "result", "lastRetryTime"):
                info.pop(name, None)
            info["retryCount"] = 0
            task.terminate_requested = task.requeue_requested = False
            _set_state(task.doc, "active")
            job.active[task.key] = None
            self._save_task(task)

    def delete_task(self, job_id: str, task_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Remove a task and its directory on the node, whatever its retention time."""
        with self._op():
            job, task = self._task(job_id, task_id)
            if check:
                check(task.doc)
            del job.tasks[task.key]
            self._uncount(job, task)
            job.active.pop(task.key, None)
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
            _remove_tree_later(root)

    def _task_dir_of(self, task: Task) -> Path | None:
        info = task.doc.get("nodeInfo")
        if not info:
            return None
        pool = self.pools.get(str(info["poolId"]).lower())
        node = pool.nodes.get(info["nodeId"]) if pool else None
        return node.root / info["taskRootDirectory"] if node else None

    # ---- the scheduler --------------------------------------------------------------------------

    def _tick(self) -> None:
        now = utcnow()
        for job in list(self.jobs.values()):
            self._advance_job(job, now)
        self._finish_pool_deletes()
        self._advance_pools(now)
        self._sweep_retention(now)
        self._schedule(now)

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
                _set_state(job.doc, "disabled", now)
                self._save_job(job)
        elif state == "enabling":
            _set_state(job.doc, "active", now)
            self._save_job(job)
        elif state in ("terminating", "deleting"):
            if any(k[0] in ("task", "prep") and k[1] == job.key for k in self._executions):
                return  # wait for cancelled processes to end
            if job.release_due and job.doc.get("jobReleaseTask") and self._run_releases(job):
                return  # release tasks still running
            if state == "terminating":
                job.doc["executionInfo"]["endTime"] = iso(now)
                job.doc["executionInfo"]["terminateReason"] = job.pending_reason or "UserTerminate"
                _set_state(job.doc, "completed", now)
                self._save_job(job)
            else:
                self._remove_job(job)

    def _run_releases(self, job: Job) -> bool:
        """Launch the release task on each node whose prep completed; True while any is unfinished."""
        pending = False
        for node_id, rec in job.prep.items():
            prep_info = rec.get("jobPreparationTaskExecutionInfo") or {}
            if prep_info.get("state") != "completed" or rec.get("_wiped"):
                continue  # prep never completed there, or the node was reimaged since
            release_info = rec.get("jobReleaseTaskExecutionInfo")
            if release_info is None:
                pool = self.pools.get(str(rec["poolId"]).lower())
                node = pool.nodes.get(node_id) if pool else None
                if node is None or pool is None or pool.doc["state"] == "deleting":
                    continue  # the node left the pool: nothing to release there
                if node.pending is not None:
                    if node.pending["op"] == "remove":
                        continue  # leaving the pool: nothing to release there
                    pending = True  # rebooting: release runs once it is back
                    continue
                self._launch_release(job, pool, node)
                pending = True
            elif release_info.get("state") == "running":
                pending = True
        return pending

    def _remove_job(self, job: Job) -> None:
        del self.jobs[job.key]
        self._forget("job", job.key)
        for task in job.tasks.values():
            self._forget("task", f"{job.key}/{task.key}")
        for node_id in job.prep:
            self._forget("prep", f"{job.key}/{node_id}")
        job_dirs = set()
        for pool in self.pools.values():
            for node in pool.nodes.values():
                job_dirs.add(node.root / "workitems" / job.doc["id"])
        for path in job_dirs:
            _remove_tree_later(path)

    def _schedule(self, now: datetime) -> None:
        jobs = [j for j in self.jobs.values() if j.state == "active" and j.active]
        jobs.sort(key=lambda j: (-int(j.doc.get("priority", 0)), j.seq))
        full: set[str] = set()
        for job in jobs:
            pool_key = str(job.doc["poolInfo"]["poolId"]).lower()
            pool = self.pools.get(pool_key)
            if pool is None or pool.doc["state"] != "active" or pool_key in full:
                continue
            limit = int(job.doc.get("maxParallelTasks", -1))
            busy = job.counts["running"]  # running and preparing
            for task_key in list(job.active):
                if limit != -1 and busy >= limit:
                    break
                task = job.tasks[task_key]
                if not self._dependencies_met(job, task):
                    continue
                node = self._pick_node(pool, job, task)
                if node is None:
                    if not any(self._free_slots(pool, n) > 0 for n in pool.nodes.values()):
                        full.add(pool_key)
                        break
                    continue
                self._assign(job, task, pool, node, now)
                busy += 1

    def _free_slots(self, pool: Pool, node: Node) -> int:
        if node.doc["state"] not in SCHEDULABLE_NODE_STATES or node.doc.get("schedulingState") != "enabled":
            return 0
        return int(pool.doc["taskSlotsPerNode"]) - sum(node.slots.values())

    def _pick_node(self, pool: Pool, job: Job, task: Task) -> Node | None:
        need = int(task.doc.get("requiredSlots", 1))
        candidates = [
            (self._free_slots(pool, n), n) for n in pool.nodes.values() if job.key not in n.ineligible_jobs
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

    def _dependencies_met(self, job: Job, task: Task) -> bool:
        depends = task.doc.get("dependsOn")
        if not depends:
            return True
        ids = [str(i).lower() for i in depends.get("taskIds") or []]
        for rng in depends.get("taskIdRanges") or []:
            ids.extend(str(i) for i in range(int(rng["start"]), int(rng["end"]) + 1))
        for dep_id in ids:
            dep = job.tasks.get(dep_id)
            if dep is None or dep.doc["state"] != "completed":
                return False
            if dep.doc["executionInfo"].get("result") != "success":
                action = self._exit_options_for(dep).get("dependencyAction", "block")
                if action != "satisfy":
                    return False
        return True

    def _assign(self, job: Job, task: Task, pool: Pool, node: Node, now: datetime) -> None:
        job.active.pop(task.key, None)
        node.slots[(job.key, task.key)] = int(task.doc.get("requiredSlots", 1))
        task.node = (pool.key, node.id)
        task.terminate_requested = task.requeue_requested = False
        root_dir = f"workitems/{job.doc['id']}/job-1/{task.doc['id']}"
        task.doc["nodeInfo"] = {
            "affinityId": node.doc["affinityId"], "nodeUrl": node.doc["url"], "poolId": pool.doc["id"],
            "nodeId": node.id, "taskRootDirectory": root_dir,
            "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}",
        }  # fmt: skip
        self._refresh_node(node)
        prep = job.doc.get("jobPreparationTask")
        if prep:
            rec = job.prep.get(node.id)
            info = (rec or {}).get("jobPreparationTaskExecutionInfo")
            if rec is None or info is None or rec.get("_rerun"):
                self._launch_prep(job, pool, node)
                info = job.prep[node.id]["jobPreparationTaskExecutionInfo"]
            if info.get("state") == "running" and prep.get("waitForSuccess", True):
                _set_state(task.doc, "preparing", now)
                self._save_task(task)
                return
        self._start_task(job, task, pool, node, now)

    def _refresh_node(self, node: Node) -> None:
        doc = node.doc
        doc["runningTasksCount"] = len(node.slots)
        doc["runningTaskSlotsCount"] = sum(node.slots.values())
        if doc["state"] in SCHEDULABLE_NODE_STATES:
            _set_state(doc, "running" if node.slots else "idle")
        self._save_node(node)

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
        info = task.doc["executionInfo"]
        info["requeueCount"] = info.get("requeueCount", 0) + 1
        info["lastRequeueTime"] = iso(now)
        _set_state(task.doc, "active", now)
        job.active[task.key] = None
        self._save_task(task)

    def _environment(self, job: Job, pool: Pool, node: Node, task_dir: Path, task_id: str, spec: Doc) -> dict[str, str]:
        prep = job.doc.get("jobPreparationTask")
        return runtime.task_environment(
            account_name=self.account_name, account_url=self.base_url, pool_id=pool.doc["id"],
            node_id=node.id, node_root=node.root, task_dir=task_dir, job_id=job.doc["id"],
            task_id=task_id, is_dedicated=bool(node.doc["isDedicated"]),
            job_preparation_task_id=prep["id"] if prep else None,
            user_identity=spec.get("userIdentity"),
            common_environment_settings=job.doc.get("commonEnvironmentSettings"),
            environment_settings=spec.get("environmentSettings"),
        )  # fmt: skip

    def _start_task(self, job: Job, task: Task, pool: Pool, node: Node, now: datetime) -> None:
        _set_state(task.doc, "running", now)
        task.files_cleaned = False
        task.doc["executionInfo"]["startTime"] = iso(now)
        for name in ("endTime", "exitCode", "failureInfo", "result"):
            task.doc["executionInfo"].pop(name, None)
        self._save_task(task)
        task_dir = runtime.task_directory(node.root, job.doc["id"], task.doc["id"])
        run = runtime.TaskRun(
            node_root=node.root, task_dir=task_dir, command_line=task.doc["commandLine"],
            environment=self._environment(job, pool, node, task_dir, task.doc["id"], task.doc),
            resource_files=list(task.doc.get("resourceFiles") or []),
            output_files=list(task.doc.get("outputFiles") or []),
            max_wall_clock_seconds=_seconds(task.doc["constraints"]["maxWallClockTime"], "maxWallClockTime"),
        )  # fmt: skip
        key = ("task", job.key, task.key)
        seq = task.seq
        self._spawn(key, run, lambda result: self._task_attempt_done(key, seq, run, result), after=self._task_finish)

    def _task_attempt_done(self, key: tuple[str, ...], seq: int, run: runtime.TaskRun, result: runtime.ProcessResult) -> Any:
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
            _remove_tree_later(run.task_dir)
            return None
        if task.requeue_requested and not task.terminate_requested:
            self._unassign(job, task, now)
            return None
        info = task.doc["executionInfo"]
        failure = result.failure_info
        if task.terminate_requested and failure is None:
            failure = _task_ended()
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
                _set_state(task.doc, "active", now)
                job.active[task.key] = None
                self._save_task(task)
                return None
            failure = runtime.exit_code_failure_info(result.exit_code)
        # Output files are uploaded once, after the last attempt, if the process ran at all; that
        # happens outside the lock (`_task_finish`). Without uploads the task completes right here.
        if result.exit_code is None or not run.output_files:
            self._complete_task(job, task, result.end_time, exit_code=result.exit_code, failure=failure, started=True)
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
                upload_failure = runtime.failure_info("usererror", "FileUploadMiscError", f"Output file upload failed: {exc}")
        with self._op():
            job = self.jobs.get(job_key)
            task = job.tasks.get(task_key) if job else None
            if job is None or task is None or task.seq != seq:
                return
            self._complete_task(
                job, task, result.end_time, exit_code=result.exit_code, failure=failure or upload_failure,
                started=True, upload_failed=failure is None and upload_failure is not None,
            )  # fmt: skip

    def _complete_task(
        self, job: Job, task: Task, now: datetime, *, exit_code: int | None, failure: Doc | None,
        started: bool, upload_failed: bool = False,
    ) -> None:  # fmt: skip
        info = task.doc["executionInfo"]
        info["endTime"] = iso(now)
        if exit_code is not None:
            info["exitCode"] = exit_code
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = failure
        else:
            info.pop("failureInfo", None)
        _set_state(task.doc, "completed", now)
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

    def _apply_exit_action(self, job: Job, task: Task, exit_code: int | None, failure: Doc | None, upload_failed: bool) -> None:
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

    def _cancel(self, key: tuple[str, ...]) -> None:
        execution = self._executions.get(key)
        if execution is not None:
            self._stop_execution(execution)

    # ---- job preparation and release ------------------------------------------------------------

    def _prep_record(self, job: Job, pool: Pool, node: Node) -> Doc:
        rec = job.prep.get(node.id)
        if rec is None:
            rec = {"poolId": pool.doc["id"], "nodeId": node.id, "nodeUrl": node.doc["url"]}
            job.prep[node.id] = rec
        return rec

    def _launch_prep(self, job: Job, pool: Pool, node: Node, retry_count: int = 0) -> None:
        spec = job.doc["jobPreparationTask"]
        rec = self._prep_record(job, pool, node)
        for flag in ("_rerun", "_wiped", "_interrupted"):
            rec.pop(flag, None)
        root_dir = f"workitems/{job.doc['id']}/job-1/{spec['id']}"
        info: Doc = {"state": "running", "startTime": iso(utcnow()), "taskRootDirectory": root_dir,
                     "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}", "retryCount": retry_count}  # fmt: skip
        if retry_count:
            info["lastRetryTime"] = iso(utcnow())
        rec["jobPreparationTaskExecutionInfo"] = info
        self._save_prep(job, node.id)
        task_dir = node.root / root_dir
        run = runtime.TaskRun(
            node_root=node.root, task_dir=task_dir, command_line=spec["commandLine"],
            environment=self._environment(job, pool, node, task_dir, spec["id"], spec),
            resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=_seconds(spec["constraints"]["maxWallClockTime"], "maxWallClockTime"),
        )  # fmt: skip
        key = ("prep", job.key, node.id)
        job_seq = job.seq
        self._spawn(key, run, lambda result: self._prep_done(job.key, job_seq, pool.key, node.id, result))

    def _prep_done(self, job_key: str, job_seq: int, pool_key: str, node_id: str, result: runtime.ProcessResult) -> None:
        job = self.jobs.get(job_key)
        if job is None or job.seq != job_seq or node_id not in job.prep:
            return
        spec = job.doc["jobPreparationTask"]
        rec = job.prep[node_id]
        if rec.pop("_interrupted", False):
            self._save_prep(job, node_id)
            return  # killed by a reboot or reimage; it runs again before the next task there
        info = rec["jobPreparationTaskExecutionInfo"]
        failed = result.failure_info is not None or result.exit_code != 0
        pool = self.pools.get(pool_key)
        node = pool.nodes.get(node_id) if pool else None
        retries = int(spec["constraints"].get("maxTaskRetryCount", 0))
        alive = job.state in ("active", "disabled", "disabling", "enabling") and node is not None
        if failed and alive and result.failure_info is None and (retries == -1 or info["retryCount"] < retries):
            assert pool is not None and node is not None
            self._launch_prep(job, pool, node, retry_count=info["retryCount"] + 1)
            return
        info.update(state="completed", endTime=iso(result.end_time), result="failure" if failed else "success")
        if result.exit_code is not None:
            info["exitCode"] = result.exit_code
        if failed:
            info["failureInfo"] = result.failure_info or runtime.exit_code_failure_info(result.exit_code)
        self._save_prep(job, node_id)
        self._retain_prep(job, node_id)
        if node is None or pool is None:
            return
        now = utcnow()
        waiting = [t for t in job.tasks.values() if t.doc["state"] == "preparing" and t.node == (pool_key, node_id)]
        if failed and spec.get("waitForSuccess", True):
            # The node is ineligible for this job until reimaged; its waiting tasks go back to active.
            node.ineligible_jobs.add(job.key)
            self._save_node(node)
            for task in waiting:
                node.slots.pop((job.key, task.key), None)
                task.node = None
                _set_state(task.doc, "active", now)
                job.active[task.key] = None
                self._save_task(task)
            self._refresh_node(node)
            return
        for task in waiting:
            self._start_task(job, task, pool, node, now)

    def _launch_release(self, job: Job, pool: Pool, node: Node) -> None:
        spec = job.doc["jobReleaseTask"]
        rec = job.prep[node.id]
        root_dir = f"workitems/{job.doc['id']}/job-1/{spec['id']}"
        rec["jobReleaseTaskExecutionInfo"] = {
            "state": "running", "startTime": iso(utcnow()), "taskRootDirectory": root_dir,
            "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}",
        }  # fmt: skip
        self._save_prep(job, node.id)
        task_dir = node.root / root_dir
        run = runtime.TaskRun(
            node_root=node.root, task_dir=task_dir, command_line=spec["commandLine"],
            environment=self._environment(job, pool, node, task_dir, spec["id"], spec),
            resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=_seconds(spec.get("maxWallClockTime"), "maxWallClockTime"),
        )  # fmt: skip
        job_seq = job.seq
        self._spawn(("release", job.key, node.id), run, lambda r: self._release_done(job.key, job_seq, node.id, r))

    def _release_done(self, job_key: str, job_seq: int, node_id: str, result: runtime.ProcessResult) -> None:
        job = self.jobs.get(job_key)
        if job is None or job.seq != job_seq or node_id not in job.prep:
            return
        if job.prep[node_id].pop("_interrupted_release", False):
            # Killed by a reboot or reimage: it runs again once the node is back.
            job.prep[node_id].pop("jobReleaseTaskExecutionInfo", None)
            self._save_prep(job, node_id)
            return
        info = job.prep[node_id]["jobReleaseTaskExecutionInfo"]
        failed = result.failure_info is not None or result.exit_code != 0
        info.update(state="completed", endTime=iso(result.end_time), result="failure" if failed else "success")
        if result.exit_code is not None:
            info["exitCode"] = result.exit_code
        if failed:
            info["failureInfo"] = result.failure_info or runtime.exit_code_failure_info(result.exit_code)
        self._save_prep(job, node_id)
        self._retain_prep(job, node_id)

    # ---- execution threads ----------------------------------------------------------------------

    def _spawn(
        self,
        key: tuple[str, ...],
        run: runtime.TaskRun,
        on_result: Callable[[runtime.ProcessResult], Any],
        after: Callable[[Any], None] | None = None,
    ) -> None:
        """Queue `run` to be launched once the lock is released; `on_result` runs under the lock
        when it ends, `after` (given `on_result`'s value, when not None) on a thread outside it."""
        execution = Execution(key, run, on_result, after)
        self._executions[key] = execution
        self._to_launch.append(execution)

    def _stop_execution(self, execution: Execution) -> None:
        """Cancel an attempt: before launch it never starts; once running its process group is killed."""
        execution.cancel.set()
        process = execution.process
        if process is not None:
            self._reaper.cancel(process)

    def _launch_pending(self) -> None:
        """Launch what `_spawn` queued, on this thread and outside the lock.

        A launch without resource files is quick (directories, then `Popen`), so it happens right
        here and the process goes to the reaper: no thread per task. Resource file downloads can
        take long, so such an attempt gets a thread of its own. Attempts that end before a process
        runs (launch failure, cancelled) are recorded together once the queue is empty.
        """
        if getattr(self._launching, "active", False):
            return  # an outer call on this thread drains the queue
        self._launching.active = True
        try:
            while True:
                ended: list[tuple[Any, runtime.ProcessResult]] = []
                while True:
                    try:
                        execution = self._to_launch.popleft()
                    except IndexError:
                        break
                    if self._stopped.is_set():
                        execution.done.set()
                    elif execution.run.resource_files:
                        threading.Thread(target=self._launch_alone, args=(execution,),
                                         name=f"localbatch-{'-'.join(execution.key)}", daemon=True).start()  # fmt: skip
                    elif (result := self._launch(execution)) is not None:
                        ended.append((execution, result))
                if not ended:
                    return
                self._on_exits(ended)
        finally:
            self._launching.active = False

    def _launch_alone(self, execution: Execution) -> None:
        result = self._launch(execution)
        if result is not None:
            self._on_exits([(execution, result)])

    def _launch(self, execution: Execution) -> runtime.ProcessResult | None:
        """Start one attempt and hand its process to the reaper; the result if it ended already."""
        try:
            outcome = runtime.launch(execution.run, execution.cancel)
        except Exception as exc:  # noqa: BLE001 - a runtime bug becomes a task failure, not a hang
            now = utcnow()
            info = runtime.failure_info("servererror", "Unknown", f"The node runtime failed: {exc}")
            return runtime.ProcessResult(None, now, now, info)
        if isinstance(outcome, runtime.ProcessResult):
            return outcome
        execution.process = outcome
        self._reaper.watch(outcome, execution)
        if execution.cancel.is_set():  # cancelled while launching: `_stop_execution` saw no process
            self._reaper.cancel(outcome)
        return None

    def _on_exits(self, ended: list[tuple[Any, runtime.ProcessResult]]) -> None:
        """Record attempts that ended (from the reaper, or launches that failed): one lock hold and
        one store transaction for the whole batch, then the uploads of those that have output files."""
        follow: list[tuple[Execution, Any]] = []
        with self._op():
            for token, result in ended:
                execution: Execution = token
                if self._executions.get(execution.key) is execution:
                    del self._executions[execution.key]
                follow_up = None
                if not self._stopped.is_set():
                    try:
                        follow_up = execution.on_result(result)
                    except Exception:  # noqa: BLE001 - one bad record must not lose the others
                        traceback.print_exc()
                follow.append((execution, follow_up))
        for execution, follow_up in follow:
            if execution.after is not None and follow_up is not None and not self._stopped.is_set():
                threading.Thread(target=self._after, args=(execution, follow_up),
                                 name=f"localbatch-after-{'-'.join(execution.key)}", daemon=True).start()  # fmt: skip
            else:
                execution.done.set()

    @staticmethod
    def _after(execution: Execution, follow_up: Any) -> None:
        try:
            assert execution.after is not None
            execution.after(follow_up)
        finally:
            execution.done.set()


# ---- module helpers -----------------------------------------------------------------------------


def _node_task_option(value: Any, name: str) -> str:
    """nodeRebootOption / nodeReimageOption / nodeDeallocationOption (default requeue)."""
    if value is None:
        return "requeue"
    if not isinstance(value, str) or value.lower() not in NODE_TASK_OPTIONS:
        raise invalid_property(name, value, f"Allowed values: {', '.join(NODE_TASK_OPTIONS)}.")
    return value.lower()


def _task_ended() -> Doc:
    return runtime.failure_info("usererror", "TaskEnded", "Task was ended by user request")


def _exit_options(conditions: Doc) -> list[Doc]:
    out = [item.get("exitOptions") or {} for item in conditions.get("exitCodes") or []]
    out += [item.get("exitOptions") or {} for item in conditions.get("exitCodeRanges") or []]
    out += [conditions[k] for k in ("preProcessingError", "fileUploadError", "default") if conditions.get(k)]
    return out


def _check_output_file(output: Any, name: str) -> None:
    """An `outputFiles` item as the service checks it on add: filePattern, destination, uploadOptions."""
    if not isinstance(output, dict):
        raise invalid_property(name, output, "Each output file must be an object.")
    if not output.get("filePattern"):
        raise missing_property(f"{name}.filePattern")
    container = (output.get("destination") or {}).get("container") if isinstance(output.get("destination"), dict) else None
    if not isinstance(container, dict) or not container.get("containerUrl"):
        raise missing_property(f"{name}.destination.container.containerUrl")
    url = container["containerUrl"]
    if not isinstance(url, str) or not re.match(r"^https?://[^/?#]+/", url):
        raise invalid_property(f"{name}.destination.container.containerUrl", "(redacted)",
                               "The value must be an absolute http or https URL of a blob container.")  # fmt: skip
    options = output.get("uploadOptions")
    if not isinstance(options, dict) or not options.get("uploadCondition"):
        raise missing_property(f"{name}.uploadOptions.uploadCondition")
    _check_enum(options, "uploadCondition", ("tasksuccess", "taskfailure", "taskcompletion"), "taskcompletion")


def _resource_file_problem(rf: Any) -> str | None:
    if not isinstance(rf, dict):
        return "Each resource file must be an object."
    try:
        from .resourcefiles import validate_resource_file
    except ImportError:  # the runtime is developed alongside; keep validation optional
        return None
    return validate_resource_file(rf)


def _remove_tree_later(path: Path) -> None:
    """Delete a directory on a background thread (a job's files can be large)."""
    threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True}, daemon=True).start()
