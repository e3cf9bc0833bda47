"""REST-body rules: pure functions that check a request body and return the values to store.

Owns: every 400 the service answers for a bad body (ids, enums, integer ranges, lists, task-like
specs, output files, resource files, the updatable job properties, pool, job and job schedule bodies)
and what the emulator refuses because it runs Linux nodes as local processes. Nothing here reads or
changes state: rules that depend on the account (a duplicate id, a job's state) stay in the service.
May import: `wire`, `exceptions`, `resourcefiles` (the resource file rules), `autoscale` (the formula
and interval rules). Not the service, entities or HTTP.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import autoscale
from .exceptions import (
    BatchError,
    conflict,
    invalid_property,
    missing_property,
    unsupported_property,
)
from .resourcefiles import validate_resource_file
from .wire import (
    DEFAULT_RETENTION,
    DEFAULT_USER_IDENTITY,
    RELEASE_DEFAULT_WALL_CLOCK,
    RELEASE_MAX_WALL_CLOCK,
    UNLIMITED,
    Doc,
    fill_auto_pool_defaults,
    iso,
    iso_duration,
    parse_duration,
    parse_iso,
)

# The one id rule of Batch: pools, jobs, tasks, prep and release tasks. Always `fullmatch`ed: `$`
# with `match` also accepts a trailing newline (which a YAML block scalar adds), and an id with a
# raw LF would end up in the `Location` and `DataServiceId` headers.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# "can contain any Unicode characters up to a maximum length of 1024" (pool, job, task displayName).
MAX_DISPLAY_NAME = 1024
# dependsOn.taskIds: "limited to 64000 characters total (the combined length of all task IDs)";
# beyond it Batch answers TaskDependencyListTooLong and suggests taskIdRanges.
MAX_DEPENDENCY_ID_CHARS = 64000
# What to do with a node's running tasks on reboot, reimage, removal or pool shrink (same four values
# for nodeRebootOption, nodeReimageOption and nodeDeallocationOption; requeue is the default).
NODE_TASK_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")
DISABLE_TASKS_OPTIONS = ("requeue", "terminate", "wait")
MAX_NODES_PER_REMOVE = 100


# ---- primitives ---------------------------------------------------------------------------------


def check_id(value: Any, name: str = "id") -> str:
    """A Batch id (letters, digits, hyphens, underscores; 1-64 characters)."""
    if value is None or value == "":
        raise missing_property(name)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise invalid_property(
            name,
            value,
            "An id may contain only letters, digits, hyphens and underscores, up to 64 characters.",
        )
    return value


def check_text(body: Doc, name: str, max_length: int | None = None, label: str | None = None) -> str | None:
    """`body[name]` as an optional string of at most `max_length` characters, without NUL (no process,
    file or header can carry one); None when absent. `label` is the property path in the 400."""
    value = body.get(name)
    label = label or name
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_property(label, _shown(value), "The value must be a string.")
    if max_length is not None and len(value) > max_length:
        raise invalid_property(
            label, _shown(value), f"The value may be at most {max_length} characters long."
        )
    if "\x00" in value:
        raise invalid_property(label, _shown(value), "The value may not contain a NUL character.")
    return value


def _shown(value: Any) -> str:
    """A refused value as echoed in the 400 (shortened: a 3 MB display name is not sent back)."""
    text = str(value)
    return text if len(text) <= 256 else f"{text[:256]}... ({len(text)} characters)"


def enum_value(value: Any, name: str, allowed: tuple[str, ...], default: str) -> str:
    """The one enum normaliser: case-insensitive match against `allowed`, lower-cased; `default` if None."""
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in allowed:
        raise invalid_property(name, value, f"Allowed values: {', '.join(allowed)}.")
    return value.lower()


def check_enum(body: Doc, name: str, allowed: tuple[str, ...], default: str) -> str:
    """`body[name]` as an enum value (see `enum_value`)."""
    return enum_value(body.get(name), name, allowed, default)


def check_int(body: Doc, name: str, default: int, lo: int, hi: int) -> int:
    """`body[name]` as an integer from `lo` to `hi` (booleans refused); `default` when absent."""
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid_property(name, value, f"The value must be an integer from {lo} to {hi}.")
    return value


def check_list(body: Doc, name: str) -> list[Any]:
    """`body[name]` as a list (empty when absent)."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_property(name, _shown(value), "The value must be a list.")
    return value


def check_name_values(body: Doc, name: str, label: str | None = None) -> list[Doc]:
    """A list of `{name, value}` items (environment settings, metadata): each a non-empty string
    name and a string value. The value of an environment setting may be omitted; a metadata item's
    may not (MetadataItem requires both in the 2025-06-01 spec; EnvironmentSetting only `name`)."""
    label = label or name
    items = check_list(body, name)
    for item in items:
        if not isinstance(item, dict):
            raise invalid_property(
                label, _shown(item), "Each item must be an object with a name and a value."
            )
        if item.get("name") is None or item.get("name") == "":
            raise missing_property(f"{label}.name")
        check_text(item, "name", label=f"{label}.name")
        if name == "metadata" and item.get("value") is None:
            raise missing_property(f"{label}.value")
        check_text(item, "value", label=f"{label}.value")
    return items


def node_task_option(value: Any, name: str) -> str:
    """nodeRebootOption / nodeReimageOption / nodeDeallocationOption (default requeue)."""
    return enum_value(value, name, NODE_TASK_OPTIONS, "requeue")


def disable_tasks_option(value: Any) -> str:
    """disableTasks of the disable-job call: requeue, terminate or wait."""
    return enum_value(value or "", "disableTasks", DISABLE_TASKS_OPTIONS, "")


# ---- tasks and their parts ----------------------------------------------------------------------


# uploadCondition as the service spells it when it answers (sent in any case): a task read back from
# Azure shows "TaskCompletion" / "TaskFailure" (azure-sdk-for-js batch-rest recording
# recording_should_create_a_second_task_with_output_files_successfully.json, sent as "taskCompletion").
UPLOAD_CONDITIONS = {
    "tasksuccess": "TaskSuccess",
    "taskfailure": "TaskFailure",
    "taskcompletion": "TaskCompletion",
}


