"""The parts of a pool: containers, mounts, network, user accounts, disks, placement, upgrades, packages.

Owns: one spec per pool part with its single-property rules and its two mappings, ``to_sdk()``
(``azure.batch.models``, the data plane) and ``to_arm()`` (azure-native ``batch.*Args``). The pool
itself and the rules spanning its parts live in :mod:`.pool`.

Enumerations are stored in the data plane's spelling (``dockerCompatible``, ``readonly``...);
``to_arm()`` converts them to ARM's (``DockerCompatible``, ``ReadOnly``...). Passwords, storage
keys and SAS tokens are :data:`~.common.Secret` fields: hidden from ``repr`` and marked
``writeOnly``/``x-secret`` in the JSON Schema; the Pool provider and the BatchPool component store
every pool part that can hold one as a Pulumi secret.

May import: :mod:`.common`, :mod:`.tasks`, pydantic, ``azure.batch.models``; azure-native only inside
``to_arm()``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from azure.batch import models as batch_models
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from .common import (
    IdentityReferenceSpec,
    ImageName,
    Secret,
    SpecModel,
    choice,
    error,
    iso_duration,
)
from .tasks import ContainerRegistrySpec

__all__ = [
    "ApplicationPackageReferenceSpec",
    "ContainerConfigurationSpec",
    "DataDiskSpec",
    "DiskEncryptionSpec",
    "InboundNatPoolSpec",
    "LinuxUserSpec",
    "MountSpec",
    "NetworkConfigurationSpec",
    "NetworkSecurityGroupRuleSpec",
    "NodePlacementSpec",
    "OsDiskSpec",
    "PublicIpAddressSpec",
    "UpgradePolicySpec",
    "UserAccountSpec",
    "arm_enum",
]


def _enum(what: str, values: list[str]) -> Any:
    return BeforeValidator(choice(what, values))


#: Data-plane spelling -> ARM spelling of the enumerations that differ only in case.
_ARM_SPELLING = {
    "dockerCompatible": "DockerCompatible",
    "criCompatible": "CriCompatible",
    "none": "None",
    "readonly": "ReadOnly",
    "readwrite": "ReadWrite",
    "standard_lrs": "Standard_LRS",
    "premium_lrs": "Premium_LRS",
    "standardssd_lrs": "StandardSSD_LRS",
    "cachedisk": "CacheDisk",
    "osdisk": "OsDisk",
    "temporarydisk": "TemporaryDisk",
    "regional": "Regional",
    "zonal": "Zonal",
    "batchmanaged": "BatchManaged",
    "usermanaged": "UserManaged",
    "nopublicipaddresses": "NoPublicIPAddresses",
    "tcp": "TCP",
    "udp": "UDP",
    "allow": "Allow",
    "deny": "Deny",
    "nonadmin": "NonAdmin",
    "admin": "Admin",
}


def arm_enum(value: str | None, *, keep: tuple[str, ...] = ()) -> Any:
    """``value`` in ARM's spelling (``readonly`` -> ``ReadOnly``); values in ``keep`` stay as they are."""
    if value is None or value in keep:
        return value
    return _ARM_SPELLING.get(value, value)


# --------------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------------

ContainerType = Annotated[
    Literal["dockerCompatible", "criCompatible"],
    _enum("container type", ["dockerCompatible", "criCompatible"]),
]


