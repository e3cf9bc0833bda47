"""The node runtime: running one task process in a node's sandbox directory.

This module knows nothing about HTTP or the store. The model builds a `TaskRun` (directories,
command line, the complete environment from `task_environment`, resource and output files in their
wire shape) and calls `execute` on a worker thread, then `upload_outputs` once after the last
attempt. Everything here mirrors what a Linux Batch node does: the `workitems/<job>/job-1/<task>`
layout with `stdout.txt`/`stderr.txt` beside `wd/`, the `AZ_BATCH_*` variables, a command line run
without a shell in its own process group, and a kill of that group on terminate or at
`maxWallClockTime`.

Failure reporting contract (what the model can rely on):

- `ProcessResult.failure_info` is set only for failures *before or around* the process: a resource
  file download failure (`BlobNotFound`, `BlobAccessDenied`, `BlobDownloadMiscError`; `exit_code`
  None), a launch failure (`CommandProgramNotFound`, `CommandLaunchFailed`; `exit_code` None), or a
  kill (`TaskEnded`, on user terminate or on `maxWallClockTime` with `timed_out=True`).
- A process that simply exits non-zero gets **no** failure_info here: the model decides about retries
  and adds `FailureExitCode` itself (`exit_code_failure_info()` builds that body).
- A killed process reports `exit_code = 128 + signal` (137 for SIGKILL), as a Linux shell would.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The user name Batch's Linux agent runs tasks as (observed in real printenv output).
AUTO_USER_NAME = "_azbatch"
# A fixed, documented value: the emulator does not enforce a disk-full threshold.
RESERVED_EPHEMERAL_DISK_SPACE_BYTES = "1000000000"
# Node-level directories of the Batch layout (reference §7).
NODE_DIRECTORIES = ("applications", "fsmounts", "shared", "startup", "volatile", "workitems")
# How often the waiting thread looks at the cancel event and the wall-clock deadline.
_POLL_SECONDS = 0.02


@dataclass
class TaskRun:
    """One attempt of one task (regular, job preparation, job release or start task) on one node.

    `environment` is complete: the runtime passes exactly it to the process (plus PATH if absent),
    never the emulator's own environment. `resource_files` and `output_files` are the wire-shape
    (camelCase) dicts as stored from the REST body. The working directory is `task_dir / "wd"`.
    """

    node_root: Path
    task_dir: Path
    command_line: str
    environment: dict[str, str]
    resource_files: list[dict[str, Any]] = field(default_factory=list)
    output_files: list[dict[str, Any]] = field(default_factory=list)
    max_wall_clock_seconds: float | None = None

    @property
    def working_dir(self) -> Path:
        """AZ_BATCH_TASK_WORKING_DIR: the process's cwd, HOME, and the root of relative patterns."""
        return self.task_dir / "wd"


@dataclass
class ProcessResult:
    """What happened to one attempt: exit code, UTC start/end times, and any failureInfo (wire shape)."""

    exit_code: int | None
    start_time: datetime
    end_time: datetime
    failure_info: dict[str, Any] | None = None
    timed_out: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


def failure_info(category: str, code: str, message: str, **details: str) -> dict[str, Any]:
    """A Batch `failureInfo` body (wire shape); `details` become `[{name, value}]` entries."""
    body: dict[str, Any] = {"category": category, "code": code, "message": message}
    if details:
        body["details"] = [{"name": k, "value": v} for k, v in details.items()]
    return body


def exit_code_failure_info(exit_code: int | None) -> dict[str, Any]:
    """The failureInfo Batch records for a task that exited with a non-zero code (`FailureExitCode`)."""
    return failure_info(
        "usererror",
        "FailureExitCode",
        "The task exited with an exit code representing a failure",
        Message=f"The task process exited with an unexpected exit code: {exit_code}",
    )


# --------------------------------------------------------------------------------------------------
# Directories and environment
# --------------------------------------------------------------------------------------------------


