"""Job schedules on the emulator through the real azure-batch 15.x SDK: the jobs they create and when.

The module runs its own emulator with clock control (`--clock-control`), so a recurrence of an hour is
seen by moving the emulator's clock forward (`POST /_localbatch/clock`) without touching the session's
emulator, whose other tests rely on real time.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from emulator_helpers import (
    Emulator,
    admin,
    pool_options,
    task_file_text,
    terminate_options,
    unique,
    wait_for,
)

HOUR = timedelta(hours=1)


class Clocked:
    """The module's emulator, its client and its clock."""

    def __init__(self, emulator: Emulator, data_dir: Path) -> None:
        self.emulator = emulator
        self.data_dir = data_dir
        self.client: BatchClient = emulator.client
        self.base = f"http://127.0.0.1:{emulator.port}"
        self.pool = unique("sched-pool")
        self.client.create_pool(pool_options(self.pool, nodes=1, task_slots_per_node=4))

    def now(self) -> datetime:
        return datetime.fromisoformat(
            admin(self.base, "GET", "/_localbatch/clock")["now"].replace("Z", "+00:00")
        )

    def advance(self, delta: timedelta) -> None:
        admin(self.base, "POST", "/_localbatch/clock", {"advanceSeconds": delta.total_seconds()})

    def end_job(self, job_id: str) -> None:
        """Terminate a job and wait until it completed (a job without tasks never ends on its own)."""
        self.client.begin_terminate_job(job_id, options=terminate_options(), polling_interval=0.1).result()

    def jobs(self, schedule_id: str) -> list[str]:
        return sorted(j.id for j in self.client.list_jobs_from_schedule(schedule_id))

    def wait_jobs(self, schedule_id: str, count: int) -> list[str]:
        return wait_for(lambda: len(ids := self.jobs(schedule_id)) == count and ids, timeout=10)  # type: ignore[no-any-return]

    def create(
        self,
        schedule_id: str,
        schedule: m.BatchJobScheduleConfiguration,
        **spec: Any,
    ) -> m.BatchJobSchedule:
        spec.setdefault("pool_info", m.BatchPoolInfo(pool_id=self.pool))
        self.client.create_job_schedule(
            m.BatchJobScheduleCreateOptions(
                id=schedule_id, schedule=schedule, job_specification=m.BatchJobSpecification(**spec)
            )
        )
        return self.client.get_job_schedule(schedule_id)


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clocked]:
    data_dir = tmp_path_factory.mktemp("schedules")
    emulator = Emulator(data_dir, ["--clock-control"])
    try:
        yield Clocked(emulator, data_dir)
    finally:
        emulator.stop()


def _stamp(value: datetime | None) -> datetime:
    assert value is not None
    return value


def test_a_recurring_schedule_creates_its_first_job_at_once_and_the_next_after_the_interval(
    clocked: Clocked,
) -> None:
    sid = unique("hourly")
    created = clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        display_name="hourly sweep",
        priority=7,
        metadata=[m.BatchMetadataItem(name="team", value="ingest")],
        common_environment_settings=[m.EnvironmentSetting(name="RUN_KIND", value="nightly")],
        job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
        job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"),
        constraints=m.BatchJobConstraints(max_task_retry_count=2),
    )
    assert created.state == m.BatchJobScheduleState.ACTIVE
    assert created.previous_state is None
    assert clocked.jobs(sid) == [f"{sid}:job-1"]
    info = created.execution_info
    assert info.recent_job is not None and info.recent_job.id == f"{sid}:job-1"
    assert _stamp(info.next_run_time) - created.creation_time == HOUR
    # The service fills in the job specification's defaults.
    spec = created.job_specification
    assert spec.max_parallel_tasks == -1 and spec.all_tasks_complete_mode == "noaction"
    assert spec.job_preparation_task is not None and spec.job_preparation_task.wait_for_success is True

    job = clocked.client.get_job(f"{sid}:job-1")
    assert job.display_name == "hourly sweep" and job.priority == 7
    assert job.execution_info.pool_id == clocked.pool
    assert [(i.name, i.value) for i in job.metadata or []] == [("team", "ingest")]
    assert [(e.name, e.value) for e in job.common_environment_settings or []] == [("RUN_KIND", "nightly")]
    assert job.job_preparation_task is not None and job.job_release_task is not None
    assert job.constraints is not None and job.constraints.max_task_retry_count == 2

    clocked.advance(timedelta(minutes=30))
    assert clocked.jobs(sid) == [f"{sid}:job-1"], "not due yet"
    # job-1 never ends on its own (no tasks, onAllTasksComplete noaction): the next run waits for it.
    clocked.end_job(f"{sid}:job-1")
    clocked.advance(timedelta(minutes=31))
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]
    after = clocked.client.get_job_schedule(sid)
    assert (
        after.execution_info.recent_job is not None and after.execution_info.recent_job.id == f"{sid}:job-2"
    )
    assert _stamp(after.execution_info.next_run_time) - created.creation_time == 2 * HOUR
    assert after.last_modified == created.last_modified, "creating jobs is no change of the schedule"