def check_output_file(output: Any, name: str) -> None:
    """An `outputFiles` item as the service checks it on add: filePattern, destination, uploadOptions.

    The one change it makes to the item: `uploadCondition` takes the service's spelling (the request's
    body is the emulator's own copy, parsed from this request)."""
    if not isinstance(output, dict):
        raise invalid_property(name, output, "Each output file must be an object.")
    if not output.get("filePattern"):
        raise missing_property(f"{name}.filePattern")
    destination = output.get("destination")
    container = destination.get("container") if isinstance(destination, dict) else None
    if not isinstance(container, dict) or not container.get("containerUrl"):
        raise missing_property(f"{name}.destination.container.containerUrl")
    url = container["containerUrl"]
    if not isinstance(url, str) or not re.match(r"^https?://[^/?#]+/", url):
        raise invalid_property(
            f"{name}.destination.container.containerUrl",
            "(redacted)",
            "The value must be an absolute http or https URL of a blob container.",
        )
    options = output.get("uploadOptions")
    if not isinstance(options, dict) or not options.get("uploadCondition"):
        raise missing_property(f"{name}.uploadOptions.uploadCondition")
    condition = check_enum(options, "uploadCondition", tuple(UPLOAD_CONDITIONS), "taskcompletion")
    options["uploadCondition"] = UPLOAD_CONDITIONS[condition]


def resource_file_problem(rf: Any) -> str | None:
    """Why a `resourceFiles` item is refused, or None."""
    if not isinstance(rf, dict):
        return "Each resource file must be an object."
    return validate_resource_file(rf)


def check_task_like(spec: Any, name: str) -> None:
    """Rules shared by start, prep, release and regular tasks."""
    if not isinstance(spec, dict):
        raise invalid_property(name, _shown(spec), "The value must be an object.")
    if spec.get("commandLine") is None or spec.get("commandLine") == "":
        raise missing_property(f"{name}.commandLine")
    check_text(spec, "commandLine", label=f"{name}.commandLine")
    check_text(spec, "displayName", MAX_DISPLAY_NAME, f"{name}.displayName")
    settings = spec.get("containerSettings")
    if settings is not None:
        if not isinstance(settings, dict):
            raise invalid_property(
                f"{name}.containerSettings", _shown(settings), "The value must be an object."
            )
        if not settings.get("imageName"):
            raise missing_property(f"{name}.containerSettings.imageName")
        check_enum(
            settings,
            "workingDirectory",
            ("taskworkingdirectory", "containerimagedefault"),
            "taskWorkingDirectory",
        )
    check_name_values(spec, "environmentSettings")
    for rf in check_list(spec, "resourceFiles"):
        problem = resource_file_problem(rf)
        if problem:
            raise invalid_property(f"{name}.resourceFiles", rf, problem)
    for output in check_list(spec, "outputFiles"):
        check_output_file(output, f"{name}.outputFiles")
    identity = spec.get("userIdentity")
    if identity is not None:
        if not isinstance(identity, dict) or (
            bool(identity.get("username")) == bool(identity.get("autoUser"))
        ):
            raise invalid_property(
                f"{name}.userIdentity", identity, "Specify exactly one of username or autoUser."
            )
        auto = identity.get("autoUser") or {}
        check_enum(auto, "scope", ("task", "pool"), "pool")
        check_enum(auto, "elevationLevel", ("nonadmin", "admin"), "nonadmin")
    task_constraints(spec.get("constraints") or {}, f"{name}.constraints")


def task_constraints(constraints: Any, name: str = "constraints") -> Doc:
    """Check a task's ``constraints`` object (durations, retry count -1..100); returns it."""
    if not isinstance(constraints, dict):
        raise invalid_property(name, _shown(constraints), "The value must be an object.")
    parse_duration(constraints.get("maxWallClockTime"), f"{name}.maxWallClockTime")
    parse_duration(constraints.get("retentionTime"), f"{name}.retentionTime")
    check_int(constraints, "maxTaskRetryCount", 0, -1, 100)
    return constraints


def exit_options(conditions: Doc) -> list[Doc]:
    """Every exitOptions object of an exitConditions body."""
    out = [item.get("exitOptions") or {} for item in conditions.get("exitCodes") or []]
    out += [item.get("exitOptions") or {} for item in conditions.get("exitCodeRanges") or []]
    out += [conditions[k] for k in ("preProcessingError", "fileUploadError", "default") if conditions.get(k)]
    return out


def _exit_code(item: Doc, name: str, label: str) -> int:
    value = item.get(name)
    if value is None:
        raise missing_property(f"{label}.{name}")
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value <= 2**31 - 1:
        raise invalid_property(f"{label}.{name}", _shown(value), "The value must be a 32-bit integer.")
    return value


def check_exit_conditions(conditions: Any) -> None:
    """A task's `exitConditions`: integer exit codes and ranges (start <= end), each with an
    exitOptions object whose jobAction and dependencyAction are known values. Checked on add, because
    the scheduler compares them with every exit code later."""
    if not isinstance(conditions, dict):
        raise invalid_property("exitConditions", _shown(conditions), "The value must be an object.")
    items = [("exitConditions.exitCodes", item) for item in check_list(conditions, "exitCodes")]
    items += [("exitConditions.exitCodeRanges", item) for item in check_list(conditions, "exitCodeRanges")]
    options: list[tuple[str, Any]] = []
    for label, item in items:
        if not isinstance(item, dict):
            raise invalid_property(label, _shown(item), "Each item must be an object.")
        if label.endswith("Ranges"):
            if _exit_code(item, "start", label) > _exit_code(item, "end", label):
                raise invalid_property(label, _shown(item), "The start of a range may not be after its end.")
        else:
            _exit_code(item, "code", label)
        options.append((f"{label}.exitOptions", item.get("exitOptions") or {}))
    for name in ("preProcessingError", "fileUploadError", "default"):
        if conditions.get(name) is not None:
            options.append((f"exitConditions.{name}", conditions[name]))
    for label, option in options:
        if not isinstance(option, dict):
            raise invalid_property(label, _shown(option), "The value must be an object.")
        enum_value(option.get("jobAction"), f"{label}.jobAction", ("none", "disable", "terminate"), "none")
        enum_value(option.get("dependencyAction"), f"{label}.dependencyAction", ("satisfy", "block"), "block")


