"""Pool update (PATCH), replace properties, account lists and the pool features accepted as Azure
accepts them (service/pools.py, service/account.py, validation.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from emulator_helpers import LINUX, pool_options, unique, wait_for, wait_task


def test_update_pool_patches_and_replace_properties_replaces(client: BatchClient) -> None:
    pool_id = unique("upd")
    client.create_pool(
        pool_options(
            pool_id,
            nodes=1,
            start_task=m.BatchStartTask(command_line="/bin/true"),
            metadata=[m.BatchMetadataItem(name="team", value="a")],
        )
    )
    client.update_pool(
        pool_id, m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="team", value="b")])
    )
    pool = client.get_pool(pool_id)
    assert [(i.name, i.value) for i in pool.metadata] == [("team", "b")]
    assert pool.start_task.command_line == "/bin/true"  # omitted: unchanged
    with pytest.raises(HttpResponseError) as err:  # only while the pool is empty
        client.update_pool(pool_id, m.BatchPoolUpdateOptions(vm_size="standard_d4s_v3"))
    assert err.value.status_code == 409
    client.replace_pool_properties(
        pool_id, m.BatchPoolReplaceOptions(application_package_references=[], metadata=[])
    )
    pool = client.get_pool(pool_id)
    assert pool.start_task is None and not pool.metadata  # replaced as a whole
    empty = unique("upd")
    client.create_pool(pool_options(empty, nodes=0))
    client.update_pool(empty, m.BatchPoolUpdateOptions(vm_size="standard_d4s_v3", task_slots_per_node=3))
    pool = client.get_pool(empty)
    assert (pool.vm_size, pool.task_slots_per_node) == ("standard_d4s_v3", 3)


def test_account_lists(client: BatchClient, shared_pool: str) -> None:
    images = list(client.list_supported_images())
    assert any(i.node_agent_sku_id == "batch.node.ubuntu 22.04" and i.os_type == "linux" for i in images)
    counts = next(c for c in client.list_pool_node_counts() if c.pool_id == shared_pool)
    assert counts.dedicated.total == 2 and counts.dedicated.idle + counts.dedicated.running == 2
    assert counts.low_priority.total == 0
    assert list(client.list_pool_usage_metrics()) == []
    assert list(client.list_applications()) == []
    with pytest.raises(HttpResponseError) as err:
        client.get_application("absent")
    assert err.value.status_code == 404 and err.value.error.code == "ApplicationNotFound"


def test_windows_pool_is_created_and_its_tasks_fail_clearly(client: BatchClient) -> None:
    pool_id = unique("win")
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=1,
            virtual_machine_configuration=m.VirtualMachineConfiguration(
                image_reference=m.BatchVmImageReference(
                    publisher="microsoftwindowsserver", offer="windowsserver", sku="2022-datacenter"
                ),
                node_agent_sku_id="batch.node.windows amd64",
                windows_configuration=m.WindowsConfiguration(enable_automatic_updates=False),
            ),
        )
    )
    wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"])
    job_id = unique("winjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task(job_id, m.BatchTaskCreateOptions(id="dir", command_line="cmd /c dir"))
    task = wait_task(client, job_id, "dir")
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "CommandLaunchFailed"
    assert "Windows" in task.execution_info.failure_info.message


def test_accepted_pool_features_are_echoed_without_secrets(client: BatchClient, tmp_path: Path) -> None:
    shared = tmp_path / "share"
    shared.mkdir()
    (shared / "input.txt").write_text("from the share")
    pool_id = unique("feat")
    vmc = m.VirtualMachineConfiguration(
        image_reference=LINUX.image_reference,
        node_agent_sku_id="batch.node.ubuntu 22.04",
        disk_encryption_configuration=m.DiskEncryptionConfiguration(targets=["osdisk", "temporarydisk"]),
    )
    options = pool_options(
        pool_id,
        nodes=1,
        user_accounts=[m.UserAccount(name="worker", password="S3cret!pass", elevation_level="admin")],
        network_configuration=m.NetworkConfiguration(
            subnet_id="/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/default"
        ),
        mount_configuration=[
            m.MountConfiguration(
                nfs_mount_configuration=m.NfsMountConfiguration(
                    source=str(shared), relative_mount_path="data"
                )
            ),
            m.MountConfiguration(
                azure_blob_file_system_configuration=m.AzureBlobFileSystemConfiguration(
                    account_name="devstoreaccount1",
                    container_name="inputs",
                    relative_mount_path="blobs",
                    account_key="c2VjcmV0",
                )
            ),
        ],
    )
    options.virtual_machine_configuration = vmc
    client.create_pool(options)
    pool = client.get_pool(pool_id)
    assert [(u.name, u.password) for u in pool.user_accounts] == [("worker", None)]
    assert pool.network_configuration.subnet_id.endswith("/subnets/default")
    assert pool.virtual_machine_configuration.disk_encryption_configuration.targets == [
        "osdisk",
        "temporarydisk",
    ]
    blob = next(c for c in pool.mount_configuration if c.azure_blob_file_system_configuration)
    assert blob.azure_blob_file_system_configuration.account_key is None
    wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"])
    job_id = unique("mnt")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(
            id="read",
            command_line="/bin/sh -c 'cat $AZ_BATCH_NODE_MOUNTS_DIR/data/input.txt && test -d $AZ_BATCH_NODE_MOUNTS_DIR/blobs'",
        ),
    )
    task = wait_task(client, job_id, "read")
    assert task.execution_info.exit_code == 0, task.execution_info
    assert b"".join(client.download_task_file(job_id, "read", "stdout.txt")) == b"from the share"
