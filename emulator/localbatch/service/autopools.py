"""Auto pools: the pool a job (or a job schedule) creates from its `autoPoolSpecification`, and its
removal when its owner ends.

`_create_auto_pool(spec)` creates the pool under the lock and returns its id: `<autoPoolIdPrefix>_<GUID>`
(or the GUID alone), as the service names auto pools. `_release_auto_pool(pool_id, spec)` deletes it
unless `keepAlive` is set. A job with `poolLifetimeOption: job` calls the first on create and the second
when it completes or is deleted; a job schedule (`jobschedule`) calls them for its own lifetime.
May import: `validation`, `wire`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import uuid

from ..entities import Job
from ..validation import pool_body
from ..wire import Doc
from .base import ServiceBase


class AutoPoolsPart(ServiceBase):
    """Auto pools (`BatchService` mixin)."""

    def _create_auto_pool(self, spec: Doc) -> str:
        """Create the pool of a checked autoPoolSpecification (lock held); returns its id."""
        guid = str(uuid.uuid4()).upper()
        prefix = spec.get("autoPoolIdPrefix")
        pool_id = f"{prefix}_{guid}" if prefix else guid
        self._new_pool(pool_body({**spec["pool"], "id": pool_id}))
        return pool_id

    def _release_auto_pool(self, pool_id: str, spec: Doc) -> None:
        """Delete an auto pool whose owner ended, unless the specification keeps it alive."""
        if spec.get("keepAlive"):
            return
        pool = self.pools.get(pool_id.lower())
        if pool is not None and pool.doc["state"] != "deleting":
            self._begin_pool_delete(pool)

    def _job_auto_pool_ended(self, job: Job) -> None:
        """The job completed or is being removed: its `job`-lifetime auto pool goes."""
        spec = (job.doc.get("poolInfo") or {}).get("autoPoolSpecification")
        if spec and spec.get("poolLifetimeOption") == "job":
            self._release_auto_pool(str(job.doc["executionInfo"].get("poolId", "")), spec)
