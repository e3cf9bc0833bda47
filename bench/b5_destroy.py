"""B5 destroy latency: from the last job release task's exit to the job being gone.

A job with preparation and release tasks runs two tasks on a pool of two nodes; then the Job
provider's own ``delete`` (``on_destroy: terminate_then_delete``: terminate, wait for the release
tasks, copy logs, delete, wait until gone) runs with the provider's default poll settings. Each
release task's last act is writing the wall-clock time to the node's shared directory, read back
afterwards through the node file API; the latency is the provider's ``delete`` returning (it returns
once the job is gone) minus the latest of those times. Goal: ≤ 1 s. Reported, not a ratio.
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

from azure.batch import models as m
from pulumi_azbatch.dynamic_providers.job import JobProvider

from .common import (
    BenchResult,
    Context,
    Row,
    batch_client,
    create_pool,
    env_vars,
    median,
    unique,
    wait_until,
)

POLL_KNOBS: dict[str, str | None] = {
    "PULUMI_AZBATCH_POLL_INTERVAL": None,
    "PULUMI_AZBATCH_POLL_MAX_INTERVAL": None,
}


def run(ctx: Context) -> BenchResult:
    repeat = 2 if ctx.quick else 5
    result = BenchResult("B5")
    client = batch_client(ctx.endpoints)
    pool_id = unique("b5")
    create_pool(client, pool_id, nodes=2, slots=1)
    nodes = [n.id for n in client.list_nodes(pool_id)]
    latencies: list[float] = []
    totals: list[float] = []
    try:
        for i in range(repeat):
            job_id = unique(f"b5-{i}")
            marker = f"b5-{job_id}.txt"
            props: dict[str, Any] = {
                "job_id": job_id,
                "pool_id": pool_id,
                "on_destroy": "terminate_then_delete",
                "job_preparation_task": {"command_line": "/bin/true"},
                "job_release_task": {
                    "command_line": f"/bin/sh -c 'date +%s.%N > $AZ_BATCH_NODE_SHARED_DIR/{marker}'"
                },
                "batch_account_url": ctx.endpoints.batch_url,
                "batch_account_name": ctx.endpoints.batch_account_name,
                "batch_account_key": ctx.endpoints.batch_account_key,
            }
            from pulumi_azbatch.dynamic_providers.job import _lenient_spec

            spec = _lenient_spec(props)
            client.create_job(spec.to_batch_job_create(job_id=job_id))
            client.create_tasks(
                job_id,
                [m.BatchTaskCreateOptions(id=f"t{k}", command_line="/bin/sleep 0.3") for k in range(2)],
            )
            wait_until(
                lambda job_id=job_id: client.get_job_task_counts(job_id).task_counts.completed == 2, 60
            )
            started = time.time()
            with (
                env_vars(POLL_KNOBS),
                contextlib.redirect_stderr(io.StringIO()),
            ):  # the provider's progress lines
                JobProvider().delete(job_id, props)
            gone = time.time()
            exits = []
            for node in nodes:
                try:
                    exits.append(
                        float(b"".join(client.download_node_file(pool_id, node, f"shared/{marker}")))
                    )
                except Exception:  # noqa: BLE001 - the node that ran no task ran no release
                    continue
            if not exits:
                raise RuntimeError(f"B5: no release task ran for {job_id}")
            latencies.append(gone - max(exits))
            totals.append(gone - started)
    finally:
        client.begin_delete_pool(pool_id, polling_interval=1)
    worst = max(latencies)
    result.rows.append(
        Row(
            "B5 destroy",
            "last release exit -> job gone",
            f"median {median(latencies):.2f} s, max {worst:.2f} s (whole delete median {median(totals):.2f} s; "
            f"{repeat} runs, default poll settings)",
            "",
            None,
            f"≤ 1 s: {'yes' if worst <= 1.0 else '**no**'}",
        )
    )
    result.data = {"latency_s": latencies, "delete_s": totals, "goal_met": worst <= 1.0}
    return result
