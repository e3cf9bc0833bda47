"""Node and pool lifecycle through the real SDK: reboot and reimage (with the seed's rule that the job
preparation task runs again on a rebooted node), pool resize and node removal, task retention, and
task reactivation."""

from __future__ import annotations

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from emulator_helpers import pool_options, unique, wait_for, wait_task

# The prep task counts its runs in a file in the shared directory (which survives a reboot).
PREP_COUNT = "/bin/sh -c 'echo run >> $AZ_BATCH_NODE_SHARED_DIR/prep-runs-$AZ_BATCH_JOB_ID.txt'"
# azure-batch 15.1.0 fails client-side (ValueError from the content-type serializer) when
# begin_reboot_node / begin_reimage_node get no options, so always send the default explicitly.
REBOOT = m._models.BatchNodeRebootOptions(node_reboot_kind="requeue")


def _read(client: BatchClient, pool_id: str, node_id: str, path: str) -> str:
    return b"".join(client.download_node_file(pool_id, node_id, path)).decode()


def _read_or_empty(client: BatchClient, pool_id: str, node_id: str, path: str) -> str:
    try:
        return _read(client, pool_id, node_id, path)
    except ResourceNotFoundError:
        return ""


def _one_node_pool(client: BatchClient, **kwargs: object) -> tuple[str, str]:
    pool_id = unique("lifecycle")
    client.create_pool(pool_options(pool_id, nodes=1, **kwargs))
    node = wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"] or None)[0]
    return pool_id, node.id


def _run_task(client: BatchClient, job_id: str, task_id: str, command: str = "/bin/true") -> m.BatchTask:
    client.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line=command))
    return wait_task(client, job_id, task_id)


def _prep_job(client: BatchClient, pool_id: str, rerun: bool | None = None) -> str:
    job_id = unique("prepjob")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(
                command_line=PREP_COUNT, rerun_on_node_reboot_after_success=rerun
            ),
        )
    )
    return job_id


def _idle_again(client: BatchClient, pool_id: str, node_id: str) -> m.BatchNode:
    return wait_for(lambda: (n := client.get_node(pool_id, node_id)).state == "idle" and n)


