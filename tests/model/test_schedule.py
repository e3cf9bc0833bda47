"""The job schedule model: one job model for its job specification, its own rules, its SDK mapping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pulumi_azbatch.model.common import UNKNOWN
from pulumi_azbatch.model.job import JobPropertiesSpec, JobSpec
from pulumi_azbatch.model.schedule import JobScheduleSpec, JobSpecificationSpec
from pulumi_azbatch.model.validation import JobSpecError, parse_schedule, validate_schedule

SAS = "sv=2024-01-01&sp=cw&se=2099-01-01T00:00:00Z&sr=c&sig=abc"


def _schedule(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "nightly",
        "schedule": {"recurrence_interval": "P1D", "start_window": "PT1H"},
        "job_specification": {
            "pool_id": "cpu",
            "job_preparation_task": {"command_line": "/bin/true"},
            "job_release_task": {"command_line": "/bin/true"},
            "job_manager_task": {"command_line": "/bin/sh -c 'python3 sweep.py'"},
        },
    }
    raw.update(changes)
    return raw


def _failures(raw: dict[str, Any]) -> dict[str, str]:
    return {f.property: f.reason for f in validate_schedule(raw)}


def test_the_job_specification_is_the_jobs_own_properties_plus_a_job_manager() -> None:
    # One model: every job service property is declared once, on JobPropertiesSpec, for both.
    shared = set(JobPropertiesSpec.model_fields)
    assert shared <= set(JobSpec.model_fields) and shared <= set(JobSpecificationSpec.model_fields)
    assert set(JobSpecificationSpec.model_fields) - shared == {"job_manager_task"}
    assert not {"id", "tasks", "task_factories"} & set(JobSpecificationSpec.model_fields)


def test_a_valid_schedule_maps_to_the_sdk_with_the_jobs_own_mapping() -> None:
    spec = parse_schedule(_schedule())
    created_schedule = spec.to_batch_job_schedule_create()
    timetable = created_schedule.schedule
    assert (timetable.recurrence_interval, timetable.start_window) == (timedelta(days=1), timedelta(hours=1))
    sdk = created_schedule.as_dict()
    job = sdk["jobSpecification"]
    assert job["poolInfo"] == {"poolId": "cpu"}
    assert job["jobPreparationTask"]["id"] == "jobpreparation" and "jobReleaseTask" in job
    assert (
        job["jobManagerTask"]["id"] == "jobmanager" and job["jobManagerTask"]["killJobOnCompletion"] is True
    )
    # The same properties map the same way as a job's.
    as_job = JobSpec(id="x", **spec.job_specification.model_dump(exclude={"job_manager_task"}))
    created = as_job.to_batch_job_create().as_dict()
    for key in ("poolInfo", "jobPreparationTask", "jobReleaseTask", "constraints", "priority"):
        assert created[key] == job[key]


def test_a_task_list_is_refused_with_the_reason() -> None:
    raw = _schedule()
    raw["job_specification"]["tasks"] = [{"id": "a", "command_line": "/bin/true"}]
    failures = _failures(raw)
    assert "job_specification.tasks" in failures
    assert "job_manager_task" in failures["job_specification.tasks"]


def test_timetable_rules_name_their_key() -> None:
    failures = _failures(
        _schedule(
            schedule={
                "recurrence_interval": "PT30S",
                "do_not_run_until": "2026-01-01T00:00:00",
            }
        )
    )
    assert "at least 1 minute" in failures["schedule.recurrence_interval"]
    assert "time zone" in failures["schedule.do_not_run_until"]
    failures = _failures(
        _schedule(
            schedule={"do_not_run_until": "2026-02-01T00:00:00Z", "do_not_run_after": "2026-01-01T00:00:00Z"}
        )
    )
    assert "never run" in failures["schedule"]


def test_the_jobs_rules_run_on_the_job_specification_with_schedule_paths() -> None:
    raw = _schedule()
    del raw["job_specification"]["job_preparation_task"]
    raw["job_specification"]["job_manager_task"]["id"] = "jobrelease"
    raw["job_specification"]["job_manager_task"]["output_files"] = [
        {"file_pattern": "out.csv", "kind": "TaskOutput"}
    ]
    failures = _failures(raw)
    assert "requires a job preparation task" in failures["job_specification.job_release_task"]
    # The job manager task is checked as a task of the job: its outputs by kind need the container.
    assert "output_container_url" in failures["job_specification.job_manager_task.output_files[0]"]
    assert any(k.startswith("job_specification.job_manager_task.id") for k in failures)


def test_the_job_managers_outputs_go_to_the_schedules_conventions_container() -> None:
    manager = {
        "command_line": "/bin/true",
        "output_files": [{"file_pattern": "out.csv", "kind": "TaskOutput"}],
    }
    raw = _schedule(output_container_url=f"https://acct.blob.core.windows.net/job-nightly?{SAS}")
    raw["job_specification"]["job_manager_task"] = manager
    spec = parse_schedule(raw)
    [output] = spec.to_batch_job_schedule_create().job_specification.job_manager_task.output_files
    assert output.destination.container.path == "jobmanager/$TaskOutput/out.csv"
    wrong = _schedule(output_container_url=f"https://acct.blob.core.windows.net/other?{SAS}")
    wrong["job_specification"]["job_manager_task"] = manager
    assert "job-nightly" in _failures(wrong)["output_container_url"]


def test_unknown_values_are_tolerated_at_preview_and_refused_at_create() -> None:
    raw = _schedule()
    raw["job_specification"]["pool_id"] = UNKNOWN
    raw["schedule"]["recurrence_interval"] = UNKNOWN
    assert validate_schedule(raw) == []
    with pytest.raises(JobSpecError) as err:
        parse_schedule(raw)
    assert {f.property for f in err.value.failures} == {
        "job_specification.pool_id",
        "schedule.recurrence_interval",
    }


def test_only_the_timetable_job_specification_and_metadata_update_in_place() -> None:
    spec = parse_schedule(_schedule(metadata={"team": "a"}))
    update = spec.to_batch_job_schedule_update({"schedule", "metadata"}).as_dict()
    assert set(update) == {"schedule", "metadata"}, "only the named parts are sent"
    assert update["metadata"] == [{"name": "team", "value": "a"}]
    with pytest.raises(ValueError, match="display_name"):
        spec.to_batch_job_schedule_update({"display_name"})
    assert JobScheduleSpec.model_validate(_schedule()).schedule.recurrence_interval == timedelta(days=1)
