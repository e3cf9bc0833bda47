"""Task replace (PUT constraints) and list subtasks through the SDK (service/tasks.py)."""

from __future__ import annotations

import datetime as dt

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from emulator_helpers import wait_for, wait_task


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
    # A completed task's retention can still change: its files go when the new retentionTime runs out.
    client.replace_task(
        job, "slow", m.BatchTask(constraints=m.BatchTaskConstraints(retention_time=dt.timedelta(seconds=1)))
    )
    assert client.get_task(job, "slow").constraints.retention_time == dt.timedelta(seconds=1)
    wait_for(lambda: _files_gone(client, job, "slow"))


def _files_gone(client: BatchClient, job: str, task: str) -> bool:
    try:
        list(client.list_task_files(job, task))
    except HttpResponseError as err:
        return err.error.code == "TaskFilesCleanedup"
    return False


def test_list_subtasks_is_empty_for_a_regular_task(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="one", command_line="/bin/true"))
    assert list(client.list_subtasks(job, "one")) == []
