"""The handlers of every Batch operation, one group per resource, composed into one `Handlers`.

`urls.ROUTES` maps method + path pattern to `Handlers` method names. Each handler parses its request,
calls one public method of the service and shapes the response with the exact success status the SDK
requires (201 create, 202 for the long-running operations, 200 / 204 elsewhere).
May import: the service's public API and the `rest` modules. Not entities, store or private names.
"""

from __future__ import annotations

from .account import AccountHandlers
from .files import FileHandlers
from .jobs import JobHandlers
from .nodes import NodeHandlers
from .pools import PoolHandlers
from .schedules import JobScheduleHandlers
from .tasks import TaskHandlers


class Handlers(
    PoolHandlers,
    NodeHandlers,
    AccountHandlers,
    JobScheduleHandlers,
    JobHandlers,
    TaskHandlers,
    FileHandlers,
):
    """One method per Batch operation."""


__all__ = ["Handlers"]