def test_a_run_waits_for_the_active_job_and_is_lost_when_its_start_window_passes(clocked: Clocked) -> None:
    sid = unique("window")
    created = clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR, start_window=timedelta(minutes=10)),
    )
    assert clocked.jobs(sid) == [f"{sid}:job-1"]
    clocked.advance(HOUR)
    wait_for(lambda: clocked.client.get_job_schedule(sid).execution_info.next_run_time is not None)
    assert clocked.jobs(sid) == [f"{sid}:job-1"], "at most one active job: the due run waits"
    clocked.advance(timedelta(minutes=11))

    def moved_on() -> bool:
        nxt = clocked.client.get_job_schedule(sid).execution_info.next_run_time
        return nxt is not None and nxt - created.creation_time == 2 * HOUR

    wait_for(moved_on)  # the window passed: that run is lost, the next one is at +2 h
    clocked.end_job(f"{sid}:job-1")
    clocked.advance(timedelta(minutes=5))
    assert clocked.jobs(sid) == [f"{sid}:job-1"], "a lost run is not made up"
    clocked.advance(timedelta(minutes=45))
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]


def test_a_waiting_run_starts_when_the_previous_job_finishes_inside_the_window(clocked: Clocked) -> None:
    sid = unique("waits")
    clocked.create(sid, m.BatchJobScheduleConfiguration(recurrence_interval=HOUR))
    clocked.advance(HOUR + timedelta(minutes=20))
    assert clocked.jobs(sid) == [f"{sid}:job-1"]
    clocked.end_job(f"{sid}:job-1")
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]


def test_runs_missed_over_a_long_pause_are_not_made_up(clocked: Clocked) -> None:
    sid = unique("jump")
    created = clocked.create(sid, m.BatchJobScheduleConfiguration(recurrence_interval=HOUR))
    clocked.advance(5 * HOUR + timedelta(minutes=30))  # job-1 still runs through five due runs
    clocked.end_job(f"{sid}:job-1")
    # One job for the run still inside its window (+5 h), none for the four lost before it.
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]
    nxt = clocked.client.get_job_schedule(sid).execution_info.next_run_time
    assert _stamp(nxt) - created.creation_time == 6 * HOUR
    assert clocked.jobs(sid) == [f"{sid}:job-1", f"{sid}:job-2"]


