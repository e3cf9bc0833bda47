"""The Pool provider with the pool features on the Batch emulator through the SDK (spot nodes, a
spot/dedicated resize, autoscale where the emulator accepts it), and container tasks refused at
preview (the Job provider's check) with the task's property named."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

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
    """The provider sends enableAutoScale + formula; the emulator evaluates it at once and the pool's
    ``auto_scale_run`` output carries the evaluation."""
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
    created = provider.create(props)
    try:
        pool = batch_client.get_pool(created.id)
        assert pool.enable_auto_scale and pool.auto_scale_formula == formula
        run = created.outs["auto_scale_run"]
        assert run["error"] is None and "$TargetLowPriorityNodes=1" in run["results"]
        assert created.outs["current_low_priority_nodes"] == 1
        assert all(not n.is_dedicated for n in batch_client.list_nodes(created.id))
    finally:
        provider.delete(created.id, created.outs)


def test_mounts_users_network_and_disks_reach_the_emulator_from_the_model(
    endpoints: Endpoints, batch_client: Any, tmp_path: Path
) -> None:
    """The pool's parts go through the model's SDK mapping to the emulator: an NFS mount of a local
    folder is readable by the start task at ``$AZ_BATCH_NODE_MOUNTS_DIR/<path>``, users are listed
    without their passwords, the network configuration is echoed."""
    shared = tmp_path / "export"
    shared.mkdir()
    (shared / "input.txt").write_text("from the mount\n")
    provider = PoolProvider()
    props = _checked(
        provider,
        _props(
            endpoints,
            mount_configuration=[{"nfs": {"source": str(shared), "relative_mount_path": "data"}}],
            user_accounts=[
                {"name": "runner", "password": "user-pw", "elevation_level": "admin"},
                {"name": "reader", "password": "reader-pw"},
            ],
            network_configuration={"public_ip_address_configuration": {"provision": "NoPublicIPAddresses"}},
            data_disks=[{"lun": 0, "disk_size_gb": 64}],
            node_placement={"policy": "regional"},
            start_task={
                "command_line": "/bin/sh -c 'cp $AZ_BATCH_NODE_MOUNTS_DIR/data/input.txt $AZ_BATCH_NODE_SHARED_DIR/'",
                "wait_for_success": True,
            },
        ),
    )
    created = provider.create(props)
    try:
        pool = batch_client.get_pool(created.id)
        assert [(u.name, u.elevation_level) for u in pool.user_accounts] == [
            ("runner", "admin"),
            ("reader", "nonadmin"),
        ]
        assert all(u.password is None for u in pool.user_accounts), "passwords are never answered"
        assert pool.network_configuration.public_ip_address_configuration.ip_address_provisioning_type == (
            "nopublicipaddresses"
        )
        assert [
            (d.logical_unit_number, d.disk_size_gb) for d in pool.virtual_machine_configuration.data_disks
        ] == [(0, 64)]
        node = created.outs["node_ids"][0]
        copied = b"".join(batch_client.download_node_file(created.id, node, "shared/input.txt")).decode()
        assert copied == "from the mount\n"
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
