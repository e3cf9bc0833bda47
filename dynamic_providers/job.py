"""The Job dynamic resource: a whole Azure Batch job (preparation and release tasks, tasks, outputs) in git.

The job is described by the one job model, :class:`pulumi_azbatch.model.JobSpec`; its properties are
the resource's inputs (flat, snake_case; the job id is the ``job_id`` input because ``id`` is Pulumi's
own), beside the account (``batch_account_url``, ``batch_account_name``, ``batch_account_key``).

Lifecycle (see the README section ``docs/job-resource.md``):

* ``check``: every rule of the model, each failure naming its property; unknowns tolerated; the id
  is autonamed ``<resource name>-<random>`` once and kept.
* ``diff``: update in place (priority, max_parallel_tasks, allow_task_preemption, constraints,
  metadata, on_all_tasks_complete noaction -> terminatejob, tasks added, provider knobs) or replace
  (preparation/release task, common environment, a changed or removed task, the pool unless the job
  is disabled, ...), the replacing properties named in ``replaces``; the job is deleted (and gone)
  before its replacement is created with the same id.
* ``create``: job with ``onAllTasksComplete: noaction``, tasks in ⌈N/100⌉ concurrent calls, then the
  requested ``onAllTasksComplete``, then the optional completion gate. A failure after the job exists
  ends and deletes it; if even that fails, the next ``pulumi up`` adopts the job when it matches.
* ``read``: the real state, task counts, failed tasks, per-node preparation/release results and the
  updatable properties as the service has them (drift); a missing job leaves the state.
* ``update``: PATCH only what changed, add the new tasks, gate.
* ``delete``: per ``on_destroy``; terminate, wait for release on every node that ran preparation,
  print exit codes, copy preparation/release logs to ``$JobLog/``, delete, wait until gone.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)
from pydantic import BaseModel

from pulumi_azbatch.conventions import job_output_prefix, task_output_prefix
from pulumi_azbatch.model.canonical import canonical_task
from pulumi_azbatch.model.common import DESCEND, plain_data, strip_query
from pulumi_azbatch.model.job import JOB_FIELDS_PATCHED, JobSpec, make_job_id
from pulumi_azbatch.model.outputs import is_job_kind
from pulumi_azbatch.model.pool import container_task_paths
from pulumi_azbatch.model.tasks import JobConstraintsSpec, TaskSpec
from pulumi_azbatch.model.validation import JobSpecError, load_stored_job, parse_job, validate_job

from .base import ProviderBase, contains_unknown, is_unknown, public_inputs, say, trace
from .batch_client import BatchAccount, call_with_retry, error_code, resolve_account
from .lifecycle import end_job, enum_text, get_job, job_snapshot, wait_for_gate
from .submission import submit_tasks

#: Inputs of the resource besides the job spec.
ACCOUNT_KEYS = ("batch_account_url", "batch_account_name", "batch_account_key")
#: The resource name, used once to autoname the job id.
NAME_KEY = "name_prefix"
#: Why the job's pool cannot run container tasks (set by BatchJob from its pool; None when it can).
CONTAINER_REFUSAL_KEY = "container_refusal"
#: Spec properties under their input names (``id`` is ``job_id``).
SPEC_INPUT_KEYS: frozenset[str] = frozenset(("job_id" if k == "id" else k) for k in JobSpec.model_fields)
INPUT_KEYS: frozenset[str] = SPEC_INPUT_KEYS | frozenset(ACCOUNT_KEYS) | {NAME_KEY}

#: Changing any of these needs a new job (the service has no way to change them on an existing job).
REPLACE_KEYS = frozenset(
    {
        "job_id",
        "batch_account_url",
        "batch_account_name",
        "display_name",
        "uses_task_dependencies",
        "common_environment_settings",
        "job_preparation_task",
        "job_release_task",
        "on_task_failure",
    }
)
#: Changed with a PATCH of the job (the model's list; ``pool_id`` and ``on_all_tasks_complete`` are
#: updatable too, but only after the checks in ``diff``/``update``).
PATCH_KEYS = JOB_FIELDS_PATCHED
#: Only the provider reads these (waits, deletion, validation, credentials): no call to the service.
PROVIDER_KEYS = frozenset(
    {
        "on_destroy",
        "wait_for",
        "wait_timeout",
        "fail_on_task_failure",
        "node_os",
        "batch_account_key",
        "output_container_url",
        NAME_KEY,
    }
)
TASK_KEYS = frozenset({"tasks", "task_factories"})
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
)


# ---- inputs <-> spec ---------------------------------------------------------------------------------


def spec_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The ``JobSpec`` properties among a resource's inputs (``job_id`` back to ``id``, None dropped)."""
    result: dict[str, Any] = {}
    for key, value in props.items():
        if key in SPEC_INPUT_KEYS and value is not None:
            result["id" if key == "job_id" else key] = value
    return result