# ---- reboot ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rerun", [None, False])
def test_reboot_reruns_prep_unless_disabled_after_success(client: BatchClient, rerun: bool | None) -> None:
    pool_id, node_id = _one_node_pool(
        client,
        start_task=m.BatchStartTask(
            command_line="/bin/sh -c 'echo boot >> $AZ_BATCH_NODE_ROOT_DIR/boots.txt'"
        ),
    )
    try:
        job_id = _prep_job(client, pool_id, rerun)
        assert _run_task(client, job_id, "before").execution_info.exit_code == 0
        runs = f"shared/prep-runs-{job_id}.txt"
        assert _read(client, pool_id, node_id, runs).split() == ["run"]
        boot_before = client.get_node(pool_id, node_id).last_boot_time

        poller = client.begin_reboot_node(pool_id, node_id, REBOOT, polling_interval=0.1)
        # The node is rebooting by the time the 202 came back (so the poller has something to wait for).
        assert client.get_node(pool_id, node_id).state in ("rebooting", "waitingforstarttask", "idle")
        poller.result(timeout=20)
        node = _idle_again(client, pool_id, node_id)
        assert node.last_boot_time > boot_before
        assert _read(client, pool_id, node_id, "boots.txt").split() == ["boot", "boot"], (
            "the start task reran"
        )

        # Prep does not run at reboot time, only before the next task of the job on that node.
        assert _read(client, pool_id, node_id, runs).split() == ["run"]
        assert _run_task(client, job_id, "after").execution_info.exit_code == 0
        expected = ["run"] if rerun is False else ["run", "run"]
        assert _read(client, pool_id, node_id, runs).split() == expected
        client.begin_delete_job(job_id, polling_interval=0.1).result()
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_reboot_requeues_the_running_task_and_reruns_unfinished_prep(client: BatchClient) -> None:
    pool_id, node_id = _one_node_pool(client)
    try:
        job_id = _prep_job(client, pool_id, rerun=False)
        client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sh -c 'sleep 1.5'"))
        wait_task(client, job_id, "long", "running")
        client.begin_reboot_node(
            pool_id,
            node_id,
            m._models.BatchNodeRebootOptions(node_reboot_kind="requeue"),
            polling_interval=0.1,
        ).result(timeout=20)
        task = wait_task(client, job_id, "long")
        assert task.execution_info.exit_code == 0 and task.execution_info.requeue_count == 1
        # rerunOnNodeRebootAfterSuccess=false: prep had succeeded, so it did not run again.
        assert _read(client, pool_id, node_id, f"shared/prep-runs-{job_id}.txt").split() == ["run"]

        # A prep still running when the node reboots has not completed: it runs again regardless.
        slow = unique("slowprep")
        client.create_job(
            m.BatchJobCreateOptions(
                id=slow,
                pool_info=m.BatchPoolInfo(pool_id=pool_id),
                job_preparation_task=m.BatchJobPreparationTask(
                    command_line=f"/bin/sh -c 'echo start >> $AZ_BATCH_NODE_SHARED_DIR/{slow}.txt; sleep 3'",
                    rerun_on_node_reboot_after_success=False,
                ),
            )
        )
        client.create_task(slow, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
        wait_task(client, slow, "t", "preparing")
        # Reboot only once the preparation task has really started (written its line), not merely been
        # scheduled: a reboot before its first line would leave one line for one honest run.
        wait_for(lambda: _read_or_empty(client, pool_id, node_id, f"shared/{slow}.txt").split() == ["start"])
        client.begin_reboot_node(pool_id, node_id, REBOOT, polling_interval=0.1).result(timeout=20)
        task = wait_task(client, slow, "t")
        assert task.execution_info.result == "success"
        assert _read(client, pool_id, node_id, f"shared/{slow}.txt").split() == ["start", "start"]
        [status] = list(client.list_job_preparation_and_release_task_status(slow))
        assert status.job_preparation_task_execution_info.state == "completed"
        assert status.job_preparation_task_execution_info.exit_code == 0
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_reboot_terminate_completes_the_running_task(client: BatchClient) -> None:
    pool_id, node_id = _one_node_pool(client)
    try:
        job_id = unique("termjob")
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 30"))
        wait_task(client, job_id, "long", "running")
        client.begin_reboot_node(
            pool_id,
            node_id,
            m._models.BatchNodeRebootOptions(node_reboot_kind="terminate"),
            polling_interval=0.1,
        ).result(timeout=20)
        task = wait_task(client, job_id, "long")
        assert task.execution_info.result == "failure"
        assert task.execution_info.failure_info.code == "TaskEnded"
        assert task.execution_info.requeue_count == 0
        client.begin_reboot_node(pool_id, node_id, REBOOT, polling_interval=0.1)
        with pytest.raises(ResourceExistsError) as err:  # a second reboot while rebooting
            client.begin_reboot_node(pool_id, node_id, REBOOT, polling_interval=0.1)
        assert err.value.error.code == "NodeBeingRebooted"
        _idle_again(client, pool_id, node_id)
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- reimage ---------------------------------------------------------------------------------------


def test_reimage_always_reruns_prep_and_wipes_the_disk(client: BatchClient) -> None:
    pool_id, node_id = _one_node_pool(client)
    try:
        job_id = _prep_job(client, pool_id, rerun=False)
        _run_task(client, job_id, "before", "/bin/sh -c 'echo keep > $AZ_BATCH_NODE_SHARED_DIR/mine.txt'")
        names = {f.name for f in client.list_node_files(pool_id, node_id, recursive=True)}
        assert {"shared/mine.txt", f"workitems/{job_id}/job-1/before/stdout.txt"} <= names

        client.begin_reimage_node(
            pool_id,
            node_id,
            m._models.BatchNodeReimageOptions(node_reimage_option="requeue"),
            polling_interval=0.1,
        ).result(timeout=20)
        _idle_again(client, pool_id, node_id)
        names = {f.name for f in client.list_node_files(pool_id, node_id, recursive=True)}
        assert not any(n.startswith(("shared/", "workitems/")) for n in names), names
        assert {"shared", "workitems", "startup"} <= names

        # Even with rerunOnNodeRebootAfterSuccess=false, prep runs again after a reimage.
        _run_task(client, job_id, "after")
        assert _read(client, pool_id, node_id, f"shared/prep-runs-{job_id}.txt").split() == ["run"]
        [status] = list(client.list_job_preparation_and_release_task_status(job_id))
        assert status.job_preparation_task_execution_info.state == "completed"
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- resize and remove nodes -----------------------------------------------------------------------


def test_resize_up_and_down(client: BatchClient) -> None:
    pool_id, first = _one_node_pool(
        client, start_task=m.BatchStartTask(command_line="/bin/sh -c 'sleep 0.2'")
    )
    try:
        client.begin_resize_pool(
            pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=3), polling_interval=0.1
        ).result(timeout=20)
        pool = client.get_pool(pool_id)
        assert pool.allocation_state == "steady"
        assert (pool.target_dedicated_nodes, pool.current_dedicated_nodes) == (3, 3)
        nodes = wait_for(
            lambda: (ns := list(client.list_nodes(pool_id))) and all(n.state == "idle" for n in ns) and ns
        )
        assert len(nodes) == 3 and first in {n.id for n in nodes}, "the existing node stays"
        assert all(n.start_task_info.exit_code == 0 for n in nodes), "new nodes ran the start task"

        # Shrink while a task runs, waiting for it (taskcompletion): the busy node leaves last.
        job_id = unique("resizejob")
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        client.create_task(job_id, m.BatchTaskCreateOptions(id="busy", command_line="/bin/sleep 4"))
        busy_node = wait_task(client, job_id, "busy", "running").node_info.node_id
        client.begin_resize_pool(
            pool_id,
            m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="taskcompletion"),
            polling_interval=0.1,
        )
        assert client.get_pool(pool_id).allocation_state == "resizing"
        # The node leaves on the service's next pass over the pool, not inside the resize call.
        wait_for(lambda: client.get_node(pool_id, busy_node).state == "leavingpool", timeout=3)
        with pytest.raises(ResourceExistsError) as err:
            client.begin_resize_pool(
                pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=0.1
            )
        assert err.value.error.code == "PoolBeingResized"
        assert wait_task(client, job_id, "busy").execution_info.exit_code == 0, "the task ran to completion"
        wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady")
        assert list(client.list_nodes(pool_id)) == []
        assert client.get_pool(pool_id).current_dedicated_nodes == 0
        client.begin_delete_job(job_id, polling_interval=0.1).result()
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_resize_down_requeues_running_tasks_and_remove_nodes(client: BatchClient) -> None:
    pool_id = unique("shrink")
    client.create_pool(pool_options(pool_id, nodes=2))
    try:
        nodes = wait_for(
            lambda: (ns := list(client.list_nodes(pool_id))) and all(n.state == "idle" for n in ns) and ns
        )
        job_id = unique("shrinkjob")
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sleep 1"))
        ran_on = wait_task(client, job_id, "t", "running").node_info.node_id
        # Remove exactly the node running the task (default option requeue): the task moves over.
        client.begin_remove_nodes(
            pool_id, m.BatchNodeRemoveOptions(node_ids=[ran_on]), polling_interval=0.1
        ).result(timeout=20)
        wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady")
        remaining = [n.id for n in client.list_nodes(pool_id)]
        assert remaining == [n.id for n in nodes if n.id != ran_on]
        pool = client.get_pool(pool_id)
        assert (pool.target_dedicated_nodes, pool.current_dedicated_nodes) == (1, 1)
        task = wait_task(client, job_id, "t")
        assert task.execution_info.requeue_count == 1 and task.execution_info.exit_code == 0
        assert task.node_info.node_id == remaining[0]
        client.begin_delete_job(job_id, polling_interval=0.1).result()
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- retention -------------------------------------------------------------------------------------


