"""The real Pulumi engine runs the JobSchedule resource against an emulator whose clock the test moves.

One schedule (every hour, 10-minute start window, preparation and release tasks) from `up` to
`destroy`: the first job at once, a second run an hour later, a run lost while the previous job was
still active, `enabled: false` and back, a priority change that only later jobs get, and a destroy
while a job is active (its release task runs, its exit code is reported, its logs are copied to
`$JobLog/<job id>/`, the schedule and its jobs are gone).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from clocked_batch import ClockedBatch
from pulumi import automation as auto

from engine.engine_helpers import fast_poll_stack, project_copy
from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.localdev import (
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    Endpoints,
)
from pulumi_azbatch.report import build_report

PROGRAM = Path(__file__).parent / "schedule_program"
pytestmark = pytest.mark.engine


def _wait(condition: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _exported(stack: auto.Stack, work_dir: Path) -> str:
    """What a user sees with `pulumi stack export` (secrets as ciphertext)."""
    return subprocess.run(
        ["pulumi", "stack", "export", "--stack", stack.name],
        cwd=work_dir,
        env=stack.workspace.env_vars,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _state(stack: auto.Stack) -> dict[str, Any]:
    """The JobSchedule's outputs in the state (refresh updates them; the stack's exports only at `up`)."""
    resources = stack.export_stack().deployment["resources"]
    [schedule] = [r for r in resources if r["type"].endswith("azbatch:JobSchedule")]
    return schedule["outputs"]  # type: ignore[no-any-return]


def _run_a_task(batch: ClockedBatch, job_id: str, task_id: str) -> None:
    """What a submitter does with a run's job: add a task and let it finish (preparation runs first)."""
    batch.client.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true"))
    _wait(lambda: batch.client.get_task(job_id, task_id).state == m.BatchTaskState.COMPLETED)


def _end_job(batch: ClockedBatch, job_id: str) -> None:
    options = m._models.BatchJobTerminateOptions(termination_reason="RunDone")
    batch.client.begin_terminate_job(job_id, options, polling_interval=0.2).result()
    _wait(lambda: batch.client.get_job(job_id).state == m.BatchJobState.COMPLETED)


