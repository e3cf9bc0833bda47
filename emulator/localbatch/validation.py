"""REST-body rules: pure functions that check a request body and return the values to store.

Owns: every 400 the service answers for a bad body (ids, enums, integer ranges, lists, task-like
specs, output files, resource files, the updatable job properties, pool and job bodies) and what the
emulator refuses because it runs Linux nodes as local processes. Nothing here reads or changes state:
rules that depend on the account (a duplicate id, a job's state) stay in the service.
May import: `wire`, `exceptions`, `resourcefiles` (the resource file rules). Not the service, entities or HTTP.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .exceptions import BatchError, conflict, invalid_property, missing_property, unsupported_property
from .resourcefiles import validate_resource_file
from .wire import (
    DEFAULT_RETENTION,
    DEFAULT_USER_IDENTITY,
    RELEASE_DEFAULT_WALL_CLOCK,
    RELEASE_MAX_WALL_CLOCK,
    UNLIMITED,
    Doc,
    parse_duration,
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
    name and a string value (or none)."""
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
        check_text(item, "value", label=f"{label}.value")
    return items


def windows_refused(name: str) -> BatchError:
    """The 400 for a Windows-only feature."""
    return unsupported_property(
        name, "Windows-only feature: the local Batch emulator runs Linux nodes as local processes."
    )


def node_task_option(value: Any, name: str) -> str:
    """nodeRebootOption / nodeReimageOption / nodeDeallocationOption (default requeue)."""
    return enum_value(value, name, NODE_TASK_OPTIONS, "requeue")


def disable_tasks_option(value: Any) -> str:
    """disableTasks of the disable-job call: requeue, terminate or wait."""
    return enum_value(value or "", "disableTasks", DISABLE_TASKS_OPTIONS, "")


# ---- tasks and their parts ----------------------------------------------------------------------


def check_output_file(output: Any, name: str) -> None:
    """An `outputFiles` item as the service checks it on add: filePattern, destination, uploadOptions."""
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
    check_enum(options, "uploadCondition", ("tasksuccess", "taskfailure", "taskcompletion"), "taskcompletion")


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
    if spec.get("containerSettings"):
        raise unsupported_property(f"{name}.containerSettings", "Container tasks are not emulated locally.")
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
    for name, reason in (
        ("multiInstanceSettings", "Multi-instance tasks are not emulated locally."),
        ("applicationPackageReferences", "Application packages are not emulated locally."),
    ):
        if body.get(name):
            raise unsupported_property(name, reason)
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


def check_pool_info(pool_info: Any) -> Doc:
    """A job's poolInfo: an existing pool's id (auto pools are not emulated)."""
    if not isinstance(pool_info, dict):
        raise missing_property("poolInfo")
    if pool_info.get("autoPoolSpecification"):
        raise unsupported_property(
            "poolInfo.autoPoolSpecification",
            "Auto pools are not supported by the local Batch emulator; create a pool and set poolInfo.poolId.",
        )
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


def job_body(body: Doc) -> JobBody:
    """Check a job-create body (reference §5 and §6)."""
    job_id = check_id(body.get("id"))
    if "poolInfo" not in body:
        raise missing_property("poolInfo")
    if body.get("jobManagerTask"):
        raise unsupported_property("jobManagerTask", "Job manager tasks are not emulated locally.")
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
    return JobBody(job_id, settings, on_failure, prep_doc, release_doc)


# ---- pools --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolBody:
    """A checked pool-create body: the values the service stores beside the body as sent."""

    id: str
    task_slots_per_node: int
    scheduling_policy: Doc
    dedicated: int
    low_priority: int


def pool_body(body: Doc) -> PoolBody:
    """Check a pool-create body: Linux virtual machine configuration, no autoscale, mounts or Windows."""
    pool_id = check_id(body.get("id"))
    check_text(body, "displayName", MAX_DISPLAY_NAME)
    check_name_values(body, "metadata")
    if body.get("cloudServiceConfiguration"):
        raise windows_refused("cloudServiceConfiguration")
    if not body.get("vmSize"):
        raise missing_property("vmSize")
    vmc = body.get("virtualMachineConfiguration")
    if not isinstance(vmc, dict):
        raise missing_property("virtualMachineConfiguration")
    if not vmc.get("imageReference"):
        raise missing_property("virtualMachineConfiguration.imageReference")
    sku = vmc.get("nodeAgentSKUId")
    if not sku:
        raise missing_property("virtualMachineConfiguration.nodeAgentSKUId")
    if "windows" in str(sku).lower() or vmc.get("windowsConfiguration"):
        raise windows_refused("virtualMachineConfiguration.nodeAgentSKUId")
    for name in ("containerConfiguration", "diskEncryptionConfiguration"):
        if vmc.get(name):
            raise unsupported_property(f"virtualMachineConfiguration.{name}", "Not emulated locally.")
    if body.get("enableAutoScale"):
        raise unsupported_property("enableAutoScale", "Autoscale is not emulated; set targetDedicatedNodes.")
    if body.get("mountConfiguration"):
        raise unsupported_property("mountConfiguration", "File system mounts are not emulated locally.")
    for account in check_list(body, "userAccounts"):
        if isinstance(account, dict) and account.get("windowsUserConfiguration"):
            raise windows_refused("userAccounts.windowsUserConfiguration")
    slots = check_int(body, "taskSlotsPerNode", 1, 1, 256)
    policy = body.get("taskSchedulingPolicy") or {}
    fill = check_enum(policy, "nodeFillType", ("spread", "pack"), "spread")
    dedicated = check_int(body, "targetDedicatedNodes", 0, 0, 10000)
    low = check_int(body, "targetLowPriorityNodes", 0, 0, 10000)
    start_task = body.get("startTask")
    if start_task is not None:
        check_task_like(start_task, "startTask")
    parse_duration(body.get("resizeTimeout"), "resizeTimeout")
    return PoolBody(pool_id, slots, {**policy, "nodeFillType": fill}, dedicated, low)


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