def _range_bound(rng: Doc, bound: str) -> int:
    value = rng.get(bound)
    if value is None:
        raise missing_property(f"dependsOn.taskIdRanges.{bound}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31 - 1:
        raise invalid_property(
            f"dependsOn.taskIdRanges.{bound}",
            _shown(value),
            "The value must be an integer from 0 to 2147483647.",
        )
    return value


def check_depends_on(depends: Any) -> None:
    """A task's `dependsOn`: `taskIds` a list of task ids (at most 64000 characters together) and
    `taskIdRanges` a list of `{start, end}` integer pairs with 0 <= start <= end.

    Everything the scheduler later reads from it is checked here, so a stored dependency can always
    be evaluated (and the scheduler never meets a value it cannot compare).
    """
    if not isinstance(depends, dict):
        raise invalid_property("dependsOn", _shown(depends), "The value must be an object.")
    task_ids = check_list(depends, "taskIds")
    for dep_id in task_ids:
        check_id(dep_id, "dependsOn.taskIds")
    if sum(len(dep_id) for dep_id in task_ids) > MAX_DEPENDENCY_ID_CHARS:
        raise BatchError(
            400,
            "TaskDependencyListTooLong",
            "The task depends on too many tasks: the taskIds are longer than 64000 characters together; "
            "use taskIdRanges instead.",
        )
    for rng in check_list(depends, "taskIdRanges"):
        if not isinstance(rng, dict):
            raise invalid_property("dependsOn.taskIdRanges", _shown(rng), "Each range must be an object.")
        start, end = _range_bound(rng, "start"), _range_bound(rng, "end")
        if start > end:
            raise invalid_property(
                "dependsOn.taskIdRanges", f"{start}-{end}", "The start of a range may not be after its end."
            )


@dataclass(frozen=True)
class TaskBody:
    """A checked task body: its id and required slots (the rest is stored as sent)."""

    id: str
    required_slots: int


def task_body(job_doc: Doc, body: Any) -> TaskBody:
    """Check one task body against its job's settings (prep/release ids, dependencies, job actions)."""
    if not isinstance(body, dict):
        raise invalid_property("value", body, "Each task must be an object.")
    task_id = check_id(body.get("id"))
    check_task_like(body, "task")
    if body.get("multiInstanceSettings"):
        raise unsupported_property("multiInstanceSettings", "Multi-instance tasks are not emulated locally.")
    check_package_references(body)
    prep = job_doc.get("jobPreparationTask")
    release = job_doc.get("jobReleaseTask")
    if prep and task_id.lower() == prep["id"].lower():
        raise conflict(
            "TaskIdSameAsJobPreparationTask", "The task id is the same as the job preparation task id."
        )
    if release and task_id.lower() == release["id"].lower():
        raise conflict("TaskIdSameAsJobReleaseTask", "The task id is the same as the job release task id.")
    if body.get("dependsOn") is not None:
        check_depends_on(body["dependsOn"])
    if body.get("exitConditions") is not None:
        check_exit_conditions(body["exitConditions"])
    affinity = body.get("affinityInfo")
    if affinity is not None:
        if not isinstance(affinity, dict):
            raise invalid_property("affinityInfo", _shown(affinity), "The value must be an object.")
        if not affinity.get("affinityId"):
            raise missing_property("affinityInfo.affinityId")
        check_text(affinity, "affinityId", label="affinityInfo.affinityId")
    if body.get("dependsOn") and not job_doc.get("usesTaskDependencies"):
        raise BatchError(
            400,
            "TaskDependenciesNotSpecifiedOnJob",
            "The job does not allow task dependencies (usesTaskDependencies is false).",
        )
    if body.get("exitConditions") and job_doc.get("onTaskFailure") != "performexitoptionsjobaction":
        for options in exit_options(body["exitConditions"]):
            if options.get("jobAction") not in (None, "none"):
                raise invalid_property(
                    "exitConditions.jobAction",
                    options["jobAction"],
                    "A jobAction requires the job's onTaskFailure to be performexitoptionsjobaction.",
                )
    return TaskBody(task_id, check_int(body, "requiredSlots", 1, 1, 256))


# ---- jobs ---------------------------------------------------------------------------------------


POOL_LIFETIME_OPTIONS = ("job", "jobschedule")
MAX_AUTO_POOL_PREFIX = 20


def check_package_references(body: Doc) -> list[Doc]:
    """applicationPackageReferences: each names an applicationId (the version may be omitted)."""
    refs = check_list(body, "applicationPackageReferences")
    for ref in refs:
        if not isinstance(ref, dict) or not ref.get("applicationId"):
            raise missing_property("applicationPackageReferences.applicationId")
    return refs


def auto_pool_specification(spec: Any, name: str = "poolInfo.autoPoolSpecification") -> Doc:
    """Check an autoPoolSpecification; returns it as stored (the pool's secrets removed)."""
    if not isinstance(spec, dict):
        raise invalid_property(name, spec, "The value must be an object.")
    check_enum(spec, "poolLifetimeOption", POOL_LIFETIME_OPTIONS, "")
    if not spec.get("poolLifetimeOption"):
        raise missing_property(f"{name}.poolLifetimeOption")
    prefix = spec.get("autoPoolIdPrefix")
    if prefix is not None and (
        not isinstance(prefix, str) or len(prefix) > MAX_AUTO_POOL_PREFIX or not ID_PATTERN.match(prefix)
    ):
        raise invalid_property(
            f"{name}.autoPoolIdPrefix",
            prefix,
            "Up to 20 letters, digits, hyphens and underscores.",
        )
    pool = spec.get("pool")
    if not isinstance(pool, dict):
        raise missing_property(f"{name}.pool")
    checked = pool_body({**pool, "id": "autopool"})
    doc = copy.deepcopy(spec)
    doc["poolLifetimeOption"] = spec["poolLifetimeOption"].lower()
    doc["keepAlive"] = bool(spec.get("keepAlive", False))
    doc["pool"] = {k: v for k, v in checked.doc.items() if k != "id"}
    fill_auto_pool_defaults(doc["pool"])
    return doc


def check_pool_info(pool_info: Any) -> Doc:
    """A job's poolInfo: an existing pool's id, or an autoPoolSpecification (not both)."""
    if not isinstance(pool_info, dict):
        raise missing_property("poolInfo")
    if pool_info.get("autoPoolSpecification"):
        if pool_info.get("poolId"):
            raise invalid_property(
                "poolInfo",
                pool_info["poolId"],
                "Specify either poolId or autoPoolSpecification, not both.",
            )
        return {"autoPoolSpecification": auto_pool_specification(pool_info["autoPoolSpecification"])}
    pool_id = pool_info.get("poolId")
    if not pool_id:
        raise missing_property("poolInfo.poolId")
    check_id(pool_id, "poolInfo.poolId")
    return {"poolId": pool_id}


def job_settings(body: Doc, current: Doc | None, replace: bool) -> Doc:
    """Validate the updatable job properties of `body`; returns the values to store.

    `replace` (PUT, create) resets omitted properties to their defaults; otherwise (PATCH) only the
    given ones are returned. `current` is the job as stored, for the rules that compare with it.
    """
    out: Doc = {}

    def given(name: str) -> bool:
        return name in body and body[name] is not None

    if replace or given("priority"):
        out["priority"] = check_int(body, "priority", 0, -1000, 1000)
    if replace or given("maxParallelTasks"):
        value = check_int(body, "maxParallelTasks", -1, -1, 1_000_000)
        if value == 0:
            raise invalid_property("maxParallelTasks", 0, "Use -1 for unlimited or a positive number.")
        out["maxParallelTasks"] = value
    if replace or given("allowTaskPreemption"):
        out["allowTaskPreemption"] = bool(body.get("allowTaskPreemption", False))
    if replace or given("constraints"):
        constraints = body.get("constraints") or {}
        if not isinstance(constraints, dict):
            raise invalid_property("constraints", constraints, "The value must be an object.")
        parse_duration(constraints.get("maxWallClockTime"), "constraints.maxWallClockTime")
        out["constraints"] = {
            "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
            "maxTaskRetryCount": check_int(constraints, "maxTaskRetryCount", 0, -1, 100),
        }
    if replace or given("onAllTasksComplete"):
        mode = check_enum(body, "onAllTasksComplete", ("noaction", "terminatejob"), "noaction")
        if current is not None and current.get("onAllTasksComplete") == "terminatejob" and mode == "noaction":
            raise invalid_property(
                "onAllTasksComplete",
                body.get("onAllTasksComplete", "noaction"),
                "onAllTasksComplete cannot be changed from terminatejob back to noaction.",
            )
        out["onAllTasksComplete"] = mode
    if replace or given("metadata"):
        out["metadata"] = check_name_values(body, "metadata")
    if replace or given("poolInfo"):
        out["poolInfo"] = check_pool_info(body.get("poolInfo"))
    return out


@dataclass(frozen=True)
class JobBody:
    """A checked job-create body: the values the service stores beside the body as sent."""

    id: str
    settings: Doc
    on_task_failure: str
    preparation: Doc | None
    release: Doc | None
    manager: Doc | None = None


def _preparation_task(prep: Any) -> Doc:
    check_task_like(prep, "jobPreparationTask")
    doc = copy.deepcopy(prep)
    doc["id"] = check_id(prep.get("id") or "jobpreparation", "jobPreparationTask.id")
    constraints = prep.get("constraints") or {}
    doc["constraints"] = {
        "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
        "retentionTime": constraints.get("retentionTime") or DEFAULT_RETENTION,
        "maxTaskRetryCount": int(constraints.get("maxTaskRetryCount") or 0),
    }
    doc["waitForSuccess"] = bool(prep.get("waitForSuccess", True))
    doc["rerunOnNodeRebootAfterSuccess"] = bool(prep.get("rerunOnNodeRebootAfterSuccess", True))
    doc["userIdentity"] = prep.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY)
    return doc