def test_a_recurring_schedule_from_up_to_destroy(
    tmp_path: Path, clocked: ClockedBatch, endpoints: Endpoints, blob_service: Any
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    batch = clocked
    pool_id = f"sched-pool-{uuid.uuid4().hex[:6]}"
    [node] = batch.create_pool(pool_id)
    schedule_id = f"nightly-{uuid.uuid4().hex[:6]}"
    container = job_output_container_name(schedule_id)
    blob_service.create_container(container)
    sas = generate_container_sas(
        endpoints.storage_account_name,
        container,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions(read=True, create=True, write=True, list=True),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )
    stack = fast_poll_stack(tmp_path, "schedtest", PROGRAM)
    stack.set_all_config(
        {
            "batchUrl": auto.ConfigValue(batch.url),
            "batchAccountName": auto.ConfigValue(LOCALBATCH_ACCOUNT_NAME),
            "batchAccountKey": auto.ConfigValue(LOCALBATCH_ACCOUNT_KEY, secret=True),
            "outputContainerUrl": auto.ConfigValue(f"{endpoints.blob_url}/{container}?{sas}", secret=True),
            "poolId": auto.ConfigValue(pool_id),
            "scheduleId": auto.ConfigValue(schedule_id),
            "priority": auto.ConfigValue("1"),
        }
    )
    first, second, third = (f"{schedule_id}:job-{n}" for n in (1, 2, 3))
    destroyed = False
    try:
        # ---- up: the schedule, marked as this stack's; its first job exists at once --------------
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"create": 2}
        assert up.outputs["schedule_id"].value == schedule_id
        assert up.outputs["state"].value == "active"
        assert up.outputs["recent_job"].value == first
        assert [j["id"] for j in up.outputs["jobs"].value] == [first]
        assert up.outputs["next_run_time"].value is not None
        made = batch.client.get_job_schedule(schedule_id)
        metadata = {i.name: i.value for i in made.metadata}
        assert metadata["team"] == "sweeps" and metadata["pulumi_azbatch_resource"].endswith("::nightly")
        assert batch.client.get_job(first).priority == 1
        assert "sig=" not in str(up.outputs["output_container"].value)
        # Secrets stay secret: the account key and the container's SAS are not in the state in clear.
        exported = _exported(stack, PROGRAM)
        assert LOCALBATCH_ACCOUNT_KEY not in exported and sas not in exported

        # ---- a second recurrence: the first run ends, the clock moves an hour ---------------------
        _run_a_task(batch, first, "t1")
        _end_job(batch, first)
        assert batch.node_file(pool_id, node, "shared/release-runs.txt").split() == [first]
        batch.advance(timedelta(minutes=61))
        _wait(lambda: batch.jobs(schedule_id) == [first, second])
        stack.refresh(on_output=print)
        outputs = _state(stack)
        assert [j["id"] for j in outputs["jobs"]] == [second, first], "newest first"
        assert outputs["recent_job"] == second

        # ---- a skipped run: the second job is still active when the third run's window passes ---
        batch.advance(timedelta(minutes=60 + 11))
        time.sleep(0.5)
        _end_job(batch, second)
        time.sleep(0.5)
        assert batch.jobs(schedule_id) == [first, second], "a run lost to its start window is not made up"
        stack.refresh(on_output=print)
        assert _state(stack)["state"] == "active"
        assert [j["id"] for j in _state(stack)["jobs"]] == [second, first]

        # ---- update: a new priority reaches the jobs created after it, not the running one -------
        batch.advance(timedelta(minutes=50))  # the next run is due: a third job
        _wait(lambda: batch.jobs(schedule_id) == [first, second, third])
        stack.set_config("priority", auto.ConfigValue("7"))
        preview = stack.preview(on_output=print)
        assert preview.change_summary == {"same": 1, "update": 1}
        assert "job_specification.priority: 1 → 7" in preview.stdout + preview.stderr
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"same": 1, "update": 1}
        assert batch.client.get_job(third).priority == 1, "the running job keeps its settings"
        assert batch.client.get_job_schedule(schedule_id).job_specification.priority == 7
        _end_job(batch, third)
        batch.advance(timedelta(hours=1))
        fourth = f"{schedule_id}:job-4"
        _wait(lambda: fourth in batch.jobs(schedule_id))
        assert batch.client.get_job(fourth).priority == 7

        # ---- disable and enable, declared ----------------------------------------------------------
        _end_job(batch, fourth)
        stack.set_config("enabled", auto.ConfigValue("false"))
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"same": 1, "update": 1}
        assert up.outputs["state"].value == "disabled"
        batch.advance(timedelta(hours=1))
        time.sleep(0.5)
        assert fourth == batch.jobs(schedule_id)[-1], "a disabled schedule creates no job"
        # Enabled outside Pulumi: refresh reports it, the next `up` disables it again.
        batch.client.enable_job_schedule(schedule_id)
        stack.refresh(on_output=print)
        assert _state(stack)["state"] == "active" and _state(stack)["drift"] == ["enabled"]
        preview = stack.preview(on_output=print)
        assert preview.change_summary == {"same": 1, "update": 1}
        assert "enabled: true → false" in preview.stdout + preview.stderr
        stack.set_config("enabled", auto.ConfigValue("true"))
        assert stack.preview(on_output=print).change_summary == {"same": 2}

        # ---- destroy while a job is active: its release runs and is reported, logs kept -----------
        batch.advance(timedelta(hours=1))
        active = _wait(
            lambda: [
                j.id
                for j in batch.client.list_jobs_from_schedule(schedule_id)
                if j.state == m.BatchJobState.ACTIVE
            ]
        )[0]
        _run_a_task(batch, active, "t1")
        destroy = stack.destroy(on_output=print)
        destroyed = True
        assert destroy.summary.result == "succeeded"
        assert f"job {active}: node {node}: preparation exit code 0, release exit code 0" in destroy.stdout
        runs = batch.node_file(pool_id, node, "shared/release-runs.txt").split()
        assert runs[-1] == active and runs.count(active) == 1
        names = {b.name for b in blob_service.get_container_client(container).list_blobs()}
        assert f"$JobLog/{active}/{node}/jobrelease/stdout.txt" in names
        released = blob_service.get_container_client(container).download_blob(
            f"$JobLog/{active}/{node}/jobrelease/stdout.txt"
        )
        assert released.readall().decode().strip() == f"released {active}"
        with pytest.raises(ResourceNotFoundError):
            batch.client.get_job_schedule(schedule_id)
        assert not [j.id for j in batch.client.list_jobs() if j.id.startswith(schedule_id)], (
            "its jobs went too"
        )
    finally:
        if not destroyed:
            stack.destroy(on_output=print)
        stack.workspace.remove_stack("schedtest")


