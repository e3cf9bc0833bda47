"""The Job dynamic resource: a whole Azure Batch job (preparation and release tasks, tasks, outputs) in git.

The job is described by the one job model, :class:`pulumi_azbatch.model.JobSpec`; its properties are
the resource's inputs (flat, snake_case; the job id is the ``job_id`` input because ``id`` is Pulumi's
own), beside the account (``batch_account_url``, ``batch_account_name``, ``batch_account_key``).

Lifecycle (see the README section ``docs/job-resource.md``):

* ``check``: every rule of the model, each failure naming its property; unknowns tolerated; the id
  is autonamed ``<resource name>-<random>`` once and kept. ``create``/``update`` reuse the spec
  ``check`` parsed from the same inputs in this process (a 100,000-task sweep is expanded once).
* ``diff``: the :class:`~pulumi_azbatch.dynamic_providers.job_plan.JobPlan` (see that module): update
  in place (job properties Batch can PATCH, tasks added, changed, updated or removed one by one,
  provider knobs) or replace (preparation/release task, common environment, the pool unless the job
  is disabled, tasks that a completed or self-terminating job cannot take, ...), the replacing
  properties named in ``replaces``; the plan's lines (task ids, old → new values, reasons) are
  printed for the preview. A replaced job is deleted (and gone) before it is created with the same id.
* ``create``: job with ``onAllTasksComplete: noaction``, tasks in ⌈N/100⌉ concurrent calls, then the
  requested ``onAllTasksComplete``, then the optional completion gate. A failure after the job exists
  ends and deletes it; if even that fails, the next ``pulumi up`` adopts the job when it matches.
* ``read``: the real state, task counts, failed tasks, per-node preparation/release results and the
  updatable properties as the service has them (drift, named in the ``drift`` output); a missing
  job leaves the state.
* ``update``: PATCH only what changed; delete removed and changed tasks, PUT the constraints of
  tasks whose constraints alone changed, add new and changed tasks in ⌈n/100⌉ calls; gate.
* ``delete``: per ``on_destroy``; terminate, wait for release on every node that ran preparation,
  print exit codes, copy preparation/release logs to ``$JobLog/``, delete, wait until gone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

import pulumi
from azure.batch import models as batch_models
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from pulumi_azbatch.conventions import CONTAINER_URL_ENV, job_output_prefix, task_output_prefix
from pulumi_azbatch.model.common import DESCEND, RecentValues, plain_data, strip_query
from pulumi_azbatch.model.job import JobSpec
from pulumi_azbatch.model.outputs import is_job_kind
from pulumi_azbatch.model.pool import container_task_paths
from pulumi_azbatch.model.tasks import JobConstraintsSpec, TaskSpec
from pulumi_azbatch.model.validation import JobSpecError, load_stored_job, parse_job, validate_job

from .base import (
    CONTAINER_REFUSAL_KEY,
    NAME_KEY,
    ProviderBase,
    autoname,
    contains_unknown,
    is_unknown,
    masked_failures,
    public_inputs,
    resource_inputs,
    say,
    trace,
)
from .batch_client import AccountConfigured, BatchAccount, call_with_retry, error_code
from .host import fail_keeping_state, install_cancel_hook
from .job_plan import PATCH_KEYS, REPLACE_KEYS, TASK_KEYS, TaskPlan, plan_job, plan_tasks
from .lifecycle import JobGateError, end_job, enum_text, get_job, job_snapshot, task_counts, wait_for_gate
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
from .runs import effective_spec, library_input, prepare_container
from .submission import delete_tasks, submit_tasks

# The engine's Cancel (first Ctrl-C) ends the completion gate's wait (see host.py).
install_cancel_hook()

#: Inputs of the resource besides the job spec.
ACCOUNT_KEYS = ("batch_account_url", "batch_account_name", "batch_account_key")
#: Spec properties under their input names (``id`` is ``job_id``).
SPEC_INPUT_KEYS: frozenset[str] = frozenset(("job_id" if k == "id" else k) for k in JobSpec.model_fields)
#: The container URL with the tasks' short write SAS (secret), handed to every task when the job has
#: ``file_conventions``; without it the tasks get ``output_container_url``.
TASKS_URL_KEY = "file_conventions_container_url"
#: The library wheel's blob URL with a read SAS (secret), when ``file_conventions.install_library``.
LIBRARY_URL_KEY = "file_conventions_library_url"
#: Set by ``check`` when the library is installed: the wheel's blob name and the dependency mode. A
#: change replaces the job (its preparation task changes); a re-signed URL alone is only recorded.
LIBRARY_KEY = "file_conventions_library"
#: The container URL with a list/read/write/delete SAS (secret) that keeps an earlier run's outputs
#: apart (``previous_outputs``); without it the provider tries ``output_container_url``.
MAINTENANCE_URL_KEY = "maintenance_container_url"
#: Inputs holding a SAS that no message may print.
SECRET_URL_KEYS = ("output_container_url", TASKS_URL_KEY, LIBRARY_URL_KEY, MAINTENANCE_URL_KEY)
INPUT_KEYS: frozenset[str] = (
    SPEC_INPUT_KEYS
    | frozenset(ACCOUNT_KEYS)
    | {NAME_KEY, TASKS_URL_KEY, LIBRARY_URL_KEY, LIBRARY_KEY, MAINTENANCE_URL_KEY}
    | set(OWNER_INPUTS)
)

#: The most tasks listed in the ``task_output_prefixes`` output (state size stays bounded).
MAX_PREFIX_TASKS = 1000
#: Outputs computed by the provider (seeded with None by the resource class).
COMPUTED_KEYS = (
    "url",
    "state",
    "task_counts",
    "failed_tasks",
    "nodes",
    "output_container",
    "task_output_prefixes",
    "task_count",
    "gate_error",
    "drift",
)


# ---- inputs <-> spec ---------------------------------------------------------------------------------


def spec_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``JobSpec`` properties among a resource's inputs (``job_id`` back to ``id``, None dropped)."""
    result: dict[str, Any] = {}
    for key, value in props.items():
        if key in SPEC_INPUT_KEYS and value is not None:
            result["id" if key == "job_id" else key] = value
    return result


