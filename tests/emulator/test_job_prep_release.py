"""The seeds' JobPrepRelease sample, in Linux form, plus the documented prep/release rules."""

from __future__ import annotations

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from emulator_helpers import (
    pool_options,
    terminate_options,
    unique,
    wait_for,
    wait_task,
    wait_tasks_completed,
)

SHARED_FILE = "job_prep_and_release.txt"
PREP = f"/bin/sh -c 'echo $AZ_BATCH_NODE_ID > $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE}'"


def _read(client: BatchClient, pool_id: str, node_id: str, path: str) -> str:
    return b"".join(client.download_node_file(pool_id, node_id, path)).decode()


def test_job_prep_release_sample(client: BatchClient) -> None:
    pool_id, job_id = unique("JobPrepReleaseSamplePool"), unique("JobPrepReleaseSampleJob")
    client.create_pool(pool_options(pool_id, nodes=2))
    nodes = wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"] or None)
    assert len(nodes) == 2
    # The release task deletes the file and counts its runs in a file that outlives the job.
    release = (
        f"/bin/sh -c 'rm $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE} && "
        f"echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/release-runs-{job_id}.txt'"
    )
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line=PREP),
            job_release_task=m.BatchJobReleaseTask(command_line=release),
        )
    )
    # Before any task ran: the job has prep/release but no records yet.
    assert list(client.list_job_preparation_and_release_task_status(job_id)) == []
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"task{i}",
            command_line=f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE}; sleep 0.2'",
        )
        for i in range(4)
    ]
    client.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))
    completed = wait_tasks_completed(client, job_id)
    assert all(t.execution_info.exit_code == 0 for t in completed)

    # Each node's file starts with the node id written by prep, then the ids of the tasks it ran.
    ran_on: dict[str, list[str]] = {}
    for task in completed:
        ran_on.setdefault(task.node_info.node_id, []).append(task.id)
    assert len(ran_on) == 2, "spread scheduling puts tasks on both nodes"
    for node_id, task_ids in ran_on.items():
        lines = _read(client, pool_id, node_id, f"shared/{SHARED_FILE}").split()
        assert lines[0] == node_id
        assert sorted(lines[1:]) == sorted(task_ids)

    client.begin_terminate_job(
        job_id, options=terminate_options("sample done"), polling_interval=0.1
    ).result()
    job = client.get_job(job_id)
    assert job.state == m.BatchJobState.COMPLETED
    assert job.execution_info.termination_reason == "sample done"

    statuses = list(client.list_job_preparation_and_release_task_status(job_id))
    assert sorted(s.node_id for s in statuses) == sorted(ran_on)
    for status in statuses:
        assert status.pool_id == pool_id
        assert status.job_preparation_task_execution_info.exit_code == 0
        assert status.job_preparation_task_execution_info.state == "completed"
        assert (
            status.job_preparation_task_execution_info.task_root_directory
            == f"workitems/{job_id}/job-1/jobpreparation"
        )
        assert status.job_release_task_execution_info.exit_code == 0
        assert status.job_release_task_execution_info.state == "completed"
        names = [f.name for f in client.list_node_files(pool_id, status.node_id, recursive=True)]
        assert f"shared/{SHARED_FILE}" not in names, "the release task deleted the file"

    client.begin_delete_job(job_id, polling_interval=0.1).result()
    with pytest.raises(Exception) as info:
        client.get_job(job_id)
    assert info.value.error.code == "JobNotFound"
    for node_id in ran_on:
        # Terminated first, deleted later: the release task did not run a second time.
        assert _read(client, pool_id, node_id, f"shared/release-runs-{job_id}.txt").split() == ["jobrelease"]
        names = [f.name for f in client.list_node_files(pool_id, node_id, recursive=True)]
        assert not any(n.startswith(f"workitems/{job_id}") for n in names), (
            "deleting the job removes its files"
        )
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_prep_runs_only_on_nodes_with_tasks_and_task_waits_in_preparing(client: BatchClient) -> None:
    pool_id, job_id = unique("prep-pool"), unique("prep-job")
    client.create_pool(pool_options(pool_id, nodes=3))
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/sh -c 'sleep 0.6'"),
        )
    )
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(id="only", command_line="/bin/sh -c 'echo $AZ_BATCH_JOB_PREP_WORKING_DIR'"),
    )
    wait_for(lambda: client.get_task(job_id, "only").state == m.BatchTaskState.PREPARING, timeout=5)
    assert client.get_job_task_counts(job_id).task_counts.running == 1, "preparing counts as running"
    task = wait_task(client, job_id, "only")
    statuses = list(client.list_job_preparation_and_release_task_status(job_id))
    assert [s.node_id for s in statuses] == [task.node_info.node_id], (
        "prep ran only where a task was scheduled"
    )
    assert statuses[0].job_release_task_execution_info is None, "no release before the job ends"
    prep_end = statuses[0].job_preparation_task_execution_info.end_time
    assert task.execution_info.start_time >= prep_end, "the task started after prep finished"
    stdout = b"".join(client.download_task_file(job_id, "only", "stdout.txt")).decode()
    assert stdout.strip().endswith(f"workitems/{job_id}/job-1/jobpreparation/wd")
    client.begin_delete_job(job_id, polling_interval=0.1).result()
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_failed_prep_makes_node_ineligible_and_task_goes_back_to_active(client: BatchClient) -> None:
    pool_id, job_id = unique("prepfail-pool"), unique("prepfail-job")
    client.create_pool(pool_options(pool_id, nodes=2))
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(
                command_line="/bin/sh -c 'exit 3'", constraints=m.BatchTaskConstraints(max_task_retry_count=1)
            ),
        )
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))

    def both_failed() -> list[m.BatchJobPreparationAndReleaseTaskStatus] | None:
        statuses = list(client.list_job_preparation_and_release_task_status(job_id))
        done = [s for s in statuses if s.job_preparation_task_execution_info.state == "completed"]
        return statuses if len(done) == 2 else None

    statuses = wait_for(both_failed)
    for status in statuses:
        info = status.job_preparation_task_execution_info
        assert info.exit_code == 3 and info.result == "failure" and info.retry_count == 1
        assert info.failure_info.code == "FailureExitCode"
    # The task is never marked completed because of a prep failure: it is stuck in active.
    task = client.get_task(job_id, "t")
    assert task.state == m.BatchTaskState.ACTIVE
    # Ending the job: release would only run where prep completed; no release task is defined here.
    client.begin_terminate_job(job_id, options=terminate_options(), polling_interval=0.1).result()
    assert client.get_task(job_id, "t").state == m.BatchTaskState.ACTIVE, (
        "active tasks stay active on terminate"
    )
    client.begin_delete_job(job_id, polling_interval=0.1).result()
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_delete_of_active_job_runs_release_and_job_stays_deleting_until_it_ends(
    client: BatchClient, shared_pool: str
) -> None:
    job_id = unique("rel-del")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            job_release_task=m.BatchJobReleaseTask(
                command_line=f"/bin/sh -c 'sleep 0.5; touch $AZ_BATCH_NODE_SHARED_DIR/released-{job_id}'"
            ),
        )
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    task = wait_task(client, job_id, "t")
    poller = client.begin_delete_job(job_id, polling_interval=0.1)
    assert client.get_job(job_id).state == m.BatchJobState.DELETING, "deleting before the 202 returned"
    poller.result()
    names = [f.name for f in client.list_node_files(shared_pool, task.node_info.node_id, recursive=True)]
    assert f"shared/released-{job_id}" in names


