"""Statistics of pools and jobs, as `$expand=stats` returns them (`BatchPoolStatistics`,
`BatchJobStatistics`), computed from the records at the time of the request.

What a single machine can measure is measured: a job's task outcomes, retries, wall-clock and wait
times from its tasks' execution info; a pool's dedicated core time from its nodes' allocation times
(one core per node, as the emulator does not model VM sizes). What it cannot (CPU split into user and
kernel time, disk and network I/O, memory) is reported as zero, in the shape the service uses.
May import: `wire`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..wire import Doc, iso, iso_duration, parse_iso, utcnow
from .base import ServiceBase

_IO_ZERO = {"readIOps": 0, "writeIOps": 0, "readIOGiB": 0.0, "writeIOGiB": 0.0}
_RESOURCE_ZERO = {
    "avgCPUPercentage": 0.0,
    "avgMemoryGiB": 0.0,
    "peakMemoryGiB": 0.0,
    "avgDiskGiB": 0.0,
    "peakDiskGiB": 0.0,
    "diskReadIOps": 0,
    "diskWriteIOps": 0,
    "diskReadGiB": 0.0,
    "diskWriteGiB": 0.0,
    "networkReadGiB": 0.0,
    "networkWriteGiB": 0.0,
}


class StatisticsPart(ServiceBase):
    """`$expand=stats` (`BatchService` mixin)."""

    def job_statistics(self, job_id: str) -> Doc:
        """The job's statistics since it was created (404 `JobNotFound`)."""
        with self.lock:
            job = self._job(job_id)
            now = utcnow()
            wall, wait, retries = timedelta(), timedelta(), 0
            for task in job.tasks.values():
                info = task.doc.get("executionInfo") or {}
                retries += int(info.get("retryCount", 0))
                if "startTime" not in info:
                    continue
                started = parse_iso(info["startTime"])
                ended = parse_iso(info["endTime"]) if info.get("endTime") else now
                wall += max(ended - started, timedelta())
                wait += max(started - parse_iso(task.doc["creationTime"]), timedelta())
            return {
                "url": job.doc["url"],
                "startTime": job.doc["creationTime"],
                "lastUpdateTime": iso(now),
                "userCPUTime": iso_duration(timedelta()),
                "kernelCPUTime": iso_duration(timedelta()),
                "wallClockTime": iso_duration(wall),
                **_IO_ZERO,
                "numSucceededTasks": job.counts["succeeded"],
                "numFailedTasks": job.counts["failed"],
                "numTaskRetries": retries,
                "waitTime": iso_duration(wait),
            }

    def pool_statistics(self, pool_id: str) -> Doc:
        """The pool's usage and resource statistics since it was created (404 `PoolNotFound`)."""
        with self.lock:
            pool = self._pool(pool_id)
            now = utcnow()
            core_time = sum(
                (
                    _since(n.doc.get("allocationTime"), now)
                    for n in pool.nodes.values()
                    if n.doc["isDedicated"]
                ),
                timedelta(),
            )
            start, updated = pool.doc["creationTime"], iso(now)
            return {
                "url": pool.doc["url"],
                "startTime": start,
                "lastUpdateTime": updated,
                "usageStats": {
                    "startTime": start,
                    "lastUpdateTime": updated,
                    "dedicatedCoreTime": iso_duration(core_time),
                },
                "resourceStats": {"startTime": start, "lastUpdateTime": updated, **_RESOURCE_ZERO},
            }


def _since(value: str | None, now: datetime) -> timedelta:
    return max(now - parse_iso(value), timedelta()) if value else timedelta()