def _lenient_spec(props: Mapping[str, Any]) -> JobSpec:
    """The spec of stored inputs, structure only: a SAS that has expired since must not block diff/delete."""
    return load_stored_job(spec_inputs(props))


def _to_inputs(spec: JobSpec, rest: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized inputs: the spec in its JSON form without defaults, so olds and news compare equal."""
    dumped = spec.model_dump(mode="json", exclude_defaults=True)
    dumped["job_id"] = dumped.pop("id", spec.id)
    return {**{k: v for k, v in rest.items() if k not in SPEC_INPUT_KEYS}, **dumped}


def _task_index(spec: JobSpec) -> dict[str, dict[str, Any]]:
    return {t.id.lower(): canonical_task(t) for t in spec.expand_tasks()}


def task_changes(old: JobSpec, new: JobSpec) -> tuple[list[str], list[str], list[str]]:
    """(added, changed, removed) task ids between two specs (factories expanded, SAS ignored)."""
    before, after = _task_index(old), _task_index(new)
    added = [k for k in after if k not in before]
    changed = [k for k in after if k in before and before[k] != after[k]]
    removed = [k for k in before if k not in after]
    return added, changed, removed


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


class JobProvider(ProviderBase):
    """The dynamic provider of :class:`Job` (stateless: everything comes from inputs, config, environment)."""

    input_keys = INPUT_KEYS
    replace_keys = REPLACE_KEYS

    def configure(self, req: ConfigureRequest) -> None:
        # Namespaced stack config (azbatch:batchAccountUrl / batchAccountName) as a fallback for inputs.
        self._config = {
            "batch_account_url": req.config.get("azbatch:batchAccountUrl"),
            "batch_account_name": req.config.get("azbatch:batchAccountName"),
        }

    def _account(self, props: Mapping[str, Any]) -> BatchAccount:
        return resolve_account(props, getattr(self, "_config", None))

    # -- check --------------------------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        inputs = dict(news)
        if not inputs.get("job_id"):
            # Autoname once: keep the id chosen by an earlier check (stored with the old inputs).
            old_id = olds.get("job_id")
            prefix = news.get(NAME_KEY) or "job"
            inputs["job_id"] = (
                old_id
                if old_id and not is_unknown(prefix)
                else make_job_id(str(prefix), secrets.token_hex(4)[:7])
            )
        raw = spec_inputs(inputs)
        failures = [
            CheckFailure("job_id" if f.property == "id" else f.property, f.reason) for f in validate_job(raw)
        ]
        refusal = inputs.get(CONTAINER_REFUSAL_KEY)
        if refusal and not is_unknown(refusal):
            # A container task on a pool (or backend) that cannot run it: refused at preview, not at up.
            failures.extend(CheckFailure(path, str(refusal)) for path in container_task_paths(raw))
        for key in ("batch_account_url", "batch_account_name"):
            value = inputs.get(key)
            if not value and not (getattr(self, "_config", None) or {}).get(key):
                import os

                from .batch_client import NAME_ENV, URL_ENV

                if not os.environ.get(URL_ENV if key.endswith("url") else NAME_ENV):
                    failures.append(
                        CheckFailure(key, f"{key} is required (input, provider config or environment)")
                    )
        if failures or contains_unknown(inputs):
            return CheckResult(inputs, _masked(failures, inputs))
        try:
            spec = parse_job(raw)
        except JobSpecError as exc:
            return CheckResult(
                inputs,
                _masked(
                    [
                        CheckFailure("job_id" if f.property == "id" else f.property, f.reason)
                        for f in exc.failures
                    ],
                    inputs,
                ),
            )
        return CheckResult(_to_inputs(spec, inputs), [])

    # -- diff ---------------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        changed = [k for k in INPUT_KEYS if contains_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        if not changed:
            return DiffResult(changes=False, replaces=[], delete_before_replace=True)
        replaces = sorted(k for k in changed if k in REPLACE_KEYS)
        state = olds.get("state")
        if "pool_id" in changed and state != "disabled":
            replaces.append("pool_id")  # the service changes the pool only while the job is disabled
        old_mode, new_mode = (
            olds.get("on_all_tasks_complete") or "noaction",
            news.get("on_all_tasks_complete"),
        )
        if (
            "on_all_tasks_complete" in changed
            and (new_mode or "noaction") == "noaction"
            and old_mode != "noaction"
        ):
            replaces.append("on_all_tasks_complete")  # the service rejects terminatejob -> noaction
        task_keys = [k for k in changed if k in TASK_KEYS]
        if task_keys and not contains_unknown({k: news.get(k) for k in TASK_KEYS}):
            try:
                added, modified, removed = task_changes(_lenient_spec(olds), _lenient_spec(news))
            except Exception:  # noqa: BLE001 - an unreadable old spec: be safe, replace
                added, modified, removed = [], ["?"], []
            if modified or removed:
                replaces.extend(task_keys)
            elif added and state in ("completed", "terminating"):
                replaces.extend(task_keys)  # a completed job takes no new tasks
        return DiffResult(changes=True, replaces=sorted(set(replaces)), delete_before_replace=True)

    # -- create -------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        spec = parse_job(spec_inputs(props))
        account = self._account(props)
        client = account.client()
        job_id = spec.effective_id()
        adopted = self._create_or_adopt(client, spec, job_id)
        try:
            self._add_tasks(client, spec, job_id, spec.expand_tasks())
            if spec.on_all_tasks_complete != "noaction":
                call_with_retry(
                    lambda: client.update_job(job_id, spec.to_batch_job_update(["on_all_tasks_complete"]))
                )
            wait_for_gate(
                client,
                job_id,
                wait_for=spec.wait_for,
                timeout=spec.wait_timeout,
                expected_tasks=spec.task_count(),
                fail_on_task_failure=spec.fail_on_task_failure,
            )
        except BaseException as exc:
            self._clean_up_failed_create(client, spec, job_id, adopted, exc)
            raise
        return CreateResult(id_=job_id, outs=self._outputs(account, client, spec, props))

    def _create_or_adopt(self, client: Any, spec: JobSpec, job_id: str) -> bool:
        """Create the job; adopt an existing one with the same id when it is this job (True)."""
        from azure.core.exceptions import ResourceExistsError

        try:
            call_with_retry(lambda: client.create_job(spec.to_batch_job_create(job_id=job_id)))
            say(f"job {job_id}: created on pool {spec.pool_id}")
            return False
        except ResourceExistsError as exc:
            if error_code(exc) not in (None, "JobExists"):
                raise
        job = get_job(client, job_id)
        problems = [] if job is not None else ["it disappeared"]
        if job is not None:
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
        say(f"job {job_id}: already exists and matches (left by an interrupted deployment); adopting it")
        return True

    def _add_tasks(self, client: Any, spec: JobSpec, job_id: str, tasks: list[TaskSpec]) -> None:
        if not tasks:
            return
        creates = [
            t.to_batch_task_create(output_container_url=spec.output_container_url, job_id=job_id)
            for t in tasks
        ]
        say(f"job {job_id}: adding {len(creates)} task(s) in {-(-len(creates) // 100)} call(s)")
        report = submit_tasks(client, job_id, creates)
        if report.failures:
            shown = "\n".join(f"  {f}" for f in report.failures[:20])
            more = f"\n  ... and {len(report.failures) - 20} more" if len(report.failures) > 20 else ""
            raise RuntimeError(
                f"job {job_id}: {len(report.failures)} task(s) could not be added:\n{shown}{more}"
            )
        if report.existing:
            say(f"job {job_id}: {len(report.existing)} task(s) already existed with the same definition")

    def _clean_up_failed_create(
        self, client: Any, spec: JobSpec, job_id: str, adopted: bool, exc: BaseException
    ) -> None:
        """Never orphan a job: end and delete it; if that fails too, the next up adopts it."""
        say(
            f"job {job_id}: creation failed ({type(exc).__name__}); ending and deleting the job so that "
            "nothing is left behind"
        )
        try:
            end_job(
                client,
                job_id,
                mode="terminate_then_delete",
                output_container_url=spec.output_container_url,
                release_timeout=_release_timeout(spec),
            )
        except Exception as cleanup_error:  # noqa: BLE001 - report the original failure
            say(
                f"job {job_id}: could not delete it ({cleanup_error}); the next `pulumi up` adopts it if it "
                "still matches, or delete it by hand"
            )

    # -- read ---------------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        account = self._account(props)
        client = account.client()
        job = get_job(client, id_)
        if job is None or enum_text(job.state) == "deleting":
            return ReadResult(id_="", outs={})
        inputs = {**public_inputs(props), "job_id": props.get("job_id") or id_}
        outs = {**inputs, **_drift(inputs, job)}
        try:
            spec = _lenient_spec(outs)
        except Exception:  # noqa: BLE001 - state written by another version: show what we can
            spec = None
        outs.update(self._computed(account, client, id_, spec, job))
        return ReadResult(id_=id_, outs=outs)

    # -- update -------------------------------------------------------------------------------------

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        spec = parse_job(spec_inputs(news))
        old_spec = _lenient_spec(olds)
        account = self._account(news)
        client = account.client()
        fields = [k for k in PATCH_KEYS if olds.get(k) != news.get(k)]
        if olds.get("pool_id") != news.get("pool_id"):
            fields.append("pool_id")  # only reached while the job is disabled (diff replaces otherwise)
        if fields:
            say(f"job {id_}: updating {', '.join(sorted(fields))}")
            call_with_retry(lambda: client.update_job(id_, spec.to_batch_job_update(fields)))
        added, _, _ = task_changes(old_spec, spec)
        if added:
            wanted = set(added)
            self._add_tasks(client, spec, id_, [t for t in spec.expand_tasks() if t.id.lower() in wanted])
        if (
            olds.get("on_all_tasks_complete") != news.get("on_all_tasks_complete")
            and spec.on_all_tasks_complete != "noaction"
        ):
            call_with_retry(
                lambda: client.update_job(id_, spec.to_batch_job_update(["on_all_tasks_complete"]))
            )
        if added:
            wait_for_gate(
                client,
                id_,
                wait_for=spec.wait_for,
                timeout=spec.wait_timeout,
                expected_tasks=spec.task_count(),
                fail_on_task_failure=spec.fail_on_task_failure,
            )
        return UpdateResult(outs=self._outputs(account, client, spec, news))

    # -- delete -------------------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        try:
            spec: JobSpec | None = _lenient_spec(props)
        except Exception:  # noqa: BLE001 - never let an old state block a destroy
            spec = None
        mode = spec.on_destroy if spec else "terminate_then_delete"
        client = self._account(props).client()
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
        return {**public_inputs(props), "job_id": job_id, **self._computed(account, client, job_id, spec)}


def _masked(failures: list[CheckFailure], inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """Failures that do not make the engine print a secret.

    The engine shows a failure on a top-level property as ``property X value {<the value>} has a
    problem``, unwrapping secrets: a failure about the output container URL would print its SAS in
    the deployment log. Such failures name the property in the reason instead.
    """
    masked = []
    for failure in failures:
        value = inputs.get(failure.property)
        if failure.property in ("batch_account_key", "output_container_url") or _has_sas(value):
            masked.append(CheckFailure("", f"{failure.property}: {failure.reason}"))
        else:
            masked.append(failure)
    return masked


def _drift(inputs: Mapping[str, Any], job: Any) -> dict[str, Any]:
    """The updatable properties whose real value differs from the stored one, in the input shape."""
    changes: dict[str, Any] = {}
    want = {"priority": 0, "max_parallel_tasks": -1, "allow_task_preemption": False}
    for key, default in want.items():
        real = getattr(job, key)
        if real is not None and real != (inputs.get(key) if inputs.get(key) is not None else default):
            changes[key] = real
    real_meta = {m.name: m.value for m in job.metadata or []}
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


def _engine_leaf(value: Any) -> Any:
    """Python values the engine can serialize: timedeltas as seconds, models as their JSON form."""
    if isinstance(value, pulumi.Output):
        return value  # (an Output answers hasattr() for any name: test it first)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    return DESCEND


def _has_sas(value: Any) -> bool:
    if isinstance(value, str):
        return "sig=" in value
    if isinstance(value, Mapping):
        return any(_has_sas(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_sas(v) for v in value)
    return False


def _secret_if_sas(value: Any) -> Any:
    """Mark a value secret when it holds a SAS (``sig=``), now or once an Output inside it resolves."""
    if value is None:
        return None
    return pulumi.Output.from_input(value).apply(lambda v: pulumi.Output.secret(v) if _has_sas(v) else v)


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
        opts: pulumi.ResourceOptions | None = None,
        **overrides: Any,
    ) -> None:
        raw = spec.model_dump(mode="json", exclude_defaults=True) if isinstance(spec, JobSpec) else dict(spec)
        raw.update(overrides)
        unknown = sorted(k for k in raw if k not in JobSpec.model_fields)
        if unknown:
            raise TypeError(f"Job {resource_name!r}: unknown job properties {', '.join(unknown)}")
        props: dict[str, Any] = {
            ("job_id" if k == "id" else k): plain_data(v, _engine_leaf) for k, v in raw.items()
        }
        for key in ("tasks", "task_factories", "job_preparation_task", "job_release_task"):
            if props.get(key) is not None:
                props[key] = _secret_if_sas(props[key])
        if props.get("output_container_url") is not None:
            props["output_container_url"] = pulumi.Output.secret(props["output_container_url"])
        props.setdefault("job_id", None)
        props.update(
            {
                "batch_account_url": batch_account_url,
                "batch_account_name": batch_account_name,
                "batch_account_key": pulumi.Output.secret(batch_account_key)
                if batch_account_key is not None
                else None,
                NAME_KEY: resource_name,
                CONTAINER_REFUSAL_KEY: container_refusal,
            }
        )
        for key in COMPUTED_KEYS:
            props.setdefault(key, None)
        secret_opts = pulumi.ResourceOptions(
            additional_secret_outputs=["batch_account_key", "output_container_url"]
        )
        super().__init__(JobProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts))
