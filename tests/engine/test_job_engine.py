"""The real Pulumi engine runs the Job resource: the seeds' JobPrepRelease job from up to destroy."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from pulumi import automation as auto

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.localdev import REPO_ROOT, Endpoints, engine_env, workspace_options

PROGRAM = Path(__file__).parent / "job_program"
SHARED = "shared/job_prep_and_release.txt"
RUNS = "shared/release-runs.txt"
pytestmark = pytest.mark.engine

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
LINUX = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")


def _wait(condition: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _node_file(client: Any, pool_id: str, node_id: str, path: str) -> str:
    try:
        return b"".join(client.download_node_file(pool_id, node_id, path)).decode()
    except ResourceNotFoundError:
        return ""


def _sas_url(endpoints: Endpoints, blob_service: Any, container: str) -> tuple[str, str]:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    blob_service.create_container(container)
    sas = generate_container_sas(
        endpoints.storage_account_name,
        container,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions(read=True, add=True, create=True, write=True, list=True),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )
    return f"{endpoints.blob_url}/{container}?{sas}", sas


def test_job_prep_release_up_refresh_update_replace_destroy(
    tmp_path: Path, endpoints: Endpoints, batch_client: Any, blob_service: Any
) -> None:
    # The pool of two nodes, made directly with the SDK (the Job resource takes a pool id).
    pool_id = f"JobPrepReleaseSamplePool-{uuid.uuid4().hex[:6]}"
    batch_client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=2,
            virtual_machine_configuration=LINUX,
        )
    )
    nodes = _wait(
        lambda: (
            [n.id for n in batch_client.list_nodes(pool_id) if n.state == "idle"]
            if len([n for n in batch_client.list_nodes(pool_id) if n.state == "idle"]) == 2
            else None
        )
    )
    job_id = f"JobPrepReleaseSampleJob-{uuid.uuid4().hex[:6]}"
    container = job_output_container_name(job_id)
    sas_url, sas = _sas_url(endpoints, blob_service, container)
    blob_service.get_container_client(container).upload_blob("inputs/data.txt", b"input data")
    input_url = f"{endpoints.blob_url}/{container}/inputs/data.txt?{sas}"

    trace = tmp_path / "provider-trace.jsonl"
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    env.update(
        {
            "PULUMI_AZBATCH_PROVIDER_TRACE": str(trace),
            "PULUMI_AZBATCH_POLL_INTERVAL": "0.2",
            "PULUMI_AZBATCH_POLL_MAX_INTERVAL": "0.5",
        }
    )
    stack = auto.create_or_select_stack("jobtest", work_dir=str(PROGRAM), opts=workspace_options(env))
    stack.set_all_config(
        {
            "batchUrl": auto.ConfigValue(endpoints.batch_url),
            "batchAccountName": auto.ConfigValue(endpoints.batch_account_name),
            "batchAccountKey": auto.ConfigValue(endpoints.batch_account_key, secret=True),
            "outputContainerUrl": auto.ConfigValue(sas_url, secret=True),
            "poolId": auto.ConfigValue(pool_id),
            "jobId": auto.ConfigValue(job_id),
            "taskCount": auto.ConfigValue("4"),
            "inputUrl": auto.ConfigValue(input_url),
        }
    )
    destroyed = False
    try:
        # ---- up: the job, its tasks completed (wait_for: tasks) ----------------------------------
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"create": 2}
        assert up.outputs["job_id"].value == job_id
        assert up.outputs["task_counts"].value["succeeded"] == 4
        first_nodes = {n["node_id"] for n in up.outputs["nodes"].value}
        assert first_nodes and first_nodes <= set(nodes)
        ran_tasks: dict[str, list[str]] = {}
        for t in batch_client.list_tasks(job_id):
            ran_tasks.setdefault(t.node_info.node_id, []).append(t.id)
        assert set(ran_tasks) == first_nodes, "preparation ran exactly where tasks ran"
        for node, task_ids in ran_tasks.items():
            lines = _node_file(batch_client, pool_id, node, SHARED).splitlines()
            assert lines[0] == f"{node} v1"
            assert sorted(lines[1:]) == sorted(task_ids)
        # File Conventions output of a task, in the job's container.
        blob = blob_service.get_container_client(container).download_blob("task-0/$TaskLog/stdout.txt")
        assert blob.readall() == b"done task-0\n"
        node0 = next(iter(ran_tasks))
        data = _node_file(
            batch_client, pool_id, node0, f"workitems/{job_id}/job-1/{ran_tasks[node0][0]}/wd/data.txt"
        )
        assert data == "input data"

        # Nothing secret in plain text in what a user exports.
        exported = subprocess.run(
            ["pulumi", "stack", "export", "--stack", "jobtest"],
            cwd=PROGRAM,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert endpoints.batch_account_key not in exported
        resources = json.loads(exported)["deployment"]["resources"]
        [job_state] = [r for r in resources if r["type"] == "pulumi-python:dynamic/azbatch:Job"]
        # The SAS came in as a secret (output container) and as plain config (the tasks' input URL,
        # which the stack's config snapshot shows as given): the Job's own state holds neither.
        assert "sig=" not in json.dumps(job_state) and sas not in json.dumps(job_state)
        assert (
            job_state["inputs"]["tasks"]["4dabf18193072939515e22adb298388d"]
            == "1b47061264138c4ac30d75fd1eb44270"
        )
        assert job_state["id"] == job_id
        assert job_state["outputs"]["output_container"] == f"{endpoints.blob_url}/{container}"

        # ---- refresh: no drift --------------------------------------------------------------------
        assert stack.refresh(on_output=print).summary.result == "succeeded"
        assert stack.preview(on_output=print).change_summary == {"same": 2}

        # ---- adding tasks updates in place --------------------------------------------------------
        stack.set_config("taskCount", auto.ConfigValue("6"))
        preview = stack.preview(on_output=print)
        assert preview.change_summary == {"same": 1, "update": 1}
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"same": 1, "update": 1}
        assert up.outputs["task_counts"].value["succeeded"] == 6
        assert batch_client.get_job(job_id).job_preparation_task.command_line.count("v1") == 1

        # ---- changing the preparation task replaces the job (same id, old one gone first) ---------
        stack.set_config("prepMarker", auto.ConfigValue("v2"))
        up = stack.up(on_output=print)
        assert up.summary.resource_changes == {"same": 1, "replace": 1}
        assert "v2" in batch_client.get_job(job_id).job_preparation_task.command_line
        # The old job was terminated: its release ran once on each of its preparation nodes.
        for node in nodes:
            v1_runs = [
                line for line in _node_file(batch_client, pool_id, node, RUNS).splitlines() if "v1" in line
            ]
            assert len(v1_runs) == (1 if node in ran_tasks or node in first_nodes else 0)

        # ---- destroy with on_destroy: terminate, so the ended job can be inspected ----------------
        stack.set_config("onDestroy", auto.ConfigValue("terminate"))
        assert stack.up(on_output=print).summary.resource_changes == {"same": 1, "update": 1}
        second_nodes = {t.node_info.node_id for t in batch_client.list_tasks(job_id)}
        destroy = stack.destroy(on_output=print)
        destroyed = True
        assert destroy.summary.result == "succeeded"
        job = batch_client.get_job(job_id)
        assert job.state == m.BatchJobState.COMPLETED
        statuses = list(batch_client.list_job_preparation_and_release_task_status(job_id))
        assert {s.node_id for s in statuses} == second_nodes
        for status in statuses:
            assert status.job_preparation_task_execution_info.exit_code == 0
            assert status.job_release_task_execution_info.exit_code == 0
        for node in nodes:
            v2_runs = [
                line for line in _node_file(batch_client, pool_id, node, RUNS).splitlines() if "v2" in line
            ]
            assert v2_runs == ([f"{node} v2"] if node in second_nodes else []), (
                "release ran once where prep ran"
            )
            assert _node_file(batch_client, pool_id, node, SHARED) == "", "release deleted the shared file"
        blobs = {
            b.name
            for b in blob_service.get_container_client(container).list_blobs(name_starts_with="$JobLog/")
        }
        for node in second_nodes:
            assert {
                f"$JobLog/{node}/jobpreparation/stdout.txt",
                f"$JobLog/{node}/jobrelease/stderr.txt",
            } <= blobs
    finally:
        if not destroyed:
            stack.destroy(on_output=print)
        stack.workspace.remove_stack("jobtest")
        batch_client.begin_delete_job(job_id, polling_interval=1)
        batch_client.begin_delete_pool(pool_id, polling_interval=1)

    # The provider ran from the installed package in the project's virtualenv.
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    assert {c["operation"] for c in calls} >= {"check", "diff", "create", "read", "update", "delete"}
    venv = (REPO_ROOT / ".venv").resolve()
    assert all(Path(c["prefix"]).resolve() == venv for c in calls)
    assert {c["module"] for c in calls} == {"pulumi_azbatch.dynamic_providers.job"}
