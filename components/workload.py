"""BatchWorkload: the common case, a pool, its output storage and one job from one stack config."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pulumi

from pulumi_azbatch.config import StackConfig

from .backend import AzureBackend, Backend, backend_from_config
from .job import BatchJob, BatchJobArgs
from .pool import BatchPool, BatchPoolArgs
from .storage import OutputStorage, OutputStorageArgs

__all__ = ["BatchWorkload"]


class BatchWorkload(pulumi.ComponentResource):
    """A :class:`BatchPool`, an :class:`OutputStorage` and a :class:`BatchJob` from one :class:`StackConfig`.

    The output container is ``azbatch:storage.container_name`` or the job's File Conventions container
    (``job-<job id>``). On Azure with ``azbatch:azure.subscription_id`` set, an explicit azure-native
    provider for that subscription is used by every child. ``backend`` overrides the one the config
    names (tests pass endpoints directly instead of reading ``.local/endpoints.json``).
    ``secret_properties`` names, per stack key (``pool``, ``job``), the properties whose config
    value is secret (see :mod:`.stack_config`); they stay secret in the state.

    Children: ``pool``, ``storage``, ``job``. Outputs: ``pool_id``, ``node_ids``, ``job_id``,
    ``container_name``, ``container_url`` (no SAS), ``sas_expiry``, ``nodes``, ``task_counts``.
    """

    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        backend: Backend | None = None,
        project_dir: Path | None = None,
        secret_properties: Mapping[str, Collection[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secrets = secret_properties or {}
        if backend is None:
            backend = backend_from_config(config, project_dir)
        if isinstance(backend, AzureBackend) and backend.settings.subscription_id:
            from pulumi_azure_native import Provider

            provider = Provider(f"{name}-azure", subscription_id=backend.settings.subscription_id)
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider]))
        super().__init__("azbatch:components:BatchWorkload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pool = BatchPool(
            f"{name}-pool",
            BatchPoolArgs(config.pool, backend, secret_properties=frozenset(secrets.get("pool", ()))),
            child,
        )
        self.storage = OutputStorage(
            f"{name}-output", OutputStorageArgs(config.container_name(), backend, config.storage), child
        )
        self.job = BatchJob(
            f"{name}-job",
            BatchJobArgs(
                config.job,
                self.pool,
                self.storage,
                persist_task_logs=config.storage.persist_task_logs,
                secret_properties=frozenset(secrets.get("job", ())),
            ),
            child,
        )
        self.outputs: dict[str, Any] = {
            "pool_id": self.pool.pool_id,
            "node_ids": self.pool.node_ids,
            "job_id": self.job.job_id,
            "container_name": self.storage.container_name,
            "container_url": self.storage.container_url,
            "sas_expiry": self.storage.sas_expiry,
            "nodes": self.job.nodes,
            "task_counts": self.job.task_counts,
        }
        self.register_outputs(self.outputs)
