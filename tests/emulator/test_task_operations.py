"""Task replace (PUT constraints) and list subtasks through the SDK (service/tasks.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from emulator_helpers import wait_task


def test_replace_task_constraints(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="slow", command_line="/bin/sleep 30"))
    client.replace_task(
        job,
        "slow",
        m.BatchTask(
            constraints=m.BatchTaskConstraints(
                max_wall_clock_time=dt.timedelta(minutes=5),
                retention_time=dt.timedelta(hours=1),
                max_task_retry_count=2,
            )
        ),
    )
    constraints = client.get_task(job, "slow").constraints
    assert constraints.max_wall_clock_time == dt.timedelta(minutes=5)
    assert constraints.retention_time == dt.timedelta(hours=1) and constraints.max_task_retry_count == 2
    client.replace_task(job, "slow", m.BatchTask(constraints=m.BatchTaskConstraints(max_task_retry_count=1)))
    constraints = client.get_task(job, "slow").constraints
    assert constraints.retention_time == dt.timedelta(days=7)  # omitted: back to the default
    client.terminate_task(job, "slow")
    wait_task(client, job, "slow")
    with pytest.raises(HttpResponseError) as err:
        client.replace_task(
            job, "slow", m.BatchTask(constraints=m.BatchTaskConstraints(max_task_retry_count=0))
        )
    assert err.value.status_code == 409 and err.value.error.code == "TaskCompleted"


def test_list_subtasks_is_empty_for_a_regular_task(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="one", command_line="/bin/true"))
    assert list(client.list_subtasks(job, "one")) == []
