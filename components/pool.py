"""BatchPool: a Batch pool (and, on Azure, its Batch account when the stack creates one)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from pulumi_azbatch.model.pool import (
    ARM_POOL_REPLACE_ON_CHANGES,
    PoolSpec,
    container_task_refusal,
)

from .backend import AzureBackend, Backend, BatchAccountRef, LocalBackend, PoolRef

__all__ = ["BatchPool", "BatchPoolArgs"]

#: ARM rejects changes to these pool properties (PropertyCannotBeUpdated); the model knows which.
AZURE_POOL_REPLACE_ON_CHANGES = ARM_POOL_REPLACE_ON_CHANGES


@dataclass(frozen=True)
class BatchPoolArgs:
    """The pool (the same :class:`PoolSpec` the stack config's ``azbatch:pool`` holds) and the backend."""

    pool: PoolSpec
    backend: Backend
    wait_timeout_seconds: float = 900
    #: Pool properties (``start_task``, ``metadata``...; ``*`` for all) stored as secrets, e.g. because
    #: their stack config value is secret.
    secret_properties: frozenset[str] = frozenset()
    #: Take over an existing pool of the same id that is not this resource's (local backend; announced).
    adopt: bool = False


class BatchPool(pulumi.ComponentResource):
    """A Batch pool on either backend, with the account a job needs to run on it.

    Azure: an azure-native ``batch.Pool`` in the configured Batch account, which is created here
    when ``batch_account.create`` is true (else looked up by name). Properties ARM cannot change
    (VM size, image/node agent, task slots, scheduling policy) replace the pool, deleting the old
    one first (same name). Node ids are not visible through ARM, so ``node_ids`` is empty there.

    Local: the dynamic :class:`~pulumi_azbatch.dynamic_providers.pool.Pool` on the Batch emulator;
    its create waits until every node is idle, and ``node_ids`` lists them.

    Outputs: ``pool_id``, ``node_ids``, ``account_url``, ``account_name``, ``account_key`` (secret).
    ``container_refusal`` says why container tasks cannot run on this pool (None when they can):
    the pool has no ``container_configuration``, or the local emulator has no container runtime.
    Pool parts that can hold passwords or keys are Pulumi secrets on both backends.
    """

    pool_id: pulumi.Output[str]
    node_ids: pulumi.Output[list[str]]
    account_url: pulumi.Output[str]
    account_name: pulumi.Output[str]
    account_key: pulumi.Output[str]

    def __init__(self, name: str, args: BatchPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("azbatch:components:BatchPool", name, None, opts)
        self.spec = args.pool
        self.container_refusal: str | None = container_task_refusal(args.pool)
        if isinstance(args.backend, LocalBackend):
            self._local(name, args, args.backend)
        elif isinstance(args.backend, AzureBackend):
            self._azure(name, args, args.backend)
        else:  # pragma: no cover - a typing error
            raise TypeError(f"unknown backend {args.backend!r}")
        self.register_outputs(
            {
                "pool_id": self.pool_id,
                "node_ids": self.node_ids,
                "account_url": self.account_url,
                "account_name": self.account_name,
                "account_key": self.account_key,
            }
        )

    def ref(self) -> PoolRef:
        """This pool as a :class:`PoolRef` (what :class:`BatchJob` needs)."""
        return PoolRef(self.pool_id, BatchAccountRef(self.account_url, self.account_name, self.account_key))

    def _local(self, name: str, args: BatchPoolArgs, backend: LocalBackend) -> None:
        from pulumi_azbatch.dynamic_providers.pool import Pool

        e = backend.endpoints
        if self.container_refusal is None and not e.container_runtime:
            self.container_refusal = (
                f"the local Batch emulator at {e.batch_url} runs no container tasks (no container runtime "
                "on this machine; see docs/containers.md); run this job on backend 'azure'"
            )
        pool = Pool(
            name,
            spec=args.pool,
            batch_account_url=e.batch_url,
            batch_account_name=e.batch_account_name,
            batch_account_key=e.batch_account_key,
            wait_timeout_seconds=args.wait_timeout_seconds,
            secret_properties=args.secret_properties,
            adopt=args.adopt,
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
                    batch.AuthenticationMode.SHARED_KEY,
                    batch.AuthenticationMode.AAD,
                    batch.AuthenticationMode.TASK_AUTHENTICATION_TOKEN,
                ],
                tags=settings.tags or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.account = account
            account_name = account.name
            endpoint = account.account_endpoint
            account_id: pulumi.Input[str] = account.id
        else:
            existing = batch.get_batch_account_output(
                account_name=settings.batch_account.name,
                resource_group_name=group,
                opts=pulumi.InvokeOptions(parent=self),
            )
            account_name = settings.batch_account.name
            endpoint = existing.account_endpoint
            account_id = existing.id
        arm_args = args.pool.to_arm_pool_args(account_id=pulumi.Output.from_input(account_id))
        # Registry passwords, storage keys, SAS and user passwords are secret in the state; so are the
        # start task and metadata when their stack config value is secret.
        secret = [
            key
            for key in ("deployment_configuration", "mount_configuration", "user_accounts")
            if args.pool.has_secrets and arm_args.get(key) is not None
        ] + [
            key
            for key in ("start_task", "metadata")
            if arm_args.get(key) is not None and ({key, "*"} & args.secret_properties)
        ]
        for key in secret:
            arm_args[key] = pulumi.Output.secret(arm_args[key])
        pool = batch.Pool(
            name,
            account_name=account_name,
            resource_group_name=group,
            **arm_args,
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=AZURE_POOL_REPLACE_ON_CHANGES,
                delete_before_replace=True,
                additional_secret_outputs=secret,
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
