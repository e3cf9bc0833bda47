"""Pools and the start task through the SDK (service/pools.py, service/nodes.py)."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from emulator_helpers import LINUX, pool_options, unique, wait_for


def test_pool_lifecycle_and_errors(client: BatchClient) -> None:
    pool_id = unique("pool")
    client.create_pool(
        pool_options(
            pool_id,
            nodes=2,
            task_slots_per_node=2,
            task_scheduling_policy=m.BatchTaskSchedulingPolicy(node_fill_type="pack"),
        )
    )
    pool = client.get_pool(pool_id)
    assert (pool.state, pool.allocation_state, pool.current_dedicated_nodes) == ("active", "steady", 2)
    assert pool.task_slots_per_node == 2 and pool.resize_timeout == dt.timedelta(minutes=15)
    assert client.pool_exists(pool_id) is True
    with pytest.raises(ResourceNotFoundError):
        client.pool_exists(unique("absent"))  # the SDK raises rather than returning False
    with pytest.raises(ResourceExistsError) as err:
        client.create_pool(pool_options(pool_id.upper()))
    assert err.value.error.code == "PoolExists"
    nodes = list(client.list_nodes(pool_id))
    assert len(nodes) == 2 and all(n.state == "idle" and n.scheduling_state == "enabled" for n in nodes)
    assert client.get_node(pool_id, nodes[0].id).affinity_id == f"TVM:{nodes[0].id}"
    # Pack: two single-slot tasks share one node while the other stays idle.
    job_id = unique("pack")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task_collection(
        job_id,
        m.BatchTaskGroup(
            task_values=[m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/sleep 30") for i in range(2)]
        ),
    )
    running = wait_for(
        lambda: (ts := [t for t in client.list_tasks(job_id) if t.state == "running"]) and len(ts) == 2 and ts
    )
    assert len({t.node_info.node_id for t in running}) == 1
    busy = client.get_node(pool_id, running[0].node_info.node_id)
    assert busy.state == "running" and busy.running_task_slots_count == 2
    # Delete: deleting before the 202, running tasks requeued, then 404.
    poller = client.begin_delete_pool(pool_id, polling_interval=0.1)
    with contextlib.suppress(ResourceNotFoundError):  # killed tasks requeue in ms; it may be gone already
        assert client.get_pool(pool_id).state == "deleting"
    poller.result()
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_pool(pool_id)
    assert gone.value.error.code == "PoolNotFound"
    for task in client.list_tasks(job_id):
        assert task.state == "active" and task.execution_info.requeue_count == 1
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_invalid_pools_are_refused(client: BatchClient) -> None:
    # Container pools: refused without a container runtime, run with one (test_containers.py).
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(m.BatchPoolCreateOptions(id=unique("novm"), virtual_machine_configuration=LINUX))
    assert err.value.error.code == "MissingRequiredProperty"


def test_start_task(client: BatchClient) -> None:
    ok, bad = unique("start-ok"), unique("start-bad")
    client.create_pool(
        pool_options(
            ok,
            start_task=m.BatchStartTask(
                command_line="/bin/sh -c 'sleep 0.3; echo ready > $AZ_BATCH_NODE_SHARED_DIR/started'",
                wait_for_success=True,
            ),
        )
    )
    client.create_pool(pool_options(bad, start_task=m.BatchStartTask(command_line="/bin/sh -c 'exit 7'")))
    node = next(iter(client.list_nodes(ok)))
    assert node.state in ("waitingforstarttask", "idle")
    node = wait_for(lambda: (n := client.get_node(ok, node.id)).state == "idle" and n)
    assert node.start_task_info.exit_code == 0 and node.start_task_info.result == "success"
    assert b"".join(client.download_node_file(ok, node.id, "shared/started")) == b"ready\n"
    failed = wait_for(lambda: (n := next(iter(client.list_nodes(bad)))).state == "starttaskfailed" and n)
    assert (
        failed.start_task_info.exit_code == 7
        and failed.start_task_info.failure_info.code == "FailureExitCode"
    )
    for pool_id in (ok, bad):
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()