def test_do_not_run_until_and_after_bound_the_runs_then_the_schedule_completes(clocked: Clocked) -> None:
    sid = unique("bounded")
    start = clocked.now() + 2 * HOUR
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(
            do_not_run_until=start,
            do_not_run_after=start + HOUR + timedelta(minutes=30),
            recurrence_interval=HOUR,
        ),
        all_tasks_complete_mode="terminatejob",  # no tasks: each job completes at once
    )
    schedule = clocked.client.get_job_schedule(sid)
    assert clocked.jobs(sid) == []
    assert abs(_stamp(schedule.execution_info.next_run_time) - start) < timedelta(milliseconds=1)
    clocked.advance(2 * HOUR)
    clocked.wait_jobs(sid, 1)
    clocked.advance(HOUR)
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]
    # The next run (start + 2 h) is after doNotRunAfter: none left, and the last job completes.
    done = wait_for(lambda: (s := clocked.client.get_job_schedule(sid)).state == "completed" and s)
    assert done.previous_state == m.BatchJobScheduleState.ACTIVE
    assert done.execution_info.end_time is not None and done.execution_info.next_run_time is None
    clocked.advance(2 * HOUR)
    assert clocked.jobs(sid) == [f"{sid}:job-1", f"{sid}:job-2"]


def test_a_schedule_without_recurrence_runs_once_and_completes_when_that_job_does(clocked: Clocked) -> None:
    sid = unique("once")
    clocked.create(sid, m.BatchJobScheduleConfiguration())
    assert clocked.jobs(sid) == [f"{sid}:job-1"]
    assert clocked.client.get_job_schedule(sid).state == m.BatchJobScheduleState.ACTIVE
    clocked.end_job(f"{sid}:job-1")
    done = wait_for(lambda: (s := clocked.client.get_job_schedule(sid)).state == "completed" and s)
    assert done.execution_info.recent_job is not None and done.execution_info.recent_job.id == f"{sid}:job-1"
    with pytest.raises(ResourceExistsError) as err:
        clocked.client.disable_job_schedule(sid)
    assert err.value.error.code == "JobScheduleCompleted"


def test_a_disabled_schedule_creates_no_job_until_enabled(clocked: Clocked) -> None:
    sid = unique("paused")
    clocked.create(
        sid, m.BatchJobScheduleConfiguration(recurrence_interval=HOUR), all_tasks_complete_mode="terminatejob"
    )
    clocked.wait_jobs(sid, 1)
    clocked.client.disable_job_schedule(sid)
    disabled = clocked.client.get_job_schedule(sid)
    assert disabled.state == m.BatchJobScheduleState.DISABLED
    assert disabled.previous_state == m.BatchJobScheduleState.ACTIVE
    clocked.advance(HOUR + timedelta(minutes=5))
    assert clocked.jobs(sid) == [f"{sid}:job-1"]
    clocked.client.enable_job_schedule(sid)
    assert clocked.client.get_job_schedule(sid).state == m.BatchJobScheduleState.ACTIVE
    # Enabled inside the run's window (the interval): the run happens now.
    assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]


def test_an_update_applies_to_jobs_created_after_it(clocked: Clocked) -> None:
    sid = unique("update")
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        priority=1,
        all_tasks_complete_mode="terminatejob",
    )
    etag = clocked.client.get_job_schedule(sid).etag
    clocked.client.update_job_schedule(
        sid,
        m.BatchJobScheduleUpdateOptions(
            job_specification=m.BatchJobSpecification(
                pool_info=m.BatchPoolInfo(pool_id=clocked.pool),
                priority=5,
                all_tasks_complete_mode="terminatejob",
            ),
            metadata=[m.BatchMetadataItem(name="v", value="2")],
        ),
        etag=etag,
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError) as stale:
        clocked.client.update_job_schedule(
            sid,
            m.BatchJobScheduleUpdateOptions(metadata=[]),
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )
    assert stale.value.status_code == 412
    updated = clocked.client.get_job_schedule(sid)
    assert updated.schedule is not None and updated.schedule.recurrence_interval == HOUR, (
        "PATCH keeps the rest"
    )
    assert [(i.name, i.value) for i in updated.metadata or []] == [("v", "2")]
    clocked.advance(HOUR)
    clocked.wait_jobs(sid, 2)
    assert clocked.client.get_job(f"{sid}:job-1").priority == 1, "a job already created keeps its properties"
    assert clocked.client.get_job(f"{sid}:job-2").priority == 5

    # PUT resets what it omits: no metadata, and no recurrence (one more run, then completed).
    clocked.client.replace_job_schedule(
        sid,
        m.BatchJobSchedule(
            job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=clocked.pool)),
            schedule=m.BatchJobScheduleConfiguration(do_not_run_until=clocked.now() + HOUR),
        ),
    )
    replaced = clocked.client.get_job_schedule(sid)
    assert replaced.metadata is None
    assert replaced.schedule is not None and replaced.schedule.recurrence_interval is None


