"""Job state machine, constraints, update semantics and the 4xx codes of reference §4/§5."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest
from emulator_helpers import terminate_options, unique, wait_for, wait_task

API = "api-version=2025-06-01"


def test_create_get_defaults_and_duplicates(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("Job")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    job = client.get_job(job_id.lower())  # ids compare case-insensitively
    assert job.id == job_id and job.state == m.BatchJobState.ACTIVE
    assert (job.priority, job.max_parallel_tasks, job.allow_task_preemption, job.uses_task_dependencies) == (
        0,
        -1,
        False,
        False,
    )
    assert job.all_tasks_complete_mode == "noaction" and job.task_failure_mode == "noaction"
    assert job.constraints.max_task_retry_count == 0
    assert job.constraints.max_wall_clock_time > dt.timedelta(days=10000), "unset means unlimited"
    assert job.execution_info.pool_id == shared_pool and job.previous_state is None
    with pytest.raises(ResourceExistsError) as err:
        client.create_job(
            m.BatchJobCreateOptions(id=job_id.upper(), pool_info=m.BatchPoolInfo(pool_id=shared_pool))
        )
    assert err.value.error.code == "JobExists"
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_job(unique("nope"))
    assert missing.value.error.code == "JobNotFound"
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_validation_errors(client: BatchClient, shared_pool: str) -> None:
    with pytest.raises(HttpResponseError) as err:
        client.create_job(
            m.BatchJobCreateOptions(id="bad id!", pool_info=m.BatchPoolInfo(pool_id=shared_pool))
        )
    assert err.value.status_code == 400 and err.value.error.code == "InvalidPropertyValue"
    auto = m.BatchPoolInfo(
        auto_pool_specification=m.BatchAutoPoolSpecification(
            pool_lifetime_option="job", pool=m.BatchPoolSpecification(vm_size="standard_d2s_v3")
        )
    )
    with pytest.raises(HttpResponseError) as err:  # an auto pool's specification is a pool body
        client.create_job(m.BatchJobCreateOptions(id=unique("auto"), pool_info=auto))
    assert err.value.status_code == 400 and err.value.error.code == "MissingRequiredProperty"
    assert any(d.message == "virtualMachineConfiguration" for d in err.value.error.details)


def test_patch_merges_and_put_replaces(client: BatchClient, job: str) -> None:
    client.update_job(
        job,
        m.BatchJobUpdateOptions(
            priority=50,
            metadata=[m.BatchMetadataItem(name="team", value="a")],
            constraints=m.BatchJobConstraints(max_task_retry_count=3),
        ),
    )
    client.update_job(job, m.BatchJobUpdateOptions(max_parallel_tasks=4))
    got = client.get_job(job)
    assert (got.priority, got.max_parallel_tasks, got.constraints.max_task_retry_count) == (50, 4, 3)
    assert [(i.name, i.value) for i in got.metadata] == [("team", "a")]
    # PUT: omitted updatable properties are reset.
    client.replace_job(job, m.BatchJob(pool_info=got.pool_info, priority=7))
    replaced = client.get_job(job)
    assert replaced.priority == 7 and replaced.max_parallel_tasks == -1
    assert replaced.metadata is None and replaced.constraints.max_task_retry_count == 0


def test_all_tasks_complete_mode_cannot_go_back_and_terminates_job(client: BatchClient, job: str) -> None:
    # The task outlives the two updates, so the job is still active when noaction is refused.
    client.create_task(job, m.BatchTaskCreateOptions(id="t1", command_line="/bin/sleep 1"))
    client.update_job(job, m.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    with pytest.raises(HttpResponseError) as err:
        client.update_job(job, m.BatchJobUpdateOptions(all_tasks_complete_mode="noaction"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidPropertyValue"
    wait_for(lambda: client.get_job(job).state == m.BatchJobState.COMPLETED)
    got = client.get_job(job)
    assert got.execution_info.termination_reason == "AllTasksComplete"
    assert got.execution_info.end_time is not None
    assert got.previous_state == m.BatchJobState.TERMINATING
    # A completed job accepts no more tasks and no updates; terminate gives JobCompleted.
    for call in (
        lambda: client.create_task(job, m.BatchTaskCreateOptions(id="t2", command_line="/bin/true")),
        lambda: client.update_job(job, m.BatchJobUpdateOptions(priority=1)),
        lambda: client.begin_terminate_job(job, options=terminate_options(), polling_interval=0.1),
    ):
        with pytest.raises(ResourceExistsError) as conflict:
            call()
        assert conflict.value.error.code == "JobCompleted"


def test_job_with_no_tasks_and_terminatejob_completes_at_once(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("empty")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool), all_tasks_complete_mode="terminatejob"
        )
    )
    wait_for(lambda: client.get_job(job_id).state == m.BatchJobState.COMPLETED)
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_task_failure_mode_with_exit_conditions(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("otf")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            task_failure_mode="performexitoptionsjobaction",
        )
    )
    # Exit code 4 is explicitly harmless; the job keeps going.
    harmless = m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=4, exit_options=m.ExitOptions(job_action="none"))]
    )
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(id="ok4", command_line="/bin/sh -c 'exit 4'", exit_conditions=harmless),
    )
    assert wait_task(client, job_id, "ok4").execution_info.result == "failure"
    assert client.get_job(job_id).state == m.BatchJobState.ACTIVE
    # Any other failure terminates the job (the default jobAction for a failure).
    client.create_task(job_id, m.BatchTaskCreateOptions(id="bad", command_line="/bin/sh -c 'exit 2'"))
    wait_for(lambda: client.get_job(job_id).state == m.BatchJobState.COMPLETED)
    assert client.get_job(job_id).execution_info.termination_reason == "TaskFailed"
    # jobAction without performexitoptionsjobaction on the job is refused.
    plain = unique("plain")
    client.create_job(m.BatchJobCreateOptions(id=plain, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    with pytest.raises(HttpResponseError) as err:
        client.create_task(
            plain,
            m.BatchTaskCreateOptions(
                id="t",
                command_line="/bin/true",
                exit_conditions=m.ExitConditions(default=m.ExitOptions(job_action="terminate")),
            ),
        )
    assert err.value.status_code == 400
    for j in (job_id, plain):
        client.begin_delete_job(j, polling_interval=0.1).result()


def test_max_wall_clock_time_terminates_job_and_running_tasks(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("wall")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=1)),
        )
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 30"))
    wait_for(lambda: client.get_job(job_id).state == m.BatchJobState.COMPLETED, timeout=10)
    assert client.get_job(job_id).execution_info.termination_reason == "MaxWallClockTimeExpiry"
    task = client.get_task(job_id, "long")
    assert task.state == m.BatchTaskState.COMPLETED and task.execution_info.failure_info.code == "TaskEnded"
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_terminate_and_delete_lro_states(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="run", command_line="/bin/sleep 30"))
    client.create_task(
        job, m.BatchTaskCreateOptions(id="queued", command_line="/bin/true", required_slots=64)
    )
    wait_task(client, job, "run", state="running")
    poller = client.begin_terminate_job(job, options=terminate_options("stop it"), polling_interval=0.1)
    poller.result()
    assert client.get_job(job).state == m.BatchJobState.COMPLETED
    ran = client.get_task(job, "run")
    assert ran.state == m.BatchTaskState.COMPLETED and ran.execution_info.failure_info.code == "TaskEnded"
    assert client.get_task(job, "queued").state == m.BatchTaskState.ACTIVE, "active tasks stay active"
    # Delete of a completed job is allowed; a second delete while deleting is a conflict or gone.
    poller = client.begin_delete_job(job, polling_interval=0.1)
    poller.result()
    with pytest.raises(ResourceNotFoundError):
        client.get_job(job)


def test_user_terminate_without_reason_records_user_terminate(client: BatchClient, job: str) -> None:
    # The SDK cannot send a bodiless terminate (see emulator_helpers.terminate_options), so go raw.
    response = client.send_request(HttpRequest("POST", f"/jobs/{job}/terminate?{API}"))
    assert response.status_code == 202
    wait_for(lambda: client.get_job(job).state == m.BatchJobState.COMPLETED)
    assert client.get_job(job).execution_info.termination_reason == "UserTerminate"


def test_disable_requeue_and_enable(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="t", command_line="/bin/sleep 30"))
    wait_task(client, job, "t", state="running")
    client.begin_disable_job(
        job, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0.1
    ).result()
    assert client.get_job(job).state == m.BatchJobState.DISABLED
    task = wait_task(client, job, "t", state="active")
    assert task.execution_info.requeue_count == 1
    with pytest.raises(ResourceExistsError) as err:
        client.begin_disable_job(job, m.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0.1)
    assert err.value.error.code == "JobNotActive"
    client.begin_enable_job(job, polling_interval=0.1).result()
    assert client.get_job(job).state == m.BatchJobState.ACTIVE
    wait_task(client, job, "t", state="running")
    client.terminate_task(job, "t")


def test_etag_conditions(client: BatchClient, job: str) -> None:
    etag = client.get_job(job).etag
    client.update_job(
        job, m.BatchJobUpdateOptions(priority=3), etag=etag, match_condition=MatchConditions.IfNotModified
    )
    with pytest.raises(ResourceModifiedError) as err:
        client.update_job(
            job, m.BatchJobUpdateOptions(priority=4), etag=etag, match_condition=MatchConditions.IfNotModified
        )
    assert err.value.status_code == 412 and err.value.error.code == "ConditionNotMet"
    assert client.get_job(job).priority == 3


def test_priority_and_max_parallel_tasks(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("par")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool), max_parallel_tasks=1
        )
    )
    client.create_task_collection(
        job_id,
        m.BatchTaskGroup(
            task_values=[
                m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/sleep 0.3") for i in range(3)
            ]
        ),
    )
    peak = 0
    for _ in range(40):
        counts = client.get_job_task_counts(job_id).task_counts
        peak = max(peak, counts.running)
        if counts.completed == 3:
            break
        wait_for(lambda: True)
    assert peak == 1, "maxParallelTasks=1 never runs two tasks of the job at once"
    wait_for(lambda: client.get_job_task_counts(job_id).task_counts.completed == 3)
    client.begin_delete_job(job_id, polling_interval=0.1).result()
