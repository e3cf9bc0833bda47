"""One bad task cannot stop the scheduler, and a failed preparation task blocks one job, not its id.

Issue 15: a task whose `dependsOn` the scheduler could not evaluate killed the scheduler thread (no
task of any job started again, and a restart died the same way); nodes were marked ineligible by job
id, so a job re-created with the same id (a Pulumi replace) never ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator, create_pool, start_emulator, stop_emulator  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402
from localbatch.store import Store  # noqa: E402

POISONED = {"taskIdRanges": [{"start": 1, "end": "x"}]}


def _add(emu: Emulator, job: str, body: dict[str, Any]) -> None:
    answer = emu.request("POST", f"/jobs/{job}/tasks", json.dumps(body))
    assert answer.status == 201, answer.body


def _task(emu: Emulator, job: str, task_id: str) -> dict[str, Any]:
    return json.loads(emu.request("GET", f"/jobs/{job}/tasks/{task_id}").body)


def _completed(emu: Emulator, job: str, task_id: str) -> dict[str, Any] | None:
    doc = _task(emu, job, task_id)
    return doc if doc.get("state") == "completed" else None


def _job(emu: Emulator, job: str, pool: str, **extra: Any) -> None:
    body = {"id": job, "poolInfo": {"poolId": pool}, "usesTaskDependencies": True, **extra}
    answer = emu.request("POST", "/jobs", json.dumps(body))
    assert answer.status == 201, answer.body


def _assert_failed_alone(emu: Emulator, job: str, bad: str, good: str) -> None:
    failed = wait_for(lambda: _completed(emu, job, bad), 20)
    info = failed["executionInfo"]
    assert info["result"] == "failure"
    assert info["failureInfo"]["code"] == "TaskSchedulingFailed"
    assert info["failureInfo"]["category"] == "servererror"
    assert "could not schedule" in info["failureInfo"]["message"]
    done = wait_for(lambda: _completed(emu, job, good), 20)
    assert done["executionInfo"]["result"] == "success", "the scheduler kept going after the bad task"


def test_a_task_the_scheduler_cannot_evaluate_fails_alone(emu: Emulator) -> None:
    create_pool(emu, "iso-pool")
    _job(emu, "iso-job", "iso-pool")
    # Waits for a task that never comes, so it is still queued when its record goes bad (as a record
    # stored by an emulator that did not check `dependsOn` would be).
    _add(emu, "iso-job", {"id": "bad", "commandLine": "/bin/true", "dependsOn": {"taskIds": ["never"]}})
    with emu.service._op():
        emu.service.jobs["iso-job"].tasks["bad"].doc["dependsOn"] = POISONED
    _add(emu, "iso-job", {"id": "good", "commandLine": "/bin/true"})
    _assert_failed_alone(emu, "iso-job", "bad", "good")


def test_a_restart_that_loads_a_poisoned_task_fails_that_task_and_runs_the_others(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path)
    try:
        create_pool(emu, "rs-pool")
        _job(emu, "rs-job", "rs-pool")
        _add(emu, "rs-job", {"id": "before", "commandLine": "/bin/true"})
        wait_for(lambda: _completed(emu, "rs-job", "before"), 20)
    finally:
        stop_emulator(emu)
    store = Store(tmp_path / "localbatch.sqlite3")
    try:
        (_, record), *_ = [r for r in store.load("task") if r[0] == "rs-job/before"]
        for seq, (task_id, depends) in enumerate((("bad", POISONED), ("bad2", {"taskIds": 5})), start=1000):
            doc = {**record["doc"], "id": task_id, "state": "active", "dependsOn": depends}
            doc["executionInfo"] = {"retryCount": 0, "requeueCount": 0}
            doc.pop("nodeInfo", None)
            store.put("task", f"rs-job/{task_id}", {**record, "doc": doc, "seq": seq})
    finally:
        store.close()
    emu = start_emulator(tmp_path)
    try:
        _add(emu, "rs-job", {"id": "after", "commandLine": "/bin/true"})
        _assert_failed_alone(emu, "rs-job", "bad", "after")
        _assert_failed_alone(emu, "rs-job", "bad2", "after")
    finally:
        stop_emulator(emu)


def test_a_job_recreated_with_the_same_id_runs_after_its_predecessor_failed_preparation(
    emu: Emulator,
) -> None:
    create_pool(emu, "prep-pool")
    _job(emu, "replaced", "prep-pool", jobPreparationTask={"commandLine": "/bin/false"})
    _add(emu, "replaced", {"id": "t1", "commandLine": "/bin/true"})

    def prep_failed() -> bool:
        status = json.loads(emu.request("GET", "/jobs/replaced/jobpreparationandreleasetaskstatus").body)
        infos = [s.get("jobPreparationTaskExecutionInfo") or {} for s in status["value"]]
        return any(i.get("result") == "failure" for i in infos)

    wait_for(prep_failed, 20)
    assert _task(emu, "replaced", "t1")["state"] == "active", "the node is ineligible for this job"
    assert emu.request("DELETE", "/jobs/replaced").status == 202
    wait_for(lambda: emu.request("GET", "/jobs/replaced").status == 404, 20)
    # What a Pulumi replace does: the same id, now with a preparation task that works.
    _job(emu, "replaced", "prep-pool", jobPreparationTask={"commandLine": "/bin/true"})
    _add(emu, "replaced", {"id": "t1", "commandLine": "/bin/true"})
    done = wait_for(lambda: _completed(emu, "replaced", "t1"), 20)
    assert done["executionInfo"]["result"] == "success"
