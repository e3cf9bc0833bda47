"""The Job provider's methods against the running Batch emulator and Azurite (no fakes)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from provider_helpers import container_sas_url, unique, wait_for
from pulumi_azbatch.dynamic_providers import host
from pulumi_azbatch.dynamic_providers.base import UNKNOWN
from pulumi_azbatch.dynamic_providers.host import KeptInState
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


def test_diff_classifies_update_and_replace(account: dict[str, str], batch_client: Any) -> None:
    provider = JobProvider()
    job_id = unique("j1")
    # The job exists (the diff also looks for a job deleted outside Pulumi).
    batch_client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id="p")))
    base = checked(
        provider,
        {
            **account,
            "job_id": job_id,
            "pool_id": "p",
            "job_preparation_task": {"command_line": "/bin/true"},
            "tasks": [plain(1), plain(2)],
        },
    )
    olds = {**base, "state": "active", "__provider": "x"}

    def diff(**changes: Any) -> Any:
        return provider.diff(job_id, olds, checked(provider, {**base, **changes}, base))

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
    # Task models converted chunk by chunk just before their calls: the same answers, an existing
    # task matched against the converted body.
    from pulumi_azbatch.model.tasks import TaskSpec

    specs = [
        TaskSpec(id=i, command_line=c)
        for i, c in (("t0002", "/bin/true"), ("w0", "/bin/true"), ("t0003", "x"))
    ]
    report = submit_tasks(client, job_id, specs, to_sdk=lambda t: t.to_batch_task_create())
    assert report.added == ["w0"] and report.existing == ["t0002"]
    assert [f.task_id for f in report.failures] == ["t0003"] and "command_line" in report.failures[0].message
    client.begin_delete_job(job_id, polling_interval=1)


def owner(stack: str = "organization/azbatch/a", resource: str = "azbatch:Job::job") -> dict[str, str]:
    """The identity inputs the Job resource class passes (the nonce is drawn by check)."""
    return {"owner_stack": stack, "owner_resource": resource}


def test_failed_tasks_fail_the_gate_with_details_and_keep_the_job_and_its_history(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("failing")
    bad = {"id": "bad", "command_line": "/bin/sh -c 'echo something broke >&2; exit 3'"}
    inputs = checked(provider, job_inputs(job_id, [task(1), bad], **owner()))
    with pytest.raises(KeptInState) as info:
        provider.create(inputs)
    message = str(info.value)
    assert "task bad: exit code 3" in message and "FailureExitCode" in message
    assert "something broke" in message
    # The job, its finished tasks and the failure stay: what the state keeps (the engine's partial state).
    kept = info.value.outputs
    assert info.value.id == job_id and kept["gate_error"] == message
    assert [t["id"] for t in kept["failed_tasks"]] == ["bad"] and kept["failed_tasks"][0]["exit_code"] == 3
    assert kept["task_counts"]["succeeded"] == 1
    assert {t.id: t.state for t in batch_client.list_tasks(job_id)} == {
        "task1": "completed",
        "bad": "completed",
    }

    # The next `up` (an update: the engine retries a resource kept with an error) adds nothing, runs
    # nothing again, and fails the same way while the failure stands.
    before = {t.id: t.execution_info.end_time for t in batch_client.list_tasks(job_id)}
    with pytest.raises(KeptInState, match="task bad: exit code 3"):
        provider.update(job_id, kept, inputs)
    assert {t.id: t.execution_info.end_time for t in batch_client.list_tasks(job_id)} == before
    provider.delete(job_id, {**kept, "on_destroy": "delete"})


def test_fail_on_task_failure_false_reports_the_failures(
    batch_client: Any, job_inputs: Callable[..., dict], capfd: pytest.CaptureFixture[str]
) -> None:
    provider = JobProvider()
    job_id = unique("lenient")
    bad = {"id": "bad", "command_line": "/bin/sh -c 'echo broke >&2; exit 4'"}
    created = provider.create(
        checked(provider, job_inputs(job_id, [task(1), bad], fail_on_task_failure=False, **owner()))
    )
    assert [(t["id"], t["exit_code"]) for t in created.outs["failed_tasks"]] == [("bad", 4)]
    err = capfd.readouterr().err
    assert "warning: job " in err and "task bad: exit code 4" in err and "broke" in err
    provider.delete(job_id, {**created.outs, "on_destroy": "delete"})


def test_a_failed_preparation_task_fails_the_gate_at_once(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("badprep")
    inputs = checked(
        provider,
        job_inputs(
            job_id,
            [task(1)],
            job_preparation_task={"command_line": "/bin/sh -c 'echo no such dataset >&2; exit 7'"},
            wait_timeout=600,
            **owner(),
        ),
    )
    started = time.monotonic()
    with pytest.raises(KeptInState) as info:
        provider.create(inputs)
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert re.search(r"the job preparation task failed on [12] node\(s\)", message), message
    assert "exit code 7" in message and "no such dataset" in message
    assert elapsed < 30, f"reported after {elapsed:.1f} s, not at the 600 s deadline"
    print(f"failed preparation task reported after {elapsed:.2f} s")
    provider.delete(job_id, {**info.value.outputs, "on_destroy": "delete"})


def test_a_cancel_from_the_engine_ends_the_wait_within_a_poll(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("cancel")
    inputs = checked(
        provider, job_inputs(job_id, [plain(1, "/bin/sh -c 'sleep 30'")], wait_timeout=600, **owner())
    )
    timer = threading.Timer(1.5, host.CANCELLED.set)
    timer.start()
    try:
        started = time.monotonic()
        with pytest.raises(KeptInState, match="cancelled"):
            provider.create(inputs)
        assert time.monotonic() - started < 10
    finally:
        timer.cancel()
        host.CANCELLED.clear()
    assert batch_client.get_job(job_id).state == "active"
    provider.delete(job_id, {**inputs, "on_destroy": "delete"})


def _mark(batch_client: Any, job_id: str) -> dict[str, str]:
    return {
        m.name: m.value for m in batch_client.get_job(job_id).metadata or [] if m.name.startswith("pulumi_")
    }


def test_only_this_resources_job_is_adopted_after_a_lost_create_answer(
    batch_client: Any, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("adopt")
    inputs = checked(provider, job_inputs(job_id, [task(1), task(2)], wait_for="none", **owner()))
    # What a lost answer (or a killed `pulumi up`) leaves: the job, marked by this resource in an
    # earlier run (another nonce), some of its tasks, no state.
    from pulumi_azbatch.dynamic_providers.job import _marked, spec_inputs
    from pulumi_azbatch.dynamic_providers.ownership import Mark

    from pulumi_azbatch.model.validation import parse_job

    spec = parse_job(spec_inputs(inputs))
    earlier = Mark("organization/azbatch/a", "azbatch:Job::job", "0123456789abcdef")
    batch_client.create_job(_marked(spec, earlier).to_batch_job_create())
    batch_client.create_task(
        job_id,
        spec.expand_tasks()[0].to_batch_task_create(
            output_container_url=spec.output_container_url, job_id=job_id
        ),
    )
    created = provider.create(inputs)
    assert created.id == job_id
    assert {t.id for t in batch_client.list_tasks(job_id)} == {"task1", "task2"}
    assert _mark(batch_client, job_id)["pulumi_azbatch_nonce"] == inputs["owner_nonce"]  # re-marked
    assert created.outs.get("metadata") in (None, {})  # the mark is not the user's metadata

    # Another stack's job under the same id: refused at check (preview) and at create, naming the owner.
    other = {**job_inputs(job_id, [task(1)], **owner(stack="organization/azbatch/b")), "owner_nonce": "b"}
    refused = provider.check({}, other)
    assert refused.failures and "belongs to stack organization/azbatch/a, resource azbatch:Job::job" in (
        refused.failures[0].reason
    )
    assert "adopt: true" in refused.failures[0].reason
    with pytest.raises(RuntimeError, match="belongs to stack organization/azbatch/a"):
        provider.create(other)

    # destroy by the other stack (had it taken the job over and lost it again) leaves it alone.
    provider.delete(job_id, {**other, "on_destroy": "delete"})
    assert batch_client.get_job(job_id).state == "active"
    provider.delete(job_id, {**created.outs, "on_destroy": "delete"})
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job(job_id)


def test_a_job_made_outside_pulumi_is_refused_then_adopted_with_adopt_true(
    batch_client: Any, pool_id: str, job_inputs: Callable[..., dict]
) -> None:
    provider = JobProvider()
    job_id = unique("sdkjob")
    batch_client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line=PREP),
            job_release_task=m.BatchJobReleaseTask(command_line=RELEASE),
            metadata=[m.BatchMetadataItem(name="team", value="x")],
        )
    )
    inputs = job_inputs(job_id, [task(1)], wait_for="none", **owner())
    refused = provider.check({}, inputs)
    assert (
        refused.failures
        and "carries no pulumi-azbatch mark (created outside Pulumi" in refused.failures[0].reason
    )
    adopted = provider.create(checked(provider, {**inputs, "adopt": True}))
    assert _mark(batch_client, job_id)["pulumi_azbatch_stack"] == "organization/azbatch/a"
    assert {t.id for t in batch_client.list_tasks(job_id)} == {"task1"}
    # Once adopted it is this resource's: read keeps it, the mark is no drift.
    read = provider.read(job_id, adopted.outs)
    assert read.id == job_id and "pulumi_azbatch_stack" not in (read.outs.get("metadata") or {})
    provider.delete(job_id, {**adopted.outs, "on_destroy": "delete"})
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job(job_id)


def test_drift_deleted_task_is_re_added_and_a_completed_job_takes_a_priority_change(
    batch_client: Any, job_inputs: Callable[..., dict], capfd: pytest.CaptureFixture[str]
) -> None:
    provider = JobProvider()
    job_id = unique("drift")
    inputs = checked(provider, job_inputs(job_id, [task(1), task(2)], **owner()))
    created = provider.create(inputs)
    batch_client.delete_task(job_id, "task2")
    wait_for(lambda: {t.id for t in batch_client.list_tasks(job_id)} == {"task1"})
    # `up` without a refresh: the diff sees the missing task, the update adds it again and waits.
    diff = provider.diff(job_id, created.outs, inputs)
    assert diff.changes and not diff.replaces
    updated = provider.update(job_id, created.outs, inputs)
    assert {t.id for t in batch_client.list_tasks(job_id)} == {"task1", "task2"}
    assert updated.outs["task_counts"]["succeeded"] == 2
    assert "1 declared task(s) are missing" in capfd.readouterr().err

    # Terminated outside Pulumi: refresh says so; a priority change then is recorded, not an error.
    batch_client.begin_terminate_job(
        job_id, m._models.BatchJobTerminateOptions(termination_reason="UserTerminate"), polling_interval=1
    ).result()
    wait_for(lambda: batch_client.get_job(job_id).state == "completed")
    read = provider.read(job_id, updated.outs)
    assert read.outs["state"] == "completed" and "terminated outside Pulumi" in capfd.readouterr().err
    news = {**inputs, "priority": 50}
    assert provider.diff(job_id, read.outs, news).changes
    provider.update(job_id, read.outs, news)
    assert "is completed; priority cannot change on it any more" in capfd.readouterr().err

    # Deleted outside Pulumi: `up` replaces it (creates it again), refresh removes it from the state.
    provider.delete(job_id, {**read.outs, "on_destroy": "delete"})
    assert provider.diff(job_id, read.outs, inputs).replaces == ["job_id"]
    assert provider.read(job_id, read.outs).id == ""


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
    sweep = {
        "type": "parametric_sweep",
        "parameter_sets": [{"start": 1, "end": 200}],
        "repeat_task": {"id": "case-{0:3}", "command_line": "/bin/echo {0}"},
    }
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
    assert "outputs: the replaced job's outputs and $JobLog files move under $PreviousRuns/<time>/" in said

    # Installing the File Conventions library changes the preparation task: a replacement, with why;
    # a re-signed wheel URL alone changes nothing on the job.
    library = {
        **base,
        "file_conventions": {"install_library": True, "library_dependencies": "preinstalled"},
        "file_conventions_library_url": "https://a.blob.core.windows.net/job-j1/w.whl?sig=one",
    }
    installing = checked(provider, library, base)
    assert "file_conventions_library" in provider.diff("j1", olds, installing).replaces
    assert "installs another File Conventions library" in capfd.readouterr().err
    installed = {**installing, "state": "active"}
    resigned = checked(
        provider,
        {
            **library,
            "file_conventions_library_url": library["file_conventions_library_url"].replace("one", "two"),
        },
        installing,
    )
    assert provider.diff("j1", installed, resigned).replaces == []
    deleting = checked(provider, {**library, "previous_outputs": "delete"}, installing)
    assert provider.diff("j1", installed, deleting).replaces == []
    # A preview where the re-signed URL is not known yet: still the same library, no replacement.
    previewed = provider.check(installing, {**library, "file_conventions_library_url": UNKNOWN}).inputs
    assert previewed["file_conventions_library"] == installing["file_conventions_library"]
    assert provider.diff("j1", installed, previewed).replaces == []
