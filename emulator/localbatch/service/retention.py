"""Retention: the heap of task, prep and release directories to delete when their retentionTime
runs out, and the sweep that deletes them (re-checked when due: a reactivated task has a new end).

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import heapq
import shutil
import threading
from datetime import datetime
from pathlib import Path

from ..entities import Job, Task
from ..wire import (
    DEFAULT_RETENTION,
    parse_duration,
    parse_iso,
)
from .base import ServiceBase


class RetentionPart(ServiceBase):
    """Retention of task directories (`BatchService` mixin)."""

    def _retain_task(self, task: Task) -> None:
        """Schedule the deletion of a completed task's directory after its retentionTime."""
        info = task.doc.get("executionInfo") or {}
        if (
            task.doc.get("state") != "completed"
            or task.files_cleaned
            or not task.doc.get("nodeInfo")
            or not info.get("endTime")
        ):
            return
        keep = parse_duration(
            task.doc.get("constraints", {}).get("retentionTime") or DEFAULT_RETENTION, "retentionTime"
        )
        if keep is None:
            return
        due = (parse_iso(info["endTime"]) + keep).timestamp()
        heapq.heappush(self._retention, (due, "task", task.job_key, task.key, info["endTime"]))

    def _retain_prep(self, job: Job, node_id: str) -> None:
        """Schedule the deletion of the prep / release task directories on a node after theirs."""
        rec = job.prep.get(node_id) or {}
        for kind, info_key, spec_key in (
            ("prep", "jobPreparationTaskExecutionInfo", "jobPreparationTask"),
            ("release", "jobReleaseTaskExecutionInfo", "jobReleaseTask"),
        ):
            info = rec.get(info_key) or {}
            spec = job.doc.get(spec_key) or {}
            if info.get("state") != "completed" or not info.get("endTime") or not spec:
                continue
            value = (
                (spec.get("constraints") or {}).get("retentionTime")
                if kind == "prep"
                else spec.get("retentionTime")
            )
            keep = parse_duration(value or DEFAULT_RETENTION, "retentionTime")
            if keep is not None:
                due = (parse_iso(info["endTime"]) + keep).timestamp()
                heapq.heappush(self._retention, (due, kind, job.key, node_id, info["endTime"]))

    def _sweep_retention(self, now: datetime) -> None:
        """Delete the directories whose retentionTime ran out (entries are re-checked: a task that
        was reactivated or deleted since has a different endTime or is gone)."""
        stamp = now.timestamp()
        while self._retention and self._retention[0][0] <= stamp:
            _, kind, job_key, item, end_time = heapq.heappop(self._retention)
            job = self.jobs.get(job_key)
            if job is None:
                continue
            if kind == "task":
                task = job.tasks.get(item)
                if task is None or task.doc["state"] != "completed" or task.files_cleaned:
                    continue
                if task.doc["executionInfo"].get("endTime") != end_time:
                    continue
                keep = parse_duration(
                    task.doc.get("constraints", {}).get("retentionTime") or DEFAULT_RETENTION, "retentionTime"
                )
                if keep is None or (parse_iso(end_time) + keep).timestamp() > stamp:
                    continue  # its retentionTime was lengthened since (task replace): rescheduled then
                path = self._task_dir_of(task)
                task.files_cleaned = True
                self._save_task(task)
            else:
                rec = job.prep.get(item) or {}
                info = (
                    rec.get(
                        "jobPreparationTaskExecutionInfo" if kind == "prep" else "jobReleaseTaskExecutionInfo"
                    )
                    or {}
                )
                if info.get("endTime") != end_time or (
                    kind == "prep" and f"prep/{job_key}/{item}" in self._busy_keys()
                ):
                    continue
                pool = self.pools.get(str(rec.get("poolId", "")).lower())
                node = pool.nodes.get(item) if pool else None
                path = (
                    node.root / info["taskRootDirectory"] if node and info.get("taskRootDirectory") else None
                )
            if path is not None:
                remove_tree_later(path)

    def _busy_keys(self) -> set[str]:
        return {"/".join(k) for k in self._executions}


def remove_tree_later(path: Path) -> None:
    """Delete a directory on a background thread (a job's files can be large)."""
    threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True}, daemon=True).start()


def move_out_and_remove(path: Path, trash: Path) -> None:
    """Take a directory out of its node's tree at once (a rename: no listing sees it after the call
    that removed it returns), then delete it on a background thread from `trash`, a path outside
    the node root on the same file system."""
    try:
        path.rename(trash)
    except FileNotFoundError:
        return
    except OSError:
        trash = path  # could not move it: delete it where it is
    remove_tree_later(trash)
