"""Local development plumbing: the emulators and the environment for Pulumi engine runs.

This is the one place that knows where the local emulators listen, which well-known development
credentials they use, and which environment variables a Pulumi engine run needs on a machine with
no network (file backend, writable PULUMI_HOME, passphrase, no update checks, no plugin downloads).
Tests, benchmarks and the Makefile all go through it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Re-exported: the endpoints file's model lives in the library, which must not import this module.
from pulumi_azbatch.endpoints import Endpoints as Endpoints

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"

# Azurite's documented well-known development account.
AZURITE_ACCOUNT_NAME = "devstoreaccount1"
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# The Batch emulator's well-known development account (documented in the README, like Azurite's).
LOCALBATCH_ACCOUNT_NAME = "devbatchaccount1"
LOCALBATCH_ACCOUNT_KEY = (
    "wC4mWSU17Cyc+9pKOp9dPJNqQb9Dq8uVWkrghNzxw7B9j9iIqiswEqDvv+BkCBgK37W4PN/zmQhTjVWiXu7gWg=="
)

# The documented passphrase of the local development stack; never used for a real environment.
DEV_PASSPHRASE = "local-development-only"
PULUMI_VERSION = "3.259.0"

DEFAULT_BLOB_PORT = 10000
DEFAULT_BATCH_PORT = 8090


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port nothing listens on, chosen below the kernel's ephemeral range.

    Port 0 would hand out an ephemeral port, and under load an outgoing connection of any process may take
    that same port before the emulator binds it ("Address already in use"). Ports below the range are never
    given to outgoing connections, so only another listener can race for them (`start_emulators` retries).
    """
    low, _ = _ephemeral_range()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, low) if low > 20100 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port found below the ephemeral range")


def _require_free(port: int, what: str) -> None:
    """Fail clearly when another process already listens on a port an emulator is about to use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(
                f"127.0.0.1:{port} is already in use, so {what} cannot listen there: stop the process "
                f"that holds it (`ss -ltnp 'sport = :{port}'` shows it) or choose other ports"
            )


class EmulatorExited(RuntimeError):
    """An emulator process exited before it listened (for example, its port was taken meanwhile)."""


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EmulatorExited(f"process exited with code {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def azurite_command(port: int, data_dir: Path) -> list[str]:
    binary = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make bootstrap` (npm ci) first")
    return [
        str(binary),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(data_dir),
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
        "--disableTelemetry",
        # No `--debug`: Azurite's debug log records every request URL, SAS signatures included.
        *(["--debug", str(data_dir / "debug.log")] if os.environ.get("AZBATCH_AZURITE_DEBUG") == "1" else []),
    ]


def batch_emulator_command(
    port: int, data_dir: Path, blob_url: str | None = None, container_runtime: str | None = None
) -> list[str]:
    """The emulator's command line; with `blob_url` (Azurite's) its portal shows persisted outputs;
    `container_runtime` is its `--container-runtime` (default: the emulator's own, `auto`).

    Writes the account key to `<data_dir>/.account-key` (mode 0600) and names that file: a command
    line is readable by every local process, tasks included, and tasks never inherit this file.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / ".account-key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(LOCALBATCH_ACCOUNT_KEY + "\n")
    os.chmod(key_file, 0o600)
    storage = (
        []
        if not blob_url
        else [
            "--blob-url",
            blob_url,
            "--storage-account-name",
            AZURITE_ACCOUNT_NAME,
            "--storage-account-key",
            AZURITE_ACCOUNT_KEY,
        ]
    )
    return [
        sys.executable,
        "-m",
        "localbatch",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--account-name",
        LOCALBATCH_ACCOUNT_NAME,
        "--account-key-file",
        str(key_file),
        *storage,
        *(["--container-runtime", container_runtime] if container_runtime else []),
    ]


def emulator_container_runtime(batch_url: str) -> str | None:
    """What the running Batch emulator runs container tasks with (its health route), or None."""
    import urllib.request

    with urllib.request.urlopen(f"{batch_url}/_localbatch/health", timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read()).get("containerRuntime")


@dataclass
class Emulators:
    """Running Azurite and Batch emulator processes (started by `start_emulators`)."""

    endpoints: Endpoints
    azurite: subprocess.Popen[bytes] | None
    batch: subprocess.Popen[bytes] | None

    def stop(self) -> None:
        for name, proc in (("localbatch", self.batch), ("azurite", self.azurite)):
            if proc is not None and proc.poll() is None:
                # Our own child: wait() reaps it (an exited, unreaped child would look alive to kill(0)).
                proc.send_signal(signal.SIGINT if name == "azurite" else signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def node_environment(state_dir: Path) -> dict[str, str]:
    """The Batch emulator's environment, which its nodes' tasks inherit: ``python3`` is this interpreter.

    A node image on Azure brings its own Python; the emulator's nodes are this machine, whose system
    ``python3`` may lack pip and ``azure-storage-blob``. A ``python3`` wrapper of the interpreter
    running the emulator (the project's virtualenv: pip and ``azure-storage-blob`` included) comes
    first on PATH, like an image with them preinstalled; nothing else of the virtualenv is on PATH.
    This is what ``file_conventions.library_dependencies: preinstalled`` relies on locally.
    """
    node_bin = state_dir / "node-bin"
    node_bin.mkdir(parents=True, exist_ok=True)
    wrapper = node_bin / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(node_bin), env.get("PATH") or os.defpath])
    return env


