"""Compute node administration through the SDK (service/node_admin.py): scheduling on/off,
deallocate/start, node users, remote login settings, service log upload, VM extensions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from emulator_helpers import pool_options, unique, wait_for, wait_task


def _idle_nodes(client: BatchClient, pool_id: str, count: int) -> list[m.BatchNode]:
    return wait_for(
        lambda: len(ns := [n for n in client.list_nodes(pool_id) if n.state == "idle"]) == count and ns
    )


def test_disabled_node_gets_no_new_tasks_and_requeues_running_ones(client: BatchClient) -> None:
    pool_id = unique("sched")
    client.create_pool(pool_options(pool_id, nodes=1, task_slots_per_node=2))
    (node,) = _idle_nodes(client, pool_id, 1)
    job_id = unique("schedjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 30"))
    wait_task(client, job_id, "long", "running")
    client.disable_node_scheduling(
        pool_id, node.id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="requeue")
    )
    assert client.get_node(pool_id, node.id).scheduling_state == "disabled"
    task = wait_task(client, job_id, "long", "active")
    assert task.execution_info.requeue_count == 1
    client.create_task(job_id, m.BatchTaskCreateOptions(id="quick", command_line="/bin/true"))
    with pytest.raises(AssertionError):  # nothing runs on a node with scheduling disabled
        wait_task(client, job_id, "quick", "completed", timeout=1.5)
    # Idempotent, as the service is. (azure-batch 15.1.0 fails client-side without options.)
    client.disable_node_scheduling(
        pool_id, node.id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="terminate")
    )
    client.enable_node_scheduling(pool_id, node.id)
    assert client.get_node(pool_id, node.id).scheduling_state == "enabled"
    wait_task(client, job_id, "quick", "completed")
    client.terminate_task(job_id, "long")


def test_deallocate_and_start(client: BatchClient) -> None:
    pool_id = unique("dealloc")
    client.create_pool(pool_options(pool_id, nodes=1))
    (node,) = _idle_nodes(client, pool_id, 1)
    with pytest.raises(HttpResponseError) as err:  # only a deallocated node starts
        client.begin_start_node(pool_id, node.id, polling_interval=0.1).result()
    assert err.value.status_code == 409
    # azure-batch 15.1.0 fails client-side without options (as for terminate_job), so always send one.
    options = m._models.BatchNodeDeallocateOptions(node_deallocate_option="requeue")
    client.begin_deallocate_node(pool_id, node.id, options, polling_interval=0.1).result()
    assert client.get_node(pool_id, node.id).state == "deallocated"
    assert next(c for c in client.list_pool_node_counts() if c.pool_id == pool_id).dedicated.deallocated == 1
    client.begin_start_node(pool_id, node.id, polling_interval=0.1).result()
    assert wait_for(lambda: client.get_node(pool_id, node.id).state == "idle")


def test_node_users(client: BatchClient, shared_pool: str) -> None:
    node = next(iter(client.list_nodes(shared_pool)))
    name = unique("u")[:20]
    user = m.BatchNodeUserCreateOptions(name=name, is_admin=True, password="P4ssw0rd!x")
    client.create_node_user(shared_pool, node.id, user)
    with pytest.raises(ResourceExistsError) as err:
        client.create_node_user(shared_pool, node.id, user)
    assert err.value.error.code == "NodeUserExists"
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    client.replace_node_user(
        shared_pool, node.id, name, m.BatchNodeUserReplaceOptions(password="N3wP4ss!", expiry_time=expiry)
    )
    client.delete_node_user(shared_pool, node.id, name)
    with pytest.raises(ResourceNotFoundError) as err:
        client.delete_node_user(shared_pool, node.id, name)
    assert err.value.error.code == "NodeUserNotFound"


def test_remote_login_settings_name_the_loopback(client: BatchClient, shared_pool: str) -> None:
    nodes = list(client.list_nodes(shared_pool))
    settings = [client.get_node_remote_login_settings(shared_pool, n.id) for n in nodes]
    assert {s.remote_login_ip_address for s in settings} == {"127.0.0.1"}
    assert len({s.remote_login_port for s in settings}) == len(nodes)


def test_upload_service_logs_writes_to_the_container(client: BatchClient, azurite_storage: Any) -> None:
    pool_id = unique("logs")
    client.create_pool(
        pool_options(pool_id, nodes=1, start_task=m.BatchStartTask(command_line="/bin/echo booted"))
    )
    (node,) = _idle_nodes(client, pool_id, 1)
    container = unique("logs")
    azurite_storage.create_container(container)
    result = client.upload_node_logs(
        pool_id,
        node.id,
        m.UploadBatchServiceLogsOptions(
            container_url=azurite_storage.container_url(container, "cw"),
            start_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        ),
    )
    assert result.virtual_directory_name.startswith(f"{pool_id}/{node.id}/")
    names = azurite_storage.blob_names(container)
    assert result.number_of_files_uploaded == len(names) and len(names) >= 2
    assert f"{result.virtual_directory_name}/startup-stdout.txt" in names
    assert b"booted" in azurite_storage.read(container, f"{result.virtual_directory_name}/startup-stdout.txt")
    with pytest.raises(HttpResponseError) as err:  # a container that does not exist
        client.upload_node_logs(
            pool_id,
            node.id,
            m.UploadBatchServiceLogsOptions(
                container_url=azurite_storage.container_url(unique("absent"), "cw"),
                start_time=dt.datetime.now(dt.UTC),
            ),
        )
    assert err.value.status_code == 400


def test_extensions_are_the_pools(client: BatchClient) -> None:
    pool_id = unique("ext")
    options = pool_options(pool_id, nodes=1)
    options.virtual_machine_configuration = m.VirtualMachineConfiguration(
        image_reference=options.virtual_machine_configuration.image_reference,
        node_agent_sku_id="batch.node.ubuntu 22.04",
        extensions=[
            m.VMExtension(
                name="monitor",
                publisher="Microsoft.Azure.Monitor",
                type="AzureMonitorLinuxAgent",
                type_handler_version="1.0",
                protected_settings={"secret": "s3cret"},
            )
        ],
    )
    client.create_pool(options)
    (node,) = _idle_nodes(client, pool_id, 1)
    (listed,) = list(client.list_node_extensions(pool_id, node.id))
    assert listed.vm_extension.name == "monitor" and listed.provisioning_state == "Succeeded"
    assert listed.instance_view.statuses[0].code == "ProvisioningState/succeeded"
    assert listed.vm_extension.protected_settings is None  # write-only, never returned
    assert (
        client.get_node_extension(pool_id, node.id, "MONITOR").vm_extension.type == "AzureMonitorLinuxAgent"
    )
    with pytest.raises(ResourceNotFoundError):
        client.get_node_extension(pool_id, node.id, "absent")
    ext = client.get_pool(pool_id).virtual_machine_configuration.extensions[0]
    assert ext.protected_settings is None
