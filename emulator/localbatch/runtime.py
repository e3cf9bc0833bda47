"""The node runtime: running one task process in a node's sandbox directory.

This module knows nothing about HTTP or the store. The model builds a `TaskRun` (directories,
command line, the complete environment from `task_environment`, resource and output files in their
wire shape), starts it with `launch` and hands the `Process` to its one `Reaper` thread, which
reports exits, enforces wall clocks and kills on cancel (`execute` is the blocking form of the same
steps). It calls `upload_outputs` once after the last attempt. Everything here mirrors what a Linux Batch node does: the `workitems/<job>/job-1/<task>`
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

A task with a `TaskRun.container` runs the same way, its process being the container engine's
`run` command (see `containers`); a kill also removes the container, which the engine keeps alive
otherwise.

May import: `orphans` (the on-disk registry of running process groups that a restart reaps),
`containers` (the engine command of a container task), `wire` (the clock).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import select
import shlex
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from . import orphans, wire
from .containers import TaskContainer, environment_names

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
    # A failureInfo to report instead of launching (a Windows pool's command line: see
    # `windows_launch_failure`).
    launch_failure: dict[str, Any] | None = None
    # Run the command line in this container (a task with `containerSettings`), else as a process.
    container: TaskContainer | None = None

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
    # The service's one clock (see `wire.utcnow`), so task times line up with job and schedule times
    # when a test moves the clock forward.
    return wire.utcnow()


def failure_info(category: str, code: str, message: str, **details: str) -> dict[str, Any]:
    """A Batch `failureInfo` body (wire shape); `details` become `[{name, value}]` entries."""
    body: dict[str, Any] = {"category": category, "code": code, "message": message}
    if details:
        body["details"] = [{"name": k, "value": v} for k, v in details.items()]
    return body


def windows_launch_failure(command_line: str) -> dict[str, Any]:
    """The failureInfo of a task on a Windows pool: the emulator runs Linux processes only."""
    return failure_info(
        "usererror",
        "CommandLaunchFailed",
        "The pool runs Windows nodes; the local Batch emulator runs tasks as Linux processes and cannot "
        "run a Windows command line",
        CommandLine=command_line,
    )


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
    return Path(f"{node_root}/workitems/{job_id}/job-1/{task_id}")  # one parse, not four joins


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
    # Joined as strings: this runs for every attempt, and pathlib's joins cost more than the rest.
    root, tdir = str(node_root), str(task_dir)
    wd = f"{tdir}/wd"
    user, identity = user_identity_name(user_identity)
    env: dict[str, str] = {
        "AZ_BATCH_ACCOUNT_NAME": account_name,
        "AZ_BATCH_ACCOUNT_URL": account_url if account_url.endswith("/") else account_url + "/",
        "AZ_BATCH_POOL_ID": pool_id,
        "AZ_BATCH_NODE_ID": node_id,
        "AZ_BATCH_NODE_IS_DEDICATED": "true" if is_dedicated else "false",
        "AZ_BATCH_NODE_ROOT_DIR": root,
        "AZ_BATCH_NODE_SHARED_DIR": f"{root}/shared",
        "AZ_BATCH_NODE_STARTUP_DIR": f"{root}/startup",
        "AZ_BATCH_NODE_MOUNTS_DIR": f"{root}/fsmounts",
        "AZ_BATCH_TASK_DIR": tdir,
        "AZ_BATCH_TASK_WORKING_DIR": wd,
        "AZ_BATCH_CERTIFICATES_DIR": f"{tdir}/certs",
        "AZ_BATCH_TASK_USER": user,
        "AZ_BATCH_TASK_USER_IDENTITY": identity,
        "AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES": RESERVED_EPHEMERAL_DISK_SPACE_BYTES,
        "HOME": wd,
        "PWD": wd,
        "PATH": f"{system_path or os.environ.get('PATH') or os.defpath}:{root}/shared:{wd}",
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


_PR_SET_CHILD_SUBREAPER = 36
_subreaper_lock = threading.Lock()
_subreaper: bool | None = None
_unreaped: set[int] = set()  # escaped processes killed, to be waited for once they are zombies
_leaders: set[int] = set()  # pids of launched task processes not reaped yet (known children)


def _become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (Linux `PR_SET_CHILD_SUBREAPER`).

    A task's child whose parent exits (a `setsid`/`nohup`/double-fork daemon) is then re-parented to
    the emulator rather than to init, so it stays in the emulator's process tree, where it is found
    by walking `/proc/<pid>/task/*/children`, and its exit status is collected here (no zombies).
    A cgroup would be the stronger fence, but cgroup v2 is often not writable for a user (nor on
    this CI's cgroup v1 hosts); this works for any user on Linux.
    """
    global _subreaper
    with _subreaper_lock:
        if _subreaper is None:
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                _subreaper = False
        return _subreaper


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's `children` list; empty when it is gone)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        with contextlib.suppress(OSError, ValueError):
            out.extend(int(x) for x in orphans.read_proc(f"/proc/{pid}/task/{tid}/children").split())
    return out


