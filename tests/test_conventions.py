"""Batch File Conventions: every vector in ../shared/docs/file-conventions.md, plus the naming invariants."""

from __future__ import annotations

import random
import re
import string

import pytest

from pulumi_azbatch.conventions import (
    JobOutputKind,
    TaskOutputKind,
    job_output_container_name,
    job_output_path,
    job_output_prefix,
    normalize_relative_path,
    task_output_path,
    task_output_prefix,
)

# §4.1 test vectors (Batch Explorer's spec file; seven re-computed independently).
CONTAINER_VECTORS = [
    ("MyTerrificJob", "job-myterrificjob"),
    ("job-15", "job-job-15"),
    ("J", "job-j"),
    ("my_job-bob", "job-my-job-bob-e04620bc2add214df74e158ba60d24273a0e0927"),
    ("-my_job-sam--", "job-my-job-sam-47f54d840815af2592a12213db05f8a8277a098d"),
    ("my-_EVEN_MORE_-terrific-job", "job-my-even-more-te-68b05a7d8aa6aa65b9a6892c667a6c406a16ad65"),
    ("job:my-job-1", "job-job-my-job-1-fdddfdd04eab0771edb90374860d2736481d162d"),
    ("---", "job-job-58b63e273b964039d6ef432a415df3f177c818e5"),
    (
        "myverylongjobnameallinonewordreallystartingtogetreallysillynow",
        "job-myverylongjobna-a8700e4947d0c8c621e53b24246aa0349d830e41",
    ),
]

# The spec file gives only the start of these hashes.
CONTAINER_PREFIX_VECTORS = [
    ("-", "job-job-3bc15c8a"),
    ("_", "job-job-53a0acfa"),
    (":", "job-job-05a79f06"),
]

# Azure container names: 3-63 chars, lower-case letters, digits and single hyphens, alphanumeric ends.
CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


@pytest.mark.parametrize(("job_id", "expected"), CONTAINER_VECTORS)
def test_container_name_vectors(job_id: str, expected: str) -> None:
    assert job_output_container_name(job_id) == expected


@pytest.mark.parametrize(("job_id", "expected_prefix"), CONTAINER_PREFIX_VECTORS)
def test_container_name_vectors_given_as_prefixes(job_id: str, expected_prefix: str) -> None:
    name = job_output_container_name(job_id)
    assert name.startswith(expected_prefix)
    assert len(name) == len("job-job-") + 40


def test_long_id_is_munged_even_when_otherwise_valid() -> None:
    # 62 characters is over the 59 that fit behind "job-", so the hash path applies.
    job_id = "myverylongjobnameallinonewordreallystartingtogetreallysillynow"
    assert len(job_id) == 62
    fifty_nine = "a" * 59
    assert job_output_container_name(fifty_nine) == "job-" + fifty_nine
    assert job_output_container_name("a" * 60).startswith("job-aaaaaaaaaaaaaaa-")


def test_uses_the_current_job_prefix_not_the_old_revision() -> None:
    # The older ContainerNameUtils.cs had no "job-" prefix and only collapsed [_-]+.
    assert job_output_container_name("my_job-bob").startswith("job-")
    assert "job:" not in job_output_container_name("job:my-job-1")


def test_case_insensitive_ids_share_a_container() -> None:
    assert job_output_container_name("Render_Job") == job_output_container_name("render_job")


def test_every_batch_id_gives_a_valid_unique_container_name() -> None:
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits + "-_"
    ids = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 64))) for _ in range(3000)}
    ids |= {"a--b", "a-", "-a", "_", "a_b", "A" * 64, "0" * 59, "0" * 60}
    names: dict[str, str] = {}
    for job_id in ids:
        name = job_output_container_name(job_id)
        assert CONTAINER_NAME.match(name), (job_id, name)
        assert len(name) <= 63
        # Distinct ids (case-insensitively) never share a container.
        previous = names.setdefault(name, job_id.lower())
        assert previous == job_id.lower(), (job_id, previous, name)


def test_empty_job_id_is_rejected() -> None:
    with pytest.raises(ValueError):
        job_output_container_name("")


