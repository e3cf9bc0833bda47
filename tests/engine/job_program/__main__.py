"""The seeds' JobPrepRelease job: preparation writes the node id to a shared file, tasks append their ids."""

import pulumi
from pulumi_azbatch.dynamic_providers.job import Job

config = pulumi.Config()
marker = config.get("prepMarker") or "v1"
shared = "$AZ_BATCH_NODE_SHARED_DIR/job_prep_and_release.txt"
job = Job(
    "JobPrepReleaseSampleJob",
    {
        "id": config.require("jobId"),
        "pool_id": config.require("poolId"),
        "job_preparation_task": {"command_line": f"/bin/sh -c 'echo $AZ_BATCH_NODE_ID {marker} > {shared}'"},
        # Release records that it ran (with the preparation's marker), then deletes the shared file.
        "job_release_task": {
            "command_line": f"/bin/sh -c 'head -n 1 {shared} >> $AZ_BATCH_NODE_SHARED_DIR/release-runs.txt; rm {shared}'"
        },
        "tasks": [
            {
                "id": f"task-{i}",
                "command_line": f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> {shared}; echo done $AZ_BATCH_TASK_ID'",
                # A plain (non-secret) config value holding a SAS: the resource stores the tasks as a secret.
                "resource_files": [{"http_url": config.require("inputUrl"), "file_path": "data.txt"}],
                "output_files": [{"file_pattern": "../stdout.txt", "kind": "TaskLog"}],
            }
            for i in range(config.require_int("taskCount"))
        ],
        "output_container_url": config.require_secret("outputContainerUrl"),
        "wait_for": "tasks",
        "wait_timeout": 120,
        "on_destroy": config.get("onDestroy") or "terminate_then_delete",
    },
    batch_account_url=config.require("batchUrl"),
    batch_account_name=config.require("batchAccountName"),
    batch_account_key=config.require_secret("batchAccountKey"),
)
pulumi.export("job_id", job.job_id)
pulumi.export("state", job.state)
pulumi.export("task_counts", job.task_counts)
pulumi.export("nodes", job.nodes)
pulumi.export("output_container", job.output_container)
