"""A consumer stack: one BatchJob on the main stack's pool, with its own File Conventions container.

The pool and its Batch account come from the main stack's outputs (a StackReference); this stack only
adds a job, so one platform team can own the pool while other teams declare their work on it.
"""

from pathlib import Path

import pulumi
from pulumi_azbatch.components import (
    BatchAccountRef,
    BatchJob,
    BatchJobArgs,
    LocalBackend,
    OutputStorage,
    OutputStorageArgs,
    PoolRef,
)

config = pulumi.Config()
main = pulumi.StackReference(config.get("mainStack") or "organization/azbatch/local")
pool = PoolRef(
    pool_id=main.require_output("pool_id"),
    account=BatchAccountRef(
        url=main.require_output("batch_account_url"),
        name=main.require_output("batch_account_name"),
        key=main.require_output("batch_account_key"),
    ),
)
job_id = config.get("jobId") or "consumer-report-job"
backend = LocalBackend.from_file(Path(config.get("endpointsFile") or "../../.local/endpoints.json"))
output = OutputStorage("consumer-output", OutputStorageArgs.for_job(job_id, backend))
job = BatchJob(
    "consumer",
    BatchJobArgs(
        job={
            "id": job_id,
            "display_name": "Report job of the consumer stack",
            "tasks": [
                {
                    "id": "summarize",
                    "command_line": "/bin/sh -c 'echo summary from $AZ_BATCH_NODE_ID > summary.txt'",
                    "output_files": [{"file_pattern": "summary.txt", "kind": "TaskOutput"}],
                }
            ],
            "wait_for": "tasks",
            "wait_timeout": "PT5M",
        },
        pool=pool,
        output=output,
    ),
)
pulumi.export("job_id", job.job_id)
pulumi.export("job_state", job.state)
pulumi.export("task_counts", job.task_counts)
pulumi.export("output_container_url", output.container_url)
