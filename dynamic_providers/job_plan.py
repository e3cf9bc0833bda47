"""What a change to a job does: the tasks it touches, what it updates in place, what forces a new job.

The Job provider's ``diff`` and ``update`` both work from one :class:`JobPlan`, so what the preview
says is what ``up`` does:

* **tasks**, compared by id (case-insensitive, as Batch compares them) on their canonical form
  (:func:`~pulumi_azbatch.model.canonical.canonical_task`: defaults omitted, SAS stripped): a new id
  is *added*; a task whose only difference is ``constraints`` is *updated in place* (``PUT`` task,
  the one task property Batch can change); any other difference is *re-added* (deleted, then added
  again with the same id: Batch keeps nothing of a deleted task); a missing id is *removed*.
* **job properties**: the in-place updatable ones (PATCH) with their old → new values, including
  drift that ``pulumi refresh`` found (the stored value is the service's, the new one the config's);
  everything else, and the cases below, force a new job, each with its reason.

A job is replaced rather than changed task by task when Batch cannot take the change: a completed
or terminating job takes no new tasks; a ``terminatejob`` job completes by itself when its tasks do,
so tasks added to it could arrive after it completed (keep ``noaction``, the default, for jobs that
grow); in a job with task dependencies a changed or removed task would leave dependents that ran
against the old one.

Owns: :class:`TaskPlan`, :func:`plan_tasks`, :class:`JobPlan`, :func:`plan_job` and the plan's text
(:func:`show_value`, :data:`HIDDEN_KEYS`: how a preview line shows a value, also the JobSchedule's).
May import: :mod:`pulumi_azbatch.model`; nothing that calls a service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_azbatch.model.canonical import canonical_task
from pulumi_azbatch.model.job import JOB_FIELDS_PATCHED, JobSpec
from pulumi_azbatch.model.tasks import TaskSpec

__all__ = [
    "LISTED_IDS",
    "PATCH_KEYS",
    "PROVIDER_KEYS",
    "REPLACE_KEYS",
    "TASK_KEYS",
    "JobPlan",
    "TaskPlan",
    "plan_job",
    "plan_tasks",
]

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
        # the library wheel and install command the preparation task gets (set by the provider's check)
        "file_conventions_library",
    }
)
#: Changed with a PATCH of the job (the model's list; ``pool_id`` and ``on_all_tasks_complete`` are
#: updatable too, but only after the checks in :func:`plan_job`).
PATCH_KEYS = JOB_FIELDS_PATCHED
#: The inputs that declare tasks.
TASK_KEYS = frozenset({"tasks", "task_factories"})
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
        "file_conventions",
        "file_conventions_container_url",
        "file_conventions_library_url",
        "maintenance_container_url",
        "previous_outputs",
        "name_prefix",
        "adopt",
    }
)
#: What a replacement does with the replaced job's outputs, per ``previous_outputs``.
PREVIOUS_OUTPUTS_LINES = {
    "keep_apart": "the replaced job's outputs and $JobLog files move under $PreviousRuns/<time>/ of the "
    "container before the new job starts (previous_outputs: keep_apart)",
    "delete": "the replaced job's outputs and $JobLog files are deleted before the new job starts "
    "(previous_outputs: delete)",
    "mix": "the new run writes into the same File Conventions container beside the replaced job's outputs "
    "(previous_outputs: mix)",
}
#: How many task ids a plan line names before it only counts the rest.
LISTED_IDS = 10
#: The longest value an ``old → new`` line shows.
VALUE_CHARS = 100
#: Inputs whose values are never shown (credentials, SAS URLs).
HIDDEN_KEYS = frozenset({"batch_account_key", "output_container_url"})


@dataclass(frozen=True)
class TaskPlan:
    """Per task id, what an update does: add, re-add (delete + add), update in place, remove."""

    added: list[str] = field(default_factory=list)
    readded: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: per re-added or updated task: the task properties that differ
    differences: dict[str, list[str]] = field(default_factory=dict)

    @property
    def submitted(self) -> list[str]:
        """The tasks an update adds (new and re-added), in ⌈n/100⌉ add-collection calls."""
        return [*self.added, *self.readded]

    def __bool__(self) -> bool:
        return bool(self.added or self.readded or self.updated or self.removed)

    def describe(self) -> str:
        """``10 added (a, b, ...), 1 re-added (c: command_line), ...``; empty when nothing changes."""
        parts = []
        for label, ids in (
            ("added", self.added),
            ("re-added", self.readded),
            ("updated in place", self.updated),
            ("removed", self.removed),
        ):
            if ids:
                named = [
                    f"{i} ({', '.join(self.differences[i])})" if i in self.differences else i for i in ids
                ]
                parts.append(f"{len(ids)} {label}: {list_ids(named)}")
        return "; ".join(parts)


def list_ids(ids: list[str]) -> str:
    """The first :data:`LISTED_IDS` ids, then how many more."""
    shown = ", ".join(ids[:LISTED_IDS])
    return shown if len(ids) <= LISTED_IDS else f"{shown} and {len(ids) - LISTED_IDS} more"


def _index(spec: JobSpec) -> dict[str, TaskSpec]:
    # Batch compares task ids case-insensitively.
    return {t.id.lower(): t for t in spec.expand_tasks()}


def plan_tasks(old: JobSpec, new: JobSpec) -> TaskPlan:
    """The task-level changes from ``old`` to ``new`` (factories expanded, SAS ignored)."""
    before, after = _index(old), _index(new)
    plan = TaskPlan()
    for key, task in after.items():
        old_task = before.get(key)
        if old_task is None:
            plan.added.append(task.id)
            continue
        if old_task == task:
            continue  # equal models have equal canonical forms: only differing tasks are dumped
        old_form, form = canonical_task(old_task), canonical_task(task)
        if old_form == form:
            continue
        differing = sorted(k for k in {*old_form, *form} if old_form.get(k) != form.get(k))
        plan.differences[task.id] = differing
        # Constraints are the one task property Batch changes in place (PUT task).
        (plan.updated if differing == ["constraints"] else plan.readded).append(task.id)
    plan.removed.extend(task.id for key, task in before.items() if key not in after)
    return plan


def show_value(value: Any) -> str:
    """A value as a preview line shows it: JSON, ``(default)`` for unset, cut at :data:`VALUE_CHARS`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine hands numbers over as floats: priority 50, not 50.0
    text = "(default)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


