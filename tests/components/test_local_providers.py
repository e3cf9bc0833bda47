"""The local backend's dynamic providers (Pool, ContainerSas) against the running emulators.

Pool: create waits for idle nodes (also under the emulator's realistic timing, with a job on the pool
after it), a failing start task fails the create and leaves no pool, resize
in place, immutable properties replace, delete waits until the pool is gone. ContainerSas: stable
across check/diff runs, rotated inside the margin, re-signed when its inputs change, and write-only
as Azurite enforces it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import dill
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from pulumi_azbatch.dynamic_providers import sas as sas_module
from pulumi_azbatch.dynamic_providers.job import JobProvider
from pulumi_azbatch.dynamic_providers.pool import PoolError, PoolProvider
from pulumi_azbatch.dynamic_providers.sas import ContainerSasProvider

from pulumi_azbatch.localdev import Endpoints


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _pool_props(endpoints: Endpoints, pool_id: str, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "batch_account_url": endpoints.batch_url,
        "batch_account_name": endpoints.batch_account_name,
        "batch_account_key": endpoints.batch_account_key,
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
    props.update(overrides)
    return props


def _checked(provider: Any, props: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    result = provider.check(olds or {}, props)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


# ---- Pool --------------------------------------------------------------------------------------------


def test_pool_create_waits_until_every_node_is_idle(
    endpoints: Endpoints, batch_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = PoolProvider()
    pool_id = _unique("pool")
    props = _checked(provider, _pool_props(endpoints, pool_id))
    created = provider.create(props)
    try:
        nodes = list(batch_client.list_nodes(pool_id))
        assert sorted(n.id for n in nodes) == created.outs["node_ids"]
        assert len(nodes) == 2
        # The start task takes a moment; create returned only once it succeeded on every node.
        assert {n.state.value for n in nodes} == {"idle"}
        assert all(n.start_task_info.exit_code == 0 for n in nodes)
        assert f"pool {pool_id}: 2/2 nodes ready" in capsys.readouterr().err
    finally:
        provider.delete(created.id, created.outs)


def test_pool_with_failing_start_task_fails_and_leaves_no_pool(
    endpoints: Endpoints, batch_client: Any
) -> None:
    provider = PoolProvider()
    pool_id = _unique("badstart")
    props = _checked(
        provider,
        _pool_props(
            endpoints, pool_id, target_dedicated_nodes=1, start_task={"command_line": "/bin/sh -c 'exit 7'"}
        ),
    )
    with pytest.raises(PoolError) as info:
        provider.create(props)
    message = str(info.value)
    assert "starttaskfailed" in message and "start task exit code 7" in message
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_pool(pool_id)


def test_pool_and_job_up_with_realistic_timing(
    endpoints: Endpoints,
    batch_client: Any,
    emulator_timing: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The providers' waits under the emulator's realistic timing (scale 0.01: each node spends about
    0.6 s `creating` and 0.9 s `starting` before its start task runs): the pool create waits through
    every state a real pool passes and returns with idle nodes; a job with preparation and release
    tasks then runs its tasks on it."""
    emulator_timing(mode="realistic", scale=0.01)
    pools, jobs = PoolProvider(), JobProvider()
    pool_id, job_id = _unique("slowpool"), _unique("slowjob")
    pool = pools.create(_checked(pools, _pool_props(endpoints, pool_id)))
    try:
        progress = capsys.readouterr().err
        assert "creating" in progress and "starting" in progress and "allocation resizing" in progress
        assert f"pool {pool_id}: 2/2 nodes ready" in progress
        assert {n.state.value for n in batch_client.list_nodes(pool_id)} == {"idle"}
        job_inputs = {
            "batch_account_url": endpoints.batch_url,
            "batch_account_name": endpoints.batch_account_name,
            "batch_account_key": endpoints.batch_account_key,
            "job_id": job_id,
            "pool_id": pool_id,
            "job_preparation_task": {"command_line": "/bin/true"},
            "job_release_task": {"command_line": "/bin/true"},
            "tasks": [{"id": f"task{i}", "command_line": "/bin/sh -c 'echo hi'"} for i in range(3)],
            "wait_for": "tasks",
            "wait_timeout": 60,
        }
        outs = jobs.create(_checked(jobs, job_inputs)).outs
        assert outs["task_counts"]["succeeded"] == 3
        jobs.delete(job_id, {**outs, "on_destroy": "delete"})
    finally:
        pools.delete(pool_id, pool.outs)