def _release_task(release: Any, prep_doc: Doc | None) -> Doc:
    check_task_like(release, "jobReleaseTask")
    doc = copy.deepcopy(release)
    doc["id"] = check_id(release.get("id") or "jobrelease", "jobReleaseTask.id")
    wall = parse_duration(release.get("maxWallClockTime"), "jobReleaseTask.maxWallClockTime")
    if (
        wall is None
        and release.get("maxWallClockTime")
        or (wall is not None and wall > RELEASE_MAX_WALL_CLOCK)
    ):
        raise invalid_property(
            "jobReleaseTask.maxWallClockTime",
            release.get("maxWallClockTime"),
            "The maximum wall clock time of a job release task is 15 minutes.",
        )
    parse_duration(release.get("retentionTime"), "jobReleaseTask.retentionTime")
    doc["maxWallClockTime"] = release.get("maxWallClockTime") or RELEASE_DEFAULT_WALL_CLOCK
    doc["retentionTime"] = release.get("retentionTime") or DEFAULT_RETENTION
    doc["userIdentity"] = release.get("userIdentity") or copy.deepcopy(DEFAULT_USER_IDENTITY)
    if prep_doc and doc["id"].lower() == prep_doc["id"].lower():
        raise invalid_property(
            "jobReleaseTask.id", doc["id"], "Must differ from the job preparation task id."
        )
    return doc


# The properties of a jobManagerTask that are not properties of the task it becomes.
JOB_MANAGER_ONLY = ("killJobOnCompletion", "runExclusive", "allowLowPriorityNode")


