"""B2's program: one Job with `taskCount` trivial tasks from a parametric sweep, waited for (wait_for: tasks)."""

import pulumi
from pulumi_azbatch.dynamic_providers.job import Job

config = pulumi.Config()
job = Job(
    "overhead",
    {
        "id": config.require("jobId"),
        "pool_id": config.require("poolId"),
        "task_factories": [
            {
                "type": "parametric_sweep",
                "parameter_sets": [{"start": 1, "end": config.require_int("taskCount")}],
                "repeat_task": {"command_line": "/bin/true"},
            }
        ],
        "wait_for": "tasks",
        "wait_timeout": 3600,
    },
    batch_account_url=config.require("batchUrl"),
    batch_account_name=config.require("batchAccountName"),
    batch_account_key=config.require_secret("batchAccountKey"),
)
pulumi.export("task_counts", job.task_counts)
