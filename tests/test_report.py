"""The `make up` report (pulumi_azbatch/report.py) read live from the emulators: a stack's job schedules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.batch import models as m

from pulumi_azbatch.localdev import Emulators
from pulumi_azbatch.report import build_report


def _outputs(emulators: Emulators, **schedules: str) -> dict[str, Any]:
    e = emulators.endpoints
    return {
        "backend": "local",
        "batch_account_url": e.batch_url,
        "batch_account_name": e.batch_account_name,
        "batch_account_key": e.batch_account_key,
        "blob_url": e.blob_url,
        "storage_account_name": e.storage_account_name,
        "pools": {},
        "jobs": {},
        "schedules": {name: {"schedule_id": sid, "state": "active"} for name, sid in schedules.items()},
    }


def _schedule(batch_client: Any, schedule_id: str, **timetable: Any) -> None:
    batch_client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id,
            schedule=m.BatchJobScheduleConfiguration(**timetable),
            job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id="no-such-pool")),
        )
    )


def test_the_report_lists_each_schedule_with_state_next_run_recent_job_and_jobs_created(
    emulators: Emulators, batch_client: Any
) -> None:
    suffix = uuid.uuid4().hex[:6]
    running, waiting, gone = f"rep-hourly-{suffix}", f"rep-later-{suffix}", f"rep-gone-{suffix}"
    later = datetime.now(UTC) + timedelta(days=2)
    _schedule(batch_client, running, recurrence_interval=timedelta(hours=1))
    _schedule(batch_client, waiting, do_not_run_until=later)
    try:
        report = build_report(
            _outputs(emulators, hourly=running, later=waiting, gone=gone),
            emulators.endpoints.storage_account_key,
        )
        by_name = {s.name: s for s in report.schedules}
        hourly = by_name["hourly"]
        assert hourly.state == "active" and hourly.jobs_created == 1
        assert hourly.recent_job == f"{running}:job-1" and hourly.recent_job_state == "active"
        assert hourly.next_run_time is not None, "a recurring schedule has its next run"
        assert by_name["later"].jobs_created == 0 and by_name["later"].recent_job is None
        assert by_name["later"].next_run_time is not None
        assert datetime.fromisoformat(by_name["later"].next_run_time) >= later - timedelta(seconds=1)
        # A schedule deleted outside Pulumi: one line with the service's error, no traceback.
        assert by_name["gone"].state == "unknown"
        assert any("JobScheduleNotFound" in p for p in by_name["gone"].problems)
        text = report.render()
        assert (
            f"Job schedule {running} (hourly): active; next run: {hourly.next_run_time}; "
            f"recent job: {running}:job-1 (active); jobs created: 1" in text
        )
        assert (
            f"Job schedule {waiting} (later): active; next run: " in text and "recent job: none yet" in text
        )
        assert f"/portal/schedules/{running}" in text
        assert "Traceback" not in text
    finally:
        for schedule_id in (running, waiting):
            batch_client.begin_delete_job_schedule(schedule_id, polling_interval=0.2).result()
