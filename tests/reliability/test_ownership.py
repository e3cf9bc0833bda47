"""Ownership and failures that keep history, through the real engine (pulumi CLI) and the emulators.

A shared Batch account: two stacks with the same ids, a job someone made with the SDK, a pool whose
create answer was lost (the run killed right after the pool existed), a task that fails, a wait
interrupted by Ctrl-C, a preparation task that fails. Each time the stack either refuses with a
message naming the owner, or keeps what exists in its state, and never runs a finished task twice.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from harness import (
    LocalStack,
    Project,
    job_config,
    job_ids,
    kill_session,
    pool_ids,
    stack_config,
    task_runs,
    unique,
    wait_until,
)

pytestmark = pytest.mark.engine
RAN = '"$AZ_BATCH_NODE_SHARED_DIR/ran.txt"'


def _job(job_id: str, tasks: int, *, command: str | None = None, **extra: Any) -> dict[str, Any]:
    """Quick tasks without output files; each records its run in the node's ran.txt."""
    job = job_config(job_id, tasks, command=command or f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> {RAN}'")
    job["task_factories"][0]["repeat_task"]["output_files"] = []
    job.update(extra)
    return job


def _project(local: LocalStack, root: Path, log: Path, config: dict[str, Any], stack: str = "rel") -> Project:
    return Project.create(root, local.endpoints(), config, stack=stack, log=log)


def _job_resource(project: Project) -> dict[str, Any]:
    """The Job resource as the state holds it (`pulumi stack export`)."""
    resources = json.loads(project.export())["deployment"]["resources"]
    return next(r for r in resources if r["type"].endswith("azbatch:Job"))


def test_two_stacks_with_the_same_ids_get_a_clear_error_not_a_shared_job(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("own-pool"), unique("own-job")
    config = stack_config(pool_id, _job(job_id, 2), task_logs=False)
    log = test_output_dir / "pulumi.log"
    first = _project(local, tmp_path / "a", log, config, stack="a")
    first.run("up")
    second = _project(local, tmp_path / "b", log, config, stack="b")
    # Preview already refuses (a cheap read in check), naming the owner and the way to take over.
    preview = second.run("preview", check=False)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "already exists and belongs to stack organization/azbatch/a" in out, out[-3000:]
    assert "adopt: true" in out
    up = second.run("up", check=False)
    assert up.returncode != 0 and "belongs to stack organization/azbatch/a" in up.stdout + up.stderr
    # The first stack's objects are untouched and still its own; the second stack's destroy is harmless.
    second.run("destroy")
    client = local.client()
    assert job_id in job_ids(client) and pool_id in pool_ids(client)
    assert first.run("preview", "--expect-no-changes").returncode == 0
    first.run("destroy")
    assert job_id not in job_ids(client) and pool_id not in pool_ids(client)


def test_a_job_made_with_the_sdk_is_refused_then_adopted_with_adopt(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("own-pool"), unique("sdk-job")
    job = _job(job_id, 2)
    client = local.client()
    # Someone made the job by hand, on the pool this stack will create, with the same prep/release.
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(
                command_line=job["job_preparation_task"]["command_line"]
            ),
            job_release_task=m.BatchJobReleaseTask(command_line=job["job_release_task"]["command_line"]),
        )
    )
    project = _project(
        local, tmp_path / "p", test_output_dir / "pulumi.log", stack_config(pool_id, job, task_logs=False)
    )
    refused = project.run("up", check=False)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert f"job {job_id} already exists and belongs to nobody known" in out, out[-3000:]
    assert list(client.list_tasks(job_id)) == [], "nothing was added to a job that is not ours"

    config = stack_config(pool_id, job, task_logs=False)
    config["config"]["azbatch:adopt"] = ["job"]
    project.write_config(config)
    preview = project.run("preview")
    assert "adopt: true takes over an existing job" in preview.stdout + preview.stderr
    out = project.run("up").stdout
    assert f"job {job_id}: taking it over from nobody known" in out
    marks = {i.name: i.value for i in client.get_job(job_id).metadata or []}
    assert marks["pulumi_azbatch_stack"] == "organization/azbatch/rel"
    assert project.outputs()["task_counts"]["succeeded"] == 2
    project.run("destroy")
    with pytest.raises(ResourceNotFoundError):
        client.get_job(job_id)


def test_a_pool_whose_create_answer_was_lost_is_adopted_by_its_mark(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("lost-pool"), unique("lost-job")
    config = stack_config(pool_id, _job(job_id, 2), task_logs=False)
    # Nodes take 4 s to become idle, so the run is killed while the pool's create is in flight.
    config["config"]["azbatch:pool"]["start_task"] = {"command_line": "/bin/sh -c 'sleep 4'"}
    project = _project(local, tmp_path / "p", test_output_dir / "pulumi.log", config)
    up = project.start("up")
    client = local.client()
    wait_until(lambda: pool_id in pool_ids(client), 90, "the pool to exist")
    kill_session(up)  # the answer to the pool's create never reaches the state
    assert job_id not in job_ids(client)
    project.run("cancel")
    project.run("refresh", "--clear-pending-creates")
    out = project.run("up").stdout
    assert (
        f"pool {pool_id}: already exists, made by this resource in an interrupted deployment; adopting it"
        in out
    )
    assert project.outputs()["task_counts"]["succeeded"] == 2
    project.run("destroy")
    assert pool_id not in pool_ids(client) and job_id not in job_ids(client)


def test_a_failing_task_keeps_the_job_and_the_next_up_reruns_nothing(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("hist-pool"), unique("hist-job")
    job = _job(job_id, 3)
    job["tasks"] = [{"id": "bad", "command_line": "/bin/sh -c 'echo the input is corrupt >&2; exit 3'"}]
    project = _project(
        local, tmp_path / "p", test_output_dir / "pulumi.log", stack_config(pool_id, job, task_logs=False)
    )
    failed = project.run("up", check=False)
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "1 of 4 task(s) failed" in out and "task bad: exit code 3" in out and "the input is corrupt" in out
    client = local.client()
    assert sorted(task_runs(client, pool_id)) == ["task001", "task002", "task003"]
    job_resource = _job_resource(project)
    assert job_resource["id"] == job_id and job_resource.get("initErrors"), "the job is in the state"
    assert [t["id"] for t in job_resource["outputs"]["failed_tasks"]] == ["bad"]

    again = project.run("up", check=False)
    assert again.returncode != 0 and "task bad: exit code 3" in again.stdout + again.stderr
    assert sorted(task_runs(client, pool_id)) == ["task001", "task002", "task003"], "nothing ran again"
    project.run("destroy")
    assert job_id not in job_ids(client)


def test_ctrl_c_ends_the_wait_within_seconds_and_keeps_the_job(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("int-pool"), unique("int-job")
    job = _job(job_id, 2, command=f"/bin/sh -c 'sleep 12; echo $AZ_BATCH_TASK_ID >> {RAN}'")
    project = _project(
        local, tmp_path / "p", test_output_dir / "pulumi.log", stack_config(pool_id, job, task_logs=False)
    )
    up = project.start("up")
    client = local.client()

    def running() -> bool:
        try:
            return bool(client.get_job_task_counts(job_id).task_counts.running)
        except ResourceNotFoundError:
            return False

    wait_until(running, 90, "tasks running")
    sent = time.monotonic()
    up.send_signal(signal.SIGINT)  # what Ctrl-C does to `pulumi up`
    up.wait(timeout=60)
    elapsed = time.monotonic() - sent
    print(f"Ctrl-C to exit of `pulumi up`: {elapsed:.2f} s")
    assert up.returncode != 0 and elapsed < 10, f"exited {elapsed:.1f} s after Ctrl-C"
    assert "was cancelled (Ctrl-C)" in project.log.read_text()
    assert _job_resource(project)["id"] == job_id, "the job is in the state"
    assert task_runs(client, pool_id) == [], "interrupted while the tasks ran"

    project.run("up")  # waits again; adds nothing
    assert sorted(task_runs(client, pool_id)) == ["task001", "task002"]
    assert project.outputs()["task_counts"]["succeeded"] == 2
    project.run("destroy")


def test_a_failed_preparation_task_is_reported_at_once(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("prep-pool"), unique("prep-job")
    job = _job(job_id, 2, wait_timeout="PT10M")
    job["job_preparation_task"] = {"command_line": "/bin/sh -c 'echo cannot mount the dataset >&2; exit 9'"}
    project = _project(
        local, tmp_path / "p", test_output_dir / "pulumi.log", stack_config(pool_id, job, task_logs=False)
    )
    started = time.monotonic()
    failed = project.run("up", check=False, timeout=300)
    elapsed = time.monotonic() - started
    out = failed.stdout + failed.stderr
    print(f"`pulumi up` with a failing preparation task ended after {elapsed:.1f} s (wait_timeout 10 min)")
    assert failed.returncode != 0 and elapsed < 120
    assert "the job preparation task failed on" in out and "exit code 9" in out
    assert "cannot mount the dataset" in out
    project.run("destroy")
