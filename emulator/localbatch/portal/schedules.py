"""The portal's job schedule pages: the account's schedules, and one schedule with the jobs it created.

A schedule is shown as the Azure portal shows it: state, next run time, recent job, timetable and
the job specification's main settings; its jobs (newest first) link to each job's overview and to its
**Preparation tasks** and **Release tasks** views. Reads only `BatchService`'s public read methods
(`list_job_schedules`, `get_job_schedule`, `list_jobs_of_schedule`).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import BatchError
from ..service import BatchService
from .html import code, e, link, metadata_list, page, pill, props, table, url, when

__all__ = ["BUSY_SCHEDULE_STATES", "schedule_page", "schedules_section"]

Doc = dict[str, Any]
#: States in which a schedule's page keeps refreshing itself.
BUSY_SCHEDULE_STATES = ("terminating", "deleting")
#: How many of a schedule's jobs its page lists.
MAX_JOB_ROWS = 200


def _execution(schedule: Doc) -> Doc:
    return schedule.get("executionInfo") or {}


def _recent_job_link(schedule: Doc) -> str:
    recent = (_execution(schedule).get("recentJob") or {}).get("id")
    return link(url("jobs", recent), recent) if recent else ""


def schedules_section(service: BatchService) -> tuple[str, bool]:
    """The home page's "Job schedules" table (empty string when the account has none) and whether
    one of them is changing (the page then refreshes itself)."""
    schedules = service.list_job_schedules()
    if not schedules:
        return "", False
    rows = []
    busy = False
    for schedule in schedules:
        busy = busy or schedule.get("state") in BUSY_SCHEDULE_STATES
        timetable = schedule.get("schedule") or {}
        try:
            job_count = len(service.list_jobs_of_schedule(schedule["id"]))
        except BatchError:
            continue  # deleted while rendering
        rows.append(
            [
                link(url("schedules", schedule["id"]), schedule["id"]),
                pill(schedule.get("state")),
                when(_execution(schedule).get("nextRunTime")),
                _recent_job_link(schedule),
                e(job_count),
                e(timetable.get("recurrenceInterval") or "once"),
            ]
        )
    body = "<h2>Job schedules</h2>" + table(
        ["Job schedule", "State", "Next run", "Recent job", "Jobs", "Every"],
        rows,
        cls="schedules",
        empty="No job schedules.",
    )
    return body, busy


def schedule_page(service: BatchService, schedule_id: str, not_found: type[Exception]) -> str:
    """One schedule: its state, timetable and job specification, and the jobs it created."""
    try:
        schedule = service.get_job_schedule(schedule_id)
        jobs = service.list_jobs_of_schedule(schedule_id)
    except BatchError as err:
        raise not_found(f"No job schedule {schedule_id!r}.") from err
    execution = _execution(schedule)
    timetable = schedule.get("schedule") or {}
    spec = schedule.get("jobSpecification") or {}
    pool_id = (spec.get("poolInfo") or {}).get("poolId", "")
    prep = spec.get("jobPreparationTask") or {}
    release = spec.get("jobReleaseTask") or {}
    manager = spec.get("jobManagerTask") or {}
    metadata = metadata_list(schedule.get("metadata"))
    info = props(
        [
            ("State", pill(schedule.get("state"))),
            ("Display name", e(schedule.get("displayName"))),
            ("Next run", when(execution.get("nextRunTime"))),
            ("Recent job", _recent_job_link(schedule)),
            ("Ended", when(execution.get("endTime"))),
            ("Created", when(schedule.get("creationTime"))),
            ("Recurrence interval", e(timetable.get("recurrenceInterval") or "none (one run)")),
            ("Start window", e(timetable.get("startWindow"))),
            ("Do not run until", when(timetable.get("doNotRunUntil"))),
            ("Do not run after", when(timetable.get("doNotRunAfter"))),
            ("Pool of its jobs", link(url("pools", pool_id), pool_id) if pool_id else ""),
            ("Priority of its jobs", e(spec.get("priority", 0))),
            ("Job manager task", code(manager.get("commandLine")) if manager else ""),
            ("Job preparation task", code(prep.get("commandLine")) if prep else ""),
            ("Job release task", code(release.get("commandLine")) if release else ""),
            ("Metadata", metadata),
        ]
    )
    jobs = sorted(jobs, key=lambda j: str(j.get("creationTime") or ""), reverse=True)
    has_prep = bool(prep)
    rows = []
    for job in jobs[:MAX_JOB_ROWS]:
        job_execution = job.get("executionInfo") or {}
        views = (
            link(url("jobs", job["id"], "preparation"), "Preparation tasks")
            + " · "
            + link(url("jobs", job["id"], "release"), "Release tasks")
            if has_prep
            else '<span class="note">no preparation task</span>'
        )
        rows.append(
            [
                link(url("jobs", job["id"]), job["id"]),
                pill(job.get("state")),
                when(job.get("creationTime")),
                when(job_execution.get("endTime")),
                e(job_execution.get("terminateReason")),
                views,
            ]
        )
    more = (
        f'<p class="note">Showing the newest {MAX_JOB_ROWS} of {len(jobs)} jobs.</p>'
        if len(jobs) > MAX_JOB_ROWS
        else ""
    )
    body = (
        info
        + "<h2>Jobs created by this schedule</h2>"
        + table(
            ["Job", "State", "Created", "Ended", "Termination reason", "Per node"],
            rows,
            cls="schedule-jobs",
            empty="No jobs yet: the first is created at the schedule's first run time.",
        )
        + more
    )
    busy = schedule.get("state") in BUSY_SCHEDULE_STATES or any(
        j.get("state") == "terminating" for j in jobs[:MAX_JOB_ROWS]
    )
    return page(
        f"Job schedule {schedule_id}",
        body,
        crumbs=[(url("schedules", schedule_id), schedule_id)],
        refresh=busy,
        account=service.account_name,
    )
