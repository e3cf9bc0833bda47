"""Pools: create, update (PATCH and updateproperties), delete, resize, stop resize, remove nodes,
and the scheduler's step that grows
or shrinks a resizing pool and finishes reboots, reimages and removals once their node is quiet.
Under realistic timing (`timing.py`) the same step moves new nodes from `creating` to `starting` to
booted, ends a resize whose nodes are not allocated within `resizeTimeout` (`AllocationTimedOut`),
and keeps the pool `resizing` while nodes are allocated. Stop-resize keeps the targets (`ResizeStopped`).

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import datetime

from .. import runtime
from ..entities import Node, Pool
from ..exceptions import (
    conflict,
)
from ..validation import (
    POOL_UPDATE_WHEN_EMPTY,
    PoolBody,
    pool_body,
    pool_replace_body,
    pool_update_body,
    remove_nodes_body,
    resize_targets,
)
from ..wire import (
    Doc,
    fill_pool_defaults,
    iso,
    parse_iso,
    seconds,
    set_state,
    touch,
    utcnow,
)
from .base import ServiceBase
from .retention import remove_tree_later


class PoolsPart(ServiceBase):
    """Pool operations (`BatchService` mixin)."""

    def list_pools(self) -> list[Doc]:
        """Every pool, in creation order."""
        with self.lock:
            return [copy.deepcopy(p.doc) for p in sorted(self.pools.values(), key=lambda p: p.seq)]

    def get_pool(self, pool_id: str) -> Doc:
        """One pool (404 `PoolNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._pool(pool_id).doc)

    def create_pool(self, body: Doc) -> Doc:
        """Create a pool with its nodes at once (`allocationState` steady); returns the pool."""
        self._check_containers(body)
        spec = pool_body(body)
        with self._op():
            if spec.id.lower() in self.pools:
                raise conflict("PoolExists", "The specified pool already exists.")
            return copy.deepcopy(self._new_pool(spec).doc)

    def _new_pool(self, spec: PoolBody) -> Pool:
        """Add a checked pool and its first nodes (an autoscale pool's targets come from its formula)."""
        self._check_package_references(spec.doc.get("applicationPackageReferences") or [])
        now = utcnow()
        pool_id = spec.id
        doc: Doc = {k: copy.deepcopy(v) for k, v in spec.doc.items() if v is not None}
        doc.update(
            id=pool_id,
            url=self.pool_url(pool_id),
            creationTime=iso(now),
            state="active",
            stateTransitionTime=iso(now),
            allocationState="steady",
            allocationStateTransitionTime=iso(now),
            targetDedicatedNodes=spec.dedicated,
            targetLowPriorityNodes=spec.low_priority,
            enableAutoScale=spec.autoscale is not None,
            taskSlotsPerNode=spec.task_slots_per_node,
            taskSchedulingPolicy=spec.scheduling_policy,
        )
        if spec.autoscale is not None:
            doc.update(
                autoScaleFormula=spec.autoscale.formula,
                autoScaleEvaluationInterval=spec.autoscale.interval,
            )
        fill_pool_defaults(doc)
        touch(doc, now)
        pool = Pool(doc, next(self._seq))
        self.pools[pool.key] = pool
        if spec.autoscale is not None:
            # Evaluated once at creation: the first targets are the formula's.
            self._run_autoscale(pool, now, apply=False)
        dedicated, low = (
            int(doc["targetDedicatedNodes"]),
            int(doc["targetLowPriorityNodes"]),
        )
        existing = sum(len(p.nodes) for p in self.pools.values())
        room = None if self.max_nodes is None else max(0, self.max_nodes - existing)
        want = [True] * dedicated + [False] * low
        grant = want if room is None else want[:room]
        if len(grant) < len(want):
            doc["resizeErrors"] = [
                {
                    "code": "AccountCoreQuotaReached",
                    "message": f"The local emulator's node cap (--max-nodes {self.max_nodes}) was reached: "
                    f"allocated {len(grant)} of {len(want)} nodes.",
                }
            ]
        for index, is_dedicated in enumerate(grant):
            self._add_node(pool, index, is_dedicated, now)
        doc["currentDedicatedNodes"] = sum(1 for d in grant if d)
        doc["currentLowPriorityNodes"] = sum(1 for d in grant if not d)
        if self._allocating(pool):
            # Realistic timing: the initial sizing is a resize like any other.
            doc["allocationState"] = "resizing"
        self._save_pool(pool)
        return pool

    def update_pool(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> Doc:
        """PATCH: replace the given properties only. startTask, applicationPackageReferences, metadata
        and targetNodeCommunicationMode change at any time (new nodes and rebooted nodes see them); the
        others only while the pool has no nodes (409 `PoolNotEmpty` otherwise, an emulator code)."""
        self._check_containers(body)
        changes = pool_update_body(body)
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            self._check_not_deleting(pool)
            when_empty = [k for k in changes if k in POOL_UPDATE_WHEN_EMPTY]
            if when_empty and pool.nodes:
                raise conflict(
                    "PoolNotEmpty",
                    f"{', '.join(when_empty)} can be updated only when the pool has no nodes.",
                )
            self._check_package_references(changes.get("applicationPackageReferences") or [])
            changes.pop("certificateReferences", None)  # deprecated, not emulated: accepted, not stored
            for name, value in changes.items():
                if name == "metadata" and not value:
                    pool.doc.pop("metadata", None)
                else:
                    pool.doc[name] = copy.deepcopy(value)
            touch(pool.doc)
            self._save_pool(pool)
            return copy.deepcopy(pool.doc)

    def replace_pool_properties(
        self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None
    ) -> Doc:
        """POST updateproperties: startTask, applicationPackageReferences and metadata replaced as a
        whole (an omitted startTask is removed; empty lists remove the others)."""
        self._check_containers(body)
        values = pool_replace_body(body)
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            self._check_not_deleting(pool)
            self._check_package_references(values["applicationPackageReferences"])
            for name, value in values.items():
                if value:
                    pool.doc[name] = value
                else:
                    pool.doc.pop(name, None)
            touch(pool.doc)
            self._save_pool(pool)
            return copy.deepcopy(pool.doc)

    def _check_not_deleting(self, pool: Pool) -> None:
        if pool.doc["state"] == "deleting":
            raise conflict(
                "PoolBeingDeleted",
                "The specified pool has been marked for deletion and is being reclaimed.",
            )

    def _add_node(self, pool: Pool, index: int, is_dedicated: bool, now: datetime) -> Node:
        digest = hashlib.sha256(f"{pool.doc['id']}|{pool.doc['creationTime']}|{index}".encode()).hexdigest()
        node_id = f"tvmps_{digest}_{'d' if is_dedicated else 'p'}"
        root = self.data_dir / "nodes" / pool.doc["id"] / node_id
        runtime.prepare_node_root(root)
        vmc = pool.doc.get("virtualMachineConfiguration") or {}
        doc: Doc = {
            "id": node_id,
            "url": self.node_url(pool.doc["id"], node_id),
            "state": "starting",
            "schedulingState": "enabled",
            "stateTransitionTime": iso(now),
            "lastBootTime": iso(now),
            "allocationTime": iso(now),
            "ipAddress": f"10.0.{index // 250}.{index % 250 + 4}",
            "affinityId": f"TVM:{node_id}",
            "vmSize": pool.doc["vmSize"],
            "totalTasksRun": 0,
            "totalTasksSucceeded": 0,
            "runningTasksCount": 0,
            "runningTaskSlotsCount": 0,
            "isDedicated": is_dedicated,
            # What the service reports for a Linux node without public IP configuration: one SSH rule
            # through the pool's load balancer. Here it names this machine's loopback and is not
            # connectable (the emulator runs no SSH server).
            "endpointConfiguration": {
                "inboundEndpoints": [
                    {
                        "name": "SSHRule.0",
                        "protocol": "tcp",
                        "publicIPAddress": "127.0.0.1",
                        "publicFQDN": "localhost",
                        "frontendPort": 50000 + index,
                        "backendPort": 22,
                    }
                ]
            },
            "nodeAgentInfo": {"version": "1.11.0-localbatch", "lastUpdateTime": iso(now)},
            "virtualMachineInfo": {"imageReference": copy.deepcopy(vmc.get("imageReference"))},
        }
        if pool.doc.get("startTask"):
            doc["startTask"] = copy.deepcopy(pool.doc["startTask"])
        touch(doc, now)
        node = Node(pool.key, doc, root, next(self._seq))
        pool.nodes[node_id] = node
        self._prepare_mounts(pool, node)
        pool.next_index = max(pool.next_index, index + 1)
        if self.timing.realistic:
            # `creating` while its VM is allocated, then `starting` (see `_advance_pools`).
            node.pending = {"op": "create", "option": "requeue", "since": iso(now)}
            set_state(doc, "creating", now)
        elif doc.get("startTask"):
            set_state(doc, "waitingforstarttask" if node.waits_for_start else "idle", now)
            self._launch_start_task(pool, node)
        else:
            set_state(doc, "idle", now)
        self._save_node(node)
        return node

    def delete_pool(self, pool_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """Move the pool to `deleting` now; running tasks are requeued and the pool disappears later."""
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            if pool.doc["state"] == "deleting":
                raise conflict(
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion.",
                )
            self._begin_pool_delete(pool)

    def _begin_pool_delete(self, pool: Pool) -> None:
        """`deleting` now: running tasks are requeued; the scheduler removes the pool once quiet."""
        now = utcnow()
        set_state(pool.doc, "deleting", now)
        pool.doc["allocationState"] = "resizing"
        pool.doc["allocationStateTransitionTime"] = iso(now)
        self._save_pool(pool)
        for node in pool.nodes.values():
            set_state(node.doc, "leavingpool", now)
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
            remove_tree_later(self.data_dir / "nodes" / pool.doc["id"])

    def remove_nodes(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> None:
        """Remove the listed nodes (`nodeList`, at most 100): the pool goes `resizing` until they left."""
        node_ids, option = remove_nodes_body(body)
        with self._op():
            pool = self._steady_pool(pool_id, check)
            nodes = [self._node(pool_id, n)[1] for n in node_ids]
            now = utcnow()
            for node in nodes:
                if not node.leaving:
                    self._begin_node_op(node, "remove", option, now)
            current = pool.staying()
            pool.doc["targetDedicatedNodes"] = sum(1 for n in current if n.doc["isDedicated"])
            pool.doc["targetLowPriorityNodes"] = sum(1 for n in current if not n.doc["isDedicated"])
            self._set_allocation(pool, "resizing", now)

    def resize_pool(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> None:
        """Set new node targets; the pool is `resizing` before this returns and `steady` once nodes
        joined (start task) or left (their tasks handled per `nodeDeallocationOption`)."""
        # An omitted target keeps its current value.
        dedicated, low, option = resize_targets(body)
        with self._op():
            pool = self._steady_pool(pool_id, check)
            if pool.doc.get("enableAutoScale"):
                # "You cannot resize Pools which are configured for automatic scaling ... 409."
                raise conflict(
                    "OperationInvalidForCurrentState",
                    "The pool has automatic scaling enabled: disable autoscale before resizing it.",
                )
            if dedicated is not None:
                pool.doc["targetDedicatedNodes"] = dedicated
            if low is not None:
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
                raise conflict(
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion and is being reclaimed.",
                )
            if pool.doc["allocationState"] == "steady":
                return
            # As on Batch, the targets stay what was asked; the pool keeps the nodes it has (those still
            # being allocated are given up) and says why it stopped short.
            now = utcnow()
            for node in list(pool.nodes.values()):
                if node.pending is not None and node.pending["op"] == "create":
                    self._drop_node(pool, node)
            staying = pool.staying()
            if len(staying) != pool.doc["targetDedicatedNodes"] + pool.doc["targetLowPriorityNodes"]:
                self._resize_error(
                    pool, "ResizeStopped", "The resize was stopped by the user before it completed."
                )
            self._set_allocation(pool, "stopping", now)

    def _steady_pool(self, pool_id: str, check: Callable[[Doc], None] | None) -> Pool:
        pool = self._pool(pool_id)
        if check:
            check(pool.doc)
        if pool.doc["state"] == "deleting":
            raise conflict(
                "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed."
            )
        if pool.doc["allocationState"] != "steady":
            raise conflict("PoolBeingResized", "The specified pool is being resized.")
        return pool

    def _set_allocation(self, pool: Pool, state: str, now: datetime) -> None:
        if pool.doc["allocationState"] != state:
            pool.doc["allocationState"] = state
            pool.doc["allocationStateTransitionTime"] = iso(now)
        touch(pool.doc, now)
        self._save_pool(pool)

    def _advance_pools(self, now: datetime) -> None:
        """Finish reboots, reimages and removals whose node is quiet; grow or shrink resizing pools."""
        for pool in list(self.pools.values()):
            if pool.doc["state"] == "deleting":
                continue
            for node in list(pool.nodes.values()):
                if node.pending is None or self._node_busy(node):
                    continue
                op = node.pending["op"]
                elapsed = (now - parse_iso(node.pending["since"])).total_seconds()
                if op == "remove":
                    self._drop_node(pool, node)
                elif op == "deallocate":
                    # Its work is handled (not busy): no VM to stop, so it is deallocated now.
                    node.pending = None
                    set_state(node.doc, "deallocated", now)
                    self._save_node(node)
                elif op == "create" and elapsed >= self._resize_timeout(pool):
                    self._drop_node(pool, node)
                    self._resize_error(
                        pool,
                        "AllocationTimedOut",
                        "The desired number of nodes could not be allocated within the resize timeout.",
                    )
                elif elapsed < self.timing.seconds(op):
                    continue
                elif op == "create":
                    node.pending = {"op": "start", "option": "requeue", "since": iso(now)}
                    set_state(node.doc, "starting", now)
                    self._save_node(node)
                else:
                    self._boot(pool, node, now)
            if pool.doc["allocationState"] == "resizing" and not self._resize_timed_out(pool):
                self._resize_step(pool, now)
            if (
                pool.doc["allocationState"] in ("resizing", "stopping")
                and not any(n.leaving for n in pool.nodes.values())
                and not self._allocating(pool)
            ):
                self._count_nodes(pool)
                self._set_allocation(pool, "steady", now)

    def _allocating(self, pool: Pool) -> bool:
        """Whether a node of the pool is still being allocated (realistic timing)."""
        return any(n.pending is not None and n.pending["op"] == "create" for n in pool.nodes.values())

    def _resize_timeout(self, pool: Pool) -> float:
        return self.timing.resize_timeout(
            seconds(pool.doc.get("resizeTimeout") or "PT15M", "resizeTimeout") or 0
        )

    def _resize_timed_out(self, pool: Pool) -> bool:
        return any(e.get("code") == "AllocationTimedOut" for e in pool.doc.get("resizeErrors") or [])

    def _resize_error(self, pool: Pool, code: str, message: str) -> None:
        """Record why the current resize fell short (kept until the next resize, as on Batch)."""
        errors = pool.doc.setdefault("resizeErrors", [])
        if not any(e.get("code") == code for e in errors):
            errors.append({"code": code, "message": message})
        self._save_pool(pool)

    def _resize_step(self, pool: Pool, now: datetime) -> None:
        """Add missing nodes (within --max-nodes) and mark surplus ones to leave, idle ones first."""
        for dedicated, target_key in ((True, "targetDedicatedNodes"), (False, "targetLowPriorityNodes")):
            staying = [n for n in pool.staying() if n.doc["isDedicated"] == dedicated]
            target = int(pool.doc.get(target_key) or 0)
            if len(staying) > target:
                # Batch picks which nodes go: the least busy, newest first.
                staying.sort(key=lambda n: (len(n.slots), -n.seq))
                for node in staying[: len(staying) - target]:
                    self._begin_node_op(node, "remove", pool.deallocation, now)
            for _ in range(target - len(staying)):
                existing = sum(len(p.nodes) for p in self.pools.values())
                if self.max_nodes is not None and existing >= self.max_nodes:
                    pool.doc["resizeErrors"] = [
                        {
                            "code": "AccountCoreQuotaReached",
                            "message": f"The local emulator's node cap (--max-nodes {self.max_nodes}) was reached.",
                        }
                    ]
                    break
                self._add_node(pool, pool.next_index, dedicated, now)
        self._count_nodes(pool)

    def _count_nodes(self, pool: Pool) -> None:
        staying = pool.staying()
        pool.doc["currentDedicatedNodes"] = sum(1 for n in staying if n.doc["isDedicated"])
        pool.doc["currentLowPriorityNodes"] = sum(1 for n in staying if not n.doc["isDedicated"])
        self._save_pool(pool)
