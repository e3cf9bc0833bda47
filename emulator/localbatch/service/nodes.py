"""Compute nodes: reads, reboot and reimage, what happens to a node's work when it goes down
(`_begin_node_op`), its boot (prep reruns as documented, start task reruns) and its start task.

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import runtime
from ..entities import Node, Pool
from ..exceptions import (
    conflict,
)
from ..validation import (
    node_task_option,
)
from ..wire import (
    SCHEDULABLE_NODE_STATES,
    Doc,
    iso,
    set_state,
    touch,
    utcnow,
)
from .base import ServiceBase
from .executions import launch_failure, record_outcome
from .retention import move_out_and_remove, remove_tree_later

# Node states a reboot or reimage is accepted in (the docs say idle or running; a node whose start
# task failed or that is unusable is exactly the one users reboot, so those are accepted too).
REBOOTABLE_NODE_STATES = (
    "idle",
    "running",
    "starttaskfailed",
    "unusable",
    "waitingforstarttask",
    "offline",
)
# The state a node shows while a node operation is in progress.
NODE_OP_STATES = {
    "reboot": "rebooting",
    "reimage": "reimaging",
    "remove": "leavingpool",
    "deallocate": "deallocating",
    "start": "starting",
}


class NodesPart(ServiceBase):
    """Node operations and the start task (`BatchService` mixin)."""

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

    def reboot_node(self, pool_id: str, node_id: str, option: Any = None, *, reimage: bool = False) -> None:
        """Reboot (or reimage) a node: it is `rebooting` / `reimaging` before this returns; its tasks
        are handled per `option`, then it boots again (start task reruns; reimage wipes its disk)."""
        option = node_task_option(option, "nodeReimageOption" if reimage else "nodeRebootOption")
        with self._op():
            pool, node = self._node(pool_id, node_id)
            if pool.doc["state"] == "deleting":
                raise conflict(
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion and is being reclaimed.",
                )
            state = node.doc["state"]
            if state == "rebooting":
                raise conflict("NodeBeingRebooted", "The specified node is being rebooted.")
            if state == "reimaging":
                raise conflict("NodeBeingReimaged", "The specified node is being reimaged.")
            if node.pending is not None or state not in REBOOTABLE_NODE_STATES:
                raise conflict(
                    "OperationNotValidOnNode", f"The operation is not valid on a node in the {state} state."
                )
            self._begin_node_op(node, "reimage" if reimage else "reboot", option, utcnow())

    def _begin_node_op(self, node: Node, op: str, option: str, now: datetime) -> None:
        """Start a reboot / reimage / removal / deallocation: new state now, its work handled per `option`."""
        node.pending = {"op": op, "option": option, "since": iso(now)}
        set_state(node.doc, NODE_OP_STATES[op], now)
        self._save_node(node)
        self._handle_node_work(node, option, now)
        for key, execution in list(self._executions.items()):
            if key == ("start", node.id):
                self._stop_execution(execution)  # it runs again on the next boot

    def _handle_node_work(self, node: Node, option: str, now: datetime) -> None:
        """What happens to a node's running tasks and job preparation/release tasks when it stops taking
        work: `requeue` them, `terminate` them, or let them finish (`taskcompletion`, `retaineddata`)."""
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
            if key[0] in ("prep", "release") and key[2] == node.id and not drain:
                job = self.jobs.get(key[1])
                if job is not None and node.id in job.prep:
                    job.prep[node.id]["_interrupted" if key[0] == "prep" else "_interrupted_release"] = True
                    job.prep[node.id]["_rerun"] = True
                    self._save_prep(job, node.id)
                self._stop_execution(execution)

    def _node_busy(self, node: Node) -> bool:
        return bool(node.slots) or any(
            (k[0] in ("prep", "release") and k[2] == node.id) or k == ("start", node.id)
            for k in self._executions
        )

    def _drop_node(self, pool: Pool, node: Node) -> None:
        """A removed node leaves the pool: its record and its directories go."""
        del pool.nodes[node.id]
        self._forget("node", f"{pool.key}/{node.id}")
        for job in self.jobs.values():
            for task in job.tasks.values():
                if task.node == (pool.key, node.id):
                    task.node = None
        remove_tree_later(node.root)
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
                trash = node.root.parent / f".reimaged-{node.id}-{name}-{next(self._seq)}"
                move_out_and_remove(node.root / name, trash)
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
        # A pool update's start task reaches nodes when they boot again.
        if pool.doc.get("startTask"):
            doc["startTask"] = copy.deepcopy(pool.doc["startTask"])
        else:
            doc.pop("startTask", None)
            doc.pop("startTaskInfo", None)
        if doc.get("startTask"):
            doc["startTaskInfo"] = {"retryCount": 0}
            set_state(doc, "waitingforstarttask" if node.waits_for_start else "idle", now)
            self._launch_start_task(pool, node)
        else:
            set_state(doc, "idle", now)
        self._save_node(node)

    def _launch_start_task(self, pool: Pool, node: Node) -> None:
        spec = node.doc["startTask"]
        now = utcnow()
        info = node.doc.setdefault("startTaskInfo", {"retryCount": 0})
        info.update(state="running", startTime=iso(now))
        for name in ("endTime", "exitCode", "result", "failureInfo"):
            info.pop(name, None)
        env = runtime.task_environment(
            account_name=self.account_name,
            account_url=self.base_url,
            pool_id=pool.doc["id"],
            node_id=node.id,
            node_root=node.root,
            task_dir=node.root / "startup",
            is_dedicated=bool(node.doc["isDedicated"]),
            user_identity=spec.get("userIdentity"),
            environment_settings=spec.get("environmentSettings"),
        )
        env.update(self._app_package_environment(pool, node, spec))
        run = runtime.TaskRun(
            node_root=node.root,
            task_dir=node.root / "startup",
            command_line=spec["commandLine"],
            environment=env,
            resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=None,
            launch_failure=launch_failure(pool, spec["commandLine"]),
        )
        key = ("start", node.id)
        self._spawn(key, run, lambda result: self._start_task_done(pool.key, node.id, run, result))

    def _start_task_done(
        self, pool_key: str, node_id: str, run: runtime.TaskRun, result: runtime.ProcessResult
    ) -> None:
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
        record_outcome(info, result)
        if node.waits_for_start:
            set_state(node.doc, "starttaskfailed" if failed else ("running" if node.slots else "idle"))
        touch(node.doc)
        self._save_node(node)

    def _refresh_node(self, node: Node) -> None:
        doc = node.doc
        doc["runningTasksCount"] = len(node.slots)
        doc["runningTaskSlotsCount"] = sum(node.slots.values())
        if doc["state"] in SCHEDULABLE_NODE_STATES:
            set_state(doc, "running" if node.slots else "idle")
        self._save_node(node)