def prepare_node_root(node_root: Path) -> None:
    """Create a node's top-level Batch directories (`shared/`, `startup/`, `workitems/`, ...)."""
    for name in NODE_DIRECTORIES:
        (node_root / name).mkdir(parents=True, exist_ok=True)


def task_directory(node_root: Path, job_id: str, task_id: str) -> Path:
    """AZ_BATCH_TASK_DIR of a task, prep or release task: `<root>/workitems/<job>/job-1/<taskId>`."""
    return node_root / "workitems" / job_id / "job-1" / task_id


def user_identity_name(user_identity: Mapping[str, Any] | None) -> tuple[str, str]:
    """(AZ_BATCH_TASK_USER, AZ_BATCH_TASK_USER_IDENTITY) for a wire-shape `userIdentity`.

    A named user (`username`) gives its own name for both. An auto user gives `_azbatch` and
    `<Scope><Elevation>`: `PoolNonAdmin` (the default, observed on real nodes), `PoolAdmin`,
    `TaskNonAdmin`, `TaskAdmin` (the last three are inferred from the pattern).
    """
    identity = dict(user_identity or {})
    username = identity.get("username") or identity.get("userName")
    if username:
        return str(username), str(username)
    auto = dict(identity.get("autoUser") or {})
    scope = str(auto.get("scope") or "pool").lower()
    elevation = str(auto.get("elevationLevel") or "nonadmin").lower()
    scope_part = "Task" if scope == "task" else "Pool"
    elevation_part = "Admin" if elevation == "admin" else "NonAdmin"
    return AUTO_USER_NAME, scope_part + elevation_part


