"""Container tasks: this machine's container runtime, and the command that runs one task in it.

Owns: :func:`detect` (which engine the emulator uses: Podman, or Docker with a running daemon; and,
for Podman, which OCI runtime), :class:`ContainerRuntime` (the engine, how it is invoked, removing containers,
those an emulator left running included),
:class:`TaskContainer` (one task attempt's container: image, run options, working directory, the
node directories mapped into it, and the ``<engine> run`` command line), :func:`task_container`
(wire ``containerSettings`` -> :class:`TaskContainer`).

What a Linux Batch node does, and so what this does: every directory below
``AZ_BATCH_NODE_ROOT_DIR`` is mapped into the container at the same path (or only the
``containerHostBatchBindMounts`` listed), every task environment variable is passed in, the working
directory is the task's working directory (``taskWorkingDirectory``, the default) or the image's own
(``containerImageDefault``), ``containerRunOptions`` are added to the run command, and the task's
command line runs in the container (as the image's command, after its entrypoint). Images come from
the engine's local store; a missing one is pulled by the engine (which fails offline: the pull error
is in the task's ``stderr.txt`` and its exit code is the engine's).

May import: the standard library only (``runtime`` imports this module).
"""

from __future__ import annotations

import resource
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CHOICES",
    "OWNER_LABEL",
    "ContainerRuntime",
    "TaskContainer",
    "detect",
    "environment_names",
    "job_prep_dir_of",
    "task_container",
]

#: ``--container-runtime`` values: ``auto`` (Podman, else Docker with a daemon, else none), ``podman``,
#: ``docker`` (that engine or fail), ``none`` (container pools and tasks are refused).
CHOICES = ("auto", "podman", "docker", "none")
_PROBE_SECONDS = 20.0
#: The label naming the emulator (its data directory) that started a container, so a restarted
#: emulator removes what it left running, and never another emulator's containers.
OWNER_LABEL = "localbatch.data-dir"
# ``containerHostBatchBindMounts`` sources -> the node directory each maps (reference: Batch REST
# ContainerHostDataPath; all Linux paths are below the node root).
_BIND_SOURCES = {
    "shared": "shared",
    "startup": "startup",
    "vfsmounts": "fsmounts",
    "applications": "applications",
}


