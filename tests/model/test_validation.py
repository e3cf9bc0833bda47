"""The job rules and validation: the corpus of bad specs, unknown values during preview, SAS rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pydantic
import pytest
from job_samples import ACCOUNT, CONTAINER, NOW, RAW_URL, base_job, check, raw_output, sweep

from pulumi_azbatch.model import (
    UNKNOWN,
    JobSpec,
    JobSpecError,
    ValidationFailure,
    parse_job,
)


def test_base_job_is_valid() -> None:
    assert check(base_job()) == []


# --------------------------------------------------------------------------------------------------
# The validation corpus: (name, mutation, property path, fragment of the message)
# --------------------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting a dotted path ("tasks.0.id") to value."""

    def mutate(job: dict[str, Any]) -> None:
        node: Any = job
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(job: dict[str, Any]) -> None:
        node: Any = job
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[parts[-1]]

    return mutate


def _add_task(task: dict[str, Any]) -> Mutation:
    def mutate(job: dict[str, Any]) -> None:
        job["tasks"].append(task)

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(job: dict[str, Any]) -> None:
        for m in mutations:
            m(job)

    return mutate


CORPUS: list[tuple[str, Mutation, str, str]] = [
    (
        "job id with a space",
        _set("id", "my job"),
        "id",
        "job id 'my job' may only contain letters, digits, '-' and '_' (found ' ')",
    ),
    ("job id too long", _set("id", "j" * 65), "id", "65 characters long; Batch allows at most 64"),
    # A YAML block scalar (`id: |`) ends with a newline; `$` alone would let it through.
    (
        "job id ending in a newline",
        _set("id", "job1\n"),
        "id",
        "may only contain letters, digits, '-' and '_' (found '\\n')",
    ),
    ("task id ending in a newline", _set("tasks.0.id", "task1\n"), "tasks[0].id", "may only contain"),
    ("pool id ending in a newline", _set("pool_id", "pool1\n"), "pool_id", "may only contain"),
    ("pool id invalid", _set("pool_id", "pool.1"), "pool_id", "pool id 'pool.1' may only contain"),
    ("missing pool id", _delete("pool_id"), "pool_id", "required property is missing"),
    ("task id with a dot", _set("tasks.0.id", "task.1"), "tasks[0].id", "task id 'task.1' may only contain"),
    (
        "duplicate task id, other case",
        _set("tasks.1.id", "TASK1"),
        "tasks[1].id",
        "'TASK1' is used twice (also at tasks[0].id as 'task1'; task ids are compared case-insensitively)",
    ),
    (
        "task id clashes with preparation",
        _set("tasks.1.id", "JobPreparation"),
        "tasks[1].id",
        "job preparation task's id (job_preparation_task.id); the service rejects it with TaskIdSameAsJobPreparationTask",
    ),
    (
        "task id clashes with release",
        _set("tasks.0.id", "jobrelease"),
        "tasks[0].id",
        "TaskIdSameAsJobReleaseTask",
    ),
    (
        "task id clashes with a custom preparation id",
        _both(_set("job_preparation_task.id", "setup"), _set("tasks.0.id", "Setup")),
        "tasks[0].id",
        "job preparation task's id",
    ),
    (
        "release id same as preparation id",
        _set("job_release_task.id", "JOBPREPARATION"),
        "job_release_task.id",
        "same as the job preparation task id",
    ),
    (
        "release without preparation",
        _delete("job_preparation_task"),
        "job_release_task",
        "a job release task requires a job preparation task",
    ),
    (
        "release longer than 15 minutes",
        _set("job_release_task.max_wall_clock_time", "PT20M"),
        "job_release_task.max_wall_clock_time",
        "at most 15 min; got 20 min",
    ),
    (
        "upload condition TaskComplete typo",
        _set("tasks.0.output_files.0.upload_condition", "TaskComplete"),
        "tasks[0].output_files[0].upload_condition",
        "unknown upload condition 'TaskComplete'; did you mean 'taskcompletion'?",
    ),
    (
        "upload condition nonsense",
        _set("tasks.1.output_files.0.upload_condition", "whenever"),
        "tasks[1].output_files[0].upload_condition",
        "unknown upload condition 'whenever' (allowed: tasksuccess, taskfailure, taskcompletion)",
    ),
    (
        "backslash pattern on Linux",
        _set("tasks.0.output_files.0.file_pattern", "..\\std*.txt"),
        "tasks[0].output_files[0].file_pattern",
        "can never match; use '../std*.txt'",
    ),
    (
        "dot-file-only class pattern",
        _set("tasks.1.output_files.0.file_pattern", "[.]env"),
        "tasks[1].output_files[0].file_pattern",
        "can only match names starting with '.'",
    ),
    (
        "two tasks write the same blob",
        _add_task(
            {"id": "task3", "command_line": "x", "output_files": [raw_output(path="task2/result.txt")]}
        ),
        "tasks[2].output_files[0]",
        "writes blob 'task2/result.txt', which task 'task2' also writes (tasks[1].output_files[0])",
    ),
    (
        "two tasks upload the same wildcard into one directory",
        _both(
            _set("tasks.0.output_files", [raw_output(file_pattern="../std*.txt", path="logs")]),
            _set("tasks.1.output_files", [raw_output(file_pattern="../std*.txt", path="logs/")]),
        ),
        "tasks[1].output_files[0]",
        "files with the same name overwrite each other",
    ),
    (
        "wildcard output may overwrite another task's blob",
        _both(
            _set("tasks.0.output_files", [raw_output(file_pattern="*.txt", path="shared")]),
            _set("tasks.1.output_files", [raw_output(path="shared/result.txt")]),
        ),
        "tasks[0].output_files[0]",
        "may overwrite blob 'shared/result.txt' written by task 'task2'",
    ),
    (
        "depends_on without uses_task_dependencies",
        _set("tasks.1.depends_on", {"task_ids": ["task1"]}),
        "tasks[1].depends_on",
        "the job does not set uses_task_dependencies: true",
    ),
    (
        "depends_on an unknown task",
        _both(_set("uses_task_dependencies", True), _set("tasks.1.depends_on", {"task_ids": ["tsk1"]})),
        "tasks[1].depends_on.task_ids[0]",
        "depends on 'tsk1', which is not a task of this job; did you mean 'task1'?",
    ),
    (
        "depends on itself",
        _both(_set("uses_task_dependencies", True), _set("tasks.1.depends_on", {"task_ids": ["Task2"]})),
        "tasks[1].depends_on.task_ids[0]",
        "task 'task2' depends on itself",
    ),
    (
        "task id range reversed",
        _both(
            _set("uses_task_dependencies", True),
            _set("tasks.1.depends_on", {"task_id_ranges": [{"start": 9, "end": 1}]}),
        ),
        "tasks[1].depends_on.task_id_ranges[0]",
        "task id range start 9 is greater than end 1",
    ),
    (
        "SAS without write",
        _set("tasks.1.output_files.0.container_url", f"{ACCOUNT}/results?sp=rl&sig=x"),
        "tasks[1].output_files[0].container_url",
        "the SAS grants 'rl' but lacks w (write) (grant at least 'cw'",
    ),
    (
        "SAS with create but no write",
        _set("tasks.1.output_files.0.container_url", f"{ACCOUNT}/results?sp=c&sig=x"),
        "tasks[1].output_files[0].container_url",
        "lacks w (write)",
    ),
    (
        "SAS already expired",
        _set(
            "tasks.1.output_files.0.container_url", f"{ACCOUNT}/results?sp=cw&se=2029-12-31T00:00:00Z&sig=x"
        ),
        "tasks[1].output_files[0].container_url",
        "the SAS expired at 2029-12-31T00:00:00Z",
    ),
    (
        "SAS expires before the job can finish",
        _set("constraints", {"max_wall_clock_time": "P30D"}),
        "output_container_url",
        "expires at 2030-01-08T00:00:00Z, before the job can finish (constraints.max_wall_clock_time is 30 days",
    ),
    (
        "container URL without SAS or identity",
        _set("tasks.1.output_files.0.container_url", f"{ACCOUNT}/results"),
        "tasks[1].output_files[0].container_url",
        "has no SAS (no 'sig' parameter)",
    ),
    (
        "job output container SAS without write",
        _set("output_container_url", f"{ACCOUNT}/{CONTAINER}?sp=r&sig=x"),
        "output_container_url",
        "lacks w (write)",
    ),
    (
        "output container is not the conventions container",
        _set("output_container_url", RAW_URL),
        "output_container_url",
        f"File Conventions outputs need the job's container '{CONTAINER}', but the URL names 'results'",
    ),
    (
        "resource file with two sources",
        _set(
            "tasks.0.resource_files",
            [{"http_url": "https://x/a", "auto_storage_container_name": "c", "file_path": "a"}],
        ),
        "tasks[0].resource_files[0]",
        "set exactly one of http_url, storage_container_url or auto_storage_container_name (found http_url, "
        "auto_storage_container_name)",
    ),
    (
        "resource file with no source",
        _set("tasks.0.resource_files", [{"file_path": "a"}]),
        "tasks[0].resource_files[0]",
        "set exactly one of http_url",
    ),
    (
        "http resource file without file_path",
        _set("job_preparation_task.resource_files", [{"http_url": "https://x/a.txt"}]),
        "job_preparation_task.resource_files[0].file_path",
        "file_path is required with http_url",
    ),
    (
        "resource file escaping the working directory",
        _set("tasks.0.resource_files", [{"http_url": "https://x/a.txt", "file_path": "../../etc/a.txt"}]),
        "tasks[0].resource_files[0].file_path",
        "may not contain '..'",
    ),
    (
        "resource file absolute path",
        _set(
            "job_release_task.resource_files",
            [{"auto_storage_container_name": "c", "file_path": "/opt/data"}],
        ),
        "job_release_task.resource_files[0].file_path",
        "must be relative to the task's working directory",
    ),
    (
        "resource container SAS without list",
        _set("tasks.0.resource_files", [{"storage_container_url": f"{ACCOUNT}/inputs?sp=r&sig=x"}]),
        "tasks[0].resource_files[0].storage_container_url",
        "lacks l (list)",
    ),
    (
        "resource file bad mode",
        _set(
            "tasks.0.resource_files",
            [{"http_url": "https://x/a.sh", "file_path": "a.sh", "file_mode": "rwx"}],
        ),
        "tasks[0].resource_files[0].file_mode",
        "must be an octal mode",
    ),
    (
        "blob_prefix with http_url",
        _set(
            "tasks.0.resource_files",
            [{"http_url": "https://x/a.sh", "file_path": "a.sh", "blob_prefix": "a"}],
        ),
        "tasks[0].resource_files[0].blob_prefix",
        "only applies to storage_container_url",
    ),
    ("priority out of range", _set("priority", 2000), "priority", "less than or equal to 1000; got 2000"),
    (
        "max_parallel_tasks zero",
        _set("max_parallel_tasks", 0),
        "max_parallel_tasks",
        "-1 (unlimited) or at least 1",
    ),
    (
        "camelCase property",
        _set("tasks.0.commandLine", "x"),
        "tasks[0].commandLine",
        "unknown property 'commandLine'; did you mean 'command_line'? (property names are snake_case)",
    ),
    (
        "on_all_tasks_complete typo",
        _set("on_all_tasks_complete", "terminate"),
        "on_all_tasks_complete",
        "did you mean 'terminatejob'?",
    ),
    (
        "user identity with both",
        _set("tasks.0.user_identity", {"username": "u", "auto_user": {"scope": "task"}}),
        "tasks[0].user_identity",
        "set exactly one of user_identity.username or user_identity.auto_user",
    ),
    (
        "elevation typo",
        _set("tasks.0.user_identity", {"auto_user": {"elevation_level": "administrator"}}),
        "tasks[0].user_identity.auto_user.elevation_level",
        "unknown elevation level 'administrator'",
    ),
    (
        "job action without performexitoptionsjobaction",
        _set(
            "tasks.0.exit_conditions",
            {"exit_codes": [{"code": 3, "exit_options": {"job_action": "terminate"}}]},
        ),
        "tasks[0].exit_conditions.exit_codes[0].exit_options.job_action",
        "needs the job's on_task_failure to be 'performexitoptionsjobaction'",
    ),
    (
        "kind and container_url together",
        _set("tasks.0.output_files.0.container_url", RAW_URL),
        "tasks[0].output_files[0]",
        "takes its container and path from the conventions",
    ),
    (
        "kind typo",
        _set("tasks.0.output_files.0.kind", "TaskLogs"),
        "tasks[0].output_files[0].kind",
        "unknown File Conventions kind 'TaskLogs'; did you mean 'TaskLog'?",
    ),
    (
        "conventions output without output container",
        _delete("output_container_url"),
        "tasks[0].output_files[0]",
        "needs the job's output_container_url",
    ),
    (
        "rooted relative_path",
        _set("tasks.0.output_files.0.relative_path", "/var/log"),
        "tasks[0].output_files[0].relative_path",
        "is rooted",
    ),
    (
        "output without destination",
        _set("tasks.1.output_files.0", {"file_pattern": "x.txt"}),
        "tasks[1].output_files[0]",
        "an output file needs a destination",
    ),
    (
        "required_slots zero",
        _set("tasks.0.required_slots", 0),
        "tasks[0].required_slots",
        "greater than or equal to 1; got 0",
    ),
    (
        "negative duration",
        _set("tasks.0.constraints", {"max_wall_clock_time": -5}),
        "tasks[0].constraints.max_wall_clock_time",
        "must be a positive duration, got -5 s",
    ),
    ("tasks not a list", _set("tasks", {"id": "x"}), "tasks", "Input should be a valid list"),
    ("empty command line", _set("tasks.0.command_line", ""), "tasks[0].command_line", "at least 1 character"),
    (
        "sweep step zero",
        _set("task_factories", [sweep(parameter_sets=[{"start": 1, "end": 3, "step": 0}])]),
        "task_factories[0].parameter_sets[0]",
        "step must not be 0",
    ),
    (
        "sweep step in the wrong direction",
        _set("task_factories", [sweep(parameter_sets=[{"start": 5, "end": 1, "step": 1}])]),
        "task_factories[0].parameter_sets[0]",
        "use a negative step",
    ),
    (
        "sweep placeholder beyond its parameters",
        _set("task_factories", [sweep(repeat_task={"command_line": "render {0} {1}"})]),
        "task_factories[0]",
        "placeholder {1} but the factory gives only 1 value(s)",
    ),
    (
        "unknown factory type",
        _set("task_factories", [sweep(type="task_per_file")]),
        "task_factories[0]",
        "does not match any of the expected tags",
    ),
    (
        "generated ids invalid",
        _set("task_factories", [sweep(id_prefix="frame no")]),
        "task_factories[0].id_prefix",
        "task id 'frame no-00000' may only contain letters, digits, '-' and '_' (found ' ') (and 2 more generated task(s))",
    ),
    (
        "generated id clashes with a task",
        _set("task_factories", [sweep(repeat_task={"id": "task{0}", "command_line": "render {0}"})]),
        "task_factories[0].repeat_task.id",
        "task id 'task1' is used twice (also at tasks[0].id)",
    ),
    (
        "generated outputs overwrite each other",
        _set(
            "task_factories",
            [
                sweep(
                    repeat_task={
                        "command_line": "render {0}",
                        "output_files": [raw_output(path="frames/frame.png", file_pattern="f{0}.png")],
                    }
                )
            ],
        ),
        "task_factories[0].repeat_task.output_files[0]",
        "writes blob 'frames/frame.png'",
    ),
    (
        "per-item factory without items",
        _set(
            "task_factories",
            [{"type": "task_per_item", "items": [], "repeat_task": {"command_line": "x {0}"}}],
        ),
        "task_factories[0].items",
        "List should have at least 1 item",
    ),
    ("wait_for typo", _set("wait_for", "task"), "wait_for", "did you mean 'tasks'?"),
    (
        "on_destroy unknown",
        _set("on_destroy", "retain"),
        "on_destroy",
        "allowed: terminate_then_delete, terminate, delete",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "path", "fragment"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_validation_corpus(mutation: Mutation, path: str, fragment: str) -> None:
    job = base_job()
    mutation(job)
    failures = check(job)
    matching = [f for f in failures if f.property == path]
    assert matching, f"no failure at {path!r}; got {failures}"
    assert any(fragment in f.reason for f in matching), f"{fragment!r} not in {[f.reason for f in matching]}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


def test_exclusive_upload_conditions_may_share_a_blob() -> None:
    # Success and failure outputs of one task never both upload, so the same blob name is fine.
    job = base_job()
    job["tasks"][1]["output_files"] = [
        raw_output(path="task2/result.txt", upload_condition="TaskSuccess"),
        raw_output(file_pattern="partial.txt", path="task2/result.txt", upload_condition="taskfailure"),
    ]
    assert check(job) == []


def test_conditions_are_case_insensitive_and_stored_lower_case() -> None:
    job = base_job()
    job["tasks"][1]["output_files"][0]["upload_condition"] = "TaskSuccess"
    spec = parse_job(job, now=NOW)
    assert spec.tasks[1].output_files[0].upload_condition == "tasksuccess"


def test_windows_pools_accept_backslashes() -> None:
    job = base_job()
    job["node_os"] = "windows"
    job["tasks"][0]["output_files"][0]["file_pattern"] = "..\\std*.txt"
    assert check(job) == []


def test_identity_reference_replaces_the_sas() -> None:
    job = base_job()
    job["tasks"][1]["output_files"][0]["container_url"] = f"{ACCOUNT}/results"
    job["tasks"][1]["output_files"][0]["identity_reference"] = {"resource_id": "/subscriptions/s/uami"}
    assert check(job) == []


def test_all_failures_are_reported_together() -> None:
    job = base_job()
    job["tasks"][0]["id"] = "bad id"
    del job["job_preparation_task"]
    job["job_release_task"]["max_wall_clock_time"] = "PT1H"
    props = {f.property for f in check(job)}
    assert {"tasks[0].id", "job_release_task", "job_release_task.max_wall_clock_time"} <= props


def test_constructing_a_job_spec_raises_with_every_property_named() -> None:
    job = base_job()
    job["tasks"][1]["id"] = "Task1"
    job["job_release_task"]["max_wall_clock_time"] = "PT16M"
    with pytest.raises(pydantic.ValidationError) as info:
        JobSpec.model_validate(job)
    text = str(info.value)
    assert "tasks[1].id: task id 'Task1' is used twice" in text
    assert "job_release_task.max_wall_clock_time: a job release task may run at most 15 min" in text


def test_parse_job_raises_job_spec_error_with_failures() -> None:
    job = base_job()
    job["tasks"][0]["output_files"][0]["upload_condition"] = "TaskComplete"
    with pytest.raises(JobSpecError) as info:
        parse_job(job, now=NOW)
    assert [f.property for f in info.value.failures] == ["tasks[0].output_files[0].upload_condition"]
    assert "did you mean 'taskcompletion'" in str(info.value)


def test_failures_mirror_pulumi_check_failures() -> None:
    failure = ValidationFailure("tasks[0].id", "bad")
    assert (failure.property, failure.reason) == ("tasks[0].id", "bad")
    assert str(failure) == "tasks[0].id: bad"


# --------------------------------------------------------------------------------------------------
# Unknown values during preview
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutation",
    [
        _set("id", UNKNOWN),
        _set("pool_id", UNKNOWN),
        _set("priority", UNKNOWN),
        _set("uses_task_dependencies", UNKNOWN),
        _set("constraints", UNKNOWN),
        _set("constraints", {"max_wall_clock_time": UNKNOWN}),
        _set("output_container_url", UNKNOWN),
        _set("job_preparation_task", UNKNOWN),
        _set("job_release_task", {"command_line": "x", "max_wall_clock_time": UNKNOWN}),
        _set("tasks", UNKNOWN),
        _set("tasks.0", UNKNOWN),
        _set("tasks.0.id", UNKNOWN),
        _set("tasks.0.command_line", UNKNOWN),
        _set("tasks.0.output_files", UNKNOWN),
        _set("tasks.1.output_files.0.container_url", UNKNOWN),
        _set("tasks.1.output_files.0.upload_condition", UNKNOWN),
        _set("tasks.1.output_files.0.path", UNKNOWN),
        _set("tasks.0.required_slots", UNKNOWN),
        _set("tasks.0.environment_settings", {"A": UNKNOWN}),
        _set("tasks.0.resource_files", [{"http_url": UNKNOWN, "file_path": "a"}]),
        _set("metadata", UNKNOWN),
        _set("task_factories", [sweep(parameter_sets=[{"start": 1, "end": UNKNOWN}])]),
        _set(
            "task_factories",
            [{"type": "task_per_item", "items": UNKNOWN, "repeat_task": {"command_line": "x {0}"}}],
        ),
        _set("wait_timeout", UNKNOWN),
    ],
)
def test_unknown_values_are_tolerated(mutation: Mutation) -> None:
    job = base_job()
    mutation(job)
    assert check(job) == []


def test_rules_reading_unknown_values_are_skipped_but_others_still_apply() -> None:
    job = base_job()
    job["tasks"][1]["depends_on"] = {"task_ids": ["task1", "later"]}
    job["uses_task_dependencies"] = UNKNOWN  # cannot tell whether depends_on is allowed
    job["tasks"][0]["id"] = UNKNOWN  # 'later' might be this task: no unknown-task failure
    job["tasks"][1]["output_files"][0]["container_url"] = UNKNOWN  # SAS rules skipped
    job["job_release_task"]["max_wall_clock_time"] = "PT30M"  # known and wrong
    assert [str(f) for f in check(job)] == [
        "job_release_task.max_wall_clock_time: a job release task may run at most 15 min; got 30 min"
    ]


def test_unknown_sas_expiry_inputs_skip_the_expiry_rule() -> None:
    job = base_job()
    job["constraints"] = {"max_wall_clock_time": UNKNOWN}
    job["output_container_url"] = f"{ACCOUNT}/{CONTAINER}?sp=cw&se=2030-01-01T01:00:00Z&sig=x"
    assert check(job) == []
    job["constraints"] = {"max_wall_clock_time": "PT2H"}
    assert [f.property for f in check(job)] == ["output_container_url"]


def test_parse_job_rejects_unknown_values() -> None:
    job = base_job()
    job["tasks"][0]["command_line"] = UNKNOWN
    with pytest.raises(JobSpecError) as info:
        parse_job(job, now=NOW)
    assert info.value.failures == [
        ValidationFailure("tasks[0].command_line", "value is unknown (only allowed during preview)")
    ]


def test_an_invalid_job_id_is_reported_once() -> None:
    job = base_job()
    job["id"] = "my job"
    assert [f.property for f in check(job)] == ["id"]


def test_unknown_task_ids_do_not_look_like_duplicates_or_shared_blobs() -> None:
    job = base_job()
    job["tasks"][1] = {
        "id": UNKNOWN,
        "command_line": "x",
        "output_files": [{"file_pattern": "a.txt", "kind": "TaskOutput"}],
    }
    job["tasks"].append(
        {
            "id": UNKNOWN,
            "command_line": "y",
            "output_files": [{"file_pattern": "a.txt", "kind": "TaskOutput"}],
        }
    )
    assert check(job) == []
    # With known ids the same outputs are fine too (the task id is in the path)...
    job["tasks"][1]["id"], job["tasks"][2]["id"] = "a", "b"
    assert check(job) == []
    # ...and equal known ids are reported (blob names are case-sensitive, so only the id clashes).
    job["tasks"][2]["id"] = "A"
    assert [f.property for f in check(job)] == ["tasks[2].id"]


def test_unknown_factory_items_hide_generated_ids_from_dependency_checks() -> None:
    job = base_job()
    job["uses_task_dependencies"] = True
    job["tasks"][1]["depends_on"] = {"task_ids": ["item-a"]}
    job["task_factories"] = [
        {
            "type": "task_per_item",
            "items": UNKNOWN,
            "repeat_task": {"id": "item-{0}", "command_line": "x {0}"},
        }
    ]
    assert check(job) == []
    job["task_factories"][0]["items"] = ["b"]
    assert [f.property for f in check(job)] == ["tasks[1].depends_on.task_ids[0]"]
    job["task_factories"][0]["items"] = ["a", "b"]
    assert check(job) == []


def test_unknown_preparation_task_does_not_trigger_the_release_rule() -> None:
    job = base_job()
    job["job_preparation_task"] = UNKNOWN
    assert check(job) == []
    del job["job_preparation_task"]
    assert [f.property for f in check(job)] == ["job_release_task"]


@pytest.mark.parametrize(
    ("permission", "problem"),
    [
        ({"create": True, "write": True}, None),
        ({"read": True, "add": True, "create": True, "write": True, "list": True}, None),
        ({"read": True, "list": True}, "lacks w (write)"),
        ({"create": True}, "lacks w (write)"),
    ],
)
def test_sas_rules_read_real_storage_sas_tokens(permission: dict[str, bool], problem: str | None) -> None:
    # Tokens as azure-storage-blob writes them: URL-encoded expiry, canonical permission order.
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from pulumi_azbatch.localdev import AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME

    token = generate_container_sas(
        AZURITE_ACCOUNT_NAME,
        CONTAINER,
        account_key=AZURITE_ACCOUNT_KEY,
        permission=ContainerSasPermissions(**permission),
        expiry=NOW + timedelta(days=7),
    )
    assert "%3A" in token  # the expiry really is encoded
    job = base_job()
    job["output_container_url"] = f"{ACCOUNT}/{CONTAINER}?{token}"
    job["constraints"] = {"max_wall_clock_time": "P6D"}
    failures = check(job)
    if problem is None:
        assert failures == []
    else:
        assert [f.property for f in failures] == ["output_container_url"]
        assert problem in failures[0].reason
    job["constraints"] = {"max_wall_clock_time": "P8D"}
    assert any("before the job can finish" in f.reason for f in check(job))
