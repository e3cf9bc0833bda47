"""A valid sample job (the seed's JobPrepRelease sample with outputs) and the clock the model tests use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.model import (
    ValidationFailure,
    validate_job,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ACCOUNT = "http://127.0.0.1:10000/devstoreaccount1"
SAS = "sv=2023-11-03&sr=c&sp=racwl&se=2030-01-08T00:00:00Z&sig=c2lnbmF0dXJl"
JOB_ID = "JobPrepReleaseSampleJob"
CONTAINER = job_output_container_name(JOB_ID)
OUTPUT_URL = f"{ACCOUNT}/{CONTAINER}?{SAS}"
RAW_URL = f"{ACCOUNT}/results?{SAS}"


def base_job() -> dict[str, Any]:
    """A valid job in the shape of the seed's JobPrepRelease sample, with outputs."""
    return {
        "id": JOB_ID,
        "pool_id": "JobPrepReleaseSamplePool",
        "output_container_url": OUTPUT_URL,
        "job_preparation_task": {
            "command_line": "/bin/sh -c 'echo $AZ_BATCH_NODE_ID > $AZ_BATCH_NODE_SHARED_DIR/shared_file.txt'"
        },
        "job_release_task": {"command_line": "/bin/sh -c 'rm $AZ_BATCH_NODE_SHARED_DIR/shared_file.txt'"},
        "tasks": [
            {
                "id": "task1",
                "command_line": "/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/shared_file.txt'",
                "output_files": [{"file_pattern": "../std*.txt", "kind": "TaskLog"}],
            },
            {
                "id": "task2",
                "command_line": "/bin/sh -c 'echo hello > result.txt'",
                "output_files": [
                    {"file_pattern": "result.txt", "container_url": RAW_URL, "path": "task2/result.txt"}
                ],
            },
        ],
    }


def check(raw: dict[str, Any]) -> list[ValidationFailure]:
    return validate_job(raw, now=NOW)


def raw_output(**fields: Any) -> dict[str, Any]:
    """A raw output file of the sample job (to the results container), with ``fields`` changed."""
    return {"file_pattern": "result.txt", "container_url": RAW_URL, **fields}


def sweep(**fields: Any) -> dict[str, Any]:
    """A parametric sweep factory rendering frames 1-3, with ``fields`` changed."""
    factory = {
        "type": "parametric_sweep",
        "parameter_sets": [{"start": 1, "end": 3}],
        "repeat_task": {"command_line": "render {0}"},
    }
    factory.update(fields)
    return factory