def test_pool_diff_replaces_immutable_properties_and_updates_node_count(endpoints: Endpoints) -> None:
    provider = PoolProvider()
    props = _checked(provider, _pool_props(endpoints, "p"))
    outs = {**props, "node_ids": ["a", "b"]}
    for key, value in [
        ("vm_size", "standard_d4s_v3"),
        ("task_slots_per_node", 4),
        ("image", {**props["image"], "sku": "server-arm64"}),
        ("task_scheduling_policy", "pack"),
    ]:
        diff = provider.diff("p", outs, {**props, key: value})
        assert diff.changes and diff.replaces == [key], key
        assert diff.delete_before_replace, "the replacement reuses the pool id"
    resize = provider.diff("p", outs, {**props, "target_dedicated_nodes": 5})
    assert resize.changes and not resize.replaces
    assert not provider.diff("p", outs, dict(props)).changes
    # a rotated key is not a change to the pool
    assert not provider.diff("p", outs, {**props, "batch_account_key": "rotated"}).replaces


def test_pool_update_resizes_in_place(endpoints: Endpoints, batch_client: Any) -> None:
    provider = PoolProvider()
    pool_id = _unique("resize")
    props = _checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1, start_task=None))
    created = provider.create(props)
    try:
        created_at = batch_client.get_pool(pool_id).creation_time
        news = _checked(provider, {**props, "target_dedicated_nodes": 3}, props)
        updated = provider.update(created.id, created.outs, news)
        assert len(updated.outs["node_ids"]) == 3
        assert set(created.outs["node_ids"]) <= set(updated.outs["node_ids"]), "the first node stays"
        assert len(list(batch_client.list_nodes(pool_id))) == 3
        pool = batch_client.get_pool(pool_id)
        assert pool.target_dedicated_nodes == 3
        assert pool.creation_time == created_at, "resized in place, not recreated"
        # And down again: two nodes leave, the pool stays.
        smaller = _checked(provider, {**news, "target_dedicated_nodes": 1}, news)
        shrunk = provider.update(created.id, updated.outs, smaller)
        assert len(shrunk.outs["node_ids"]) == 1
        assert [n.id for n in batch_client.list_nodes(pool_id)] == shrunk.outs["node_ids"]
        assert batch_client.get_pool(pool_id).creation_time == created_at
    finally:
        provider.delete(created.id, created.outs)


def test_pool_delete_waits_until_gone_so_the_id_can_be_reused(
    endpoints: Endpoints, batch_client: Any
) -> None:
    provider = PoolProvider()
    pool_id = _unique("reuse")
    props = _checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1))
    first = provider.create(props)
    provider.delete(first.id, first.outs)
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_pool(pool_id)
    second = provider.create(props)  # no PoolBeingDeleted race
    try:
        assert second.outs["node_ids"] != first.outs["node_ids"]
    finally:
        provider.delete(second.id, second.outs)
    provider.delete(second.id, second.outs)  # deleting a missing pool is not an error


def test_pool_read_reports_a_pool_deleted_out_of_band(endpoints: Endpoints, batch_client: Any) -> None:
    provider = PoolProvider()
    pool_id = _unique("drift")
    created = provider.create(_checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1)))
    assert provider.read(created.id, created.outs).id == pool_id
    provider.delete(created.id, created.outs)
    assert provider.read(created.id, created.outs).id == ""


def test_pool_existing_id_is_refused_clearly(endpoints: Endpoints) -> None:
    provider = PoolProvider()
    pool_id = _unique("taken")
    props = _checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1))
    created = provider.create(props)
    try:
        with pytest.raises(PoolError, match="already exists"):
            provider.create(props)
    finally:
        provider.delete(created.id, created.outs)


