"""The pool: :class:`PoolSpec` and its parts, with the pool's SDK (data plane) and ARM mappings.

Owns: :class:`PoolSpec`, :class:`ImageReferenceSpec`, :class:`StartTaskSpec`,
:class:`PoolIdentitySpec`; the rules spanning pool properties (:func:`pool_rule_failures`:
autoscale vs fixed targets, unique user names, mount paths and LUNs), :func:`validate_pool`
(structure then rules, each failure naming its property), :func:`container_task_paths` and
:func:`container_task_refusal` (a container task needs a pool with ``container_configuration``),
:func:`container_task_problems` (that rule and its converse, for a job on a known pool);
``to_batch_pool_create`` (``azure.batch.models``, what the local Pool provider sends) and
``to_arm_pool_args`` (azure-native ``batch.Pool`` arguments, what the ``BatchPool`` component
declares on Azure), which pool properties cannot change in place and which can hold secrets.
The pool's parts (containers, mounts, network, users, disks...) live in :mod:`.pool_parts`.

May import: :mod:`.common`, :mod:`.tasks`, :mod:`.pool_parts`, :mod:`.rules` (``DEFER_RULES``),
pydantic, ``azure.batch.models``; azure-native's argument types only inside the ``to_arm_*``
methods (only Azure deployments need them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from azure.batch import models as batch_models
from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .common import (
    ID_PATTERN,
    EnvironmentValue,
    SpecModel,
    ValidationFailure,
    choice,
    error,
    error_path,
    error_reason,
    format_duration,
    format_path,
    iso_duration,
    plain_data,
)
from .pool_parts import (
    ApplicationPackageReferenceSpec,
    ContainerConfigurationSpec,
    DataDiskSpec,
    DiskEncryptionSpec,
    MountSpec,
    NetworkConfigurationSpec,
    NodePlacementSpec,
    OsDiskSpec,
    UpgradePolicySpec,
    UserAccountSpec,
)
from .rules import DEFER_RULES
from .tasks import ResourceFileSpec, UserIdentitySpec, env_to_sdk

__all__ = [
    "ARM_POOL_REPLACE_ON_CHANGES",
    "AUTO_SCALE_INTERVAL_RANGE",
    "POOL_SECRET_FIELDS",
    "ImageReferenceSpec",
    "NodeFillType",
    "PoolIdentitySpec",
    "PoolSpec",
    "StartTaskSpec",
    "container_task_paths",
    "container_task_problems",
    "container_task_refusal",
    "pool_rule_failures",
    "validate_pool",
]

#: ARM rejects changes to these pool properties (PropertyCannotBeUpdated); replace the pool instead.
ARM_POOL_REPLACE_ON_CHANGES = [
    "vmSize",
    "deploymentConfiguration",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "userAccounts",
    "networkConfiguration",
    "interNodeCommunication",
]
#: Pool properties that can hold a password, key or SAS: stored as Pulumi secrets as a whole.
POOL_SECRET_FIELDS = ("container_configuration", "mount_configuration", "user_accounts")
#: The evaluation interval the service accepts (``autoScaleEvaluationInterval``).
AUTO_SCALE_INTERVAL_RANGE = (timedelta(minutes=5), timedelta(hours=168))
#: The shortest ``resizeTimeout`` the service accepts.
MIN_RESIZE_TIMEOUT = timedelta(minutes=5)
#: ``maxLength`` of ``autoScaleFormula`` in the Batch REST API.
MAX_AUTO_SCALE_FORMULA = 8192

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
    ``target_dedicated_nodes`` / ``target_low_priority_nodes`` are resized in place; the pool scales
    either to those fixed targets or, with ``enable_auto_scale``, by ``auto_scale_formula``.
    """

    id: str = Field(description="The pool id: 1-64 letters, digits, '-' and '_'.")
    display_name: str | None = None
    vm_size: str = Field(min_length=1, description="e.g. standard_d2s_v3")
    image: ImageReferenceSpec
    node_agent_sku_id: str = Field(min_length=1, description="e.g. 'batch.node.ubuntu 24.04'")
    target_dedicated_nodes: int | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="Default 1 (0 when target_low_priority_nodes is set); not with autoscale.",
    )
    target_low_priority_nodes: int | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="Spot/low-priority nodes (can be preempted); not with autoscale.",
    )
    enable_auto_scale: bool = Field(default=False, description="Size the pool with auto_scale_formula.")
    auto_scale_formula: str | None = Field(
        default=None, min_length=1, max_length=MAX_AUTO_SCALE_FORMULA, description="Batch autoscale formula."
    )
    auto_scale_evaluation_interval: timedelta | None = Field(
        default=None, description="5 min .. 168 h; service default 15 min."
    )
    resize_timeout: timedelta | None = Field(
        default=None, description="Fixed scale only; at least 5 min; service default 15 min."
    )
    task_slots_per_node: int = Field(default=1, ge=1, le=256)
    task_scheduling_policy: NodeFillType = Field(default="spread", description="spread | pack")
    enable_inter_node_communication: bool = False
    target_node_communication_mode: Annotated[
        Literal["default", "classic", "simplified"] | None,
        BeforeValidator(choice("node communication mode", ["default", "classic", "simplified"])),
    ] = Field(default=None, description="Azure only (ARM).")
    start_task: StartTaskSpec | None = None
    container_configuration: ContainerConfigurationSpec | None = None
    mount_configuration: list[MountSpec] = Field(default_factory=list)
    network_configuration: NetworkConfigurationSpec | None = None
    user_accounts: list[UserAccountSpec] = Field(default_factory=list)
    application_package_references: list[ApplicationPackageReferenceSpec] = Field(
        default_factory=list, max_length=10
    )
    node_placement: NodePlacementSpec | None = None
    os_disk: OsDiskSpec | None = None
    data_disks: list[DataDiskSpec] = Field(default_factory=list)
    disk_encryption: DiskEncryptionSpec | None = None
    upgrade_policy: UpgradePolicySpec | None = None
    license_type: str | None = Field(
        default=None, description="Windows only: Windows_Server or Windows_Client."
    )
    identity: PoolIdentitySpec | None = Field(default=None, description="Azure only.")
    metadata: dict[str, EnvironmentValue] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise error(f"pool id {value!r} must be 1-64 letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> PoolSpec:
        if info.context and info.context.get(DEFER_RULES):
            return self
        failures = pool_rule_failures(self)
        if failures:
            raise error("; ".join(str(f) for f in failures))
        return self

    @property
    def node_os(self) -> Literal["linux", "windows"]:
        """The nodes' OS, from the node agent SKU (``batch.node.windows amd64`` is Windows)."""
        return "windows" if "windows" in self.node_agent_sku_id.lower() else "linux"

    @property
    def fixed_targets(self) -> tuple[int, int]:
        """(dedicated, low-priority) nodes of a fixed-scale pool: 1 dedicated node when neither is set."""
        if self.target_dedicated_nodes is None and self.target_low_priority_nodes is None:
            return 1, 0
        return self.target_dedicated_nodes or 0, self.target_low_priority_nodes or 0

    @property
    def scale_summary(self) -> str:
        """How the pool is sized, for humans: ``autoscale``, ``x2`` or ``x1 + 3 spot``."""
        if self.enable_auto_scale:
            return "autoscale"
        dedicated, low_priority = self.fixed_targets
        return f"x{dedicated}" + (f" + {low_priority} spot" if low_priority else "")

    @property
    def has_secrets(self) -> bool:
        """True when a property of :data:`POOL_SECRET_FIELDS` is set (it may hold a password or key)."""
        return any(getattr(self, name) for name in POOL_SECRET_FIELDS)

    def _virtual_machine_configuration(self) -> batch_models.VirtualMachineConfiguration:
        return batch_models.VirtualMachineConfiguration(
            image_reference=self.image.to_sdk(),
            node_agent_sku_id=self.node_agent_sku_id,
            container_configuration=self.container_configuration.to_sdk()
            if self.container_configuration
            else None,
            node_placement_configuration=self.node_placement.to_sdk() if self.node_placement else None,
            os_disk=self.os_disk.to_sdk() if self.os_disk else None,
            data_disks=[d.to_sdk() for d in self.data_disks] or None,
            disk_encryption_configuration=self.disk_encryption.to_sdk() if self.disk_encryption else None,
            license_type=self.license_type,
        )

    def to_batch_pool_create(self) -> batch_models.BatchPoolCreateOptions:
        """The SDK ``BatchPoolCreateOptions`` (the data plane; ``identity`` and
        ``target_node_communication_mode`` exist only through ARM)."""
        dedicated, low_priority = (None, None) if self.enable_auto_scale else self.fixed_targets
        return batch_models.BatchPoolCreateOptions(
            id=self.id,
            display_name=self.display_name,
            vm_size=self.vm_size,
            virtual_machine_configuration=self._virtual_machine_configuration(),
            resize_timeout=self.resize_timeout,
            target_dedicated_nodes=dedicated,
            target_low_priority_nodes=low_priority or None,
            enable_auto_scale=True if self.enable_auto_scale else None,
            auto_scale_formula=str(self.auto_scale_formula),
            auto_scale_evaluation_interval=self.auto_scale_evaluation_interval,
            enable_inter_node_communication=self.enable_inter_node_communication or None,
            network_configuration=self.network_configuration.to_sdk() if self.network_configuration else None,
            start_task=self.start_task.to_sdk() if self.start_task else None,
            application_package_references=[a.to_sdk() for a in self.application_package_references] or None,
            task_slots_per_node=self.task_slots_per_node,
            task_scheduling_policy=batch_models.BatchTaskSchedulingPolicy(
                node_fill_type=self.task_scheduling_policy
            ),
            user_accounts=[u.to_sdk() for u in self.user_accounts] or None,
            metadata=[batch_models.BatchMetadataItem(name=k, value=v) for k, v in self.metadata.items()]
            or None,
            mount_configuration=[m.to_sdk() for m in self.mount_configuration] or None,
            upgrade_policy=self.upgrade_policy.to_sdk() if self.upgrade_policy else None,
        )

    def to_arm_pool_args(self, *, account_id: Any = None) -> dict[str, Any]:
        """The pool's own arguments of an azure-native ``batch.Pool`` (the caller adds account and group).

        ``account_id`` (the Batch account's ARM id) turns application names into the application
        resource ids ARM wants.
        """
        from pulumi_azure_native import batch

        identity = None
        if self.identity is not None:
            identity = batch.BatchPoolIdentityArgs(
                type=batch.PoolIdentityType.USER_ASSIGNED,
                user_assigned_identities=list(self.identity.user_assigned_identity_ids),
            )
        if self.enable_auto_scale:
            scale = batch.ScaleSettingsArgs(
                auto_scale=batch.AutoScaleSettingsArgs(
                    formula=str(self.auto_scale_formula),
                    evaluation_interval=iso_duration(self.auto_scale_evaluation_interval)
                    if self.auto_scale_evaluation_interval
                    else None,
                )
            )
        else:
            dedicated, low_priority = self.fixed_targets
            scale = batch.ScaleSettingsArgs(
                fixed_scale=batch.FixedScaleSettingsArgs(
                    target_dedicated_nodes=dedicated,
                    target_low_priority_nodes=low_priority or None,
                    resize_timeout=iso_duration(self.resize_timeout) if self.resize_timeout else None,
                )
            )
        vm = batch.VirtualMachineConfigurationArgs(
            image_reference=self.image.to_arm(),
            node_agent_sku_id=self.node_agent_sku_id,
            container_configuration=self.container_configuration.to_arm()
            if self.container_configuration
            else None,
            node_placement_configuration=self.node_placement.to_arm() if self.node_placement else None,
            os_disk=self.os_disk.to_arm() if self.os_disk else None,
            data_disks=[d.to_arm() for d in self.data_disks] or None,
            disk_encryption_configuration=self.disk_encryption.to_arm() if self.disk_encryption else None,
            license_type=self.license_type,
        )
        mode = self.target_node_communication_mode
        return {
            "pool_name": self.id,
            "display_name": self.display_name,
            "vm_size": self.vm_size,
            "deployment_configuration": batch.DeploymentConfigurationArgs(virtual_machine_configuration=vm),
            "scale_settings": scale,
            "inter_node_communication": batch.InterNodeCommunicationState.ENABLED
            if self.enable_inter_node_communication
            else None,
            "target_node_communication_mode": mode.capitalize() if mode else None,
            "network_configuration": self.network_configuration.to_arm()
            if self.network_configuration
            else None,
            "mount_configuration": [m.to_arm() for m in self.mount_configuration] or None,
            "user_accounts": [u.to_arm() for u in self.user_accounts] or None,
            "application_packages": [a.to_arm(account_id) for a in self.application_package_references]
            or None,
            "upgrade_policy": self.upgrade_policy.to_arm() if self.upgrade_policy else None,
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


# --------------------------------------------------------------------------------------------------
# Rules spanning pool properties, and whole-pool validation
# --------------------------------------------------------------------------------------------------


def _duplicates(values: list[Any]) -> Iterator[int]:
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index
        seen.add(value)


def pool_rule_failures(pool: PoolSpec) -> list[ValidationFailure]:
    """Every cross-property problem of a pool, each naming the property it is about."""
    out: list[ValidationFailure] = []
    fail = lambda prop, reason: out.append(ValidationFailure(prop, reason))  # noqa: E731
    if pool.enable_auto_scale:
        if not pool.auto_scale_formula:
            fail("auto_scale_formula", "required with enable_auto_scale: the formula that sizes the pool")
        for name in ("target_dedicated_nodes", "target_low_priority_nodes", "resize_timeout"):
            if getattr(pool, name) is not None:
                fail(
                    name,
                    "not allowed with enable_auto_scale (the formula sets $TargetDedicatedNodes and "
                    "$TargetLowPriorityNodes); remove it or set enable_auto_scale: false",
                )
    else:
        for name in ("auto_scale_formula", "auto_scale_evaluation_interval"):
            if getattr(pool, name) is not None:
                fail(name, "only used with enable_auto_scale: true; set it or remove this key")
    interval = pool.auto_scale_evaluation_interval
    low, high = AUTO_SCALE_INTERVAL_RANGE
    if interval is not None and not low <= interval <= high:
        fail(
            "auto_scale_evaluation_interval",
            f"{format_duration(interval)} is outside {format_duration(low)} .. {format_duration(high)}",
        )
    if pool.resize_timeout is not None and pool.resize_timeout < MIN_RESIZE_TIMEOUT:
        fail("resize_timeout", f"{format_duration(pool.resize_timeout)} is shorter than 5 min")
    for index in _duplicates([u.name.lower() for u in pool.user_accounts]):
        fail(f"user_accounts[{index}].name", f"user name {pool.user_accounts[index].name!r} is used twice")
    for index in _duplicates([m.relative_mount_path for m in pool.mount_configuration]):
        fail(
            format_path(("mount_configuration", index)),
            f"relative_mount_path {pool.mount_configuration[index].relative_mount_path!r} is used twice",
        )
    for index in _duplicates([d.lun for d in pool.data_disks]):
        fail(f"data_disks[{index}].lun", f"LUN {pool.data_disks[index].lun} is used twice")
    for index in _duplicates(
        [(a.application_id.lower(), a.version) for a in pool.application_package_references]
    ):
        fail(f"application_package_references[{index}]", "the same application package is referenced twice")
    if pool.start_task and pool.start_task.user_identity and pool.start_task.user_identity.username:
        names = {u.name.lower() for u in pool.user_accounts}
        if pool.start_task.user_identity.username.lower() not in names:
            fail(
                "start_task.user_identity.username",
                f"{pool.start_task.user_identity.username!r} is not one of the pool's user_accounts",
            )
    return out


def validate_pool(raw: Mapping[str, Any] | PoolSpec) -> tuple[PoolSpec | None, list[ValidationFailure]]:
    """The pool and every problem with it, each naming its property (``container_configuration...``).

    Structural problems (types, unknown properties, single-property rules) come first; the rules
    of :func:`pool_rule_failures` run once the structure is valid.
    """
    if isinstance(raw, PoolSpec):
        return raw, pool_rule_failures(raw)
    data = plain_data(raw)
    try:
        pool = PoolSpec.model_validate(data, context={DEFER_RULES: True})
    except ValidationError as exc:
        failures = []
        for err in exc.errors():
            path = error_path(err["loc"], data)
            failures.append(
                ValidationFailure(
                    format_path(path), error_reason(err, path, noun="key", names=_pool_field_names)
                )
            )
        return None, failures
    failures = pool_rule_failures(pool)
    return (None if failures else pool), failures


def _pool_field_names() -> set[str]:
    import inspect

    from . import pool_parts

    names: set[str] = set()
    models: list[type[SpecModel]] = [PoolSpec, ImageReferenceSpec, StartTaskSpec, PoolIdentitySpec]
    models += [m for _, m in inspect.getmembers(pool_parts, inspect.isclass) if issubclass(m, SpecModel)]
    for model in models:
        names.update(model.model_fields)
    return names


# --------------------------------------------------------------------------------------------------
# Container tasks need a pool with containers
# --------------------------------------------------------------------------------------------------


def _job_tasks(job: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any, bool]]:
    """(path, task mapping, regular?) of every task-like part of a job mapping."""
    for name in ("job_preparation_task", "job_release_task"):
        if job.get(name) is not None:
            yield (name,), job.get(name), False
    for index, task in enumerate(job.get("tasks") or []):
        yield ("tasks", index), task, True
    for index, factory in enumerate(job.get("task_factories") or []):
        if isinstance(factory, Mapping):
            yield ("task_factories", index, "repeat_task"), factory.get("repeat_task"), True


def container_task_paths(job: Mapping[str, Any]) -> list[str]:
    """The property paths of every ``container_settings`` in a job mapping (tasks, factories, prep/release)."""
    return [
        format_path((*path, "container_settings"))
        for path, task, _regular in _job_tasks(job)
        if isinstance(task, Mapping) and task.get("container_settings") is not None
    ]


def container_task_problems(pool: PoolSpec, job: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property path, reason) for each task of ``job`` that ``pool`` cannot run as declared: a task with
    ``container_settings`` on a pool without ``container_configuration``, and a regular task (or a
    factory's ``repeat_task``) without it on a pool with it (Batch runs a container pool's regular tasks
    only in containers; preparation and release tasks may run either way)."""
    refusal = container_task_refusal(pool)
    if refusal is not None:
        return [(path, refusal) for path in container_task_paths(job)]
    return [
        (
            format_path(path),
            f"pool {pool.id!r} has a container_configuration: Batch runs its tasks only in containers; "
            "give this task container_settings (image_name)",
        )
        for path, task, regular in _job_tasks(job)
        if regular and isinstance(task, Mapping) and task.get("container_settings") is None
    ]


def container_task_refusal(pool: PoolSpec) -> str | None:
    """Why a container task cannot run on ``pool`` (None when it can)."""
    if pool.container_configuration is None:
        return (
            f"pool {pool.id!r} has no container_configuration; a task with container_settings needs a pool "
            "whose nodes run containers (set container_configuration on the pool)"
        )
    return None
