"""The portal's job schedule pages, read over HTTP from the session's emulator (the real SDK makes the schedule)."""

from __future__ import annotations

import re
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

from azure.batch import models as m
from emulator_helpers import wait_for

from pulumi_azbatch.localdev import Endpoints


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return answer.read().decode()


def test_schedules_show_state_next_run_and_their_jobs_with_prep_release_links(
    endpoints: Endpoints, batch_client: Any
) -> None:
    schedule_id = f"portal-sched-{uuid.uuid4().hex[:6]}"
    batch_client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id,
            schedule=m.BatchJobScheduleConfiguration(recurrence_interval="PT1H"),
            job_specification=m.BatchJobSpecification(
                pool_info=m.BatchPoolInfo(pool_id="portal-no-such-pool"),
                job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
                job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"),
            ),
            metadata=[m.BatchMetadataItem(name="input", value="https://x.blob/c?sv=1&sig=SECRETSIG")],
        )
    )
    base = endpoints.batch_url.rstrip("/")
    first = f"{schedule_id}:job-1"
    try:
        wait_for(lambda: [j.id for j in batch_client.list_jobs_from_schedule(schedule_id)] == [first])
        home = _get(f"{base}/portal/")
        row = re.search(
            rf"<tr>(?:(?!</tr>).)*/portal/schedules/{schedule_id}(?:(?!</tr>).)*</tr>", home, re.S
        )
        assert row, "the home page lists the schedule"
        assert "active" in row.group(0) and f"/portal/jobs/{quote(first, safe='')}" in row.group(0)
        assert "PT1H" in row.group(0)

        detail = _get(f"{base}/portal/schedules/{schedule_id}")
        nxt = batch_client.get_job_schedule(schedule_id).execution_info.next_run_time
        assert nxt.strftime("%Y-%m-%d %H:%M:%S") in detail, "next run time shown"
        job_url = f"/portal/jobs/{quote(first, safe='')}"
        assert f'href="{job_url}"' in detail
        assert f'href="{job_url}/preparation"' in detail and f'href="{job_url}/release"' in detail
        assert "SECRETSIG" not in home + detail and "sig=REDACTED" in detail
        # The links lead to the job's own views.
        assert "Preparation" in _get(f"{base}{job_url}/preparation")
    finally:
        batch_client.begin_delete_job_schedule(schedule_id, polling_interval=0.2).result()


def test_an_unknown_schedule_is_a_404_page(endpoints: Endpoints) -> None:
    import urllib.error

    try:
        urllib.request.urlopen(
            f"{endpoints.batch_url.rstrip('/')}/portal/schedules/nope-{uuid.uuid4().hex[:4]}"
        )
    except urllib.error.HTTPError as err:
        assert err.code == 404
        assert "No job schedule" in err.read().decode()
    else:
        raise AssertionError("expected 404")
