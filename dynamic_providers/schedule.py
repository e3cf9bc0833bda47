"""The JobSchedule dynamic resource: an Azure Batch job schedule (recurring jobs) in git.

The schedule is described by :class:`pulumi_azbatch.model.schedule.JobScheduleSpec`, whose job
specification is the job model's own properties (:class:`~pulumi_azbatch.model.job.JobPropertiesSpec`)
plus an optional job manager task; the resource's inputs are its properties (the id is the
``schedule_id`` input) beside the account (``batch_account_url``, ``batch_account_name``,
``batch_account_key``), as for the Job resource.

Lifecycle:

* ``check``: the schedule's structure and every rule of the job (run on the job a run of the
  schedule is); unknowns tolerated; the id autonamed ``<resource name>-<random>`` once; a schedule
  of the same id that is not this resource's is refused at preview (ownership, as for jobs), and so
  is a container task on a pool that cannot run it (``container_refusal``, as for jobs).
* ``diff``: ``schedule``, ``job_specification`` and ``metadata`` change in place (Batch PATCHes a
  schedule; the change applies to the jobs created after it, never to the running one); the id,
  ``display_name`` or the account replace it. The preview prints one line per changed property with
  old → new values (job specification changes per sub-property).
* ``create``: the schedule, marked as this resource's (adopted after an interrupted deployment),
  as sent by :func:`sent_schedule` (with ``file_conventions``: the container URL in every run's
  environment, the library's install in every run's preparation task, its wheel uploaded first).
* ``read``: the schedule's state, next run time, recent job and the jobs it created (newest first);
  a missing schedule leaves the state; drift of the updatable parts is named in ``drift``, the job
  specification's too (:func:`job_specification_drift`: what was sent against the service's answer,
  service defaults ignored).
* ``update``: one PATCH with the changed parts (a completed schedule takes none: recorded only); a
  drifted job specification, a re-signed File Conventions SAS or a new library wheel is a PATCH of
  the job specification.
* ``delete`` (``on_destroy``): terminate the schedule (Batch terminates its active job, whose
  release tasks run on every node that ran its preparation task), wait for them and report their
  exit codes (non-zero ones as warnings), copy the preparation/release logs to
  ``$JobLog/<job id>/<node>/...`` in the output container, delete the schedule (and its jobs) and
  wait until it is gone. Only a schedule carrying this resource's mark is ever touched.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

import pulumi
from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)
from pydantic import TypeAdapter

from pulumi_azbatch.conventions import CONTAINER_URL_ENV
from pulumi_azbatch.model.common import strip_query
from pulumi_azbatch.model.pool import container_task_paths
from pulumi_azbatch.model.schedule import (
    SCHEDULE_FIELDS_UPDATABLE_IN_PLACE,
    JobScheduleSpec,
    ScheduleSpec,
    as_job_spec,
    schedule_path,
)
from pulumi_azbatch.model.validation import (
    JobSpecError,
    load_stored_schedule,
    parse_schedule,
    validate_schedule,
)

from .base import (
    CONTAINER_REFUSAL_KEY,
    NAME_KEY,
    ProviderBase,
    autoname,
    changed_keys,
    contains_unknown,
    is_unknown,
    masked_failures,
    public_inputs,
    resource_inputs,
    say,
    trace,
)
from .batch_client import AccountConfigured, BatchAccount, call_with_retry, error_code
from .host import sleep_or_cancel
from .job import LIBRARY_KEY, LIBRARY_URL_KEY, TASKS_URL_KEY
from .job_plan import HIDDEN_KEYS, show_value
from .lifecycle import JOB_LOG_PREFIX, RELEASE_MARGIN, enum_text, harvest_logs, wait_released
from .ownership import (
    ADOPT_INPUT,
    OWNER_INPUTS,
    Mark,
    Verdict,
    announce_adoption,
    foreign_left_alone,
    mark_of_inputs,
    mark_of_object,
    owner_text,
    refusal,
    reserved_keys_used,
    user_metadata,
    verdict,
    with_mark,
    with_nonce,
)
from .runs import effective_spec, library_input, upload_library_to

__all__ = ["JobSchedule", "JobScheduleProvider"]

ACCOUNT_KEYS = ("batch_account_url", "batch_account_name", "batch_account_key")
#: The spec's properties under their input names (``id`` is ``schedule_id``).
SPEC_INPUT_KEYS: frozenset[str] = frozenset(
    ("schedule_id" if k == "id" else k) for k in JobScheduleSpec.model_fields
)
#: The File Conventions inputs (as for a Job): the tasks' container URL with its write SAS and the
#: library wheel's read URL (secrets, signed by BatchJobSchedule), and the library the check found.
CONVENTIONS_KEYS = (TASKS_URL_KEY, LIBRARY_URL_KEY, LIBRARY_KEY)
INPUT_KEYS: frozenset[str] = (
    SPEC_INPUT_KEYS
    | frozenset(ACCOUNT_KEYS)
    | {NAME_KEY}
    | set(OWNER_INPUTS)
    | {ADOPT_INPUT}
    | set(CONVENTIONS_KEYS)
)
#: What no update operation changes: a new schedule.
REPLACE_KEYS: frozenset[str] = frozenset(
    {"schedule_id", "display_name", "batch_account_url", "batch_account_name"}
)
#: Input keys sent with a PATCH (the names of the model's updatable fields).
PATCH_KEYS: frozenset[str] = SCHEDULE_FIELDS_UPDATABLE_IN_PLACE
#: How many of the schedule's jobs the ``jobs`` output lists (newest first).
MAX_LISTED_JOBS = 20
COMPUTED_KEYS = (
    "url",
    "state",
    "next_run_time",
    "recent_job",
    "end_time",
    "jobs",
    "output_container",
    "drift",
)
#: The job properties that may carry a SAS, stored as secrets when they do.
SAS_BEARING_KEYS = ("job_specification", "metadata")


def spec_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``JobScheduleSpec`` properties among a resource's inputs (``schedule_id`` back to ``id``)."""
    return {
        ("id" if k == "schedule_id" else k): v
        for k, v in props.items()
        if k in SPEC_INPUT_KEYS and v is not None
    }


