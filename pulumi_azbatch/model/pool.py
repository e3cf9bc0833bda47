"""The pool: :class:`PoolSpec` and its parts, with the pool's SDK (data plane) and ARM mappings.

Owns: :class:`PoolSpec`, :class:`ImageReferenceSpec`, :class:`StartTaskSpec`,
:class:`PoolIdentitySpec`; ``to_batch_pool_create`` (``azure.batch.models``, what the local Pool
provider sends) and ``to_arm_pool_args`` (azure-native ``batch.Pool`` arguments, what the
``BatchPool`` component declares on Azure), and which pool properties cannot change in place.

May import: :mod:`.common`, :mod:`.tasks`, pydantic, ``azure.batch.models``; azure-native's argument
types only inside the ``to_arm_*`` methods (only Azure deployments need them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from azure.batch import models as batch_models
from pydantic import BeforeValidator, Field, field_validator

from .common import ID_PATTERN, EnvironmentValue, SpecModel, choice, error
from .tasks import ResourceFileSpec, UserIdentitySpec, env_to_sdk

__all__ = [
    "ARM_POOL_REPLACE_ON_CHANGES",
    "ImageReferenceSpec",
    "NodeFillType",
    "PoolIdentitySpec",
    "PoolSpec",
    "StartTaskSpec",
]

#: ARM rejects changes to these pool properties (PropertyCannotBeUpdated); replace the pool instead.
ARM_POOL_REPLACE_ON_CHANGES = [
    "vmSize",
    "deploymentConfiguration",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
]

NodeFillType = Annotated[
    Literal["spread", "pack"], BeforeValidator(choice("task scheduling policy", ["spread", "pack"]))
]


class ImageReferenceSpec(SpecModel):
    """A Marketplace image of the pool's nodes (``imageReference``)."""

    publisher: str = Field(min_length=1, description="e.g. canonical")
    offer: str = Field(min_length=1, description="e.g. ubuntu-24_04-lts")
    sku: str = Field(min_length=1, description="e.g. server")
    version: str = Field(default="latest", min_length=1)

    def to_sdk(self) -> batch_models.BatchVmImageReference:
        """The data-plane ``BatchVmImageReference``."""
        return batch_models.BatchVmImageReference(
            publisher=self.publisher, offer=self.offer, sku=self.sku, version=self.version
        )

    def to_arm(self) -> Any:
        """The azure-native (ARM) ``batch.ImageReferenceArgs``."""
        from pulumi_azure_native import batch

        return batch.ImageReferenceArgs(
            publisher=self.publisher, offer=self.offer, sku=self.sku, version=self.version
        )


class StartTaskSpec(SpecModel):
    """The pool's start task: runs on every node when it joins the pool (or reboots/reimages).

    Command lines run without a shell, as for every Batch task; use ``/bin/sh -c '...'``.
    ``wait_for_success`` (default true) keeps a node out of scheduling until the start task succeeded.
    """

    command_line: str = Field(min_length=1, description="Run without a shell; use /bin/sh -c '...'.")
    resource_files: list[ResourceFileSpec] = Field(default_factory=list)
    environment_settings: dict[str, EnvironmentValue] = Field(default_factory=dict)
    user_identity: UserIdentitySpec | None = None
    max_task_retry_count: int = Field(default=0, ge=-1)
    wait_for_success: bool = True

    def to_sdk(self) -> batch_models.BatchStartTask:
        """The data-plane ``BatchStartTask``."""
        return batch_models.BatchStartTask(
            command_line=self.command_line,
            resource_files=[f.to_sdk() for f in self.resource_files] or None,
            environment_settings=env_to_sdk(self.environment_settings),
            user_identity=self.user_identity.to_sdk() if self.user_identity else None,
            max_task_retry_count=self.max_task_retry_count,
            wait_for_success=self.wait_for_success,
        )

    def to_arm(self) -> Any:
        """The azure-native (ARM) ``batch.StartTaskArgs``."""
        from pulumi_azure_native import batch

        return batch.StartTaskArgs(
            command_line=self.command_line,
            resource_files=[f.to_arm() for f in self.resource_files] or None,
            environment_settings=[
                batch.EnvironmentSettingArgs(name=k, value=v) for k, v in self.environment_settings.items()
            ]
            or None,
            user_identity=self.user_identity.to_arm() if self.user_identity else None,
            max_task_retry_count=self.max_task_retry_count,
            wait_for_success=self.wait_for_success,
        )