@dataclass
class JobPlan:
    """What ``up`` does to one job: replace it (and why), or update properties and tasks in place."""

    job_id: str
    #: input key -> why it needs a new job
    replaces: dict[str, str] = field(default_factory=dict)
    #: input key -> (stored value, new value), updated in place
    updates: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: keys whose stored value is drift found by ``pulumi refresh`` (the service's value)
    drifted: frozenset[str] = frozenset()
    #: changed inputs only the provider reads (no call to the service)
    settings: list[str] = field(default_factory=list)
    tasks: TaskPlan = field(default_factory=TaskPlan)
    #: how many tasks the new spec declares (a replacement runs them all)
    task_count: int | None = None
    #: what the new job does with the replaced job's outputs (the ``previous_outputs`` property)
    previous_outputs: str = "keep_apart"

    def lines(self) -> list[str]:
        """The preview's text, one line per kind of change, each starting with ``job <id>:``."""
        head = f"job {self.job_id}:"
        if self.replaces:
            out = [
                f"{head} replace (delete the job, then create it again with the same id; every task runs again"
                + (f": {self.task_count} task(s))" if self.task_count is not None else ")")
            ]
            for key, reason in sorted(self.replaces.items()):
                out.append(f"{head}   forces replacement: {key}: {reason}")
            if "job_id" not in self.replaces:
                out.append(f"{head}   outputs: {PREVIOUS_OUTPUTS_LINES[self.previous_outputs]}")
            return out
        out = []
        for key, (old, new) in sorted(self.updates.items()):
            shown = "(hidden)" if key in HIDDEN_KEYS else f"{show_value(old)} → {show_value(new)}"
            note = " (reverts drift: the service had the old value)" if key in self.drifted else ""
            out.append(f"{head} update in place: {key}: {shown}{note}")
        if self.tasks:
            out.append(f"{head} tasks: {self.tasks.describe()}")
        if self.settings:
            out.append(f"{head} provider settings: {', '.join(sorted(self.settings))} (no call to Batch)")
        return out


def plan_job(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    changed: Iterable[str],
    load: Callable[[Mapping[str, Any]], JobSpec],
    *,
    unknown: Callable[[Any], bool],
) -> JobPlan:
    """The plan from the stored outputs ``olds`` to the new inputs ``news``.

    ``changed`` are the input keys that differ; ``load`` turns inputs into a spec (structure only);
    ``unknown`` tells a value not known yet at preview (tasks from an unknown output are not planned).
    """
    changed = set(changed)
    state = olds.get("state")
    plan = JobPlan(
        job_id=str(news.get("job_id") or olds.get("job_id") or "?"),
        drifted=frozenset(olds.get("drift") or ()),
    )
    if news.get("previous_outputs") in PREVIOUS_OUTPUTS_LINES:
        plan.previous_outputs = str(news["previous_outputs"])
    for key in sorted(changed & REPLACE_KEYS):
        if key == "file_conventions_library":
            plan.replaces[key] = (
                "the job preparation task installs another File Conventions library (wheel or "
                "dependencies), and Batch cannot change a job's preparation task"
            )
            continue
        plan.replaces[key] = "Batch cannot change it on an existing job" + (
            f" ({show_value(olds.get(key))} → {show_value(news.get(key))})" if key not in HIDDEN_KEYS else ""
        )
    if "pool_id" in changed:
        if state != "disabled":
            plan.replaces["pool_id"] = (
                f"Batch moves a job to another pool only while it is disabled "
                f"({show_value(olds.get('pool_id'))} → {show_value(news.get('pool_id'))})"
            )
        else:
            plan.updates["pool_id"] = (olds.get("pool_id"), news.get("pool_id"))
    old_mode = olds.get("on_all_tasks_complete") or "noaction"
    new_mode = news.get("on_all_tasks_complete") or "noaction"
    if "on_all_tasks_complete" in changed:
        if new_mode == "noaction" and old_mode != "noaction":
            plan.replaces["on_all_tasks_complete"] = "Batch cannot turn terminatejob back into noaction"
        else:
            plan.updates["on_all_tasks_complete"] = (olds.get("on_all_tasks_complete"), new_mode)
    for key in sorted(changed & PATCH_KEYS):
        plan.updates[key] = (olds.get(key), news.get(key))
    plan.settings = sorted(changed & PROVIDER_KEYS - HIDDEN_KEYS - {"name_prefix"})
    if plan.replaces and not unknown({k: news.get(k) for k in TASK_KEYS}):
        try:
            plan.task_count = load(news).task_count()
        except Exception:  # noqa: BLE001 - only the count in a message
            plan.task_count = None
    task_keys = sorted(changed & TASK_KEYS)
    if task_keys and not unknown({k: news.get(k) for k in TASK_KEYS}):
        try:
            new_spec = load(news)
            plan.task_count = new_spec.task_count()
            plan.tasks = plan_tasks(load(olds), new_spec)
        except Exception as exc:  # noqa: BLE001 - an unreadable stored spec: be safe, replace
            for key in task_keys:
                plan.replaces[key] = f"the stored tasks could not be compared ({type(exc).__name__})"
            return plan
        reason = _task_replace_reason(plan.tasks, state, old_mode, bool(news.get("uses_task_dependencies")))
        if reason:
            for key in task_keys:
                plan.replaces[key] = f"{reason} (tasks: {plan.tasks.describe()})"
    elif task_keys:
        plan.settings.append("tasks (not known until the update)")
    return plan


def _task_replace_reason(tasks: TaskPlan, state: Any, old_mode: str, dependencies: bool) -> str | None:
    if tasks.submitted and state in ("completed", "terminating"):
        return f"the job is {state} and takes no new tasks"
    if tasks.submitted and old_mode == "terminatejob":
        return (
            "on_all_tasks_complete is terminatejob: the job completes by itself when its tasks do and "
            "could complete before the new tasks arrive; use noaction for jobs that grow"
        )
    if (tasks.readded or tasks.removed) and dependencies:
        return "the job uses task dependencies: tasks depending on a changed or removed task ran against the old one"
    return None
