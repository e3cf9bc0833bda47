"""The canonical form of a task and its fingerprint (what the Job provider diffs)."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest
from job_samples import ACCOUNT, NOW, RAW_URL, SAS, base_job

from pulumi_azbatch.model import (
    TaskSpec,
    canonical_task,
    parse_job,
    task_fingerprint,
)

# --------------------------------------------------------------------------------------------------
# Canonical form and fingerprints
# --------------------------------------------------------------------------------------------------


def test_fingerprint_ignores_defaults_key_order_and_sas_rotation() -> None:
    a = TaskSpec.model_validate(
        {
            "id": "t",
            "command_line": "x",
            "output_files": [{"file_pattern": "a.txt", "container_url": RAW_URL, "path": "a.txt"}],
        }
    )
    b = TaskSpec.model_validate(
        {
            "output_files": [
                {
                    "path": "a.txt",
                    "upload_condition": "TaskCompletion",
                    "file_pattern": "a.txt",
                    "container_url": RAW_URL.replace("sig=c2lnbmF0dXJl", "sig=bmV3"),
                }
            ],
            "command_line": "x",
            "id": "t",
            "resource_files": [],
            "environment_settings": {},
        }
    )
    assert canonical_task(a) == canonical_task(b)
    assert task_fingerprint(a) == task_fingerprint(b)
    assert canonical_task(a)["output_files"][0]["container_url"] == f"{ACCOUNT}/results"


@pytest.mark.parametrize(
    "change",
    [
        {"command_line": "y"},
        {"environment_settings": {"A": "1"}},
        {"required_slots": 2},
        {"output_files": [{"file_pattern": "a.txt", "kind": "TaskOutput"}]},
        {"output_files": [{"file_pattern": "a.txt", "container_url": f"{ACCOUNT}/other?{SAS}"}]},
    ],
)
def test_fingerprint_changes_with_the_task(change: dict[str, Any]) -> None:
    base = {"id": "t", "command_line": "x"}
    assert task_fingerprint(TaskSpec.model_validate(base)) != task_fingerprint(
        TaskSpec.model_validate({**base, **change})
    )


def test_specs_are_immutable_and_copyable() -> None:
    spec = parse_job(base_job(), now=NOW)
    with pytest.raises(pydantic.ValidationError):
        spec.priority = 5  # type: ignore[misc]
    changed = spec.model_copy(update={"priority": 5})
    assert (spec.priority, changed.priority) == (0, 5)
    copy.deepcopy(spec)
