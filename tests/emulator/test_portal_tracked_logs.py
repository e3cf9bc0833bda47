"""The portal shows a log the File Conventions library tracks while the task still runs, and never a
SAS signature (job metadata, environment values)."""

from __future__ import annotations

import shlex
import sys
import time
import urllib.request
from typing import Any
from urllib.parse import quote

from azure.batch import BatchClient
from azure.batch import models as m
from emulator_helpers import unique, wait_tasks_completed, write_container_url


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the local emulator
        return response.read().decode()


def test_a_tracked_log_is_listed_and_readable_while_it_grows(
    client: BatchClient, shared_pool: str, blob_service: Any, endpoints: Any
) -> None:
    from pulumi_azbatch.conventions import CONTAINER_URL_ENV, job_output_container_name

    job_id = unique("tracked")
    container_url = write_container_url(endpoints, blob_service, job_output_container_name(job_id))
    sas = container_url.split("?", 1)[1]
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=shared_pool),
            metadata=[m.BatchMetadataItem(name="inputs", value=container_url)],
        )
    )
    command = (
        f"{shlex.quote(sys.executable)} -m batch_file_conventions run --flush-interval 0.3 -- "
        "/bin/sh -c 'echo first; sleep 6; echo second'"
    )
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(
            id="streamer",
            command_line=command,
            environment_settings=[m.EnvironmentSetting(name=CONTAINER_URL_ENV, value=container_url)],
        ),
    )
    outputs_page = f"{endpoints.batch_url}/portal/jobs/{quote(job_id)}/outputs"
    blob_page = f"{endpoints.batch_url}/portal/jobs/{quote(job_id)}/blobs/streamer/$TaskLog/stdout.txt"
    deadline = time.monotonic() + 30
    while True:
        running = client.get_task(job_id, "streamer").state == "running"
        page = _get(outputs_page)
        if running and "stdout.txt" in page and _get(blob_page).strip() == "first":
            break
        assert time.monotonic() < deadline, "the tracked log never showed while the task ran"
        time.sleep(0.2)
    # Listed as a tracked (append) blob on a page that refreshes while the job runs, and readable
    # (above: its first line) before the task ends.
    assert 'class="tracked"' in page and "data-refresh-seconds" in page
    wait_tasks_completed(client, job_id)
    assert _get(blob_page).split() == ["first", "second"]

    # The SAS in the metadata and in the task's environment is never shown with its signature.
    signature = sas.split("sig=", 1)[1].split("&", 1)[0]
    for view in ("", "/tasks/streamer"):
        text = _get(f"{endpoints.batch_url}/portal/jobs/{quote(job_id)}{view}")
        assert signature not in text and quote(signature, safe="") not in text
        assert text.count("sig=") == text.count("sig=REDACTED")