# §4.2 blob paths.


def test_task_and_job_paths_from_the_reference() -> None:
    assert (
        job_output_path(JobOutputKind.JOB_OUTPUT, "out/mergeresults.txt") == "$JobOutput/out/mergeresults.txt"
    )
    assert task_output_path("analysis-309", TaskOutputKind.TASK_LOG, "analytics.log") == (
        "analysis-309/$TaskLog/analytics.log"
    )


def test_prefixes_have_no_trailing_slash() -> None:
    assert job_output_prefix(JobOutputKind.JOB_OUTPUT) == "$JobOutput"
    assert task_output_prefix("t1", TaskOutputKind.TASK_OUTPUT) == "t1/$TaskOutput"
    # blob name = prefix + "/" + relative path
    assert task_output_path("t1", TaskOutputKind.TASK_OUTPUT, "a.txt") == (
        task_output_prefix("t1", TaskOutputKind.TASK_OUTPUT) + "/a.txt"
    )


def test_standard_kinds_and_their_text() -> None:
    assert [str(k) for k in TaskOutputKind.standard()] == [
        "TaskOutput",
        "TaskPreview",
        "TaskLog",
        "TaskIntermediate",
    ]
    assert [str(k) for k in JobOutputKind.standard()] == ["JobOutput", "JobPreview"]
    assert TaskOutputKind.TASK_PREVIEW == "TaskPreview"
    assert task_output_prefix("t", TaskOutputKind.TASK_PREVIEW) == "t/$TaskPreview"
    assert task_output_prefix("t", TaskOutputKind.TASK_INTERMEDIATE) == "t/$TaskIntermediate"
    assert job_output_prefix(JobOutputKind.JOB_PREVIEW) == "$JobPreview"


def test_custom_kinds() -> None:
    assert task_output_prefix("t", TaskOutputKind.custom("X")) == "t/$X"
    assert job_output_path(JobOutputKind.custom("JobLog"), "jobpreparation/stdout.txt") == (
        "$JobLog/jobpreparation/stdout.txt"
    )
    # Kinds are case-sensitive text.
    assert task_output_prefix("t", "tasklog") == "t/$tasklog"
    for bad in ("", " ", "a/b", "$X", "a\\b", " X"):
        with pytest.raises(ValueError):
            TaskOutputKind.custom(bad)


# Relative-path normalisation.


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("..\\stdout.txt", "stdout.txt"),  # the documented case: one level above the working directory
        ("../stdout.txt", "stdout.txt"),
        ("out\\sub\\a.txt", "out/sub/a.txt"),  # backslashes become /
        ("../../x", "x"),  # the .NET loop never ends here
        ("..\\..\\..\\deep\\x.txt", "deep/x.txt"),
        ("./a.txt", "a.txt"),
        ("../a/../b.txt", "a/../b.txt"),  # only leading segments are stripped
        ("..a/b", "..a/b"),  # "..a" is a name, not a parent reference
    ],
)
def test_relative_path_normalisation(relative: str, expected: str) -> None:
    assert normalize_relative_path(relative) == expected
    assert task_output_path("t", TaskOutputKind.TASK_OUTPUT, relative) == f"t/$TaskOutput/{expected}"


@pytest.mark.parametrize("rooted", ["/etc/passwd", "\\\\server\\share\\x", "C:\\temp\\x.txt", "c:/x"])
def test_rooted_paths_are_rejected(rooted: str) -> None:
    with pytest.raises(ValueError, match="rooted"):
        normalize_relative_path(rooted)
    with pytest.raises(ValueError):
        task_output_path("t", TaskOutputKind.TASK_OUTPUT, rooted)


@pytest.mark.parametrize("empty", ["", "..", "../", "../..", "./", "../../"])
def test_paths_naming_no_file_are_rejected(empty: str) -> None:
    with pytest.raises(ValueError, match="names no file"):
        normalize_relative_path(empty)


def test_task_id_is_required() -> None:
    with pytest.raises(ValueError):
        task_output_prefix("", TaskOutputKind.TASK_LOG)