def test_pool_lost_create_answer_is_adopted_by_its_mark_and_foreign_pools_are_refused(
    endpoints: Endpoints, batch_client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    provider = PoolProvider()
    pool_id = _unique("lost")
    owner = {"owner_stack": "organization/azbatch/a", "owner_resource": "azbatch:Pool::workload-pool"}
    props = _checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1, **owner))
    created = provider.create(props)
    # The answer to the create was lost: the next up (a new nonce, no state) finds this resource's pool.
    again = _checked(provider, _pool_props(endpoints, pool_id, target_dedicated_nodes=1, **owner))
    assert again["owner_nonce"] != props["owner_nonce"]
    adopted = provider.create(again)
    assert adopted.outs["node_ids"] == created.outs["node_ids"]
    assert "made by this resource in an interrupted deployment; adopting it" in capfd.readouterr().err

    # Another stack: refused at check (preview) and create, naming the owner; with adopt: taken over.
    other = _pool_props(
        endpoints,
        pool_id,
        target_dedicated_nodes=1,
        owner_stack="organization/azbatch/b",
        owner_resource="azbatch:Pool::workload-pool",
    )
    refused = provider.check({}, other)
    assert (
        refused.failures
        and "belongs to stack organization/azbatch/a, resource azbatch:Pool::workload-pool"
        in (refused.failures[0].reason)
    )
    with pytest.raises(PoolError, match="belongs to stack organization/azbatch/a"):
        provider.create(_checked(provider, {**other, "pool_id": pool_id, "adopt": True}) | {"adopt": False})
    taken = provider.create(_checked(provider, {**other, "adopt": True}))
    assert taken.outs["adopted_from"]["pulumi_azbatch_stack"] == "organization/azbatch/a"
    # The first stack's destroy now... still owns the mark (pools cannot be re-marked): it deletes; the
    # taker's destroy finds the pool it adopted. A third, unrelated stack's state never deletes it.
    stranger = {**taken.outs, "owner_stack": "organization/azbatch/c", "adopted_from": None}
    provider.delete(pool_id, stranger)
    assert batch_client.get_pool(pool_id).id == pool_id
    assert "is not deleted: it now belongs to stack organization/azbatch/a" in capfd.readouterr().err
    provider.delete(pool_id, taken.outs)
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_pool(pool_id)


def test_pool_check_names_the_bad_property(endpoints: Endpoints) -> None:
    result = PoolProvider().check({}, _pool_props(endpoints, "bad id", task_slots_per_node=0))
    properties = {f.property for f in result.failures}
    assert {"pool_id", "task_slots_per_node"} <= properties


def test_providers_survive_a_dill_round_trip() -> None:
    # The engine pickles the provider into the state; by reference, since the class is importable.
    for provider in (PoolProvider(), ContainerSasProvider()):
        clone = dill.loads(dill.dumps(provider))
        assert type(clone) is type(provider)


# ---- ContainerSas ------------------------------------------------------------------------------------


def _sas_props(endpoints: Endpoints, container: str, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "blob_url": endpoints.blob_url,
        "account_name": endpoints.storage_account_name,
        "account_key": endpoints.storage_account_key,
        "container_name": container,
        "permissions": "cw",
        "lifetime_seconds": int(timedelta(days=30).total_seconds()),
        "rotation_margin_seconds": int(timedelta(days=7).total_seconds()),
        "start": None,
        "expiry": None,
    }
    props.update(overrides)
    return props


def _at(monkeypatch: pytest.MonkeyPatch, moment: Any) -> None:
    monkeypatch.setattr(sas_module, "_now", lambda: moment)


