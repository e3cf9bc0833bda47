"""The Job provider's methods against the running Batch emulator and Azurite (no fakes)."""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from provider_helpers import container_sas_url, unique, wait_for
from pulumi_azbatch.dynamic_providers.base import UNKNOWN
from pulumi_azbatch.dynamic_providers.job import JobProvider
from pulumi_azbatch.dynamic_providers.submission import submit_tasks

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.localdev import Endpoints

SHARED = "job_prep_and_release.txt"
PREP = f"/bin/sh -c 'echo $AZ_BATCH_NODE_ID > $AZ_BATCH_NODE_SHARED_DIR/{SHARED}; echo prep-out; echo prep-err >&2'"
RELEASE = (
    f"/bin/sh -c 'rm -f $AZ_BATCH_NODE_SHARED_DIR/{SHARED}; echo release-out; "
    "echo $AZ_BATCH_JOB_ID >> $AZ_BATCH_NODE_SHARED_DIR/release-runs.txt'"
)


def task(i: int, command: str | None = None) -> dict[str, Any]:
    return {
        "id": f"task{i}",
        "command_line": command
        or f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/{SHARED}; echo hi'",
        "output_files": [{"file_pattern": "../stdout.txt", "kind": "TaskLog"}],
    }


def plain(i: int, command: str = "/bin/true") -> dict[str, Any]:
    return {"id": f"task{i}", "command_line": command}


