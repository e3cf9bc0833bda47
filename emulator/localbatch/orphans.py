"""The orphan registry: which task process groups run on a node, kept on disk beside the node root so
that a restarted emulator can end the ones a killed emulator left running.

Owns: the per-node append-only log (`+<pid> <start time>` / `-<pid>`), its compaction, reading it
back (including the older one-file-per-process form), the task token every task process inherits
(`TASK_TOKEN_VAR`, found again with `token_of`) and `reap_orphans`, which kills only the groups whose
start time still matches (a recycled pid is never hit) and every process that still carries one of
the node's tokens (children that left their group with `setsid` or `nohup`).
May import: the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

# Every process a task starts carries this variable (inherited through fork, `setsid`, `nohup`,
# double forks): `<random token> <node root>`. It is how a process that left the task's process
# group and session is still found and ended with its task, and after a crash, by node.
TASK_TOKEN_VAR = "LOCALBATCH_TASK_TOKEN"


def read_proc(path: str) -> bytes:
    """The whole of a `/proc` file, read unbuffered (OSError when it is gone): these small reads
    happen for every task, where a buffered file object costs more than the system calls."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def token_of(pid: int) -> str | None:
    """The task token in `pid`'s environment, or None (no token, a zombie, or not readable)."""
    try:
        environ = read_proc(f"/proc/{pid}/environ")
    except OSError:
        return None
    key = TASK_TOKEN_VAR.encode() + b"="
    for item in environ.split(b"\0"):
        if item.startswith(key):
            return item[len(key) :].decode("utf-8", "replace")
    return None


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL each pid that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def kill_node_processes(node_root: Path) -> list[int]:
    """Kill every task process of `node_root` still running anywhere on the machine (crash recovery).

    An emulator that died left its tasks' escaped children re-parented to init, outside any tree the
    new emulator could walk; they are found by the token's node part in `/proc/*/environ`.
    """
    suffix = f" {node_root}"
    killed: list[int] = []
    for _ in range(20):
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != os.getpid():
                token = token_of(int(name))
                if token is not None and token.endswith(suffix):
                    found.append(int(name))
        if not found:
            break
        kill_pids(found)
        killed.extend(p for p in found if p not in killed)
        time.sleep(0.01)  # a killed process stays visible (a zombie has no environ) until its parent reaps it
    # Not waited for here: these are children of init (or of whoever started them), never of this
    # new emulator, and waiting could take a status a `Popen` in this process expects.
    return killed


def _process_registry(node_root: Path) -> Path:
    # Beside the node root, not in it: the files API and the portal show only the node's own files.
    return node_root.parent / f".{node_root.name}.processes"


def _registry_log(node_root: Path) -> Path:
    return node_root.parent / f".{node_root.name}.processes.log"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat); None when it is gone."""
    try:
        text = read_proc(f"/proc/{pid}/stat").decode("ascii", "replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()[19]


class Registry:
    """The running task process groups of one node, as an append-only log beside the node root.

    Each started process appends `+<pid> <start time>`, each ended one `-<pid>`; a restarted emulator
    replays the log to find the groups a killed emulator left running. Appending to one open file
    costs a write, where a file per process cost an inode allocation and a removal per task: on an
    ext4 file system without a journal every allocation scans past the inodes freed in the last
    30 seconds, which made that quadratic in the number of recent tasks. The log is rewritten with
    only the live entries once it has grown long, and emptied (and closed) whenever no process runs.
    """

    _COMPACT_AFTER = 20_000  # log lines

    def __init__(self, node_root: Path) -> None:
        self.path = _registry_log(node_root)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._live: dict[int, str] = {}
        self._lines = 0

    def _append(self, line: str) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.write(self._fd, line.encode())
        self._lines += 1

    def add(self, pid: int, started: str) -> None:
        with self._lock:
            self._live[pid] = started
            with contextlib.suppress(OSError):
                self._append(f"+{pid} {started}\n")

    def remove(self, pid: int) -> None:
        with self._lock:
            self._live.pop(pid, None)
            with contextlib.suppress(OSError):
                if not self._live and self._fd is not None:
                    # Nothing runs on the node: the log starts over, and no descriptor stays open
                    # for a node that may never run a task again.
                    os.ftruncate(self._fd, 0)
                    os.close(self._fd)
                    self._fd = None
                    self._lines = 0
                elif self._lines >= self._COMPACT_AFTER:
                    self._compact()
                else:
                    self._append(f"-{pid}\n")

    def _compact(self) -> None:
        staging = self.path.with_name(self.path.name + ".new")
        staging.write_text("".join(f"+{pid} {started}\n" for pid, started in self._live.items()))
        os.replace(staging, self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._lines = len(self._live)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_registries: dict[Path, Registry] = {}
_registries_lock = threading.Lock()


def registry(node_root: Path) -> Registry:
    with _registries_lock:
        registry = _registries.get(node_root)
        if registry is None:
            registry = _registries[node_root] = Registry(node_root)
        return registry


def _read_registry(node_root: Path) -> dict[int, str]:
    """Pid -> start time of the entries the log (and the older directory form) still holds."""
    live: dict[int, str] = {}
    legacy = _process_registry(node_root)
    if legacy.is_dir():  # written by emulators before the log: one file per process
        for entry in legacy.iterdir():
            with contextlib.suppress(ValueError, OSError):
                live[int(entry.name)] = entry.read_text()
            with contextlib.suppress(OSError):
                entry.unlink()
    try:
        lines = _registry_log(node_root).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        with contextlib.suppress(ValueError, IndexError):
            if line.startswith("+"):
                pid, started = line[1:].split(" ", 1)
                live[int(pid)] = started
            elif line.startswith("-"):
                live.pop(int(line[1:]), None)
    return live


def reap_orphans(node_root: Path) -> list[int]:
    """Kill task process groups left running by an emulator that died (a node reboot ends them too).

    Without this, a task that was running when the emulator was killed keeps running unseen while
    its requeued attempt runs again: the task's work happens twice. A pid is only killed when its
    start time still matches the recorded one, so a recycled pid is never hit.
    """
    with _registries_lock:
        stale = _registries.pop(node_root, None)
    if stale is not None:
        stale.close()
    killed: list[int] = []
    for pid, started in _read_registry(node_root).items():
        if start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
                killed.append(pid)
    kill_node_processes(node_root)  # escaped children (`setsid`, `nohup`) left the recorded groups
    with contextlib.suppress(OSError):
        _registry_log(node_root).unlink()
    return killed
