"""Execution threads: one `Execution` per attempt of a task, prep, release or start task. Attempts are
queued under the lock and launched after it is released; one `runtime.Reaper` waits for every
process, and exits that arrive together are recorded under one lock hold and one store transaction.
Only slow pre- and post-processing (resource file downloads, output uploads) gets a thread.

May import: `entities`, `validation`, `wire`, `exceptions`, `runtime`, `containers`, and `.base`. Not HTTP or
the portal.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runtime
from ..containers import job_prep_dir_of, task_container
from ..entities import Job, Node, Pool
from ..validation import is_windows_pool
from ..wire import (
    Doc,
    iso,
    utcnow,
)
from .base import ServiceBase

# Threads that help launch queued attempts (see `ExecutionsPart._launch_pending`): a few, as their
# work is system calls; more would only contend for the interpreter lock.
LAUNCH_HELPERS = 3


@dataclass
class Execution:
    """One attempt of a task, prep, release or start task: what to run, what to do with its result,
    the process once launched, and the events to stop/await it.

    `on_result` runs under the service lock with the `ProcessResult`; a non-None return value is
    handed to `after` on a thread of its own, outside the lock (output file uploads).
    """

    key: tuple[str, ...]
    run: runtime.TaskRun
    on_result: Callable[[runtime.ProcessResult], Any]
    after: Callable[[Any], None] | None = None
    process: runtime.Process | None = None
    cancel: Flag = field(default_factory=lambda: Flag())
    finished: bool = False  # its result is recorded (and its uploads are done)
    _waiter: threading.Event | None = None

    def finish(self) -> None:
        """Mark the attempt over and wake whoever waits for it."""
        self.finished = True
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def waiter(self) -> threading.Event:
        """An event set once the attempt is over, made only for a caller that waits (terminate): an
        `Event` per attempt cost more than the rest of its record."""
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = threading.Event()
        if self.finished:  # `finish` ran before the event existed
            waiter.set()
        return waiter


class Flag:
    """A cancel flag the launch reads (`runtime.Cancel`): set once, never waited for."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def record_outcome(info: Doc, result: runtime.ProcessResult) -> bool:
    """Write how a start, prep or release task attempt ended into its execution info (state
    `completed`, endTime, result, exitCode, failureInfo); True if it failed."""
    failed = result.failure_info is not None or result.exit_code != 0
    info.update(state="completed", endTime=iso(result.end_time), result="failure" if failed else "success")
    if result.exit_code is not None:
        info["exitCode"] = result.exit_code
    if failed:
        info["failureInfo"] = result.failure_info or runtime.exit_code_failure_info(result.exit_code)
    return failed


def launch_failure(pool: Pool, command_line: str) -> Doc | None:
    """What an attempt on `pool` fails with before it runs (a Windows pool), or None."""
    return runtime.windows_launch_failure(command_line) if is_windows_pool(pool.doc) else None


def _container_mismatch(has_settings: bool) -> Doc:
    # Batch: a pool with containerConfiguration runs regular tasks only with containerSettings, and
    # a pool without it runs none with containerSettings. The emulator fails such an attempt.
    reason = (
        "The task has containerSettings but its pool has no containerConfiguration"
        if has_settings
        else "The pool has a containerConfiguration: its tasks must have containerSettings"
    )
    return runtime.failure_info("usererror", "CommandLaunchFailed", reason)


