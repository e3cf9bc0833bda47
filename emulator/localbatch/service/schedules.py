"""Job schedules: create, read, update (PATCH/PUT), disable, enable, terminate, delete, the jobs a schedule
created, their statistics, and the recurrence the scheduler advances on every tick.

The timetable (BatchJobScheduleConfiguration of the 2025-06-01 API): run opportunities fall at
`doNotRunUntil` (else the creation time) plus whole `recurrenceInterval`s; without an interval there is one.
An opportunity is used by creating the job `<scheduleId>:job-<n>` from the `jobSpecification`, at most one
active job at a time: while the previous job has not completed the opportunity waits, and it is lost when
its `startWindow` passes (a window longer than the interval counts as the interval, as the service says:
a run is never carried into the next interval). Nothing is created after `doNotRunAfter`; a schedule with
no opportunity left and no active job completes. A disabled schedule loses its opportunities.
Terminate ends the active job (`terminateReason` TerminateJobSchedule); delete deletes every job of the
schedule (their release tasks run) and then the schedule. Times come from the one clock (`wire.utcnow`),
which a test may move forward. Job creation, its auto pool (`job` lifetime: one per job; `jobschedule`:
one for the schedule, created with its first job) and the job's rules are those of `jobs`.
May import: `entities`, `validation`, `wire`, `exceptions`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from ..entities import Job, JobSchedule
from ..exceptions import BatchError, conflict
from ..validation import job_schedule_body, job_schedule_settings
from ..wire import (
    LIVE_JOB_STATES,
    Doc,
    JobScheduleState,
    JobState,
    iso,
    iso_duration,
    parse_duration,
    parse_iso,
    set_state,
    touch,
    utcnow,
)
from .base import ServiceBase

# Jobs that count as the schedule's one active job: not yet completed (nor being deleted).
_UNFINISHED_JOB_STATES = (*LIVE_JOB_STATES, JobState.TERMINATING)
# Statistics summed over a schedule's jobs (durations, then counts).
_STAT_DURATIONS = ("userCPUTime", "kernelCPUTime", "wallClockTime", "waitTime")
_STAT_COUNTS = ("readIOps", "writeIOps", "readIOGiB", "writeIOGiB", "numSucceededTasks", "numFailedTasks")


def start_window(config: Doc) -> timedelta | None:
    """How long an opportunity stays open (None: until the next one, or forever without recurrence)."""
    window = parse_duration(config.get("startWindow"), "schedule.startWindow")
    interval = parse_duration(config.get("recurrenceInterval"), "schedule.recurrenceInterval")
    if interval is not None and (window is None or window > interval):
        return interval
    return window


def next_run(doc: Doc, last_run: datetime | None, now: datetime) -> datetime | None:
    """The next opportunity of a schedule after `last_run` (the latest one used or lost), or None.

    Opportunities whose window has certainly closed by `now` are skipped: with recurrence the latest one
    not after `now` is the only one that may still be open (a window is at most one interval)."""
    config = doc.get("schedule") or {}
    start = (
        parse_iso(config["doNotRunUntil"]) if config.get("doNotRunUntil") else parse_iso(doc["creationTime"])
    )
    interval = parse_duration(config.get("recurrenceInterval"), "schedule.recurrenceInterval")
    due: datetime | None
    if last_run is None or last_run < start:
        due = start
    elif interval is None:
        due = None
    else:
        due = start + interval * (math.floor((last_run - start) / interval) + 1)
    if due is not None and interval is not None and due < now:
        due = max(due, start + interval * math.floor((now - start) / interval))
    if due is not None and config.get("doNotRunAfter") and due > parse_iso(config["doNotRunAfter"]):
        return None
    return due


class JobSchedulesPart(ServiceBase):
    """Job schedule operations and their recurrence (`BatchService` mixin)."""

    def list_job_schedules(self) -> list[Doc]:
        """Every job schedule, in creation order."""
        with self.lock:
            return [copy.deepcopy(s.doc) for s in sorted(self.job_schedules.values(), key=lambda s: s.seq)]

    def get_job_schedule(self, schedule_id: str) -> Doc:
        """One job schedule (404 `JobScheduleNotFound`)."""
        with self.lock:
            return copy.deepcopy(self._job_schedule(schedule_id).doc)

    def list_jobs_of_schedule(self, schedule_id: str) -> list[Doc]:
        """The jobs the schedule created that still exist, in creation order (404 `JobScheduleNotFound`)."""
        with self.lock:
            schedule = self._job_schedule(schedule_id)
            return [copy.deepcopy(j.doc) for j in self._jobs_of(schedule)]

    def create_job_schedule(self, body: Doc) -> Doc:
        """Create an `active` job schedule; a job is created at once when its first run is due now."""
        spec = job_schedule_body(body)
        with self._op():
            key = spec.id.lower()
            if key in self.job_schedules:
                raise conflict("JobScheduleExists", "The specified job schedule already exists.")
            if key in self.jobs:
                raise conflict(
                    "JobWithSameIdExists",
                    "A job with the specified job schedule id exists. "
                    "Job and job schedule cannot have the same id.",
                )
            auto = spec.properties["jobSpecification"]["poolInfo"].get("autoPoolSpecification")
            if auto is not None:
                self._check_package_references(auto["pool"].get("applicationPackageReferences") or [])
            now = utcnow()
            doc: Doc = {
                "id": spec.id,
                **spec.properties,
                "url": self.job_schedule_url(spec.id),
                "creationTime": iso(now),
                "state": JobScheduleState.ACTIVE.value,
                "stateTransitionTime": iso(now),
                "executionInfo": {},
            }
            if not doc.get("metadata"):
                doc.pop("metadata", None)
            touch(doc, now)
            schedule = JobSchedule(doc, next(self._seq))
            self.job_schedules[key] = schedule
            self._advance_job_schedule(schedule, now)
            self._save_job_schedule(schedule)
            return copy.deepcopy(doc)

    def update_job_schedule(
        self, schedule_id: str, body: Doc, *, replace: bool, check: Callable[[Doc], None] | None = None
    ) -> Doc:
        """PATCH (given properties replaced whole) or PUT (omitted ones reset). Jobs already created keep
        their properties; the next run follows the new timetable."""
        settings = job_schedule_settings(body, replace=replace)
        with self._op():
            schedule = self._job_schedule(schedule_id)
            if check:
                check(schedule.doc)
            self._check_job_schedule_mutable(schedule)
            auto = (settings.get("jobSpecification") or {}).get("poolInfo", {}).get("autoPoolSpecification")
            if auto is not None:
                self._check_package_references(auto["pool"].get("applicationPackageReferences") or [])
            schedule.doc.update(settings)
            if not schedule.doc.get("metadata"):
                schedule.doc.pop("metadata", None)
            now = utcnow()
            touch(schedule.doc, now)
            self._advance_job_schedule(schedule, now)
            self._save_job_schedule(schedule)
            return copy.deepcopy(schedule.doc)

    def disable_job_schedule(self, schedule_id: str, check: Callable[[Doc], None] | None = None) -> Doc:
        """No job is created until the schedule is enabled again (its active job keeps running)."""
        with self._op():
            schedule = self._job_schedule(schedule_id)
            if check:
                check(schedule.doc)
            self._check_job_schedule_mutable(schedule)
            set_state(schedule.doc, JobScheduleState.DISABLED)
            self._save_job_schedule(schedule)
            return copy.deepcopy(schedule.doc)

    def enable_job_schedule(self, schedule_id: str, check: Callable[[Doc], None] | None = None) -> Doc:
        """Back to `active`: an opportunity still inside its start window is used now."""
        with self._op():
            schedule = self._job_schedule(schedule_id)
            if check:
                check(schedule.doc)
            self._check_job_schedule_mutable(schedule)
            now = utcnow()
            set_state(schedule.doc, JobScheduleState.ACTIVE, now)
            self._advance_job_schedule(schedule, now)
            self._save_job_schedule(schedule)
            return copy.deepcopy(schedule.doc)

    def terminate_job_schedule(self, schedule_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """`terminating` now: the active job is terminated (its release tasks run), then `completed`."""
        with self._op():
            schedule = self._job_schedule(schedule_id)
            if check:
                check(schedule.doc)
            self._check_job_schedule_mutable(schedule)
            set_state(schedule.doc, JobScheduleState.TERMINATING)
            schedule.doc["executionInfo"].pop("nextRunTime", None)
            self._save_job_schedule(schedule)
            for job in self._jobs_of(schedule):
                if job.state in LIVE_JOB_STATES:
                    self._terminate(job, "TerminateJobSchedule")

    def delete_job_schedule(self, schedule_id: str, check: Callable[[Doc], None] | None = None) -> None:
        """`deleting` now: every job of the schedule is deleted (release tasks of unfinished ones run),
        then the schedule is gone."""
        with self._op():
            schedule = self._job_schedule(schedule_id)
            if check:
                check(schedule.doc)
            if schedule.state == JobScheduleState.DELETING:
                raise conflict(
                    "JobScheduleBeingDeleted", "The specified job schedule has been marked for deletion."
                )
            now = utcnow()
            set_state(schedule.doc, JobScheduleState.DELETING, now)
            schedule.doc["executionInfo"].pop("nextRunTime", None)
            self._save_job_schedule(schedule)
            for job in self._jobs_of(schedule):
                if job.state != JobState.DELETING:
                    self._begin_job_delete(job, now)

    def job_schedule_statistics(self, schedule_id: str) -> Doc:
        """The statistics of the jobs the schedule created that still exist, summed (404 when it does not)."""
        with self.lock:
            schedule = self._job_schedule(schedule_id)
            now = utcnow()
            durations = dict.fromkeys(_STAT_DURATIONS, timedelta())
            counts: dict[str, float] = dict.fromkeys(_STAT_COUNTS, 0)
            retries = 0
            for job in self._jobs_of(schedule):
                stats = self.job_statistics(job.doc["id"])
                for name in _STAT_DURATIONS:
                    durations[name] += parse_duration(stats[name], name) or timedelta()
                for name in _STAT_COUNTS:
                    counts[name] += stats[name]
                retries += int(stats["numTaskRetries"])
            return {
                "url": schedule.doc["url"],
                "startTime": schedule.doc["creationTime"],
                "lastUpdateTime": iso(now),
                **{name: iso_duration(value) for name, value in durations.items()},
                **counts,
                "numTaskRetries": retries,
            }

    def _check_job_schedule_mutable(self, schedule: JobSchedule) -> None:
        state = schedule.state
        if state == JobScheduleState.COMPLETED:
            raise conflict(
                "JobScheduleCompleted", "The specified job schedule is already in a completed state."
            )
        if state == JobScheduleState.TERMINATING:
            raise conflict("JobScheduleBeingTerminated", "The specified job schedule is being terminated.")
        if state == JobScheduleState.DELETING:
            raise conflict(
                "JobScheduleBeingDeleted", "The specified job schedule has been marked for deletion."
            )

    def _jobs_of(self, schedule: JobSchedule) -> list[Job]:
        """The existing jobs `schedule` created, in creation order."""
        found = [j for j in self.jobs.values() if j.schedule_key == schedule.key]
        return sorted(found, key=lambda j: j.seq)

    def _active_job(self, schedule: JobSchedule) -> Job | None:
        """The schedule's one unfinished job: always its most recent one."""
        recent = (schedule.doc["executionInfo"].get("recentJob") or {}).get("id")
        job = self.jobs.get(str(recent).lower()) if recent else None
        return job if job is not None and job.state in _UNFINISHED_JOB_STATES else None

    def _advance_job_schedules(self, now: datetime) -> None:
        """The scheduler's step for every schedule (one bad record never stops the others)."""
        for schedule in list(self.job_schedules.values()):
            try:
                self._advance_job_schedule(schedule, now)
            except Exception:  # noqa: BLE001 - one schedule's record must not stop every other one
                self._report_once(
                    ("jobschedule", schedule.key, schedule.seq),
                    f"job schedule {schedule.doc.get('id')!r} could not advance",
                )

    def _advance_job_schedule(self, schedule: JobSchedule, now: datetime) -> None:
        """Use or lose the due opportunity, keep `nextRunTime`, finish terminating / deleting (lock held)."""
        state = schedule.state
        if state == JobScheduleState.DELETING:
            if not self._jobs_of(schedule):
                self._job_schedule_pool_ended(schedule)
                del self.job_schedules[schedule.key]
                self._forget("jobschedule", schedule.key)
            return
        if state == JobScheduleState.TERMINATING:
            if not any(j.state in _UNFINISHED_JOB_STATES for j in self._jobs_of(schedule)):
                self._complete_job_schedule(schedule, now)
            return
        if state not in (JobScheduleState.ACTIVE, JobScheduleState.DISABLED):
            return
        info = schedule.doc["executionInfo"]
        before = (dict(info), schedule.last_run)
        window = start_window(schedule.doc.get("schedule") or {})
        due = next_run(schedule.doc, parse_iso(schedule.last_run) if schedule.last_run else None, now)
        # A few steps at most: an opportunity lost, then the next one (already due after a clock jump).
        for _ in range(3):
            if due is None or now < due:
                break
            if window is not None and now > due + window:
                schedule.last_run = iso(due)  # the opportunity is lost
            elif state == JobScheduleState.ACTIVE and self._active_job(schedule) is None:
                self._create_scheduled_job(schedule)
                schedule.last_run = iso(due)
            else:
                break  # disabled, or the previous job still runs: wait while the window is open
            due = next_run(schedule.doc, due, now)
        if due is not None:
            info["nextRunTime"] = iso(due)
        else:
            info.pop("nextRunTime", None)
        if state == JobScheduleState.ACTIVE and due is None and self._active_job(schedule) is None:
            self._complete_job_schedule(schedule, now)
        elif (info, schedule.last_run) != before:
            self._save_job_schedule(schedule)

    def _create_scheduled_job(self, schedule: JobSchedule) -> None:
        """Create the schedule's next job `<id>:job-<n>` from its jobSpecification (lock held)."""
        spec = schedule.doc["jobSpecification"]
        number = schedule.jobs_created + 1
        while schedule.job_id(number).lower() in self.jobs:
            number += 1  # a job left over under this name (the numbering never reuses one)
        job_id = schedule.job_id(number)
        try:
            pool_id = self._scheduled_job_pool(schedule, spec)
        except BatchError as err:
            # The service cannot start the job (its auto pool, say a package that is gone): the job is
            # created completed, with the reason in executionInfo.schedulingError, and the schedule goes on.
            job = self._add_job(job_id, copy.deepcopy(spec), "")
            now = utcnow()
            info = job.doc["executionInfo"]
            info["schedulingError"] = {"category": "usererror", "code": err.code, "message": err.message}
            info["endTime"] = iso(now)
            set_state(job.doc, JobState.COMPLETED, now)
            self._save_job(job)
        else:
            job = self._add_job(job_id, copy.deepcopy(spec), pool_id)
        schedule.jobs_created = number
        schedule.doc["executionInfo"]["recentJob"] = {"id": job.doc["id"], "url": job.doc["url"]}
        self._save_job_schedule(schedule)

    def _scheduled_job_pool(self, schedule: JobSchedule, spec: Doc) -> str:
        """The pool a new job of the schedule runs on: its poolId, or its auto pool (one per job, or the
        schedule's own, created with its first job)."""
        auto = spec["poolInfo"].get("autoPoolSpecification")
        if auto is None:
            return str(spec["poolInfo"]["poolId"])
        if auto["poolLifetimeOption"] != "jobschedule":
            return self._create_auto_pool(auto)
        if schedule.auto_pool_id is None or schedule.auto_pool_id.lower() not in self.pools:
            schedule.auto_pool_id = self._create_auto_pool(auto)
        return schedule.auto_pool_id

    def _complete_job_schedule(self, schedule: JobSchedule, now: datetime) -> None:
        info = schedule.doc["executionInfo"]
        info.pop("nextRunTime", None)
        info["endTime"] = iso(now)
        set_state(schedule.doc, JobScheduleState.COMPLETED, now)
        self._save_job_schedule(schedule)
        self._job_schedule_pool_ended(schedule)

    def _job_schedule_pool_ended(self, schedule: JobSchedule) -> None:
        """The schedule ended: its `jobschedule`-lifetime auto pool goes (unless keepAlive)."""
        auto = schedule.doc["jobSpecification"]["poolInfo"].get("autoPoolSpecification")
        if schedule.auto_pool_id and auto and auto.get("poolLifetimeOption") == "jobschedule":
            self._release_auto_pool(schedule.auto_pool_id, auto)
