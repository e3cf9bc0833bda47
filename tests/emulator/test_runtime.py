"""The node runtime: the task environment and real task processes (no shell, process groups, kills)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from localbatch.orphans import reap_orphans
from localbatch.runtime import (
    Process,
    ProcessResult,
    Reaper,
    TaskRun,
    execute,
    exit_code_failure_info,
    launch,
    prepare_node_root,
    task_directory,
    task_environment,
    user_identity_name,
)

ACCOUNT_URL = "http://127.0.0.1:8090"


def _env(
    node_root: Path, task_id: str | None = "task1", job_id: str | None = "job1", **kwargs: Any
) -> dict[str, str]:
    task_dir = task_directory(node_root, job_id or "", task_id or "") if job_id else node_root / "startup"
    return task_environment(
        account_name="devbatchaccount1",
        account_url=ACCOUNT_URL,
        pool_id="pool1",
        node_id="tvm-1",
        node_root=node_root,
        task_dir=task_dir,
        job_id=job_id,
        task_id=task_id,
        **kwargs,
    )


def _run(
    node_root: Path,
    argv: list[str],
    *,
    task_id: str = "task1",
    env: dict[str, str] | None = None,
    max_wall_clock_seconds: float | None = None,
    resource_files: list[dict[str, Any]] | None = None,
) -> TaskRun:
    return TaskRun(
        node_root=node_root,
        task_dir=task_directory(node_root, "job1", task_id),
        command_line=shlex.join(argv),
        environment=env if env is not None else _env(node_root, task_id),
        resource_files=resource_files or [],
        output_files=[],
        max_wall_clock_seconds=max_wall_clock_seconds,
    )


# ---- task_environment -----------------------------------------------------------------------------


def test_environment_has_every_batch_variable(tmp_path: Path) -> None:
    env = _env(tmp_path, job_preparation_task_id="jobpreparation", system_path="/usr/bin:/bin")
    task_dir = tmp_path / "workitems/job1/job-1/task1"
    assert env["AZ_BATCH_ACCOUNT_NAME"] == "devbatchaccount1"
    assert env["AZ_BATCH_ACCOUNT_URL"] == ACCOUNT_URL + "/"  # real nodes print a trailing slash
    assert env["AZ_BATCH_POOL_ID"] == "pool1"
    assert env["AZ_BATCH_NODE_ID"] == "tvm-1"
    assert env["AZ_BATCH_NODE_IS_DEDICATED"] == "true"
    assert env["AZ_BATCH_JOB_ID"] == "job1"
    assert env["AZ_BATCH_TASK_ID"] == "task1"
    assert env["AZ_BATCH_NODE_ROOT_DIR"] == str(tmp_path)
    assert env["AZ_BATCH_NODE_SHARED_DIR"] == str(tmp_path / "shared")
    assert env["AZ_BATCH_NODE_STARTUP_DIR"] == str(tmp_path / "startup")
    assert env["AZ_BATCH_NODE_MOUNTS_DIR"] == str(tmp_path / "fsmounts")
    assert env["AZ_BATCH_TASK_DIR"] == str(task_dir)
    assert env["AZ_BATCH_TASK_WORKING_DIR"] == str(task_dir / "wd")
    assert env["AZ_BATCH_JOB_PREP_DIR"] == str(tmp_path / "workitems/job1/job-1/jobpreparation")
    assert env["AZ_BATCH_JOB_PREP_WORKING_DIR"] == str(tmp_path / "workitems/job1/job-1/jobpreparation/wd")
    assert env["AZ_BATCH_CERTIFICATES_DIR"] == str(task_dir / "certs")
    assert env["AZ_BATCH_TASK_USER"] == "_azbatch"
    assert env["AZ_BATCH_TASK_USER_IDENTITY"] == "PoolNonAdmin"
    assert env["HOME"] == env["PWD"] == str(task_dir / "wd")
    assert env["PATH"] == f"/usr/bin:/bin:{tmp_path / 'shared'}:{task_dir / 'wd'}"
    assert "AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES" in env


def test_prep_dir_only_for_other_tasks_of_a_job_with_a_prep_task(tmp_path: Path) -> None:
    prep = _env(tmp_path, task_id="jobpreparation", job_preparation_task_id="jobpreparation")
    release = _env(tmp_path, task_id="jobrelease", job_preparation_task_id="jobpreparation")
    no_prep = _env(tmp_path)
    start = _env(tmp_path, task_id=None, job_id=None)
    assert prep["AZ_BATCH_TASK_ID"] == "jobpreparation" and "AZ_BATCH_JOB_PREP_DIR" not in prep
    assert release["AZ_BATCH_TASK_ID"] == "jobrelease"
    assert release["AZ_BATCH_JOB_PREP_WORKING_DIR"].endswith("/workitems/job1/job-1/jobpreparation/wd")
    assert "AZ_BATCH_JOB_PREP_DIR" not in no_prep and "AZ_BATCH_JOB_PREP_WORKING_DIR" not in no_prep
    # The start task has no job and no task id.
    assert "AZ_BATCH_JOB_ID" not in start and "AZ_BATCH_TASK_ID" not in start
    assert start["AZ_BATCH_TASK_WORKING_DIR"] == str(tmp_path / "startup" / "wd")


@pytest.mark.parametrize(
    ("identity", "user", "name"),
    [
        (None, "_azbatch", "PoolNonAdmin"),
        ({"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}, "_azbatch", "PoolNonAdmin"),
        ({"autoUser": {"scope": "pool", "elevationLevel": "admin"}}, "_azbatch", "PoolAdmin"),
        ({"autoUser": {"scope": "task", "elevationLevel": "nonadmin"}}, "_azbatch", "TaskNonAdmin"),
        ({"autoUser": {"scope": "task", "elevationLevel": "admin"}}, "_azbatch", "TaskAdmin"),
        ({"autoUser": {"elevationLevel": "admin"}}, "_azbatch", "PoolAdmin"),  # scope defaults to pool
        ({"username": "batchuser"}, "batchuser", "batchuser"),
    ],
)
def test_user_identity(tmp_path: Path, identity: dict[str, Any] | None, user: str, name: str) -> None:
    assert user_identity_name(identity) == (user, name)
    env = _env(tmp_path, user_identity=identity)
    assert (env["AZ_BATCH_TASK_USER"], env["AZ_BATCH_TASK_USER_IDENTITY"]) == (user, name)


def test_job_settings_then_task_settings_override(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        common_environment_settings=[
            {"name": "A", "value": "job"},
            {"name": "B", "value": "job"},
            {"name": "E"},
        ],
        environment_settings=[{"name": "B", "value": "task"}, {"name": "C", "value": "task"}],
    )
    assert (env["A"], env["B"], env["C"], env["E"]) == ("job", "task", "task", "")


# ---- execute --------------------------------------------------------------------------------------

PRINT_ENV = "import json, os; print(json.dumps({'cwd': os.getcwd(), 'env': dict(os.environ)}))"


def test_process_sees_the_task_environment_in_its_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_SECRET", "must-not-leak")
    env = _env(tmp_path, environment_settings=[{"name": "GREETING", "value": "hello"}])
    run = _run(tmp_path, [sys.executable, "-c", PRINT_ENV], env=env)
    before = time.time()
    result = execute(run, threading.Event())
    assert result.exit_code == 0 and result.failure_info is None and not result.timed_out
    assert result.start_time.tzinfo is UTC and result.start_time <= result.end_time
    assert before - 1 < result.start_time.timestamp() <= result.end_time.timestamp() < time.time() + 1
    seen = json.loads((run.task_dir / "stdout.txt").read_text())
    assert seen["cwd"] == str(run.task_dir / "wd")
    assert seen["env"]["GREETING"] == "hello"
    assert seen["env"]["AZ_BATCH_TASK_ID"] == "task1"
    assert "EMULATOR_SECRET" not in seen["env"]  # only the task's environment, never the emulator's
    assert (run.task_dir / "stderr.txt").read_text() == ""


def test_command_line_runs_without_a_shell(tmp_path: Path) -> None:
    run = TaskRun(
        tmp_path, task_directory(tmp_path, "job1", "t"), "echo $HOME 'a  b' > out.txt", _env(tmp_path, "t")
    )
    assert execute(run, threading.Event()).exit_code == 0
    # No shell: `$HOME` is not expanded and `>` is an argument, not a redirection.
    assert (run.task_dir / "stdout.txt").read_text() == "$HOME a  b > out.txt\n"
    assert not (run.task_dir / "wd" / "out.txt").exists()


def test_explicit_shell_expands_variables_and_writes_stderr(tmp_path: Path) -> None:
    run = _run(tmp_path, ["/bin/sh", "-c", 'echo "$AZ_BATCH_TASK_ID in $PWD"; echo oops >&2; exit 7'])
    result = execute(run, threading.Event())
    assert result.exit_code == 7
    assert result.failure_info is None  # the model adds FailureExitCode (and decides retries)
    assert (run.task_dir / "stdout.txt").read_text() == f"task1 in {run.task_dir / 'wd'}\n"
    assert (run.task_dir / "stderr.txt").read_text() == "oops\n"
    assert exit_code_failure_info(7)["code"] == "FailureExitCode"


def test_program_in_the_working_directory_is_found_on_path(tmp_path: Path) -> None:
    run = _run(tmp_path, ["hello.sh", "arg"])
    (run.task_dir / "wd").mkdir(parents=True)
    script = run.task_dir / "wd" / "hello.sh"
    script.write_text('#!/bin/sh\necho hello "$1"\n')
    script.chmod(0o755)
    assert execute(run, threading.Event()).exit_code == 0
    assert (run.task_dir / "stdout.txt").read_text() == "hello arg\n"


def test_stdout_is_fresh_for_each_attempt(tmp_path: Path) -> None:
    run = _run(tmp_path, ["/bin/echo", "attempt"])
    execute(run, threading.Event())
    execute(run, threading.Event())
    assert (run.task_dir / "stdout.txt").read_text() == "attempt\n"


@pytest.mark.parametrize(
    ("command_line", "code"),
    [
        ("no-such-program-3f9c1e7ad5b04c8e", "CommandProgramNotFound"),  # no such program on any PATH
        ("/nonexistent/dir/prog", "CommandProgramNotFound"),
        ("'unbalanced", "CommandLaunchFailed"),
        ("   ", "CommandLaunchFailed"),
    ],
)
def test_launch_failures(tmp_path: Path, command_line: str, code: str) -> None:
    run = TaskRun(tmp_path, task_directory(tmp_path, "job1", "t"), command_line, _env(tmp_path, "t"))
    result = execute(run, threading.Event())
    assert result.exit_code is None
    assert result.failure_info is not None
    assert (result.failure_info["category"], result.failure_info["code"]) == ("usererror", code)
    assert (run.task_dir / "stdout.txt").exists() and (run.task_dir / "wd").is_dir()


def test_not_executable_is_a_launch_failure(tmp_path: Path) -> None:
    run = _run(tmp_path, ["./data.txt"])
    (run.task_dir / "wd").mkdir(parents=True)
    (run.task_dir / "wd" / "data.txt").write_text("not a program")
    result = execute(run, threading.Event())
    assert result.exit_code is None
    assert result.failure_info is not None and result.failure_info["code"] == "CommandLaunchFailed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its reaper counts as dead.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_max_wall_clock_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The shell starts a background grandchild and records its pid; both must die at the deadline.
    run = _run(
        tmp_path, ["/bin/sh", "-c", "sleep 60 & echo $! > child.pid; sleep 60"], max_wall_clock_seconds=0.5
    )
    started = time.monotonic()
    result = execute(run, threading.Event())
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5
    assert result.timed_out is True
    assert result.exit_code == 137  # 128 + SIGKILL
    assert result.failure_info is not None and result.failure_info["code"] == "TaskEnded"
    child = int((run.task_dir / "wd" / "child.pid").read_text())
    assert _wait_dead(child)


def test_cancel_ends_the_task(tmp_path: Path) -> None:
    run = _run(tmp_path, ["/bin/sh", "-c", "echo started; sleep 60"])
    cancel = threading.Event()
    outcome: list[ProcessResult] = []
    worker = threading.Thread(target=lambda: outcome.append(execute(run, cancel)))
    worker.start()
    deadline = time.monotonic() + 5
    stdout = run.task_dir / "stdout.txt"
    while not (stdout.exists() and stdout.read_text() == "started\n"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancel.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    (result,) = outcome
    assert result.timed_out is False
    assert result.failure_info == {
        "category": "usererror",
        "code": "TaskEnded",
        "message": "Task was ended by user request",
    }
    assert result.exit_code == 137


def test_cancel_before_start_runs_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    run = _run(tmp_path, ["/bin/sh", "-c", "touch ran"])
    result = execute(run, cancel)
    assert (
        result.exit_code is None
        and result.failure_info is not None
        and result.failure_info["code"] == "TaskEnded"
    )
    assert not (run.task_dir / "wd" / "ran").exists()


def test_fast_process_is_not_delayed_by_polling(tmp_path: Path) -> None:
    run = _run(tmp_path, ["/bin/true"])
    execute(run, threading.Event())
    started = time.perf_counter()
    for _ in range(20):
        assert execute(run, threading.Event()).exit_code == 0
    assert (time.perf_counter() - started) / 20 < 0.05


def test_one_reaper_reports_a_burst_of_exits_and_kills_at_each_deadline(tmp_path: Path) -> None:
    # The emulator's path: launch without waiting, one reaper thread for every process.
    batches: list[list[tuple[Any, ProcessResult]]] = []
    done = threading.Event()

    def deliver(finished: list[tuple[Any, ProcessResult]]) -> None:
        batches.append(finished)
        if sum(len(b) for b in batches) == 12:
            done.set()

    reaper = Reaper(deliver)
    try:
        for i in range(10):
            process = launch(_run(tmp_path, ["/bin/sh", "-c", f"exit {i}"], task_id=f"t{i}"))
            assert isinstance(process, Process)
            reaper.watch(process, f"t{i}")
        slow = launch(_run(tmp_path, ["/bin/sleep", "60"], task_id="slow", max_wall_clock_seconds=0.3))
        doomed = launch(_run(tmp_path, ["/bin/sleep", "60"], task_id="doomed"))
        assert isinstance(slow, Process) and isinstance(doomed, Process)
        started = time.monotonic()
        reaper.watch(slow, "slow")
        reaper.watch(doomed, "doomed")
        reaper.cancel(doomed)
        assert done.wait(10), batches
        results = {token: result for batch in batches for token, result in batch}
        assert {results[f"t{i}"].exit_code for i in range(10)} == set(range(10))
        assert all(results[f"t{i}"].failure_info is None for i in range(10))
        assert results["slow"].timed_out and results["slow"].exit_code == 137
        assert 0.25 < results["slow"].end_time.timestamp() - results["slow"].start_time.timestamp() < 5
        assert (
            results["doomed"].failure_info is not None
            and results["doomed"].failure_info["code"] == "TaskEnded"
        )
        assert not results["doomed"].timed_out and time.monotonic() - started < 5
    finally:
        reaper.close()
    # Nothing runs any more, so the node's process log is empty again.
    log = tmp_path.parent / f".{tmp_path.name}.processes.log"
    assert log.read_text() == ""


def test_reap_orphans_ends_only_live_recorded_process_groups(tmp_path: Path) -> None:
    # What a restarted emulator does for processes a killed one left running.
    orphan = launch(_run(tmp_path, ["/bin/sh", "-c", "sleep 60 & echo $! > child.pid; sleep 60"]))
    assert isinstance(orphan, Process)
    log = tmp_path.parent / f".{tmp_path.name}.processes.log"
    # A recycled pid (same number, other start time) is never killed: this test process stands in.
    with open(log, "a") as entries:
        entries.write(f"+{os.getpid()} 1\n")
    deadline = time.monotonic() + 5
    child_pid = orphan.run.working_dir / "child.pid"
    while not child_pid.exists() or not child_pid.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert reap_orphans(tmp_path) == [orphan.pid]
    assert orphan.popen.wait(timeout=5) == -9
    assert _wait_dead(int(child_pid.read_text()))
    assert not log.exists()


def test_prepare_node_root_creates_the_batch_layout(tmp_path: Path) -> None:
    prepare_node_root(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "shared",
        "startup",
        "workitems",
        "fsmounts",
        "applications",
    }


# ---- resource files before the process ------------------------------------------------------------


def test_resource_file_failure_stops_the_task_before_it_runs(tmp_path: Path, azurite_storage: Any) -> None:
    name = f"in-{uuid.uuid4().hex[:12]}"
    azurite_storage.create_container(name)
    run = _run(
        tmp_path,
        ["/bin/sh", "-c", "touch ran"],
        resource_files=[
            {"httpUrl": azurite_storage.blob_url(name, "missing.txt"), "filePath": "missing.txt"}
        ],
    )
    result = execute(run, threading.Event())
    assert result.exit_code is None
    assert result.failure_info is not None
    assert (result.failure_info["category"], result.failure_info["code"]) == ("usererror", "BlobNotFound")
    assert not (run.task_dir / "wd" / "ran").exists()


def test_resource_files_are_in_the_working_directory_before_the_process_starts(
    tmp_path: Path, azurite_storage: Any
) -> None:
    name = f"in-{uuid.uuid4().hex[:12]}"
    container = azurite_storage.create_container(name)
    container.upload_blob("script.sh", b"#!/bin/sh\necho from-resource-file\n")
    run = _run(
        tmp_path,
        ["bin/script.sh"],
        resource_files=[
            {
                "httpUrl": azurite_storage.blob_url(name, "script.sh"),
                "filePath": "bin/script.sh",
                "fileMode": "0755",
            }
        ],
    )
    result = execute(run, threading.Event())
    assert result.exit_code == 0, (run.task_dir / "stderr.txt").read_text()
    assert (run.task_dir / "stdout.txt").read_text() == "from-resource-file\n"
