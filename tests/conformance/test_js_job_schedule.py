"""A recurring job schedule driven by Microsoft's JavaScript SDK (`@azure/batch` 10.2.0, npm).

The scenario (clients/js_job_schedule.cjs) creates an hourly schedule whose jobs have a preparation and a
release task, reads it back, patches, disables and enables it, lets job-1 end, moves the emulator's clock
an hour (the admin route; this emulator is started with `--clock-control`), sees job-2, runs a task in it,
terminates the schedule (job-2 ends with TerminateJobSchedule, its release task runs) and deletes it.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clients import ensure_js_sdk, run_node
from clients import scenario_step as _step

from pulumi_azbatch.localdev import (
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    batch_emulator_command,
    free_port,
    wait_for_port,
)

SCENARIO = Path(__file__).resolve().parent / "clients" / "js_job_schedule.cjs"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ensure_js_sdk()
    port = free_port()
    proc = subprocess.Popen(
        [*batch_emulator_command(port, tmp_path_factory.mktemp("js-schedules")), "--clock-control"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        schedule_id = f"jssched-{uuid.uuid4().hex[:8]}"
        result = run_node(
            SCENARIO,
            {
                "BATCH_URL": f"http://127.0.0.1:{port}",
                "BATCH_ACCOUNT": LOCALBATCH_ACCOUNT_NAME,
                "BATCH_KEY": LOCALBATCH_ACCOUNT_KEY,
                "POOL_ID": f"jspool-{uuid.uuid4().hex[:8]}",
                "SCHEDULE_ID": schedule_id,
            },
        )
        result["scheduleId"] = schedule_id
        yield result
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_create_makes_the_first_job_from_the_job_specification(scenario: dict[str, Any]) -> None:
    sid = scenario["scheduleId"]
    _step(scenario, "createSchedule")
    assert _step(scenario, "exists") is True
    assert _step(scenario, "firstJob") == [f"{sid}:job-1"]
    created = _step(scenario, "created")
    assert created["state"] == "active" and created["recentJob"] == f"{sid}:job-1"
    assert _time(created["nextRunTime"]) - _time(created["creationTime"]) == timedelta(hours=1)
    job = _step(scenario, "jobOne")
    assert job["priority"] == 3 and job["prep"] == "/bin/sh -c 'echo prep'"
    assert job["metadata"] == [{"name": "run", "value": "hourly"}]
    assert _step(scenario, "listed") == [sid]


def test_patch_disable_and_enable(scenario: dict[str, Any]) -> None:
    _step(scenario, "patch")
    _step(scenario, "disable")
    assert _step(scenario, "disabledState") == "disabled"
    _step(scenario, "enable")


def test_the_next_run_comes_after_the_interval(scenario: dict[str, Any]) -> None:
    sid = scenario["scheduleId"]
    _step(scenario, "terminateJobOne")
    assert _step(scenario, "advanceClock") == 3600
    assert _step(scenario, "secondJob") == [f"{sid}:job-1", f"{sid}:job-2"]
    after = _step(scenario, "afterSecond")
    assert after["recentJob"] == f"{sid}:job-2"
    assert _time(after["nextRunTime"]) - _time(after["creationTime"]) == timedelta(hours=2)
    assert _step(scenario, "taskDone") is True


def test_terminate_ends_the_active_job_with_its_release_task_then_delete_removes_everything(
    scenario: dict[str, Any],
) -> None:
    sid = scenario["scheduleId"]
    _step(scenario, "terminate")
    completed = _step(scenario, "completed")
    assert completed["previousState"] == "terminating" and completed["endTime"] is not None
    assert completed["nextRunTime"] is None
    job = _step(scenario, "jobTwo")
    assert job == {"state": "completed", "terminateReason": "TerminateJobSchedule", "releaseExit": [0]}
    _step(scenario, "deleteSchedule")
    gone = _step(scenario, "gone")
    assert gone["code"] == "JobScheduleNotFound"
    assert not [j for j in gone["jobs"] if j.startswith(f"{sid}:")]