def test_retention_time_deletes_task_and_prep_directories(client: BatchClient) -> None:
    pool_id, node_id = _one_node_pool(client)
    try:
        job_id = unique("retain")
        client.create_job(
            m.BatchJobCreateOptions(
                id=job_id,
                pool_info=m.BatchPoolInfo(pool_id=pool_id),
                job_preparation_task=m.BatchJobPreparationTask(
                    command_line="/bin/true", constraints=m.BatchTaskConstraints(retention_time="PT2S")
                ),
            )
        )
        for task_id, retention in (("short", "PT2S"), ("long", None)):
            client.create_task(
                job_id,
                m.BatchTaskCreateOptions(
                    id=task_id,
                    command_line="/bin/sh -c 'echo hello'",
                    constraints=m.BatchTaskConstraints(retention_time=retention) if retention else None,
                ),
            )
        wait_task(client, job_id, "short")
        wait_task(client, job_id, "long")
        assert b"".join(client.download_task_file(job_id, "short", "stdout.txt")) == b"hello\n"
        prep_dir = f"workitems/{job_id}/job-1/jobpreparation/stdout.txt"
        assert prep_dir in {f.name for f in client.list_node_files(pool_id, node_id, recursive=True)}

        def cleaned() -> bool:
            try:
                list(client.list_task_files(job_id, "short"))
            except ResourceExistsError as exc:
                return exc.error.code == "TaskFilesCleanedup"
            return False

        wait_for(cleaned, timeout=10)
        # Downloads (streamed, so the SDK leaves the error body unread) and HEAD get the same 409.
        with pytest.raises(ResourceExistsError):
            b"".join(client.download_task_file(job_id, "short", "stdout.txt"))
        with pytest.raises(ResourceExistsError):
            client.get_task_file_properties(job_id, "short", "stdout.txt")
        names = wait_for(
            lambda: (
                (ns := {f.name for f in client.list_node_files(pool_id, node_id, recursive=True)})
                and f"workitems/{job_id}/job-1/short" not in ns
                and prep_dir not in ns
                and ns
            )
        )
        # The task with the default P7D keeps its files.
        assert f"workitems/{job_id}/job-1/long/stdout.txt" in names
        assert b"".join(client.download_task_file(job_id, "long", "stdout.txt")) == b"hello\n"
        assert client.get_task(job_id, "short").state == "completed", "the task itself stays"
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- reactivate ------------------------------------------------------------------------------------