def test_sas_is_stable_across_runs(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ContainerSasProvider()
    props = _sas_props(endpoints, "stable")
    first = _checked(provider, props)
    created = provider.create(first)
    # Two more `pulumi up`s, a day and then three weeks later: same window, no diff, same SAS.
    for days in (1, 22):
        _at(monkeypatch, sas_module._parse(first["start"]) + timedelta(minutes=15, days=days))
        again = _checked(provider, props, first)
        assert (again["start"], again["expiry"]) == (first["start"], first["expiry"])
        assert not provider.diff(created.id, created.outs, again).changes
        assert provider.update(created.id, created.outs, again).outs["sas_url"] == created.outs["sas_url"]


def test_sas_rotates_inside_the_margin(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ContainerSasProvider()
    props = _sas_props(endpoints, "rotate")
    first = _checked(provider, props)
    created = provider.create(first)
    expiry = sas_module._parse(first["expiry"])
    later = expiry - timedelta(days=7) + timedelta(seconds=1)  # just inside the 7-day margin
    _at(monkeypatch, later)
    rotated = _checked(provider, props, first)
    assert sas_module._parse(rotated["expiry"]) == later + timedelta(days=30)
    assert sas_module._parse(rotated["start"]) == later - timedelta(minutes=15)
    diff = provider.diff(created.id, created.outs, rotated)
    assert diff.changes and not diff.replaces, "rotation re-signs in place"
    updated = provider.update(created.id, created.outs, rotated)
    assert updated.outs["sas_url"] != created.outs["sas_url"]


def test_sas_is_resigned_when_its_inputs_change(endpoints: Endpoints) -> None:
    provider = ContainerSasProvider()
    props = _sas_props(endpoints, "inputs")
    first = _checked(provider, props)
    created = provider.create(first)
    for change in ({"permissions": "rcw"}, {"account_key": "b3RoZXJrZXk="}, {"container_name": "other"}):
        news = _checked(provider, {**props, **change}, first)
        assert provider.diff(created.id, created.outs, news).changes, change


def test_sas_check_rejects_bad_permissions_and_margin(endpoints: Endpoints) -> None:
    provider = ContainerSasProvider()
    bad = provider.check({}, _sas_props(endpoints, "c", permissions="r"))
    assert [f.property for f in bad.failures] == ["permissions"]
    bad = provider.check({}, _sas_props(endpoints, "c", rotation_margin_seconds=10**9))
    assert [f.property for f in bad.failures] == ["rotation_margin_seconds"]


def test_sas_shape_https_only_on_https_endpoints(endpoints: Endpoints) -> None:
    provider = ContainerSasProvider()
    local = provider.create(_checked(provider, _sas_props(endpoints, "shape"))).outs
    query = parse_qs(local["sas_token"])
    assert query["sp"] == ["cw"] and query["sr"] == ["c"]
    assert "spr" not in query, "Azurite listens on http; an https-only SAS would be refused"
    st, se = sas_module._parse(local["start"]), sas_module._parse(local["expiry"])
    assert se - st == timedelta(days=30, minutes=15), "starts 15 minutes back"
    azure = provider.create(
        _checked(
            provider,
            _sas_props(
                endpoints, "shape", blob_url="https://acct.blob.core.windows.net", account_name="acct"
            ),
        )
    ).outs
    assert parse_qs(azure["sas_token"])["spr"] == ["https"]
    assert azure["sas_url"].startswith("https://acct.blob.core.windows.net/shape?")
    assert azure["container_url"] == "https://acct.blob.core.windows.net/shape"


def test_write_only_sas_is_enforced_by_azurite(endpoints: Endpoints, blob_service: BlobServiceClient) -> None:
    container = _unique("sas").lower()
    blob_service.create_container(container)
    provider = ContainerSasProvider()
    write_only = provider.create(_checked(provider, _sas_props(endpoints, container))).outs["sas_url"]
    client = ContainerClient.from_container_url(write_only)
    client.upload_blob("task-1/$TaskOutput/output.txt", b"hello")  # create + write: allowed
    assert (
        blob_service.get_blob_client(container, "task-1/$TaskOutput/output.txt").download_blob().readall()
        == b"hello"
    )
    with pytest.raises(HttpResponseError) as read:
        client.download_blob("task-1/$TaskOutput/output.txt").readall()
    assert read.value.status_code == 403
    with pytest.raises(HttpResponseError) as listing:
        list(client.list_blobs())
    assert listing.value.status_code == 403
    # Control: a SAS that grants read does read, so the 403s above come from the permissions.
    readable = provider.create(_checked(provider, _sas_props(endpoints, container, permissions="rcw"))).outs[
        "sas_url"
    ]
    assert (
        ContainerClient.from_container_url(readable).download_blob("task-1/$TaskOutput/output.txt").readall()
        == b"hello"
    )
