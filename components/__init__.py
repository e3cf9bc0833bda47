"""Component resources: BatchPool, OutputStorage (+ write SAS), BatchJob, BatchJobSchedule and BatchWorkload.

Each takes the same arguments on the local backend (the Batch emulator and Azurite) and on Azure
(azure-native resources); see :mod:`pulumi_azbatch.components.backend`. Installed, this package is
``pulumi_azbatch.components``.
"""

from .backend import AzureBackend, Backend, BatchAccountRef, LocalBackend, PoolRef, backend_from_config
from .job import BatchJob, BatchJobArgs, with_task_logs
from .pool import BatchPool, BatchPoolArgs
from .schedule import BatchJobSchedule, BatchJobScheduleArgs
from .storage import OutputStorage, OutputStorageArgs
from .workload import BatchWorkload

__all__ = [
    "AzureBackend",
    "Backend",
    "BatchAccountRef",
    "BatchJob",
    "BatchJobArgs",
    "BatchJobSchedule",
    "BatchJobScheduleArgs",
    "BatchPool",
    "BatchPoolArgs",
    "BatchWorkload",
    "LocalBackend",
    "OutputStorage",
    "OutputStorageArgs",
    "PoolRef",
    "backend_from_config",
    "with_task_logs",
]
