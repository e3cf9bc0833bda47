"""Through the real engine: a team's stack of two pools and two jobs, changed task by task.

The project's own program runs ``stacks/Pulumi.team.yaml`` (ids made unique, the sweep grown to 200
cases). Every task appends its id to a file in its node's shared directory, so the test counts task
executions on the emulator's nodes: extending the sweep from 200 to 210 cases runs exactly 10 tasks,
changing one task's command runs that task alone again, and ``pulumi preview --diff`` names the tasks.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.core.exceptions import ResourceNotFoundError

from engine.engine_helpers import fast_poll_stack, project_copy
from pulumi_azbatch.localdev import REPO_ROOT, Emulators
from pulumi_azbatch.report import build_report

pytestmark = pytest.mark.engine


def _command(log: str, text: str) -> str:
    return f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/{log}; echo {text}'"


def _config(endpoints_file: Path, suffix: str, cases: int, rerun_text: str) -> dict[str, Any]:
    config = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.team.yaml").read_text())["config"]
    config["azbatch:local"]["endpoints_file"] = str(endpoints_file)
    pools = config["azbatch:pools"]
    pools["cpu"].update(id=f"cpu-{suffix}", task_slots_per_node=8)
    pools["big"]["id"] = f"big-{suffix}"
    jobs = config["azbatch:jobs"]
    sweep = jobs["nightly"]
    sweep["id"] = f"nightly-{suffix}"
    factory = sweep["task_factories"][0]
    factory["parameter_sets"] = [{"start": 1, "end": cases}]
    factory["repeat_task"]["command_line"] = _command(f"runs-nightly-{suffix}.txt", "case {0}")
    rerun = jobs["rerun"]
    rerun["id"] = f"rerun-{suffix}"
    rerun["tasks"][0]["command_line"] = _command(f"runs-rerun-{suffix}.txt", "seven")
    rerun["tasks"][1]["command_line"] = _command(f"runs-rerun-{suffix}.txt", rerun_text)
    return config


def _write(project: Path, config: dict[str, Any]) -> None:
    """The stack file with ``config``, keeping what the engine wrote there (the encryption salt)."""
    path = project / "stacks" / "Pulumi.team.yaml"
    document = yaml.safe_load(path.read_text()) if path.exists() else {}
    document = {**(document or {}), "config": config}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _executions(batch_client: Any, pool_id: str, log: str) -> Counter[str]:
    runs: Counter[str] = Counter()
    for node in batch_client.list_nodes(pool_id):
        try:
            text = b"".join(batch_client.download_node_file(pool_id, node.id, f"shared/{log}")).decode()
        except ResourceNotFoundError:
            continue
        runs.update(text.split())
    return runs


def test_two_pools_two_jobs_and_task_level_changes(
    tmp_path: Path, emulators: Emulators, batch_client: Any
) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    emulators.endpoints.write(endpoints_file)
    project = project_copy(tmp_path)
    suffix = uuid.uuid4().hex[:6]
    cpu, big = f"cpu-{suffix}", f"big-{suffix}"
    nightly_log, rerun_log = f"runs-nightly-{suffix}.txt", f"runs-rerun-{suffix}.txt"
    _write(project, _config(endpoints_file, suffix, 200, "thirteen"))
    stack = fast_poll_stack(tmp_path, "team", project)
    try:
        up = stack.up(on_output=print)
        outputs = {k: v.value for k, v in up.outputs.items()}
        assert set(outputs["pools"]) == {"cpu", "big"} and outputs["pools"]["cpu"]["pool_id"] == cpu
        jobs = outputs["jobs"]
        assert jobs["nightly"]["task_counts"]["succeeded"] == 200 and jobs["nightly"]["pool_id"] == cpu
        assert jobs["rerun"]["task_counts"]["succeeded"] == 2 and jobs["rerun"]["pool_id"] == big
        assert jobs["rerun"]["output_container_name"] == f"job-rerun-{suffix}"
        first = _executions(batch_client, cpu, nightly_log)
        assert len(first) == 200 and set(first.values()) == {1}

        # The report reads any stack: both pools, both jobs, outputs per task and kind.
        text = build_report(outputs, emulators.endpoints.storage_account_key).render()
        print(text)
        assert f"Pool {cpu}" in text and f"Pool {big}" in text
        assert f"Job nightly-{suffix}" in text and "200 tasks with outputs" in text
        assert "Traceback" not in text

        # 200 -> 210 cases: the preview names the 10 new tasks; up runs exactly those 10.
        _write(project, _config(endpoints_file, suffix, 210, "thirteen"))
        preview = stack.preview(diff=True, on_output=print)
        said = preview.stdout + preview.stderr
        assert f"job nightly-{suffix}: tasks: 10 added: case-201, case-202" in said and "case-210" in said
        assert preview.change_summary.get("replace", 0) == 0
        up = stack.up(on_output=print)
        assert up.summary.resource_changes.get("replace", 0) == 0
        assert up.outputs["jobs"].value["nightly"]["task_counts"]["succeeded"] == 210
        second = _executions(batch_client, cpu, nightly_log)
        assert sum(second.values()) - sum(first.values()) == 10
        assert {t for t in second if t not in first} == {f"case-{i}" for i in range(201, 211)}

        # One changed task: only it runs again.
        before = _executions(batch_client, big, rerun_log)
        assert before == Counter({"case-007": 1, "case-013": 1})
        _write(project, _config(endpoints_file, suffix, 210, "thirteen-fixed"))
        preview = stack.preview(diff=True, on_output=print)
        assert (
            f"job rerun-{suffix}: tasks: 1 re-added: case-013 (command_line)"
            in preview.stdout + preview.stderr
        )
        stack.up(on_output=print)
        assert _executions(batch_client, big, rerun_log) == Counter({"case-007": 1, "case-013": 2})
        assert sum(_executions(batch_client, cpu, nightly_log).values()) == 210  # the other job: untouched
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("team")
