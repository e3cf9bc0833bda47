"""The records of the emulated account and the invariants each keeps on its own.

Owns: `Pool`, `Node`, `Job`, `Task` and `JobSchedule` (each a wire document plus the bookkeeping the service needs
around it), their persisted form (`record` / `from_record`), a job's running task and slot counts
(`Job.count` / `Job.uncount`, kept in step with every task change), a job's indexes (its tasks in
id order for paged lists, the completed tasks that satisfy dependents) and the small state
questions asked of one record (is a node leaving, does it wait for its start task, is a task requeued).
No locking here: the service holds its one lock around every call.
May import: `wire`. Not the service, runtime, store or HTTP.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .wire import Doc, TaskState, iso, set_state

COUNT_BUCKETS = ("active", "running", "completed", "succeeded", "failed")
# The jobs of a job schedule are named `<scheduleId>:job-<n>`, n counting from 1.
SCHEDULE_JOB_MARK = ":job-"


def entity_key(doc: Doc) -> str:
    """The key a record is found by: its id lower-cased (Batch ids are case-insensitive)."""
    return str(doc["id"]).lower()


@dataclass
class Node:
    """A compute node: its wire document, sandbox root and which tasks hold its slots."""

    pool_key: str
    doc: Doc
    root: Path
    seq: int
    slots: dict[tuple[str, str], int] = field(default_factory=dict)
    # `Job.instance` of the jobs whose preparation task failed here (never a bare id: a job deleted
    # and created again with the same id, as a Pulumi replace does, is another job and may run here).
    ineligible_jobs: set[str] = field(default_factory=set)
    # A reboot, reimage, removal, or (realistic timing) allocation / boot in progress:
    # {"op": reboot|reimage|remove|create|start, "option", "since"}.
    pending: Doc | None = None
    # Node users by lower-cased name: name, isAdmin, expiryTime, sshPublicKey, hasPassword (never the
    # password itself).
    users: dict[str, Doc] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def leaving(self) -> bool:
        """Being removed from its pool (it no longer counts towards the pool's nodes)."""
        return self.pending is not None and self.pending["op"] == "remove"

    @property
    def waits_for_start(self) -> bool:
        """Whether the node waits for its start task before taking tasks (waitForSuccess, default true)."""
        return bool((self.doc.get("startTask") or {}).get("waitForSuccess", True))

    def record(self) -> Doc:
        return {
            "doc": self.doc,
            "pool": self.pool_key,
            "root": str(self.root),
            "seq": self.seq,
            "ineligible": sorted(self.ineligible_jobs),
            "pending": self.pending,
            "users": self.users,
        }

    @classmethod
    def from_record(cls, rec: Doc) -> Node:
        return cls(
            rec["pool"],
            rec["doc"],
            Path(rec["root"]),
            rec["seq"],
            {},
            set(rec["ineligible"]),
            rec.get("pending"),
            rec.get("users") or {},
        )


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
        return entity_key(self.doc)

    def staying(self) -> list[Node]:
        """The nodes that are not leaving the pool."""
        return [n for n in self.nodes.values() if not n.leaving]

    def record(self) -> Doc:
        return {
            "doc": self.doc,
            "seq": self.seq,
            "nextIndex": self.next_index,
            "deallocation": self.deallocation,
        }

    @classmethod
    def from_record(cls, rec: Doc) -> Pool:
        return cls(
            rec["doc"],
            rec["seq"],
            next_index=rec.get("nextIndex", 0),
            deallocation=rec.get("deallocation", "requeue"),
        )


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
    # The job's `satisfied_version` when this task's dependencies were last found unmet: until that
    # changes (a task completed or was reactivated), they are still unmet and need no new check.
    blocked_at: int | None = None
    # The lower-cased id the job's dicts are keyed by (an id never changes): read on every transition.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = entity_key(self.doc)

    def requeued(self, now: datetime) -> None:
        """Back to `active`, counted as a requeue (its node rebooted, left, or its job was disabled)."""
        info = self.doc["executionInfo"]
        info["requeueCount"] = info.get("requeueCount", 0) + 1
        info["lastRequeueTime"] = iso(now)
        set_state(self.doc, TaskState.ACTIVE, now)

    def record(self) -> Doc:
        return {
            "doc": self.doc,
            "job": self.job_key,
            "seq": self.seq,
            "node": list(self.node) if self.node else None,
            "cleaned": self.files_cleaned,
        }

    @classmethod
    def from_record(cls, rec: Doc) -> Task:
        return cls(rec["job"], rec["doc"], rec["seq"], files_cleaned=rec.get("cleaned", False))


def _numeric(key: str) -> int | None:
    """The number a task id stands for in `taskIdRanges` (the range 1..3 names the ids "1", "2", "3")."""
    return int(key) if key.isdigit() and str(int(key)) == key else None


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_BUCKETS, 0)


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
    counts: dict[str, int] = field(default_factory=_zero_counts)
    slot_counts: dict[str, int] = field(default_factory=_zero_counts)
    # The keys of the job's tasks in id order (the order Batch lists them in), for lists that page: a
    # continuation resumes by bisecting this on the last id sent, so a page costs O(log N + page),
    # not O(N).
    order: list[str] = field(default_factory=list)
    # The completed tasks that satisfy their dependents (keys, and the numeric ones sorted for
    # `taskIdRanges`), so a dependency check never walks a range; the version changes with them.
    satisfied: set[str] = field(default_factory=set)
    satisfied_numbers: list[int] = field(default_factory=list)
    satisfied_version: int = 0
    # The lower-cased id the service's dicts are keyed by (an id never changes).
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = entity_key(self.doc)

    @property
    def schedule_key(self) -> str | None:
        """The key of the job schedule that created this job (`<scheduleId>:job-<n>`), else None. A
        user-chosen id cannot contain `:`, so the id alone says it."""
        head, sep, number = self.key.rpartition(SCHEDULE_JOB_MARK)
        return head if sep and number.isdigit() else None

    @property
    def instance(self) -> str:
        """This job for its lifetime: its key and the sequence number it was created with (a job
        re-created with the same id has a new one)."""
        return f"{self.key}#{self.seq}"

    @property
    def state(self) -> str:
        return str(self.doc["state"])

    def count(self, task: Task) -> None:
        """Move `task`'s contribution to `counts` / `slot_counts` to its current state."""
        doc = task.doc
        state = doc["state"]
        result = None
        if state == TaskState.COMPLETED:
            result = "succeeded" if doc["executionInfo"].get("result") == "success" else "failed"
        bucket = TaskState.RUNNING.value if state == TaskState.PREPARING else str(state)
        now = (bucket, result, int(doc.get("requiredSlots", 1)))
        if now != task.counted:
            self.uncount(task)
            self.counts[bucket] += 1
            self.slot_counts[bucket] += now[2]
            if result is not None:
                self.counts[result] += 1
                self.slot_counts[result] += now[2]
            task.counted = now

    def uncount(self, task: Task) -> None:
        """Take `task` out of the counts (deleted, or about to be counted again)."""
        if task.counted is None:
            return
        bucket, outcome, weight = task.counted
        self.counts[bucket] -= 1
        self.slot_counts[bucket] -= weight
        if outcome is not None:
            self.counts[outcome] -= 1
            self.slot_counts[outcome] -= weight
        task.counted = None

    def add(self, task: Task) -> None:
        """Insert a new task into the job and its id index."""
        key = task.key
        self.tasks[key] = task
        if not self.order or key > self.order[-1]:
            self.order.append(key)  # generated ids usually arrive in order: no search, no move
        else:
            bisect.insort(self.order, key)

    def remove(self, task: Task) -> None:
        """Take a task out of the job, its counts, its queue and its indexes."""
        key = task.key
        del self.tasks[key]
        self.uncount(task)
        self.active.pop(key, None)
        self.mark_satisfied(task, False)
        index = bisect.bisect_left(self.order, key)
        if index < len(self.order) and self.order[index] == key:
            del self.order[index]

    def tasks_after(self, key: str | None) -> Iterator[Task]:
        """The job's tasks in id order, from the first one whose key sorts after `key` (None: all)."""
        order = self.order
        index = 0 if key is None else bisect.bisect_right(order, key.lower())
        while index < len(order):
            task = self.tasks.get(order[index])
            index += 1
            if task is not None:
                yield task

    def mark_satisfied(self, task: Task, satisfied: bool) -> None:
        """Record whether `task` satisfies the tasks that depend on it."""
        key = task.key
        if satisfied == (key in self.satisfied):
            return
        number = _numeric(key)
        if satisfied:
            self.satisfied.add(key)
            if number is not None:
                bisect.insort(self.satisfied_numbers, number)
        else:
            self.satisfied.discard(key)
            if number is not None:
                del self.satisfied_numbers[bisect.bisect_left(self.satisfied_numbers, number)]
        self.satisfied_version += 1

    def dependencies_satisfied(self, task_ids: Iterable[str], ranges: Iterable[tuple[int, int]]) -> bool:
        """Whether every named task and every task of every id range satisfies its dependents.

        A range is met when the count of satisfied numeric ids inside it equals its length: two
        bisections, whatever the range's size.
        """
        numbers = self.satisfied_numbers
        for start, end in ranges:
            need = end - start + 1
            if need <= 0:
                continue
            if (
                need > len(numbers)
                or bisect.bisect_right(numbers, end) - bisect.bisect_left(numbers, start) != need
            ):
                return False
        return all(str(i).lower() in self.satisfied for i in task_ids)

    def record(self) -> Doc:
        return {
            "doc": self.doc,
            "seq": self.seq,
            "reason": self.pending_reason,
            "releaseDue": self.release_due,
            "disable": self.disable_option,
        }

    @classmethod
    def from_record(cls, rec: Doc) -> Job:
        return cls(
            rec["doc"],
            rec["seq"],
            pending_reason=rec.get("reason"),
            release_due=rec.get("releaseDue", False),
            disable_option=rec.get("disable"),
        )