def checked(
    provider: JobProvider, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = provider.check(olds or {}, news)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return result.inputs


@pytest.fixture
def job_inputs(
    account: dict[str, str], pool_id: str, endpoints: Endpoints, blob_service: Any
) -> Callable[..., dict]:
    def make(job_id: str, tasks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        url = container_sas_url(endpoints, blob_service, job_output_container_name(job_id))
        return {
            **account,
            "job_id": job_id,
            "pool_id": pool_id,
            "name_prefix": "prep-release",
            "job_preparation_task": {"command_line": PREP},
            "job_release_task": {"command_line": RELEASE},
            "tasks": tasks,
            "output_container_url": url,
            "wait_for": "tasks",
            "wait_timeout": 60,
            **extra,
        }

    return make


def test_check_names_properties_and_tolerates_unknowns(account: dict[str, str]) -> None:
    provider = JobProvider()
    bad = provider.check(
        {},
        {
            **account,
            "job_id": "bad id!",
            "pool_id": "p",
            "job_release_task": {"command_line": "/bin/true"},
            "tasks": [{"id": "a", "command_line": "x"}, {"id": "A", "command_line": "y"}],
        },
    )
    failures = {f.property: f.reason for f in bad.failures}
    assert "job_id" in failures
    assert "job_release_task" in failures
    assert "tasks[1].id" in failures  # duplicate, case-insensitively
    typo = provider.check(
        {},
        {
            **account,
            "job_id": "j",
            "pool_id": "p",
            "tasks": [
                {
                    "id": "a",
                    "command_line": "x",
                    "output_files": [
                        {
                            "file_pattern": "*.txt",
                            "container_url": "http://h/c?sig=x&sp=w",
                            "upload_condition": "TaskComplete",
                        }
                    ],
                }
            ],
        },
    )
    failures = {f.property: f.reason for f in typo.failures}
    assert "did you mean 'taskcompletion'" in failures["tasks[0].output_files[0].upload_condition"]

    preview = provider.check(
        {},
        {
            **account,
            "pool_id": UNKNOWN,
            "tasks": [{"id": UNKNOWN, "command_line": "x"}],
            "name_prefix": "my job",
        },
    )
    assert preview.failures == []
    assert preview.inputs["job_id"].startswith("my-job-")
    # The autonamed id is kept by later checks.
    again = provider.check(preview.inputs, {**account, "pool_id": "p", "name_prefix": "my job"})
    assert again.inputs["job_id"] == preview.inputs["job_id"]


def test_diff_classifies_update_and_replace(account: dict[str, str]) -> None:
    provider = JobProvider()
    base = checked(
        provider,
        {
            **account,
            "job_id": "j1",
            "pool_id": "p",
            "job_preparation_task": {"command_line": "/bin/true"},
            "tasks": [plain(1), plain(2)],
        },
    )
    olds = {**base, "state": "active", "__provider": "x"}

    def diff(**changes: Any) -> Any:
        return provider.diff("j1", olds, checked(provider, {**base, **changes}, base))

    assert diff().changes is False
    for update in (
        {"priority": 5},
        {"max_parallel_tasks": 2},
        {"metadata": {"a": "b"}},
        {"constraints": {"max_task_retry_count": 2}},
        {"on_all_tasks_complete": "terminatejob"},
        {"tasks": [plain(1), plain(2), plain(3)]},
        {"on_destroy": "terminate"},
    ):
        result = diff(**update)
        assert result.changes and result.replaces == [], update
    assert diff(job_preparation_task={"command_line": "/bin/false"}).replaces == ["job_preparation_task"]
    assert diff(common_environment_settings={"A": "1"}).replaces == ["common_environment_settings"]
    # Task-level changes: removed and changed tasks update the job in place, task by task.
    assert diff(tasks=[plain(1)]).replaces == []  # removed
    assert diff(tasks=[plain(1), plain(2, "/bin/false")]).replaces == []  # changed
    # ... unless tasks depend on each other, or the job ends itself when its tasks are done.
    dependent = checked(provider, {**base, "uses_task_dependencies": True}, base)
    changed = checked(provider, {**dependent, "tasks": [plain(1), plain(2, "/bin/false")]}, dependent)
    assert provider.diff("j1", {**dependent, "state": "active"}, changed).replaces == ["tasks"]
    ending = checked(provider, {**base, "on_all_tasks_complete": "terminatejob"}, base)
    grown = checked(provider, {**ending, "tasks": [plain(1), plain(2), plain(3)]}, ending)
    assert provider.diff("j1", {**ending, "state": "active"}, grown).replaces == ["tasks"]
    assert diff(pool_id="other").replaces == ["pool_id"]
    disabled = provider.diff(
        "j1", {**olds, "state": "disabled"}, checked(provider, {**base, "pool_id": "other"}, base)
    )
    assert disabled.changes and disabled.replaces == []
    terminating = checked(provider, {**base, "on_all_tasks_complete": "terminatejob"}, base)
    back = provider.diff("j1", {**terminating, "state": "active"}, checked(provider, base, base))
    assert back.replaces == ["on_all_tasks_complete"]
    assert provider.diff(
        "j1",
        {**olds, "state": "completed"},
        checked(provider, {**base, "tasks": [plain(1), plain(2), plain(3)]}, base),
    ).replaces == ["tasks"]
    # A rotated SAS in a task's output URL is not a changed task.
    sas1 = {**plain(1), "output_files": [{"file_pattern": "a", "container_url": "http://h/a/c?sp=w&sig=1"}]}
    sas2 = {**plain(1), "output_files": [{"file_pattern": "a", "container_url": "http://h/a/c?sp=w&sig=2"}]}
    o = checked(provider, {**base, "tasks": [sas1]})
    assert provider.diff("j1", o, checked(provider, {**base, "tasks": [sas2]})).replaces == []


def test_full_lifecycle_create_read_update_delete(
    batch_client: Any,
    blob_service: Any,
    pool_id: str,
    job_inputs: Callable[..., dict],
    capfd: pytest.CaptureFixture[str],
) -> None:
    provider = JobProvider()
    job_id = unique("JobPrepReleaseSampleJob")
    inputs = checked(provider, job_inputs(job_id, [task(i) for i in range(4)]))
    created = provider.create(inputs)
    outs = created.outs
    assert created.id == job_id and outs["job_id"] == job_id
    assert outs["state"] == "active"
    assert outs["task_counts"]["succeeded"] == 4 and outs["task_counts"]["failed"] == 0
    assert outs["url"].endswith(f"/jobs/{job_id}")
    container = job_output_container_name(job_id)
    assert outs["output_container"].endswith(f"/{container}") and "sig=" not in outs["output_container"]
    assert outs["task_output_prefixes"]["task0"] == ["task0/$TaskLog"]
    prep_nodes = sorted(n["node_id"] for n in outs["nodes"])
    assert len(prep_nodes) == 2 and all(n["preparation"]["exit_code"] == 0 for n in outs["nodes"])
    # File Conventions output resolved by the provider and uploaded by the emulator.
    assert (
        blob_service.get_container_client(container).download_blob("task0/$TaskLog/stdout.txt").readall()
        == b"hi\n"
    )
    assert "tasks completed" in capfd.readouterr().err

    # refresh: no drift.
    read = provider.read(job_id, {**outs, "__provider": "x"})
    assert read.id == job_id
    assert provider.diff(job_id, read.outs, inputs).changes is False
    # Drift made outside Pulumi shows up.
    batch_client.update_job(job_id, m.BatchJobUpdateOptions(priority=7))
    drifted = provider.read(job_id, outs).outs
    assert drifted["priority"] == 7 and drifted["drift"] == ["priority"]
    capfd.readouterr()
    assert provider.diff(job_id, drifted, inputs).replaces == []
    said = capfd.readouterr().err
    assert f"job {job_id}: update in place: priority: 7 → (default) (reverts drift" in said

    # update: PATCH only what changed, add the new tasks.
    news = checked(provider, {**inputs, "priority": 3, "tasks": [task(i) for i in range(6)]}, inputs)
    updated = provider.update(job_id, drifted, news).outs
    job = batch_client.get_job(job_id)
    assert job.priority == 3
    assert updated["task_counts"]["succeeded"] == 6 and updated["task_count"] == 6

    # destroy, terminate only: release ran once on each node that ran preparation; logs harvested.
    provider.delete(job_id, {**updated, "on_destroy": "terminate"})
    assert batch_client.get_job(job_id).state == m.BatchJobState.COMPLETED
    statuses = list(batch_client.list_job_preparation_and_release_task_status(job_id))
    assert sorted(s.node_id for s in statuses) == prep_nodes
    assert all(s.job_release_task_execution_info.exit_code == 0 for s in statuses)
    for node in prep_nodes:
        runs = b"".join(batch_client.download_node_file(pool_id, node, "shared/release-runs.txt")).decode()
        assert runs.split().count(job_id) == 1
    err = capfd.readouterr().err
    assert "release exit code 0" in err
    blobs = {
        b.name for b in blob_service.get_container_client(container).list_blobs(name_starts_with="$JobLog/")
    }
    for node in prep_nodes:
        assert f"$JobLog/{node}/jobpreparation/stdout.txt" in blobs
        assert f"$JobLog/{node}/jobpreparation/stderr.txt" in blobs
        assert f"$JobLog/{node}/jobrelease/stdout.txt" in blobs
    log = blob_service.get_container_client(container).download_blob(
        f"$JobLog/{prep_nodes[0]}/jobrelease/stdout.txt"
    )
    assert log.readall() == b"release-out\n"

    # destroy again with the default: already terminated, so release does not run again; then deleted.
    provider.delete(job_id, updated)
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job(job_id)
    for node in prep_nodes:
        runs = b"".join(batch_client.download_node_file(pool_id, node, "shared/release-runs.txt")).decode()
        assert runs.split().count(job_id) == 1
    # Gone: refresh drops it, and a further delete is a no-op.
    assert provider.read(job_id, updated).id == ""
    provider.delete(job_id, updated)


def _admin(endpoints: Endpoints, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{endpoints.batch_url}/_localbatch/faults",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=10).read()


def test_submission_uses_ceil_n_over_100_calls_and_retries_throttling(
    make_batch_client: Callable[..., Any], endpoints: Endpoints, pool_id: str
) -> None:
    from pulumi_azbatch.dynamic_providers.batch_client import RetrySettings

    requests: list[str] = []

    def hook(request: Any) -> None:
        if "addtaskcollection" in request.http_request.url:
            requests.append(request.http_request.url)

    client = make_batch_client(retry_total=0, raw_request_hook=hook)
    job_id = unique("submit")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id="no-such-pool")))
    tasks = [m.BatchTaskCreateOptions(id=f"t{i:04d}", command_line="/bin/true") for i in range(250)]
    report = submit_tasks(client, job_id, tasks, concurrency=3)
    assert report.calls == math.ceil(250 / 100) == len(requests)
    assert len(report.added) == 250 and not report.failures

    # Throttled twice without Retry-After (azure-core would give up on a POST 429): retried, bounded.
    requests.clear()
    _admin(endpoints, {"count": 2, "status": 429, "method": "POST", "pathRegex": "addtaskcollection"})
    more = [m.BatchTaskCreateOptions(id=f"u{i}", command_line="/bin/true") for i in range(5)]
    report = submit_tasks(client, job_id, more, retry=RetrySettings(attempts=4, base=0.05, cap=0.2))
    assert len(report.added) == 5 and len(requests) == 3
    # A 503 that never ends fails after the bounded attempts instead of hanging.
    _admin(endpoints, {"count": 3, "status": 503, "method": "POST", "pathRegex": "addtaskcollection"})
    with pytest.raises(Exception) as info:
        submit_tasks(
            client,
            job_id,
            [m.BatchTaskCreateOptions(id="v", command_line="/bin/true")],
            retry=RetrySettings(attempts=3, base=0.05, cap=0.1),
        )
    assert getattr(info.value, "status_code", None) == 503

    # TaskExists: success only when the existing task is the same task.
    same = [m.BatchTaskCreateOptions(id="t0000", command_line="/bin/true")]
    assert submit_tasks(client, job_id, same).existing == ["t0000"]
    other = [m.BatchTaskCreateOptions(id="t0001", command_line="/bin/false")]
    failures = submit_tasks(client, job_id, other).failures
    assert [f.task_id for f in failures] == ["t0001"] and "command_line" in failures[0].message
    client.begin_delete_job(job_id, polling_interval=1)