def _settings(settings: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    # Wire-shape environmentSettings: [{"name": ..., "value": ...}], value optional.
    out: dict[str, str] = {}
    for item in settings or ():
        name = item.get("name")
        if name:
            value = item.get("value")
            out[str(name)] = "" if value is None else str(value)
    return out


def task_environment(
    *,
    account_name: str,
    account_url: str,
    pool_id: str,
    node_id: str,
    node_root: Path,
    task_dir: Path,
    job_id: str | None = None,
    task_id: str | None = None,
    is_dedicated: bool = True,
    job_preparation_task_id: str | None = None,
    user_identity: Mapping[str, Any] | None = None,
    common_environment_settings: Iterable[Mapping[str, Any]] | None = None,
    environment_settings: Iterable[Mapping[str, Any]] | None = None,
    system_path: str | None = None,
) -> dict[str, str]:
    """The complete environment of a task process: Batch's `AZ_BATCH_*` variables plus user settings.

    Pass `job_id`/`task_id` for every task except the start task (prep and release tasks pass their
    own ids, `jobpreparation`/`jobrelease` by default). `job_preparation_task_id` is the id of the
    job's preparation task if the job has one: it sets `AZ_BATCH_JOB_PREP_DIR` and
    `AZ_BATCH_JOB_PREP_WORKING_DIR` for every task of the job except the preparation task itself
    (recognised by `task_id == job_preparation_task_id`, which the 409 `TaskIdSameAsJobPreparationTask`
    rule makes unambiguous). `user_identity` and the settings lists are in wire shape. The job's
    `commonEnvironmentSettings` are applied first, then the task's `environmentSettings` override.
    `system_path` defaults to the emulator's own PATH so ordinary programs are found.
    """
    wd = task_dir / "wd"
    user, identity = user_identity_name(user_identity)
    env: dict[str, str] = {
        "AZ_BATCH_ACCOUNT_NAME": account_name,
        "AZ_BATCH_ACCOUNT_URL": account_url if account_url.endswith("/") else account_url + "/",
        "AZ_BATCH_POOL_ID": pool_id,
        "AZ_BATCH_NODE_ID": node_id,
        "AZ_BATCH_NODE_IS_DEDICATED": "true" if is_dedicated else "false",
        "AZ_BATCH_NODE_ROOT_DIR": str(node_root),
        "AZ_BATCH_NODE_SHARED_DIR": str(node_root / "shared"),
        "AZ_BATCH_NODE_STARTUP_DIR": str(node_root / "startup"),
        "AZ_BATCH_NODE_MOUNTS_DIR": str(node_root / "fsmounts"),
        "AZ_BATCH_TASK_DIR": str(task_dir),
        "AZ_BATCH_TASK_WORKING_DIR": str(wd),
        "AZ_BATCH_CERTIFICATES_DIR": str(task_dir / "certs"),
        "AZ_BATCH_TASK_USER": user,
        "AZ_BATCH_TASK_USER_IDENTITY": identity,
        "AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES": RESERVED_EPHEMERAL_DISK_SPACE_BYTES,
        "HOME": str(wd),
        "PWD": str(wd),
        "PATH": f"{system_path or os.environ.get('PATH') or os.defpath}:{node_root / 'shared'}:{wd}",
    }
    if job_id is not None:
        env["AZ_BATCH_JOB_ID"] = job_id
    if task_id is not None:
        env["AZ_BATCH_TASK_ID"] = task_id
    if job_id is not None and job_preparation_task_id and task_id != job_preparation_task_id:
        prep_dir = task_directory(node_root, job_id, job_preparation_task_id)
        env["AZ_BATCH_JOB_PREP_DIR"] = str(prep_dir)
        env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = str(prep_dir / "wd")
    env.update(_settings(common_environment_settings))
    env.update(_settings(environment_settings))
    return env


# --------------------------------------------------------------------------------------------------
# Running the process
# --------------------------------------------------------------------------------------------------


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The task runs in its own session, so its pid is its process-group id; killing the group
    # takes the children a `/bin/sh -c` started with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _process_registry(node_root: Path) -> Path:
    # Beside the node root, not in it: the files API and the portal show only the node's own files.
    return node_root.parent / f".{node_root.name}.processes"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _register(node_root: Path, pid: int) -> Path | None:
    """Record a running task's process group, so an emulator that was killed can end it on restart."""
    started = _start_time(pid)
    if started is None:
        return None
    registry = _process_registry(node_root)
    registry.mkdir(parents=True, exist_ok=True)
    entry = registry / str(pid)
    entry.write_text(started)
    return entry


def reap_orphans(node_root: Path) -> list[int]:
    """Kill task process groups left running by an emulator that died (a node reboot ends them too).

    Without this, a task that was running when the emulator was killed keeps running unseen while
    its requeued attempt runs again: the task's work happens twice. A pid is only killed when its
    start time still matches the recorded one, so a recycled pid is never hit.
    """
    registry = _process_registry(node_root)
    killed: list[int] = []
    if not registry.is_dir():
        return killed
    for entry in registry.iterdir():
        with contextlib.suppress(ValueError, OSError):
            pid = int(entry.name)
            if _start_time(pid) == entry.read_text():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                    killed.append(pid)
            entry.unlink()
    return killed


def _exit_code(returncode: int) -> int:
    # Popen reports death by signal N as -N; a Linux shell and Batch's agent report 128 + N.
    return 128 - returncode if returncode < 0 else returncode


def _launch_failure(exc: OSError, program: str) -> dict[str, Any]:
    if isinstance(exc, FileNotFoundError):
        return failure_info(
            "usererror",
            "CommandProgramNotFound",
            "The specified command program is not found",
            Message=f"{program}: {exc.strerror or exc}",
        )
    return failure_info(
        "usererror",
        "CommandLaunchFailed",
        "The task command line could not be launched",
        Message=f"{program}: {exc.strerror or exc}",
    )


def execute(run: TaskRun, cancel: threading.Event) -> ProcessResult:
    """Run one attempt of a task: create its directories, download resource files, run the process.

    Creates the task dir with `wd/`, `stdout.txt` and `stderr.txt` (truncated per attempt), downloads
    `run.resource_files` into `wd` (a failure returns at once with `exit_code=None` and a
    `BlobNotFound`/`BlobAccessDenied`/`BlobDownloadMiscError` failureInfo, never retried), then runs
    `shlex.split(command_line)` without a shell, with `cwd=wd` and `env=run.environment`, in its own
    process group. Setting `cancel` (user terminate) or reaching `max_wall_clock_seconds` kills the
    whole group and gives failureInfo `TaskEnded` (`timed_out=True` for the wall clock). Blocks
    until the attempt ends; call it on a worker thread.
    """
    from localbatch.resourcefiles import download_resource_files

    start = _utcnow()
    started_monotonic = time.monotonic()
    wd = run.working_dir
    wd.mkdir(parents=True, exist_ok=True)
    (run.task_dir / "stdout.txt").write_bytes(b"")
    (run.task_dir / "stderr.txt").write_bytes(b"")

    if run.resource_files:
        download_failure = download_resource_files(run.resource_files, wd)
        if download_failure is not None:
            return ProcessResult(None, start, _utcnow(), download_failure)
    if cancel.is_set():
        return ProcessResult(None, start, _utcnow(), _ended_by_user())

    try:
        argv = shlex.split(run.command_line)
    except ValueError as exc:  # unbalanced quotes
        info = failure_info("usererror", "CommandLaunchFailed", f"The command line cannot be parsed: {exc}")
        return ProcessResult(None, start, _utcnow(), info)
    if not argv:
        info = failure_info("usererror", "CommandLaunchFailed", "The command line is empty")
        return ProcessResult(None, start, _utcnow(), info)

    env = dict(run.environment)
    env.setdefault("PATH", os.defpath)  # Popen looks the program up on the child's PATH
    with (
        open(run.task_dir / "stdout.txt", "ab") as stdout,
        open(run.task_dir / "stderr.txt", "ab") as stderr,
    ):
        try:
            proc = subprocess.Popen(
                argv,
                cwd=wd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return ProcessResult(None, start, _utcnow(), _launch_failure(exc, argv[0]))
    registered = _register(run.node_root, proc.pid)

    # A helper thread blocks in waitpid so a normal exit is seen with no polling delay; this thread
    # only wakes periodically to look at the cancel event and the deadline.
    exited = threading.Event()

    def wait_for_exit() -> None:
        proc.wait()
        exited.set()

    waiter = threading.Thread(target=wait_for_exit, name=f"wait-{proc.pid}", daemon=True)
    waiter.start()
    deadline = None if run.max_wall_clock_seconds is None else started_monotonic + run.max_wall_clock_seconds
    ended: dict[str, Any] | None = None
    timed_out = False
    while not exited.wait(_POLL_SECONDS):
        if cancel.is_set():
            ended = _ended_by_user()
            break
        if deadline is not None and time.monotonic() >= deadline:
            timed_out = True
            ended = failure_info(
                "usererror",
                "TaskEnded",
                "The task exceeded its maximum wall clock time and was ended",
                Message=f"maxWallClockTime of {run.max_wall_clock_seconds:g} seconds reached",
            )
            break
    if ended is not None:
        _kill_group(proc)
        exited.wait()
    waiter.join()
    if registered is not None:
        with contextlib.suppress(OSError):
            registered.unlink()
    end = _utcnow()
    assert proc.returncode is not None
    return ProcessResult(_exit_code(proc.returncode), start, end, ended, timed_out)


def _ended_by_user() -> dict[str, Any]:
    return failure_info("usererror", "TaskEnded", "Task was ended by user request")


def upload_outputs(run: TaskRun, exit_code: int | None) -> dict[str, Any] | None:
    """Upload `run.output_files` whose uploadCondition matches `exit_code`; failureInfo on failure.

    Call once, after the last attempt, before marking the task completed. Writes
    `fileuploadout.txt`/`fileuploaderr.txt` in the task dir. Returns None when every upload
    succeeded (or nothing was to be uploaded), else a `usererror` failureInfo
    (`FileUploadContainerNotFound`, `FileUploadAuthenticationFailed`, `FileUploadMiscError`).
    """
    from localbatch.outputs import upload_output_files

    return upload_output_files(
        run.output_files,
        exit_code=exit_code,
        task_dir=run.task_dir,
        working_dir=run.working_dir,
        environment=run.environment,
    )
