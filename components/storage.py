"""OutputStorage: the blob container a job's output files go to, and its write SAS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pulumi

from pulumi_azbatch.conventions import job_output_container_name, library_wheel
from pulumi_azbatch.model.storage import StorageSpec

from .backend import AzureBackend, Backend, LocalBackend

__all__ = ["OutputStorage", "OutputStorageArgs"]


@dataclass(frozen=True)
class OutputStorageArgs:
    """The container (``container_name``) and its SAS settings (a :class:`StorageSpec`), and the backend.

    Use :meth:`for_job` to name the container after a job by File Conventions (``job-<id>``).
    """

    container_name: str
    backend: Backend
    storage: StorageSpec = field(default_factory=StorageSpec)
    #: Take over an existing container of this name that is not this resource's (local backend; announced).
    adopt: bool = False

    @classmethod
    def for_job(cls, job_id: str, backend: Backend, storage: StorageSpec | None = None) -> OutputStorageArgs:
        """Args whose container is ``storage.container_name`` or the job's File Conventions container."""
        storage = storage or StorageSpec()
        return cls(storage.container_name or job_output_container_name(job_id), backend, storage)


class OutputStorage(pulumi.ComponentResource):
    """A blob container for Batch output files plus a write SAS that stays stable across ``pulumi up``.

    Azure: an azure-native ``storage.BlobContainer`` (private) in the configured storage account,
    which is created here when ``storage_account.create`` is true; the SAS is signed with the
    account's first key (``listKeys``), https only. Local: the container on Azurite through the data
    plane. On both, the SAS is a :class:`~pulumi_azbatch.dynamic_providers.sas.ContainerSas` with the
    configured permissions (default create + write only), lifetime and rotation margin.

    Outputs: ``container_name``, ``container_url`` (no SAS), ``sas_url`` (secret), ``sas_expiry``,
    ``blob_url``, ``account_name``.
    """

    container_name: pulumi.Output[str]
    container_url: pulumi.Output[str]
    sas_url: pulumi.Output[str]
    sas_expiry: pulumi.Output[str]
    blob_url: pulumi.Output[str]
    account_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: OutputStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("azbatch:components:OutputStorage", name, None, opts)
        if isinstance(args.backend, LocalBackend):
            blob_url, account_name, account_key, container = self._local(name, args, args.backend)
        elif isinstance(args.backend, AzureBackend):
            blob_url, account_name, account_key, container = self._azure(name, args, args.backend)
        else:  # pragma: no cover - a typing error
            raise TypeError(f"unknown backend {args.backend!r}")
        from pulumi_azbatch.dynamic_providers.sas import ContainerSas

        spec = args.storage
        self._signing = (blob_url, account_name, account_key, container)
        self._lifetime = spec.sas_lifetime
        self.sas = ContainerSas(
            f"{name}-sas",
            blob_url=blob_url,
            account_name=account_name,
            account_key=account_key,
            container_name=container,
            permissions=spec.sas_permissions,
            lifetime=spec.sas_lifetime,
            rotation_margin=spec.rotation_margin,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.container_name = pulumi.Output.from_input(container)
        self.container_url = self.sas.container_url
        self.sas_url = pulumi.Output.secret(self.sas.sas_url)
        self.sas_expiry = self.sas.expiry
        self.blob_url = pulumi.Output.from_input(blob_url)
        self.account_name = pulumi.Output.from_input(account_name)
        self.register_outputs(
            {
                "container_name": self.container_name,
                "container_url": self.container_url,
                "sas_url": self.sas_url,
                "sas_expiry": self.sas_expiry,
                "blob_url": self.blob_url,
                "account_name": self.account_name,
            }
        )

    def tasks_sas_url(self, name: str, lifetime: timedelta | None, permissions: str) -> pulumi.Output[str]:
        """The container URL with a SAS of its own for the job's tasks (secret), e.g. shorter-lived.

        A second :class:`~pulumi_azbatch.dynamic_providers.sas.ContainerSas` of this container,
        re-signed by an ``up`` in the last quarter of its lifetime (None: the storage's).
        """
        return self.signed_url(f"{name}-tasks-sas", permissions, lifetime)

    def library_sas_url(self, name: str) -> pulumi.Output[str]:
        """A read SAS of the File Conventions library wheel's blob only (secret): what a preparation
        task that installs the library downloads."""
        return self.signed_url(f"{name}-library-sas", "r", blob_name=library_wheel().blob_name)

    def signed_url(
        self,
        resource_name: str,
        permissions: str,
        lifetime: timedelta | None = None,
        blob_name: str | None = None,
    ) -> pulumi.Output[str]:
        """A URL of this container (or of one blob in it) with a SAS of its own (secret).

        ``lifetime`` defaults to the storage's ``sas_lifetime``; the SAS is re-signed by an ``up``
        in the last quarter of it. The Job uses one with list/read/write/delete to keep an earlier
        run's outputs apart, and a read SAS of the File Conventions library wheel.
        """
        from pulumi_azbatch.dynamic_providers.sas import ContainerSas

        blob_url, account_name, account_key, container = self._signing
        sas = ContainerSas(
            resource_name,
            blob_url=blob_url,
            account_name=account_name,
            account_key=account_key,
            container_name=container,
            permissions=permissions,
            lifetime=lifetime or self._lifetime,
            blob_name=blob_name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.secret(sas.sas_url)

    def _local(
        self, name: str, args: OutputStorageArgs, backend: LocalBackend
    ) -> tuple[pulumi.Input[str], pulumi.Input[str], pulumi.Input[str], pulumi.Input[str]]:
        from pulumi_azbatch.dynamic_providers.storage import BlobContainer

        e = backend.endpoints
        container = BlobContainer(
            f"{name}-container",
            blob_url=e.blob_url,
            account_name=e.storage_account_name,
            account_key=e.storage_account_key,
            name=args.container_name,
            adopt=args.adopt,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.storage.retain_on_destroy),
        )
        self.container = container
        return e.blob_url, e.storage_account_name, pulumi.Output.secret(e.storage_account_key), container.name

    def _azure(
        self, name: str, args: OutputStorageArgs, backend: AzureBackend
    ) -> tuple[pulumi.Input[str], pulumi.Input[str], pulumi.Input[str], pulumi.Input[str]]:
        from pulumi_azure_native import storage

        settings = backend.settings.storage_account
        group = backend.storage_account_group()
        blob_url: pulumi.Input[str]
        account_name: pulumi.Input[str]
        if settings.create:
            account = storage.StorageAccount(
                f"{name}-account",
                account_name=settings.name,
                resource_group_name=group,
                location=backend.settings.location,
                kind="StorageV2",
                sku=storage.SkuArgs(name=settings.sku),
                enable_https_traffic_only=True,
                minimum_tls_version="TLS1_2",
                allow_blob_public_access=False,
                # The SAS is signed with the account key, so shared key access must stay on.
                allow_shared_key_access=True,
                tags=backend.settings.tags or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.account = account
            account_name = account.name
            blob_url = account.primary_endpoints.apply(lambda p: p.blob.rstrip("/"))
        else:
            account_name = settings.name
            # Ask ARM rather than assume the public cloud's endpoint suffix.
            existing = storage.get_storage_account_output(
                account_name=settings.name, resource_group_name=group, opts=pulumi.InvokeOptions(parent=self)
            )
            blob_url = existing.primary_endpoints.apply(lambda p: p.blob.rstrip("/"))
        container = storage.BlobContainer(
            f"{name}-container",
            account_name=account_name,
            resource_group_name=group,
            **args.storage.to_arm_container_args(args.container_name),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.storage.retain_on_destroy),
        )
        self.container = container
        keys = storage.list_storage_account_keys_output(
            account_name=account_name, resource_group_name=group, opts=pulumi.InvokeOptions(parent=self)
        )
        account_key: pulumi.Output[str] = pulumi.Output.secret(keys.keys[0].value)
        container_name: pulumi.Output[str] = container.name
        return blob_url, account_name, account_key, container_name