#: The specs ``check`` validated in this provider process, by their inputs (see :func:`_parsed`).
_CHECKED: RecentValues[JobSpec] = RecentValues(4)


def _spec_key(raw: Mapping[str, Any]) -> str:
    # The engine hands numbers back as floats (end: 100000.0): the same inputs, the same key.
    return json.dumps(plain_data(raw, _integral), sort_keys=True, separators=(",", ":"), default=str)


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else DESCEND


def _parsed(raw: Mapping[str, Any]) -> JobSpec:
    """``parse_job(raw)``, or the spec ``check`` parsed from these very inputs in this process.

    ``create`` and ``update`` get the inputs ``check`` returned; running every rule over every task
    again (seconds for a 100,000-task sweep) would only repeat what ``check`` found, seconds earlier.
    """
    spec = _CHECKED.get(_spec_key(raw))
    return spec if spec is not None else parse_job(raw)


def _lenient_spec(props: Mapping[str, Any]) -> JobSpec:
    """The spec of stored inputs, structure only: a SAS that has expired since must not block diff/delete."""
    return load_stored_job(spec_inputs(props))


def _to_inputs(spec: JobSpec, rest: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized inputs: the spec in its JSON form without defaults, so olds and news compare equal."""
    dumped = spec.model_dump(mode="json", exclude_defaults=True)
    dumped["job_id"] = dumped.pop("id", spec.id)
    return {**{k: v for k, v in rest.items() if k not in SPEC_INPUT_KEYS}, **dumped}


def task_output_prefixes(spec: JobSpec) -> dict[str, list[str]]:
    """Per task with File Conventions outputs, the blob prefixes it writes (``<taskId>/$TaskOutput``...)."""
    result: dict[str, list[str]] = {}
    for task in spec.expand_tasks():
        prefixes = set()
        for output in task.output_files:
            kind = output.kind or output.custom_kind
            if kind is None:
                continue
            job_level = is_job_kind(kind)
            prefixes.add(job_output_prefix(kind) if job_level else task_output_prefix(task.id, kind))
        if prefixes:
            result[task.id] = sorted(prefixes)
            if len(result) >= MAX_PREFIX_TASKS:
                break
    return result


def _release_timeout(spec: JobSpec) -> timedelta:
    limit = spec.job_release_task.max_wall_clock_time if spec.job_release_task else timedelta(minutes=15)
    return max(limit, timedelta(minutes=15))


# ---- the provider ------------------------------------------------------------------------------------


class JobProvider(AccountConfigured, ProviderBase):
    """The dynamic provider of :class:`Job` (stateless: everything comes from inputs, config, environment)."""

    input_keys = INPUT_KEYS
    replace_keys = REPLACE_KEYS

    # -- check --------------------------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        inputs = dict(news)
        inputs["job_id"] = autoname(olds, news, "job_id", NAME_KEY, "job")
        inputs = with_nonce(olds, inputs)
        # Before any early return: a preview with unknown inputs must not look like another library.
        inputs.pop(LIBRARY_KEY, None)
        library = library_input(inputs.get("file_conventions"))
        if library is not None:
            inputs[LIBRARY_KEY] = library
        raw = spec_inputs(inputs)
        # One validation: without unknowns it is the parse create needs (the rules expand every task).
        spec: JobSpec | None = None
        if contains_unknown(raw):
            found = validate_job(raw)
        else:
            try:
                spec, found = parse_job(raw), []
            except JobSpecError as exc:
                found = exc.failures
        failures = [CheckFailure("job_id" if f.property == "id" else f.property, f.reason) for f in found]
        refusal = inputs.get(CONTAINER_REFUSAL_KEY)
        if refusal and not is_unknown(refusal):
            # A container task on a pool (or backend) that cannot run it: refused at preview, not at up.
            failures.extend(CheckFailure(path, str(refusal)) for path in container_task_paths(raw))
        clash = reserved_keys_used(inputs.get("metadata"))
        if clash and not contains_unknown(inputs.get("metadata")):
            failures.append(CheckFailure("metadata", f"{', '.join(clash)}: reserved for the ownership mark"))
        for key in ("batch_account_url", "batch_account_name"):
            value = inputs.get(key)
            if not value and not (getattr(self, "_config", None) or {}).get(key):
                import os

                from .batch_client import NAME_ENV, URL_ENV

                if not os.environ.get(URL_ENV if key.endswith("url") else NAME_ENV):
                    failures.append(
                        CheckFailure(key, f"{key} is required (input, provider config or environment)")
                    )
        if failures or contains_unknown(inputs) or spec is None:
            return CheckResult(inputs, _masked(failures, inputs))
        if inputs.get(LIBRARY_KEY) and not inputs.get(LIBRARY_URL_KEY):
            reason = (
                f"install_library needs the wheel's URL with a read SAS ({LIBRARY_URL_KEY}); BatchJob "
                "signs it when its output is an OutputStorage"
            )
            return CheckResult(inputs, [CheckFailure("file_conventions", reason)])
        if not olds:
            # A new resource: refuse a job of the same id that is not this resource's now, at preview,
            # rather than at create (a single cheap GET; any error leaves the decision to create).
            problem = self._foreign_job(inputs, spec.effective_id())
            if problem:
                return CheckResult(inputs, [CheckFailure("job_id", problem)])
        checked = _to_inputs(spec, inputs)
        _CHECKED.put(_spec_key(spec_inputs(checked)), spec)
        return CheckResult(checked, [])

    def _foreign_job(self, inputs: Mapping[str, Any], job_id: str) -> str | None:
        """The refusal when job ``job_id`` exists and is neither this resource's nor to be adopted."""
        mark = mark_of_inputs(inputs)
        if mark is None:
            return None
        try:
            job = get_job(self._account(inputs).client(), job_id)
        except Exception:  # noqa: BLE001 - unreachable or unauthorized: create decides (and reports) later
            return None
        if job is None:
            return None
        found = mark_of_object(job)
        if verdict(found, mark) is not Verdict.FOREIGN:
            return None
        if inputs.get(ADOPT_INPUT):
            say(f"warning: job {job_id} exists and belongs to {owner_text(found)}; adopt: true takes it over")
            return None
        return refusal("job", job_id, found, mark)

    # -- diff ---------------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        changed = [k for k in INPUT_KEYS if contains_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        if not changed:
            live = self._live_drift(_id, olds)
            if live is None:
                return DiffResult(changes=False, replaces=[], delete_before_replace=True)
            return DiffResult(changes=True, replaces=live, delete_before_replace=True)
        plan = plan_job(olds, news, changed, _lenient_spec, unknown=contains_unknown)
        # The engine's own property diff cannot say which tasks move or why a job is replaced: the
        # plan's lines do (shown by `pulumi preview` and `up`, with or without --diff).
        for line in plan.lines():
            say(line)
        return DiffResult(changes=True, replaces=sorted(plan.replaces), delete_before_replace=True)

    def _live_drift(self, job_id: str, olds: Mapping[str, Any]) -> list[str] | None:
        """What `up` must do about changes made outside Pulumi (None: nothing; else the replaced keys).

        A job deleted outside Pulumi is created again (a replacement); an active job that lost some of
        its declared tasks gets them back (an update). Two cheap calls; unreachable means "nothing".
        """
        try:
            client = self._account(olds).client()
            job = get_job(client, job_id)
            if job is None:
                say(f"job {job_id} no longer exists (deleted outside Pulumi); `pulumi up` creates it again")
                return ["job_id"]
            if enum_text(job.state) != "active" or not isinstance(olds.get("task_count"), int):
                return None
            counts = task_counts(client, job_id)
        except Exception:  # noqa: BLE001 - the update itself reports an unreachable service
            return None
        if counts["active"] + counts["running"] + counts["completed"] < olds["task_count"]:
            return []
        return None

    # -- create -------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        spec = _parsed(spec_inputs(props))
        account = self._account(props)
        client = account.client()
        job_id = spec.effective_id()
        created = self._create_or_adopt(
            client,
            effective_spec(spec, props.get(LIBRARY_URL_KEY)),
            job_id,
            mark_of_inputs(props),
            bool(props.get(ADOPT_INPUT)),
        )
        # Before the first task: the library wheel goes up and, for a new run of this job id (not an
        # interrupted create being resumed), the earlier run's outputs go aside. A new job has no task
        # yet, so if that fails it is deleted again and nothing is left behind.
        try:
            prepare_container(
                spec, props.get(MAINTENANCE_URL_KEY), props.get(LIBRARY_URL_KEY), new_run=created
            )
        except Exception:
            if created:
                end_job(
                    client,
                    job_id,
                    mode="delete",
                    output_container_url=None,
                    release_timeout=_release_timeout(spec),
                )
            raise
        # From here on the job exists: whatever fails, it stays in the state with what it has done
        # (the engine's partial-failure answer), so the next `up` resumes instead of starting over.
        try:
            self._add_tasks(client, spec, job_id, spec.expand_tasks(), props)
            if spec.on_all_tasks_complete != "noaction":
                call_with_retry(
                    lambda: client.update_job(job_id, spec.to_batch_job_update(["on_all_tasks_complete"]))
                )
            self._gate(client, spec, job_id)
        except Exception as exc:  # noqa: BLE001 - reported as the deployment's error, the job kept
            self._fail_keeping_job(account, client, spec, props, job_id, exc)
        return CreateResult(id_=job_id, outs=self._outputs(account, client, spec, props))

    def _gate(self, client: Any, spec: JobSpec, job_id: str) -> None:
        wait_for_gate(
            client,
            job_id,
            wait_for=spec.wait_for,
            timeout=spec.wait_timeout,
            expected_tasks=spec.task_count(),
            fail_on_task_failure=spec.fail_on_task_failure,
            has_preparation=spec.job_preparation_task is not None,
        )

    def _fail_keeping_job(
        self,
        account: BatchAccount,
        client: Any,
        spec: JobSpec,
        props: Mapping[str, Any],
        job_id: str,
        exc: Exception,
    ) -> None:
        """Fail the create/update with ``exc`` but keep the job, its tasks and their history in the state."""
        message = str(exc) if isinstance(exc, JobGateError) else f"job {job_id}: {type(exc).__name__}: {exc}"
        try:
            outs = self._outputs(account, client, spec, props)
        except Exception:  # noqa: BLE001 - the service is unreachable: keep what the inputs say
            outs = {**public_inputs(props), "job_id": job_id, "state": "unknown"}
        outs["gate_error"] = message
        say(f"job {job_id}: kept in the stack with its finished tasks; `pulumi up` again resumes it")
        fail_keeping_state(message, job_id, outs)

    def _create_or_adopt(
        self, client: Any, spec: JobSpec, job_id: str, mark: Mark | None, adopt: bool
    ) -> bool:
        """Create the job (marked as this resource's); or adopt the existing one when it is this resource's.

        A job of the same id that carries another owner's mark (or none) is refused unless ``adopt``.
        Returns True when the job was created, False when an existing one was adopted.
        """
        from azure.core.exceptions import ResourceExistsError

        try:
            call_with_retry(lambda: client.create_job(_marked(spec, mark).to_batch_job_create(job_id=job_id)))
            say(f"job {job_id}: created on pool {spec.pool_id}")
            return True
        except ResourceExistsError as exc:
            if error_code(exc) not in (None, "JobExists"):
                raise
        job = get_job(client, job_id)
        if job is None:
            raise RuntimeError(
                f"job {job_id} was reported to exist but has disappeared; run `pulumi up` again"
            )
        found = mark_of_object(job)
        judged = verdict(found, mark) if mark is not None else Verdict.FOREIGN
        if judged is Verdict.FOREIGN and not adopt:
            raise RuntimeError(
                refusal("job", job_id, found, mark) if mark else f"job {job_id} already exists"
            )
        problems = []
        state = enum_text(job.state)
        if state != "active":
            problems.append(f"it is {state}")
        if (job.pool_info.pool_id if job.pool_info else None) != spec.pool_id:
            problems.append("it runs on another pool")
        for name, have, want in (
            ("preparation", job.job_preparation_task, spec.job_preparation_task),
            ("release", job.job_release_task, spec.job_release_task),
        ):
            if (have.command_line if have else None) != (want.command_line if want else None):
                problems.append(f"its job {name} task differs")
        if problems:
            raise RuntimeError(
                f"job {job_id} already exists and cannot be adopted: {'; '.join(problems)}. Delete it "
                "(or choose another job_id) and run `pulumi up` again"
            )
        if judged is Verdict.FOREIGN:
            say(
                f"warning: job {job_id}: taking it over from {owner_text(found)} (adopt: true); it is now this stack's"
            )
        else:
            say(f"job {job_id}: already exists and matches (left by an interrupted deployment); adopting it")
        if judged is not Verdict.OURS:
            call_with_retry(
                lambda: client.update_job(job_id, _marked(spec, mark).to_batch_job_update(["metadata"]))
            )
        return False

    def _add_tasks(
        self, client: Any, spec: JobSpec, job_id: str, tasks: list[TaskSpec], props: Mapping[str, Any]
    ) -> None:
        if not tasks:
            return
        tasks_url = props.get(TASKS_URL_KEY) or spec.output_container_url
        with_url = spec.file_conventions is not None and bool(tasks_url)

        def to_sdk(task: TaskSpec) -> batch_models.BatchTaskCreateOptions:
            create = task.to_batch_task_create(output_container_url=spec.output_container_url, job_id=job_id)
            if with_url:
                # Per task, not in the job's common environment: a re-signed SAS then reaches the tasks
                # added after it without replacing the job.
                settings = [s for s in create.environment_settings or [] if s.name != CONTAINER_URL_ENV]
                settings.append(batch_models.EnvironmentSetting(name=CONTAINER_URL_ENV, value=tasks_url))
                create.environment_settings = settings
            return create

        # Whether File Conventions outputs resolve depends on the job (its container URL), not on the
        # task: one such task converted now fails the submission before any task is added.
        probe = next((t for t in tasks if any(o.by_convention for o in t.output_files)), None)
        if probe is not None:
            to_sdk(probe)
        say(f"job {job_id}: adding {len(tasks)} task(s) in {-(-len(tasks) // 100)} call(s)")
        report = submit_tasks(client, job_id, tasks, to_sdk=to_sdk)
        if report.failures:
            shown = "\n".join(f"  {f}" for f in report.failures[:20])
            more = f"\n  ... and {len(report.failures) - 20} more" if len(report.failures) > 20 else ""
            raise RuntimeError(
                f"job {job_id}: {len(report.failures)} task(s) could not be added:\n{shown}{more}"
            )
        if report.existing:
            say(f"job {job_id}: {len(report.existing)} task(s) already existed with the same definition")

    # -- read ---------------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        account = self._account(props)
        client = account.client()
        job = get_job(client, id_)
        if job is None or enum_text(job.state) == "deleting":
            say(
                f"warning: job {id_} no longer exists (deleted outside Pulumi); removed from the stack, the "
                "next `pulumi up` creates it again"
            )
            return ReadResult(id_="", outs={})
        mark = mark_of_inputs(props)
        found = mark_of_object(job)
        if mark is not None and verdict(found, mark) is not Verdict.OURS:
            say(
                f"warning: job {id_} now belongs to {owner_text(found)}, not to this resource; removed from "
                "the stack (nothing deleted)"
            )
            return ReadResult(id_="", outs={})
        reason = job.execution_info.termination_reason if job.execution_info else None
        if (
            enum_text(job.state) == "completed"
            and reason
            and reason != "AllTasksComplete"
            and props.get("state") not in ("completed", "terminating")
        ):
            say(
                f"warning: job {id_} was terminated outside Pulumi ({reason}); its finished tasks are kept, "
                "`pulumi up` changes nothing on it (a completed job takes no new tasks or settings); "
                "`pulumi up --replace <urn>` runs it again"
            )
        inputs = {**public_inputs(props), "job_id": props.get("job_id") or id_}
        drift = _drift(inputs, job)
        # `drift` names the properties whose stored value is now the service's, so the next preview
        # can say that `up` reverts them.
        outs = {**inputs, **drift, "drift": sorted(drift)}
        try:
            spec = _lenient_spec(outs)
        except Exception:  # noqa: BLE001 - state written by another version: show what we can
            spec = None
        outs.update(self._computed(account, client, id_, spec, job))
        return ReadResult(id_=id_, outs=outs)

    # -- update -------------------------------------------------------------------------------------

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        spec = _parsed(spec_inputs(news))
        old_spec = _lenient_spec(olds)
        account = self._account(news)
        client = account.client()
        job = get_job(client, id_)
        state = enum_text(job.state) if job else "deleted"
        fields = [k for k in PATCH_KEYS if olds.get(k) != news.get(k)]
        if olds.get("pool_id") != news.get("pool_id"):
            fields.append("pool_id")  # only reached while the job is disabled (diff replaces otherwise)
        if any(olds.get(k) != news.get(k) for k in OWNER_INPUTS) and "metadata" not in fields:
            fields.append("metadata")  # the stack was renamed: the mark follows
        if fields and state in ("completed", "terminating"):
            # The service answers JobCompleted to every PATCH of a completed job: keep the new values in
            # the state (nothing left to apply them to) instead of failing every `up`.
            say(
                f"warning: job {id_} is {state}; {', '.join(sorted(fields))} cannot change on it any more "
                "and are recorded only"
            )
            fields = []
        if fields:
            say(f"job {id_}: updating {', '.join(sorted(fields))}")
            marked = _marked(spec, mark_of_inputs(news))
            call_with_retry(lambda: client.update_job(id_, marked.to_batch_job_update(fields)))
        try:
            tasks = plan_tasks(old_spec, spec) if _tasks_changed(olds, news) else TaskPlan()
            missing = self._missing_tasks(client, id_, spec) if state == "active" else set()
            submitted = self._apply_task_plan(client, spec, id_, tasks, news, missing)
            if (
                olds.get("on_all_tasks_complete") != news.get("on_all_tasks_complete")
                and spec.on_all_tasks_complete != "noaction"
                and state == "active"
            ):
                call_with_retry(
                    lambda: client.update_job(id_, spec.to_batch_job_update(["on_all_tasks_complete"]))
                )
            if submitted or olds.get("gate_error"):
                self._gate(client, spec, id_)
        except Exception as exc:  # noqa: BLE001 - reported as the deployment's error, the job kept
            self._fail_keeping_job(account, client, spec, news, id_, exc)
        return UpdateResult(outs=self._outputs(account, client, spec, news))

    def _missing_tasks(self, client: Any, job_id: str, spec: JobSpec) -> set[str]:
        """Declared tasks the job no longer has (deleted outside Pulumi); one count call when none is missing."""
        counts = task_counts(client, job_id)
        if counts["active"] + counts["running"] + counts["completed"] >= spec.task_count():
            return set()
        have = {t.id.lower() for t in call_with_retry(lambda: list(client.list_tasks(job_id, select=["id"])))}
        missing = {t.id.lower() for t in spec.expand_tasks()} - have
        if missing:
            say(
                f"job {job_id}: {len(missing)} declared task(s) are missing (deleted outside Pulumi); adding them again"
            )
        return missing

    def _apply_task_plan(
        self,
        client: Any,
        spec: JobSpec,
        job_id: str,
        plan: TaskPlan,
        props: Mapping[str, Any],
        missing: set[str],
    ) -> int:
        """Touch only the tasks that changed: delete removed and changed ones, update constraints in
        place, add new, changed and missing ones (with their ids) in ⌈n/100⌉ add-collection calls.
        Returns how many tasks were submitted."""
        by_id = {t.id.lower(): t for t in spec.expand_tasks()}
        submit = [t.lower() for t in plan.submitted]
        submit += sorted(t for t in missing if t in by_id and t not in set(submit))
        if not plan and not submit:
            return 0
        if plan:
            say(f"job {job_id}: tasks: {plan.describe()}")
        gone = [*plan.removed, *plan.readded]
        if gone:
            # Deleting a running task stops it (Batch ends its process) and removes its files on the node.
            failures = delete_tasks(client, job_id, gone)
            if failures:
                shown = "\n".join(f"  {f}" for f in failures[:20])
                raise RuntimeError(f"job {job_id}: {len(failures)} task(s) could not be deleted:\n{shown}")
        for task_id in plan.updated:
            constraints = by_id[task_id.lower()].constraints
            body = batch_models.BatchTask(
                constraints=constraints.to_sdk() if constraints else batch_models.BatchTaskConstraints()
            )
            call_with_retry(functools.partial(client.replace_task, job_id, task_id, body))
        if submit:
            self._add_tasks(client, spec, job_id, [by_id[t] for t in submit], props)
        return len(submit)

    # -- delete -------------------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        try:
            spec: JobSpec | None = _lenient_spec(props)
        except Exception:  # noqa: BLE001 - never let an old state block a destroy
            spec = None
        mode = spec.on_destroy if spec else "terminate_then_delete"
        client = self._account(props).client()
        mark = mark_of_inputs(props)
        job = get_job(client, id_) if mark is not None else None
        if job is not None and mark is not None:
            found = mark_of_object(job)
            if verdict(found, mark) is not Verdict.OURS:
                say(foreign_left_alone("job", id_, found, mark))
                return
        end_job(
            client,
            id_,
            mode=mode,
            output_container_url=spec.output_container_url if spec else None,
            release_timeout=_release_timeout(spec) if spec else timedelta(minutes=15),
        )

    # -- outputs ------------------------------------------------------------------------------------

    def _computed(
        self, account: BatchAccount, client: Any, job_id: str, spec: JobSpec | None, job: Any = None
    ) -> dict[str, Any]:
        snapshot = job_snapshot(client, job_id, job)
        return {
            "url": account.job_url(job_id),
            "output_container": strip_query(spec.output_container_url)
            if spec and spec.output_container_url
            else None,
            "task_output_prefixes": task_output_prefixes(spec) if spec else {},
            "task_count": spec.task_count() if spec else None,
            **snapshot,
        }

    def _outputs(
        self, account: BatchAccount, client: Any, spec: JobSpec, props: Mapping[str, Any]
    ) -> dict[str, Any]:
        job_id = spec.effective_id()
        computed = self._computed(account, client, job_id, spec)
        return {**public_inputs(props), "job_id": job_id, **computed, "drift": []}


def _tasks_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return any(olds.get(k) != news.get(k) for k in TASK_KEYS)


def _marked(spec: JobSpec, mark: Mark | None) -> JobSpec:
    """The spec whose metadata carries this resource's ownership mark (sent to the service, never diffed)."""
    return spec.model_copy(update={"metadata": with_mark(spec.metadata, mark)})


def _masked(failures: list[CheckFailure], inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """Failures that do not print the account key, the container SAS or any value holding a SAS."""
    return masked_failures(failures, inputs, ("batch_account_key", *SECRET_URL_KEYS))


def _drift(inputs: Mapping[str, Any], job: Any) -> dict[str, Any]:
    """The updatable properties whose real value differs from the stored one, in the input shape."""
    changes: dict[str, Any] = {}
    want = {"priority": 0, "max_parallel_tasks": -1, "allow_task_preemption": False}
    for key, default in want.items():
        real = getattr(job, key)
        if real is not None and real != (inputs.get(key) if inputs.get(key) is not None else default):
            changes[key] = real
    real_meta = user_metadata({m.name: m.value for m in job.metadata or []})
    if real_meta != (inputs.get("metadata") or {}):
        changes["metadata"] = real_meta
    real_mode = enum_text(job.all_tasks_complete_mode) or "noaction"
    if real_mode != (inputs.get("on_all_tasks_complete") or "noaction"):
        changes["on_all_tasks_complete"] = real_mode
    real_pool = job.pool_info.pool_id if job.pool_info else None
    if real_pool and real_pool != inputs.get("pool_id"):
        changes["pool_id"] = real_pool
    stored = JobConstraintsSpec.model_validate(inputs.get("constraints") or {})
    real_retry = job.constraints.max_task_retry_count if job.constraints else 0
    real_clock = job.constraints.max_wall_clock_time if job.constraints else None
    if real_clock is not None and real_clock >= timedelta(days=10000):
        real_clock = None  # the service's "unlimited" (TimeSpan.MaxValue)
    if (real_retry or 0) != stored.max_task_retry_count or real_clock != stored.max_wall_clock_time:
        fixed = JobConstraintsSpec(max_wall_clock_time=real_clock, max_task_retry_count=real_retry or 0)
        changes["constraints"] = fixed.model_dump(mode="json", exclude_defaults=True)
    return changes


# ---- the resource ------------------------------------------------------------------------------------


#: The job properties that may carry a SAS (a URL with ``sig=``): stored as secrets when one does.
SAS_BEARING_KEYS = (
    "tasks",
    "task_factories",
    "job_preparation_task",
    "job_release_task",
    "common_environment_settings",
    "metadata",
)


class Job(Resource, module="azbatch", name="Job"):
    """An Azure Batch job managed by Pulumi: preparation and release tasks, tasks, outputs, lifecycle.

    ``spec`` is a :class:`~pulumi_azbatch.spec.JobSpec` or a mapping with its properties (values may
    be Pulumi Outputs, e.g. ``pool_id=pool.id``); keyword ``overrides`` replace single properties.
    The account is ``batch_account_url`` + ``batch_account_name`` (inputs, else provider config
    ``azbatch:batchAccountUrl`` / ``azbatch:batchAccountName``, else ``AZURE_BATCH_ENDPOINT`` /
    ``AZURE_BATCH_ACCOUNT``); the key is ``batch_account_key`` (stored as a secret), else
    ``AZURE_BATCH_ACCESS_KEY`` at call time, else Microsoft Entra ID (``DefaultAzureCredential``).
    ``output_container_url`` (the job's File Conventions container with a write SAS) is stored as a
    secret; any task property holding a SAS is too. ``container_refusal`` (set by ``BatchJob`` from
    its pool) makes preview refuse every task with ``container_settings``, naming it.
    """

    job_id: pulumi.Output[str]
    """The Batch job id (the resource's id too); autonamed ``<resource name>-<random>`` when not set."""
    pool_id: pulumi.Output[str]
    """The pool the job runs on."""
    url: pulumi.Output[str]
    """The job's REST URL."""
    state: pulumi.Output[str]
    """The job's state when last created, updated or refreshed (``active``, ``completed``...)."""
    task_counts: pulumi.Output[dict[str, int]]
    """``active``, ``running``, ``completed``, ``succeeded``, ``failed`` task counts."""
    task_count: pulumi.Output[int]
    """How many tasks the spec declares (factories expanded)."""
    failed_tasks: pulumi.Output[list[dict[str, Any]]]
    """Up to 20 failed tasks: ``id``, ``exit_code``, ``failure_info``, ``node_id``."""
    nodes: pulumi.Output[list[dict[str, Any]]]
    """Per node that ran the preparation task: ``node_id``, ``preparation`` and ``release`` results."""
    output_container: pulumi.Output[str | None]
    """The output container URL without its SAS."""
    task_output_prefixes: pulumi.Output[dict[str, list[str]]]
    """Per task with File Conventions outputs (first 1000), its blob prefixes (``task-1/$TaskOutput``)."""

    def __init__(
        self,
        resource_name: str,
        spec: JobSpec | Mapping[str, Any],
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
        maintenance_container_url: pulumi.Input[str] | None = None,
        **overrides: Any,
    ) -> None:
        props, merged_opts = resource_inputs(
            resource_name,
            spec,
            overrides,
            model=JobSpec,
            kind="job",
            type_token="azbatch:Job",
            id_key="job_id",
            sas_keys=SAS_BEARING_KEYS,
            secret_properties=secret_properties,
            account=(batch_account_url, batch_account_name, batch_account_key),
            adopt=adopt,
            computed_keys=COMPUTED_KEYS,
            secret_inputs={
                TASKS_URL_KEY: file_conventions_container_url,
                LIBRARY_URL_KEY: file_conventions_library_url,
                MAINTENANCE_URL_KEY: maintenance_container_url,
            },
            extra_inputs={CONTAINER_REFUSAL_KEY: container_refusal},
            opts=opts,
        )
        super().__init__(JobProvider(), resource_name, props, merged_opts)
        if adopt:
            announce_adoption(self, "job", resource_name)