def test_reactivate_runs_a_failed_task_again(client: BatchClient, job: str) -> None:
    marker = f"/tmp/localbatch-reactivate-{unique('m')}"
    # Fails the first time (no marker yet), succeeds once the marker exists.
    command = f"/bin/sh -c 'test -e {marker} && exit 0; touch {marker}; exit 3'"
    client.create_task(job, m.BatchTaskCreateOptions(id="flaky", command_line=command))
    first = wait_task(client, job, "flaky")
    assert (first.execution_info.result, first.execution_info.exit_code) == ("failure", 3)

    client.reactivate_task(job, "flaky")
    again = client.get_task(job, "flaky")
    assert again.state in ("active", "running", "completed")
    assert again.execution_info.retry_count == 0
    done = wait_task(client, job, "flaky")
    assert (done.execution_info.result, done.execution_info.exit_code) == ("success", 0)
    assert done.execution_info.failure_info is None

    with pytest.raises(ResourceExistsError) as err:
        client.reactivate_task(job, "flaky")
    assert err.value.error.code == "TaskSucceeded"
    client.create_task(job, m.BatchTaskCreateOptions(id="slow", command_line="/bin/sleep 5"))
    with pytest.raises(ResourceExistsError) as err:
        client.reactivate_task(job, "slow")
    assert err.value.error.code == "TaskNotCompleted"
    client.terminate_task(job, "slow")


def test_reactivate_refused_once_the_job_completed(client: BatchClient, shared_pool: str) -> None:
    from emulator_helpers import terminate_options

    job_id = unique("reactjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    _run_task(client, job_id, "bad", "/bin/false")
    client.begin_terminate_job(job_id, options=terminate_options(), polling_interval=0.1).result()
    with pytest.raises(ResourceExistsError) as err:
        client.reactivate_task(job_id, "bad")
    assert err.value.error.code == "JobCompleted"
    client.begin_delete_job(job_id, polling_interval=0.1).result()