def _subtree(pid: int) -> list[int]:
    """`pid` and all its descendants, parents before children."""
    out, todo, seen = [], [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        out.append(current)
        todo.extend(_children(current))
    return out


def _task_processes(token: str, leader: int | None) -> list[int]:
    """Live processes of the task with `token`: the leader's subtree (while it is unreaped), plus
    every child of the emulator that carries the token, with its subtree.

    With the emulator as subreaper, a process that left the leader's tree (its parent exited) is a
    direct child of the emulator, so only those children need their environment read; a descendant
    of one that cleared its environment is still found through the subtree.
    """
    found: list[int] = []
    if leader is not None:
        found.extend(_subtree(leader))
    for pid in _children(os.getpid()):
        if pid not in found and orphans.token_of(pid) == token:
            found.extend(p for p in _subtree(pid) if p not in found)
    return found


def _left_processes(token: str, leader: int) -> bool:
    """Whether a task whose main process (`leader`, just reaped) left any process running: two
    system calls in the common case of a task that left nothing, whatever else runs on the node.

    A process the task started either stayed in its process group (the leader's pid, as
    `start_new_session` made it; `killpg(pgid, 0)` finds a member) or left it (`setsid`); one that
    left it and whose parents are all gone was re-parented to the emulator, its subreaper, which
    hands orphans to its main thread: they are the main thread's children not launched as tasks,
    told apart by the task token they inherited. A process that left the group while a parent of it
    still runs has that parent in the group, or is found the same way through it. Anything found
    (or a pid reused by a new group, which is harmless) sends the caller to the full scan.
    """
    try:
        os.killpg(leader, 0)
        return True
    except ProcessLookupError:
        pass
    except PermissionError:
        return True
    main = os.getpid()  # the main thread's id is the process id
    try:
        children = [int(x) for x in orphans.read_proc(f"/proc/{main}/task/{main}/children").split()]
    except (OSError, ValueError):
        return True  # cannot tell: scan
    return any(pid not in _leaders and orphans.token_of(pid) == token for pid in children)


def _end_task_processes(token: str, leader: int | None) -> None:
    """SIGKILL every process of a task, repeating while a fork races the kill (children of a killed
    process inherit the token, so the next pass finds them)."""
    owned = leader  # a Popen's child: its status is the Popen's to collect, never reaped here
    for _ in range(20):
        pids = [p for p in _task_processes(token, leader) if p != owned]
        if leader is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, signal.SIGKILL)  # the leader is unreaped: its pgid is still its own
            orphans.kill_pids([leader])
            leader = None
        if not pids:
            break
        orphans.kill_pids(pids)
        with _subreaper_lock:
            _unreaped.update(pids)
    # SIGKILL is delivered asynchronously: give the killed processes a moment to become zombies so
    # they are reaped now; any still pending is retried the next time a task ends.
    deadline = time.monotonic() + 0.5
    while _reap_escaped() and time.monotonic() < deadline:
        time.sleep(0.005)


def _reap_escaped() -> bool:
    """Collect the exit status of killed escaped processes re-parented to the emulator (no zombies);
    whether some are still pending.

    Only pids this module killed are waited for, never any other child: a `Popen` elsewhere in the
    process must still find its own child's status.
    """
    with _subreaper_lock:
        pending = list(_unreaped)
    for pid in pending:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not (or no longer) our child: its own parent reaps it
            done = pid
        if done:
            with _subreaper_lock:
                _unreaped.discard(pid)
    with _subreaper_lock:
        return bool(_unreaped)


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


