"""The pool model: each pool feature's rules (key-named errors) and its data-plane (SDK) mapping."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from azure.batch import models as m
from pool_samples import BASE, FULL

from pulumi_azbatch.config import StackConfigError, load_stack_config
from pulumi_azbatch.model.pool import PoolSpec, validate_pool


def options_interval(body: dict[str, Any]) -> timedelta:
    return m.BatchPoolCreateOptions(body).auto_scale_evaluation_interval


def problems(data: dict[str, Any]) -> dict[str, str]:
    spec, failures = validate_pool(data)
    assert spec is None, "expected the pool to be invalid"
    return {f.property: f.reason for f in failures}


def test_a_full_pool_validates_and_maps_every_feature_to_the_data_plane() -> None:
    pool = PoolSpec.model_validate(FULL)
    body = pool.to_batch_pool_create().as_dict()
    vm = body["virtualMachineConfiguration"]
    assert body["enableAutoScale"] is True and "targetDedicatedNodes" not in body
    assert options_interval(body) == timedelta(minutes=5)
    assert vm["containerConfiguration"]["type"] == "dockerCompatible"
    assert vm["containerConfiguration"]["containerRegistries"][0]["password"] == "registry-pw"
    assert [sorted(k) for k in body["mountConfiguration"]] == [
        ["azureBlobFileSystemConfiguration"],
        ["nfsMountConfiguration"],
        ["cifsMountConfiguration"],
        ["azureFileShareConfiguration"],
    ]
    nat = body["networkConfiguration"]["endpointConfiguration"]["inboundNATPools"][0]
    assert (nat["backendPort"], nat["frontendPortRangeEnd"]) == (22, 1099)
    assert body["networkConfiguration"]["publicIPAddressConfiguration"]["provision"] == "nopublicipaddresses"
    assert body["userAccounts"][0]["linuxUserConfiguration"] == {"uid": 1001, "gid": 1001}
    assert body["applicationPackageReferences"] == [{"applicationId": "blender", "version": "4.1"}]
    assert vm["nodePlacementConfiguration"] == {"policy": "zonal"}
    assert vm["osDisk"]["ephemeralOSDiskSettings"] == {"placement": "cachedisk"}
    assert vm["dataDisks"][0] == {
        "lun": 0, "caching": "readwrite", "diskSizeGB": 128, "managedDisk": {"storageAccountType": "premium_lrs"}
    }  # fmt: skip
    assert vm["diskEncryptionConfiguration"] == {"targets": ["osdisk", "temporarydisk"]}
    assert body["upgradePolicy"]["automaticOSUpgradePolicy"] == {"enableAutomaticOSUpgrade": True}
    assert body["enableInterNodeCommunication"] is True


def test_the_sdk_body_round_trips_through_its_wire_form() -> None:
    """What the Pool provider sends parses back to the same SDK object (no field lost or renamed)."""
    options = PoolSpec.model_validate(FULL).to_batch_pool_create()
    wire = json.loads(json.dumps(options.as_dict()))
    assert m.BatchPoolCreateOptions(wire).as_dict() == options.as_dict()


def test_a_fixed_spot_pool_defaults_dedicated_to_zero_and_no_targets_means_one_node() -> None:
    spot = PoolSpec.model_validate({**BASE, "target_low_priority_nodes": 3, "resize_timeout": "PT10M"})
    body = spot.to_batch_pool_create().as_dict()
    assert (body["targetDedicatedNodes"], body["targetLowPriorityNodes"]) == (0, 3)
    assert spot.to_batch_pool_create().resize_timeout == timedelta(minutes=10)
    assert PoolSpec.model_validate(BASE).to_batch_pool_create().target_dedicated_nodes == 1


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"enable_auto_scale": True}, "auto_scale_formula", "required with enable_auto_scale"),
        ({"enable_auto_scale": True, "auto_scale_formula": "$TargetDedicatedNodes=1;", "target_dedicated_nodes": 2},
         "target_dedicated_nodes", "not allowed with enable_auto_scale"),
        ({"enable_auto_scale": True, "auto_scale_formula": "x=1;", "target_low_priority_nodes": 2},
         "target_low_priority_nodes", "not allowed"),
        ({"auto_scale_formula": "$TargetDedicatedNodes=1;"}, "auto_scale_formula", "only used with enable_auto_scale"),
        ({"enable_auto_scale": True, "auto_scale_formula": "x=1;", "auto_scale_evaluation_interval": "PT1M"},
         "auto_scale_evaluation_interval", "outside 5 min"),
        ({"resize_timeout": "PT1M"}, "resize_timeout", "shorter than 5 min"),
        ({"target_low_priority_nodes": -1}, "target_low_priority_nodes", "greater than or equal to 0"),
        ({"container_configuration": {"type": "podman"}}, "container_configuration.type", "dockerCompatible"),
        ({"container_configuration": {"container_image_names": ["ok:1", "Bad Image"]}},
         "container_configuration.container_image_names[1]", "not a container image reference"),
        ({"container_configuration": {"container_registries": [{"registry_server": "r.io", "username": "u"}]}},
         "container_configuration.container_registries[0]", "username and password must be given together"),
        ({"mount_configuration": [{"nfs": {"source": "h:/x", "relative_mount_path": "/abs"}}]},
         "mount_configuration[0].nfs.relative_mount_path", "relative path"),
        ({"mount_configuration": [{"azure_blob_file_system": {"account_name": "acct", "container_name": "data",
                                                               "relative_mount_path": "d"}}]},
         "mount_configuration[0].azure_blob_file_system", "exactly one of account_key, sas_key"),
        ({"mount_configuration": [{}]}, "mount_configuration[0]", "exactly one of azure_blob_file_system"),
        ({"mount_configuration": [{"nfs": {"source": "a:/", "relative_mount_path": "x"}},
                                  {"nfs": {"source": "b:/", "relative_mount_path": "x"}}]},
         "mount_configuration[1]", "used twice"),
        ({"network_configuration": {"subnet_id": "subnet-1"}}, "network_configuration.subnet_id", "ARM id of a subnet"),
        ({"network_configuration": {"inbound_nat_pools": [{"name": "a", "protocol": "tcp", "backend_port": 29876,
                                                           "frontend_port_range_start": 1,
                                                           "frontend_port_range_end": 100}]}},
         "network_configuration.inbound_nat_pools[0].backend_port", "reserved"),
        ({"network_configuration": {"inbound_nat_pools": [{"name": "a", "protocol": "tcp", "backend_port": 22,
                                                           "frontend_port_range_start": 50010,
                                                           "frontend_port_range_end": 50100}]}},
         "network_configuration.inbound_nat_pools[0]", "reserved by the Batch service"),
        ({"network_configuration": {"public_ip_address_configuration": {"provision": "usermanaged"}}},
         "network_configuration.public_ip_address_configuration", "needs ip_address_ids"),
        ({"user_accounts": [{"name": "a", "password": "p"}, {"name": "A", "password": "q"}]},
         "user_accounts[1].name", "used twice"),
        ({"user_accounts": [{"name": "a", "password": "p", "linux_user_configuration": {"uid": 5}}]},
         "user_accounts[0].linux_user_configuration", "uid and gid"),
        ({"application_package_references": [{"application_id": "a"}] * 11},
         "application_package_references", "at most 10"),
        ({"data_disks": [{"lun": 1, "disk_size_gb": 1}, {"lun": 1, "disk_size_gb": 2}]}, "data_disks[1].lun", "twice"),
        ({"os_disk": {"ephemeral_os_disk_placement": "cachedisk", "storage_account_type": "premium_lrs"}},
         "os_disk", "ephemeral OS disk has no managed disk"),
        ({"node_placement": {"policy": "zonl"}}, "node_placement.policy", "did you mean 'zonal'"),
        ({"disk_encryption": {"targets": ["datadisk"]}}, "disk_encryption.targets[0]", "unknown disk"),
        ({"upgrade_policy": {"mode": "manual", "rolling_upgrade_policy": {}}}, "upgrade_policy", "only with mode rolling"),
        ({"target_node_communication_mode": "fast"}, "target_node_communication_mode", "simplified"),
    ],
)  # fmt: skip
def test_each_feature_reports_bad_input_at_its_key(change: dict[str, Any], key: str, words: str) -> None:
    found = problems({**BASE, **change})
    assert key in found, found
    assert words in found[key]


def test_secrets_stay_out_of_reprs_and_are_marked_in_the_schema() -> None:
    pool = PoolSpec.model_validate(FULL)
    text = repr(pool)
    for secret in ("registry-pw", "cifs-pw", "file-key", "user-pw", "sv=2024&sig=abc"):
        assert secret not in text
    schema = json.dumps(PoolSpec.model_json_schema())
    assert schema.count('"x-secret": true') >= 5


def _stack(pool: dict[str, Any], job: dict[str, Any], backend: str = "local") -> dict[str, Any]:
    return {"azbatch:backend": backend, "azbatch:pool": pool, "azbatch:job": job}


def test_stack_config_names_the_pool_key_of_each_problem() -> None:
    job = {"id": "j", "tasks": [{"id": "t", "command_line": "true"}]}
    for pool, key in (
        ({**BASE, "container_configuration": {"container_image_names": ["Ubuntu"]}},
         "azbatch:pool.container_configuration.container_image_names[0]"),
        ({**BASE, "enable_auto_scale": True}, "azbatch:pool.auto_scale_formula"),
    ):  # fmt: skip
        with pytest.raises(StackConfigError) as caught:
            load_stack_config(_stack(pool, job))
        assert [f.key for f in caught.value.failures] == [key]


def test_a_container_task_needs_a_pool_with_container_configuration() -> None:
    job = {
        "id": "j",
        "tasks": [{"id": "t", "command_line": "python run.py", "container_settings": {"image_name": "ubuntu:24.04"}}],
        "task_factories": [{"type": "parametric_sweep", "parameter_sets": [{"start": 1, "end": 2}],
                            "repeat_task": {"command_line": "echo {0}",
                                            "container_settings": {"image_name": "ubuntu:24.04"}}}],
    }  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        load_stack_config(_stack(BASE, job))
    failures = {f.key: f.reason for f in caught.value.failures}
    assert set(failures) == {
        "azbatch:job.tasks[0].container_settings",
        "azbatch:job.task_factories[0].repeat_task.container_settings",
    }
    assert "no container_configuration" in failures["azbatch:job.tasks[0].container_settings"]
    pool = {**BASE, "container_configuration": {"container_image_names": ["ubuntu:24.04"]}}
    assert load_stack_config(_stack(pool, job)).pool.container_configuration is not None


def test_a_container_pool_runs_regular_tasks_only_in_containers() -> None:
    pool = {**BASE, "container_configuration": {"container_image_names": ["ubuntu:24.04"]}}
    job = {
        "id": "j",
        "job_preparation_task": {"command_line": "true"},  # may run outside a container
        "tasks": [
            {"id": "boxed", "command_line": "true", "container_settings": {"image_name": "ubuntu:24.04"}},
            {"id": "bare", "command_line": "true"},
        ],
    }
    with pytest.raises(StackConfigError) as caught:
        load_stack_config(_stack(pool, job))
    failures = {f.key: f.reason for f in caught.value.failures}
    assert list(failures) == ["azbatch:job.tasks[1]"]
    assert "give this task container_settings" in failures["azbatch:job.tasks[1]"]


def test_target_node_communication_mode_is_azure_only() -> None:
    with pytest.raises(StackConfigError) as caught:
        load_stack_config(_stack({**BASE, "target_node_communication_mode": "simplified"}, {"id": "j"}))
    assert [f.key for f in caught.value.failures] == ["azbatch:pool.target_node_communication_mode"]


def test_durations_accept_iso_8601() -> None:
    pool = PoolSpec.model_validate({**BASE, "enable_auto_scale": True, "auto_scale_formula": "x=1;",
                                    "auto_scale_evaluation_interval": "PT2H"})  # fmt: skip
    assert pool.auto_scale_evaluation_interval == timedelta(hours=2)