def _manager_task(manager: Any, other_ids: list[str]) -> Doc:
    """A jobManagerTask, stored with the service's defaults (killJobOnCompletion, runExclusive and
    allowLowPriorityNode true); its id may not be the preparation or release task's."""
    check_task_like(manager, "jobManagerTask")
    manager_id = check_id(manager.get("id"), "jobManagerTask.id")
    if manager_id.lower() in other_ids:
        raise invalid_property(
            "jobManagerTask.id", manager_id, "Must differ from the job preparation and release task ids."
        )
    check_int(manager, "requiredSlots", 1, 1, 256)
    doc = copy.deepcopy(manager)
    for flag in JOB_MANAGER_ONLY:
        if doc.get(flag) is not None and not isinstance(doc[flag], bool):
            raise invalid_property(f"jobManagerTask.{flag}", doc[flag], "The value must be true or false.")
        doc[flag] = bool(doc.get(flag, True))
    return doc


def job_manager_task_body(manager: Doc) -> Doc:
    """The task a job's jobManagerTask becomes when the job is created (the task add body)."""
    return {k: copy.deepcopy(v) for k, v in manager.items() if k not in JOB_MANAGER_ONLY}


def job_body(body: Doc) -> JobBody:
    """Check a job-create body (reference §5 and §6)."""
    job_id = check_id(body.get("id"))
    if "poolInfo" not in body:
        raise missing_property("poolInfo")
    check_text(body, "displayName", MAX_DISPLAY_NAME)
    settings = job_settings(body, None, replace=True)
    on_failure = check_enum(body, "onTaskFailure", ("noaction", "performexitoptionsjobaction"), "noaction")
    check_name_values(body, "commonEnvironmentSettings")
    prep = body.get("jobPreparationTask")
    release = body.get("jobReleaseTask")
    # `{}` is a task without a command line (400), not "no task": compare with None.
    if release is not None and prep is None:
        raise invalid_property(
            "jobReleaseTask",
            "(specified)",
            "A job release task requires a job preparation task on the same job.",
        )
    prep_doc = _preparation_task(prep) if prep is not None else None
    release_doc = _release_task(release, prep_doc) if release is not None else None
    manager = body.get("jobManagerTask")
    manager_doc = None
    if manager is not None:
        others = [str(d["id"]).lower() for d in (prep_doc, release_doc) if d]
        manager_doc = _manager_task(manager, others)
    return JobBody(job_id, settings, on_failure, prep_doc, release_doc, manager_doc)


def job_properties(body: Doc, spec: JobBody) -> Doc:
    """The properties a job stores from a checked create body (or a schedule's jobSpecification): the
    body as sent with the service's defaults filled in. No id, url, times, state or executionInfo."""
    doc: Doc = {k: copy.deepcopy(v) for k, v in body.items() if v is not None}
    doc.update(copy.deepcopy(spec.settings))
    doc["onTaskFailure"] = spec.on_task_failure
    doc["usesTaskDependencies"] = bool(body.get("usesTaskDependencies", False))
    if not doc.get("metadata"):
        doc.pop("metadata", None)
    if spec.preparation:
        doc["jobPreparationTask"] = copy.deepcopy(spec.preparation)
    if spec.release:
        doc["jobReleaseTask"] = copy.deepcopy(spec.release)
    if spec.manager:
        doc["jobManagerTask"] = copy.deepcopy(spec.manager)
    return doc


# ---- pools --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoScaleSettings:
    """A pool's checked autoscale settings: the formula and the evaluation interval as stored."""

    formula: str
    interval: str  # as the service writes it back, e.g. "PT15M"


@dataclass(frozen=True)
class PoolBody:
    """A checked pool-create body: the values the service stores beside the body as sent."""

    id: str
    task_slots_per_node: int
    scheduling_policy: Doc
    dedicated: int
    low_priority: int
    autoscale: AutoScaleSettings | None
    doc: Doc  # the body as stored: write-only secrets removed


# Write-only secrets of a pool body: accepted, used where the emulator can, never stored or returned.
_USER_SECRETS = ("password",)
_LINUX_USER_SECRETS = ("sshPrivateKey",)
_MOUNT_SECRETS = ("accountKey", "sasKey", "password")
MOUNT_KINDS = (
    "azureBlobFileSystemConfiguration",
    "nfsMountConfiguration",
    "cifsMountConfiguration",
    "azureFileShareConfiguration",
)


def is_windows_pool(pool_doc: Doc) -> bool:
    """Whether a pool runs Windows nodes (a cloud service configuration or a Windows node agent)."""
    vmc = pool_doc.get("virtualMachineConfiguration") or {}
    return bool(
        pool_doc.get("cloudServiceConfiguration")
        or vmc.get("windowsConfiguration")
        or "windows" in str(vmc.get("nodeAgentSKUId", "")).lower()
    )


