"""Through the real engine: ``stacks/Pulumi.containers.yaml``, an autoscaled spot pool running
container tasks, where the Batch emulator has a container runtime (elsewhere the stack is refused at
preview, which ``tests/components`` checks without an engine run).

The project's own program runs the stack file (ids made unique). The pool is sized by its formula
(spot nodes only), every frame runs in the local busybox image and writes its file in its working
directory on the node, and that file reaches the job's File Conventions container.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.engine_helpers import fast_poll_stack, project_copy
from pulumi_azbatch.localdev import REPO_ROOT, Emulators, local_container_image

pytestmark = pytest.mark.engine


def test_the_container_stack_runs_on_autoscaled_spot_nodes(
    tmp_path: Path, emulators: Emulators, batch_client: Any
) -> None:
    runtime = emulators.endpoints.container_runtime
    if not runtime:
        pytest.skip("the Batch emulator found no container runtime on this machine (Podman or Docker)")
    if local_container_image(runtime.split()[0]) is None:
        pytest.skip("no local busybox image (needs Debian's busybox-static)")
    endpoints_file = tmp_path / "endpoints.json"
    emulators.endpoints.write(endpoints_file)
    project = project_copy(tmp_path)
    suffix = uuid.uuid4().hex[:6]
    config = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.containers.yaml").read_text())["config"]
    config["azbatch:local"]["endpoints_file"] = str(endpoints_file)
    config["azbatch:pools"]["render"]["id"] = pool_id = f"render-{suffix}"
    config["azbatch:jobs"]["frames"]["id"] = job_id = f"frames-{suffix}"
    (project / "stacks" / "Pulumi.containers.yaml").write_text(yaml.safe_dump({"config": config}))
    stack = fast_poll_stack(tmp_path, "containers", project)
    try:
        up = stack.up(on_output=print)
        outputs = {k: v.value for k, v in up.outputs.items()}
        assert outputs["jobs"]["frames"]["task_counts"]["succeeded"] == 8
        pool = batch_client.get_pool(pool_id)
        assert pool.enable_auto_scale and pool.auto_scale_run.error is None
        assert pool.current_dedicated_nodes == 0 and pool.current_low_priority_nodes >= 1
        for task in batch_client.list_tasks(job_id):
            assert task.container_settings.image_name == "localhost/azbatch-busybox:local"
            node = task.node_info.node_id
            wd = b"".join(batch_client.download_task_file(job_id, task.id, "wd/frame.txt")).decode()
            assert wd == f"frame {int(task.id.split('-')[1])} on {node}\n"
        from azure.storage.blob import BlobServiceClient

        blob_service = BlobServiceClient.from_connection_string(emulators.endpoints.storage_connection_string)
        blobs = blob_service.get_container_client(f"job-{job_id}").list_blobs()
        assert len([b for b in blobs if b.name.endswith("/$TaskOutput/frame.txt")]) == 8
    finally:
        stack.destroy(on_output=print)
        stack.workspace.remove_stack("containers")
