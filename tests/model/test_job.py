"""The job and its tasks mapped to azure.batch.models (the REST wire shape), output resolution, job ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from job_samples import ACCOUNT, JOB_ID, NOW, OUTPUT_URL, RAW_URL, base_job, check, raw_output

from pulumi_azbatch.model import (
    OutputFileSpec,
    make_job_id,
    parse_job,
    resolve_output_file,
)

# --------------------------------------------------------------------------------------------------
# Mapping to azure.batch.models, compared with the REST wire shape
# --------------------------------------------------------------------------------------------------


def full_job() -> dict[str, Any]:
    job = base_job()
    job.update(
        display_name="Prep and release sample",
        priority=100,
        max_parallel_tasks=4,
        allow_task_preemption=True,
        uses_task_dependencies=True,
        constraints={"max_wall_clock_time": "PT2H", "max_task_retry_count": 2},
        common_environment_settings={"STAGE": "test", "EMPTY": ""},
        metadata={"owner": "team-a"},
        on_all_tasks_complete="TerminateJob",
        on_task_failure="PerformExitOptionsJobAction",
        on_destroy="terminate",
        wait_for="tasks",
        wait_timeout="PT30M",
    )
    job["job_preparation_task"] = {
        "id": "prep",
        "command_line": "/bin/sh -c 'echo prep'",
        "container_settings": {
            "image_name": "alpine:3",
            "container_run_options": "--rm",
            "registry": {"registry_server": "r.io", "username": "u", "password": "p"},
            "working_directory": "taskworkingdirectory",
            "container_host_batch_bind_mounts": [{"source": "shared", "is_read_only": True}],
        },
        "resource_files": [{"http_url": "https://h/a.sh", "file_path": "a.sh", "file_mode": "0755"}],
        "environment_settings": {"P": "1"},
        "constraints": {"max_wall_clock_time": "PT10M", "retention_time": "P1D", "max_task_retry_count": 1},
        "wait_for_success": False,
        "user_identity": {"auto_user": {"scope": "Task", "elevation_level": "Admin"}},
        "rerun_on_node_reboot_after_success": False,
    }
    job["job_release_task"] = {
        "id": "release",
        "command_line": "/bin/sh -c 'echo release'",
        "resource_files": [
            {"storage_container_url": f"{ACCOUNT}/in?sp=rl&sig=x", "blob_prefix": "cfg/", "file_path": "cfg"}
        ],
        "environment_settings": {"R": "2"},
        "max_wall_clock_time": "PT5M",
        "retention_time": "PT12H",
        "user_identity": {"username": "batchuser"},
    }
    job["tasks"][1].update(
        display_name="Task two",
        environment_settings={"X": "y"},
        constraints={"max_wall_clock_time": "PT1M30S", "retention_time": "P7D", "max_task_retry_count": 0},
        exit_conditions={
            "exit_codes": [
                {"code": 3, "exit_options": {"job_action": "terminate", "dependency_action": "block"}}
            ],
            "exit_code_ranges": [{"start": 10, "end": 20, "exit_options": {"job_action": "disable"}}],
            "pre_processing_error": {"job_action": "terminate"},
            "file_upload_error": {"dependency_action": "satisfy"},
            "default": {"job_action": "none"},
        },
        required_slots=2,
        depends_on={"task_ids": ["task1"], "task_id_ranges": [{"start": 1, "end": 5}]},
        resource_files=[{"auto_storage_container_name": "inputs", "blob_prefix": "x/"}],
        user_identity={"auto_user": {"scope": "pool", "elevation_level": "nonadmin"}},
    )
    job["tasks"][1]["output_files"] = [
        raw_output(
            path="task2/result.txt",
            upload_condition="TaskSuccess",
            upload_headers={"x-ms-blob-content-type": "text/plain"},
        ),
        {
            "file_pattern": "out/**/*.csv",
            "kind": "TaskOutput",
            "relative_path": "tables",
            "upload_condition": "taskfailure",
        },
        {"file_pattern": "summary.json", "kind": "JobOutput"},
        {"file_pattern": "thumbs/*.png", "custom_kind": "Thumbnails"},
        {"file_pattern": "preview.png", "kind": "TaskPreview", "relative_path": "..\\small\\p.png"},
    ]
    return job


def test_job_create_wire_shape() -> None:
    spec = parse_job(full_job(), now=NOW)
    assert spec.to_batch_job_create().as_dict() == {
        "id": JOB_ID,
        "displayName": "Prep and release sample",
        "poolInfo": {"poolId": "JobPrepReleaseSamplePool"},
        "priority": 100,
        "maxParallelTasks": 4,
        "allowTaskPreemption": True,
        "usesTaskDependencies": True,
        "constraints": {"maxWallClockTime": "PT02H00M00S", "maxTaskRetryCount": 2},
        "commonEnvironmentSettings": [{"name": "STAGE", "value": "test"}, {"name": "EMPTY", "value": ""}],
        "metadata": [{"name": "owner", "value": "team-a"}],
        # Always created with noaction: the provider sets terminatejob after adding the tasks.
        "onAllTasksComplete": "noaction",
        "onTaskFailure": "performexitoptionsjobaction",
        "jobPreparationTask": {
            "id": "prep",
            "commandLine": "/bin/sh -c 'echo prep'",
            "containerSettings": {
                "imageName": "alpine:3",
                "containerRunOptions": "--rm",
                "registry": {"registryServer": "r.io", "username": "u", "password": "p"},
                "workingDirectory": "taskWorkingDirectory",
                "containerHostBatchBindMounts": [{"source": "Shared", "isReadOnly": True}],
            },
            "resourceFiles": [{"httpUrl": "https://h/a.sh", "filePath": "a.sh", "fileMode": "0755"}],
            "environmentSettings": [{"name": "P", "value": "1"}],
            "constraints": {"maxWallClockTime": "PT10M00S", "retentionTime": "P1D", "maxTaskRetryCount": 1},
            "waitForSuccess": False,
            "userIdentity": {"autoUser": {"scope": "task", "elevationLevel": "admin"}},
            "rerunOnNodeRebootAfterSuccess": False,
        },
        "jobReleaseTask": {
            "id": "release",
            "commandLine": "/bin/sh -c 'echo release'",
            "resourceFiles": [
                {"storageContainerUrl": f"{ACCOUNT}/in?sp=rl&sig=x", "blobPrefix": "cfg/", "filePath": "cfg"}
            ],
            "environmentSettings": [{"name": "R", "value": "2"}],
            "maxWallClockTime": "PT05M00S",
            "retentionTime": "PT12H00M00S",
            "userIdentity": {"username": "batchuser"},
        },
    }
    assert spec.on_all_tasks_complete == "terminatejob"
    assert spec.to_batch_job_update(["on_all_tasks_complete"]).as_dict() == {
        "onAllTasksComplete": "terminatejob"
    }


def test_job_update_carries_only_updatable_fields() -> None:
    spec = parse_job(full_job(), now=NOW)
    assert spec.to_batch_job_update(["priority", "metadata", "constraints"]).as_dict() == {
        "priority": 100,
        "metadata": [{"name": "owner", "value": "team-a"}],
        "constraints": {"maxWallClockTime": "PT02H00M00S", "maxTaskRetryCount": 2},
    }
    with pytest.raises(ValueError, match="not updatable in place: job_preparation_task"):
        spec.to_batch_job_update(["job_preparation_task"])


def test_preparation_and_release_defaults_match_the_service() -> None:
    spec = parse_job(base_job(), now=NOW)
    wire = spec.to_batch_job_create().as_dict()
    assert wire["jobPreparationTask"] == {
        "id": "jobpreparation",
        "commandLine": base_job()["job_preparation_task"]["command_line"],
        "constraints": {"retentionTime": "P7D", "maxTaskRetryCount": 0},
        "waitForSuccess": True,
        "rerunOnNodeRebootAfterSuccess": True,
    }
    assert wire["jobReleaseTask"] == {
        "id": "jobrelease",
        "commandLine": base_job()["job_release_task"]["command_line"],
        "maxWallClockTime": "PT15M00S",
        "retentionTime": "P7D",
    }
    assert (spec.on_destroy, spec.wait_for, spec.wait_timeout) == (
        "terminate_then_delete",
        "none",
        timedelta(hours=1),
    )


def test_task_create_wire_shape_with_conventions_resolved() -> None:
    spec = parse_job(full_job(), now=NOW)
    creates = spec.to_batch_task_creates()
    assert [c.id for c in creates] == ["task1", "task2"]

    def out(
        pattern: str, path: str, condition: str = "taskcompletion", url: str = OUTPUT_URL
    ) -> dict[str, Any]:
        return {
            "filePattern": pattern,
            "destination": {"container": {"containerUrl": url, "path": path}},
            "uploadOptions": {"uploadCondition": condition},
        }

    assert creates[0].as_dict() == {
        "id": "task1",
        "commandLine": base_job()["tasks"][0]["command_line"],
        # A wildcard pattern gets the conventions virtual directory.
        "outputFiles": [out("../std*.txt", "task1/$TaskLog")],
    }
    raw = out("result.txt", "task2/result.txt", "tasksuccess", RAW_URL)
    raw["destination"]["container"]["uploadHeaders"] = [
        {"name": "x-ms-blob-content-type", "value": "text/plain"}
    ]
    assert creates[1].as_dict() == {
        "id": "task2",
        "displayName": "Task two",
        "commandLine": "/bin/sh -c 'echo hello > result.txt'",
        "environmentSettings": [{"name": "X", "value": "y"}],
        "resourceFiles": [{"autoStorageContainerName": "inputs", "blobPrefix": "x/"}],
        "constraints": {"maxWallClockTime": "PT01M30S", "retentionTime": "P7D", "maxTaskRetryCount": 0},
        "exitConditions": {
            "exitCodes": [
                {"code": 3, "exitOptions": {"jobAction": "terminate", "dependencyAction": "block"}}
            ],
            "exitCodeRanges": [{"start": 10, "end": 20, "exitOptions": {"jobAction": "disable"}}],
            "preProcessingError": {"jobAction": "terminate"},
            "fileUploadError": {"dependencyAction": "satisfy"},
            "default": {"jobAction": "none"},
        },
        "requiredSlots": 2,
        "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
        "dependsOn": {"taskIds": ["task1"], "taskIdRanges": [{"start": 1, "end": 5}]},
        "outputFiles": [
            raw,
            out("out/**/*.csv", "task2/$TaskOutput/tables", "taskfailure"),
            out("summary.json", "$JobOutput/summary.json"),
            out("thumbs/*.png", "task2/$Thumbnails"),
            out("preview.png", "task2/$TaskPreview/small/p.png"),
        ],
    }


@pytest.mark.parametrize(
    ("output", "expected_path"),
    [
        ({"file_pattern": "../stdout.txt", "kind": "TaskLog"}, "t-1/$TaskLog/stdout.txt"),
        ({"file_pattern": "../std*.txt", "kind": "TaskLog"}, "t-1/$TaskLog"),
        ({"file_pattern": "out/result.txt", "kind": "TaskOutput"}, "t-1/$TaskOutput/out/result.txt"),
        (
            {"file_pattern": "out/result.txt", "kind": "TaskOutput", "relative_path": "r.txt"},
            "t-1/$TaskOutput/r.txt",
        ),
        (
            {"file_pattern": "/mnt/data/final.bin", "kind": "TaskIntermediate"},
            "t-1/$TaskIntermediate/final.bin",
        ),
        ({"file_pattern": "$AZ_BATCH_TASK_DIR/stderr.txt", "kind": "TaskLog"}, "t-1/$TaskLog/stderr.txt"),
        ({"file_pattern": "frames/f?.png", "kind": "TaskPreview"}, "t-1/$TaskPreview"),
        (
            {"file_pattern": "merged.txt", "kind": "JobOutput", "relative_path": "out/merged.txt"},
            "$JobOutput/out/merged.txt",
        ),
        ({"file_pattern": "p/*.png", "kind": "JobPreview"}, "$JobPreview"),
    ],
)
def test_resolve_output_file_paths(output: dict[str, Any], expected_path: str) -> None:
    resolved = resolve_output_file(
        OutputFileSpec.model_validate(output), task_id="t-1", output_container_url=OUTPUT_URL, job_id=JOB_ID
    )
    assert (resolved.container_url, resolved.path, resolved.kind) == (OUTPUT_URL, expected_path, None)


def test_resolve_output_file_checks_the_container_name_and_url() -> None:
    output = OutputFileSpec(file_pattern="a.txt", kind="TaskOutput")
    with pytest.raises(ValueError, match="has no output_container_url"):
        resolve_output_file(output, task_id="t", output_container_url=None)
    with pytest.raises(ValueError, match="container of job 'other' is 'job-other'"):
        resolve_output_file(output, task_id="t", output_container_url=OUTPUT_URL, job_id="other")
    raw = OutputFileSpec(file_pattern="a.txt", container_url=RAW_URL, path="p/a.txt")
    assert resolve_output_file(raw, task_id="t", output_container_url=None) is raw


def test_make_job_id() -> None:
    assert make_job_id("render job", "a1b2c3d") == "render-job-a1b2c3d"
    long = make_job_id("x" * 100, "abcdefg")
    assert len(long) == 64 and long.endswith("-abcdefg")
    assert make_job_id("weird/name:1", "zz") == "weird-name-1-zz"
    assert check({"id": make_job_id("ünïcode name!", "zz"), "pool_id": "p"}) == []


def test_split_job_inputs_separates_provider_properties() -> None:
    from pulumi_azbatch.spec import split_job_inputs

    spec, rest = split_job_inputs({**base_job(), "__provider": "x", "batch_account_url": "http://b"})
    assert check(spec) == []
    assert rest == {"__provider": "x", "batch_account_url": "http://b"}


def test_the_documented_yaml_example_is_valid_and_expands() -> None:
    import pathlib
    import re as _re

    import yaml

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "job-model.md").read_text()
    block = _re.search(r"```yaml\n(.*?)```", doc, _re.S)
    assert block is not None
    raw = yaml.safe_load(block.group(1))
    spec = parse_job(raw, now=NOW)
    assert [t.id for t in spec.expand_tasks()] == ["merge", "frame-0001", "frame-0002"]
    wire = spec.to_batch_task_creates()
    assert wire[0].output_files[0].destination.container.path == "$JobOutput/merged.txt"
    assert [o.destination.container.path for o in wire[1].output_files] == [
        "frame-0001/$TaskOutput/frame1.txt",
        "frame-0001/$TaskLog",
    ]