def _to_inputs(spec: JobScheduleSpec, rest: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized inputs: the spec in its JSON form without defaults, so olds and news compare equal."""
    dumped = spec.model_dump(mode="json", exclude_defaults=True)
    dumped["schedule_id"] = dumped.pop("id", spec.id)
    return {**{k: v for k, v in rest.items() if k not in SPEC_INPUT_KEYS}, **dumped}


def _marked(spec: JobScheduleSpec, mark: Mark | None) -> JobScheduleSpec:
    return spec.model_copy(update={"metadata": with_mark(spec.metadata, mark)})


def get_schedule(client: Any, schedule_id: str) -> batch_models.BatchJobSchedule | None:
    """The schedule, or None when it does not exist."""
    try:
        return call_with_retry(lambda: client.get_job_schedule(schedule_id))
    except ResourceNotFoundError:
        return None


def schedule_jobs(client: Any, schedule_id: str) -> list[dict[str, Any]]:
    """The jobs the schedule created, newest first (at most :data:`MAX_LISTED_JOBS`), output shape."""
    try:
        jobs = call_with_retry(lambda: list(client.list_jobs_from_schedule(schedule_id)))
    except ResourceNotFoundError:
        return []
    jobs.sort(key=lambda j: (j.creation_time is not None, j.creation_time), reverse=True)
    return [
        {
            "id": j.id,
            "state": enum_text(j.state),
            "creation_time": j.creation_time.isoformat() if j.creation_time else None,
            "end_time": j.execution_info.end_time.isoformat()
            if j.execution_info and j.execution_info.end_time
            else None,
            "termination_reason": j.execution_info.termination_reason if j.execution_info else None,
        }
        for j in jobs[:MAX_LISTED_JOBS]
    ]


def schedule_snapshot(client: Any, schedule_id: str, found: Any = None) -> dict[str, Any]:
    """The computed outputs of a schedule: state, next run time, recent job, end time, its jobs."""
    found = found or get_schedule(client, schedule_id)
    if found is None:
        return {"state": "deleted", "next_run_time": None, "recent_job": None, "end_time": None, "jobs": []}
    info = found.execution_info
    return {
        "state": enum_text(found.state),
        "next_run_time": info.next_run_time.isoformat() if info and info.next_run_time else None,
        "recent_job": info.recent_job.id if info and info.recent_job else None,
        "end_time": info.end_time.isoformat() if info and info.end_time else None,
        "jobs": schedule_jobs(client, schedule_id),
    }


def schedule_lines(
    schedule_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], changed: list[str]
) -> list[str]:
    """The preview's lines: what forces a replacement, and the in-place changes with old → new values.

    A changed job specification is shown per sub-property (``job_specification.priority: 0 → 5``).
    """
    head = f"job schedule {schedule_id}:"
    replaced = [k for k in changed if k in REPLACE_KEYS]
    if replaced:
        out = [f"{head} replace (the schedule and the jobs it created are deleted, then it is created again)"]
        for key in replaced:
            shown = (
                "" if key in HIDDEN_KEYS else f" ({show_value(olds.get(key))} → {show_value(news.get(key))})"
            )
            out.append(f"{head}   forces replacement: {key}: Batch cannot change it on a schedule{shown}")
        return out
    out = []
    for key in sorted(k for k in changed if k in PATCH_KEYS):
        old, new = olds.get(key), news.get(key)
        if key == "job_specification" and old == new and _spec_drifted(olds):
            out.append(f"{head} update in place: {key}: changed outside Pulumi → the declared one")
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping) and key != "metadata":
            for sub in sorted(set(old) | set(new)):
                if old.get(sub) != new.get(sub):
                    out.append(
                        f"{head} update in place: {key}.{sub}: {show_value(old.get(sub))} → {show_value(new.get(sub))}"
                    )
        else:
            out.append(f"{head} update in place: {key}: {show_value(old)} → {show_value(new)}")
    resigned = [k for k in changed if k in (TASKS_URL_KEY, LIBRARY_URL_KEY)]
    if resigned:
        out.append(f"{head} update in place: job_specification: {', '.join(resigned)} re-signed (SAS hidden)")
    if LIBRARY_KEY in changed:
        out.append(
            f"{head} update in place: job_specification: the library its runs install: "
            f"{show_value(olds.get(LIBRARY_KEY))} → {show_value(news.get(LIBRARY_KEY))}"
        )
    if any(k in PATCH_KEYS or k in CONVENTIONS_KEYS for k in changed):
        out.append(
            f"{head}   (applies to the jobs created after the update; a running job keeps its settings)"
        )
    if "enabled" in changed:
        enabled = news.get("enabled") is not False
        action = (
            "enable: runs due from now on create jobs" if enabled else "disable: no new jobs until enabled"
        )
        out.append(
            f"{head} update in place: enabled: {show_value(olds.get('enabled') is not False)} → {show_value(enabled)} ({action})"
        )
    settings = sorted(
        k
        for k in changed
        if k not in PATCH_KEYS
        and k not in REPLACE_KEYS
        and k not in HIDDEN_KEYS
        and k not in CONVENTIONS_KEYS
    )
    settings = [k for k in settings if k not in (NAME_KEY, *OWNER_INPUTS, "batch_account_key", "enabled")]
    if settings:
        out.append(f"{head} provider settings: {', '.join(settings)} (no call to Batch)")
    return out


class JobScheduleProvider(AccountConfigured, ProviderBase):
    """The dynamic provider of :class:`JobSchedule` (stateless, like the Job provider)."""

    input_keys = INPUT_KEYS
    replace_keys = REPLACE_KEYS

    # -- check --------------------------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        inputs = dict(news)
        inputs["schedule_id"] = autoname(olds, news, "schedule_id", NAME_KEY, "schedule")
        inputs = with_nonce(olds, inputs)
        # Before any early return: a preview with unknown inputs must not look like another library.
        inputs.pop(LIBRARY_KEY, None)
        spec_input = inputs.get("job_specification")
        library = library_input(
            spec_input.get("file_conventions") if isinstance(spec_input, Mapping) else None
        )
        if library is not None:
            inputs[LIBRARY_KEY] = library
        raw = spec_inputs(inputs)
        failures = [CheckFailure(_input_path(f.property), f.reason) for f in validate_schedule(raw)]
        if library is not None and not inputs.get(LIBRARY_URL_KEY):
            failures.append(
                CheckFailure(
                    "job_specification.file_conventions",
                    f"install_library needs the wheel's URL with a read SAS ({LIBRARY_URL_KEY}); "
                    "BatchJobSchedule signs it when its output is an OutputStorage",
                )
            )
        refusal = inputs.get(CONTAINER_REFUSAL_KEY)
        if refusal and not is_unknown(refusal):
            # As for a job: a container task on a pool (or backend) that cannot run it, refused at preview.
            failures.extend(
                CheckFailure(schedule_path(path), str(refusal))
                for path in container_task_paths(as_job_spec(raw))
            )
        clash = reserved_keys_used(inputs.get("metadata"))
        if clash and not contains_unknown(inputs.get("metadata")):
            failures.append(CheckFailure("metadata", f"{', '.join(clash)}: reserved for the ownership mark"))
        if not olds and not failures and not is_unknown(inputs.get("schedule_id")):
            # A new resource: refuse a schedule of the same id that is not this resource's now, at
            # preview (one cheap GET, even while other inputs are still unknown).
            problem = self._foreign_schedule(inputs, str(inputs["schedule_id"]))
            if problem:
                return CheckResult(inputs, [CheckFailure("schedule_id", problem)])
        if failures or contains_unknown(inputs):
            return CheckResult(inputs, _masked(failures, inputs))
        try:
            spec = parse_schedule(raw)
        except JobSpecError as exc:
            return CheckResult(
                inputs,
                _masked([CheckFailure(_input_path(f.property), f.reason) for f in exc.failures], inputs),
            )
        return CheckResult(_to_inputs(spec, inputs), [])

    def _foreign_schedule(self, inputs: Mapping[str, Any], schedule_id: str) -> str | None:
        """The refusal when schedule ``schedule_id`` exists and is neither this resource's nor to be adopted."""
        mark = mark_of_inputs(inputs)
        if mark is None:
            return None
        try:
            found = get_schedule(self._account(inputs).client(), schedule_id)
        except Exception:  # noqa: BLE001 - unreachable or unauthorized: create decides (and reports) later
            return None
        if found is None:
            return None
        owner = mark_of_object(found)
        if verdict(owner, mark) is not Verdict.FOREIGN:
            return None
        if inputs.get(ADOPT_INPUT):
            say(
                f"warning: job schedule {schedule_id} belongs to {owner_text(owner)}; adopt: true takes it over"
            )
            return None
        return refusal("job schedule", schedule_id, owner, mark)

    # -- diff ---------------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        changed = sorted(changed_keys(olds, news, INPUT_KEYS))
        if _spec_drifted(olds) and "job_specification" not in changed:
            changed = sorted([*changed, "job_specification"])  # refresh found it changed outside Pulumi
        if not changed:
            if self._gone(_id, olds):
                say(
                    f"job schedule {_id} no longer exists (deleted outside Pulumi); `pulumi up` creates it again"
                )
                return DiffResult(changes=True, replaces=["schedule_id"], delete_before_replace=True)
            return DiffResult(changes=False, replaces=[], delete_before_replace=True)
        for line in schedule_lines(_id, olds, news, changed):
            say(line)
        replaces = [k for k in changed if k in REPLACE_KEYS]
        return DiffResult(changes=True, replaces=replaces, delete_before_replace=True)

    def _gone(self, schedule_id: str, olds: Mapping[str, Any]) -> bool:
        try:
            return get_schedule(self._account(olds).client(), schedule_id) is None
        except Exception:  # noqa: BLE001 - the update itself reports an unreachable service
            return False

    # -- create -------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        spec = sent_schedule(parse_schedule(spec_inputs(props)), props)
        account = self._account(props)
        client = account.client()
        schedule_id = spec.effective_id()
        _upload_library(spec, props)
        self._create_or_adopt(client, spec, schedule_id, mark_of_inputs(props), bool(props.get(ADOPT_INPUT)))
        _set_enabled(client, schedule_id, spec.enabled)
        return CreateResult(id_=schedule_id, outs=self._outputs(account, client, spec, props))

    def _create_or_adopt(
        self, client: Any, spec: JobScheduleSpec, schedule_id: str, mark: Mark | None, adopt: bool
    ) -> None:
        """Create the schedule (marked); or take over the existing one when it is this resource's
        (interrupted deployment) or ``adopt`` is set: it then gets this spec and the mark by a PATCH."""
        try:
            call_with_retry(
                lambda: client.create_job_schedule(
                    _marked(spec, mark).to_batch_job_schedule_create(schedule_id=schedule_id)
                )
            )
            say(
                f"job schedule {schedule_id}: created (jobs {schedule_id}:job-<n> on pool {spec.job_specification.pool_id})"
            )
            return
        except ResourceExistsError as exc:
            if error_code(exc) == "JobWithSameIdExists":
                raise RuntimeError(
                    f"job schedule {schedule_id}: a job with this id exists; jobs and job schedules share ids "
                    "in Batch: choose another schedule_id"
                ) from None
            if error_code(exc) not in (None, "JobScheduleExists"):
                raise
        found = get_schedule(client, schedule_id)
        if found is None:
            raise RuntimeError(
                f"job schedule {schedule_id} was reported to exist but has disappeared; run `pulumi up` again"
            )
        owner = mark_of_object(found)
        judged = verdict(owner, mark) if mark is not None else Verdict.FOREIGN
        if judged is Verdict.FOREIGN and not adopt:
            raise RuntimeError(
                refusal("job schedule", schedule_id, owner, mark)
                if mark
                else f"job schedule {schedule_id} already exists"
            )
        state = enum_text(found.state)
        if state not in ("active", "disabled"):
            raise RuntimeError(
                f"job schedule {schedule_id} already exists and is {state}: it cannot be adopted. Delete it (or "
                "choose another schedule_id) and run `pulumi up` again"
            )
        if judged is Verdict.FOREIGN:
            say(f"warning: job schedule {schedule_id}: taking it over from {owner_text(owner)} (adopt: true)")
        else:
            say(
                f"job schedule {schedule_id}: already exists (left by an interrupted deployment); adopting it"
            )
        # Adopted: the declared timetable, job specification and metadata (with the mark) apply from now on.
        update = _marked(spec, mark).to_batch_job_schedule_update(PATCH_KEYS, schedule_id=schedule_id)
        call_with_retry(lambda: client.update_job_schedule(schedule_id, update))

    # -- read ---------------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        account = self._account(props)
        client = account.client()
        found = get_schedule(client, id_)
        if found is None or enum_text(found.state) == "deleting":
            say(
                f"warning: job schedule {id_} no longer exists (deleted outside Pulumi); removed from the stack, "
                "the next `pulumi up` creates it again"
            )
            return ReadResult(id_="", outs={})
        mark = mark_of_inputs(props)
        owner = mark_of_object(found)
        if mark is not None and verdict(owner, mark) is not Verdict.OURS:
            say(
                f"warning: job schedule {id_} now belongs to {owner_text(owner)}; removed from the stack (nothing deleted)"
            )
            return ReadResult(id_="", outs={})
        inputs = {**public_inputs(props), "schedule_id": props.get("schedule_id") or id_}
        drift = _drift(inputs, found)
        outs = {**inputs, **drift, "drift": sorted(drift)}
        changed_spec = _declared_spec_drift(inputs, found)
        if changed_spec:
            # The stored job specification stays the declared one; ``drift`` names it, and the
            # next ``up`` (diff and update read it) sends the declared one again.
            shown = ", ".join(changed_spec[:5]) + (
                f" and {len(changed_spec) - 5} more" if len(changed_spec) > 5 else ""
            )
            say(
                f"warning: job schedule {id_}: its job specification was changed outside Pulumi ({shown}); "
                "the next `pulumi up` puts the declared one back"
            )
            outs["drift"] = sorted([*outs["drift"], "job_specification"])
        if outs.get("enabled") is True:
            del outs["enabled"]  # the default, which the inputs never spell out (see _to_inputs)
        state = enum_text(found.state)
        if state in ("completed", "terminating") and props.get("state") not in ("completed", "terminating"):
            say(
                f"warning: job schedule {id_} is {state} (ended outside Pulumi or past do_not_run_after); it "
                "creates no more jobs; `pulumi up --replace <urn>` starts it again"
            )
        outs.update(self._computed(account, client, id_, outs, found))
        return ReadResult(id_=id_, outs=outs)

    # -- update -------------------------------------------------------------------------------------

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        spec = sent_schedule(parse_schedule(spec_inputs(news)), news)
        account = self._account(news)
        client = account.client()
        fields = {k for k in PATCH_KEYS if olds.get(k) != news.get(k)}
        if changed_keys(olds, news, CONVENTIONS_KEYS):
            fields.add("job_specification")  # a re-signed File Conventions SAS, another library wheel
        if _spec_drifted(olds):
            fields.add("job_specification")  # changed outside Pulumi (refresh): the declared one again
        if any(olds.get(k) != news.get(k) for k in OWNER_INPUTS):
            fields.add("metadata")  # the stack was renamed: the mark follows
        if "output_container_url" in changed_keys(olds, news, ["output_container_url"]):
            fields.add("job_specification")  # the job manager's outputs name the container (a re-signed SAS)
        found = get_schedule(client, id_)
        state = enum_text(found.state) if found else "deleted"
        if fields and state in ("completed", "terminating", "deleted"):
            say(
                f"warning: job schedule {id_} is {state}; {', '.join(sorted(fields))} cannot change on it any more "
                "and are recorded only"
            )
            fields = set()
        if state in ("active", "disabled") and (state == "active") != spec.enabled:
            _set_enabled(client, id_, spec.enabled)
        if fields:
            if "job_specification" in fields:
                _upload_library(spec, news)
            say(
                f"job schedule {id_}: updating {', '.join(sorted(fields))} (the jobs created from now on get it)"
            )
            update = _marked(spec, mark_of_inputs(news)).to_batch_job_schedule_update(fields, schedule_id=id_)
            call_with_retry(lambda: client.update_job_schedule(id_, update))
        return UpdateResult(outs=self._outputs(account, client, spec, news))

    # -- delete -------------------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        try:
            spec: JobScheduleSpec | None = load_stored_schedule(spec_inputs(props))
        except Exception:  # noqa: BLE001 - never let an old state block a destroy
            spec = None
        mode = spec.on_destroy if spec else "terminate_then_delete"
        release_timeout = spec.release_timeout if spec else timedelta(minutes=15)
        deadline = time.monotonic() + (release_timeout + RELEASE_MARGIN).total_seconds()
        client = self._account(props).client()
        found = get_schedule(client, id_)
        if found is None:
            say(f"job schedule {id_} no longer exists; nothing to delete")
            return
        mark = mark_of_inputs(props)
        if mark is not None:
            owner = mark_of_object(found)
            if verdict(owner, mark) is not Verdict.OURS:
                say(foreign_left_alone("job schedule", id_, owner, mark))
                return
        container = spec.output_container_url if spec else None
        state = enum_text(found.state)
        if state == "deleting":
            _wait_schedule_gone(client, id_, deadline)
            return
        open_jobs = [
            j["id"] for j in schedule_jobs(client, id_) if j["state"] not in ("completed", "deleting")
        ]
        if mode in ("terminate_then_delete", "terminate"):
            if state in ("active", "disabled"):
                say(
                    f"job schedule {id_}: terminating (its active job {', '.join(open_jobs) or '(none)'} ends; release "
                    "tasks run on every node that ran the preparation task)"
                )
                _terminate_schedule(client, id_)
            _wait_schedule_state(client, id_, ("completed",), deadline)
            for job_id in open_jobs:
                nodes = wait_released(client, job_id, deadline)
                _warn_release_failures(job_id, nodes)
                harvest_logs(client, job_id, nodes, container, prefix=f"{JOB_LOG_PREFIX}/{job_id}")
            if mode == "terminate":
                say(
                    f"job schedule {id_}: terminated and kept with its jobs as history (on_destroy: terminate)"
                )
                return
        say(f"job schedule {id_}: deleting (with the jobs it created)")
        _delete_schedule(client, id_)
        _wait_schedule_gone(client, id_, deadline + (release_timeout + RELEASE_MARGIN).total_seconds())
        say(f"job schedule {id_}: deleted")

    # -- outputs ------------------------------------------------------------------------------------

    def _computed(
        self,
        account: BatchAccount,
        client: Any,
        schedule_id: str,
        props: Mapping[str, Any],
        found: Any = None,
    ) -> dict[str, Any]:
        url = props.get("output_container_url")
        return {
            "url": f"{account.url.rstrip('/')}/jobschedules/{schedule_id}",
            "output_container": strip_query(url) if isinstance(url, str) and url else None,
            **schedule_snapshot(client, schedule_id, found),
        }

    def _outputs(
        self, account: BatchAccount, client: Any, spec: JobScheduleSpec, props: Mapping[str, Any]
    ) -> dict[str, Any]:
        schedule_id = spec.effective_id()
        computed = self._computed(account, client, schedule_id, props)
        return {**public_inputs(props), "schedule_id": schedule_id, **computed, "drift": []}


def _input_path(path: str) -> str:
    return "schedule_id" if path == "id" else path


def _masked(failures: list[CheckFailure], inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """Failures that do not print the account key, the container SAS or any value holding a SAS."""
    return masked_failures(
        failures, inputs, ("batch_account_key", "output_container_url", TASKS_URL_KEY, LIBRARY_URL_KEY)
    )


def sent_schedule(spec: JobScheduleSpec, props: Mapping[str, Any]) -> JobScheduleSpec:
    """The schedule as sent to Batch: with ``file_conventions``, every run's job gets the container URL
    with its write SAS in its common environment (so the job manager and the tasks it adds have it;
    a re-signed SAS is PATCHed in and reaches the runs created after it) and, with
    ``install_library``, a preparation task that installs the library (as a job's)."""
    job = spec.job_specification
    if job.file_conventions is None:
        return spec
    job = effective_spec(job, props.get(LIBRARY_URL_KEY))
    tasks_url = props.get(TASKS_URL_KEY) or spec.output_container_url
    if tasks_url:
        env = {**job.common_environment_settings, CONTAINER_URL_ENV: tasks_url}
        job = job.model_copy(update={"common_environment_settings": env})
    return spec.model_copy(update={"job_specification": job})


def _upload_library(spec: JobScheduleSpec, props: Mapping[str, Any]) -> None:
    """Upload the library wheel to ``$Library/`` in the schedule's container, when its runs install it."""
    library_url = props.get(LIBRARY_URL_KEY)
    if not props.get(LIBRARY_KEY) or not library_url:
        return
    if not spec.output_container_url:
        raise RuntimeError(
            "job_specification.file_conventions.install_library needs the schedule's output container "
            "(output_container_url)"
        )
    upload_library_to(spec.output_container_url, library_url)


def _spec_drifted(olds: Mapping[str, Any]) -> bool:
    """Refresh found the job specification changed outside Pulumi (``drift`` names it)."""
    return "job_specification" in (olds.get("drift") or [])


def _declared_spec_drift(inputs: Mapping[str, Any], found: Any) -> list[str]:
    """Where the service's job specification differs from the stored (declared) one; [] when the
    stored one cannot be read (state written by another version: nothing to compare)."""
    try:
        spec = load_stored_schedule(spec_inputs(inputs))
    except Exception:  # noqa: BLE001
        return []
    schedule_id = str(inputs.get("schedule_id") or found.id)
    sent = sent_schedule(spec, inputs).job_specification_sdk(schedule_id)
    return job_specification_drift(sent, found.job_specification)


def _drift(inputs: Mapping[str, Any], found: Any) -> dict[str, Any]:
    """What the service has differently from the stored inputs: the timetable, the metadata (the mark
    excluded) and ``enabled`` (disabled or enabled outside Pulumi); the next ``up`` puts back the
    declared values."""
    changes: dict[str, Any] = {}
    real_meta = user_metadata({m.name: m.value for m in found.metadata or []})
    if real_meta != (inputs.get("metadata") or {}):
        changes["metadata"] = real_meta
    timetable = found.schedule
    if timetable is not None:
        try:
            stored = ScheduleSpec.model_validate(inputs.get("schedule") or {})
        except Exception:  # noqa: BLE001 - state written by another version: nothing to compare
            stored = None
        real = ScheduleSpec.model_construct(
            do_not_run_until=timetable.do_not_run_until,
            do_not_run_after=timetable.do_not_run_after,
            start_window=timetable.start_window,
            recurrence_interval=timetable.recurrence_interval,
        )
        if stored is not None and real != stored:
            changes["schedule"] = real.model_dump(mode="json", exclude_defaults=True)
    state = enum_text(found.state)
    declared = inputs.get("enabled") is not False
    if state in ("active", "disabled") and (state == "active") != declared:
        changes["enabled"] = state == "active"
    return changes


#: Parts of a job specification (REST names) that exist only when someone sets them: present in the
#: service's answer but not in what the provider sent, they were added outside Pulumi. Every other
#: property the service answers and the provider did not send is a service default, not compared.
SET_ONLY_PARTS = frozenset(
    {
        "displayName",
        "jobPreparationTask",
        "jobReleaseTask",
        "jobManagerTask",
        "commonEnvironmentSettings",
        "metadata",
        "resourceFiles",
        "environmentSettings",
        "outputFiles",
        "containerSettings",
        "networkConfiguration",
        "applicationPackageReferences",
        "authenticationTokenSettings",
    }
)


def job_specification_drift(sent: Any, found: Any) -> list[str]:
    """The REST paths where the service's job specification differs from the one the provider sends.

    Both are compared in the service's wire form (``as_dict()``): every value sent must be the
    service's (durations compared as durations, URLs without their SAS, which ``up`` re-signs); a
    property the service adds is a default unless it is one of :data:`SET_ONLY_PARTS` (a release
    task, an environment setting... added outside Pulumi). Lists compare item by item.
    """
    return _wire_drift(sent.as_dict(), found.as_dict() if found is not None else {}, "")


def _wire_drift(sent: Any, real: Any, path: str) -> list[str]:
    if isinstance(sent, Mapping) and isinstance(real, Mapping):
        out: list[str] = []
        for key in sorted(set(sent) | set(real)):
            where = f"{path}.{key}" if path else key
            if key in sent and sent[key] is not None:
                out += _wire_drift(sent[key], real.get(key), where)
            elif key in SET_ONLY_PARTS and real.get(key) not in (None, [], {}):
                out.append(where)
        return out
    if isinstance(sent, list) and isinstance(real, list) and len(sent) == len(real):
        return [
            p
            for i, (a, b) in enumerate(zip(sent, real, strict=True))
            for p in _wire_drift(a, b, f"{path}[{i}]")
        ]
    return [] if _same_leaf(sent, real) else [path]


def _same_leaf(sent: Any, real: Any) -> bool:
    if sent == real:
        return True
    if isinstance(sent, str) and isinstance(real, str):
        if sent.startswith("P") and real.startswith("P"):
            try:
                return bool(_DURATION.validate_python(sent) == _DURATION.validate_python(real))
            except ValueError:
                return False
        if "://" in sent:
            return strip_query(sent) == strip_query(real)
    return False


_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


def _set_enabled(client: Any, schedule_id: str, enabled: bool) -> None:
    """Enable or disable the schedule (a no-op when it already is)."""
    found = get_schedule(client, schedule_id)
    state = enum_text(found.state) if found else None
    if enabled and state == "disabled":
        say(f"job schedule {schedule_id}: enabling (runs due from now on create jobs again)")
        call_with_retry(lambda: client.enable_job_schedule(schedule_id))
    elif not enabled and state == "active":
        say(f"job schedule {schedule_id}: disabling (enabled: false; no new jobs, the active one goes on)")
        call_with_retry(lambda: client.disable_job_schedule(schedule_id))


def _terminate_schedule(client: Any, schedule_id: str) -> None:
    try:
        call_with_retry(lambda: client.begin_terminate_job_schedule(schedule_id, polling_interval=1))
    except (ResourceExistsError, HttpResponseError) as exc:
        if isinstance(exc, ResourceNotFoundError):
            return
        if error_code(exc) not in {
            "JobScheduleCompleted",
            "JobScheduleBeingTerminated",
            "JobScheduleBeingDeleted",
        }:
            raise


def _delete_schedule(client: Any, schedule_id: str) -> None:
    try:
        call_with_retry(lambda: client.begin_delete_job_schedule(schedule_id, polling_interval=1))
    except (ResourceExistsError, HttpResponseError) as exc:
        if not isinstance(exc, ResourceNotFoundError) and error_code(exc) != "JobScheduleBeingDeleted":
            raise


def _wait_schedule_state(client: Any, schedule_id: str, states: Collection[str], deadline: float) -> None:
    delay = 0.2
    while True:
        found = get_schedule(client, schedule_id)
        if found is None or enum_text(found.state) in states:
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"job schedule {schedule_id}: still {enum_text(found.state)} at the deadline; run destroy again"
            )
        sleep_or_cancel(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 5.0)


def _wait_schedule_gone(client: Any, schedule_id: str, deadline: float) -> None:
    delay = 0.2
    while get_schedule(client, schedule_id) is not None:
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"job schedule {schedule_id} is still being deleted at the deadline; run destroy again"
            )
        sleep_or_cancel(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 5.0)


