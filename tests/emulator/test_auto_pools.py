"""Auto pools through the SDK (service/autopools.py): a job's autoPoolSpecification creates its pool,
named `<prefix>_<GUID>`, and the pool goes when the job completes unless keepAlive is set."""

from __future__ import annotations

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from emulator_helpers import LINUX, terminate_options, unique, wait_for, wait_task


def _auto_job(job_id: str, keep_alive: bool) -> m.BatchJobCreateOptions:
    return m.BatchJobCreateOptions(
        id=job_id,
        pool_info=m.BatchPoolInfo(
            auto_pool_specification=m.BatchAutoPoolSpecification(
                auto_pool_id_prefix="auto",
                pool_lifetime_option="job",
                keep_alive=keep_alive,
                pool=m.BatchPoolSpecification(
                    vm_size="standard_d2s_v3", virtual_machine_configuration=LINUX, target_dedicated_nodes=1
                ),
            )
        ),
    )


def _gone(client: BatchClient, pool_id: str) -> bool:
    try:
        client.get_pool(pool_id)
    except ResourceNotFoundError:
        return True
    return False


@pytest.mark.parametrize("keep_alive", [False, True])
def test_auto_pool_lives_as_long_as_its_job(client: BatchClient, keep_alive: bool) -> None:
    job_id = unique("autojob")
    client.create_job(_auto_job(job_id, keep_alive))
    job = client.get_job(job_id)
    pool_id = job.execution_info.pool_id
    assert pool_id.startswith("auto_") and len(pool_id) == len("auto_") + 36
    assert job.pool_info.auto_pool_specification.pool_lifetime_option == "job"
    assert client.get_pool(pool_id).vm_size == "standard_d2s_v3"
    client.create_task(job_id, m.BatchTaskCreateOptions(id="hello", command_line="/bin/echo hi"))
    assert wait_task(client, job_id, "hello").execution_info.exit_code == 0
    client.begin_terminate_job(job_id, terminate_options(), polling_interval=0.1).result()
    if keep_alive:
        assert client.get_job(job_id).state == "completed"
        assert client.get_pool(pool_id).state == "active"
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()
    else:
        wait_for(lambda: _gone(client, pool_id))