class ExecutionsPart(ServiceBase):
    """Launching and reaping attempts (`BatchService` mixin)."""

    def _containerize(self, run: runtime.TaskRun, pool: Pool, spec: Doc, *, regular: bool = False) -> None:
        """Run ``run`` in a container when ``spec`` has ``containerSettings`` (``regular``: a job's
        task, which a container pool runs only in a container); set its launch failure otherwise."""
        if run.launch_failure is not None:
            return
        settings = spec.get("containerSettings")
        vmc = pool.doc.get("virtualMachineConfiguration") or {}
        container_pool = bool(vmc.get("containerConfiguration"))
        if settings and not container_pool or (regular and container_pool and not settings):
            run.launch_failure = _container_mismatch(bool(settings))
            return
        if not settings:
            return
        if self.container_runtime is None:  # a container task stored before a restart without one
            run.launch_failure = runtime.failure_info(
                "usererror",
                "CommandLaunchFailed",
                "The local Batch emulator has no container runtime now (localbatch serve --container-runtime)",
            )
            return
        try:
            run.container = task_container(
                self.container_runtime,
                settings,
                node_root=run.node_root,
                task_dir=run.task_dir,
                job_prep_dir=job_prep_dir_of(run.environment),
                name=f"localbatch-{uuid.uuid4().hex[:16]}",
                owner=str(self.data_dir),
            )
        except ValueError as exc:
            run.launch_failure = runtime.failure_info(
                "usererror", "CommandLaunchFailed", f"containerRunOptions cannot be parsed: {exc}"
            )

    def _environment(
        self, job: Job, pool: Pool, node: Node, task_dir: Path, task_id: str, spec: Doc
    ) -> dict[str, str]:
        prep = job.doc.get("jobPreparationTask")
        env = runtime.task_environment(
            account_name=self.account_name,
            account_url=self.base_url,
            pool_id=pool.doc["id"],
            node_id=node.id,
            node_root=node.root,
            task_dir=task_dir,
            job_id=job.doc["id"],
            task_id=task_id,
            is_dedicated=bool(node.doc["isDedicated"]),
            job_preparation_task_id=prep["id"] if prep else None,
            user_identity=spec.get("userIdentity"),
            common_environment_settings=job.doc.get("commonEnvironmentSettings"),
            environment_settings=spec.get("environmentSettings"),
        )
        env.update(self._app_package_environment(pool, node, spec))
        return env

    def _spawn(
        self,
        key: tuple[str, ...],
        run: runtime.TaskRun,
        on_result: Callable[[runtime.ProcessResult], Any],
        after: Callable[[Any], None] | None = None,
    ) -> None:
        """Queue `run` to be launched once the lock is released; `on_result` runs under the lock
        when it ends, `after` (given `on_result`'s value, when not None) on a thread outside it."""
        execution = Execution(key, run, on_result, after)
        self._executions[key] = execution
        self._to_launch.append(execution)

    def _stop_execution(self, execution: Execution) -> None:
        """Cancel an attempt: before launch it never starts; once running its process group is killed."""
        execution.cancel.set()
        process = execution.process
        if process is not None:
            self._reaper.cancel(process)

    def _cancel(self, key: tuple[str, ...]) -> None:
        execution = self._executions.get(key)
        if execution is not None:
            self._stop_execution(execution)

    def _launch_pending(self) -> None:
        """Launch what `_spawn` queued, on this thread and outside the lock, with helper threads
        when more than one attempt waits.

        A launch without resource files is quick (directories, then `Popen`), so it happens right
        here and the process goes to the reaper: no thread per task. When several attempts wait
        (a tick that fills a pool, a burst of exits), up to `LAUNCH_HELPERS` helper threads drain
        the same queue: a launch is mostly system calls (mkdir, open, fork, exec) that run without
        the interpreter lock, so helpers overlap them on other cores as a spawn loop at the pool's
        parallelism does. Resource file downloads can take long, so such an attempt gets a thread
        of its own. Attempts that end before a process runs (launch failure, cancelled) are
        recorded together once the queue is empty.
        """
        if getattr(self._launching, "active", False):
            return  # an outer call on this thread drains the queue
        self._launching.active = True
        try:
            waiting = len(self._to_launch)
            if waiting > 1:
                self._wake_launch_helpers(waiting - 1)
            self._drain_launches()
        finally:
            self._launching.active = False

    def _wake_launch_helpers(self, wanted: int) -> None:
        with self._launch_helpers_lock:
            while len(self._launch_helpers) < min(wanted, LAUNCH_HELPERS):
                helper = threading.Thread(target=self._launch_helper, name="localbatch-launcher", daemon=True)
                self._launch_helpers.append(helper)
                helper.start()
        for _ in range(min(wanted, LAUNCH_HELPERS)):
            self._launch_wakeups.put(True)

    def _launch_helper(self) -> None:
        self._launching.active = True  # its own launches' follow-ups are drained by this loop
        while self._launch_wakeups.get():
            try:
                self._drain_launches()
            except Exception:  # noqa: BLE001 - a helper must outlive a bad launch
                traceback.print_exc()

    def _stop_launch_helpers(self) -> None:
        with self._launch_helpers_lock:
            for _ in self._launch_helpers:
                self._launch_wakeups.put(False)

    def _drain_launches(self) -> None:
        while True:
            ended: list[tuple[Any, runtime.ProcessResult]] = []
            while True:
                try:
                    execution = self._to_launch.popleft()
                except IndexError:
                    break
                if self._stopped.is_set():
                    execution.finish()
                elif execution.run.resource_files:
                    threading.Thread(
                        target=self._launch_alone,
                        args=(execution,),
                        name=f"localbatch-{'-'.join(execution.key)}",
                        daemon=True,
                    ).start()
                elif (result := self._launch(execution)) is not None:
                    ended.append((execution, result))
            if not ended:
                return
            self._on_exits(ended)

    def _launch_alone(self, execution: Execution) -> None:
        result = self._launch(execution)
        if result is not None:
            self._on_exits([(execution, result)])

    def _launch(self, execution: Execution) -> runtime.ProcessResult | None:
        """Start one attempt and hand its process to the reaper; the result if it ended already."""
        try:
            outcome = runtime.launch(execution.run, execution.cancel)
        except Exception as exc:  # noqa: BLE001 - a runtime bug becomes a task failure, not a hang
            now = utcnow()
            info = runtime.failure_info("servererror", "Unknown", f"The node runtime failed: {exc}")
            return runtime.ProcessResult(None, now, now, info)
        if isinstance(outcome, runtime.ProcessResult):
            return outcome
        execution.process = outcome
        self._reaper.watch(outcome, execution)
        if execution.cancel.is_set():  # cancelled while launching: `_stop_execution` saw no process
            self._reaper.cancel(outcome)
        return None

    def _on_exits(self, ended: list[tuple[Any, runtime.ProcessResult]]) -> None:
        """Record attempts that ended (from the reaper, or launches that failed): one lock hold and
        one store transaction for the whole batch, then the uploads of those that have output files."""
        follow: list[tuple[Execution, Any]] = []
        with self._op():
            for token, result in ended:
                execution: Execution = token
                if self._executions.get(execution.key) is execution:
                    del self._executions[execution.key]
                follow_up = None
                if not self._stopped.is_set():
                    try:
                        follow_up = execution.on_result(result)
                    except Exception:  # noqa: BLE001 - one bad record must not lose the others
                        traceback.print_exc()
                follow.append((execution, follow_up))
            if not self._stopped.is_set():
                # The slots these attempts held are refilled now, in this lock hold, rather than on
                # the scheduler thread's next tick: no hand-over between threads per completion.
                self._refill()
        for execution, follow_up in follow:
            if execution.after is not None and follow_up is not None and not self._stopped.is_set():
                threading.Thread(
                    target=self._after,
                    args=(execution, follow_up),
                    name=f"localbatch-after-{'-'.join(execution.key)}",
                    daemon=True,
                ).start()
            else:
                execution.finish()

    @staticmethod
    def _after(execution: Execution, follow_up: Any) -> None:
        try:
            assert execution.after is not None
            execution.after(follow_up)
        finally:
            execution.finish()
