"""Secrets stay secret through the real engine, set the way a user sets them.

`pulumi config set --path --secret` under `azbatch:job` (common and task environment) and
`azbatch:pool` (start task environment), a SAS in job metadata set in plain text: after `pulumi up`
none of them is readable in `pulumi stack export`, in the stack outputs or in what the CLI printed,
while the tasks received every value. The same project checks that a typo'd top-level key is named
with a did-you-mean at preview, and that a task with a wildcard `*.txt` output still gets its
`$TaskLog`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from engine.engine_helpers import project_copy
from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.localdev import Emulators, engine_env, workspace_options

pytestmark = pytest.mark.engine

JOB_TOKEN = "job-token-" + uuid.uuid4().hex
TASK_TOKEN = "task-token-" + uuid.uuid4().hex
START_TOKEN = "start-token-" + uuid.uuid4().hex
SAS_SIG = "sassig" + uuid.uuid4().hex


def _stack_file(endpoints_file: Path, suffix: str) -> str:
    # Every task checks it received the secrets (a wrong value fails it, and so the `up`), writes
    # two .txt files and declares a wildcard `*.txt` output: its stdout must still reach $TaskLog.
    def same(variable: str, value: str) -> str:  # compares digests: the value is not in the command
        digest = hashlib.sha256(value.encode()).hexdigest()
        return f'test "$(printf %s "${variable}" | sha256sum | cut -c1-64)" = {digest}'

    check = (
        f"/bin/sh -c '{same('JOB_TOKEN', JOB_TOKEN)} && {same('TASK_TOKEN', TASK_TOKEN)}"
        " && echo done > a.txt && echo more > b.txt && echo stdout-of-$AZ_BATCH_TASK_ID'"
    )
    start = f"/bin/sh -c '{same('START_TOKEN', START_TOKEN)}'"
    return f"""config:
  azbatch:backend: local
  azbatch:local:
    endpoints_file: {endpoints_file}
  azbatch:pool:
    id: secrets-pool-{suffix}
    vm_size: standard_d2s_v3
    image: {{publisher: canonical, offer: ubuntu-24_04-lts, sku: server}}
    node_agent_sku_id: batch.node.ubuntu 24.04
    target_dedicated_nodes: 1
    start_task:
      command_line: {json.dumps(start)}
  azbatch:job:
    id: secrets-job-{suffix}
    on_all_tasks_complete: noaction
    wait_for: tasks
    wait_timeout: PT5M
    tasks:
      - id: t1
        command_line: {json.dumps(check)}
        environment_settings: {{THREADS: 4}}
        output_files:
          - {{file_pattern: "*.txt", kind: TaskOutput}}
"""


def _project(tmp: Path, endpoints_file: Path, suffix: str) -> Path:
    project = project_copy(tmp)
    (project / "stacks" / "Pulumi.sec.yaml").write_text(_stack_file(endpoints_file, suffix))
    return project


def _pulumi(
    project: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--stack", "sec"], cwd=project, env=env, capture_output=True, text=True, check=check
    )


def test_config_secrets_and_sas_never_reach_the_state_in_plain_text(
    tmp_path: Path, emulators: Emulators, batch_client: Any, blob_service: Any
) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    emulators.endpoints.write(endpoints_file)
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    suffix = uuid.uuid4().hex[:6]
    project = _project(tmp_path, endpoints_file, suffix)
    stack = auto.create_or_select_stack("sec", work_dir=str(project), opts=workspace_options(env))

    # A typo'd top-level key is named at preview, with the key meant.
    _pulumi(project, env, "config", "set", "--path", "azbatch:jbo.priority", "3")
    preview = _pulumi(project, env, "preview", "--non-interactive", check=False)
    assert preview.returncode != 0
    assert "azbatch:jbo" in preview.stdout and "did you mean 'job'?" in preview.stdout, preview.stdout
    _pulumi(project, env, "config", "rm", "azbatch:jbo")

    # The secrets, the way a user sets them; a SAS in plain-text metadata.
    for path, value in (
        ("azbatch:job.common_environment_settings.JOB_TOKEN", JOB_TOKEN),
        ("azbatch:job.tasks[0].environment_settings.TASK_TOKEN", TASK_TOKEN),
        ("azbatch:pool.start_task.environment_settings.START_TOKEN", START_TOKEN),
    ):
        _pulumi(project, env, "config", "set", "--path", "--secret", path, value)
    sas_url = f"https://example.blob.core.windows.net/inputs?sv=2024-08-04&sp=r&sig={SAS_SIG}"
    _pulumi(project, env, "config", "set", "--path", "azbatch:job.metadata.inputs", sas_url)
    stack_text = (project / "stacks" / "Pulumi.sec.yaml").read_text()
    assert JOB_TOKEN not in stack_text and "secure:" in stack_text

    printed: list[str] = []
    destroyed = False
    try:
        up = stack.up(on_output=printed.append)
        assert up.summary.result == "succeeded"
        job_id = f"secrets-job-{suffix}"
        # The service got every value: the task and the start task checked them.
        task = batch_client.get_task(job_id, "t1")
        assert task.execution_info.exit_code == 0
        settings = {s.name: s.value for s in task.environment_settings or []}
        assert settings == {"THREADS": "4", "TASK_TOKEN": TASK_TOKEN}

        exported = _pulumi(project, env, "stack", "export").stdout
        outputs = _pulumi(project, env, "stack", "output", "--json").stdout
        for text in (exported, outputs, "\n".join(printed)):
            for secret in (JOB_TOKEN, TASK_TOKEN, START_TOKEN, SAS_SIG):
                assert secret not in text
        # Only the properties that hold a secret are secret: the job id is still readable.
        assert up.outputs["job_id"].value == job_id and not up.outputs["job_id"].secret

        # The wildcard `*.txt` output did not take the place of the task's logs.
        container = blob_service.get_container_client(job_output_container_name(job_id))
        names = {b.name for b in container.list_blobs()}
        assert {"t1/$TaskOutput/a.txt", "t1/$TaskOutput/b.txt", "t1/$TaskLog/stdout.txt"} <= names, names
        stdout = container.download_blob("t1/$TaskLog/stdout.txt").readall().decode()
        assert "stdout-of-t1" in stdout

        # A refresh keeps them secret.
        stack.refresh(on_output=printed.append)
        exported = _pulumi(project, env, "stack", "export").stdout
        for secret in (JOB_TOKEN, TASK_TOKEN, START_TOKEN, SAS_SIG):
            assert secret not in exported
        destroyed = stack.destroy(on_output=printed.append).summary.result == "succeeded"
        assert destroyed
    finally:
        if not destroyed:
            stack.destroy(on_output=print)