def test_the_nightly_example_stack_keeps_each_runs_outputs_apart(
    tmp_path: Path, clocked: ClockedBatch, endpoints: Endpoints, blob_service: Any
) -> None:
    """`stacks/Pulumi.nightly.yaml` through the project's program: two nights, two output folders."""
    import yaml

    from pulumi_azbatch.localdev import REPO_ROOT

    batch = clocked
    local = Endpoints(
        batch.url,
        LOCALBATCH_ACCOUNT_NAME,
        LOCALBATCH_ACCOUNT_KEY,
        endpoints.blob_url,
        endpoints.storage_account_name,
        endpoints.storage_account_key,
    )
    endpoints_file = tmp_path / "endpoints.json"
    local.write(endpoints_file)
    project = project_copy(tmp_path)
    suffix = uuid.uuid4().hex[:6]
    config = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.nightly.yaml").read_text())["config"]
    config["azbatch:local"]["endpoints_file"] = str(endpoints_file)
    config["azbatch:pools"]["cpu"]["id"] = f"cpu-{suffix}"
    schedule_id = f"nightly-{suffix}"
    config["azbatch:schedules"]["nightly"]["id"] = schedule_id
    (project / "stacks" / "Pulumi.nightly.yaml").write_text(
        yaml.safe_dump({"config": config}, sort_keys=False)
    )
    stack = fast_poll_stack(tmp_path, "nightly", project)
    container = blob_service.get_container_client(job_output_container_name(schedule_id))
    first, second = f"{schedule_id}:job-1", f"{schedule_id}:job-2"
    # A secret set the way a user sets one, deep inside the schedule's entry.
    token = f"token-{uuid.uuid4().hex}"
    stack.set_config(
        "azbatch:schedules.nightly.job_specification.common_environment_settings.TOKEN",
        auto.ConfigValue(token, secret=True),
        path=True,
    )
    try:
        up = stack.up(on_output=print)
        exported = _exported(stack, project)
        assert token not in exported and token not in up.stdout
        env_settings = batch.client.get_job_schedule(
            schedule_id
        ).job_specification.common_environment_settings
        assert {(s.name, s.value) for s in env_settings} == {("TOKEN", token)}, "the service got the value"
        summary = up.outputs["schedules"].value["nightly"]
        assert summary["schedule_id"] == schedule_id and summary["recent_job"] == first
        assert summary["output_container_url"].endswith(f"/{job_output_container_name(schedule_id)}")
        # The first night: the job manager runs the sweep and its completion ends the job.
        _wait(lambda: batch.client.get_job(first).state == m.BatchJobState.COMPLETED)
        night1 = container.download_blob(f"$JobOutput/{first}/results.txt").readall().decode().splitlines()
        assert len(night1) == 20 and night1[2] == "case 3: 9"
        # The next night, a day later on the emulator's clock: its own folder, the first one kept.
        batch.advance(timedelta(days=1))
        _wait(lambda: second in batch.jobs(schedule_id))
        _wait(lambda: batch.client.get_job(second).state == m.BatchJobState.COMPLETED)
        names = sorted(b.name for b in container.list_blobs(name_starts_with="$JobOutput/"))
        assert names == [f"$JobOutput/{first}/results.txt", f"$JobOutput/{second}/results.txt"]
        # The `make up` report lists the schedule from the stack's outputs, read live.
        outputs = {k: v.value for k, v in up.outputs.items()}
        text = build_report(outputs, endpoints.storage_account_key).render()
        assert f"Job schedule {schedule_id} (nightly): active; next run: " in text
        assert f"recent job: {second} (completed); jobs created: 2" in text and "Traceback" not in text
        manager = batch.client.get_task(second, "jobmanager")
        assert manager.execution_info.exit_code == 0
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("nightly")
    with pytest.raises(ResourceNotFoundError):
        batch.client.get_job_schedule(schedule_id)
