"""Through the real engine: a job that installs the File Conventions library on its nodes, streams a log
with the installed CLI, and is replaced twice (``previous_outputs: keep_apart``, then ``delete``).

The project's own program runs a one-pool, one-job stack on the emulators. Each run's task writes
which run it is into its output, so the test can tell the runs apart in the container.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from batch_file_conventions import OutputReader

from engine.engine_helpers import fast_poll_stack, project_copy
from pulumi_azbatch.conventions import LIBRARY_PREFIX, job_output_container_name
from pulumi_azbatch.localdev import Emulators
from pulumi_azbatch.report import build_report

pytestmark = pytest.mark.engine

STREAM = (
    '/bin/sh -c \'export PYTHONPATH="$AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions"; '
    'exec "$PYTHONPATH/bin/batch-outputs" run --flush-interval 0.5 -- '
    '/bin/sh -c "echo {run} on $AZ_BATCH_NODE_ID; echo {run} > result.txt"\''
)


def _config(endpoints_file: Path, suffix: str, run: str, previous_outputs: str) -> dict[str, Any]:
    return {
        "azbatch:backend": "local",
        "azbatch:local": {"endpoints_file": str(endpoints_file)},
        "azbatch:pool": {
            "id": f"runs-pool-{suffix}",
            "vm_size": "standard_d2s_v3",
            "image": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "node_agent_sku_id": "batch.node.ubuntu 24.04",
            "target_dedicated_nodes": 1,
        },
        "azbatch:storage": {"sas_lifetime": "P30D"},
        "azbatch:job": {
            "id": f"runs-job-{suffix}",
            # A changed display name replaces the job (Batch cannot change it): a new run, same id.
            "display_name": f"run {run}",
            "tasks": [
                {
                    "id": "worker",
                    "command_line": STREAM.format(run=run),
                    "output_files": [{"file_pattern": "result.txt", "kind": "TaskOutput"}],
                }
            ],
            "file_conventions": {"install_library": True, "library_dependencies": "preinstalled"},
            "previous_outputs": previous_outputs,
            "wait_for": "tasks",
            "wait_timeout": "PT5M",
        },
    }


def _write(project: Path, config: dict[str, Any]) -> None:
    path = project / "stacks" / "Pulumi.runs.yaml"
    document = yaml.safe_load(path.read_text()) if path.exists() else {}
    path.write_text(yaml.safe_dump({**(document or {}), "config": config}, sort_keys=False))


def test_library_on_the_nodes_and_replaced_runs_kept_apart_then_deleted(
    tmp_path: Path, emulators: Emulators, blob_service: Any, batch_client: Any
) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    emulators.endpoints.write(endpoints_file)
    project = project_copy(tmp_path)
    suffix = uuid.uuid4().hex[:6]
    job_id = f"runs-job-{suffix}"
    reader = OutputReader(blob_service.get_container_client(job_output_container_name(job_id)))
    _write(project, _config(endpoints_file, suffix, "first", "keep_apart"))
    stack = fast_poll_stack(tmp_path, "runs", project)
    try:
        up = stack.up(on_output=print)
        assert up.outputs["task_counts"].value["succeeded"] == 1
        # The installed CLI streamed the task's stdout (a TaskLog append blob) and the wheel it came
        # from sits under $Library/ of the job's container.
        log = reader.task("worker").get_output("TaskLog", "stdout.txt")
        assert log.download_text().startswith("first on ")
        assert any(b.name.startswith(LIBRARY_PREFIX) for b in reader.container.list_blobs())

        # ---- a replacement: the preview says where the old outputs go ---------------------------
        _write(project, _config(endpoints_file, suffix, "second", "keep_apart"))
        preview = stack.preview(on_output=print)
        said = preview.stdout + preview.stderr
        assert "move under $PreviousRuns/<time>/" in said, said
        up = stack.up(on_output=print)
        assert up.summary.resource_changes.get("replace") == 1
        current = reader.task("worker").get_output("TaskOutput", "result.txt").download_text()
        assert current == "second\n"
        [run] = reader.previous_runs()
        old = reader.previous_run(run)
        assert old.task("worker").get_output("TaskOutput", "result.txt").download_text() == "first\n"
        assert "JobLog" in old.kinds(), "the replaced job's preparation/release logs moved with it"
        assert reader.kinds() == [], "the current run has no $JobLog of the replaced job"
        outputs = {k: v.value for k, v in up.outputs.items()}
        text = build_report(outputs, emulators.endpoints.storage_account_key).render()
        print(text)
        assert "worker: $TaskLog 2 blob(s)" in text and "$TaskOutput 1 blob(s)" in text
        assert f"kept apart under $PreviousRuns/: 1 ({run})" in text and "Traceback" not in text

        # ---- previous_outputs: delete ------------------------------------------------------------
        _write(project, _config(endpoints_file, suffix, "third", "delete"))
        up = stack.up(on_output=print)
        assert up.summary.resource_changes.get("replace") == 1
        assert reader.task("worker").get_output("TaskOutput", "result.txt").download_text() == "third\n"
        assert reader.previous_runs() == [run], "the second run was deleted, the archive kept"
        assert reader.kinds() == []
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("runs")
