"""BatchPool: a Batch pool (and, on Azure, its Batch account when the stack creates one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from pulumi_azbatch.config import PoolSpec

from .backend import AzureBackend, Backend, BatchAccountRef, LocalBackend, PoolRef

__all__ = ["BatchPool", "BatchPoolArgs"]

#: ARM rejects changes to these pool properties (PropertyCannotBeUpdated); replace the pool instead.
AZURE_POOL_REPLACE_ON_CHANGES = ["vmSize", "deploymentConfiguration", "taskSlotsPerNode", "taskSchedulingPolicy"]


@dataclass(frozen=True)
class BatchPoolArgs:
    """The pool (the same :class:`PoolSpec` the stack config's ``azbatch:pool`` holds) and the backend."""

    pool: PoolSpec
    backend: Backend
    wait_timeout_seconds: float = 900


def _start_task_args(spec: PoolSpec) -> Any:
    from pulumi_azure_native import batch

    task = spec.start_task
    if task is None:
        return None
    identity = None
    if task.user_identity is not None:
        auto = task.user_identity.auto_user
        identity = batch.UserIdentityArgs(
            user_name=task.user_identity.username,
            auto_user=batch.AutoUserSpecificationArgs(
                scope=batch.AutoUserScope(auto.scope.capitalize()) if auto.scope else None,
                elevation_level=(
                    None if auto.elevation_level is None
                    else batch.ElevationLevel.ADMIN if auto.elevation_level == "admin"
                    else batch.ElevationLevel.NON_ADMIN
                ),
            )
            if auto is not None
            else None,
        )
    return batch.StartTaskArgs(
        command_line=task.command_line,
        resource_files=[
            batch.ResourceFileArgs(
                http_url=f.http_url,
                storage_container_url=f.storage_container_url,
                auto_storage_container_name=f.auto_storage_container_name,
                blob_prefix=f.blob_prefix,
                file_path=f.file_path,
                file_mode=f.file_mode,
                identity_reference=batch.ComputeNodeIdentityReferenceArgs(resource_id=f.identity_reference.resource_id)
                if f.identity_reference
                else None,
            )
            for f in task.resource_files
        ]
        or None,
        environment_settings=[batch.EnvironmentSettingArgs(name=k, value=v) for k, v in task.environment_settings.items()]
        or None,
        user_identity=identity,
        max_task_retry_count=task.max_task_retry_count,
        wait_for_success=task.wait_for_success,
    )


class BatchPool(pulumi.ComponentResource):
    """A Batch pool on either backend, with the account a job needs to run on it.

    Azure: an azure-native ``batch.Pool`` in the configured Batch account, which is created here
    when ``batch_account.create`` is true (else looked up by name). Properties ARM cannot change
    (VM size, image/node agent, task slots, scheduling policy) replace the pool, deleting the old
    one first (same name). Node ids are not visible through ARM, so ``node_ids`` is empty there.

    Local: the dynamic :class:`~pulumi_azbatch.dynamic_providers.pool.Pool` on the Batch emulator;
    its create waits until every node is idle, and ``node_ids`` lists them.

    Outputs: ``pool_id``, ``node_ids``, ``account_url``, ``account_name``, ``account_key`` (secret).
    """

    pool_id: pulumi.Output[str]
    node_ids: pulumi.Output[list[str]]
    account_url: pulumi.Output[str]
    account_name: pulumi.Output[str]
    account_key: pulumi.Output[str]

    def __init__(self, name: str, args: BatchPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("azbatch:components:BatchPool", name, None, opts)
        self.spec = args.pool
        if isinstance(args.backend, LocalBackend):
            self._local(name, args, args.backend)
        elif isinstance(args.backend, AzureBackend):
            self._azure(name, args, args.backend)
        else:  # pragma: no cover - a typing error
            raise TypeError(f"unknown backend {args.backend!r}")
        self.register_outputs({
            "pool_id": self.pool_id, "node_ids": self.node_ids, "account_url": self.account_url,
            "account_name": self.account_name, "account_key": self.account_key,
        })  # fmt: skip

    def ref(self) -> PoolRef:
        """This pool as a :class:`PoolRef` (what :class:`BatchJob` needs)."""
        return PoolRef(self.pool_id, BatchAccountRef(self.account_url, self.account_name, self.account_key))

    def _local(self, name: str, args: BatchPoolArgs, backend: LocalBackend) -> None:
        from pulumi_azbatch.dynamic_providers.pool import Pool

        e = backend.endpoints
        pool = Pool(
            name,
            spec=args.pool,
            batch_account_url=e.batch_url,
            batch_account_name=e.batch_account_name,
            batch_account_key=e.batch_account_key,
            wait_timeout_seconds=args.wait_timeout_seconds,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.resource = pool
        self.pool_id = pool.pool_id
        self.node_ids = pool.node_ids
        self.account_url = pulumi.Output.from_input(e.batch_url)
        self.account_name = pulumi.Output.from_input(e.batch_account_name)
        self.account_key = pulumi.Output.secret(e.batch_account_key)

    def _azure(self, name: str, args: BatchPoolArgs, backend: AzureBackend) -> None:
        from pulumi_azure_native import batch

        settings = backend.settings
        group = backend.batch_account_group()
        account_name: pulumi.Input[str]
        if settings.batch_account.create:
            account = batch.BatchAccount(
                f"{name}-account",
                account_name=settings.batch_account.name,
                resource_group_name=group,
                location=settings.location,
                # The Job resource signs its requests with the shared key.
                allowed_authentication_modes=[
                    batch.AuthenticationMode.SHARED_KEY, batch.AuthenticationMode.AAD,
                    batch.AuthenticationMode.TASK_AUTHENTICATION_TOKEN,
                ],
                tags=settings.tags or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.account = account
            account_name = account.name
            endpoint = account.account_endpoint
        else:
            existing = batch.get_batch_account_output(
                account_name=settings.batch_account.name, resource_group_name=group,
                opts=pulumi.InvokeOptions(parent=self),
            )  # fmt: skip
            account_name = settings.batch_account.name
            endpoint = existing.account_endpoint
        spec = args.pool
        identity = None
        if spec.identity is not None:
            identity = batch.BatchPoolIdentityArgs(
                type=batch.PoolIdentityType.USER_ASSIGNED,
                user_assigned_identities=list(spec.identity.user_assigned_identity_ids),
            )
        pool = batch.Pool(
            name,
            account_name=account_name,
            resource_group_name=group,
            pool_name=spec.id,
            display_name=spec.display_name,
            vm_size=spec.vm_size,
            deployment_configuration=batch.DeploymentConfigurationArgs(
                virtual_machine_configuration=batch.VirtualMachineConfigurationArgs(
                    image_reference=batch.ImageReferenceArgs(
                        publisher=spec.image.publisher, offer=spec.image.offer, sku=spec.image.sku,
                        version=spec.image.version,
                    ),  # fmt: skip
                    node_agent_sku_id=spec.node_agent_sku_id,
                )
            ),
            scale_settings=batch.ScaleSettingsArgs(
                fixed_scale=batch.FixedScaleSettingsArgs(target_dedicated_nodes=spec.target_dedicated_nodes)
            ),
            task_slots_per_node=spec.task_slots_per_node,
            task_scheduling_policy=batch.TaskSchedulingPolicyArgs(
                node_fill_type=batch.ComputeNodeFillType.PACK
                if spec.task_scheduling_policy == "pack"
                else batch.ComputeNodeFillType.SPREAD
            ),
            start_task=_start_task_args(spec),
            identity=identity,
            metadata=[batch.MetadataItemArgs(name=k, value=v) for k, v in spec.metadata.items()] or None,
            opts=pulumi.ResourceOptions(
                parent=self, replace_on_changes=AZURE_POOL_REPLACE_ON_CHANGES, delete_before_replace=True
            ),
        )
        self.resource = pool
        keys = batch.list_batch_account_keys_output(
            account_name=account_name, resource_group_name=group, opts=pulumi.InvokeOptions(parent=self)
        )
        self.pool_id = pool.name
        self.node_ids = pulumi.Output.from_input([])
        self.account_url = pulumi.Output.from_input(endpoint).apply(lambda e: f"https://{e}")
        self.account_name = pulumi.Output.from_input(account_name)
        self.account_key = pulumi.Output.secret(keys.primary)