def autoscale_settings(
    formula: Any, interval: Any, *, current_interval: str | None = None
) -> AutoScaleSettings:
    """Check an autoscale formula and evaluation interval as the service does when they are set.

    A formula the service refuses is a 400 with the formula's own error code (for example
    `AutoScalingFormulaSyntaxError`, `AutoScaleFormulaTooLong`); an interval outside 5 minutes to 168
    hours is a 400 `InvalidPropertyValue`. An omitted interval keeps `current_interval` or the default.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise missing_property("autoScaleFormula")
    problem = autoscale.check_formula(formula)
    if problem is not None:
        raise BatchError(
            400,
            problem.code,
            problem.message,
            [(name, value) for name, value in problem.values],
        )
    if interval is None:
        return AutoScaleSettings(
            formula,
            current_interval or iso_duration(autoscale.DEFAULT_EVALUATION_INTERVAL),
        )
    delta = parse_duration(interval, "autoScaleEvaluationInterval")
    reason = "The value is unlimited." if delta is None else autoscale.check_evaluation_interval(delta)
    if reason is not None or delta is None:
        raise invalid_property("autoScaleEvaluationInterval", interval, reason or "")
    return AutoScaleSettings(formula, iso_duration(delta))


def _without(item: Any, secrets: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return item
    return {k: v for k, v in item.items() if k not in secrets}


def pool_secrets_removed(body: Doc) -> Doc:
    """A copy of a pool body without its write-only secrets (user passwords, SSH private keys, mount
    keys, extension protected settings): Azure never returns them, so the emulator never stores them."""
    doc = copy.deepcopy(body)
    accounts = []
    for account in doc.get("userAccounts") or []:
        account = _without(account, _USER_SECRETS)
        if isinstance(account, dict) and isinstance(account.get("linuxUserConfiguration"), dict):
            account["linuxUserConfiguration"] = _without(
                account["linuxUserConfiguration"], _LINUX_USER_SECRETS
            )
        accounts.append(account)
    if "userAccounts" in doc:
        doc["userAccounts"] = accounts
    mounts = []
    for mount in doc.get("mountConfiguration") or []:
        if isinstance(mount, dict):
            mount = {kind: _without(conf, _MOUNT_SECRETS) for kind, conf in mount.items()}
        mounts.append(mount)
    if "mountConfiguration" in doc:
        doc["mountConfiguration"] = mounts
    vmc = doc.get("virtualMachineConfiguration")
    if isinstance(vmc, dict) and isinstance(vmc.get("extensions"), list):
        vmc["extensions"] = [_without(ext, ("protectedSettings",)) for ext in vmc["extensions"]]
    return doc


def check_mounts(body: Doc) -> None:
    """mountConfiguration: each item names exactly one file system with a relativeMountPath."""
    for mount in check_list(body, "mountConfiguration"):
        kinds = [k for k in MOUNT_KINDS if isinstance(mount, dict) and mount.get(k)]
        if len(kinds) != 1:
            raise invalid_property(
                "mountConfiguration",
                mount,
                f"Specify exactly one of {', '.join(MOUNT_KINDS)}.",
            )
        conf = mount[kinds[0]]
        if not conf.get("relativeMountPath"):
            raise missing_property(f"mountConfiguration.{kinds[0]}.relativeMountPath")
        path = str(conf["relativeMountPath"])
        if path.startswith("/") or ".." in path.split("/"):
            raise invalid_property(
                f"mountConfiguration.{kinds[0]}.relativeMountPath",
                path,
                "The path must be relative.",
            )


def check_user_accounts(body: Doc) -> None:
    """userAccounts: each has a name and a password; names are unique."""
    names: set[str] = set()
    for account in check_list(body, "userAccounts"):
        if not isinstance(account, dict) or not account.get("name"):
            raise missing_property("userAccounts.name")
        if not account.get("password"):
            raise missing_property("userAccounts.password")
        check_enum(account, "elevationLevel", ("nonadmin", "admin"), "nonadmin")
        if str(account["name"]).lower() in names:
            raise invalid_property(
                "userAccounts.name",
                account["name"],
                "User account names must be unique.",
            )
        names.add(str(account["name"]).lower())


def pool_body(body: Doc) -> PoolBody:
    """Check a pool-create body. Windows (cloud service or Windows node agent), disk encryption,
    mounts, user accounts, network settings and container configuration are accepted as Azure accepts
    them (see docs/emulator-operations.md for what each does locally; containers need a runtime: the
    service refuses them without one, see `container_properties`)."""
    pool_id = check_id(body.get("id"))
    check_text(body, "displayName", MAX_DISPLAY_NAME)
    check_name_values(body, "metadata")
    if not body.get("vmSize"):
        raise missing_property("vmSize")
    vmc = body.get("virtualMachineConfiguration")
    if body.get("cloudServiceConfiguration"):
        if not isinstance(body["cloudServiceConfiguration"], dict) or not body[
            "cloudServiceConfiguration"
        ].get("osFamily"):
            raise missing_property("cloudServiceConfiguration.osFamily")
    else:
        if not isinstance(vmc, dict):
            raise missing_property("virtualMachineConfiguration")
        if not vmc.get("imageReference"):
            raise missing_property("virtualMachineConfiguration.imageReference")
        if not vmc.get("nodeAgentSKUId"):
            raise missing_property("virtualMachineConfiguration.nodeAgentSKUId")
        containers = vmc.get("containerConfiguration")
        if containers is not None:
            if not isinstance(containers, dict) or not containers.get("type"):
                raise missing_property("virtualMachineConfiguration.containerConfiguration.type")
            check_enum(containers, "type", ("dockercompatible", "cricompatible"), "dockercompatible")
    check_mounts(body)
    check_user_accounts(body)
    slots = check_int(body, "taskSlotsPerNode", 1, 1, 256)
    policy = body.get("taskSchedulingPolicy") or {}
    fill = check_enum(policy, "nodeFillType", ("spread", "pack"), "spread")
    settings = None
    if body.get("enableAutoScale"):
        for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(name) is not None:
                raise invalid_property(
                    name,
                    body[name],
                    "A pool with enableAutoScale set takes its targets from its formula.",
                )
        settings = autoscale_settings(body.get("autoScaleFormula"), body.get("autoScaleEvaluationInterval"))
    dedicated = check_int(body, "targetDedicatedNodes", 0, 0, 10000)
    low = check_int(body, "targetLowPriorityNodes", 0, 0, 10000)
    start_task = body.get("startTask")
    if start_task is not None:
        check_task_like(start_task, "startTask")
    parse_duration(body.get("resizeTimeout"), "resizeTimeout")
    return PoolBody(
        pool_id,
        slots,
        {**policy, "nodeFillType": fill},
        dedicated,
        low,
        settings,
        pool_secrets_removed(body),
    )


# What PATCH /pools/{id} may change at any time; the rest of BatchPoolUpdateOptions only while the
# pool has no nodes ("This field can be updated only when the pool is empty").
POOL_UPDATE_ANYTIME = (
    "startTask",
    "applicationPackageReferences",
    "metadata",
    "targetNodeCommunicationMode",
)
POOL_UPDATE_WHEN_EMPTY = (
    "displayName",
    "vmSize",
    "enableInterNodeCommunication",
    "virtualMachineConfiguration",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "networkConfiguration",
    "userAccounts",
    "mountConfiguration",
    "upgradePolicy",
    "resourceTags",
)


# BatchNodeCommunicationMode of the api-versions that have it (2022-10-01 to 2024-07-01; 2025-06-01
# dropped the property, and the emulator answers every version alike).
NODE_COMMUNICATION_MODES = ("default", "classic", "simplified")


def _communication_mode(body: Doc) -> Doc:
    """`{"targetNodeCommunicationMode": <mode>}` when the body sets it (lower-cased), else empty."""
    if body.get("targetNodeCommunicationMode") is None:
        return {}
    mode = check_enum(body, "targetNodeCommunicationMode", NODE_COMMUNICATION_MODES, "default")
    return {"targetNodeCommunicationMode": mode}


def pool_update_body(body: Doc) -> Doc:
    """Check a pool PATCH body; returns the properties to change (secrets removed)."""
    known = set(POOL_UPDATE_ANYTIME) | set(POOL_UPDATE_WHEN_EMPTY) | {"certificateReferences"}
    for name in body:
        if name not in known:
            raise BatchError(
                400,
                "PropertyCannotBeUpdated",
                "A property that cannot be updated was specified as part of the request.",
                [("PropertyName", name)],
            )
    if body.get("startTask") is not None:
        check_task_like(body["startTask"], "startTask")
    if "metadata" in body:
        check_name_values(body, "metadata")
    check_mounts(body)
    check_user_accounts(body)
    if "taskSlotsPerNode" in body:
        check_int(body, "taskSlotsPerNode", 1, 1, 256)
    body = {**body, **_communication_mode(body)}
    if isinstance(body.get("taskSchedulingPolicy"), dict):
        body = {
            **body,
            "taskSchedulingPolicy": {
                **body["taskSchedulingPolicy"],
                "nodeFillType": check_enum(
                    body["taskSchedulingPolicy"],
                    "nodeFillType",
                    ("spread", "pack"),
                    "spread",
                ),
            },
        }
    return {k: v for k, v in pool_secrets_removed(body).items() if v is not None}


def pool_replace_body(body: Doc) -> Doc:
    """Check a pool updateproperties body: startTask (omitted removes it), applicationPackageReferences
    and metadata (both required; an empty list removes them), targetNodeCommunicationMode (older
    api-versions: replaces the pool's when given, as azure-sdk-for-python's recorded
    test_batch_update_pools shows). certificateReferences is accepted and ignored (certificates are
    deprecated and not emulated)."""
    for name in ("applicationPackageReferences", "metadata"):
        if not isinstance(body.get(name), list):
            raise missing_property(name)
    if body.get("startTask") is not None:
        check_task_like(body["startTask"], "startTask")
    check_name_values(body, "metadata")
    return {
        "startTask": copy.deepcopy(body.get("startTask")),
        "applicationPackageReferences": copy.deepcopy(body["applicationPackageReferences"]),
        "metadata": copy.deepcopy(body["metadata"]),
        **_communication_mode(body),
    }


def resize_targets(body: Doc) -> tuple[int | None, int | None, str]:
    """A resize body: (dedicated, low-priority) targets, None where omitted (kept), and the
    nodeDeallocationOption."""
    dedicated = (
        check_int(body, "targetDedicatedNodes", 0, 0, 10000)
        if body.get("targetDedicatedNodes") is not None
        else None
    )
    low = (
        check_int(body, "targetLowPriorityNodes", 0, 0, 10000)
        if body.get("targetLowPriorityNodes") is not None
        else None
    )
    option = node_task_option(body.get("nodeDeallocationOption"), "nodeDeallocationOption")
    parse_duration(body.get("resizeTimeout"), "resizeTimeout")
    return dedicated, low, option


def remove_nodes_body(body: Doc) -> tuple[list[str], str]:
    """A remove-nodes body: the node ids (1 to 100) and the nodeDeallocationOption."""
    node_ids = body.get("nodeList")
    if not isinstance(node_ids, list) or not node_ids:
        raise missing_property("nodeList")
    if len(node_ids) > MAX_NODES_PER_REMOVE:
        raise invalid_property("nodeList", len(node_ids), "At most 100 nodes can be removed per request.")
    option = node_task_option(body.get("nodeDeallocationOption"), "nodeDeallocationOption")
    parse_duration(body.get("resizeTimeout"), "resizeTimeout")
    return [str(n) for n in node_ids], option


# ---- compute node operations ---------------------------------------------------------------------

DISABLE_SCHEDULING_OPTIONS = ("requeue", "terminate", "taskcompletion")
DEALLOCATE_OPTIONS = NODE_TASK_OPTIONS
MAX_USER_NAME = 20


def _timestamp(body: Doc, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        parse_iso(str(value).replace("+00:00", "Z"))
    except ValueError:
        raise invalid_property(name, value, "The value must be an RFC 3339 UTC timestamp.") from None
    return str(value)


def node_user_body(body: Doc, *, name: str | None = None) -> Doc:
    """A node user create (name given in the body) or replace (name from the path) body; returns what
    is recorded: name, isAdmin, expiryTime, sshPublicKey and whether a password was set. The password
    itself is never recorded (the emulator creates no operating system account)."""
    user = name if name is not None else body.get("name")
    if not user:
        raise missing_property("name")
    if not isinstance(user, str) or len(user) > MAX_USER_NAME or not re.match(r"^[A-Za-z0-9_.-]+$", user):
        raise invalid_property("name", user, "Up to 20 letters, digits, periods, hyphens and underscores.")
    if body.get("isAdmin") is not None and not isinstance(body["isAdmin"], bool):
        raise invalid_property("isAdmin", body["isAdmin"], "The value must be true or false.")
    record: Doc = {"name": user, "isAdmin": bool(body.get("isAdmin", False))}
    expiry = _timestamp(body, "expiryTime")
    if expiry:
        record["expiryTime"] = expiry
    if body.get("sshPublicKey"):
        record["sshPublicKey"] = str(body["sshPublicKey"])
    record["hasPassword"] = bool(body.get("password"))
    return record


def upload_logs_body(body: Doc) -> tuple[str, datetime, datetime | None]:
    """An uploadbatchservicelogs body: the container URL (with its SAS) and the time window."""
    url = body.get("containerUrl")
    if not url:
        raise missing_property("containerUrl")
    if not isinstance(url, str) or not re.match(r"^https?://[^/?#]+/", url):
        raise invalid_property(
            "containerUrl",
            "(redacted)",
            "The value must be the URL of a blob container.",
        )
    start = _timestamp(body, "startTime")
    if start is None:
        raise missing_property("startTime")
    end = _timestamp(body, "endTime")
    return url, parse_iso(start), parse_iso(end) if end else None


def job_task_retries(job_doc: Doc) -> int:
    """The job's ``constraints.maxTaskRetryCount``: a task's retry count when it sets none."""
    return int(job_doc.get("constraints", {}).get("maxTaskRetryCount", 0))


def constraints_with_defaults(constraints: Doc, job_retries: int) -> Doc:
    """A task's constraints with the service defaults filled in (the job's retry count, 7 days' retention)."""
    return {
        "maxWallClockTime": constraints.get("maxWallClockTime") or UNLIMITED,
        "retentionTime": constraints.get("retentionTime") or DEFAULT_RETENTION,
        "maxTaskRetryCount": constraints.get("maxTaskRetryCount", job_retries),
    }


