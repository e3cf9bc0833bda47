"""The providers' waits under the emulator's realistic timing: a pool whose nodes are allocated and
boot over time, then a job with preparation and release tasks on it, up through the providers.

Scale 0.01: each node spends about 0.6 s `creating` and 0.9 s `starting` before its start task runs,
so the pool provider's wait sees the pool `resizing` and its nodes in every state a real pool passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from provider_helpers import container_sas_url, unique
from pulumi_azbatch.dynamic_providers.job import JobProvider
from pulumi_azbatch.dynamic_providers.pool import PoolProvider

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.localdev import Endpoints


def test_pool_and_job_up_with_realistic_timing(
    endpoints: Endpoints,
    account: dict[str, str],
    blob_service: Any,
    batch_client: Any,
    emulator_timing: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
) -> None:
    emulator_timing(mode="realistic", scale=0.01)
    pools, jobs = PoolProvider(), JobProvider()
    pool_id, job_id = unique("slowpool"), unique("slowjob")
    pool_inputs = {
        **account,
        "pool_id": pool_id,
        "vm_size": "standard_d2s_v3",
        "image": {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "node_agent_sku_id": "batch.node.ubuntu 24.04",
        "target_dedicated_nodes": 2,
        "task_slots_per_node": 1,
        "task_scheduling_policy": "spread",
        "start_task": {"command_line": "/bin/sh -c 'sleep 0.3; echo ready'"},
        "metadata": {},
        "wait_timeout_seconds": 60,
    }
    checked = pools.check({}, pool_inputs)
    assert not checked.failures
    pool = pools.create(dict(checked.inputs))
    try:
        progress = capfd.readouterr().err
        # The wait reported the pool while it was still being built, then returned with every node idle.
        assert "creating" in progress and "starting" in progress and "allocation resizing" in progress
        assert f"pool {pool_id}: 2/2 nodes ready" in progress
        assert {n.state.value for n in batch_client.list_nodes(pool_id)} == {"idle"}
        url = container_sas_url(endpoints, blob_service, job_output_container_name(job_id))
        job_inputs = {
            **account,
            "job_id": job_id,
            "pool_id": pool_id,
            "name_prefix": "slow",
            "job_preparation_task": {"command_line": "/bin/true"},
            "job_release_task": {"command_line": "/bin/true"},
            "tasks": [{"id": f"task{i}", "command_line": "/bin/sh -c 'echo hi'"} for i in range(3)],
            "output_container_url": url,
            "wait_for": "tasks",
            "wait_timeout": 60,
        }
        job_checked = jobs.check({}, job_inputs)
        assert not job_checked.failures
        outs = jobs.create(job_checked.inputs).outs
        assert outs["task_counts"]["succeeded"] == 3
        jobs.delete(job_id, {**outs, "on_destroy": "delete"})
    finally:
        pools.delete(pool_id, pool.outs)
