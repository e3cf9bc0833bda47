"""Job schedules on a shared account, through the project's own program and the pulumi CLI.

A stack declares ``azbatch:schedules``; the workload gives each schedule its File Conventions
container and the JobSchedule resource. A schedule someone made with the SDK, or another stack's,
is refused at preview with its owner named, taken over only with ``azbatch:adopt: [schedule]``, and
never deleted by a stack that does not own it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from harness import LocalStack, Project, unique

pytestmark = pytest.mark.engine


def _config(pool_id: str, schedule_id: str, priority: int = 5) -> dict[str, Any]:
    return {
        "config": {
            "azbatch:backend": "local",
            "azbatch:local": {"endpoints_file": ".local/endpoints.json"},
            "azbatch:pools": {
                "cpu": {
                    "id": pool_id,
                    "vm_size": "standard_d2s_v3",
                    "image": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                    "node_agent_sku_id": "batch.node.ubuntu 24.04",
                    "target_dedicated_nodes": 1,
                }
            },
            "azbatch:storage": {
                "sas_lifetime": "P1D",
                "sas_rotation_margin": "PT1H",
                "retain_on_destroy": False,
            },
            "azbatch:schedules": {
                "hourly": {
                    "id": schedule_id,
                    "pool": "cpu",
                    "schedule": {"recurrence_interval": "PT1H"},
                    "job_specification": {
                        "priority": priority,
                        "job_preparation_task": {"command_line": "/bin/true"},
                        "job_release_task": {"command_line": "/bin/true"},
                    },
                }
            },
        }
    }


def _marks(client: Any, schedule_id: str) -> dict[str, str]:
    return {i.name: i.value for i in client.get_job_schedule(schedule_id).metadata or []}


def test_a_schedule_made_with_the_sdk_is_refused_then_adopted(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, schedule_id = unique("sched-pool"), unique("sdk-sched")
    client = local.client()
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id,
            schedule=m.BatchJobScheduleConfiguration(recurrence_interval="PT2H"),
            job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=pool_id)),
        )
    )
    project = Project.create(
        tmp_path / "p", local.endpoints(), _config(pool_id, schedule_id), log=test_output_dir / "pulumi.log"
    )
    preview = project.run("preview", check=False)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert f"job schedule {schedule_id} already exists and belongs to nobody known" in out, out[-3000:]
    assert "adopt: true" in out
    assert client.get_job_schedule(schedule_id).job_specification.priority in (None, 0), "untouched"

    config = _config(pool_id, schedule_id)
    config["config"]["azbatch:adopt"] = ["schedule"]
    project.write_config(config)
    preview = project.run("preview")
    assert "adopt: true takes over an existing job schedule" in preview.stdout + preview.stderr
    up = project.run("up")
    assert f"job schedule {schedule_id}: taking it over from nobody known" in up.stdout + up.stderr
    taken = client.get_job_schedule(schedule_id)
    assert _marks(client, schedule_id)["pulumi_azbatch_stack"] == "organization/azbatch/rel"
    assert (
        taken.job_specification.priority == 5 and taken.schedule.recurrence_interval.total_seconds() == 3600
    )
    summary = project.outputs()["schedules"]["hourly"]
    assert summary["schedule_id"] == schedule_id and summary["state"] == "active"
    assert summary["output_container_url"].endswith(f"/job-{schedule_id}")
    project.run("destroy")
    with pytest.raises(ResourceNotFoundError):
        client.get_job_schedule(schedule_id)


def test_two_stacks_with_one_schedule_id_get_a_clear_error_and_destroy_leaves_the_other_alone(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    schedule_id = unique("team-sched")
    log = test_output_dir / "pulumi.log"
    first = Project.create(
        tmp_path / "a", local.endpoints(), _config(unique("pool-a"), schedule_id), stack="a", log=log
    )
    first.run("up")
    second = Project.create(
        tmp_path / "b", local.endpoints(), _config(unique("pool-b"), schedule_id), stack="b", log=log
    )
    up = second.run("up", check=False)
    out = up.stdout + up.stderr
    assert up.returncode != 0
    # Refused with the owner named (its output container, job-<schedule id>, is the first object met).
    assert "already exists and belongs to stack organization/azbatch/a" in out, out[-3000:]
    second.run("destroy")
    client = local.client()
    assert _marks(client, schedule_id)["pulumi_azbatch_stack"] == "organization/azbatch/a"
    assert first.run("preview", "--expect-no-changes").returncode == 0
    first.run("destroy")
    with pytest.raises(ResourceNotFoundError):
        client.get_job_schedule(schedule_id)
