"""Where the components deploy to: the local emulators or Azure, and the references they hand on.

Every component takes the same arguments on both backends; only the ``backend`` value differs:

* :class:`LocalBackend`: the local Batch emulator and Azurite, by their endpoints
  (:class:`pulumi_azbatch.endpoints.Endpoints`, written to ``.local/endpoints.json`` by
  ``make emulators``). Pools, containers and SAS go through the data planes (dynamic resources).
* :class:`AzureBackend`: a resource group, location, a Batch account and a storage account, each
  existing or created (:class:`pulumi_azbatch.config.AzureConfig`). Pools and containers are
  azure-native (ARM) resources; the SAS is still signed by the dynamic ``ContainerSas``.

:class:`BatchAccountRef` and :class:`PoolRef` are what a job needs of a pool: they can be built from
a :class:`~pulumi_azbatch.components.BatchPool` or from another stack's outputs (StackReference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from pulumi_azbatch.config import AzureConfig, StackConfig
from pulumi_azbatch.endpoints import Endpoints

__all__ = ["AzureBackend", "Backend", "BatchAccountRef", "LocalBackend", "PoolRef", "backend_from_config"]


@dataclass(frozen=True)
class LocalBackend:
    """The local emulators (Batch emulator + Azurite), by their endpoints and development keys."""

    endpoints: Endpoints

    @classmethod
    def from_file(cls, path: Path | None = None) -> LocalBackend:
        """Read ``.local/endpoints.json`` (``make emulators`` writes it); a clear error when missing."""
        return cls(Endpoints.read(path))


@dataclass(frozen=True)
class AzureBackend:
    """Azure: resource group, location, Batch account and storage account (existing or created)."""

    settings: AzureConfig

    def batch_account_group(self) -> str:
        return self.settings.batch_account.resource_group or self.settings.resource_group

    def storage_account_group(self) -> str:
        return self.settings.storage_account.resource_group or self.settings.resource_group


Backend = LocalBackend | AzureBackend


@dataclass(frozen=True)
class BatchAccountRef:
    """A Batch account as the data plane sees it: endpoint URL, account name and shared key (secret)."""

    url: pulumi.Input[str]
    name: pulumi.Input[str]
    key: pulumi.Input[str]


@dataclass(frozen=True)
class PoolRef:
    """What a job needs of a pool: its id and its account (e.g. read from another stack's outputs)."""

    pool_id: pulumi.Input[str]
    account: BatchAccountRef


def backend_from_config(config: StackConfig, project_dir: Path | None = None) -> Backend:
    """The backend a validated stack config names.

    The local one reads its endpoints file now and fails at once, naming the endpoint and
    ``make emulators``, when an emulator is not running (preview included).
    """
    if config.backend == "azure":
        assert config.azure is not None  # guaranteed by load_stack_config
        return AzureBackend(config.azure)
    backend = LocalBackend.from_file(config.endpoints_path(project_dir))
    backend.endpoints.check_reachable()
    return backend