def start_emulators(
    state_dir: Path,
    *,
    blob_port: int | None = None,
    batch_port: int | None = None,
    batch: bool = True,
    log_dir: Path | None = None,
    container_runtime: str | None = None,
) -> Emulators:
    """Start Azurite (blob) and, unless `batch=False`, the Batch emulator with data under `state_dir`
    (`container_runtime`: its `--container-runtime`; the endpoints say what it found).

    Ports left to this function are chosen free; if another listener takes one before an emulator binds
    it, the emulator exits at once and the start is tried again on new ports (fixed ports fail at once).
    """
    attempts = 1 if (blob_port or batch_port) else 3
    for attempt in range(1, attempts + 1):
        try:
            return _start_emulators_once(
                state_dir,
                blob_port or free_port(),
                batch_port or free_port(),
                batch=batch,
                log_dir=log_dir,
                container_runtime=container_runtime,
            )
        except EmulatorExited:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_emulators_once(
    state_dir: Path,
    blob_port: int,
    batch_port: int,
    *,
    batch: bool,
    log_dir: Path | None,
    container_runtime: str | None,
) -> Emulators:
    _require_free(blob_port, "Azurite")
    if batch:
        _require_free(batch_port, "the Batch emulator")
    log_dir = log_dir or state_dir
    (state_dir / "azurite").mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    azurite = subprocess.Popen(
        azurite_command(blob_port, state_dir / "azurite"),
        stdout=open(log_dir / "azurite.log", "ab"),  # noqa: SIM115 - handed to the child
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    batch_proc = None
    try:
        wait_for_port(blob_port, proc=azurite)
        if batch:
            (state_dir / "batch").mkdir(parents=True, exist_ok=True)
            batch_proc = subprocess.Popen(
                batch_emulator_command(
                    batch_port,
                    state_dir / "batch",
                    f"http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT_NAME}",
                    container_runtime,
                ),
                env=node_environment(state_dir),
                stdout=open(log_dir / "localbatch.log", "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            wait_for_port(batch_port, proc=batch_proc)
    except BaseException:
        Emulators(Endpoints("", "", "", "", "", ""), azurite, batch_proc).stop()
        raise
    endpoints = Endpoints(
        batch_url=f"http://127.0.0.1:{batch_port}",
        batch_account_name=LOCALBATCH_ACCOUNT_NAME,
        batch_account_key=LOCALBATCH_ACCOUNT_KEY,
        blob_url=f"http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT_NAME}",
        storage_account_name=AZURITE_ACCOUNT_NAME,
        storage_account_key=AZURITE_ACCOUNT_KEY,
        container_runtime=emulator_container_runtime(f"http://127.0.0.1:{batch_port}") if batch else None,
    )
    return Emulators(endpoints, azurite, batch_proc)


def stop_process(pid: int, name: str, timeout: float = 10.0) -> None:
    """Stop an emulator: Azurite shuts down cleanly on SIGINT (it ignores SIGTERM), the Batch emulator on SIGTERM."""
    try:
        os.kill(pid, signal.SIGINT if name == "azurite" else signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def engine_bin_dir() -> Path | None:
    """The directory of the `pulumi` binary the bootstrap chose (`.local/engine-path`), if any."""
    marker = LOCAL_DIR / "engine-path"
    if marker.exists():
        path = Path(marker.read_text().strip())
        if (path / "pulumi").exists():
            return path
    found = shutil.which("pulumi")
    return Path(found).parent if found else None


def engine_env(
    *,
    state_dir: Path | None = None,
    pulumi_home: Path | None = None,
    passphrase: str = DEV_PASSPHRASE,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a Pulumi engine run on this machine, offline and self-contained.

    A `file://` backend under `.local/state`, a writable PULUMI_HOME under `.local`, the development
    passphrase, update checks and automatic plugin downloads off, and the engine's directory first
    on PATH so the language host and the dynamic-provider plugin beside it are found.
    """
    env = dict(os.environ if base is None else base)
    state_dir = state_dir or LOCAL_DIR / "state"
    pulumi_home = pulumi_home or LOCAL_DIR / "pulumi-home"
    state_dir.mkdir(parents=True, exist_ok=True)
    pulumi_home.mkdir(parents=True, exist_ok=True)
    bin_dir = engine_bin_dir()
    venv_bin = REPO_ROOT / ".venv" / "bin"
    path = [str(p) for p in (bin_dir, venv_bin) if p is not None]
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    env.update(
        {
            "PULUMI_BACKEND_URL": f"file://{state_dir}",
            "PULUMI_HOME": str(pulumi_home),
            "PULUMI_CONFIG_PASSPHRASE": passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    env.pop("PULUMI_ACCESS_TOKEN", None)
    return env


def workspace_options(env: dict[str, str], **kwargs: Any) -> Any:
    """Automation API workspace options that run the bootstrapped engine with `env` (see `engine_env`)."""
    from pulumi import automation as auto

    bin_dir = engine_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("no Pulumi engine found: run `make bootstrap` first")
    if bin_dir.name == "bin":
        command = auto.PulumiCommand(root=str(bin_dir.parent), skip_version_check=True)
    else:  # an unusual install layout: point at the binary through a `bin` link in .local
        link_root = LOCAL_DIR / "engine"
        (link_root / "bin").mkdir(parents=True, exist_ok=True)
        link = link_root / "bin" / "pulumi"
        if not link.exists():
            link.symlink_to(bin_dir / "pulumi")
        command = auto.PulumiCommand(root=str(link_root), skip_version_check=True)
    return auto.LocalWorkspaceOptions(env_vars=env, pulumi_command=command, **kwargs)


@contextlib.contextmanager
def running_emulators(state_dir: Path, **kwargs: object) -> Iterator[Emulators]:
    emulators = start_emulators(state_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield emulators
    finally:
        emulators.stop()


# ---- `python -m pulumi_azbatch.localdev ...`: used by the Makefile --------------------------------


def is_our_emulator(pid: int, name: str, state_dir: Path | None = None) -> bool:
    """Whether `pid` runs the emulator `name` that `localdev up` started (its data folder in its
    command line), so a pid recycled by an unrelated process since is never signalled."""
    try:
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    except OSError:
        return False
    state = state_dir or LOCAL_DIR
    if name == "azurite":
        expected = str(state / "azurite")
        return any("azurite" in a for a in argv) and expected in argv
    expected = str(state / "batch")
    return "localbatch" in argv and "serve" in argv and expected in argv


def _pid_file(name: str) -> Path:
    return LOCAL_DIR / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _cmd_start(args: argparse.Namespace) -> int:
    existing = [
        n
        for n in ("azurite", "localbatch")
        if _pid_file(n).exists() and _alive(int(_pid_file(n).read_text()))
    ]
    if existing:
        print(
            f"emulators already running ({', '.join(existing)}); endpoints in {LOCAL_DIR / 'endpoints.json'}"
        )
        return 0
    emulators = start_emulators(
        LOCAL_DIR, blob_port=args.blob_port, batch_port=args.batch_port, log_dir=LOCAL_DIR / "logs"
    )
    assert emulators.azurite is not None and emulators.batch is not None
    _pid_file("azurite").write_text(str(emulators.azurite.pid))
    _pid_file("localbatch").write_text(str(emulators.batch.pid))
    emulators.endpoints.write(LOCAL_DIR / "endpoints.json")
    print(f"Azurite blob service   {emulators.endpoints.blob_url}  (pid {emulators.azurite.pid})")
    print(f"Batch emulator         {emulators.endpoints.batch_url}  (pid {emulators.batch.pid})")
    print(f"Batch emulator portal  {emulators.endpoints.batch_url}/portal/")
    runtime = emulators.endpoints.container_runtime
    print(f"container tasks        {'run with ' + runtime if runtime else 'refused: no container runtime'}")
    print(f"endpoints written to   {LOCAL_DIR / 'endpoints.json'}")
    return 0


def _cmd_stop(_: argparse.Namespace) -> int:
    for name in ("localbatch", "azurite"):
        pid_file = _pid_file(name)
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        if _alive(pid) and is_our_emulator(pid, name):
            stop_process(pid, name)
            print(f"stopped {name} (pid {pid})")
        elif _alive(pid):
            print(f"not stopping pid {pid}: it is no longer {name} started by `localdev up` (stale pid file)")
        pid_file.unlink()
    return 0


def _pulumi(args: list[str], env: dict[str, str], *, tee: list[str] | None = None) -> int:
    """Run the pulumi CLI in the project directory; with `tee`, also keep its output lines."""
    proc = subprocess.Popen(
        ["pulumi", *args],
        cwd=REPO_ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE if tee is not None else None,
        stderr=subprocess.STDOUT if tee is not None else None,
    )
    if tee is not None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            tee.append(line)
    return proc.wait()


def _stack_outputs(stack: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def _cmd_up(args: argparse.Namespace) -> int:
    from .report import build_report

    env = engine_env()
    if _pulumi(["stack", "select", "--create", args.stack], env) != 0:
        return 1
    started = time.monotonic()
    code = _pulumi(["up", "--yes", "--stack", args.stack], env)
    if code != 0:
        print(f"\npulumi up failed (exit code {code}); see the diagnostics above.", file=sys.stderr)
        return code
    print(f"\npulumi up finished in {time.monotonic() - started:.1f}s\n")
    outputs = _stack_outputs(args.stack, env)
    storage_key = Endpoints.read().storage_account_key if outputs.get("backend") == "local" else None
    if storage_key is None:
        print("the report reads the local emulators only; see `pulumi stack output` for this stack")
        return 0
    print(build_report(outputs, storage_key).render())
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from .report import kept_blobs, release_exit_codes

    env = engine_env()
    try:
        outputs = _stack_outputs(args.stack, env)
    except subprocess.CalledProcessError:
        outputs = {}
    lines: list[str] = []
    code = _pulumi(["destroy", "--yes", "--stack", args.stack], env, tee=lines)
    if code != 0:
        print(f"\npulumi destroy failed (exit code {code}); see the diagnostics above.", file=sys.stderr)
        return code
    codes = release_exit_codes("".join(lines))
    print("\nJob release task exit code per node:" if codes else "\nNo job release task ran.")
    for node, release in codes.items():
        print(f"  {node}: {'did not run' if release is None else release}")
    if outputs.get("backend") == "local" and outputs.get("output_container_name"):
        kept = kept_blobs(outputs, Endpoints.read().storage_account_key)
        if kept is not None:
            logs = [b for b in kept if b.name.startswith("$JobLog/")]
            print(
                f"\nKept container {outputs['output_container_name']}: {len(kept)} blob(s), "
                f"{len(logs)} of them preparation/release logs under $JobLog/"
            )
    return 0


def _cmd_env(_: argparse.Namespace) -> int:
    for key, value in engine_env(base={}).items():
        if key != "PATH":
            print(f"export {key}={value!r}")
    print(f"export PATH={engine_env()['PATH']!r}")
    return 0


#: The local image container tasks use offline (stacks/Pulumi.containers.yaml, the container tests):
#: a static busybox (Debian's busybox-static) and nothing else, imported into the engine's store.
LOCAL_IMAGE = "localhost/azbatch-busybox:local"
_BUSYBOX_COMMANDS = ("sh", "echo", "cat", "ls", "env", "pwd", "hostname", "sleep", "test", "[", "grep", "wc")


def local_container_image(engine: str = "podman", busybox: str = "/bin/busybox") -> str | None:
    """Import :data:`LOCAL_IMAGE` into ``engine``'s image store unless it is there; its name, or None
    when the engine or a static ``busybox`` is missing (no registry is needed: nothing is pulled)."""
    import tarfile
    import tempfile

    found = shutil.which(engine)
    if found is None:
        return None
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 60}
    if subprocess.run([found, "image", "inspect", LOCAL_IMAGE], check=False, **quiet).returncode == 0:  # type: ignore[call-overload]
        return LOCAL_IMAGE
    binary = Path(busybox)
    if not binary.is_file() or b"ld-linux" in binary.read_bytes()[:4096]:
        return None  # not there, or not static: it would not run alone in the image
    with tempfile.TemporaryDirectory() as tmp:
        tar_path = Path(tmp) / "rootfs.tar"
        with tarfile.open(tar_path, "w") as tar:
            for folder in ("bin", "tmp", "etc"):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
                tar.addfile(info)
            tar.add(binary, "bin/busybox")
            for name in _BUSYBOX_COMMANDS:
                link = tarfile.TarInfo(f"bin/{name}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        done = subprocess.run([found, "import", str(tar_path), LOCAL_IMAGE], check=False, **quiet)  # type: ignore[call-overload]
    return LOCAL_IMAGE if done.returncode == 0 else None


def _cmd_image(_: argparse.Namespace) -> int:
    image = local_container_image()
    print(
        image or "no local image: needs podman and a static busybox (apt-get install podman busybox-static)"
    )
    return 0 if image else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pulumi_azbatch.localdev")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start Azurite and the Batch emulator in the background")
    start.add_argument("--blob-port", type=int, default=DEFAULT_BLOB_PORT)
    start.add_argument("--batch-port", type=int, default=DEFAULT_BATCH_PORT)
    start.set_defaults(func=_cmd_start)
    sub.add_parser("stop", help="stop the emulators started by `start`").set_defaults(func=_cmd_stop)
    sub.add_parser("env", help="print the engine environment as shell exports").set_defaults(func=_cmd_env)
    sub.add_parser("image", help=f"import {LOCAL_IMAGE} for container tasks").set_defaults(func=_cmd_image)
    for name, func, text in (
        ("up", _cmd_up, "pulumi up of a stack, then the report"),
        ("down", _cmd_down, "pulumi destroy of a stack, with release exit codes"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--stack", default="local")
        cmd.set_defaults(func=func)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
