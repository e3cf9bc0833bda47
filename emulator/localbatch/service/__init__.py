"""The emulated Batch account, with no HTTP: one `BatchService` composed of one part per resource
group or loop, all behind one lock (the pattern of moto's EC2 backend).

| part | owns |
|---|---|
| `base` | state, the lock (`_op`), persistence through `Store`, start-up, lookups, URLs |
| `pools` | pool create/update/delete/resize/stop-resize/remove-nodes, the resize step |
| `scaling` | autoscale: enable/disable/evaluate, the sampler, the periodic evaluation |
| `autopools` | the pools of autoPoolSpecifications and their removal |
| `nodes` | node reads, reboot/reimage, boot, start task |
| `node_admin` | scheduling on/off, deallocate/start, node users, remote login, extensions, service logs, preemption |
| `mounts` | mountConfiguration directories on nodes |
| `applications` | applications and application packages from a directory |
| `account` | node counts, supported images, pool usage metrics |
| `jobs` | job create/update/terminate/delete/disable/enable |
| `schedules` | job schedules: their operations, the jobs they create, their recurrence on each tick |
| `tasks` | task add/terminate/reactivate/delete, attempt outcomes |
| `scheduler` | the tick: job transitions, task assignment |
| `prep_release` | job preparation and release tasks |
| `executions` | launching attempts, the reaper's exits |
| `retention` | deleting task directories when their retentionTime runs out |
| `statistics` | pool and job statistics (`$expand=stats`) |

Every public method takes and returns wire-shape dicts (camelCase, as in the REST bodies), so the HTTP
layer and the read-only portal read the same documents; they use only these public methods. Every
change is written through to the `Store` before the lock is released, so an API call that returned
success survives a crash. Methods raise `BatchError` for anything the service would refuse.
May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, `store`. Not HTTP or the portal.
"""

from __future__ import annotations

from .account import AccountPart
from .applications import ApplicationsPart
from .autopools import AutoPoolsPart
from .executions import ExecutionsPart
from .jobs import JobsPart
from .mounts import MountsPart
from .node_admin import NodeAdminPart
from .nodes import NodesPart
from .pools import PoolsPart
from .prep_release import PrepReleasePart
from .retention import RetentionPart
from .scaling import ScalingPart
from .scheduler import SchedulerPart
from .schedules import JobSchedulesPart
from .statistics import StatisticsPart
from .tasks import TasksPart


class BatchService(
    PoolsPart,
    ScalingPart,
    AutoPoolsPart,
    NodesPart,
    NodeAdminPart,
    MountsPart,
    ApplicationsPart,
    AccountPart,
    JobsPart,
    JobSchedulesPart,
    TasksPart,
    SchedulerPart,
    PrepReleasePart,
    ExecutionsPart,
    RetentionPart,
    StatisticsPart,
):
    """The emulated Batch account: all pools, nodes, job schedules, jobs and tasks, persisted in `data_dir`.

    `base_url` is the account URL used in `url` fields and `AZ_BATCH_ACCOUNT_URL`; the server sets it
    once it knows its port. Call `start()` to run the scheduler thread, `stop()` to end it and cancel
    running processes.
    """


__all__ = ["BatchService"]
