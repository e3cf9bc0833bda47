"""Output files: the pattern matcher (table-driven, pure), blob naming, and real uploads to Azurite."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from localbatch.outputs import (
    CONTAINER_NOT_FOUND_MESSAGE,
    blob_name,
    condition_applies,
    expand_variables,
    find_matches,
    has_wildcards,
    pattern_matches,
    upload_output_files,
    upload_settings,
)
from localbatch.runtime import TaskRun, execute, task_directory, task_environment, upload_outputs

# ---- the pure matcher -----------------------------------------------------------------------------

MATCH_TABLE: list[tuple[str, str, bool]] = [
    # literal names
    ("output.txt", "output.txt", True),
    ("output.txt", "output.txt2", False),
    ("output.txt", "sub/output.txt", False),
    ("sub/output.txt", "sub/output.txt", True),
    ("./output.txt", "output.txt", True),
    # `*` stays inside one segment
    ("*.txt", "a.txt", True),
    ("*.txt", ".txt", False),  # a dot file, even though `*` may match nothing
    ("*.txt", "sub/a.txt", False),
    ("*", "anything", True),
    ("a*b", "ab", True),
    ("a*b", "a/b", False),
    ("sub/*", "sub/x", True),
    ("*/x.txt", "d/x.txt", True),
    ("*/x.txt", ".d/x.txt", False),  # dot directory
    # `**` spans directories, zero included
    ("**/*.txt", "a.txt", True),
    ("**/*.txt", "a/b.txt", True),
    ("**/*.txt", "a/b/c/d.txt", True),
    ("**/*.txt", "a/b/c/d.log", False),
    ("**/*.txt", ".hidden.txt", False),
    ("**/*.txt", ".git/a.txt", False),  # `**` does not enter dot directories
    ("**/*.txt", "a/.b.txt", False),
    ("**/.*.txt", "a/.b.txt", True),
    ("out/**/*.txt", "out/a.txt", True),
    ("out/**/*.txt", "out/x/y/a.txt", True),
    ("out/**/*.txt", "other/a.txt", False),
    ("out/**", "out/x/y/a.bin", True),
    ("a**b", "axxb", True),  # `**` inside a segment is a plain `*`
    ("a**b", "ax/xb", False),
    # `?`
    ("?.txt", "a.txt", True),
    ("?.txt", "ab.txt", False),
    ("?.txt", ".txt", False),
    ("file?", "file1", True),
    ("file?", "file", False),
    # sets and ranges
    ("[abc].txt", "b.txt", True),
    ("[abc].txt", "d.txt", False),
    ("[a-c].txt", "c.txt", True),
    ("[a-c].txt", "d.txt", False),
    ("[!abc].txt", "d.txt", True),
    ("[!abc].txt", "a.txt", False),
    ("[^abc].txt", "d.txt", True),
    ("log[0-9][0-9].txt", "log42.txt", True),
    ("log[0-9][0-9].txt", "log4x.txt", False),
    ("[]a].txt", "].txt", True),  # `]` first in a set is literal
    ("[!]].txt", "].txt", False),
    ("[a-].txt", "-.txt", True),  # trailing `-` is literal
    ("[z-a].txt", "m.txt", False),  # a reversed range matches nothing
    # escapes with brackets
    ("abc[*]", "abc*", True),
    ("abc[*]", "abcd", False),
    ("what[?]", "what?", True),
    ("what[?]", "whatx", False),
    ("[[]x", "[x", True),
    ("a[b", "a[b", True),  # an unclosed `[` is a literal character
    # the dot-file rule
    ("*.gif", ".a.gif", False),
    (".*.gif", ".a.gif", True),
    (".*", ".bashrc", True),
    (".bashrc", ".bashrc", True),
    ("[.]bashrc", ".bashrc", True),  # an escaped `.` is still written explicitly
    ("[.x]bashrc", ".bashrc", False),  # a set that merely could be `.` is not
    # `..` climbs to the task directory (the canonical example)
    ("../std*.txt", "../stdout.txt", True),
    ("../std*.txt", "../stderr.txt", True),
    ("../std*.txt", "../fileuploadout.txt", False),
    ("../fileupload*.txt", "../fileuploaderr.txt", True),
    # only `/` separates on Linux: a backslash is an ordinary character
    ("a\\*.txt", "a\\b.txt", True),
    ("a\\*.txt", "a/b.txt", False),
    # absolute patterns
    ("/mnt/data/*.csv", "/mnt/data/x.csv", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCH_TABLE)
def test_pattern_matches(pattern: str, path: str, expected: bool) -> None:
    assert pattern_matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("output.txt", False),
        ("../stdout.txt", False),
        ("abc[*]", False),  # an escape names one file
        ("*.txt", True),
        ("**/x", True),
        ("a?", True),
        ("[ab]", True),
        ("[!a]", True),
    ],
)
def test_has_wildcards(pattern: str, expected: bool) -> None:
    assert has_wildcards(pattern) is expected


def test_variables_are_expanded_from_the_task_environment() -> None:
    env = {"AZ_BATCH_TASK_ID": "t1", "OUT": "results"}
    assert expand_variables("$OUT/${AZ_BATCH_TASK_ID}-*.txt", env) == "results/t1-*.txt"
    assert expand_variables("$UNSET/x", env) == "$UNSET/x"
    assert expand_variables("$HOME/x", {}) == "$HOME/x"  # never the emulator's own environment


@pytest.mark.parametrize(
    ("condition", "exit_code", "expected"),
    [
        ("tasksuccess", 0, True),
        ("tasksuccess", 1, False),
        ("tasksuccess", None, False),
        ("taskfailure", 0, False),
        ("taskfailure", 2, True),
        ("taskfailure", None, True),
        ("taskcompletion", 0, True),
        ("taskcompletion", 3, True),
        ("taskcompletion", None, True),
        ("TaskSuccess", 0, True),  # the SDK serialises lower case, but be lenient
    ],
)
def test_upload_condition(condition: str, exit_code: int | None, expected: bool) -> None:
    assert condition_applies(condition, exit_code) is expected


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_find_matches_on_disk_and_blob_names(tmp_path: Path) -> None:
    task_dir = tmp_path / "task"
    wd = task_dir / "wd"
    _tree(
        task_dir,
        [
            "stdout.txt",
            "stderr.txt",
            "wd/output.txt",
            "wd/.hidden.txt",
            "wd/out/a.txt",
            "wd/out/sub/b.txt",
            "wd/out/sub/deeper/c.txt",
            "wd/out/.git/d.txt",
            "wd/out/e.log",
            "wd/abc*",
            "wd/abcd",
        ],
    )

    base, matches = find_matches("../std*.txt", wd)
    assert base == task_dir
    assert [blob_name("../std*.txt", "mytask", m) for m in matches] == [
        "mytask/stderr.txt",
        "mytask/stdout.txt",
    ]

    _, matches = find_matches("out/**/*.txt", wd)
    names = [blob_name("out/**/*.txt", "p/", m) for m in matches]
    assert sorted(names) == ["p/a.txt", "p/sub/b.txt", "p/sub/deeper/c.txt"]  # subdirectories kept

    _, matches = find_matches("**/*.txt", wd)
    assert sorted(m.relative for m in matches) == [
        "out/a.txt",
        "out/sub/b.txt",
        "out/sub/deeper/c.txt",
        "output.txt",
    ]

    _, matches = find_matches("output.txt", wd)
    assert [blob_name("output.txt", "t1/output.txt", m) for m in matches] == ["t1/output.txt"]
    assert [blob_name("output.txt", None, m) for m in matches] == ["output.txt"]
    _, matches = find_matches("out/sub/b.txt", wd)
    assert [blob_name("out/sub/b.txt", None, m) for m in matches] == ["b.txt"]  # the file's name at the root

    _, matches = find_matches("abc[*]", wd)
    assert [m.path.name for m in matches] == ["abc*"]

    _, matches = find_matches(str(wd / "out" / "*.log"), wd)  # absolute pattern
    assert [m.relative for m in matches] == ["e.log"]

    assert find_matches("nothing-*.bin", wd)[1] == []
    assert find_matches("missing.txt", wd)[1] == []


def test_upload_headers_map_to_blob_properties() -> None:
    settings = upload_settings(
        [
            {"name": "x-ms-blob-content-type", "value": "text/plain"},
            {"name": "x-ms-blob-content-encoding", "value": "identity"},
            {"name": "x-ms-blob-cache-control", "value": "no-cache"},
            {"name": "x-ms-meta-Owner", "value": "team-a"},
            {"name": "x-ms-unknown", "value": "?"},
        ]
    )
    assert settings.content == {
        "content_type": "text/plain",
        "content_encoding": "identity",
        "cache_control": "no-cache",
    }
    assert settings.metadata == {"Owner": "team-a"}
    assert settings.ignored == ["x-ms-unknown"]


# ---- real uploads to Azurite ----------------------------------------------------------------------


@pytest.fixture
def container_name() -> str:
    return f"out-{uuid.uuid4().hex[:12]}"


def _output(
    pattern: str, url: str, path: str | None = None, condition: str = "taskcompletion", **extra: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"containerUrl": url}
    if path is not None:
        container["path"] = path
    container.update(extra)
    return {
        "filePattern": pattern,
        "destination": {"container": container},
        "uploadOptions": {"uploadCondition": condition},
    }


def _run(node_root: Path, task_id: str, command: list[str], output_files: list[dict[str, Any]]) -> TaskRun:
    task_dir = task_directory(node_root, "job1", task_id)
    env = task_environment(
        account_name="devbatchaccount1",
        account_url="http://127.0.0.1:1",
        pool_id="pool1",
        node_id="tvm-1",
        node_root=node_root,
        task_dir=task_dir,
        job_id="job1",
        task_id=task_id,
    )
    import shlex

    return TaskRun(node_root, task_dir, shlex.join(command), env, [], output_files, None)


def _sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def test_persist_outputs_scenario(tmp_path: Path, azurite_storage: Any, container_name: str) -> None:
    """The seed's PersistOutputs sample in Linux form: output.txt and ../std*.txt on completion, many tasks."""
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")  # write-only, as the seed creates it
    for task_id in ("task0", "task1", "task2"):
        run = _run(
            tmp_path,
            task_id,
            _sh(
                "i=0; while [ $i -lt 1000 ]; do echo $i; i=$((i+1)); done > output.txt; echo done; echo warn >&2"
            ),
            [
                _output("../std*.txt", url, path=task_id),
                _output("output.txt", url, path=f"{task_id}/output.txt"),
            ],
        )
        result = execute(run, threading.Event())
        assert result.exit_code == 0
        assert upload_outputs(run, result.exit_code) is None

    names = azurite_storage.blob_names(container_name)
    assert names == sorted(
        f"{t}/{f}" for t in ("task0", "task1", "task2") for f in ("output.txt", "stderr.txt", "stdout.txt")
    )
    assert azurite_storage.read(container_name, "task1/stdout.txt") == b"done\n"
    assert azurite_storage.read(container_name, "task2/stderr.txt") == b"warn\n"
    assert azurite_storage.read(container_name, "task0/output.txt").splitlines()[-1] == b"999"
    log = (tmp_path / "workitems/job1/job-1/task0/fileuploadout.txt").read_text()
    assert "task0/output.txt" in log and "Upload finished: 3 of 3 files" in log
    assert (tmp_path / "workitems/job1/job-1/task0/fileuploaderr.txt").read_text() == ""


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [
        (0, {"success.txt", "completion.txt"}),
        (3, {"failure.txt", "completion.txt"}),
    ],
)
def test_upload_condition_matrix(
    tmp_path: Path, azurite_storage: Any, container_name: str, exit_code: int, expected: set[str]
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    run = _run(
        tmp_path,
        "t",
        _sh(f"echo x > result.txt; exit {exit_code}"),
        [
            _output("result.txt", url, "success.txt", "tasksuccess"),
            _output("result.txt", url, "failure.txt", "taskfailure"),
            _output("result.txt", url, "completion.txt", "taskcompletion"),
        ],
    )
    result = execute(run, threading.Event())
    assert result.exit_code == exit_code
    assert result.failure_info is None  # a non-zero exit is the model's FailureExitCode to add
    assert upload_outputs(run, result.exit_code) is None
    assert set(azurite_storage.blob_names(container_name)) == expected


def test_task_that_never_ran_counts_as_failure(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    run = _run(
        tmp_path,
        "t",
        ["/bin/true"],
        [_output("../std*.txt", url, "s", "tasksuccess"), _output("../std*.txt", url, "f", "taskfailure")],
    )
    run.task_dir.mkdir(parents=True)
    (run.task_dir / "stdout.txt").write_text("")
    assert upload_outputs(run, None) is None
    assert azurite_storage.blob_names(container_name) == ["f/stdout.txt"]


def test_wildcards_keep_subdirectories_and_headers_apply(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    run = _run(
        tmp_path,
        "t",
        _sh(
            "mkdir -p out/a/b out/.cache && echo 1 > out/top.txt && echo 2 > out/a/b/deep.txt && "
            "echo 3 > out/.cache/skip.txt && echo 4 > out/.dot.txt"
        ),
        [
            _output(
                "out/**/*.txt",
                url,
                "results",
                uploadHeaders=[
                    {"name": "x-ms-blob-content-type", "value": "text/plain"},
                    {"name": "x-ms-meta-producer", "value": "localbatch"},
                ],
            ),
            _output("out/.*.txt", url, "dots"),
            _output("$AZ_BATCH_TASK_WORKING_DIR/out/top.txt", url, "by-variable/top.txt"),
            _output("nothing-here-*.bin", url, "none"),  # zero matches is not an error
            _output("missing.txt", url, "none/missing.txt"),
        ],
    )
    assert execute(run, threading.Event()).exit_code == 0
    assert upload_outputs(run, 0) is None
    assert azurite_storage.blob_names(container_name) == [
        "by-variable/top.txt",
        "dots/.dot.txt",
        "results/a/b/deep.txt",
        "results/top.txt",
    ]
    blob = azurite_storage.service.get_blob_client(container_name, "results/a/b/deep.txt")
    props = blob.get_blob_properties()
    assert props.content_settings.content_type == "text/plain"
    assert props.metadata == {"producer": "localbatch"}


def test_missing_container_gives_container_not_found(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    url = azurite_storage.container_url(container_name, "cw")  # never created
    run = _run(tmp_path, "t", _sh("echo hi > a.txt; echo hi > b.txt"), [_output("*.txt", url, "x")])
    assert execute(run, threading.Event()).exit_code == 0
    failure = upload_outputs(run, 0)
    assert failure is not None
    assert (failure["category"], failure["code"], failure["message"]) == (
        "usererror",
        "FileUploadContainerNotFound",
        CONTAINER_NOT_FOUND_MESSAGE,
    )
    errors = (run.task_dir / "fileuploaderr.txt").read_text()
    assert "FileUploadContainerNotFound" in errors
    assert "sig=" not in errors and "sig=" not in str(failure)  # the SAS never leaks into logs


@pytest.mark.parametrize(
    ("permission", "expires_in"),
    [("rl", None), ("cw", timedelta(minutes=-1))],
    ids=["read-only-sas", "expired-sas"],
)
def test_bad_sas_gives_authentication_failed(
    tmp_path: Path, azurite_storage: Any, container_name: str, permission: str, expires_in: timedelta | None
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, permission, expires_in=expires_in)
    run = _run(tmp_path, "t", _sh("echo hi > a.txt"), [_output("a.txt", url, "a.txt")])
    assert execute(run, threading.Event()).exit_code == 0
    failure = upload_outputs(run, 0)
    assert failure is not None and failure["code"] == "FileUploadAuthenticationFailed"
    assert failure["category"] == "usererror"
    assert azurite_storage.blob_names(container_name) == []


def test_upload_failure_names_the_file_its_pattern_and_destination(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    """A refused upload's failureInfo names the file as the service does: `FilePath`, `FilePattern`
    and `FileDestination` details and the message "Access to one of the specified file upload
    destinations was denied" (a failureInfo recorded from Azure Batch in microsoft/ga4gh-tes#343).
    The destination is shown without its SAS.
    """
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "rl")  # no write permission: 403
    run = _run(tmp_path, "t", _sh("echo hi"), [_output("../std*.txt", url, "logs")])
    assert execute(run, threading.Event()).exit_code == 0
    failure = upload_outputs(run, 0)
    assert failure is not None
    assert failure["message"] == "Access to one of the specified file upload destinations was denied"
    details = {d["name"]: d["value"] for d in failure["details"]}
    assert details["FilePattern"] == "../std*.txt"
    assert details["FilePath"] in (str(run.task_dir / "stdout.txt"), str(run.task_dir / "stderr.txt"))
    assert details["FileDestination"].startswith(url.split("?", 1)[0] + "/logs/std")
    assert "sig=" not in str(failure)


def test_unreachable_destination_fails_within_seconds(tmp_path: Path) -> None:
    """A destination nothing answers at (a closed port) fails the upload with FileUploadMiscError in a few
    seconds: azure-storage-blob's default backoff (15 s, 18 s, 24 s) kept the task `running` for about
    85 s before the failure was recorded.
    """
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/devstoreaccount1/nothing?sv=2021-08-06&sig=secret"
    run = _run(tmp_path, "t", _sh("echo hi > a.txt"), [_output("a.txt", url, "a.txt")])
    assert execute(run, threading.Event()).exit_code == 0
    started = time.monotonic()
    failure = upload_outputs(run, 0)
    assert time.monotonic() - started < 20
    assert failure is not None and failure["code"] == "FileUploadMiscError"
    assert "secret" not in str(failure)


def test_pattern_may_not_climb_above_the_task_directory(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    run = _run(tmp_path, "t", ["/bin/true"], [_output("../../*", url, "x")])
    assert execute(run, threading.Event()).exit_code == 0
    failure = upload_outputs(run, 0)
    assert failure is not None and failure["code"] == "FileUploadMiscError"
    assert azurite_storage.blob_names(container_name) == []


def test_large_file_goes_up_in_parallel_blocks(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    wd = tmp_path / "task" / "wd"
    wd.mkdir(parents=True)
    payload = os.urandom(20 * 1024 * 1024 + 123)  # several 4 MiB blocks and a short tail
    (wd / "big.bin").write_bytes(payload)
    failure = upload_output_files(
        [_output("big.bin", url, "data/big.bin")],
        exit_code=0,
        task_dir=tmp_path / "task",
        working_dir=wd,
        environment={},
        max_single_put_size=8 * 1024 * 1024,  # small thresholds keep the test fast
        block_size=4 * 1024 * 1024,
    )
    assert failure is None
    assert azurite_storage.read(container_name, "data/big.bin") == payload
    blocks = azurite_storage.service.get_blob_client(container_name, "data/big.bin").get_block_list()[0]
    assert len(blocks) == 6  # committed as blocks, not one Put Blob


def test_upload_logs_can_be_uploaded_themselves(
    tmp_path: Path, azurite_storage: Any, container_name: str
) -> None:
    """The documented diagnostic pattern: upload `../fileupload*.txt` next to the real outputs."""
    azurite_storage.create_container(container_name)
    url = azurite_storage.container_url(container_name, "cw")
    run = _run(
        tmp_path,
        "t",
        _sh("echo result > output.txt"),
        [_output("output.txt", url, "t/output.txt"), _output("../fileupload*.txt", url, "t/logs")],
    )
    assert execute(run, threading.Event()).exit_code == 0
    assert upload_outputs(run, 0) is None
    assert azurite_storage.blob_names(container_name) == [
        "t/logs/fileuploaderr.txt",
        "t/logs/fileuploadout.txt",
        "t/output.txt",
    ]
    assert b"Uploading" in azurite_storage.read(container_name, "t/logs/fileuploadout.txt")