def test_failed_tasks_fail_the_gate_with_details_and_the_job_is_not_orphaned(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("failing")
    bad = {"id": "bad", "command_line": "/bin/sh -c 'echo something broke >&2; exit 3'"}
    inputs = checked(provider, job_inputs(job_id, [task(1), bad]))
    with pytest.raises(Exception) as info:
        provider.create(inputs)
    message = str(info.value)
    assert "task bad: exit code 3" in message and "FailureExitCode" in message
    assert "something broke" in message
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job(job_id)


def test_interrupted_create_is_adopted_by_the_next_up(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("adopt")
    inputs = checked(provider, job_inputs(job_id, [task(1), task(2)], wait_for="none"))
    # What an interrupted `pulumi up` leaves: the job and some of its tasks, no state.
    from pulumi_azbatch.dynamic_providers.job import spec_inputs

    from pulumi_azbatch.spec import parse_job

    spec = parse_job(spec_inputs(inputs))
    batch_client.create_job(spec.to_batch_job_create())
    batch_client.create_task(
        job_id,
        spec.expand_tasks()[0].to_batch_task_create(
            output_container_url=spec.output_container_url, job_id=job_id
        ),
    )
    created = provider.create(inputs)
    assert created.id == job_id
    assert {t.id for t in batch_client.list_tasks(job_id)} == {"task1", "task2"}
    provider.delete(job_id, {**created.outs, "on_destroy": "delete"})
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job(job_id)

    # A different job under the same id is never taken over.
    other = unique("foreign")
    batch_client.create_job(m.BatchJobCreateOptions(id=other, pool_info=m.BatchPoolInfo(pool_id="elsewhere")))
    with pytest.raises(RuntimeError, match="cannot be adopted"):
        provider.create(checked(provider, job_inputs(other, [task(1)], wait_for="none")))
    assert batch_client.get_job(other).pool_info.pool_id == "elsewhere"
    batch_client.begin_delete_job(other, polling_interval=1)


def test_wait_for_preparation(
    batch_client: Any, job_inputs: Callable[..., dict], capfd: pytest.CaptureFixture[str]
) -> None:
    provider = JobProvider()
    job_id = unique("prepgate")
    slow = {"id": "slow", "command_line": "/bin/sh -c 'sleep 2'"}
    created = provider.create(checked(provider, job_inputs(job_id, [slow], wait_for="preparation")))
    assert created.outs["nodes"][0]["preparation"]["exit_code"] == 0
    assert created.outs["task_counts"]["completed"] == 0
    assert "preparation completed on 1/1 node(s)" in capfd.readouterr().err
    provider.delete(job_id, created.outs)
    wait_for(lambda: not any(j.id == job_id for j in batch_client.list_jobs()))


def _runs(batch_client: Any, pool_id: str, name: str) -> list[str]:
    """Every task execution recorded on the pool's nodes (each run appends its task id to ``name``)."""
    lines: list[str] = []
    for node in batch_client.list_nodes(pool_id):
        try:
            data = b"".join(batch_client.download_node_file(pool_id, node.id, f"shared/{name}")).decode()
        except ResourceNotFoundError:
            continue
        lines += data.split()
    return lines


def test_task_level_update_touches_only_the_changed_tasks(
    batch_client: Any, pool_id: str, job_inputs: Callable[..., dict], capfd: pytest.CaptureFixture[str]
) -> None:
    provider = JobProvider()
    job_id = unique("tasklevel")
    log = f"runs-{job_id}.txt"

    def counted(i: int, marker: str = "v1", **extra: Any) -> dict[str, Any]:
        command = f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/{log}; echo {marker}'"
        return {"id": f"task{i}", "command_line": command, **extra}

    inputs = checked(provider, job_inputs(job_id, [counted(i) for i in range(5)]))
    outs = provider.create(inputs).outs
    assert sorted(_runs(batch_client, pool_id, log)) == [f"task{i}" for i in range(5)]
    capfd.readouterr()

    # task1 changed, task2's constraints changed, task4 removed, task5 and task6 added.
    tasks = [counted(0), counted(1, "v2"), counted(2, constraints={"max_task_retry_count": 3}), counted(3)]
    news = checked(provider, {**inputs, "tasks": [*tasks, counted(5), counted(6)]}, inputs)
    plan = provider.diff(job_id, outs, news)
    assert plan.changes and plan.replaces == []
    said = capfd.readouterr().err
    assert f"job {job_id}: tasks: 2 added: task5, task6; 1 re-added: task1 (command_line); " in said
    assert "1 updated in place: task2 (constraints); 1 removed: task4" in said

    updated = provider.update(job_id, outs, news).outs
    runs = _runs(batch_client, pool_id, log)
    # Only the re-added and the new tasks ran again: task0, 2 and 3 ran once, task1 twice.
    assert sorted(runs) == sorted([f"task{i}" for i in range(5)] + ["task1", "task5", "task6"])
    ids = {t.id: t for t in batch_client.list_tasks(job_id)}
    assert sorted(ids) == ["task0", "task1", "task2", "task3", "task5", "task6"]
    assert ids["task2"].constraints.max_task_retry_count == 3
    assert updated["task_counts"]["succeeded"] == 6
    provider.delete(job_id, updated)


def test_plan_lines_name_tasks_count_the_rest_and_say_why_a_job_is_replaced(
    account: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    provider = JobProvider()
    sweep = {"type": "parametric_sweep", "parameter_sets": [{"start": 1, "end": 200}],
             "repeat_task": {"id": "case-{0:3}", "command_line": "/bin/echo {0}"}}  # fmt: skip
    base = checked(provider, {**account, "job_id": "j1", "pool_id": "p", "task_factories": [sweep]})
    olds = {**base, "state": "active"}
    grown = {**sweep, "parameter_sets": [{"start": 1, "end": 230}]}
    capfd.readouterr()
    assert (
        provider.diff("j1", olds, checked(provider, {**base, "task_factories": [grown]}, base)).replaces == []
    )
    said = capfd.readouterr().err
    assert "job j1: tasks: 30 added: case-201, case-202" in said and "case-210 and 20 more" in said

    replaced = checked(provider, {**base, "job_preparation_task": {"command_line": "/bin/true"}}, base)
    assert provider.diff("j1", olds, replaced).replaces == ["job_preparation_task"]
    said = capfd.readouterr().err
    assert (
        "job j1: replace (delete the job, then create it again with the same id; every task runs again: 200"
        in said
    )
    assert (
        'forces replacement: job_preparation_task: Batch cannot change it on an existing job ((default) → {"command_line"'
        in said
    )
    assert "give the job a new id" in said
