"""Account-wide reads: node counts per pool and state, the supported images, pool usage metrics.

Supported images are a fixed list of the images the emulator accepts as Azure does (any image is
accepted; these are the ones it names), with their node agent SKUs. Pool usage metrics are an empty
list: the service aggregates them per hour with a delay of hours, and the emulator does not bill.
May import: `entities`, `wire`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy

from ..entities import Pool
from ..wire import Doc
from .base import ServiceBase

# BatchNodeCounts property per node state; every state the spec lists, plus `total`.
NODE_COUNT_FIELDS = {
    "creating": "creating",
    "idle": "idle",
    "offline": "offline",
    "preempted": "preempted",
    "rebooting": "rebooting",
    "reimaging": "reimaging",
    "running": "running",
    "starting": "starting",
    "starttaskfailed": "startTaskFailed",
    "leavingpool": "leavingPool",
    "unknown": "unknown",
    "unusable": "unusable",
    "waitingforstarttask": "waitingForStartTask",
    "deallocated": "deallocated",
    "deallocating": "deallocating",
    "upgradingos": "upgradingOS",
}

SUPPORTED_IMAGES: list[Doc] = [
    {
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts",
            "version": "latest",
        },
        "verificationType": "verified",
        "capabilities": ["DockerCompatible"],
        "osType": "linux",
    },
    {
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "verificationType": "verified",
        "osType": "linux",
    },
    {
        "nodeAgentSKUId": "batch.node.el 9",
        "imageReference": {
            "publisher": "almalinux",
            "offer": "almalinux-x86_64",
            "sku": "9-gen2",
            "version": "latest",
        },
        "verificationType": "verified",
        "osType": "linux",
    },
    {
        "nodeAgentSKUId": "batch.node.windows amd64",
        "imageReference": {
            "publisher": "microsoftwindowsserver",
            "offer": "windowsserver",
            "sku": "2022-datacenter",
            "version": "latest",
        },
        "verificationType": "verified",
        "osType": "windows",
    },
]


def _counts(pool: Pool, dedicated: bool) -> Doc:
    counts = dict.fromkeys(NODE_COUNT_FIELDS.values(), 0)
    for node in pool.nodes.values():
        if bool(node.doc["isDedicated"]) == dedicated:
            counts[NODE_COUNT_FIELDS.get(str(node.doc["state"]), "unknown")] += 1
    counts["total"] = sum(counts.values())
    return counts


class AccountPart(ServiceBase):
    """Account-wide reads (`BatchService` mixin)."""

    def list_pool_node_counts(self) -> list[Doc]:
        """Per pool (by id): the dedicated and the spot/low-priority nodes counted by state."""
        with self.lock:
            return [
                {
                    "poolId": p.doc["id"],
                    "dedicated": _counts(p, True),
                    "lowPriority": _counts(p, False),
                }
                for p in sorted(self.pools.values(), key=lambda p: p.key)
            ]

    def list_supported_images(self) -> list[Doc]:
        return copy.deepcopy(SUPPORTED_IMAGES)

    def list_pool_usage_metrics(self) -> list[Doc]:
        return []
