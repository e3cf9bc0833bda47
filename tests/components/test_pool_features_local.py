"""The Pool provider with the pool features on the Batch emulator through the SDK (spot nodes, a
spot/dedicated resize, autoscale where the emulator accepts it), and container tasks refused at
preview (the Job provider's check) with the task's property named."""

from __future__ import annotations

import uuid
from typing import Any

from azure.core.exceptions import HttpResponseError
from pulumi_azbatch.dynamic_providers.job import JobProvider
from pulumi_azbatch.dynamic_providers.pool import PoolProvider

from pulumi_azbatch.localdev import Endpoints


def _props(endpoints: Endpoints, **pool: Any) -> dict[str, Any]:
    return {
        "batch_account_url": endpoints.batch_url,
        "batch_account_name": endpoints.batch_account_name,
        "batch_account_key": endpoints.batch_account_key,
        "pool_id": f"spot-{uuid.uuid4().hex[:8]}",
        "vm_size": "standard_d2s_v3",
        "image": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
        "node_agent_sku_id": "batch.node.ubuntu 24.04",
        "wait_timeout_seconds": 60,
        **pool,
    }


def _checked(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


def test_a_spot_pool_is_created_and_resized_between_spot_and_dedicated(
    endpoints: Endpoints, batch_client: Any
) -> None:
    provider = PoolProvider()
    props = _checked(provider, _props(endpoints, target_low_priority_nodes=2))
    created = provider.create(props)
    try:
        pool = batch_client.get_pool(created.id)
        assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes) == (0, 2)
        nodes = list(batch_client.list_nodes(created.id))
        assert len(nodes) == 2 and all(not n.is_dedicated for n in nodes)
        assert created.outs["current_low_priority_nodes"] == 2
        news = _checked(provider, {**props, "target_low_priority_nodes": 1, "target_dedicated_nodes": 1})
        diff = provider.diff(created.id, created.outs, news)
        assert diff.changes and not diff.replaces, "a new scale is a resize, not a new pool"
        updated = provider.update(created.id, created.outs, news)
        assert len(updated.outs["node_ids"]) == 2
        kinds = sorted(bool(n.is_dedicated) for n in batch_client.list_nodes(created.id))
        assert kinds == [False, True]
    finally:
        provider.delete(created.id, created.outs)


def test_an_autoscale_pool_goes_to_the_service_as_an_autoscale_pool(
    endpoints: Endpoints, batch_client: Any
) -> None:
    """The provider sends enableAutoScale + formula. An emulator that evaluates formulas creates the pool
    and reports the evaluation; one that does not refuses it naming enableAutoScale, and no pool is left."""
    provider = PoolProvider()
    formula = "$TargetLowPriorityNodes = 1; $TargetDedicatedNodes = 0;"
    props = _checked(
        provider,
        _props(
            endpoints,
            enable_auto_scale=True,
            auto_scale_formula=formula,
            auto_scale_evaluation_interval="PT5M",
        ),
    )
    try:
        created = provider.create(props)
    except HttpResponseError as exc:
        assert "enableAutoScale" in str(exc)
        assert props["pool_id"] not in {p.id for p in batch_client.list_pools()}, "nothing left behind"
        return
    try:
        pool = batch_client.get_pool(created.id)
        assert pool.enable_auto_scale and pool.auto_scale_formula == formula
        assert created.outs["auto_scale_run"] is not None
        assert created.outs["current_low_priority_nodes"] == 1
    finally:
        provider.delete(created.id, created.outs)


def test_pool_check_names_autoscale_and_container_problems(endpoints: Endpoints) -> None:
    result = PoolProvider().check(
        {},
        _props(
            endpoints,
            enable_auto_scale=True,
            auto_scale_formula="$TargetDedicatedNodes = 1;",
            target_dedicated_nodes=2,
        ),
    )
    assert [f.property for f in result.failures] == ["target_dedicated_nodes"]
    bad_image = PoolProvider().check(
        {}, _props(endpoints, container_configuration={"container_image_names": ["Ubuntu:24.04"]})
    )
    assert [f.property for f in bad_image.failures] == ["container_configuration.container_image_names[0]"]


def test_preview_refuses_container_tasks_the_pool_cannot_run(endpoints: Endpoints) -> None:
    job = {
        "batch_account_url": endpoints.batch_url,
        "batch_account_name": endpoints.batch_account_name,
        "job_id": "containers",
        "pool_id": "p",
        "tasks": [
            {"id": "plain", "command_line": "true"},
            {
                "id": "boxed",
                "command_line": "python run.py",
                "container_settings": {"image_name": "ubuntu:24.04"},
            },
        ],
        "job_preparation_task": {"command_line": "true", "container_settings": {"image_name": "busybox"}},
    }
    refusal = "the local Batch emulator runs no container tasks"
    result = JobProvider().check({}, {**job, "container_refusal": refusal})
    failures = {f.property: f.reason for f in result.failures}
    assert set(failures) == {"tasks[1].container_settings", "job_preparation_task.container_settings"}
    assert all(refusal in reason for reason in failures.values())
    assert not JobProvider().check({}, job).failures, "a pool that runs containers accepts them"


def test_a_pool_stored_before_the_new_properties_existed_is_not_replaced(endpoints: Endpoints) -> None:
    provider = PoolProvider()
    news = _checked(provider, _props(endpoints, pool_id="old-pool", target_dedicated_nodes=2))
    stored = {k: v for k, v in news.items() if v not in (None, [], {}, False)}  # an older version's state
    assert not provider.diff("old-pool", stored, news).changes
    spot = provider.diff("old-pool", stored, {**news, "target_low_priority_nodes": 2})
    assert spot.changes and not spot.replaces
    mounted = {**news, "mount_configuration": [{"nfs": {"source": "h:/x", "relative_mount_path": "n"}}]}
    assert provider.diff("old-pool", stored, mounted).replaces == ["mount_configuration"]