def test_terminate_ends_the_active_job_and_its_release_task_runs(clocked: Clocked) -> None:
    sid = unique("term")
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/sh -c 'echo prep'"),
        job_release_task=m.BatchJobReleaseTask(command_line="/bin/sh -c 'echo release'"),
    )
    job_id = f"{sid}:job-1"
    clocked.client.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="/bin/sleep 60"))
    wait_for(lambda: clocked.client.get_task(job_id, "long").state == "running")
    clocked.client.begin_terminate_job_schedule(sid, polling_interval=0.1).result()
    schedule = clocked.client.get_job_schedule(sid)
    assert schedule.state == m.BatchJobScheduleState.COMPLETED
    assert schedule.previous_state == m.BatchJobScheduleState.TERMINATING
    assert schedule.execution_info.end_time is not None and schedule.execution_info.next_run_time is None
    job = clocked.client.get_job(job_id)
    assert job.state == m.BatchJobState.COMPLETED
    assert job.execution_info.termination_reason == "TerminateJobSchedule"
    (status,) = list(clocked.client.list_job_preparation_and_release_task_status(job_id))
    assert status.job_release_task_execution_info is not None
    assert status.job_release_task_execution_info.exit_code == 0
    clocked.advance(2 * HOUR)
    assert clocked.jobs(sid) == [job_id], "a completed schedule creates no more jobs"
    with pytest.raises(ResourceExistsError) as err:
        clocked.client.update_job_schedule(sid, m.BatchJobScheduleUpdateOptions(metadata=[]))
    assert err.value.error.code == "JobScheduleCompleted"


def test_delete_removes_the_schedule_and_every_job_it_created(clocked: Clocked) -> None:
    sid = unique("delete")
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
        job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"),
    )
    clocked.end_job(f"{sid}:job-1")
    clocked.advance(HOUR)
    clocked.wait_jobs(sid, 2)
    clocked.client.begin_delete_job_schedule(sid, polling_interval=0.1).result()
    with pytest.raises(ResourceNotFoundError) as gone:
        clocked.client.get_job_schedule(sid)
    assert gone.value.error.code == "JobScheduleNotFound"
    remaining = {j.id for j in clocked.client.list_jobs()}
    assert not remaining & {f"{sid}:job-1", f"{sid}:job-2"}


def test_jobs_and_job_schedules_share_one_namespace_of_ids(clocked: Clocked) -> None:
    sid = unique("shared-id")
    clocked.create(sid, m.BatchJobScheduleConfiguration(recurrence_interval=HOUR))
    with pytest.raises(ResourceExistsError) as dup:
        clocked.create(sid, m.BatchJobScheduleConfiguration(recurrence_interval=HOUR))
    assert dup.value.error.code == "JobScheduleExists"
    with pytest.raises(ResourceExistsError) as job_taken:
        clocked.client.create_job(
            m.BatchJobCreateOptions(id=sid, pool_info=m.BatchPoolInfo(pool_id=clocked.pool))
        )
    assert job_taken.value.error.code == "JobScheduleWithSameIdExists"
    job_id = unique("plain-job")
    clocked.client.create_job(
        m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=clocked.pool))
    )
    with pytest.raises(ResourceExistsError) as schedule_taken:
        clocked.create(job_id, m.BatchJobScheduleConfiguration())
    assert schedule_taken.value.error.code == "JobWithSameIdExists"


