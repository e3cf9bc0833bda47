"""The JobSchedule provider called directly against the emulator (real azure-batch SDK): preview lines,
state the provider reports, drift outside Pulumi, and a destroy of a schedule without jobs to wait for."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError
from provider_helpers import unique, wait_for
from pulumi_azbatch.dynamic_providers.schedule import JobScheduleProvider, schedule_lines

OWNER = {"owner_stack": "org/proj/test", "owner_resource": "azbatch:JobSchedule::s"}


def _inputs(account: dict[str, str], schedule_id: str, **spec: Any) -> dict[str, Any]:
    return {
        **account,
        **OWNER,
        "schedule_id": schedule_id,
        "schedule": {"recurrence_interval": "PT1H"},
        "job_specification": {"pool_id": "no-such-pool", "priority": 1, **spec},
    }


def test_preview_lines_name_each_change_and_what_it_affects() -> None:
    olds = {"job_specification": {"pool_id": "p", "priority": 1}, "display_name": "a", "enabled": True}
    news = {"job_specification": {"pool_id": "p", "priority": 7}, "display_name": "a", "enabled": False}
    lines = schedule_lines("s", olds, news, ["job_specification", "enabled"])
    assert "job schedule s: update in place: job_specification.priority: 1 → 7" in lines
    assert any("applies to the jobs created after the update" in line for line in lines)
    assert any("enabled: true → false (disable" in line for line in lines)
    replaced = schedule_lines(
        "s", {**olds, "display_name": "a"}, {**news, "display_name": "b"}, ["display_name"]
    )
    resigned = schedule_lines(
        "s",
        {**olds, "file_conventions_container_url": "https://a/c?sig=old"},
        {**olds, "file_conventions_container_url": "https://a/c?sig=new"},
        ["file_conventions_container_url"],
    )
    assert resigned[0] == (
        "job schedule s: update in place: job_specification: file_conventions_container_url re-signed (SAS hidden)"
    )
    assert "applies to the jobs created after the update" in resigned[1] and "sig=" not in str(resigned)
    assert replaced[0].startswith("job schedule s: replace")
    assert 'forces replacement: display_name: Batch cannot change it on a schedule ("a" → "b")' in replaced[1]


def test_create_read_drift_and_an_out_of_band_delete(account: dict[str, str], batch_client: Any) -> None:
    provider = JobScheduleProvider()
    schedule_id = unique("prov-sched")
    checked = provider.check({}, _inputs(account, schedule_id))
    assert checked.failures == []
    props = checked.inputs
    created = provider.create(props)
    assert created.id == schedule_id
    assert created.outs["state"] == "active" and created.outs["recent_job"] == f"{schedule_id}:job-1"
    assert created.outs["url"].endswith(f"/jobschedules/{schedule_id}")
    try:
        # Disabled outside Pulumi: refresh names it, and `up` (the same inputs) enables it again.
        batch_client.disable_job_schedule(schedule_id)
        read = provider.read(schedule_id, {**props, **created.outs})
        assert read.outs["state"] == "disabled" and read.outs["drift"] == ["enabled"]
        assert read.outs["enabled"] is False
        diff = provider.diff(schedule_id, read.outs, props)
        assert diff.changes and diff.replaces == []
        updated = provider.update(schedule_id, read.outs, props)
        assert updated.outs["state"] == "active"
        # The timetable changed outside Pulumi: refresh names it, `up` puts the declared one back.
        batch_client.update_job_schedule(
            schedule_id,
            m.BatchJobScheduleUpdateOptions(
                schedule=m.BatchJobScheduleConfiguration(recurrence_interval="PT2H")
            ),
        )
        read = provider.read(schedule_id, {**props, **updated.outs})
        assert read.outs["drift"] == ["schedule"] and read.outs["schedule"] == {"recurrence_interval": "PT2H"}
        assert provider.diff(schedule_id, read.outs, props).changes
        updated = provider.update(schedule_id, read.outs, props)
        assert batch_client.get_job_schedule(schedule_id).schedule.recurrence_interval.total_seconds() == 3600
        assert provider.read(schedule_id, {**props, **updated.outs}).outs["drift"] == []
        # Deleted outside Pulumi: refresh drops it from the state; `up` creates it again.
        batch_client.begin_delete_job_schedule(schedule_id, polling_interval=0.2).result()
        assert provider.read(schedule_id, {**props, **updated.outs}).id == ""
        diff = provider.diff(schedule_id, {**props, **updated.outs}, props)
        assert diff.replaces == ["schedule_id"]
    finally:
        provider.delete(schedule_id, props)
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job_schedule(schedule_id)


def test_destroy_leaves_a_schedule_that_another_resource_owns(
    account: dict[str, str], batch_client: Any
) -> None:
    provider = JobScheduleProvider()
    schedule_id = unique("prov-foreign")
    props = provider.check({}, _inputs(account, schedule_id)).inputs
    provider.create(props)
    try:
        other = {**props, "owner_resource": "azbatch:JobSchedule::someone-else"}
        provider.delete(schedule_id, other)
        assert batch_client.get_job_schedule(schedule_id).state == m.BatchJobScheduleState.ACTIVE
    finally:
        provider.delete(schedule_id, props)


def test_destroy_waits_for_the_active_jobs_release_and_warns_on_its_exit_code(
    account: dict[str, str], batch_client: Any, pool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = JobScheduleProvider()
    schedule_id = unique("prov-release")
    inputs = _inputs(
        account,
        schedule_id,
        job_preparation_task={"command_line": "/bin/true"},
        job_release_task={"command_line": "/bin/sh -c 'echo releasing; exit 3'"},
    )
    inputs["job_specification"]["pool_id"] = pool_id
    props = provider.check({}, inputs).inputs
    provider.create(props)
    job_id = f"{schedule_id}:job-1"
    batch_client.create_task(job_id, m.BatchTaskCreateOptions(id="t1", command_line="/bin/true"))
    wait_for(lambda: batch_client.get_task(job_id, "t1").state == m.BatchTaskState.COMPLETED)
    capsys.readouterr()
    provider.delete(schedule_id, props)
    said = capsys.readouterr().err
    assert f"job schedule {schedule_id}: terminating (its active job {job_id} ends" in said
    assert f"warning: job {job_id}: the release task exited with 3 on node" in said
    with pytest.raises(ResourceNotFoundError):
        batch_client.get_job_schedule(schedule_id)


def test_a_schedule_cannot_take_a_jobs_id(account: dict[str, str], batch_client: Any) -> None:
    provider = JobScheduleProvider()
    shared_id = unique("shared-id")
    batch_client.create_job(m.BatchJobCreateOptions(id=shared_id, pool_info=m.BatchPoolInfo(pool_id="p")))
    try:
        props = provider.check({}, _inputs(account, shared_id)).inputs
        with pytest.raises(RuntimeError, match="jobs and job schedules share ids"):
            provider.create(props)
    finally:
        batch_client.begin_delete_job(shared_id, polling_interval=0.2).result()


def test_preview_refuses_container_tasks_the_schedules_pool_cannot_run(account: dict[str, str]) -> None:
    boxed = {"command_line": "true", "container_settings": {"image_name": "busybox"}}
    inputs = _inputs(
        account,
        unique("prov-sched-box"),
        job_preparation_task=boxed,
        job_manager_task={**boxed, "command_line": "python run.py"},
    )
    refusal = "the local Batch emulator runs no container tasks"
    failures = {
        f.property: f.reason
        for f in JobScheduleProvider().check({}, {**inputs, "container_refusal": refusal}).failures
    }
    assert set(failures) == {
        "job_specification.job_preparation_task.container_settings",
        "job_specification.job_manager_task.container_settings",
    }
    assert all(refusal in reason for reason in failures.values())
    assert not JobScheduleProvider().check({}, inputs).failures, "a pool that runs containers accepts them"


def test_a_job_specification_changed_outside_pulumi_is_drift_and_up_puts_it_back(
    account: dict[str, str], batch_client: Any
) -> None:
    provider = JobScheduleProvider()
    schedule_id = unique("prov-sched-spec")
    props = provider.check(
        {},
        _inputs(
            account,
            schedule_id,
            job_preparation_task={"command_line": "/bin/true"},
            constraints={"max_wall_clock_time": "PT2H"},
            common_environment_settings={"MODE": "nightly"},
            job_manager_task={
                "command_line": "/bin/sh -c 'echo run'",
                "environment_settings": {"STEP": "1"},
                "constraints": {"max_wall_clock_time": "PT30M"},
                "resource_files": [
                    {"http_url": "https://example.invalid/in.txt?sv=1&sig=abc", "file_path": "in.txt"}
                ],
            },
        ),
    ).inputs
    created = provider.create(props)
    try:
        state = {**props, **created.outs}
        read = provider.read(schedule_id, state)
        assert read.outs["drift"] == [], "the service's defaults are not drift"
        # Someone PATCHes the job specification: a priority, an environment value and a release task.
        real = batch_client.get_job_schedule(schedule_id).job_specification
        real.priority = 50
        real.common_environment_settings = [m.EnvironmentSetting(name="MODE", value="debug")]
        real.job_release_task = m.BatchJobReleaseTask(command_line="/bin/echo cleanup")
        batch_client.update_job_schedule(schedule_id, m.BatchJobScheduleUpdateOptions(job_specification=real))
        read = provider.read(schedule_id, state)
        assert read.outs["drift"] == ["job_specification"]
        assert read.outs["job_specification"] == state["job_specification"], (
            "the state keeps the declared one"
        )
        lines = schedule_lines(schedule_id, read.outs, props, ["job_specification"])
        assert (
            f"job schedule {schedule_id}: update in place: job_specification: changed outside Pulumi"
            in lines[0]
        )
        diff = provider.diff(schedule_id, read.outs, props)
        assert diff.changes and diff.replaces == []
        updated = provider.update(schedule_id, read.outs, props)
        spec = batch_client.get_job_schedule(schedule_id).job_specification
        assert spec.priority == 1 and spec.job_release_task is None
        assert [(e.name, e.value) for e in spec.common_environment_settings] == [("MODE", "nightly")]
        after = provider.read(schedule_id, {**props, **updated.outs})
        assert after.outs["drift"] == [] and not provider.diff(schedule_id, after.outs, props).changes
    finally:
        provider.delete(schedule_id, props)