class ContainerConfigurationSpec(SpecModel):
    """Nodes that run container tasks (``containerConfiguration``): the runtime, images to pre-fetch, registries.

    ``container_image_names`` are pulled when each node joins the pool; ``container_registries`` are
    the private registries they (and container tasks) are pulled from.
    """

    type: ContainerType = Field(default="dockerCompatible", description="dockerCompatible | criCompatible")
    container_image_names: list[ImageName] = Field(default_factory=list)
    container_registries: list[ContainerRegistrySpec] = Field(
        default_factory=list, description="Private registries: registry_server, username, password (secret)."
    )

    def to_sdk(self) -> batch_models.BatchContainerConfiguration:
        """The SDK ``BatchContainerConfiguration``."""
        return batch_models.BatchContainerConfiguration(
            type=self.type,
            container_image_names=list(self.container_image_names) or None,
            container_registries=[r.to_sdk() for r in self.container_registries] or None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.ContainerConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.ContainerConfigurationArgs(
            type=arm_enum(self.type),
            container_image_names=list(self.container_image_names) or None,
            container_registries=[r.to_arm() for r in self.container_registries] or None,
        )


# --------------------------------------------------------------------------------------------------
# Mounts
# --------------------------------------------------------------------------------------------------


def _relative_mount_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if not value or value.startswith("/") or ".." in parts:
        raise error(
            f"{value!r} must be a relative path without '..' "
            "(mounted under $AZ_BATCH_NODE_MOUNTS_DIR/<relative_mount_path>)"
        )
    return value


RelativeMountPath = Annotated[str, AfterValidator(_relative_mount_path)]


class BlobFileSystemMountSpec(SpecModel):
    """A blob container mounted with blobfuse; exactly one of account_key, sas_key, identity_reference."""

    account_name: str = Field(min_length=3, max_length=24)
    container_name: str = Field(min_length=3, max_length=63)
    relative_mount_path: RelativeMountPath
    account_key: Secret | None = None
    sas_key: Secret | None = None
    identity_reference: IdentityReferenceSpec | None = None
    blobfuse_options: str | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> BlobFileSystemMountSpec:
        given = [n for n in ("account_key", "sas_key", "identity_reference") if getattr(self, n) is not None]
        if len(given) != 1:
            raise error(
                "needs exactly one of account_key, sas_key or identity_reference"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def to_sdk(self) -> batch_models.AzureBlobFileSystemConfiguration:
        """The SDK ``AzureBlobFileSystemConfiguration``."""
        return batch_models.AzureBlobFileSystemConfiguration(
            **self.model_dump(exclude={"identity_reference"}),
            identity_reference=self.identity_reference.to_sdk() if self.identity_reference else None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.AzureBlobFileSystemConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.AzureBlobFileSystemConfigurationArgs(
            **self.model_dump(exclude={"identity_reference"}),
            identity_reference=self.identity_reference.to_arm() if self.identity_reference else None,
        )


class NfsMountSpec(SpecModel):
    """An NFS export (``source`` is ``host:/path``)."""

    source: str = Field(min_length=1)
    relative_mount_path: RelativeMountPath
    mount_options: str | None = None

    def to_sdk(self) -> batch_models.NfsMountConfiguration:
        """The SDK ``NfsMountConfiguration``."""
        return batch_models.NfsMountConfiguration(**self.model_dump())

    def to_arm(self) -> Any:
        """The azure-native ``batch.NFSMountConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.NFSMountConfigurationArgs(**self.model_dump())


class CifsMountSpec(SpecModel):
    """A CIFS/SMB share; the password is a secret."""

    source: str = Field(min_length=1)
    relative_mount_path: RelativeMountPath
    username: str = Field(min_length=1)
    password: Secret
    mount_options: str | None = None

    def to_sdk(self) -> batch_models.CifsMountConfiguration:
        """The SDK ``CifsMountConfiguration``."""
        return batch_models.CifsMountConfiguration(**self.model_dump())

    def to_arm(self) -> Any:
        """The azure-native ``batch.CIFSMountConfigurationArgs`` (ARM calls the user ``user_name``)."""
        from pulumi_azure_native import batch

        data = self.model_dump()
        data["user_name"] = data.pop("username")
        return batch.CIFSMountConfigurationArgs(**data)


class AzureFileShareMountSpec(SpecModel):
    """An Azure Files share (``azure_file_url`` is ``https://<account>.file.core.windows.net/<share>``)."""

    account_name: str = Field(min_length=3, max_length=24)
    azure_file_url: str
    account_key: Secret
    relative_mount_path: RelativeMountPath
    mount_options: str | None = None

    @field_validator("azure_file_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https://[^/\s]+/[^/\s]+", value):
            raise error(
                f"{value!r} is not an Azure Files share URL (https://<account>.file.core.windows.net/<share>)"
            )
        return value

    def to_sdk(self) -> batch_models.AzureFileShareConfiguration:
        """The SDK ``AzureFileShareConfiguration``."""
        return batch_models.AzureFileShareConfiguration(**self.model_dump())

    def to_arm(self) -> Any:
        """The azure-native ``batch.AzureFileShareConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.AzureFileShareConfigurationArgs(**self.model_dump())


#: A mount's kind -> its property in the SDK's and azure-native's mount configuration (the same names).
_MOUNT_KEYS = {
    "azure_blob_file_system": "azure_blob_file_system_configuration",
    "nfs": "nfs_mount_configuration",
    "cifs": "cifs_mount_configuration",
    "azure_file_share": "azure_file_share_configuration",
}


class MountSpec(SpecModel):
    """One file system mounted on every node (``mountConfiguration`` item): exactly one kind."""

    azure_blob_file_system: BlobFileSystemMountSpec | None = None
    nfs: NfsMountSpec | None = None
    cifs: CifsMountSpec | None = None
    azure_file_share: AzureFileShareMountSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MountSpec:
        kinds = [k for k in ("azure_blob_file_system", "nfs", "cifs", "azure_file_share") if getattr(self, k)]
        if len(kinds) != 1:
            raise error(
                "a mount needs exactly one of azure_blob_file_system, nfs, cifs, azure_file_share"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        return self

    def _kind(self) -> tuple[str, Any]:
        for name in _MOUNT_KEYS:
            if getattr(self, name) is not None:
                return name, getattr(self, name)
        raise AssertionError("validated: exactly one kind")

    @property
    def relative_mount_path(self) -> str:
        """Where the mount appears under ``$AZ_BATCH_NODE_MOUNTS_DIR``."""
        return str(self._kind()[1].relative_mount_path)

    def to_sdk(self) -> batch_models.MountConfiguration:
        """The SDK ``MountConfiguration``."""
        name, part = self._kind()
        return batch_models.MountConfiguration(**{_MOUNT_KEYS[name]: part.to_sdk()})

    def to_arm(self) -> Any:
        """The azure-native ``batch.MountConfigurationArgs``."""
        from pulumi_azure_native import batch

        name, part = self._kind()
        return batch.MountConfigurationArgs(**{_MOUNT_KEYS[name]: part.to_arm()})


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------

_SUBNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.(ClassicNetwork|Network)/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
#: Backend ports the Batch service reserves on every node.
RESERVED_BACKEND_PORTS = frozenset({29876, 29877})
#: Frontend ports the Batch service reserves (inclusive).
RESERVED_FRONTEND_PORTS = (50000, 55000)


class NetworkSecurityGroupRuleSpec(SpecModel):
    """A network security group rule of an inbound NAT pool."""

    priority: int = Field(ge=150, le=4096, description="150-4096, unique within the NAT pool.")
    access: Annotated[Literal["allow", "deny"], _enum("access", ["allow", "deny"])]
    source_address_prefix: str = Field(min_length=1, description="e.g. 10.0.0.0/24, * or a service tag")
    source_port_ranges: list[str] = Field(default_factory=list, description="Service default: ['*'].")

    def to_sdk(self) -> batch_models.NetworkSecurityGroupRule:
        """The SDK ``NetworkSecurityGroupRule``."""
        return batch_models.NetworkSecurityGroupRule(
            priority=self.priority,
            access=self.access,
            source_address_prefix=self.source_address_prefix,
            source_port_ranges=list(self.source_port_ranges) or None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.NetworkSecurityGroupRuleArgs``."""
        from pulumi_azure_native import batch

        return batch.NetworkSecurityGroupRuleArgs(
            priority=self.priority,
            access=arm_enum(self.access),
            source_address_prefix=self.source_address_prefix,
            source_port_ranges=list(self.source_port_ranges) or None,
        )


class InboundNatPoolSpec(SpecModel):
    """An inbound NAT pool: a frontend port range mapped to one backend port on every node."""

    name: str = Field(description="Letters, digits, '_', '.', '-'; starts with a letter or digit; max 77.")
    protocol: Annotated[Literal["tcp", "udp"], _enum("protocol", ["tcp", "udp"])]
    backend_port: int = Field(ge=1, le=65535, description="Not 29876 or 29877 (reserved by Batch).")
    frontend_port_range_start: int = Field(ge=1, le=65534)
    frontend_port_range_end: int = Field(ge=1, le=65534)
    network_security_group_rules: list[NetworkSecurityGroupRuleSpec] = Field(
        default_factory=list, max_length=25
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}[A-Za-z0-9_]$|^[A-Za-z0-9]$", value):
            raise error(
                f"NAT pool name {value!r} must start with a letter or digit, end with a letter, digit or '_', "
                "contain only letters, digits, '_', '.' and '-', and be at most 77 characters"
            )
        return value

    @field_validator("backend_port")
    @classmethod
    def _backend(cls, value: int) -> int:
        if value in RESERVED_BACKEND_PORTS:
            raise error(f"backend port {value} is reserved by the Batch service (29876, 29877)")
        return value

    @model_validator(mode="after")
    def _range(self) -> InboundNatPoolSpec:
        start, end = self.frontend_port_range_start, self.frontend_port_range_end
        low, high = RESERVED_FRONTEND_PORTS
        if end - start + 1 < 40:
            raise error(f"frontend port range {start}-{end} must contain at least 40 ports")
        if start <= high and end >= low:
            raise error(
                f"frontend port range {start}-{end} overlaps {low}-{high}, reserved by the Batch service"
            )
        priorities = [r.priority for r in self.network_security_group_rules]
        if len(set(priorities)) != len(priorities):
            raise error("network_security_group_rules: each rule needs a distinct priority")
        return self

    def to_sdk(self) -> batch_models.BatchInboundNatPool:
        """The SDK ``BatchInboundNatPool``."""
        return batch_models.BatchInboundNatPool(
            name=self.name,
            protocol=self.protocol,
            backend_port=self.backend_port,
            frontend_port_range_start=self.frontend_port_range_start,
            frontend_port_range_end=self.frontend_port_range_end,
            network_security_group_rules=[r.to_sdk() for r in self.network_security_group_rules] or None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.InboundNatPoolArgs``."""
        from pulumi_azure_native import batch

        return batch.InboundNatPoolArgs(
            name=self.name,
            protocol=arm_enum(self.protocol),
            backend_port=self.backend_port,
            frontend_port_range_start=self.frontend_port_range_start,
            frontend_port_range_end=self.frontend_port_range_end,
            network_security_group_rules=[r.to_arm() for r in self.network_security_group_rules] or None,
        )


ProvisionType = Annotated[
    Literal["batchmanaged", "usermanaged", "nopublicipaddresses"],
    _enum("public IP provisioning", ["batchmanaged", "usermanaged", "nopublicipaddresses"]),
]


class PublicIpAddressSpec(SpecModel):
    """The nodes' public IPs: Batch-managed (default), user-managed (``ip_address_ids``) or none."""

    provision: ProvisionType = "batchmanaged"
    ip_address_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> PublicIpAddressSpec:
        if self.provision == "usermanaged" and not self.ip_address_ids:
            raise error("provision usermanaged needs ip_address_ids (ARM ids of public IP addresses)")
        if self.provision != "usermanaged" and self.ip_address_ids:
            raise error(f"ip_address_ids are only used with provision usermanaged, not {self.provision}")
        return self

    def to_sdk(self) -> batch_models.BatchPublicIpAddressConfiguration:
        """The SDK ``BatchPublicIpAddressConfiguration``."""
        return batch_models.BatchPublicIpAddressConfiguration(
            ip_address_provisioning_type=self.provision, ip_address_ids=list(self.ip_address_ids) or None
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.PublicIPAddressConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.PublicIPAddressConfigurationArgs(
            provision=arm_enum(self.provision), ip_address_ids=list(self.ip_address_ids) or None
        )


class NetworkConfigurationSpec(SpecModel):
    """The pool's network: VNet subnet, public IPs, inbound NAT pools, dynamic VNet assignment."""

    subnet_id: str | None = Field(
        default=None,
        description="/subscriptions/.../resourceGroups/.../providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
    )
    dynamic_vnet_assignment_scope: Annotated[
        Literal["none", "job"] | None, _enum("dynamic VNet assignment scope", ["none", "job"])
    ] = None
    public_ip_address_configuration: PublicIpAddressSpec | None = None
    inbound_nat_pools: list[InboundNatPoolSpec] = Field(
        default_factory=list, max_length=5, description="The endpoint configuration: at most 5 NAT pools."
    )
    enable_accelerated_networking: bool | None = None

    @field_validator("subnet_id")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None and not _SUBNET_ID.match(value):
            raise error(
                f"{value!r} is not the ARM id of a subnet (/subscriptions/<sub>/resourceGroups/<group>/providers/"
                "Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>)"
            )
        return value

    @model_validator(mode="after")
    def _rules(self) -> NetworkConfigurationSpec:
        names = [p.name.lower() for p in self.inbound_nat_pools]
        if len(set(names)) != len(names):
            raise error("inbound_nat_pools: NAT pool names must be unique")
        backend = [(p.protocol, p.backend_port) for p in self.inbound_nat_pools]
        if len(set(backend)) != len(backend):
            raise error("inbound_nat_pools: two NAT pools map to the same protocol and backend port")
        ranges = sorted(
            (p.frontend_port_range_start, p.frontend_port_range_end) for p in self.inbound_nat_pools
        )
        for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
            if start <= end:
                raise error("inbound_nat_pools: frontend port ranges must not overlap")
        if self.dynamic_vnet_assignment_scope == "job" and self.subnet_id is not None:
            raise error("dynamic_vnet_assignment_scope job assigns the job's subnet; remove subnet_id")
        return self

    def to_sdk(self) -> batch_models.NetworkConfiguration:
        """The SDK ``NetworkConfiguration``."""
        return batch_models.NetworkConfiguration(
            subnet_id=self.subnet_id,
            dynamic_vnet_assignment_scope=self.dynamic_vnet_assignment_scope,
            endpoint_configuration=batch_models.BatchPoolEndpointConfiguration(
                inbound_nat_pools=[p.to_sdk() for p in self.inbound_nat_pools]
            )
            if self.inbound_nat_pools
            else None,
            public_ip_address_configuration=self.public_ip_address_configuration.to_sdk()
            if self.public_ip_address_configuration
            else None,
            enable_accelerated_networking=self.enable_accelerated_networking,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.NetworkConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.NetworkConfigurationArgs(
            subnet_id=self.subnet_id,
            dynamic_vnet_assignment_scope=arm_enum(self.dynamic_vnet_assignment_scope),
            endpoint_configuration=batch.PoolEndpointConfigurationArgs(
                inbound_nat_pools=[p.to_arm() for p in self.inbound_nat_pools]
            )
            if self.inbound_nat_pools
            else None,
            public_ip_address_configuration=self.public_ip_address_configuration.to_arm()
            if self.public_ip_address_configuration
            else None,
            enable_accelerated_networking=self.enable_accelerated_networking,
        )


# --------------------------------------------------------------------------------------------------
# User accounts, application packages
# --------------------------------------------------------------------------------------------------


class LinuxUserSpec(SpecModel):
    """Linux settings of a user account: uid and gid together, or neither; an SSH private key (secret)."""

    uid: int | None = Field(default=None, ge=0)
    gid: int | None = Field(default=None, ge=0)
    ssh_private_key: Secret | None = None

    @model_validator(mode="after")
    def _both(self) -> LinuxUserSpec:
        if (self.uid is None) != (self.gid is None):
            raise error("uid and gid must be given together (or neither: the service picks them)")
        return self


class UserAccountSpec(SpecModel):
    """A user account created on every node; tasks run as it with ``user_identity.username``."""

    name: str = Field(min_length=1, max_length=20)
    password: Secret = Field(min_length=1)
    elevation_level: Annotated[
        Literal["nonadmin", "admin"] | None, _enum("elevation level", ["nonadmin", "admin"])
    ] = Field(default=None, description="Service default: nonadmin.")
    linux_user_configuration: LinuxUserSpec | None = None

    def to_sdk(self) -> batch_models.UserAccount:
        """The SDK ``UserAccount``."""
        linux = self.linux_user_configuration
        return batch_models.UserAccount(
            name=self.name,
            password=self.password,
            elevation_level=self.elevation_level,
            linux_user_configuration=batch_models.LinuxUserConfiguration(
                uid=linux.uid, gid=linux.gid, ssh_private_key=linux.ssh_private_key
            )
            if linux
            else None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.UserAccountArgs``."""
        from pulumi_azure_native import batch

        linux = self.linux_user_configuration
        return batch.UserAccountArgs(
            name=self.name,
            password=self.password,
            elevation_level=arm_enum(self.elevation_level),
            linux_user_configuration=batch.LinuxUserConfigurationArgs(
                uid=linux.uid, gid=linux.gid, ssh_private_key=linux.ssh_private_key
            )
            if linux
            else None,
        )


class ApplicationPackageReferenceSpec(SpecModel):
    """An application package installed on every node (``$AZ_BATCH_APP_PACKAGE_<id>[_<version>]``).

    ``application_id`` is the application's name in the Batch account (or, on Azure, the ARM id of
    the application); ``version`` unset means the application's default version.
    """

    application_id: str = Field(min_length=1, max_length=64 * 8)
    version: str | None = None

    def to_sdk(self) -> batch_models.BatchApplicationPackageReference:
        """The SDK ``BatchApplicationPackageReference``."""
        return batch_models.BatchApplicationPackageReference(
            application_id=self.application_id, version=self.version
        )

    def to_arm(self, account_id: Any = None) -> Any:
        """The azure-native ``batch.ApplicationPackageReferenceArgs``.

        ARM wants the application's resource id: a bare name is joined to ``account_id`` (the Batch
        account's ARM id, an Output or a string).
        """
        from pulumi_azure_native import batch

        app = self.application_id
        if app.lower().startswith("/subscriptions/") or account_id is None:
            ref = app
        elif isinstance(account_id, str):
            ref = f"{account_id}/applications/{app}"
        else:  # a pulumi Output
            ref = account_id.apply(lambda account: f"{account}/applications/{app}")
        return batch.ApplicationPackageReferenceArgs(id=ref, version=self.version)


# --------------------------------------------------------------------------------------------------
# Disks, placement, upgrades
# --------------------------------------------------------------------------------------------------

Caching = Annotated[
    Literal["none", "readonly", "readwrite"] | None, _enum("caching", ["none", "readonly", "readwrite"])
]
StorageAccountType = Annotated[
    Literal["standard_lrs", "premium_lrs", "standardssd_lrs"] | None,
    _enum("storage account type", ["standard_lrs", "premium_lrs", "standardssd_lrs"]),
]


class OsDiskSpec(SpecModel):
    """The nodes' OS disk: ephemeral placement, caching, size, managed disk type, write accelerator."""

    ephemeral_os_disk_placement: Annotated[Literal["cachedisk"] | None, _enum("placement", ["cachedisk"])] = (
        Field(default=None, description="cachedisk: an ephemeral OS disk on the VM's cache disk.")
    )
    caching: Caching = None
    disk_size_gb: int | None = Field(default=None, ge=1)
    storage_account_type: StorageAccountType = Field(default=None, description="The managed disk's type.")
    write_accelerator_enabled: bool | None = None

    @model_validator(mode="after")
    def _ephemeral(self) -> OsDiskSpec:
        if self.ephemeral_os_disk_placement and self.storage_account_type:
            raise error("an ephemeral OS disk has no managed disk: remove storage_account_type")
        return self

    def to_sdk(self) -> batch_models.BatchOsDisk:
        """The SDK ``BatchOsDisk``."""
        m = batch_models
        return m.BatchOsDisk(
            ephemeral_os_disk_settings=m.BatchDiffDiskSettings(placement=self.ephemeral_os_disk_placement)
            if self.ephemeral_os_disk_placement
            else None,
            caching=self.caching,
            disk_size_gb=self.disk_size_gb,
            managed_disk=m.ManagedDisk(storage_account_type=self.storage_account_type)
            if self.storage_account_type
            else None,
            write_accelerator_enabled=self.write_accelerator_enabled,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.OSDiskArgs``."""
        from pulumi_azure_native import batch

        return batch.OSDiskArgs(
            ephemeral_os_disk_settings=batch.DiffDiskSettingsArgs(
                placement=arm_enum(self.ephemeral_os_disk_placement)
            )
            if self.ephemeral_os_disk_placement
            else None,
            caching=arm_enum(self.caching),
            disk_size_gb=self.disk_size_gb,
            managed_disk=batch.ManagedDiskArgs(storage_account_type=arm_enum(self.storage_account_type))
            if self.storage_account_type
            else None,
            write_accelerator_enabled=self.write_accelerator_enabled,
        )


class DataDiskSpec(SpecModel):
    """A data disk attached to every node."""

    lun: int = Field(ge=0, le=63, description="Logical unit number, unique per pool.")
    disk_size_gb: int = Field(ge=1)
    caching: Caching = None
    storage_account_type: StorageAccountType = None

    def to_sdk(self) -> batch_models.DataDisk:
        """The SDK ``DataDisk``."""
        return batch_models.DataDisk(
            logical_unit_number=self.lun,
            disk_size_gb=self.disk_size_gb,
            caching=self.caching,
            managed_disk=batch_models.ManagedDisk(storage_account_type=self.storage_account_type)
            if self.storage_account_type
            else None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.DataDiskArgs``."""
        from pulumi_azure_native import batch

        return batch.DataDiskArgs(
            lun=self.lun,
            disk_size_gb=self.disk_size_gb,
            caching=arm_enum(self.caching),
            storage_account_type=arm_enum(self.storage_account_type),
        )


class DiskEncryptionSpec(SpecModel):
    """Which node disks Azure encrypts with platform-managed keys."""

    targets: list[
        Annotated[Literal["osdisk", "temporarydisk"], _enum("disk", ["osdisk", "temporarydisk"])]
    ] = Field(min_length=1)

    def to_sdk(self) -> batch_models.DiskEncryptionConfiguration:
        """The SDK ``DiskEncryptionConfiguration``."""
        return batch_models.DiskEncryptionConfiguration(targets=list(self.targets))

    def to_arm(self) -> Any:
        """The azure-native ``batch.DiskEncryptionConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.DiskEncryptionConfigurationArgs(targets=[arm_enum(t) for t in self.targets])


class NodePlacementSpec(SpecModel):
    """Where the nodes are allocated: one zone-agnostic region (``regional``) or across zones (``zonal``)."""

    policy: Annotated[Literal["regional", "zonal"], _enum("placement policy", ["regional", "zonal"])] = (
        "regional"
    )

    def to_sdk(self) -> batch_models.BatchNodePlacementConfiguration:
        """The SDK ``BatchNodePlacementConfiguration``."""
        return batch_models.BatchNodePlacementConfiguration(policy=self.policy)

    def to_arm(self) -> Any:
        """The azure-native ``batch.NodePlacementConfigurationArgs``."""
        from pulumi_azure_native import batch

        return batch.NodePlacementConfigurationArgs(policy=arm_enum(self.policy))


class RollingUpgradeSpec(SpecModel):
    """How a rolling OS image upgrade proceeds."""

    max_batch_instance_percent: int | None = Field(default=None, ge=5, le=100)
    max_unhealthy_instance_percent: int | None = Field(default=None, ge=5, le=100)
    max_unhealthy_upgraded_instance_percent: int | None = Field(default=None, ge=0, le=100)
    pause_time_between_batches: timedelta | None = None
    prioritize_unhealthy_instances: bool | None = None
    rollback_failed_instances_on_policy_breach: bool | None = None
    enable_cross_zone_upgrade: bool | None = None

    @model_validator(mode="after")
    def _percents(self) -> RollingUpgradeSpec:
        batch, unhealthy = self.max_batch_instance_percent, self.max_unhealthy_instance_percent
        if batch is not None and unhealthy is not None and batch > unhealthy:
            raise error(
                f"max_batch_instance_percent ({batch}) must not exceed max_unhealthy_instance_percent ({unhealthy})"
            )
        return self

    def _kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class UpgradePolicySpec(SpecModel):
    """How the nodes' OS image is upgraded: ``manual``, ``automatic`` or ``rolling``."""

    mode: Annotated[
        Literal["automatic", "manual", "rolling"], _enum("upgrade mode", ["automatic", "manual", "rolling"])
    ] = "manual"
    enable_automatic_os_upgrade: bool | None = None
    disable_automatic_rollback: bool | None = None
    use_rolling_upgrade_policy: bool | None = None
    os_rolling_upgrade_deferral: bool | None = None
    rolling_upgrade_policy: RollingUpgradeSpec | None = None

    @model_validator(mode="after")
    def _mode(self) -> UpgradePolicySpec:
        if (
            self.rolling_upgrade_policy is not None
            and self.mode != "rolling"
            and not self.use_rolling_upgrade_policy
        ):
            raise error(
                "rolling_upgrade_policy is used only with mode rolling (or use_rolling_upgrade_policy)"
            )
        return self

    def _automatic(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "enable_automatic_os_upgrade",
                "disable_automatic_rollback",
                "use_rolling_upgrade_policy",
                "os_rolling_upgrade_deferral",
            )
            if getattr(self, k) is not None
        }

    def to_sdk(self) -> batch_models.UpgradePolicy:
        """The SDK ``UpgradePolicy``."""
        m = batch_models
        automatic = self._automatic()
        return m.UpgradePolicy(
            mode=self.mode,
            automatic_os_upgrade_policy=m.AutomaticOsUpgradePolicy(**automatic) if automatic else None,
            rolling_upgrade_policy=m.RollingUpgradePolicy(**self.rolling_upgrade_policy._kwargs())
            if self.rolling_upgrade_policy
            else None,
        )

    def to_arm(self) -> Any:
        """The azure-native ``batch.UpgradePolicyArgs`` (durations as ISO 8601)."""
        from pulumi_azure_native import batch

        automatic = self._automatic()
        rolling = None
        if self.rolling_upgrade_policy is not None:
            kwargs = self.rolling_upgrade_policy._kwargs()
            if "pause_time_between_batches" in kwargs:
                kwargs["pause_time_between_batches"] = iso_duration(kwargs["pause_time_between_batches"])
            rolling = batch.RollingUpgradePolicyArgs(**kwargs)
        return batch.UpgradePolicyArgs(
            mode=arm_enum(self.mode),
            automatic_os_upgrade_policy=batch.AutomaticOSUpgradePolicyArgs(**automatic)
            if automatic
            else None,
            rolling_upgrade_policy=rolling,
        )
