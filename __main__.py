"""The project's Pulumi program: one BatchWorkload (pools; per job its output storage + SAS and the job).

The stack's settings are the ``azbatch:*`` keys of ``stacks/Pulumi.<stack>.yaml`` (see
``pulumi_azbatch.config``); they are validated once, here and by ``python -m pulumi_azbatch.cli
validate stacks``, and every problem names its key. The exports are what ``make up``'s report and a
consuming stack (StackReference) need; nothing exported carries a SAS, and the account key is secret.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi_azbatch.components import BatchWorkload
from pulumi_azbatch.components.stack_config import read_stack_config

from pulumi_azbatch.config import StackConfigError, load_stack_config
from pulumi_azbatch.endpoints import EndpointsUnreachableError

PROJECT_DIR = Path(__file__).resolve().parent


def main() -> BatchWorkload:
    """Build the workload and export its outputs; a config error stops the run with every problem listed.

    Exports: ``pools`` and ``jobs`` (maps by name, see ``BatchWorkload.summary``), the Batch account
    (the key as a secret) and the storage account. A stack with one pool and one job also exports
    the single-workload names (``pool_id``, ``job_id``, ``task_counts``, ``failed_tasks``...) that
    consuming stacks and older tooling read.
    """
    values, secret_properties = read_stack_config(PROJECT_DIR)
    try:
        config = load_stack_config(values, source=f"stack {pulumi.get_stack()}")
    except StackConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    try:
        workload = BatchWorkload(
            "workload", config, project_dir=PROJECT_DIR, secret_properties=secret_properties
        )
    except (FileNotFoundError, EndpointsUnreachableError) as exc:
        raise pulumi.RunError(str(exc)) from None
    pulumi.export("backend", config.backend)
    for key, value in workload.summary().items():
        pulumi.export(key, value)
    if workload.pools:
        account = next(iter(workload.pools.values()))
        pulumi.export("batch_account_url", account.account_url)
        pulumi.export("batch_account_name", account.account_name)
        pulumi.export("batch_account_key", pulumi.Output.secret(account.account_key))
    if workload.storages:
        storage = next(iter(workload.storages.values()))
        pulumi.export("blob_url", storage.blob_url)
        pulumi.export("storage_account_name", storage.account_name)
    if len(workload.pools) == 1:
        pulumi.export("pool_id", workload.pool.pool_id)
        pulumi.export("node_ids", workload.pool.node_ids)
    if len(workload.jobs) == 1:
        pulumi.export("job_id", workload.job.job_id)
        pulumi.export("job_state", workload.job.state)
        pulumi.export("task_counts", workload.job.task_counts)
        pulumi.export("failed_tasks", workload.job.failed_tasks)
        pulumi.export("nodes", workload.job.nodes)
        pulumi.export("output_container_name", workload.storage.container_name)
        pulumi.export("output_container_url", workload.storage.container_url)
        pulumi.export("output_sas_expiry", workload.storage.sas_expiry)
    return workload


if __name__ == "__main__":
    main()