def test_terminate_keeps_job_terminating_until_release_finishes(
    client: BatchClient, shared_pool: str
) -> None:
    job_id = unique("rel-slow")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            job_release_task=m.BatchJobReleaseTask(command_line="/bin/sleep 0.8"),
        )
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    wait_task(client, job_id, "t")
    poller = client.begin_terminate_job(job_id, options=terminate_options(), polling_interval=0.1)
    assert client.get_job(job_id).state == m.BatchJobState.TERMINATING
    with pytest.raises(ResourceExistsError) as info:
        client.create_task(job_id, m.BatchTaskCreateOptions(id="late", command_line="/bin/true"))
    assert info.value.error.code == "JobBeingTerminated"
    poller.result()
    assert client.get_job(job_id).state == m.BatchJobState.COMPLETED
    status = list(client.list_job_preparation_and_release_task_status(job_id))[0]
    assert status.job_release_task_execution_info.end_time is not None
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_prep_release_rules(client: BatchClient, shared_pool: str) -> None:
    pool = m.BatchPoolInfo(pool_id=shared_pool)
    # A release task without a preparation task is refused.
    with pytest.raises(HttpResponseError) as info:
        client.create_job(
            m.BatchJobCreateOptions(
                id=unique("j"),
                pool_info=pool,
                job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"),
            )
        )
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"
    # A release task longer than 15 minutes is refused.
    import datetime as dt

    with pytest.raises(HttpResponseError) as info:
        client.create_job(
            m.BatchJobCreateOptions(
                id=unique("j"),
                pool_info=pool,
                job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
                job_release_task=m.BatchJobReleaseTask(
                    command_line="/bin/true", max_wall_clock_time=dt.timedelta(minutes=16)
                ),
            )
        )
    assert info.value.status_code == 400
    assert ("PropertyName", "jobReleaseTask.maxWallClockTime") in [
        (d.code, d.message) for d in info.value.error.details
    ]
    # Defaults of reference §6 as returned on GET.
    job_id = unique("defaults")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=pool,
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"),
        )
    )
    job = client.get_job(job_id)
    prep, release = job.job_preparation_task, job.job_release_task
    assert (prep.id, prep.wait_for_success, prep.rerun_on_node_reboot_after_success) == (
        "jobpreparation",
        True,
        True,
    )
    assert prep.constraints.max_task_retry_count == 0 and prep.constraints.retention_time == dt.timedelta(
        days=7
    )
    assert (
        prep.user_identity.auto_user.scope == "pool"
        and prep.user_identity.auto_user.elevation_level == "nonadmin"
    )
    assert release.id == "jobrelease" and release.max_wall_clock_time == dt.timedelta(minutes=15)
    assert release.retention_time == dt.timedelta(days=7)
    # Task ids clashing with the prep/release ids.
    for task_id, code in (
        ("jobpreparation", "TaskIdSameAsJobPreparationTask"),
        ("JOBRELEASE", "TaskIdSameAsJobReleaseTask"),
    ):
        with pytest.raises(ResourceExistsError) as err:
            client.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true"))
        assert err.value.error.code == code
    # A job without prep/release: 409 on the status list.
    plain = unique("plain")
    client.create_job(m.BatchJobCreateOptions(id=plain, pool_info=pool))
    with pytest.raises(ResourceExistsError) as err:
        list(client.list_job_preparation_and_release_task_status(plain))
    # The code the service answered in azure-sdk-for-js's batch-rest recording
    # (recording_should_fail_to_job_preprelease_status.json).
    assert err.value.error.code == "JobPreparationTaskOrReleaseTaskNotSpecified"
    for j in (job_id, plain):
        client.begin_delete_job(j, polling_interval=0.1).result()


def test_prep_user_identity_and_environment(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("ident")
    admin = m.UserIdentity(auto_user=m.AutoUserSpecification(scope="task", elevation_level="admin"))
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            common_environment_settings=[
                m.EnvironmentSetting(name="COMMON", value="c"),
                m.EnvironmentSetting(name="X", value="job"),
            ],
            job_preparation_task=m.BatchJobPreparationTask(
                command_line="/bin/sh -c 'echo $AZ_BATCH_TASK_USER_IDENTITY $AZ_BATCH_TASK_ID $COMMON $X'",
                user_identity=admin,
                environment_settings=[m.EnvironmentSetting(name="X", value="prep")],
            ),
        )
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    task = wait_task(client, job_id, "t")
    out = b"".join(
        client.download_node_file(
            shared_pool, task.node_info.node_id, f"workitems/{job_id}/job-1/jobpreparation/stdout.txt"
        )
    ).decode()
    assert out.split() == ["TaskAdmin", "jobpreparation", "c", "prep"]
    assert client.get_job(job_id).job_preparation_task.user_identity.auto_user.elevation_level == "admin"
    client.begin_delete_job(job_id, polling_interval=0.1).result()