def task_replace_constraints(body: Doc, job_doc: Doc) -> Doc:
    """The constraints of a task replace (PUT) body, omitted ones reset to their defaults."""
    constraints = task_constraints(body.get("constraints") or {})
    job_retries = job_task_retries(job_doc)
    retries = check_int(constraints, "maxTaskRetryCount", job_retries, -1, 100)
    return constraints_with_defaults({**constraints, "maxTaskRetryCount": retries}, job_retries)


#: The properties that ask for containers: a pool's and a task's.
_CONTAINER_KEYS = ("containerConfiguration", "containerSettings")


def container_properties(body: Any, prefix: str = "") -> list[str]:
    """The property paths of ``body`` that ask for containers (``containerConfiguration`` of a pool,
    ``containerSettings`` of any task in it), e.g. ``jobPreparationTask.containerSettings``; the
    service refuses them when it has no container runtime."""
    found: list[str] = []
    items: Any = (
        body.items()
        if isinstance(body, dict)
        else ((None, v) for v in body)
        if isinstance(body, list)
        else ()
    )
    for key, value in items:
        path = prefix if key is None else (f"{prefix}.{key}" if prefix else str(key))
        if key in _CONTAINER_KEYS and value:
            found.append(path)
        elif isinstance(value, dict | list):
            found.extend(container_properties(value, path))
    return found


