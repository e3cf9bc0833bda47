"""Spot/low-priority nodes and their preemption (service/node_admin.py, the admin route
POST /_localbatch/pools/{pool}/nodes/{node}/preempt | restore)."""

from __future__ import annotations

from typing import Any
from urllib.error import HTTPError

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from emulator_helpers import admin, pool_options, unique, wait_for, wait_task


def _preempt(endpoints: Any, pool_id: str, node_id: str, action: str = "preempt") -> Any:
    return admin(endpoints.batch_url, "POST", f"/_localbatch/pools/{pool_id}/nodes/{node_id}/{action}")


def test_preempted_node_requeues_its_task_and_is_counted(client: BatchClient, endpoints: Any) -> None:
    pool_id = unique("spot")
    client.create_pool(pool_options(pool_id, nodes=0, target_low_priority_nodes=1))
    pool = client.get_pool(pool_id)
    assert (pool.current_dedicated_nodes, pool.current_low_priority_nodes) == (0, 1)
    node = wait_for(lambda: (ns := list(client.list_nodes(pool_id))) and ns[0].state == "idle" and ns[0])
    assert node.is_dedicated is False
    job_id = unique("spotjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 30"))
    wait_task(client, job_id, "long", "running")
    assert _preempt(endpoints, pool_id, node.id)["state"] == "preempted"
    # Requeued, as the service does with the tasks of a preempted node: back to active, not a retry.
    task = wait_task(client, job_id, "long", "active")
    assert task.execution_info.requeue_count == 1 and task.execution_info.retry_count == 0
    assert client.get_node(pool_id, node.id).state == "preempted"
    pool = client.get_pool(pool_id)
    assert pool.current_low_priority_nodes == 1  # preempted nodes are included, as documented
    counts = next(c for c in client.list_pool_node_counts() if c.pool_id == pool_id)
    assert counts.low_priority.preempted == 1 and counts.low_priority.total == 1
    assert counts.dedicated.total == 0
    # $PreemptedNodeCount feeds autoscale.
    client.enable_pool_auto_scale(
        pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetLowPriorityNodes = 1;")
    )
    run = client.evaluate_pool_auto_scale(
        pool_id,
        m.BatchPoolEvaluateAutoScaleOptions(
            auto_scale_formula="lost = $PreemptedNodeCount.GetSample(1); $TargetLowPriorityNodes = 1;"
        ),
    )
    assert run.results.endswith(";lost=[1]"), run.results
    # Capacity comes back: the node boots again and the task runs there.
    _preempt(endpoints, pool_id, node.id, "restore")
    wait_task(client, job_id, "long", "running", timeout=20)
    client.terminate_task(job_id, "long")


def test_only_spot_nodes_are_preempted(client: BatchClient, endpoints: Any, shared_pool: str) -> None:
    node = next(iter(client.list_nodes(shared_pool)))
    with pytest.raises(HTTPError) as err:
        _preempt(endpoints, shared_pool, node.id)
    assert err.value.code == 400
