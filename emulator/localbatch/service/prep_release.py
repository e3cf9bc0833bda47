"""Job preparation and release tasks: the per-node status records, launching them, their
outcomes (retries, the node becoming ineligible for the job) and the release run at job end.

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy

from .. import runtime
from ..entities import Job, Node, Pool
from ..exceptions import (
    conflict,
)
from ..wire import (
    Doc,
    iso,
    seconds,
    set_state,
    utcnow,
)
from .base import ServiceBase
from .executions import launch_failure, record_outcome


class PrepReleasePart(ServiceBase):
    """Job preparation and release (`BatchService` mixin)."""

    def list_preparation_and_release_status(self, job_id: str) -> list[Doc]:
        """One record per node that ran the job preparation or release task (409 without them)."""
        with self.lock:
            job = self._job(job_id)
            if not job.doc.get("jobPreparationTask") and not job.doc.get("jobReleaseTask"):
                # Code and text as the service answered (recorded by azure-sdk-for-js, batch-rest
                # recording_should_fail_to_job_preprelease_status); SDK docstrings name an older code.
                raise conflict(
                    "JobPreparationTaskOrReleaseTaskNotSpecified",
                    "The specified job does not have either job preparation task or job release task.",
                )
            out = []
            for rec in job.prep.values():
                if "jobPreparationTaskExecutionInfo" in rec or "jobReleaseTaskExecutionInfo" in rec:
                    out.append({k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")})
            return out

    def _prep_record(self, job: Job, pool: Pool, node: Node) -> Doc:
        rec = job.prep.get(node.id)
        if rec is None:
            rec = {"poolId": pool.doc["id"], "nodeId": node.id, "nodeUrl": node.doc["url"]}
            job.prep[node.id] = rec
        return rec

    def _launch_prep(self, job: Job, pool: Pool, node: Node, retry_count: int = 0) -> None:
        spec = job.doc["jobPreparationTask"]
        rec = self._prep_record(job, pool, node)
        for flag in ("_rerun", "_wiped", "_interrupted"):
            rec.pop(flag, None)
        root_dir = f"workitems/{job.doc['id']}/job-1/{spec['id']}"
        info: Doc = {
            "state": "running",
            "startTime": iso(utcnow()),
            "taskRootDirectory": root_dir,
            "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}",
            "retryCount": retry_count,
        }
        if retry_count:
            info["lastRetryTime"] = iso(utcnow())
        rec["jobPreparationTaskExecutionInfo"] = info
        self._save_prep(job, node.id)
        task_dir = node.root / root_dir
        run = runtime.TaskRun(
            node_root=node.root,
            task_dir=task_dir,
            command_line=spec["commandLine"],
            environment=self._environment(job, pool, node, task_dir, spec["id"], spec),
            resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=seconds(spec["constraints"]["maxWallClockTime"], "maxWallClockTime"),
            launch_failure=launch_failure(pool, spec["commandLine"]),
        )
        self._containerize(run, pool, spec)
        key = ("prep", job.key, node.id)
        job_seq = job.seq
        self._spawn(key, run, lambda result: self._prep_done(job.key, job_seq, pool.key, node.id, result))

    def _prep_done(
        self, job_key: str, job_seq: int, pool_key: str, node_id: str, result: runtime.ProcessResult
    ) -> None:
        job = self.jobs.get(job_key)
        if job is None or job.seq != job_seq or node_id not in job.prep:
            return
        spec = job.doc["jobPreparationTask"]
        rec = job.prep[node_id]
        if rec.pop("_interrupted", False):
            self._save_prep(job, node_id)
            return  # killed by a reboot or reimage; it runs again before the next task there
        info = rec["jobPreparationTaskExecutionInfo"]
        failed = result.failure_info is not None or result.exit_code != 0
        pool = self.pools.get(pool_key)
        node = pool.nodes.get(node_id) if pool else None
        retries = int(spec["constraints"].get("maxTaskRetryCount", 0))
        alive = job.state in ("active", "disabled", "disabling", "enabling") and node is not None
        if (
            failed
            and alive
            and result.failure_info is None
            and (retries == -1 or info["retryCount"] < retries)
        ):
            assert pool is not None and node is not None
            self._launch_prep(job, pool, node, retry_count=info["retryCount"] + 1)
            return
        record_outcome(info, result)
        self._save_prep(job, node_id)
        self._retain_prep(job, node_id)
        if node is None or pool is None:
            return
        now = utcnow()
        waiting = [
            t for t in job.tasks.values() if t.doc["state"] == "preparing" and t.node == (pool_key, node_id)
        ]
        if failed and spec.get("waitForSuccess", True):
            # The node is ineligible for this job until reimaged; its waiting tasks go back to active.
            node.ineligible_jobs.add(job.instance)
            self._save_node(node)
            for task in waiting:
                node.slots.pop((job.key, task.key), None)
                task.node = None
                set_state(task.doc, "active", now)
                job.active[task.key] = None
                self._save_task(task)
            self._refresh_node(node)
            return
        for task in waiting:
            self._start_task(job, task, pool, node, now)

    def _run_releases(self, job: Job) -> bool:
        """Launch the release task on each node whose prep completed; True while any is unfinished."""
        pending = False
        for node_id, rec in job.prep.items():
            prep_info = rec.get("jobPreparationTaskExecutionInfo") or {}
            if prep_info.get("state") != "completed" or rec.get("_wiped"):
                continue  # prep never completed there, or the node was reimaged since
            release_info = rec.get("jobReleaseTaskExecutionInfo")
            if release_info is None:
                pool = self.pools.get(str(rec["poolId"]).lower())
                node = pool.nodes.get(node_id) if pool else None
                if node is None or pool is None or pool.doc["state"] == "deleting":
                    continue  # the node left the pool: nothing to release there
                if node.pending is not None:
                    if node.pending["op"] == "remove":
                        continue  # leaving the pool: nothing to release there
                    pending = True  # rebooting: release runs once it is back
                    continue
                self._launch_release(job, pool, node)
                pending = True
            elif release_info.get("state") == "running":
                pending = True
        return pending

    def _launch_release(self, job: Job, pool: Pool, node: Node) -> None:
        spec = job.doc["jobReleaseTask"]
        rec = job.prep[node.id]
        root_dir = f"workitems/{job.doc['id']}/job-1/{spec['id']}"
        rec["jobReleaseTaskExecutionInfo"] = {
            "state": "running",
            "startTime": iso(utcnow()),
            "taskRootDirectory": root_dir,
            "taskRootDirectoryUrl": f"{node.doc['url']}/files/{root_dir}",
        }
        self._save_prep(job, node.id)
        task_dir = node.root / root_dir
        run = runtime.TaskRun(
            node_root=node.root,
            task_dir=task_dir,
            command_line=spec["commandLine"],
            environment=self._environment(job, pool, node, task_dir, spec["id"], spec),
            resource_files=list(spec.get("resourceFiles") or []),
            max_wall_clock_seconds=seconds(spec.get("maxWallClockTime"), "maxWallClockTime"),
            launch_failure=launch_failure(pool, spec["commandLine"]),
        )
        self._containerize(run, pool, spec)
        job_seq = job.seq
        self._spawn(
            ("release", job.key, node.id), run, lambda r: self._release_done(job.key, job_seq, node.id, r)
        )

    def _release_done(self, job_key: str, job_seq: int, node_id: str, result: runtime.ProcessResult) -> None:
        job = self.jobs.get(job_key)
        if job is None or job.seq != job_seq or node_id not in job.prep:
            return
        if job.prep[node_id].pop("_interrupted_release", False):
            # Killed by a reboot or reimage: it runs again once the node is back.
            job.prep[node_id].pop("jobReleaseTaskExecutionInfo", None)
            self._save_prep(job, node_id)
            return
        info = job.prep[node_id]["jobReleaseTaskExecutionInfo"]
        record_outcome(info, result)
        self._save_prep(job, node_id)
        self._retain_prep(job, node_id)
