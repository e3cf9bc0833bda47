"""The OData JSON reader's leniency: string literals in a request body converted to the declared type.

The service reads request bodies with an OData reader that converts a JSON string holding a number or a
boolean to the property's declared Int32 / Boolean, so `"targetDedicatedNodes": "2"` (what
`az batch pool create --target-dedicated-nodes 2` sends) creates a pool of two nodes. The emulator has no
schema, so it keeps the names of the writable Int32 and Boolean properties of the 2025-06-01 data plane
(every property of that type in azure-batch 15.1.0's models whose name has that one type wherever it
appears) and converts those; anything else stays as sent, and a string that is not a valid literal is
left for validation to refuse.
Owns `convert_literals`. May import: the standard library.
"""

from __future__ import annotations

import re
from typing import Any

INT32_PROPERTIES = frozenset(
    {
        "backendPort",
        "diskSizeGB",
        "end",
        "frontendPort",
        "frontendPortRangeEnd",
        "frontendPortRangeStart",
        "gid",
        "lun",
        "maxBatchInstancePercent",
        "maxParallelTasks",
        "maxTaskRetryCount",
        "maxUnhealthyInstancePercent",
        "maxUnhealthyUpgradedInstancePercent",
        "numberOfInstances",
        "priority",
        "requiredSlots",
        "start",
        "targetDedicatedNodes",
        "targetLowPriorityNodes",
        "taskSlotsPerNode",
        "uid",
    }
)
BOOLEAN_PROPERTIES = frozenset(
    {
        "allowLowPriorityNode",
        "allowTaskPreemption",
        "autoUpgradeMinorVersion",
        "disableAutomaticRollback",
        "enableAcceleratedNetworking",
        "enableAutoScale",
        "enableAutomaticOSUpgrade",
        "enableAutomaticUpdates",
        "enableAutomaticUpgrade",
        "enableCrossZoneUpgrade",
        "enableInterNodeCommunication",
        "encryptionAtHost",
        "isAdmin",
        "keepAlive",
        "killJobOnCompletion",
        "osRollingUpgradeDeferral",
        "prioritizeUnhealthyInstances",
        "rerunOnNodeRebootAfterSuccess",
        "rollbackFailedInstancesOnPolicyBreach",
        "runExclusive",
        "secureBootEnabled",
        "skipWithdrawFromVNet",
        "useRollingUpgradePolicy",
        "usesTaskDependencies",
        "vTpmEnabled",
        "waitForSuccess",
        "writeAcceleratorEnabled",
    }
)
_INT32 = re.compile(r"^\s*[+-]?\d+\s*$")


def _convert(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if name in INT32_PROPERTIES and _INT32.match(value):
            number = int(value)
            if -(2**31) <= number < 2**31:
                return number
        elif name in BOOLEAN_PROPERTIES and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value
    return convert_literals(value)


def convert_literals(value: Any) -> Any:
    """`value` (a parsed JSON body) with Int32 / Boolean properties sent as strings converted."""
    if isinstance(value, dict):
        return {k: _convert(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_literals(v) for v in value]
    return value
