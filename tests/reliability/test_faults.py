"""A flaky service never leaves duplicated or missing tasks: `pulumi up`/`destroy` under injected faults.

The real engine runs the project's program (pool, output container + SAS, job) on the local
emulators while 20% of all Batch requests answer 429 (with and without Retry-After) or 503, some
uploads to Azurite fail (503, 500 or a dropped connection, through a proxy), and the first request
of each kind the provider is known to get wrong is throttled for sure (a POST 429 without
Retry-After, which azure-core would not retry). A service that never recovers fails the deployment
within a bounded time with an error that says so.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import (
    BlobFaultProxy,
    LocalStack,
    Project,
    admin,
    arm_throttling,
    assert_exact_tasks,
    clear_faults,
    job_config,
    job_ids,
    pool_ids,
    stack_config,
    unique,
)

pytestmark = pytest.mark.engine
TASKS = 12
#: Sum of the capped backoff of the bounded retry policy (0.5 + 1 + 2 + 4 + 8 s, see batch_client).
RETRY_BUDGET_SECONDS = 15.5


def _certain_up_faults(pool_id: str, job_id: str) -> list[dict[str, object]]:
    """One fault for sure on each kind of request `pulumi up` makes (count 1 each)."""
    return [
        {"method": "POST", "pathRegex": "^/pools$", "status": 503},
        {"method": "GET", "pathRegex": f"^/pools/{pool_id}/nodes$", "status": 429},
        {"method": "POST", "pathRegex": "^/jobs$", "status": 429},  # azure-core gives up on this one
        {"method": "POST", "pathRegex": f"^/jobs/{job_id}/addtaskcollection$", "status": 429},
        {"method": "GET", "pathRegex": f"^/jobs/{job_id}/taskcounts$", "status": 503},
        {"method": "GET", "pathRegex": f"^/jobs/{job_id}/jobpreparationandreleasetaskstatus$", "status": 503},
    ]


def _certain_destroy_faults(pool_id: str, job_id: str) -> list[dict[str, object]]:
    """One fault for sure on each kind of request `pulumi destroy` makes (count 1 each)."""
    return [
        {"method": "POST", "pathRegex": f"^/jobs/{job_id}/terminate$", "status": 429, "retryAfter": 1},
        {"method": "DELETE", "pathRegex": f"^/jobs/{job_id}$", "status": 503},
        {"method": "DELETE", "pathRegex": f"^/pools/{pool_id}$", "status": 429},
    ]


def _random_faults_fired(batch_url: str) -> int:
    return sum(
        10**9 - f["count"]
        for f in admin(batch_url, "GET", "/_localbatch/faults")["faults"]
        if f["probability"] < 1
    )


def _pending_certain(batch_url: str) -> list[str]:
    return [
        f["pathRegex"]
        for f in admin(batch_url, "GET", "/_localbatch/faults")["faults"]
        if f["probability"] == 1
    ]


def test_up_and_destroy_converge_under_throttling_and_upload_faults(
    no_faults: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    local = no_faults
    pool_id, job_id = unique("flaky-pool"), unique("flaky-job")
    with BlobFaultProxy(local.blob_port, rate=0.3, budget=3) as proxy:
        project = Project.create(
            tmp_path / "project",
            local.endpoints(proxy.blob_url()),
            stack_config(pool_id, job_config(job_id, TASKS)),
            log=test_output_dir / "pulumi.log",
        )
        for fault in _certain_up_faults(pool_id, job_id):
            admin(local.batch_url, "POST", "/_localbatch/faults", {"count": 1, **fault})
        arm_throttling(local.batch_url, rate=0.2)

        project.run("up", timeout=240)
        fired_during_up = _random_faults_fired(local.batch_url)
        left = _pending_certain(local.batch_url)
        clear_faults(local.batch_url)  # the checks below must see the emulator as it is
        client = local.client()
        # Every certain fault fired, and the uploads saw faults too.
        assert left == [], left
        assert len(proxy.injected) == 3, proxy.injected
        assert_exact_tasks(client, job_id, pool_id, TASKS)
        # Each task's output reached Azurite exactly once, under its File Conventions name.
        container = local.blob_service().get_container_client(f"job-{job_id}")
        outputs = {
            b.name: container.download_blob(b.name).readall().decode().strip()
            for b in container.list_blobs(name_starts_with="task")
            if b.name.endswith("output.txt")
        }
        assert outputs == {f"task{i:03d}/$TaskOutput/output.txt": f"task{i:03d}" for i in range(1, TASKS + 1)}

        for fault in _certain_destroy_faults(pool_id, job_id):
            admin(local.batch_url, "POST", "/_localbatch/faults", {"count": 1, **fault})
        arm_throttling(local.batch_url, rate=0.2)
        project.run("destroy", timeout=240)
        fired = fired_during_up + _random_faults_fired(local.batch_url)
        assert _pending_certain(local.batch_url) == []
        clear_faults(local.batch_url)

    (test_output_dir / "faults.txt").write_text(
        f"random Batch faults fired: {fired}\ncertain Batch faults: 9\n"
        f"upload faults: {proxy.injected}\nrequests through the blob proxy: {proxy.requests}\n"
    )
    assert job_id not in job_ids(client) and pool_id not in pool_ids(client), "destroy left nothing behind"
    assert not local.blob_service().get_container_client(f"job-{job_id}").exists()


def test_permanent_503_fails_within_a_bounded_time_with_a_clear_error(
    no_faults: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    local = no_faults
    pool_id, job_id = unique("down-pool"), unique("down-job")
    project = Project.create(
        tmp_path / "project",
        local.endpoints(),
        stack_config(pool_id, job_config(job_id, 2)),
        log=test_output_dir / "pulumi.log",
    )
    admin(
        local.batch_url, "POST", "/_localbatch/faults", {"count": 10**9, "status": 503, "pathRegex": "^/jobs"}
    )
    started = time.monotonic()
    out = project.run("up", timeout=180, check=False)
    elapsed = time.monotonic() - started
    clear_faults(local.batch_url)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    # One Batch call gives up after 6 attempts and at most ~15.5 s of backoff; engine start-up and the
    # pool come on top. The documented bound for a whole `up` against a dead service is one minute.
    assert elapsed < 60, elapsed
    assert "Batch request POST /jobs: the Batch service answered 503 ServerBusy on all 6 attempts" in text, (
        text
    )
    assert "it is throttling or unavailable, run the command again later" in text
    assert job_id not in job_ids(local.client()), "nothing was created"
    project.run("destroy")
    assert pool_id not in pool_ids(local.client())
