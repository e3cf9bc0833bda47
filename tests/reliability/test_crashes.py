"""Killed processes never leave orphaned jobs or duplicate tasks: the recovery steps of docs/recovery.md.

`pulumi up` is SIGKILLed with its whole process group (CLI, language host, dynamic provider: what a
killed CI runner or an OOM kill does) while the tasks are being added and while it waits for them
to complete; the Batch emulator is SIGKILLed while tasks run and restarted on the same data
directory. Each time the documented recovery converges: the stack holds the job, the job holds
exactly the declared tasks, each task's work happened once, and `destroy` leaves nothing behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    LocalStack,
    Project,
    admin,
    assert_exact_tasks,
    host_processes_below,
    job_config,
    job_ids,
    kill_cli_only,
    kill_pids,
    kill_session,
    pool_ids,
    stack_config,
    unique,
    wait_until,
)

pytestmark = pytest.mark.engine
RAN = '"$AZ_BATCH_NODE_SHARED_DIR/ran.txt"'


def _job(job_id: str, tasks: int, *, sleep: float = 0) -> dict[str, Any]:
    """Tasks without output files (fast); each records its run once its work is done."""
    command = (
        f"/bin/sh -c 'sleep {sleep}; echo $AZ_BATCH_TASK_ID >> {RAN}'"
        if sleep
        else f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> {RAN}'"
    )
    job = job_config(job_id, tasks, command=command)
    job["task_factories"][0]["repeat_task"]["output_files"] = []
    return job


def _project(local: LocalStack, tmp_path: Path, log: Path, job: dict[str, Any], pool_id: str) -> Project:
    return Project.create(
        tmp_path / "project", local.endpoints(), stack_config(pool_id, job, task_logs=False), log=log
    )


def _task_count(local: LocalStack, job_id: str) -> int:
    try:
        return sum(1 for _ in local.client().list_tasks(job_id, select=["id"]))
    except Exception:  # noqa: BLE001 - the job does not exist yet
        return 0


def _running(local: LocalStack, job_id: str) -> bool:
    try:
        return bool(local.client().get_job_task_counts(job_id).task_counts.running)
    except Exception:  # noqa: BLE001
        return False


def _destroy_leaves_nothing(project: Project, local: LocalStack, job_id: str, pool_id: str) -> None:
    project.run("destroy")
    client = local.client()
    assert job_id not in job_ids(client) and pool_id not in pool_ids(client)
    assert project.pending_operations() == []


def test_sigkill_during_task_submission_then_cancel_refresh_up(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id, tasks = unique("crash-pool"), unique("crash-sub"), 150
    project = _project(local, tmp_path, test_output_dir / "pulumi.log", _job(job_id, tasks), pool_id)
    # Two add-collection calls (100 + 50 tasks) run at once; the second is throttled for 3 s, so the
    # deployment is killed with the first chunk added and the second still to come.
    admin(
        local.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 1, "status": 429, "retryAfter": 3, "method": "POST", "pathRegex": "addtaskcollection"},
    )
    up = project.start("up")
    wait_until(lambda: _task_count(local, job_id) >= 50, 90, "the first chunk of tasks")
    kill_session(up)
    added = _task_count(local, job_id)
    assert 50 <= added < tasks, f"killed mid-submission ({added} of {tasks} tasks added)"
    time.sleep(3.5)  # the throttled chunk would have been retried by now if anything survived the kill
    assert _task_count(local, job_id) == added, "no provider process survived the kill"

    # What the user sees first: the killed run's lock.
    locked = project.run("up", check=False)
    assert locked.returncode != 0 and "the stack is currently locked" in locked.stdout + locked.stderr
    assert [op["type"] for op in project.pending_operations()] == ["creating"]

    # Recovery: release the lock, drop the pending create, up again (the job is adopted, tasks completed).
    project.run("cancel")
    project.run("refresh", "--clear-pending-creates")
    assert project.pending_operations() == []
    out = project.run("up").stdout
    assert "already exists and matches (left by an interrupted deployment); adopting it" in out
    assert f"{added} task(s) already existed with the same definition" in out
    assert_exact_tasks(local.client(), job_id, pool_id, tasks)
    assert project.run("preview", "--expect-no-changes").returncode == 0
    _destroy_leaves_nothing(project, local, job_id, pool_id)


def test_sigkill_during_completion_wait_then_cancel_up(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id, tasks = unique("crash-pool"), unique("crash-wait"), 8
    project = _project(
        local, tmp_path, test_output_dir / "pulumi.log", _job(job_id, tasks, sleep=1.5), pool_id
    )
    up = project.start("up")
    wait_until(lambda: _running(local, job_id), 90, "tasks running")
    # `kill -9 <pid of pulumi>`: the engine's plugins run in process groups of their own and survive
    # it (recovery step 1 of docs/recovery.md); they are ended here by pid, as the user would.
    survivors = kill_cli_only(up)
    assert survivors, "the language host and the dynamic provider outlive the CLI"
    kill_pids(survivors)
    assert local.client().get_job_task_counts(job_id).task_counts.completed < tasks, "killed while waiting"

    project.run("cancel")
    # The other order also converges: a plain non-interactive refresh keeps the pending create
    # (pulumi 3.259 clears it only interactively or with --clear-pending-creates), `up` warns about
    # it and adopts the job, and the record stays until a refresh clears it.
    project.run("refresh")
    assert [op["type"] for op in project.pending_operations()] == ["creating"]
    out = project.run("up").stdout
    assert "pending operations from previous deployment" in out
    assert "adopting it" in out and f"{tasks} task(s) already existed with the same definition" in out
    assert [op["type"] for op in project.pending_operations()] == ["creating"]
    project.run("refresh", "--clear-pending-creates")
    assert project.pending_operations() == []
    assert project.run("preview", "--expect-no-changes").returncode == 0
    assert_exact_tasks(local.client(), job_id, pool_id, tasks)
    assert project.outputs()["task_counts"]["succeeded"] == tasks
    _destroy_leaves_nothing(project, local, job_id, pool_id)


def test_emulator_killed_mid_job_and_restarted(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id, tasks = unique("crash-pool"), unique("crash-emu"), 8
    project = _project(local, tmp_path, test_output_dir / "pulumi.log", _job(job_id, tasks, sleep=4), pool_id)
    up = project.start("up")
    wait_until(lambda: _running(local, job_id), 90, "tasks running")
    time.sleep(0.5)  # the task processes have started
    local.kill_batch()
    orphans = host_processes_below(local.root / "batch")
    assert orphans, "the running tasks' processes outlive the emulator"
    time.sleep(1)
    local.start_batch()
    # The emulator came back as a rebooted node would: the processes it left running were ended (else
    # they would finish unseen while their requeued attempts run again) and their tasks requeued.
    assert not set(orphans) & set(host_processes_below(local.root / "batch")), orphans
    # The deployment rode out the outage within its bounded retries (connection refused is retried).
    assert up.wait(timeout=120) == 0, "pulumi up converged after the emulator came back"
    client = local.client()
    assert_exact_tasks(client, job_id, pool_id, tasks)
    requeued = sorted(t.id for t in client.list_tasks(job_id) if t.execution_info.requeue_count)
    assert requeued and all(t.execution_info.requeue_count <= 1 for t in client.list_tasks(job_id)), requeued
    assert project.run("refresh").returncode == 0
    assert project.run("preview", "--expect-no-changes").returncode == 0
    _destroy_leaves_nothing(project, local, job_id, pool_id)
    assert host_processes_below(local.root / "batch") == {}
