"""Compute node administration: scheduling on/off, deallocate/start, node users, remote login
settings, VM extensions, service log upload, and spot/low-priority preemption (an admin trigger).

What a single machine cannot do is accepted as Azure accepts it and stated here and in
docs/emulator-operations.md: node users are recorded on the node (no operating system account is
created, a password is never stored); remote login settings name the loopback address and a port derived
from the node's index (nothing listens there); extensions are the pool's, reported as provisioned.
May import: `entities`, `validation`, `wire`, `exceptions`, `servicelogs`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime

from ..entities import Node, Pool
from ..exceptions import BatchError, conflict, not_found
from ..servicelogs import LogFile, upload_log_files
from ..validation import (
    DEALLOCATE_OPTIONS,
    DISABLE_SCHEDULING_OPTIONS,
    enum_value,
    node_user_body,
    upload_logs_body,
)
from ..wire import Doc, NodeState, iso, parse_iso, set_state, touch, utcnow
from .base import ServiceBase

REMOTE_LOGIN_ADDRESS = "127.0.0.1"
REMOTE_LOGIN_BASE_PORT = 50000
# Node states a deallocation is accepted in ("You can deallocate a Compute Node only if it is in an
# idle or running state").
DEALLOCATABLE_STATES = (NodeState.IDLE, NodeState.RUNNING)
# Node states that can take a node user ("only when it is in the idle or running state").
USER_STATES = (NodeState.IDLE, NodeState.RUNNING)


def _invalid_state(node: Node) -> BatchError:
    return conflict(
        "OperationNotValidOnNode",
        f"The operation is not valid on a node in the {node.doc['state']} state.",
    )


class NodeAdminPart(ServiceBase):
    """Node administration (`BatchService` mixin)."""

    # ---- scheduling ---------------------------------------------------------------------------

    def disable_node_scheduling(self, pool_id: str, node_id: str, option: str | None) -> Doc:
        """No new tasks go to the node; its running tasks are requeued (default), terminated or
        finish (`taskcompletion`). Idempotent, as the service is."""
        choice = enum_value(option, "nodeDisableSchedulingOption", DISABLE_SCHEDULING_OPTIONS, "requeue")
        with self._op():
            _, node = self._node(pool_id, node_id)
            if node.doc.get("schedulingState") != "disabled":
                now = utcnow()
                node.doc["schedulingState"] = "disabled"
                touch(node.doc, now)
                self._save_node(node)
                self._handle_node_work(node, choice, now)
            return copy.deepcopy(node.doc)

    def enable_node_scheduling(self, pool_id: str, node_id: str) -> Doc:
        """The node takes tasks again (idempotent)."""
        with self._op():
            _, node = self._node(pool_id, node_id)
            if node.doc.get("schedulingState") != "enabled":
                node.doc["schedulingState"] = "enabled"
                touch(node.doc)
                self._save_node(node)
            return copy.deepcopy(node.doc)

    # ---- deallocate / start -------------------------------------------------------------------

    def deallocate_node(self, pool_id: str, node_id: str, option: str | None) -> Doc:
        """`deallocating` now, `deallocated` once its tasks are handled per `option`; it keeps its
        place (and its disk) in the pool and takes no tasks until started."""
        choice = enum_value(option, "nodeDeallocateOption", DEALLOCATE_OPTIONS, "requeue")
        with self._op():
            pool, node = self._node(pool_id, node_id)
            self._check_not_deleting(pool)
            if node.pending is not None or node.doc["state"] not in DEALLOCATABLE_STATES:
                raise _invalid_state(node)
            now = utcnow()
            self._begin_node_op(node, "deallocate", choice, now)
            if not self._node_busy(node):  # nothing to wait for: deallocated at once
                node.pending = None
                set_state(node.doc, NodeState.DEALLOCATED, now)
                self._save_node(node)
            return copy.deepcopy(node.doc)

    def start_node(self, pool_id: str, node_id: str) -> Doc:
        """A deallocated node boots again (`starting`, then its start task or `idle`)."""
        return self._boot_again(pool_id, node_id, NodeState.DEALLOCATED)

    def _boot_again(self, pool_id: str, node_id: str, from_state: str) -> Doc:
        """A deallocated or preempted node starts: `starting` now, the scheduler boots it."""
        with self._op():
            pool, node = self._node(pool_id, node_id)
            self._check_not_deleting(pool)
            if node.doc["state"] != from_state:
                raise _invalid_state(node)
            now = utcnow()
            node.pending = {"op": "start", "option": "requeue", "since": iso(now)}
            set_state(node.doc, NodeState.STARTING, now)
            self._save_node(node)
            return copy.deepcopy(node.doc)

    # ---- spot / low-priority preemption (admin) -----------------------------------------------

    def preempt_node(self, pool_id: str, node_id: str) -> Doc:
        """Preempt a spot/low-priority node, as Azure does when it reclaims capacity: the node goes
        `preempted` (it stays in the pool and in `currentLowPriorityNodes`, as documented) and its
        running tasks are requeued (counted in `requeueCount`, not as retries)."""
        with self._op():
            pool, node = self._node(pool_id, node_id)
            if node.doc["isDedicated"]:
                raise BatchError(
                    400,
                    "NodeIsDedicated",
                    "Only spot/low-priority nodes (isDedicated false) are preempted.",
                )
            if node.leaving:
                raise _invalid_state(node)
            now = utcnow()
            node.pending = None
            set_state(node.doc, NodeState.PREEMPTED, now)
            self._save_node(node)
            self._handle_node_work(node, "requeue", now)
            for key, execution in list(self._executions.items()):
                if key == ("start", node.id):
                    self._stop_execution(execution)
            return copy.deepcopy(node.doc)

    def restore_node(self, pool_id: str, node_id: str) -> Doc:
        """A preempted node gets its capacity back: it boots again (start task reruns)."""
        return self._boot_again(pool_id, node_id, NodeState.PREEMPTED)

    # ---- node users ----------------------------------------------------------------------------

    def create_node_user(self, pool_id: str, node_id: str, body: Doc) -> Doc:
        """Record a user on the node (409 `NodeUserExists` for a duplicate name); returns the node."""
        record = node_user_body(body)
        with self._op():
            _, node = self._node(pool_id, node_id)
            if node.doc["state"] not in USER_STATES:
                raise _invalid_state(node)
            if record["name"].lower() in node.users:
                raise conflict("NodeUserExists", "The specified node user already exists.")
            node.users[record["name"].lower()] = record
            touch(node.doc)
            self._save_node(node)
            return copy.deepcopy(node.doc)

    def replace_node_user(self, pool_id: str, node_id: str, user_name: str, body: Doc) -> Doc:
        """Replace a user's password, expiry time and SSH public key (omitted ones are reset)."""
        record = node_user_body(body, name=user_name)
        with self._op():
            _, node = self._node(pool_id, node_id)
            current = node.users.get(user_name.lower())
            if current is None:
                raise not_found("NodeUserNotFound", "node user")
            record["name"], record["isAdmin"] = current["name"], current["isAdmin"]
            node.users[user_name.lower()] = record
            touch(node.doc)
            self._save_node(node)
            return copy.deepcopy(node.doc)

    def delete_node_user(self, pool_id: str, node_id: str, user_name: str) -> None:
        with self._op():
            _, node = self._node(pool_id, node_id)
            if node.users.pop(user_name.lower(), None) is None:
                raise not_found("NodeUserNotFound", "node user")
            self._save_node(node)

    # ---- remote login, extensions ----------------------------------------------------------------

    def remote_login_settings(self, pool_id: str, node_id: str) -> Doc:
        """The loopback address and a port per node (50000 + the node's index; nothing listens)."""
        with self.lock:
            pool, node = self._node(pool_id, node_id)
            index = sorted(pool.nodes.values(), key=lambda n: n.seq).index(node)
            return {
                "remoteLoginIPAddress": REMOTE_LOGIN_ADDRESS,
                "remoteLoginPort": REMOTE_LOGIN_BASE_PORT + index,
            }

    def list_node_extensions(self, pool_id: str, node_id: str) -> list[Doc]:
        """The pool's VM extensions on the node, each reported as provisioned."""
        with self.lock:
            pool, node = self._node(pool_id, node_id)
            return [_node_extension(ext, node) for ext in _extensions(pool)]

    def get_node_extension(self, pool_id: str, node_id: str, name: str) -> Doc:
        with self.lock:
            pool, node = self._node(pool_id, node_id)
            for ext in _extensions(pool):
                if str(ext.get("name", "")).lower() == name.lower():
                    return _node_extension(ext, node)
            raise not_found("ExtensionNotFound", "extension")

    # ---- service logs -------------------------------------------------------------------------------

    def upload_node_logs(self, pool_id: str, node_id: str, body: Doc) -> Doc:
        """Upload the node's emulator logs for the time window to the container; returns
        `{virtualDirectoryName, numberOfFilesUploaded}`.

        The files are what the emulator has of a node's agent: `node.json` (the node's document) and
        the start task's stdout/stderr when they changed within the window. The upload runs outside
        the lock (network I/O)."""
        container_url, start, end = upload_logs_body(body)
        with self.lock:
            pool, node = self._node(pool_id, node_id)
            directory = f"{pool.doc['id']}/{node.id}/{uuid.uuid4()}"
            files = [LogFile("node.json", json.dumps(node.doc, indent=2).encode())]
            for name in ("stdout.txt", "stderr.txt"):
                path = node.root / "startup" / name
                if path.is_file() and _within(path.stat().st_mtime, start, end):
                    files.append(LogFile(f"startup-{name}", path.read_bytes()))
        uploaded = upload_log_files(container_url, directory, files)
        return {"virtualDirectoryName": directory, "numberOfFilesUploaded": uploaded}


def _within(mtime: float, start: datetime, end: datetime | None) -> bool:
    stamp = datetime.fromtimestamp(mtime, tz=start.tzinfo)
    return stamp >= start and (end is None or stamp <= end)


def _extensions(pool: Pool) -> list[Doc]:
    return list((pool.doc.get("virtualMachineConfiguration") or {}).get("extensions") or [])


def _node_extension(ext: Doc, node: Node) -> Doc:
    vm_extension = {k: copy.deepcopy(v) for k, v in ext.items() if k != "protectedSettings"}
    return {
        "provisioningState": "Succeeded",
        "vmExtension": vm_extension,
        "instanceView": {
            "name": ext.get("name"),
            "statuses": [
                {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Provisioning succeeded",
                    "message": "Accepted by the local emulator; the extension does not run locally.",
                    "time": node.doc.get("allocationTime") or iso(parse_iso(node.doc["stateTransitionTime"])),
                }
            ],
        },
    }


__all__ = ["NodeAdminPart"]
