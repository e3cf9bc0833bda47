"""The pool's ARM mapping on the Azure backend, with ``pulumi.runtime.set_mocks`` (azure-native cannot run
offline): every pool feature reaches azure-native ``batch.Pool`` in ARM's spelling, secrets stay secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from arm_mocks import ArmMocks, is_secret, plain
from pool_samples import BASE, FULL

from pulumi_azbatch.config import load_stack_config

REPO = Path(__file__).resolve().parents[2]
CONTAINER_TASK = {
    "id": "t1",
    "command_line": "python /app/run.py",
    "container_settings": {"image_name": "ubuntu:24.04"},
}


def _prod_with(pool: dict[str, Any], tasks: list[dict[str, Any]]) -> Any:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    pool = {**pool, "identity": config["azbatch:pool"].get("identity")}
    return load_stack_config(
        {**config, "azbatch:pool": pool, "azbatch:job": {"id": "render", "tasks": tasks}}
    )


@pytest.fixture
def recorder() -> ArmMocks:
    mocks = ArmMocks()
    pulumi.runtime.set_mocks(mocks, project="azbatch", stack="prod", preview=False)
    return mocks


@pulumi.runtime.test
def test_every_pool_feature_reaches_the_arm_pool(recorder: ArmMocks) -> None:
    from pulumi_azbatch.components import AzureBackend, BatchWorkload

    config = _prod_with(FULL, [CONTAINER_TASK])
    workload = BatchWorkload("w", config, backend=AzureBackend(config.azure))
    assert workload.pool.container_refusal is None

    def check(_: Any) -> None:
        inputs = recorder.resources["w-pool"].inputs
        for key in ("deploymentConfiguration", "mountConfiguration", "userAccounts"):
            assert is_secret(inputs[key]), f"{key} holds passwords or keys and must be secret"
        pool = plain(inputs)
        assert pool["scaleSettings"] == {
            "autoScale": {
                "formula": FULL["auto_scale_formula"],
                "evaluationInterval": "PT5M",
            }
        }
        vm = pool["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vm["containerConfiguration"] == {
            "type": "DockerCompatible",
            "containerImageNames": ["myregistry.azurecr.io/tools/worker:1.2", "ubuntu:24.04"],
            "containerRegistries": [
                {"registryServer": "myregistry.azurecr.io", "userName": "puller", "password": "registry-pw"}
            ],
        }
        assert vm["osDisk"] == {
            "ephemeralOSDiskSettings": {"placement": "CacheDisk"}, "caching": "ReadOnly", "diskSizeGB": 64
        }  # fmt: skip
        assert vm["dataDisks"] == [
            {"lun": 0, "diskSizeGB": 128, "caching": "ReadWrite", "storageAccountType": "Premium_LRS"}
        ]
        assert vm["diskEncryptionConfiguration"] == {"targets": ["OsDisk", "TemporaryDisk"]}
        assert vm["nodePlacementConfiguration"] == {"policy": "Zonal"}
        mounts = pool["mountConfiguration"]
        assert mounts[2]["cifsMountConfiguration"]["userName"] == "u"
        assert mounts[0]["azureBlobFileSystemConfiguration"]["sasKey"] == "sv=2024&sig=abc"
        network = pool["networkConfiguration"]
        assert network["publicIPAddressConfiguration"] == {"provision": "NoPublicIPAddresses"}
        nat = network["endpointConfiguration"]["inboundNatPools"][0]
        assert (nat["protocol"], nat["backendPort"]) == ("TCP", 22)
        assert nat["networkSecurityGroupRules"][0]["access"] == "Allow"
        assert pool["userAccounts"][0]["elevationLevel"] == "Admin"
        assert pool["applicationPackages"] == [
            {
                "id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/"
                "azbatchprod001/applications/blender",
                "version": "4.1",
            }
        ]
        assert pool["interNodeCommunication"] == "Enabled"
        assert pool["upgradePolicy"] == {
            "mode": "automatic",
            "automaticOSUpgradePolicy": {"enableAutomaticOSUpgrade": True},
        }
        assert pool["taskSlotsPerNode"] == 4

    return workload.job.job_id.apply(check)


@pulumi.runtime.test
def test_a_fixed_spot_pool_maps_to_fixed_scale_with_low_priority_nodes(recorder: ArmMocks) -> None:
    from pulumi_azbatch.components import AzureBackend, BatchWorkload

    spot = {
        **BASE,
        "target_low_priority_nodes": 5,
        "resize_timeout": "PT20M",
        "target_node_communication_mode": "simplified",
    }
    config = _prod_with(spot, [{"id": "t1", "command_line": "true"}])
    workload = BatchWorkload("w", config, backend=AzureBackend(config.azure))

    def check(_: Any) -> None:
        pool = plain(recorder.resources["w-pool"].inputs)
        assert pool["scaleSettings"] == {
            "fixedScale": {"targetDedicatedNodes": 0, "targetLowPriorityNodes": 5, "resizeTimeout": "PT20M"}
        }
        assert pool["targetNodeCommunicationMode"] == "Simplified"
        assert "userAccounts" not in pool and "mountConfiguration" not in pool

    return workload.job.job_id.apply(check)


@pulumi.runtime.test
def test_the_spot_stack_example_declares_an_autoscaled_spot_pool_with_containers(recorder: ArmMocks) -> None:
    from pulumi_azbatch.components import AzureBackend, BatchWorkload

    from pulumi_azbatch.config import load_stack_file

    config = load_stack_file(REPO / "stacks" / "Pulumi.spot.yaml")
    assert config.azure is not None
    workload = BatchWorkload("w", config, backend=AzureBackend(config.azure))
    assert workload.pool.container_refusal is None, (
        "the pool runs containers, so its container tasks pass preview"
    )

    def check(_: Any) -> None:
        pool = plain(recorder.resources["w-pool"].inputs)
        assert "$TargetLowPriorityNodes" in pool["scaleSettings"]["autoScale"]["formula"]
        assert "fixedScale" not in pool["scaleSettings"]
        vm = pool["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vm["containerConfiguration"]["containerRegistries"][0]["identityReference"][
            "resourceId"
        ].endswith("/id-azbatch-spot")
        job = recorder.resources["w-job"].inputs
        repeat = plain(job["task_factories"])[0]["repeat_task"]
        assert repeat["container_settings"]["image_name"] == "crazbatchspot001.azurecr.io/render/worker:1.4.2"

    return workload.job.job_id.apply(check)


@pulumi.runtime.test
def test_local_backend_refuses_container_tasks_through_the_job_resource(recorder: ArmMocks) -> None:
    """An emulator without a container runtime (docs/containers.md): BatchJob hands the Job resource
    the pool's refusal, which its preview check reports at each container task. With a runtime in the
    endpoints file, a container pool has no refusal."""
    from pulumi_azbatch.components import BatchJob, BatchJobArgs, BatchPool, BatchPoolArgs, LocalBackend

    from pulumi_azbatch.endpoints import Endpoints
    from pulumi_azbatch.model.pool import PoolSpec

    endpoints = Endpoints(
        "http://127.0.0.1:1", "acct", "a2V5", "http://127.0.0.1:2/devstoreaccount1", "dev", "a2V5"
    )
    plain_pool = BatchPool("plain", BatchPoolArgs(PoolSpec.model_validate(BASE), LocalBackend(endpoints)))
    assert "no container_configuration" in str(plain_pool.container_refusal)
    boxed = {**BASE, "id": "boxed", "container_configuration": {"container_image_names": ["ubuntu:24.04"]}}
    pool = BatchPool("boxed", BatchPoolArgs(PoolSpec.model_validate(boxed), LocalBackend(endpoints)))
    assert "runs no container tasks" in str(pool.container_refusal)
    with_runtime = dataclasses.replace(endpoints, container_runtime="podman 4.3.1 (runc)")
    runs = BatchPool(
        "runs", BatchPoolArgs(PoolSpec.model_validate({**boxed, "id": "runs"}), LocalBackend(with_runtime))
    )
    assert runs.container_refusal is None
    job = BatchJob(
        "job",
        BatchJobArgs(
            {"id": "j", "tasks": [CONTAINER_TASK]}, pool, "https://a.blob/c?sig=x", persist_task_logs=False
        ),
    )

    def check(_: Any) -> None:
        assert recorder.resources["job"].inputs["container_refusal"] == pool.container_refusal
        assert is_secret(recorder.resources["boxed"].inputs["container_configuration"])

    return job.job_id.apply(check)