@dataclass
class JobSchedule:
    """A job schedule: its wire document and the bookkeeping of its runs.

    `last_run` is the due time of the latest run opportunity that was used or lost (None before the
    first); `jobs_created` numbers the jobs (`<id>:job-<n>`); `auto_pool_id` is the pool of a
    `jobschedule`-lifetime autoPoolSpecification, created with the first job and shared by all.
    """

    doc: Doc
    seq: int
    last_run: str | None = None
    jobs_created: int = 0
    auto_pool_id: str | None = None

    @property
    def key(self) -> str:
        return entity_key(self.doc)

    @property
    def state(self) -> str:
        return str(self.doc["state"])

    def job_id(self, number: int) -> str:
        return f"{self.doc['id']}{SCHEDULE_JOB_MARK}{number}"

    def record(self) -> Doc:
        return {
            "doc": self.doc,
            "seq": self.seq,
            "lastRun": self.last_run,
            "jobsCreated": self.jobs_created,
            "autoPoolId": self.auto_pool_id,
        }

    @classmethod
    def from_record(cls, rec: Doc) -> JobSchedule:
        return cls(
            rec["doc"],
            rec["seq"],
            last_run=rec.get("lastRun"),
            jobs_created=int(rec.get("jobsCreated", 0)),
            auto_pool_id=rec.get("autoPoolId"),
        )
