"""BatchWorkload: a stack config's pools, and per job its output storage and the job."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pulumi

from pulumi_azbatch.config import PoolRef as ConfigPoolRef
from pulumi_azbatch.config import StackConfig
from pulumi_azbatch.conventions import job_output_container_name

from .backend import AzureBackend, Backend, BatchAccountRef, LocalBackend, PoolRef, backend_from_config
from .job import BatchJob, BatchJobArgs
from .pool import BatchPool, BatchPoolArgs
from .schedule import BatchJobSchedule, BatchJobScheduleArgs
from .stack_config import ALL_PROPERTIES
from .storage import OutputStorage, OutputStorageArgs

__all__ = ["BatchWorkload"]


class BatchWorkload(pulumi.ComponentResource):
    """The pools, output storages and jobs of one :class:`StackConfig`.

    Per pool of ``config.pools`` a :class:`BatchPool`; per job of ``config.jobs`` an
    :class:`OutputStorage` (``azbatch:storage.container_name`` or the job's File Conventions container
    ``job-<job id>``) and a :class:`BatchJob` on its pool: a pool of this stack by name, an existing
    pool of the account by id (the account of this stack's pools, or the local emulator's), or
    another stack's pool through a StackReference (pool id from the named output, the account from
    that stack's ``batch_account_url``/``batch_account_name``/``batch_account_key`` outputs). On
    Azure with ``azbatch:azure.subscription_id`` set, an explicit azure-native provider for that
    subscription is used by every child. ``backend`` overrides the one the config names (tests pass
    endpoints directly instead of reading ``.local/endpoints.json``).
    ``secret_properties`` names, per stack key (``pool``, ``job``; ``pools``/``jobs`` by entry name),
    the properties whose config value is secret (see :mod:`.stack_config`); they stay secret in the state.

    Resource names: ``<name>-pool-<pool>``, ``<name>-output-<job>``, ``<name>-job-<job>``; the
    single-workload form (``azbatch:pool`` + ``azbatch:job``) keeps ``<name>-pool``,
    ``<name>-output`` and ``<name>-job``, so its stacks deploy unchanged.

    Per job schedule of ``config.schedules`` an :class:`OutputStorage` (its File Conventions
    container ``job-<schedule id>``, resource ``<name>-schedule-output-<schedule>``) and a
    :class:`BatchJobSchedule` (``<name>-schedule-<schedule>``) on its pool, resolved as a job's.

    Children: ``pools``, ``storages``, ``jobs``, ``schedules`` (by name; a schedule's storage is
    ``storages["schedule:<name>"]``); ``pool``, ``storage``, ``job`` when there is exactly one.
    Outputs: ``pools``, ``jobs`` and (with schedules) ``schedules`` maps (see :meth:`summary`).
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

        adopt = config.adopt

        def named(kind: str, item: str) -> str:
            return f"{name}-{kind}" if config.single else f"{name}-{kind}-{item}"

        self.pools: dict[str, BatchPool] = {
            pool: BatchPool(
                named("pool", pool),
                BatchPoolArgs(
                    spec,
                    backend,
                    secret_properties=_entry_secrets(secrets, "pool", "pools", pool, config.single),
                    adopt="pool" in adopt,
                ),
                child,
            )
            for pool, spec in config.pools.items()
        }
        self.storages: dict[str, OutputStorage] = {}
        self.jobs: dict[str, BatchJob] = {}
        references: dict[str, pulumi.StackReference] = {}
        for job, spec in config.jobs.items():
            pool = self._pool_of(config.job_pools[job], backend, references, child)
            self.storages[job] = OutputStorage(
                named("output", job),
                OutputStorageArgs(
                    config.container_name(job), backend, config.storage, adopt="container" in adopt
                ),
                child,
            )
            self.jobs[job] = BatchJob(
                named("job", job),
                BatchJobArgs(
                    spec,
                    pool,
                    self.storages[job],
                    persist_task_logs=config.storage.persist_task_logs,
                    secret_properties=_entry_secrets(secrets, "job", "jobs", job, config.single),
                    adopt="job" in adopt,
                ),
                child,
            )
        self.schedules: dict[str, BatchJobSchedule] = {}
        for schedule, schedule_spec in config.schedules.items():
            pool = self._pool_of(config.schedule_pools[schedule], backend, references, child)
            storage = OutputStorage(
                f"{name}-schedule-output-{schedule}",
                OutputStorageArgs(
                    job_output_container_name(schedule_spec.effective_id()),
                    backend,
                    config.storage,
                    adopt="container" in adopt,
                ),
                child,
            )
            self.storages[f"schedule:{schedule}"] = storage
            self.schedules[schedule] = BatchJobSchedule(
                f"{name}-schedule-{schedule}",
                BatchJobScheduleArgs(
                    schedule_spec,
                    pool,
                    storage,
                    persist_task_logs=config.storage.persist_task_logs,
                    secret_properties=_entry_secrets(secrets, "schedule", "schedules", schedule, False),
                    adopt="schedule" in adopt,
                ),
                child,
            )
        if len(self.pools) == 1:
            self.pool = next(iter(self.pools.values()))
        if len(self.jobs) == 1:
            self.storage, self.job = next(iter(self.storages.values())), next(iter(self.jobs.values()))
        self.outputs: dict[str, Any] = self.summary()
        self.register_outputs(self.outputs)

    def _pool_of(
        self,
        where: str | ConfigPoolRef,
        backend: Backend,
        references: dict[str, pulumi.StackReference],
        child: pulumi.ResourceOptions,
    ) -> BatchPool | PoolRef:
        """A job's or schedule's pool: one of this stack's by name, another stack's, or one by id."""
        if isinstance(where, str):
            return self.pools[where]
        if where.stack is not None:
            if where.stack not in references:
                references[where.stack] = pulumi.StackReference(where.stack, opts=child)
            return _stack_pool(references[where.stack], where.output)
        assert where.id is not None  # one of id and stack, checked by the config
        return PoolRef(where.id, self._account(backend))

    def _account(self, backend: Backend) -> BatchAccountRef:
        """The Batch account of a pool given by id: the account of this stack's pools, else the emulator's."""
        if self.pools:
            return next(iter(self.pools.values())).ref().account
        if isinstance(backend, LocalBackend):
            e = backend.endpoints
            return BatchAccountRef(
                e.batch_url, e.batch_account_name, pulumi.Output.secret(e.batch_account_key)
            )
        raise ValueError("a job on a pool by id needs a pool of this stack for its Batch account on Azure")

    def summary(self) -> dict[str, Any]:
        """What the stack exports: per pool ``pool_id``, ``node_ids``; per job ``job_id``, ``pool_id``,
        ``state``, ``task_counts``, ``failed_tasks``, ``nodes``, ``output_container_name``, ``output_container_url``
        (no SAS), ``sas_expiry``."""
        return {
            "pools": {
                name: {"pool_id": pool.pool_id, "node_ids": pool.node_ids}
                for name, pool in self.pools.items()
            },
            "jobs": {
                name: {
                    "job_id": job.job_id,
                    "pool_id": job.job.pool_id,
                    "state": job.state,
                    "task_counts": job.task_counts,
                    "failed_tasks": job.failed_tasks,
                    "nodes": job.nodes,
                    "output_container_name": self.storages[name].container_name,
                    "output_container_url": self.storages[name].container_url,
                    "sas_expiry": self.storages[name].sas_expiry,
                }
                for name, job in self.jobs.items()
            },
            **(
                {
                    "schedules": {
                        name: {
                            "schedule_id": schedule.schedule_id,
                            "state": schedule.state,
                            "next_run_time": schedule.next_run_time,
                            "recent_job": schedule.recent_job,
                            "jobs": schedule.jobs,
                            "output_container_url": schedule.output_container,
                        }
                        for name, schedule in self.schedules.items()
                    }
                }
                if self.schedules
                else {}
            ),
        }


def _stack_pool(reference: pulumi.StackReference, output: str) -> PoolRef:
    """Another stack's pool: the id from ``output``, the account from its ``batch_account_*`` outputs."""
    return PoolRef(
        pool_id=reference.require_output(output),
        account=BatchAccountRef(
            url=reference.require_output("batch_account_url"),
            name=reference.require_output("batch_account_name"),
            key=reference.require_output("batch_account_key"),
        ),
    )


def _entry_secrets(
    secrets: Mapping[str, Collection[str]], single_key: str, named_key: str, entry: str, single: bool
) -> frozenset[str]:
    """The secret properties of one pool or job: per property in the single form (``azbatch:pool``);
    for an entry of ``azbatch:pools``/``azbatch:jobs`` holding any secret, all of its properties."""
    if single:
        return frozenset(secrets.get(single_key, ()))
    names = secrets.get(named_key, ())
    return frozenset({ALL_PROPERTIES}) if ALL_PROPERTIES in names or entry in names else frozenset()