@pytest.mark.parametrize(
    ("schedule", "spec", "code", "prop"),
    [
        ({"recurrenceInterval": "PT30S"}, {}, "InvalidPropertyValue", "schedule.recurrenceInterval"),
        ({"startWindow": "PT59S"}, {}, "InvalidPropertyValue", "schedule.startWindow"),
        ({"doNotRunUntil": "tomorrow"}, {}, "InvalidPropertyValue", "schedule.doNotRunUntil"),
        (None, {}, "MissingRequiredProperty", "schedule"),
        (
            {},
            {
                "jobPreparationTask": {"id": "setup", "commandLine": "/bin/true"},
                "jobManagerTask": {"id": "setup", "commandLine": "/bin/true"},
            },
            "InvalidPropertyValue",
            "jobManagerTask.id",
        ),
        ({}, {"poolInfo": None}, "MissingRequiredProperty", "jobSpecification.poolInfo"),
    ],
)
def test_bad_bodies_are_refused_naming_the_property(
    clocked: Clocked, schedule: Any, spec: dict[str, Any], code: str, prop: str
) -> None:
    body: dict[str, Any] = {
        "id": unique("bad"),
        "jobSpecification": {"poolInfo": {"poolId": clocked.pool}, **spec},
    }
    if body["jobSpecification"]["poolInfo"] is None:
        del body["jobSpecification"]["poolInfo"]
    if schedule is not None:
        body["schedule"] = schedule
    with pytest.raises(HttpResponseError) as err:
        clocked.client.create_job_schedule(body)  # type: ignore[arg-type]
    assert err.value.status_code == 400 and err.value.error.code == code
    assert ("PropertyName", prop) in [(d.code, d.message) for d in err.value.error.details]


def test_lists_filter_select_page_and_expand_stats(clocked: Clocked) -> None:
    prefix = unique("listed")
    for n in range(3):
        clocked.create(f"{prefix}-{n}", m.BatchJobScheduleConfiguration(recurrence_interval=HOUR))
    clocked.client.disable_job_schedule(f"{prefix}-1")
    listed = list(
        clocked.client.list_job_schedules(
            filter=f"startswith(id, '{prefix}') and state eq 'active'", max_results=1
        )
    )
    assert [s.id for s in listed] == [f"{prefix}-0", f"{prefix}-2"]
    (selected,) = clocked.client.list_job_schedules(filter=f"id eq '{prefix}-2'", select=["id", "state"])
    assert selected.id == f"{prefix}-2" and selected.job_specification is None
    stats = clocked.client.get_job_schedule(f"{prefix}-0", expand=["stats"]).job_schedule_statistics
    assert stats is not None and stats.succeeded_tasks_count == 0
    assert clocked.client.job_schedule_exists(f"{prefix}-0") is True
    with pytest.raises(ResourceNotFoundError):
        clocked.client.job_schedule_exists(unique("absent"))  # the SDK raises rather than returning False


def test_a_jobschedule_lifetime_auto_pool_serves_every_job_and_goes_with_the_schedule(
    clocked: Clocked,
) -> None:
    sid = unique("autopool")
    auto = m.BatchAutoPoolSpecification(
        auto_pool_id_prefix="sched",
        pool_lifetime_option="jobschedule",
        pool=m.BatchPoolSpecification(
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=1,
            virtual_machine_configuration=pool_options("x").virtual_machine_configuration,
        ),
    )
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        pool_info=m.BatchPoolInfo(auto_pool_specification=auto),
        all_tasks_complete_mode="terminatejob",
    )
    clocked.wait_jobs(sid, 1)
    clocked.advance(HOUR)
    clocked.wait_jobs(sid, 2)
    pools = {clocked.client.get_job(f"{sid}:job-{n}").execution_info.pool_id for n in (1, 2)}
    assert len(pools) == 1
    (pool_id,) = pools
    assert pool_id is not None and pool_id.startswith("sched_")
    clocked.client.begin_terminate_job_schedule(sid, polling_interval=0.1).result()

    def pool_gone() -> bool:
        try:
            return clocked.client.get_pool(pool_id).state == "deleting"
        except ResourceNotFoundError:
            return True

    wait_for(pool_gone)