def _open_output(path: str) -> int:
    # Truncated for each attempt, appended to by the process (and anything it starts).
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _make_task_dirs(task_dir: str, wd: str) -> None:
    # The common case is a new task directory below an existing job directory: two mkdir calls.
    try:
        os.mkdir(task_dir)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(task_dir, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(wd)


# What `shlex.split` treats specially beyond splitting on its whitespace (` \t\r\n`).
_SHELL_QUOTING = re.compile(r"['\"\\]")
_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")


def split_command_line(command_line: str) -> list[str]:
    """The argv of a command line, as `shlex.split` (POSIX rules, no shell) gives it.

    A line without quotes or backslashes splits on whitespace alone: that is `shlex.split`'s result
    for it, without its character-by-character lexer (most of a launch's Python time otherwise).
    """
    if _SHELL_QUOTING.search(command_line) is None:
        return [part for part in _SHLEX_WHITESPACE.split(command_line) if part]
    return shlex.split(command_line)


_devnull_fd: int | None = None
_devnull_lock = threading.Lock()


def _devnull() -> int:
    """One read-only /dev/null descriptor for every task's stdin (Popen would open one per process)."""
    global _devnull_fd
    if _devnull_fd is None:
        with _devnull_lock:
            if _devnull_fd is None:
                _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


# A task token is this emulator run's random prefix and a counter: unique for the run (a restart
# draws a new prefix) without a random draw per task.
_token_prefix = uuid.uuid4().hex[:16]
_token_counter = itertools.count(1)


class Process:
    """A launched task process: its `Popen`, when it started, its wall-clock deadline and how it ended.

    Made by `launch`; a `Reaper` waits for it, kills it at the deadline or on `Reaper.cancel`, and
    turns it into a `ProcessResult`.
    """

    def __init__(
        self, run: TaskRun, popen: subprocess.Popen[bytes], start: datetime, started_monotonic: float
    ) -> None:
        self.run = run
        self.popen = popen
        self.start_time = start
        limit = run.max_wall_clock_seconds
        self.deadline = None if limit is None else started_monotonic + limit
        self.ended: dict[str, Any] | None = None  # failureInfo of a kill (terminate or wall clock)
        self.timed_out = False
        self.registered = False
        self.token = ""  # the orphans.TASK_TOKEN_VAR value every process of this attempt inherits

    @property
    def pid(self) -> int:
        return self.popen.pid


class Cancel(Protocol):
    """What `launch` reads to run nothing for an attempt cancelled before its process started (a
    `threading.Event` is one)."""

    def is_set(self) -> bool: ...


def launch(run: TaskRun, cancel: Cancel | None = None) -> Process | ProcessResult:
    """Prepare and start one attempt: directories, resource files, then the process; no waiting.

    Creates the task dir with `wd/`, `stdout.txt` and `stderr.txt` (truncated per attempt), downloads
    `run.resource_files` into `wd` (a failure returns a `ProcessResult` at once with `exit_code=None`
    and a `BlobNotFound`/`BlobAccessDenied`/`BlobDownloadMiscError` failureInfo, never retried), then
    starts `shlex.split(command_line)` without a shell, with `cwd=wd` and `env=run.environment`, in
    its own process group. Returns the running `Process` for a `Reaper` to wait for, or the
    `ProcessResult` of an attempt that ended before a process ran (launch failure, `cancel` set).
    """
    from localbatch.resourcefiles import download_resource_files

    start = _utcnow()
    started_monotonic = time.monotonic()
    # Strings, not Paths: this runs for every attempt, and pathlib's joins cost more than the calls.
    task_dir = str(run.task_dir)
    wd = f"{task_dir}/wd"
    _make_task_dirs(task_dir, wd)
    stdout = _open_output(f"{task_dir}/stdout.txt")
    try:
        stderr = _open_output(f"{task_dir}/stderr.txt")
    except BaseException:
        os.close(stdout)
        raise
    try:
        if run.resource_files:
            download_failure = download_resource_files(run.resource_files, run.working_dir)
            if download_failure is not None:
                return ProcessResult(None, start, _utcnow(), download_failure)
        if cancel is not None and cancel.is_set():
            return ProcessResult(None, start, _utcnow(), _ended_by_user())
        if run.launch_failure is not None:
            return ProcessResult(None, start, _utcnow(), run.launch_failure)
        try:
            argv = split_command_line(run.command_line)
        except ValueError as exc:  # unbalanced quotes
            info = failure_info(
                "usererror", "CommandLaunchFailed", f"The command line cannot be parsed: {exc}"
            )
            return ProcessResult(None, start, _utcnow(), info)
        if not argv:
            info = failure_info("usererror", "CommandLaunchFailed", "The command line is empty")
            return ProcessResult(None, start, _utcnow(), info)
        if run.container is not None:
            argv = run.container.command(argv, environment_names(run.environment), run.working_dir)
        _become_subreaper()
        token = f"{_token_prefix}{next(_token_counter):016x} {run.node_root}"
        env = {**run.environment, orphans.TASK_TOKEN_VAR: token}
        if "PATH" not in env:
            env["PATH"] = os.defpath  # Popen looks the program up on the child's PATH
        try:
            popen = subprocess.Popen(
                argv,
                cwd=wd,
                env=env,
                stdin=_devnull(),
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return ProcessResult(None, start, _utcnow(), _launch_failure(exc, argv[0]))
        except (
            ValueError
        ) as exc:  # NUL in the command line or the environment: this task fails, not the scheduler
            info = failure_info("usererror", "CommandLaunchFailed", f"The task could not be launched: {exc}")
            return ProcessResult(None, start, _utcnow(), info)
    finally:
        os.close(stdout)
        os.close(stderr)
    _leaders.add(popen.pid)
    process = Process(run, popen, start, started_monotonic)
    process.token = token
    started = orphans.start_time(popen.pid)
    if started is not None:
        orphans.registry(run.node_root).add(popen.pid, started)
        process.registered = True
    return process


class _Watch:
    """A process the reaper waits for, with the token its result is delivered with."""

    __slots__ = ("process", "token", "pidfd")

    def __init__(self, process: Process, token: Any, pidfd: int | None) -> None:
        self.process = process
        self.token = token
        self.pidfd = pidfd


Deliver = Callable[[list[tuple[Any, ProcessResult]]], None]


class Reaper:
    """One thread that waits for every task process, instead of a waiting thread per process.

    `watch(process, token)` hands a launched `Process` over; when it exits, `deliver` is called on
    the reaper thread with `[(token, ProcessResult), ...]`: every process that ended since the last
    call, so the caller can record a burst of short tasks in one step. The thread sleeps in epoll on
    a pidfd per process (polling every 10 ms only where pidfds are unavailable), wakes at the
    earliest wall-clock deadline and kills that process group, and `cancel` kills a group at once
    (a user terminate). A killed process is reported with exit code 137 and a `TaskEnded`
    failureInfo, like `execute`.
    """

    def __init__(self, deliver: Deliver, name: str = "localbatch-reaper") -> None:
        self._deliver = deliver
        self._name = name
        self._lock = threading.Lock()
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._by_fd: dict[int, _Watch] = {}
        self._polled: dict[int, _Watch] = {}  # pid -> watch, for processes without a pidfd
        self._timed: dict[int, _Watch] = {}  # pid -> watch, for processes with a deadline
        self._closed = False
        self._thread: threading.Thread | None = None

    def watch(self, process: Process, token: Any) -> None:
        """Wait for `process` on the reaper thread; its result is delivered with `token`."""
        try:
            pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):  # no pidfds here (old kernel, seccomp): poll this one
            pidfd = None
        watch = _Watch(process, token, pidfd)
        wake = False
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            if process.deadline is not None:
                self._timed[process.pid] = watch
                wake = True
            if pidfd is None:
                self._polled[process.pid] = watch
                wake = True
            else:
                self._by_fd[pidfd] = watch
                # Level-triggered: a process that already exited is reported on the next wait.
                self._epoll.register(pidfd, select.EPOLLIN)
        if wake:  # the reaper's current wait may be longer than this deadline or poll interval
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"x")

    def cancel(self, process: Process) -> None:
        """Kill `process`'s group now (user terminate); its result has failureInfo `TaskEnded`."""
        with self._lock:
            self._kill(process, _ended_by_user(), timed_out=False)

    def _kill(self, process: Process, ended: dict[str, Any], *, timed_out: bool) -> None:
        # Under the lock, and only before the process was reaped, so a recycled pid is never hit.
        if process.popen.returncode is not None or process.ended is not None:
            return
        process.ended = ended
        process.timed_out = timed_out
        _end_task_processes(process.token, process.pid)
        container = process.run.container
        if container is not None:
            # The engine keeps a container running when its `run` client dies: remove it too, off
            # this lock (the engine takes a moment).
            threading.Thread(
                target=container.runtime.remove, args=(container.name,), name="localbatch-ctr-rm", daemon=True
            ).start()

    def close(self) -> None:
        """Let the thread end once nothing is left to wait for (the caller kills what still runs)."""
        with self._lock:
            self._closed = True
            started = self._thread is not None
        if not started:  # nothing was ever watched: no thread to release the descriptors
            self._release()
            return
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _release(self) -> None:
        with contextlib.suppress(OSError):
            self._epoll.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed and not self._by_fd and not self._polled:
                    break
                timeout = -1.0
                now = time.monotonic()
                for watch in self._timed.values():
                    deadline = watch.process.deadline
                    if deadline is None or watch.process.ended is not None:
                        continue  # killed already: its exit wakes the reaper
                    left = max(0.0, deadline - now)
                    timeout = left if timeout < 0 else min(timeout, left)
                if self._polled:
                    timeout = _REAPER_POLL_SECONDS if timeout < 0 else min(timeout, _REAPER_POLL_SECONDS)
            try:
                events = self._epoll.poll(timeout)
            except InterruptedError:
                events = []
            finished: list[tuple[Any, ProcessResult]] = []
            with self._lock:
                candidates: list[_Watch] = list(self._polled.values())
                for fd, _ in events:
                    if fd == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._wake_r, 4096):
                                pass
                    elif (ready := self._by_fd.get(fd)) is not None:
                        candidates.append(ready)
                now = time.monotonic()
                for watch in list(self._timed.values()):
                    process = watch.process
                    if process.deadline is not None and now >= process.deadline and process.ended is None:
                        limit = process.run.max_wall_clock_seconds or 0.0
                        self._kill(
                            process,
                            failure_info(
                                "usererror",
                                "TaskEnded",
                                "The task exceeded its maximum wall clock time and was ended",
                                Message=f"maxWallClockTime of {limit:g} seconds reached",
                            ),
                            timed_out=True,
                        )
                for watch in candidates:
                    if watch.process.popen.poll() is None:
                        continue
                    finished.append((watch.token, self._forget(watch)))
            if finished:
                try:
                    self._deliver(finished)
                except Exception:  # noqa: BLE001 - the reaper must outlive a bad callback
                    import traceback

                    traceback.print_exc()
        self._release()

    def _forget(self, watch: _Watch) -> ProcessResult:
        """Stop watching a reaped process (under the lock); its result."""
        process = watch.process
        if watch.pidfd is not None:
            self._by_fd.pop(watch.pidfd, None)
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(watch.pidfd)
            os.close(watch.pidfd)
        self._polled.pop(process.pid, None)
        self._timed.pop(process.pid, None)
        if process.registered:
            orphans.registry(process.run.node_root).remove(process.pid)
        _leaders.discard(process.pid)
        if process.token:
            # A task ends with its main process: whatever it left running (`nohup x &`, a daemon)
            # is ended too, as on terminate, and the emulator waits for it (no zombie is left).
            # Most tasks leave nothing, which `_left_processes` tells without walking every child.
            if _left_processes(process.token, process.pid):
                _end_task_processes(process.token, None)
            elif _unreaped:
                _reap_escaped()  # killed earlier and not reaped then: collected now
        returncode = process.popen.returncode
        assert returncode is not None
        return ProcessResult(
            _exit_code(returncode), process.start_time, _utcnow(), process.ended, process.timed_out
        )