def _warn_release_failures(job_id: str, nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        release = node.get("release") or {}
        code = release.get("exit_code")
        if code not in (None, 0):
            say(f"warning: job {job_id}: the release task exited with {code} on node {node.get('node_id')}")


# ---- the resource ------------------------------------------------------------------------------------


class JobSchedule(Resource, module="azbatch", name="JobSchedule"):
    """An Azure Batch job schedule managed by Pulumi: a timetable and the job each run creates.

    ``spec`` is a :class:`~pulumi_azbatch.model.schedule.JobScheduleSpec` or a mapping of its
    properties (values may be Pulumi Outputs); keyword ``overrides`` replace single properties. The
    account and the secrets are handled as for :class:`~pulumi_azbatch.dynamic_providers.job.Job`.
    ``container_refusal`` (set by ``BatchJobSchedule`` from its pool) makes preview refuse a job
    specification task with ``container_settings``, naming it, as for a Job.
    """

    schedule_id: pulumi.Output[str]
    """The Batch job schedule id (the resource's id too); autonamed ``<resource name>-<random>``."""
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    """``active``, ``disabled``, ``completed``, ``terminating`` (when last created, updated or refreshed)."""
    next_run_time: pulumi.Output[str | None]
    recent_job: pulumi.Output[str | None]
    """The id of the most recent job the schedule created (``<schedule id>:job-<n>``)."""
    jobs: pulumi.Output[list[dict[str, Any]]]
    """The jobs the schedule created, newest first (20 at most): ``id``, ``state``, times."""
    output_container: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        spec: JobScheduleSpec | Mapping[str, Any],
        *,
        batch_account_url: pulumi.Input[str] | None = None,
        batch_account_name: pulumi.Input[str] | None = None,
        batch_account_key: pulumi.Input[str] | None = None,
        container_refusal: pulumi.Input[str] | None = None,
        adopt: bool = False,
        opts: pulumi.ResourceOptions | None = None,
        secret_properties: Collection[str] = (),
        file_conventions_container_url: pulumi.Input[str] | None = None,
        file_conventions_library_url: pulumi.Input[str] | None = None,
        **overrides: Any,
    ) -> None:
        props, merged_opts = resource_inputs(
            resource_name,
            spec,
            overrides,
            model=JobScheduleSpec,
            kind="job schedule",
            type_token="azbatch:JobSchedule",
            id_key="schedule_id",
            sas_keys=SAS_BEARING_KEYS,
            secret_properties=secret_properties,
            account=(batch_account_url, batch_account_name, batch_account_key),
            adopt=adopt,
            computed_keys=COMPUTED_KEYS,
            secret_inputs={
                TASKS_URL_KEY: file_conventions_container_url,
                LIBRARY_URL_KEY: file_conventions_library_url,
            },
            extra_inputs={CONTAINER_REFUSAL_KEY: container_refusal},
            opts=opts,
        )
        super().__init__(JobScheduleProvider(), resource_name, props, merged_opts)
        if adopt:
            announce_adoption(self, "job schedule", resource_name)