class PoolIdentitySpec(SpecModel):
    """User-assigned managed identities of the pool (Azure only), by ARM resource id."""

    user_assigned_identity_ids: list[str] = Field(min_length=1)

    @field_validator("user_assigned_identity_ids")
    @classmethod
    def _arm_ids(cls, ids: list[str]) -> list[str]:
        for value in ids:
            if "/providers/microsoft.managedidentity/userassignedidentities/" not in value.lower():
                raise error(
                    f"{value!r} is not the ARM id of a user-assigned identity "
                    "(/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
                )
        return ids


class PoolSpec(SpecModel):
    """A Batch pool, the same on both backends (``azbatch:pool``).

    ``vm_size``, ``image``, ``node_agent_sku_id``, ``task_slots_per_node`` and
    ``task_scheduling_policy`` cannot change on an existing pool: changing one replaces the pool.
    ``target_dedicated_nodes`` is resized in place.
    """

    id: str = Field(description="The pool id: 1-64 letters, digits, '-' and '_'.")
    display_name: str | None = None
    vm_size: str = Field(min_length=1, description="e.g. standard_d2s_v3")
    image: ImageReferenceSpec
    node_agent_sku_id: str = Field(min_length=1, description="e.g. 'batch.node.ubuntu 24.04'")
    target_dedicated_nodes: int = Field(default=1, ge=0, le=10000)
    task_slots_per_node: int = Field(default=1, ge=1, le=256)
    task_scheduling_policy: NodeFillType = Field(default="spread", description="spread | pack")
    start_task: StartTaskSpec | None = None
    identity: PoolIdentitySpec | None = Field(default=None, description="Azure only.")
    metadata: dict[str, EnvironmentValue] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise error(f"pool id {value!r} must be 1-64 letters, digits, '-' or '_'")
        return value

    @property
    def node_os(self) -> Literal["linux", "windows"]:
        """The nodes' OS, from the node agent SKU (``batch.node.windows amd64`` is Windows)."""
        return "windows" if "windows" in self.node_agent_sku_id.lower() else "linux"

    def to_batch_pool_create(self) -> batch_models.BatchPoolCreateOptions:
        """The SDK ``BatchPoolCreateOptions`` (the data plane; ``identity`` exists only through ARM)."""
        return batch_models.BatchPoolCreateOptions(
            id=self.id,
            display_name=self.display_name,
            vm_size=self.vm_size,
            virtual_machine_configuration=batch_models.VirtualMachineConfiguration(
                image_reference=self.image.to_sdk(), node_agent_sku_id=self.node_agent_sku_id
            ),
            target_dedicated_nodes=self.target_dedicated_nodes,
            task_slots_per_node=self.task_slots_per_node,
            task_scheduling_policy=batch_models.BatchTaskSchedulingPolicy(
                node_fill_type=self.task_scheduling_policy
            ),
            start_task=self.start_task.to_sdk() if self.start_task else None,
            metadata=[batch_models.BatchMetadataItem(name=k, value=v) for k, v in self.metadata.items()]
            or None,
        )

    def to_arm_pool_args(self) -> dict[str, Any]:
        """The pool's own arguments of an azure-native ``batch.Pool`` (the caller adds account and group)."""
        from pulumi_azure_native import batch

        identity = None
        if self.identity is not None:
            identity = batch.BatchPoolIdentityArgs(
                type=batch.PoolIdentityType.USER_ASSIGNED,
                user_assigned_identities=list(self.identity.user_assigned_identity_ids),
            )
        return {
            "pool_name": self.id,
            "display_name": self.display_name,
            "vm_size": self.vm_size,
            "deployment_configuration": batch.DeploymentConfigurationArgs(
                virtual_machine_configuration=batch.VirtualMachineConfigurationArgs(
                    image_reference=self.image.to_arm(), node_agent_sku_id=self.node_agent_sku_id
                )
            ),
            "scale_settings": batch.ScaleSettingsArgs(
                fixed_scale=batch.FixedScaleSettingsArgs(target_dedicated_nodes=self.target_dedicated_nodes)
            ),
            "task_slots_per_node": self.task_slots_per_node,
            "task_scheduling_policy": batch.TaskSchedulingPolicyArgs(
                node_fill_type=batch.ComputeNodeFillType.PACK
                if self.task_scheduling_policy == "pack"
                else batch.ComputeNodeFillType.SPREAD
            ),
            "start_task": self.start_task.to_arm() if self.start_task else None,
            "identity": identity,
            "metadata": [batch.MetadataItemArgs(name=k, value=v) for k, v in self.metadata.items()] or None,
        }
