"""A recurring job: every run's job has a preparation task and a release task that records its run."""

import pulumi
from pulumi_azbatch.dynamic_providers.schedule import JobSchedule

config = pulumi.Config()
shared = "$AZ_BATCH_NODE_SHARED_DIR"
schedule = JobSchedule(
    "nightly",
    {
        "id": config.require("scheduleId"),
        "schedule": {"recurrence_interval": "PT1H", "start_window": "PT10M"},
        "job_specification": {
            "pool_id": config.require("poolId"),
            "priority": config.require_int("priority"),
            "job_preparation_task": {
                "command_line": f"/bin/sh -c 'echo $AZ_BATCH_JOB_ID > {shared}/prep.txt'"
            },
            # Release records which run it ended and exits with the configured code.
            "job_release_task": {
                "command_line": f"/bin/sh -c 'echo $AZ_BATCH_JOB_ID >> {shared}/release-runs.txt; "
                f"echo released $AZ_BATCH_JOB_ID; exit {config.get_int('releaseExit') or 0}'"
            },
        },
        "metadata": {"team": "sweeps"},
        "enabled": config.get_bool("enabled") is not False,
        "output_container_url": config.require_secret("outputContainerUrl"),
    },
    batch_account_url=config.require("batchUrl"),
    batch_account_name=config.require("batchAccountName"),
    batch_account_key=config.require_secret("batchAccountKey"),
)
pulumi.export("schedule_id", schedule.schedule_id)
pulumi.export("state", schedule.state)
pulumi.export("next_run_time", schedule.next_run_time)
pulumi.export("recent_job", schedule.recent_job)
pulumi.export("jobs", schedule.jobs)
pulumi.export("output_container", schedule.output_container)
