"""A schedule's ``job_specification.file_conventions``: every run's job gets the container URL with its
write SAS and a preparation task that installs the File Conventions library; two runs an hour apart on
an emulator whose clock the test moves (the JobSchedule provider called directly, real Azurite)."""

from __future__ import annotations

import shlex
from datetime import timedelta
from typing import Any

from azure.batch import models as m
from batch_file_conventions import OutputReader
from clocked_batch import ClockedBatch
from provider_helpers import blob_read_url, container_sas_url, unique, wait_for
from pulumi_azbatch.dynamic_providers.schedule import JobScheduleProvider

from pulumi_azbatch.conventions import (
    CONTAINER_URL_ENV,
    LIBRARY_DIR,
    job_output_container_name,
    library_wheel,
)
from pulumi_azbatch.localdev import LOCALBATCH_ACCOUNT_KEY, LOCALBATCH_ACCOUNT_NAME, Endpoints

#: The job manager streams its stdout with the installed library's CLI (its own PYTHONPATH), naming its run.
MANAGER = (
    f'export PYTHONPATH="$AZ_BATCH_NODE_SHARED_DIR/{LIBRARY_DIR}"; '
    'exec "$PYTHONPATH/bin/batch-outputs" run --flush-interval 0.3 -- '
    "python3 -u -c \"import os, batch_file_conventions as b; print('library at', b.__file__); "
    f"print('run', os.environ['AZ_BATCH_JOB_ID'], '{CONTAINER_URL_ENV}' in os.environ)\""
)


def test_every_run_installs_the_library_and_gets_the_container_url(
    clocked: ClockedBatch, endpoints: Endpoints, blob_service: Any
) -> None:
    batch = clocked.client
    pool_id = unique("fc-sched-pool")
    clocked.create_pool(pool_id)
    schedule_id = unique("fc-sched")
    container = job_output_container_name(schedule_id)
    wheel = library_wheel()
    inputs = {
        "batch_account_url": clocked.url,
        "batch_account_name": LOCALBATCH_ACCOUNT_NAME,
        "batch_account_key": LOCALBATCH_ACCOUNT_KEY,
        "owner_stack": "org/proj/test",
        "owner_resource": "azbatch:JobSchedule::fc",
        "schedule_id": schedule_id,
        "schedule": {"recurrence_interval": "PT1H"},
        "output_container_url": container_sas_url(endpoints, blob_service, container, "cw"),
        "file_conventions_container_url": container_sas_url(endpoints, blob_service, container, "cw"),
        "file_conventions_library_url": blob_read_url(endpoints, container, wheel.blob_name),
        "job_specification": {
            "pool_id": pool_id,
            "file_conventions": {"install_library": True, "library_dependencies": "preinstalled"},
            # The user's own preparation command still runs, after the install.
            "job_preparation_task": {"command_line": "/bin/sh -c 'echo prepared'"},
            "job_manager_task": {"command_line": f"/bin/sh -c {shlex.quote(MANAGER)}"},
        },
        "on_destroy": "delete",
    }
    provider = JobScheduleProvider()
    checked = provider.check({}, inputs)
    assert not checked.failures, checked.failures
    assert checked.inputs["file_conventions_library"] == {
        "wheel": wheel.blob_name,
        "dependencies": "preinstalled",
    }
    without_url = provider.check({}, {**inputs, "file_conventions_library_url": None})
    assert [f.property for f in without_url.failures] == ["job_specification.file_conventions"]
    reader = OutputReader(blob_service.get_container_client(container))
    created = provider.create(checked.inputs)
    try:
        # The wheel is in $Library/; the specification's preparation task installs it, then runs the user's.
        assert (
            blob_service.get_blob_client(container, wheel.blob_name).download_blob().readall() == wheel.data
        )
        spec = batch.get_job_schedule(schedule_id).job_specification
        assert [r.file_path for r in spec.job_preparation_task.resource_files] == [wheel.filename]
        assert "pip install" in spec.job_preparation_task.command_line
        assert CONTAINER_URL_ENV in {e.name for e in spec.common_environment_settings}

        def ran(job_id: str) -> str:
            """The job manager's streamed stdout once ``job_id``'s manager completed (its own run's)."""

            def done() -> str:
                try:
                    task = batch.get_task(job_id, "jobmanager")
                except Exception:  # noqa: BLE001 - the run's job or its manager is not there yet
                    return ""
                if task.state != m.BatchTaskState.COMPLETED:
                    return ""
                stderr = b"".join(batch.download_task_file(job_id, "jobmanager", "stderr.txt")).decode()
                assert task.execution_info.exit_code == 0, stderr
                return reader.task("jobmanager").get_output("TaskLog", "stdout.txt").download_text()

            return str(wait_for(done, timeout=90))

        for run in (1, 2):
            job_id = f"{schedule_id}:job-{run}"
            if run == 2:
                clocked.advance(timedelta(hours=1))  # the next recurrence: a new job, a new preparation
            log = ran(job_id)
            assert f"/shared/{LIBRARY_DIR}/batch_file_conventions/__init__.py" in log, log
            assert f"run {job_id} True" in log, log
            [status] = batch.list_job_preparation_and_release_task_status(job_id)
            assert status.job_preparation_task_execution_info.exit_code == 0
        # What refresh compares is what was sent (the install and the URL added): no drift.
        read = provider.read(schedule_id, {**checked.inputs, **created.outs})
        assert read.outs["drift"] == []
        # A re-signed tasks SAS (an `up` in its last quarter) is PATCHed into the schedule.
        resigned = {
            **checked.inputs,
            "file_conventions_container_url": container_sas_url(endpoints, blob_service, container, "cw")
            + "&x=1",
        }
        diff = provider.diff(schedule_id, {**checked.inputs, **created.outs}, resigned)
        assert diff.changes and diff.replaces == []
        provider.update(schedule_id, {**checked.inputs, **created.outs}, resigned)
        env = {
            e.name: e.value
            for e in batch.get_job_schedule(schedule_id).job_specification.common_environment_settings
        }
        assert env[CONTAINER_URL_ENV].endswith("&x=1")
    finally:
        provider.delete(schedule_id, checked.inputs)
        batch.begin_delete_pool(pool_id, polling_interval=1)
