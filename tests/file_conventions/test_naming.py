"""The naming rules owned by ``batch_file_conventions.naming``: the vectors of docs/file-conventions.md.

The vector tables live in ``tests/test_conventions.py`` (one copy); this module runs them against the
node-side package, and checks that the provider's ``pulumi_azbatch.conventions`` is the same code.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from batch_file_conventions import naming
from test_conventions import CONTAINER_PREFIX_VECTORS, CONTAINER_VECTORS

import pulumi_azbatch.conventions as provider_conventions


@pytest.mark.parametrize(("job_id", "expected"), CONTAINER_VECTORS)
def test_container_name_vectors(job_id: str, expected: str) -> None:
    assert naming.job_output_container_name(job_id) == expected


@pytest.mark.parametrize(("job_id", "expected_prefix"), CONTAINER_PREFIX_VECTORS)
def test_container_name_prefix_vectors(job_id: str, expected_prefix: str) -> None:
    name = naming.job_output_container_name(job_id)
    assert name.startswith(expected_prefix) and len(name) == len("job-job-") + 40


def test_paths_and_kinds() -> None:
    assert naming.task_output_path("analysis-309", naming.TaskOutputKind.TASK_LOG, "..\\analytics.log") == (
        "analysis-309/$TaskLog/analytics.log"
    )
    assert (
        naming.job_output_path(naming.JobOutputKind.custom("JobLog"), "prep/stdout.txt")
        == "$JobLog/prep/stdout.txt"
    )
    with pytest.raises(ValueError):
        naming.TaskOutputKind.custom("a/b")


def test_the_provider_uses_the_same_naming_code() -> None:
    for name in naming.__all__:
        assert getattr(provider_conventions, name) is getattr(naming, name), name


def test_the_node_side_package_imports_neither_pulumi_nor_the_provider() -> None:
    # Tasks install it on nodes that have only the storage SDK.
    code = (
        "import sys, batch_file_conventions, batch_file_conventions.cli; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_azbatch', 'localbatch', "
        "'azure.batch', 'pydantic')); print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("blob", "parsed"),
    [
        ("task-1/$TaskLog/stdout.txt", ("task-1", "TaskLog", "stdout.txt")),
        ("$JobLog/tvm-1/jobpreparation/stdout.txt", (None, "JobLog", "tvm-1/jobpreparation/stdout.txt")),
        ("t/$Thumbnails/a/b c.png", ("t", "Thumbnails", "a/b c.png")),
        ("inputs/data.txt", None),
        ("task-1/$TaskLog", None),
        ("$Library/abc/batch_file_conventions-0.1.0-py3-none-any.whl", None),
        ("$PreviousRuns/20261203T170000Z/task-1/$TaskLog/stdout.txt", None),
    ],
)
def test_parse_output_name_tells_runs_outputs_from_everything_else(
    blob: str, parsed: tuple[str | None, str, str] | None
) -> None:
    assert naming.parse_output_name(blob) == parsed


def test_library_and_previous_runs_are_reserved_job_kinds() -> None:
    for kind in ("Library", "PreviousRuns"):
        with pytest.raises(ValueError, match="reserved"):
            naming.job_output_prefix(kind)
    assert naming.task_output_prefix("t", "Library") == "t/$Library"  # a task's kind is its own
    assert naming.previous_run_prefix("20261203T170000Z") == "$PreviousRuns/20261203T170000Z/"
    with pytest.raises(ValueError):
        naming.previous_run_prefix("../x")
