"""The Azure backend of the components and the project program, with ``pulumi.runtime.set_mocks``.

The azure-native provider cannot run offline, so these tests record what the program registers: the
ARM resources and their inputs, the invokes (account keys), which values are secret, and the SAS. The
ContainerSas mock runs the real provider (signing is offline), so the SAS's permissions and protocol
are the ones a deployment would produce.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pulumi
import pytest
import yaml
from arm_mocks import BATCH_KEY, STORAGE_KEY, ArmMocks, is_secret, plain

from pulumi_azbatch.config import load_stack_config

REPO = Path(__file__).resolve().parents[2]


def _unsecret(value: Any) -> tuple[Any, bool]:
    """A mock input value without its secret wrapper, and whether it was secret."""
    return (value["value"], True) if is_secret(value) else (value, False)


def _stack_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]


def _load_program() -> Any:
    spec = importlib.util.spec_from_file_location("azbatch_program", REPO / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    return await output.future(), await output.is_secret()


@pytest.fixture
def recorder() -> ArmMocks:
    mocks = ArmMocks()
    pulumi.runtime.set_mocks(mocks, project="azbatch", stack="dev", preview=False)
    return mocks


@pulumi.runtime.test
def test_dev_stack_program_registers_the_azure_resources(recorder: ArmMocks) -> None:
    import json

    config = _stack_config("dev")
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    program = _load_program()
    workload = program.main()
    r = recorder.resources

    def check(_: Any) -> None:
        # the accounts the dev stack creates
        account = r["workload-pool-account"]
        assert account.typ == "azure-native:batch:BatchAccount"
        assert account.inputs["accountName"] == "azbatchdev001"
        assert account.inputs["resourceGroupName"] == "rg-azbatch-dev"
        assert account.inputs["location"] == "westeurope"
        assert "SharedKey" in account.inputs["allowedAuthenticationModes"]
        storage = r["workload-output-account"]
        assert storage.typ == "azure-native:storage:StorageAccount"
        assert storage.inputs["accountName"] == "stazbatchdev001"
        assert storage.inputs["sku"] == {"name": "Standard_LRS"}
        assert storage.inputs["enableHttpsTrafficOnly"] is True
        assert storage.inputs["allowBlobPublicAccess"] is False
        # the pool: azure-native batch.Pool with the stack's settings
        pool = r["workload-pool"]
        assert pool.typ == "azure-native:batch:Pool"
        assert pool.inputs["poolName"] == "prep-release-dev"
        assert pool.inputs["accountName"] == "azbatchdev001"
        assert pool.inputs["vmSize"] == "standard_d2s_v3"
        vmc = pool.inputs["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vmc["imageReference"] == {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        }
        assert vmc["nodeAgentSkuId"] == "batch.node.ubuntu 24.04"
        assert pool.inputs["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] == 2
        assert pool.inputs["taskSlotsPerNode"] == 1
        assert pool.inputs["taskSchedulingPolicy"] == {"nodeFillType": "Spread"}
        assert pool.inputs["startTask"]["commandLine"].startswith("/bin/sh -c")
        assert pool.inputs["startTask"]["waitForSuccess"] is True
        # the container: private, named by File Conventions from the job id
        container = r["workload-output-container"]
        assert container.typ == "azure-native:storage:BlobContainer"
        assert container.inputs["containerName"] == "job-prep-release-dev"
        assert container.inputs["publicAccess"] == "None"
        # the SAS: signed with the listKeys key (secret), create + write only, https only
        sas = r["workload-output-sas"]
        key, key_secret = _unsecret(sas.inputs["account_key"])
        assert key == STORAGE_KEY and key_secret
        assert sas.inputs["permissions"] == "cw"
        tokens = {c.token for c in recorder.calls}
        assert {
            "azure-native:storage:listStorageAccountKeys",
            "azure-native:batch:listBatchAccountKeys",
        } <= tokens
        # the job: account key and output container URL are secrets
        job = r["workload-job"]
        assert job.typ.endswith("azbatch:Job")
        url, url_secret = _unsecret(job.inputs["output_container_url"])
        assert url_secret and url.startswith(
            "https://stazbatchdev001.blob.core.windows.net/job-prep-release-dev?"
        )
        assert parse_qs(urlsplit(url).query)["sp"] == ["cw"]
        assert parse_qs(urlsplit(url).query)["spr"] == ["https"]
        batch_key, batch_key_secret = _unsecret(job.inputs["batch_account_key"])
        assert batch_key == BATCH_KEY and batch_key_secret
        assert plain(job.inputs["batch_account_url"]) == "https://azbatchdev001.westeurope.batch.azure.com"
        assert plain(job.inputs["pool_id"]) == "prep-release-dev"
        # every task (here: the factory's template) persists stdout/stderr to $TaskLog
        outputs = plain(job.inputs["task_factories"])[0]["repeat_task"]["output_files"]
        logs = {o["file_pattern"] for o in outputs if o.get("kind") == "TaskLog"}
        assert logs == {"../stdout.txt", "../stderr.txt"}
        # every child sits under its component
        assert r["workload-pool"].name and r["workload-job"].name

    async def secrets(_: Any) -> None:
        sas_url, sas_secret = await _resolve(workload.storage.sas_url)
        assert sas_secret and "sig=" in sas_url
        container_url, container_secret = await _resolve(workload.storage.container_url)
        assert container_url == "https://stazbatchdev001.blob.core.windows.net/job-prep-release-dev"
        assert "sig=" not in container_url
        assert (await _resolve(workload.pool.account_key))[1]

    return pulumi.Output.all(workload.job.job_id, workload.storage.sas_url).apply(check).apply(secrets)


@pulumi.runtime.test
def test_prod_stack_uses_existing_accounts_and_identity(recorder: ArmMocks) -> None:
    from pulumi_azbatch.components import AzureBackend, BatchWorkload

    config = load_stack_config(_stack_config("prod"))
    assert config.azure is not None
    workload = BatchWorkload("w", config, backend=AzureBackend(config.azure))
    r = recorder.resources

    def check(_: Any) -> None:
        types = {a.typ for a in r.values()}
        assert "azure-native:batch:BatchAccount" not in types, "prod references existing accounts"
        assert "azure-native:storage:StorageAccount" not in types
        tokens = {c.token: c.args for c in recorder.calls}
        assert tokens["azure-native:storage:getStorageAccount"]["resourceGroupName"] == "rg-storage-prod"
        assert tokens["azure-native:storage:listStorageAccountKeys"]["accountName"] == "stazbatchprod001"
        assert tokens["azure-native:batch:getBatchAccount"]["accountName"] == "azbatchprod001"
        pool = r["w-pool"]
        assert pool.inputs["identity"]["type"] == "UserAssigned"
        assert pool.inputs["identity"]["userAssignedIdentities"] == [
            config.pool.identity.user_assigned_identity_ids[0]  # type: ignore[union-attr]
        ]
        assert pool.inputs["taskSchedulingPolicy"] == {"nodeFillType": "Pack"}
        assert pool.inputs["startTask"]["userIdentity"] == {
            "autoUser": {"scope": "Pool", "elevationLevel": "Admin"}
        }
        assert r["w-output-container"].inputs["resourceGroupName"] == "rg-storage-prod"
        assert r["w-job"].inputs["job_id"] == "prep-release-prod"

    return workload.job.job_id.apply(check)


def test_azure_pool_replaces_on_immutable_properties() -> None:
    from pulumi_azbatch.components.pool import AZURE_POOL_REPLACE_ON_CHANGES

    # ARM answers PropertyCannotBeUpdated for these (Azure/Batch#85, terraform-provider-azurerm#19330)
    assert {"vmSize", "deploymentConfiguration", "taskSlotsPerNode"} <= set(AZURE_POOL_REPLACE_ON_CHANGES)


def _nightly_on_azure(**job_specification: Any) -> Any:
    """The nightly example's pools and schedules on the dev stack's Azure account, as a BatchWorkload."""
    from pulumi_azbatch.components import AzureBackend, BatchWorkload

    values = {k: v for k, v in _stack_config("dev").items() if k not in ("azbatch:pool", "azbatch:job")}
    nightly = _stack_config("nightly")
    values["azbatch:pools"] = nightly["azbatch:pools"]
    values["azbatch:schedules"] = copy.deepcopy(nightly["azbatch:schedules"])
    values["azbatch:schedules"]["nightly"]["job_specification"].update(job_specification)
    config = load_stack_config(values)
    assert config.azure is not None
    return BatchWorkload("w", config, backend=AzureBackend(config.azure))


@pulumi.runtime.test
def test_a_schedule_on_azure_gets_its_pool_account_and_its_own_container(recorder: ArmMocks) -> None:

    workload = _nightly_on_azure()
    r = recorder.resources

    def check(_: Any) -> None:
        container = r["w-schedule-output-nightly-container"]
        assert container.typ == "azure-native:storage:BlobContainer"
        assert container.inputs["containerName"] == "job-nightly-sweep"
        schedule = r["w-schedule-nightly"]
        assert schedule.typ.endswith("azbatch:JobSchedule")
        url, url_secret = _unsecret(schedule.inputs["output_container_url"])
        assert url_secret and url.startswith(
            "https://stazbatchdev001.blob.core.windows.net/job-nightly-sweep?"
        )
        batch_key, batch_key_secret = _unsecret(schedule.inputs["batch_account_key"])
        assert batch_key == BATCH_KEY and batch_key_secret
        assert (
            plain(schedule.inputs["batch_account_url"]) == "https://azbatchdev001.westeurope.batch.azure.com"
        )
        spec = plain(schedule.inputs["job_specification"])
        assert spec["pool_id"] == "cpu"
        logs = {
            o["file_pattern"] for o in spec["job_manager_task"]["output_files"] if o.get("kind") == "TaskLog"
        }
        assert logs == {"../stdout.txt", "../stderr.txt"}, "the job manager persists its logs like a task"

    return workload.schedules["nightly"].schedule_id.apply(check)


@pulumi.runtime.test
def test_a_schedules_file_conventions_sas_live_as_long_as_its_output_sas(recorder: ArmMocks) -> None:

    workload = _nightly_on_azure(file_conventions={"install_library": True})
    r = recorder.resources

    def check(_: Any) -> None:
        schedule = r["w-schedule-nightly"]
        tasks_url, tasks_secret = _unsecret(schedule.inputs["file_conventions_container_url"])
        assert tasks_secret and tasks_url.startswith(
            "https://stazbatchdev001.blob.core.windows.net/job-nightly-sweep?"
        )
        library_url, library_secret = _unsecret(schedule.inputs["file_conventions_library_url"])
        assert library_secret and "/job-nightly-sweep/%24Library/" in library_url
        assert plain(schedule.inputs["job_specification"])["file_conventions"] == {"install_library": True}
        # A run starts any time until the next `up`: not the job's 1-day default, the storage's lifetime.
        output_sas, tasks_sas = r["w-schedule-output-nightly-sas"], r["w-schedule-nightly-tasks-sas"]
        assert plain(tasks_sas.inputs["lifetime_seconds"]) == plain(output_sas.inputs["lifetime_seconds"])
        assert plain(tasks_sas.inputs["lifetime_seconds"]) > 86400

    return workload.schedules["nightly"].schedule_id.apply(check)