_REAPER_POLL_SECONDS = 0.01
_default_reaper: Reaper | None = None
_default_reaper_lock = threading.Lock()


def _deliver_to_callbacks(finished: list[tuple[Any, ProcessResult]]) -> None:
    for callback, result in finished:
        callback(result)


def _shared_reaper() -> Reaper:
    global _default_reaper
    with _default_reaper_lock:
        if _default_reaper is None:
            _default_reaper = Reaper(_deliver_to_callbacks, name="localbatch-execute-reaper")
        return _default_reaper


def execute(run: TaskRun, cancel: threading.Event) -> ProcessResult:
    """Run one attempt of a task to its end: `launch`, then wait for the process.

    Setting `cancel` (user terminate) or reaching `max_wall_clock_seconds` kills the whole process
    group and gives failureInfo `TaskEnded` (`timed_out=True` for the wall clock); a cancel before
    the process starts runs nothing. Blocks until the attempt ends; call it on a worker thread (the
    emulator itself uses `launch` and a `Reaper`, with no thread per task).
    """
    outcome = launch(run, cancel)
    if isinstance(outcome, ProcessResult):
        return outcome
    done = threading.Event()
    box: list[ProcessResult] = []

    def finished(result: ProcessResult) -> None:
        box.append(result)
        done.set()

    reaper = _shared_reaper()
    reaper.watch(outcome, finished)
    # The reaper reports the exit at once; this thread only wakes to look at the cancel event.
    while not done.wait(_POLL_SECONDS):
        if cancel.is_set():
            reaper.cancel(outcome)
    return box[0]


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