@dataclass(frozen=True)
class ContainerRuntime:
    """A container engine this emulator runs task containers with.

    ``engine`` is the engine's executable (``podman`` or ``docker``); ``oci_runtime`` the OCI runtime
    Podman is told to use (None: the engine's default); ``version`` is what the engine reports.
    """

    engine: str
    version: str
    oci_runtime: str | None = None

    @property
    def name(self) -> str:
        """``podman 4.3.1`` or ``docker 28.2.2`` (``(runc)`` when an OCI runtime is chosen)."""
        base = f"{Path(self.engine).name} {self.version}".strip()
        return base + (f" ({Path(self.oci_runtime).name})" if self.oci_runtime else "")

    def base_command(self) -> list[str]:
        """The engine with its global options (the OCI runtime for Podman)."""
        if self.oci_runtime and Path(self.engine).name == "podman":
            return [self.engine, "--runtime", self.oci_runtime]
        return [self.engine]

    def remove_owned(self, owner: str) -> int:
        """Remove every container labelled as started by the emulator with data directory ``owner``
        (left running when that emulator was killed); how many there were."""
        try:
            listed = subprocess.run(
                [*self.base_command(), "ps", "--all", "--quiet", "--filter", f"label={OWNER_LABEL}={owner}"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_PROBE_SECONDS,
                check=False,
            ).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            return 0
        for container in listed:
            self.remove(container)
        return len(listed)

    def remove(self, name: str) -> None:
        """Remove container ``name`` at once (killing it); a container that is gone already is fine."""
        subprocess.run(
            [*self.base_command(), "rm", "--force", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_PROBE_SECONDS,
            check=False,
        )


def _kernel_cap(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _limits() -> list[str]:
    # The engine's default limits can be higher than this process's hard limits, and a sandbox that
    # forbids raising them refuses the container ("setrlimit ... Operation not permitted"). A task
    # started directly inherits this process's limits: give the container the same, capped at what
    # the kernel can grant at all (some sandboxes refuse more processes than pid_max).
    out = []
    for name, which, cap_file in (
        ("nofile", resource.RLIMIT_NOFILE, "/proc/sys/fs/nr_open"),
        ("nproc", resource.RLIMIT_NPROC, "/proc/sys/kernel/pid_max"),
    ):
        cap = _kernel_cap(cap_file)
        values = []
        for value in resource.getrlimit(which):
            if cap is not None and (value == resource.RLIM_INFINITY or value > cap):
                value = cap
            values.append("-1" if value == resource.RLIM_INFINITY else str(value))
        out += ["--ulimit", f"{name}={values[0]}:{values[1]}"]
    return out


@dataclass(frozen=True)
class TaskContainer:
    """One task attempt's container (see the module docstring for what is mapped in)."""

    runtime: ContainerRuntime
    image: str
    run_options: tuple[str, ...]
    image_working_directory: bool
    #: Host directories mapped into the container at the same path, and whether read-only.
    mounts: tuple[tuple[str, bool], ...]
    name: str
    #: The data directory of the emulator that runs it (the :data:`OWNER_LABEL` value).
    owner: str = ""

    def command(self, argv: list[str], env_names: Iterable[str], working_dir: Path) -> list[str]:
        """``<engine> run`` for ``argv``; each variable of ``env_names`` is passed by name only, so its
        value comes from the engine's environment and never appears on a command line."""
        cmd = [*self.runtime.base_command(), "run", "--rm", "--name", self.name, "--pull", "missing"]
        cmd += ["--label", f"{OWNER_LABEL}={self.owner}"]
        cmd += _limits()
        for path, read_only in self.mounts:
            cmd += ["--volume", f"{path}:{path}" + (":ro" if read_only else "")]
        if not self.image_working_directory:
            cmd += ["--workdir", str(working_dir)]
        for name in sorted(env_names):
            cmd += ["--env", name]
        return [*cmd, *self.run_options, self.image, *argv]


def task_container(
    runtime: ContainerRuntime,
    settings: Mapping[str, Any],
    *,
    node_root: Path,
    task_dir: Path,
    job_prep_dir: Path | None,
    name: str,
    owner: str = "",
) -> TaskContainer:
    """The container of a task with wire ``containerSettings`` on a node rooted at ``node_root``.

    Raises ValueError when ``containerRunOptions`` cannot be parsed (unbalanced quotes).
    """
    options = tuple(shlex.split(str(settings.get("containerRunOptions") or "")))
    workdir = str(settings.get("workingDirectory") or "taskWorkingDirectory").lower()
    binds = settings.get("containerHostBatchBindMounts")
    mounts: list[tuple[str, bool]] = []
    if binds is None:
        mounts.append((str(node_root), False))
    else:
        for bind in binds:
            source = str(bind.get("source") or "").lower()
            read_only = bool(bind.get("isReadOnly"))
            if source == "task":
                path: Path | None = task_dir
            elif source == "jobprep":
                path = job_prep_dir
            else:
                sub = _BIND_SOURCES.get(source)
                path = node_root / sub if sub else None
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
                mounts.append((str(path), read_only))
        # The task's own directory holds its working directory and output: always mapped.
        if not any(p == str(task_dir) for p, _ in mounts):
            mounts.append((str(task_dir), False))
    return TaskContainer(
        runtime=runtime,
        image=str(settings["imageName"]),
        run_options=options,
        image_working_directory=workdir == "containerimagedefault",
        mounts=tuple(mounts),
        name=name,
        owner=owner,
    )


def _version(engine: str) -> str | None:
    """The engine's version when it answers for a working daemon/service, else None."""
    try:
        done = subprocess.run(
            [engine, "version", "--format", "{{.Server.Version}}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def _hybrid_cgroups() -> bool:
    """True when cgroup v1 controllers are mounted beside a cgroup v2 hierarchy (hybrid layout)."""
    root = Path("/sys/fs/cgroup")
    return (root / "unified").is_dir() and any((root / c).is_dir() for c in ("cpu", "memory", "pids"))


def detect(choice: str = "auto") -> ContainerRuntime | None:
    """The container runtime to use for ``choice`` (see :data:`CHOICES`), or None.

    ``podman``/``docker`` that cannot be used raise RuntimeError (the operator asked for it). Podman
    is given ``runc`` as its OCI runtime on a hybrid cgroup layout when ``runc`` is installed: crun
    (Podman's default on Debian) refuses such hosts ("cgroups in hybrid mode not supported").
    """
    if choice not in CHOICES:
        raise ValueError(f"--container-runtime must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "none":
        return None
    for engine_name in ("podman", "docker") if choice == "auto" else (choice,):
        engine = shutil.which(engine_name)
        version = _version(engine) if engine else None
        if engine and version:
            oci = shutil.which("runc") if engine_name == "podman" and _hybrid_cgroups() else None
            return ContainerRuntime(engine=engine, version=version, oci_runtime=oci)
        if choice != "auto":
            raise RuntimeError(
                f"--container-runtime {choice}: "
                + ("not installed" if not engine else f"`{engine_name} version` does not answer for a server")
            )
    return None


def job_prep_dir_of(environment: Mapping[str, str]) -> Path | None:
    """``AZ_BATCH_JOB_PREP_DIR`` of a task environment, as a path (None for jobs without one)."""
    value = environment.get("AZ_BATCH_JOB_PREP_DIR")
    return Path(value) if value else None


def environment_names(environment: Mapping[str, str]) -> list[str]:
    """The task variables passed into the container (all of them, as Batch does)."""
    return [k for k in environment if k and "=" not in k and k == k.strip()]