# ---- job schedules ------------------------------------------------------------------------------

# recurrenceInterval and startWindow: "The minimum value is 1 minute" (BatchJobScheduleConfiguration).
MIN_SCHEDULE_INTERVAL = timedelta(minutes=1)
SCHEDULE_TIMES = ("doNotRunUntil", "doNotRunAfter")
SCHEDULE_INTERVALS = ("startWindow", "recurrenceInterval")


def _schedule_time(value: Any, name: str) -> str:
    """An RFC 3339 timestamp (any offset) as the service writes it back: UTC with `Z`."""
    try:
        text = str(value)
        parsed = parse_iso(text) if text.endswith("Z") else datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise invalid_property(name, value, "The value must be an RFC 3339 timestamp.") from None
    return iso(parsed)


def schedule_configuration(schedule: Any) -> Doc:
    """A job schedule's `schedule`: the times in UTC, the intervals checked (at least a minute), both as
    the service writes them back."""
    if schedule is None:
        return {}
    if not isinstance(schedule, dict):
        raise invalid_property("schedule", schedule, "The value must be an object.")
    out: Doc = {}
    for name in SCHEDULE_TIMES:
        if schedule.get(name) is not None:
            out[name] = _schedule_time(schedule[name], f"schedule.{name}")
    for name in SCHEDULE_INTERVALS:
        value = schedule.get(name)
        if value is None:
            continue
        delta = parse_duration(value, f"schedule.{name}")
        if delta is not None and delta < MIN_SCHEDULE_INTERVAL:
            raise invalid_property(f"schedule.{name}", value, "The minimum value is 1 minute.")
        # Written back in the service's form (`PT01H00M00S` is read back as `PT1H`, as recorded).
        out[name] = value if delta is None else iso_duration(delta)
    return out


def job_specification(spec: Any) -> Doc:
    """A job schedule's `jobSpecification`, checked by the rules of a job-create body (the same model:
    errors name the job's properties) and stored with the defaults the service fills in."""
    if spec is None:
        raise missing_property("jobSpecification")
    if not isinstance(spec, dict):
        raise invalid_property("jobSpecification", spec, "The value must be an object.")
    if "poolInfo" not in spec:
        raise missing_property("jobSpecification.poolInfo")
    body = {k: v for k, v in spec.items() if k != "id"}
    return job_properties(body, job_body({**body, "id": "jobschedule"}))


@dataclass(frozen=True)
class JobScheduleBody:
    """A checked job-schedule create body."""

    id: str
    properties: Doc  # displayName, schedule, jobSpecification and metadata as stored


def job_schedule_body(body: Doc) -> JobScheduleBody:
    """Check a job-schedule create body: id, displayName, schedule (required), jobSpecification, metadata."""
    schedule_id = check_id(body.get("id"))
    check_text(body, "displayName", MAX_DISPLAY_NAME)
    if body.get("schedule") is None:
        raise missing_property("schedule")
    props: Doc = {k: copy.deepcopy(v) for k, v in body.items() if v is not None and k == "displayName"}
    props.update(job_schedule_settings(body, replace=True))
    return JobScheduleBody(schedule_id, props)


def job_schedule_settings(body: Doc, *, replace: bool) -> Doc:
    """The updatable properties of a job schedule (schedule, jobSpecification, metadata).

    `replace` (PUT, create): jobSpecification is required and omitted ones reset (no schedule: run once,
    now; no metadata: none). PATCH: only the given ones, each replaced as a whole.
    """
    out: Doc = {}
    if replace or body.get("schedule") is not None:
        out["schedule"] = schedule_configuration(body.get("schedule"))
    if replace or body.get("jobSpecification") is not None:
        out["jobSpecification"] = job_specification(body.get("jobSpecification"))
    if replace or body.get("metadata") is not None:
        out["metadata"] = check_name_values(body, "metadata")
    return out