def test_a_run_whose_auto_pool_cannot_be_created_completes_its_job_with_a_scheduling_error(
    clocked: Clocked,
) -> None:
    package = clocked.data_dir / "applications" / unique("tool") / "1.0"
    package.mkdir(parents=True)
    sid = unique("nopkg")
    auto = m.BatchAutoPoolSpecification(
        pool_lifetime_option="job",
        pool=m.BatchPoolSpecification(
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=0,
            virtual_machine_configuration=pool_options("x").virtual_machine_configuration,
            application_package_references=[
                m.BatchApplicationPackageReference(application_id=package.parent.name, version="1.0")
            ],
        ),
    )
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        pool_info=m.BatchPoolInfo(auto_pool_specification=auto),
        all_tasks_complete_mode="terminatejob",
    )
    wait_for(lambda: clocked.client.get_job(f"{sid}:job-1").state == "completed")
    package.rmdir()  # the package is gone before the next run
    clocked.advance(HOUR)
    clocked.wait_jobs(sid, 2)
    failed = clocked.client.get_job(f"{sid}:job-2")
    assert failed.state == m.BatchJobState.COMPLETED
    assert failed.execution_info.scheduling_error is not None
    assert failed.execution_info.scheduling_error.code == "InvalidApplicationPackageReferences"
    schedule = clocked.client.get_job_schedule(sid)
    assert schedule.state == m.BatchJobScheduleState.ACTIVE, "the schedule goes on"
    assert _stamp(schedule.execution_info.next_run_time) - schedule.creation_time == 2 * HOUR


def test_a_restarted_emulator_keeps_its_schedules_and_their_numbering(tmp_path: Path) -> None:
    emulator = Emulator(tmp_path, ["--clock-control"])
    try:
        clocked = Clocked(emulator, tmp_path)
        sid = unique("durable")
        clocked.create(
            sid,
            m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
            all_tasks_complete_mode="terminatejob",
        )
        clocked.wait_jobs(sid, 1)
        emulator.kill()
        emulator = Emulator(tmp_path, ["--clock-control"])
        clocked.emulator, clocked.client = emulator, emulator.client
        clocked.base = f"http://127.0.0.1:{emulator.port}"
        schedule = clocked.client.get_job_schedule(sid)
        assert schedule.execution_info.recent_job is not None
        assert schedule.execution_info.recent_job.id == f"{sid}:job-1"
        clocked.advance(HOUR)
        assert clocked.wait_jobs(sid, 2) == [f"{sid}:job-1", f"{sid}:job-2"]
    finally:
        emulator.stop()


def test_the_clock_route_is_off_unless_the_emulator_was_started_with_clock_control(endpoints: Any) -> None:
    request = urllib.request.Request(
        f"{endpoints.batch_url}/_localbatch/clock",
        data=json.dumps({"advanceSeconds": 60}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    with contextlib.closing(refused.value):
        assert "--clock-control" in json.loads(refused.value.read())["error"]
    state = admin(endpoints.batch_url, "GET", "/_localbatch/clock")
    assert state["offsetSeconds"] == 0 and state["control"] is False


# ---- job manager tasks (each job of a schedule does its work by itself) -----------------------------


def test_a_job_manager_task_runs_first_and_its_completion_ends_the_job(clocked: Clocked) -> None:
    job_id = unique("managed")
    clocked.client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=clocked.pool),
            job_manager_task=m.BatchJobManagerTask(
                id="manager",
                command_line="/bin/sh -c 'echo managing $AZ_BATCH_JOB_ID as $ROLE'",
                environment_settings=[m.EnvironmentSetting(name="ROLE", value="manager")],
            ),
        )
    )
    stored = clocked.client.get_job(job_id).job_manager_task
    assert stored is not None and stored.kill_job_on_completion is True and stored.run_exclusive is True
    done = wait_for(lambda: (j := clocked.client.get_job(job_id)).state == "completed" and j)
    assert done.execution_info.termination_reason == "JMComplete"
    assert clocked.client.get_task(job_id, "manager").execution_info.exit_code == 0
    assert task_file_text(clocked.client, job_id, "manager").strip() == f"managing {job_id} as manager"


