"""Tasks: add / add collection, retries, wall clock, terminate, delete, counts, dependencies, files."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import unquote

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from emulator_helpers import task_file_text, unique, wait_for, wait_task


def _stdout_so_far(client: BatchClient, job: str, task_id: str) -> str:
    try:
        return task_file_text(client, job, task_id, "stdout.txt")
    except ResourceNotFoundError:  # not started yet
        return ""


def test_new_task_defaults_and_success(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="hello", command_line="/bin/echo $HOME hi"))
    task = wait_task(client, job, "hello")
    info = task.execution_info
    assert (info.exit_code, info.result, info.retry_count, info.requeue_count) == (0, "success", 0, 0)
    assert info.start_time <= info.end_time and info.failure_info is None
    assert task.required_slots == 1 and task.constraints.retention_time == dt.timedelta(days=7)
    assert task.user_identity.auto_user.scope == "pool"
    assert task.node_info.task_root_directory == f"workitems/{job}/job-1/hello"
    # No shell: `$HOME` is passed through literally.
    assert task_file_text(client, job, "hello", "stdout.txt") == "$HOME hi\n"
    with pytest.raises(ResourceExistsError) as err:
        client.create_task(job, m.BatchTaskCreateOptions(id="HELLO", command_line="/bin/true"))
    assert err.value.error.code == "TaskExists"


def test_add_collection_results_and_limits(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="dup", command_line="/bin/true"))
    result = client.create_task_collection(
        job,
        m.BatchTaskGroup(
            task_values=[
                m.BatchTaskCreateOptions(id="dup", command_line="/bin/true"),
                m.BatchTaskCreateOptions(id="new", command_line="/bin/true"),
                m.BatchTaskCreateOptions(id="bad id", command_line="/bin/true"),
            ]
        ),
    )
    by_id = {r.task_id: r for r in result.result_values}
    assert by_id["new"].status == "success" and by_id["new"].etag
    assert by_id["dup"].status == "clienterror" and by_id["dup"].error.code == "TaskExists"
    assert by_id["bad id"].status == "clienterror" and by_id["bad id"].error.code == "InvalidPropertyValue"
    too_many = [m.BatchTaskCreateOptions(id=f"x{i}", command_line="/bin/true") for i in range(101)]
    with pytest.raises(HttpResponseError) as err:
        client.create_task_collection(job, m.BatchTaskGroup(task_values=too_many))
    assert err.value.status_code == 413 and err.value.error.code == "RequestBodyTooLarge"
    huge = [m.BatchTaskCreateOptions(id=f"h{i}", command_line="/bin/echo " + "x" * 12000) for i in range(90)]
    with pytest.raises(HttpResponseError) as err:
        client.create_task_collection(job, m.BatchTaskGroup(task_values=huge))
    assert err.value.error.code == "RequestBodyTooLarge"
    # The SDK's create_tasks helper halves chunks on RequestBodyTooLarge and gets everything in.
    client.create_tasks(
        job, huge + [m.BatchTaskCreateOptions(id=f"y{i}", command_line="/bin/true") for i in range(150)]
    )
    assert len(list(client.list_tasks(job))) == 2 + 90 + 150


def test_retries_then_failure_exit_code(client: BatchClient, job: str) -> None:
    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="flaky",
            command_line="/bin/sh -c 'echo try >> ../../attempts; exit 5'",
            constraints=m.BatchTaskConstraints(max_task_retry_count=2),
        ),
    )
    task = wait_task(client, job, "flaky")
    info = task.execution_info
    assert (info.exit_code, info.retry_count, info.result) == (5, 2, "failure")
    assert info.failure_info.code == "FailureExitCode" and info.failure_info.category == "usererror"
    assert info.last_retry_time is not None
    counts = client.get_job_task_counts(job).task_counts
    assert (counts.completed, counts.failed, counts.succeeded) == (1, 1, 0)


def test_task_max_wall_clock_time(client: BatchClient, job: str) -> None:
    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="slow",
            command_line="/bin/sleep 30",
            constraints=m.BatchTaskConstraints(max_wall_clock_time=dt.timedelta(seconds=0.5)),
        ),
    )
    task = wait_task(client, job, "slow", timeout=10)
    assert task.execution_info.failure_info.code == "TaskEnded" and task.execution_info.result == "failure"


def test_terminate_and_delete_task(client: BatchClient, job: str) -> None:
    client.create_task(job, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 30"))
    wait_task(client, job, "long", state="running")
    client.terminate_task(job, "long")
    task = client.get_task(job, "long")
    assert task.state == m.BatchTaskState.COMPLETED, "terminate returns once the task is completed"
    assert task.execution_info.failure_info.code == "TaskEnded"
    with pytest.raises(ResourceExistsError) as err:
        client.terminate_task(job, "long")
    assert err.value.error.code == "TaskCompleted"
    client.delete_task(job, "long")
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_task(job, "long")
    assert missing.value.error.code == "TaskNotFound"


@pytest.mark.parametrize("running", [True, False], ids=["deleted-while-running", "deleted-when-completed"])
def test_a_task_added_again_under_a_deleted_ones_id_keeps_its_files(
    client: BatchClient, job: str, running: bool
) -> None:
    # Same id, same directory (workitems/<job>/job-1/<id>): removing the deleted task's files must not
    # take the new task's. The first task leaves 3,000 files, so removing them takes a while.
    fill = "mkdir many; i=0; while [ $i -lt 3000 ]; do : > many/f$i; i=$((i+1)); done"
    first = f"/bin/sh -c '{fill}; echo filled; sleep 30'" if running else f"/bin/sh -c '{fill}'"
    for round_no in range(5):
        client.create_task(job, m.BatchTaskCreateOptions(id="again", command_line=first))
        if running:
            wait_for(lambda: "filled" in _stdout_so_far(client, job, "again"), timeout=30)
        else:
            wait_task(client, job, "again")
        client.delete_task(job, "again")
        client.create_task(
            job,
            m.BatchTaskCreateOptions(id="again", command_line="/bin/sh -c 'echo second > mark.txt; echo ok'"),
        )
        task = wait_task(client, job, "again", timeout=30)
        assert task.execution_info.exit_code == 0, round_no
        assert task_file_text(client, job, "again", "stdout.txt") == "ok\n"
        assert task_file_text(client, job, "again", "wd/mark.txt") == "second\n"
        client.delete_task(job, "again")


def test_task_counts_match_the_tasks_through_every_change(client: BatchClient, job: str) -> None:
    # The counts are kept up to date as tasks change, not counted on request: compare them with the
    # tasks themselves after successes, retries, failures, terminate, delete and a slot-hungry task.
    client.create_tasks(
        job,
        [
            *(m.BatchTaskCreateOptions(id=f"ok{i}", command_line="/bin/true") for i in range(5)),
            m.BatchTaskCreateOptions(
                id="flaky",
                command_line="/bin/sh -c 'exit 3'",
                constraints=m.BatchTaskConstraints(max_task_retry_count=1),
            ),
        ],
    )
    for task_id in ("ok0", "ok1", "ok2", "ok3", "ok4", "flaky"):
        wait_task(client, job, task_id)
    # Then fill the pool's 4 slots (2 nodes x 2) with long tasks.
    client.create_tasks(
        job,
        [
            m.BatchTaskCreateOptions(id="stop", command_line="/bin/sleep 60"),
            m.BatchTaskCreateOptions(id="drop", command_line="/bin/sleep 60"),
            m.BatchTaskCreateOptions(id="wide", command_line="/bin/sleep 60", required_slots=2),
        ],
    )
    wait_task(client, job, "stop", state="running")
    client.terminate_task(job, "stop")
    client.delete_task(job, "drop")

    def expected() -> tuple[dict[str, int], dict[str, int]]:
        counts = dict.fromkeys(("active", "running", "completed", "succeeded", "failed"), 0)
        slots = dict(counts)
        for task in client.list_tasks(job):
            buckets = ["running" if task.state in ("running", "preparing") else task.state.lower()]
            if task.state == "completed":
                buckets.append("succeeded" if task.execution_info.result == "success" else "failed")
            for bucket in buckets:
                counts[bucket] += 1
                slots[bucket] += task.required_slots
        return counts, slots

    def reported() -> tuple[dict[str, int], dict[str, int]]:
        result = client.get_job_task_counts(job)
        names = ("active", "running", "completed", "succeeded", "failed")
        return (
            {n: getattr(result.task_counts, n) for n in names},
            {n: getattr(result.task_slot_counts, n) for n in names},
        )

    wait_for(lambda: expected() == reported())
    counts, slots = reported()
    assert (counts["succeeded"], counts["failed"], counts["completed"]) == (5, 2, 7)  # flaky and stop failed
    assert counts["active"] + counts["running"] == 1 and slots["active"] + slots["running"] == 2  # wide
    client.terminate_task(job, "wide")
    wait_for(lambda: reported()[0]["completed"] == 8)
    assert reported() == expected()


def test_dependencies(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("deps")
    with pytest.raises(HttpResponseError) as err:
        plain = unique("nodeps")
        client.create_job(m.BatchJobCreateOptions(id=plain, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
        client.create_task(
            plain,
            m.BatchTaskCreateOptions(
                id="b", command_line="/bin/true", depends_on=m.BatchTaskDependencies(task_ids=["a"])
            ),
        )
    assert err.value.error.code == "TaskDependenciesNotSpecifiedOnJob"
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool), uses_task_dependencies=True
        )
    )
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(
            id="second", command_line="/bin/true", depends_on=m.BatchTaskDependencies(task_ids=["first"])
        ),
    )
    client.create_task(job_id, m.BatchTaskCreateOptions(id="first", command_line="/bin/sleep 0.3"))
    second = wait_task(client, job_id, "second")
    first = client.get_task(job_id, "first")
    assert second.execution_info.start_time >= first.execution_info.end_time
    for j in (job_id, plain):
        client.begin_delete_job(j, polling_interval=0.1).result()


def test_environment_variables(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("env")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            common_environment_settings=[
                m.EnvironmentSetting(name="A", value="job"),
                m.EnvironmentSetting(name="B", value="job"),
            ],
        )
    )
    script = "import json, os; print(json.dumps({k: v for k, v in os.environ.items()}))"
    import sys

    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(
            id="env",
            command_line=f"{sys.executable} -c '{script}'",
            environment_settings=[m.EnvironmentSetting(name="B", value="task")],
        ),
    )
    task = wait_task(client, job_id, "env")
    env = json.loads(task_file_text(client, job_id, "env", "stdout.txt"))
    assert env["AZ_BATCH_JOB_ID"] == job_id and env["AZ_BATCH_TASK_ID"] == "env"
    assert env["AZ_BATCH_POOL_ID"] == shared_pool and env["AZ_BATCH_NODE_ID"] == task.node_info.node_id
    assert env["AZ_BATCH_TASK_WORKING_DIR"].endswith(f"workitems/{job_id}/job-1/env/wd")
    assert (
        env["AZ_BATCH_TASK_USER_IDENTITY"] == "PoolNonAdmin"
        and env["AZ_BATCH_ACCOUNT_NAME"] == "devbatchaccount1"
    )
    assert (env["A"], env["B"]) == ("job", "task")
    assert "AZ_BATCH_JOB_PREP_DIR" not in env
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_task_and_node_files(client: BatchClient, job: str) -> None:
    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="files",
            command_line="/bin/sh -c 'mkdir -p sub && printf 0123456789 > sub/data.bin && echo out'",
        ),
    )
    task = wait_task(client, job, "files")
    names = {f.name: f for f in client.list_task_files(job, "files", recursive=True)}
    assert {"stdout.txt", "stderr.txt", "wd", "wd/sub", "wd/sub/data.bin"} <= set(names)
    assert names["wd"].is_directory and names["wd/sub/data.bin"].properties.content_length == 10
    top = [f.name for f in client.list_task_files(job, "files")]
    assert "wd/sub" not in top and "wd" in top
    assert task_file_text(client, job, "files", "wd/sub/data.bin", ocp_range="bytes=2-5") == "2345"
    props = client.get_task_file_properties(job, "files", "stdout.txt")
    assert props.content_length == 4 and props.is_directory is False
    node_path = f"workitems/{job}/job-1/files/wd/sub/data.bin"
    pool_id, node_id = task.node_info.pool_id, task.node_info.node_id
    node_props = client.get_node_file_properties(pool_id, node_id, node_path)
    # Batch sends ocp-batch-file-url percent-encoded as a whole (reference note 2).
    assert node_props.content_length == 10 and unquote(node_props.url).endswith(f"/files/{node_path}")
    for bad in ("../../../../etc/passwd", "shared/../../x"):
        with pytest.raises(HttpResponseError) as err:
            b"".join(client.download_node_file(pool_id, node_id, bad))
        assert err.value.status_code == 400
    with pytest.raises(HttpResponseError) as err:
        b"".join(client.download_task_file(job, "files", "stdout.txt", ocp_range="bytes=100-200"))
    # Streamed downloads: the SDK does not read the error body, so only the status is visible.
    assert err.value.status_code == 416
    client.delete_node_file(pool_id, node_id, node_path)
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_node_file_properties(pool_id, node_id, node_path)
    assert missing.value.status_code == 404  # HEAD: no body, so no error code
    filtered = [
        f.name
        for f in client.list_node_files(pool_id, node_id, recursive=True, filter="startswith(name,'shared')")
    ]
    assert filtered == ["shared"] or all(n.startswith("shared") for n in filtered)


def test_output_files_upload_before_completed(
    client: BatchClient, job: str, blob_service: Any, endpoints: Any
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container = unique("out")
    blob_service.create_container(container)

    def write_url(name: str) -> str:
        sas = generate_container_sas(
            endpoints.storage_account_name,
            name,
            account_key=endpoints.storage_account_key,
            permission=ContainerSasPermissions(write=True, create=True),
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
        return f"{endpoints.blob_url}/{name}?{sas}"

    url = write_url(container)

    def outputs(container_url: str, path: str) -> list[m.OutputFile]:
        return [
            m.OutputFile(
                file_pattern="../std*.txt",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(container_url=container_url, path=path)
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="taskcompletion"),
            ),
            m.OutputFile(
                file_pattern="output.txt",
                destination=m.OutputFileDestination(
                    container=m.OutputFileBlobContainerDestination(
                        container_url=container_url, path=f"{path}/output.txt"
                    )
                ),
                upload_options=m.OutputFileUploadConfiguration(upload_condition="tasksuccess"),
            ),
        ]

    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="persist",
            command_line="/bin/sh -c 'echo result > output.txt; echo log'",
            output_files=outputs(url, "persist"),
        ),
    )
    task = wait_task(client, job, "persist")
    assert task.execution_info.result == "success"
    # Uploaded before the task was reported completed, so the blobs are there as soon as we look.
    names = sorted(b.name for b in blob_service.get_container_client(container).list_blobs())
    assert names == ["persist/output.txt", "persist/stderr.txt", "persist/stdout.txt"]
    missing = write_url(f"{container}-missing")
    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="nocontainer", command_line="/bin/true", output_files=outputs(missing, "x")
        ),
    )
    failed = wait_task(client, job, "nocontainer")
    info = failed.execution_info
    assert (info.result, info.exit_code) == ("failure", 0)
    assert (
        info.failure_info.code == "FileUploadContainerNotFound" and info.failure_info.category == "usererror"
    )
