"""The job option ``file_conventions``: tasks get the container URL with a write SAS in the environment,
and a task streams its log with ``batch-outputs run`` while it runs (emulator + Azurite)."""

from __future__ import annotations

import shlex
import sys
import threading
from typing import Any

from provider_helpers import container_sas_url, unique, wait_for
from pulumi_azbatch.dynamic_providers.job import JobProvider

from pulumi_azbatch.conventions import CONTAINER_URL_ENV, job_output_container_name
from pulumi_azbatch.localdev import Endpoints


def test_tasks_get_the_container_url_and_stream_their_log_while_running(
    account: dict[str, str], pool_id: str, endpoints: Endpoints, blob_service: Any, batch_client: Any
) -> None:
    provider = JobProvider()
    job_id = unique("conventions")
    container = job_output_container_name(job_id)
    output_url = container_sas_url(endpoints, blob_service, container, permission="cw")
    tasks_url = container_sas_url(endpoints, blob_service, container, permission="cw")
    # The library as a shell task uses it: `batch-outputs run -- <command>` (here through the
    # interpreter that has it installed); the command prints, waits, prints again.
    command = (
        f"{shlex.quote(sys.executable)} -m batch_file_conventions run --flush-interval 0.3 -- "
        "/bin/sh -c 'echo first; sleep 4; echo second'"
    )
    news = {
        **account,
        "job_id": job_id,
        "pool_id": pool_id,
        "tasks": [{"id": "streamer", "command_line": command}],
        "output_container_url": output_url,
        "file_conventions_container_url": tasks_url,
        "file_conventions": {},
        "wait_for": "tasks",
        "wait_timeout": 60,
    }
    checked = provider.check({}, news)
    assert not checked.failures, checked.failures
    created: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: created.update(result=provider.create(checked.inputs)))
    worker.start()
    try:
        blob = blob_service.get_blob_client(container, "streamer/$TaskLog/stdout.txt")

        def streamed() -> bool:
            try:
                running = batch_client.get_task(job_id, "streamer").state == "running"
                return running and b"first" in blob.download_blob().readall()
            except Exception:  # noqa: BLE001 - the job, the task or the blob is not there yet
                return False

        # The log reaches Azurite while the task still runs (not only when it completes).
        wait_for(streamed, timeout=30)
        worker.join(timeout=90)
        assert "result" in created
        text = blob.download_blob().readall().decode()
        assert text.splitlines() == ["first", "second"]
        assert blob.get_blob_properties().blob_type == "AppendBlob"
        task = batch_client.get_task(job_id, "streamer")
        assert task.execution_info.exit_code == 0
        env = {s.name: s.value for s in task.environment_settings or []}
        assert env[CONTAINER_URL_ENV] == tasks_url
    finally:
        worker.join(timeout=90)
        provider.delete(job_id, {**checked.inputs, "on_destroy": "delete"})