def test_a_job_manager_task_that_does_not_kill_the_job_leaves_it_active(clocked: Clocked) -> None:
    job_id = unique("kept")
    clocked.client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=clocked.pool),
            job_manager_task=m.BatchJobManagerTask(
                id="manager", command_line="/bin/true", kill_job_on_completion=False
            ),
        )
    )
    wait_for(lambda: clocked.client.get_task(job_id, "manager").state == "completed")
    assert clocked.client.get_job(job_id).state == m.BatchJobState.ACTIVE
    clocked.end_job(job_id)


def test_a_schedule_with_a_job_manager_task_runs_every_recurrence_by_itself(clocked: Clocked) -> None:
    sid = unique("selfrun")
    clocked.create(
        sid,
        m.BatchJobScheduleConfiguration(recurrence_interval=HOUR),
        job_manager_task=m.BatchJobManagerTask(id="sweep", command_line="/bin/sh -c 'echo $AZ_BATCH_JOB_ID'"),
    )
    first = wait_for(lambda: (j := clocked.client.get_job(f"{sid}:job-1")).state == "completed" and j)
    assert first.execution_info.termination_reason == "JMComplete"
    clocked.advance(HOUR)
    second = wait_for(lambda: (j := clocked.client.get_job(f"{sid}:job-2")).state == "completed" and j)
    assert second.execution_info.termination_reason == "JMComplete"
    assert task_file_text(clocked.client, f"{sid}:job-2", "sweep").strip() == f"{sid}:job-2"


def test_a_jobs_max_wall_clock_time_follows_the_moved_clock(clocked: Clocked) -> None:
    job_id = unique("deadline")
    clocked.client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=clocked.pool),
            constraints=m.BatchJobConstraints(max_wall_clock_time=HOUR),
        )
    )
    clocked.advance(timedelta(minutes=59))
    assert clocked.client.get_job(job_id).state == m.BatchJobState.ACTIVE
    clocked.advance(timedelta(minutes=2))
    ended = wait_for(lambda: (j := clocked.client.get_job(job_id)).state == "completed" and j)
    assert ended.execution_info.termination_reason == "MaxWallClockTimeExpiry"


@pytest.mark.parametrize("exclusive", [True, False])
def test_an_exclusive_job_manager_task_keeps_the_jobs_other_tasks_off_its_node(
    clocked: Clocked, exclusive: bool
) -> None:
    pool_id = unique("excl-pool")
    clocked.client.create_pool(pool_options(pool_id, nodes=1, task_slots_per_node=4))
    job_id = unique("exclusive")
    clocked.client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_manager_task=m.BatchJobManagerTask(
                id="manager",
                command_line="/bin/sleep 2",
                kill_job_on_completion=False,
                run_exclusive=exclusive,
            ),
        )
    )
    wait_for(lambda: clocked.client.get_task(job_id, "manager").state == "running")
    clocked.client.create_task(job_id, m.BatchTaskCreateOptions(id="work", command_line="/bin/true"))
    work = wait_for(lambda: (t := clocked.client.get_task(job_id, "work")).state == "completed" and t)
    manager = wait_for(lambda: (t := clocked.client.get_task(job_id, "manager")).state == "completed" and t)
    # Exclusive (the default): the node's other three slots stay empty while the manager runs.
    assert (work.execution_info.start_time >= manager.execution_info.end_time) is exclusive
    clocked.end_job(job_id)
    clocked.client.begin_delete_pool(pool_id, polling_interval=0.1).result()
