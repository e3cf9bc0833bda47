"""Plumbing for the reliability tests: own emulators that can be killed, a project copy, the pulumi CLI.

Why not the session `emulators` fixture: these tests kill and restart the Batch emulator and arm
faults on every route, which must not leak into other tests. Why the pulumi CLI (subprocess) and not
the Automation API: a crash test SIGKILLs the deployment's whole process group mid-operation, as a
killed CI runner would, and that needs a process of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential

from pulumi_azbatch.localdev import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    REPO_ROOT,
    Emulators,
    Endpoints,
    azurite_command,
    batch_emulator_command,
    engine_env,
    free_port,
    wait_for_port,
)

#: The engine's poll knobs for tests: short waits so a deployment reacts within a second.
FAST_POLL = {"PULUMI_AZBATCH_POLL_INTERVAL": "0.2", "PULUMI_AZBATCH_POLL_MAX_INTERVAL": "1"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def admin(batch_url: str, method: str, path: str, body: Any = None) -> Any:
    """Call the emulator's unauthenticated admin API (faults, health)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{batch_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"{}")


def arm_throttling(batch_url: str, rate: float = 0.2, retry_after: float = 1) -> None:
    """Make `rate` of all Batch requests fail, in equal thirds: 429 without Retry-After, 429 with it, 503.

    Faults are tried in order and a probabilistic one that does not fire passes the request on, so
    the conditional probabilities below add up to `rate` in total, `rate / 3` for each kind.
    """
    third = rate / 3
    kinds: list[dict[str, Any]] = [
        {"status": 429, "retryAfter": None},
        {"status": 429, "retryAfter": retry_after},
        {"status": 503, "retryAfter": None},
    ]
    left = 1.0
    for kind in kinds:
        admin(batch_url, "POST", "/_localbatch/faults", {"count": 10**9, "probability": third / left, **kind})
        left -= third


def clear_faults(batch_url: str) -> None:
    admin(batch_url, "DELETE", "/_localbatch/faults")


# ---- the emulators, as processes this test owns ------------------------------------------------------


@dataclass
class LocalStack:
    """Azurite and the Batch emulator on fixed free ports, restartable on the same data directories."""

    root: Path
    blob_port: int = field(default_factory=free_port)
    batch_port: int = field(default_factory=free_port)
    azurite: subprocess.Popen[bytes] | None = None
    batch: subprocess.Popen[bytes] | None = None

    @property
    def batch_url(self) -> str:
        return f"http://127.0.0.1:{self.batch_port}"

    @property
    def blob_url(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}/{AZURITE_ACCOUNT_NAME}"

    def endpoints(self, blob_url: str | None = None) -> Endpoints:
        """The endpoints a stack uses; `blob_url` may point at a fault proxy in front of Azurite."""
        return Endpoints(
            self.batch_url,
            LOCALBATCH_ACCOUNT_NAME,
            LOCALBATCH_ACCOUNT_KEY,
            blob_url or self.blob_url,
            AZURITE_ACCOUNT_NAME,
            AZURITE_ACCOUNT_KEY,
        )

    def start(self) -> LocalStack:
        (self.root / "azurite").mkdir(parents=True, exist_ok=True)
        self.azurite = subprocess.Popen(
            azurite_command(self.blob_port, self.root / "azurite"),
            stdout=open(self.root / "azurite.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.blob_port, proc=self.azurite)
        self.start_batch()
        return self

    def start_batch(self) -> None:
        """(Re)start the Batch emulator on the same port and data directory."""
        (self.root / "batch").mkdir(parents=True, exist_ok=True)
        self.batch = subprocess.Popen(
            batch_emulator_command(self.batch_port, self.root / "batch", self.blob_url),
            stdout=open(self.root / "localbatch.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.batch_port, proc=self.batch)

    def kill_batch(self) -> None:
        """SIGKILL the Batch emulator (no clean shutdown, as a crash or OOM kill would)."""
        assert self.batch is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.batch.pid, signal.SIGKILL)
        self.batch.wait()

    def stop(self) -> None:
        Emulators(self.endpoints(), self.azurite, self.batch).stop()

    def client(self, **kwargs: Any) -> BatchClient:
        """An SDK client with retries off (checks must see the emulator as it is)."""
        kwargs.setdefault("retry_total", 0)
        return BatchClient(
            endpoint=self.batch_url,
            credential=AzureNamedKeyCredential(LOCALBATCH_ACCOUNT_NAME, LOCALBATCH_ACCOUNT_KEY),
            **kwargs,
        )

    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.endpoints().storage_connection_string)


# ---- a copy of the project with its own stack --------------------------------------------------------


def job_config(job_id: str, tasks: int, *, command: str | None = None) -> dict[str, Any]:
    """The `azbatch:job` of the tests: a preparation task, `tasks` quick tasks (ids task001...), outputs.

    Each task appends its id to the node's shared file, so a task that ran twice shows up twice.
    """
    shared = '"$AZ_BATCH_NODE_SHARED_DIR/ran.txt"'
    return {
        "id": job_id,
        "job_preparation_task": {"command_line": f"/bin/sh -c 'echo prep $AZ_BATCH_NODE_ID >> {shared}'"},
        "job_release_task": {"command_line": "/bin/sh -c 'echo release'"},
        "task_factories": [
            {
                "type": "parametric_sweep",
                "parameter_sets": [{"start": 1, "end": tasks}],
                "repeat_task": {
                    "id": "task{0:3}",
                    "command_line": command
                    or f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> {shared}; "
                    "echo $AZ_BATCH_TASK_ID > output.txt'",
                    "output_files": [
                        {
                            "file_pattern": "output.txt",
                            "kind": "TaskOutput",
                            "upload_condition": "TaskSuccess",
                        }
                    ],
                },
            }
        ],
        "on_all_tasks_complete": "noaction",
        "wait_for": "tasks",
        "wait_timeout": "PT3M",
        "on_destroy": "terminate_then_delete",
    }


def stack_config(
    pool_id: str, job: dict[str, Any], *, nodes: int = 2, slots: int = 2, task_logs: bool = True
) -> dict[str, Any]:
    """A whole local stack config (`stacks/Pulumi.<stack>.yaml` content)."""
    return {
        "config": {
            "azbatch:backend": "local",
            "azbatch:local": {"endpoints_file": ".local/endpoints.json"},
            "azbatch:pool": {
                "id": pool_id,
                "vm_size": "standard_d2s_v3",
                "image": {
                    "publisher": "canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": "latest",
                },
                "node_agent_sku_id": "batch.node.ubuntu 24.04",
                "target_dedicated_nodes": nodes,
                "task_slots_per_node": slots,
            },
            "azbatch:storage": {
                "sas_lifetime": "P1D",
                "sas_rotation_margin": "PT1H",
                "sas_permissions": "cw",
                "retain_on_destroy": False,
                "persist_task_logs": task_logs,
            },
            "azbatch:job": job,
        }
    }


@dataclass
class Project:
    """A temporary copy of the project (program, Pulumi.yaml, one stack file) run by the pulumi CLI."""

    root: Path
    stack: str
    env: dict[str, str]
    log: Path

    @classmethod
    def create(
        cls,
        root: Path,
        endpoints: Endpoints,
        config: dict[str, Any],
        *,
        stack: str = "rel",
        log: Path,
        extra_env: dict[str, str] | None = None,
    ) -> Project:
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "__main__.py", root / "__main__.py")
        pulumi_yaml = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
        pulumi_yaml["runtime"]["options"]["virtualenv"] = str(REPO_ROOT / ".venv")
        (root / "Pulumi.yaml").write_text(yaml.safe_dump(pulumi_yaml, sort_keys=False))
        (root / "stacks").mkdir(exist_ok=True)
        (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        endpoints.write(root / ".local" / "endpoints.json")
        env = engine_env(state_dir=root / "_state", pulumi_home=root / "_home")
        env.update(FAST_POLL)
        env.update(extra_env or {})
        project = cls(root, stack, env, log)
        project.run("stack", "init", stack, timeout=60)
        return project

    def write_config(self, config: dict[str, Any]) -> None:
        """Replace the stack file's config, keeping the encryption salt pulumi wrote."""
        path = self.root / "stacks" / f"Pulumi.{self.stack}.yaml"
        salt = yaml.safe_load(path.read_text()).get("encryptionsalt")
        path.write_text(yaml.safe_dump({**config, "encryptionsalt": salt}, sort_keys=False))

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        argv = ["pulumi", *args]
        if args[0] in ("up", "destroy", "refresh"):
            argv += ["--yes", "--non-interactive", "--skip-preview", "--stack", self.stack]
        elif args[0] in ("preview", "cancel"):
            argv += ["--non-interactive", "--stack", self.stack] + (["--yes"] if args[0] == "cancel" else [])
        elif args[0] == "stack" and args[1] in ("export", "import", "output"):
            argv += ["--stack", self.stack]
        return argv

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a pulumi command in its own process group (so it can be killed as a whole)."""
        log = open(self.log, "a")  # noqa: SIM115 - closed by the OS when the child exits
        log.write(f"\n$ pulumi {' '.join(args)}\n")
        log.flush()
        return subprocess.Popen(
            self._argv(args),
            cwd=self.root,
            env=self.env,
            text=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a pulumi command to completion; its output is appended to the log and returned."""
        started = time.monotonic()
        out = subprocess.run(
            self._argv(args), cwd=self.root, env=self.env, text=True, capture_output=True, timeout=timeout
        )
        with open(self.log, "a") as log:
            log.write(
                f"\n$ pulumi {' '.join(args)}   ({time.monotonic() - started:.1f}s, exit {out.returncode})\n"
            )
            log.write(out.stdout + out.stderr)
        if check and out.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({out.returncode}):\n{out.stdout[-4000:]}"
                f"\n{out.stderr[-2000:]}"
            )
        return out

    def outputs(self, *, secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if secrets else [])
        return dict(json.loads(self.run(*args).stdout))

    def export(self) -> str:
        return self.run("stack", "export").stdout

    def pending_operations(self) -> list[dict[str, Any]]:
        """The operations the state records as interrupted (`pulumi stack export`)."""
        return list(json.loads(self.export())["deployment"].get("pending_operations") or [])


def session_processes(sid: int) -> list[int]:
    """The pids of session `sid` (a command started with `start_new_session` leads its own session)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid and fields[0] != "Z":  # field 6: session; zombies are gone already
                    pids.append(int(proc.name))
    return pids


def kill_session(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a pulumi command and everything it started, as a killed CI runner or machine would.

    The engine starts its plugins (language host, dynamic provider) in process groups of their own,
    so killing the command's process group is not enough: they would go on and finish the operation
    on their own. They stay in the command's session, which is what is killed here.
    """
    for pid in session_processes(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    wait_until(lambda: not session_processes(proc.pid), 10, f"session {proc.pid} to exit")


def kill_cli_only(proc: subprocess.Popen[str]) -> list[int]:
    """SIGKILL just the pulumi CLI process (`kill -9 <pid>`); returns the plugin pids it leaves behind."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.5)
    return session_processes(proc.pid)


def kill_pids(pids: list[int]) -> None:
    """SIGKILL processes this test left behind (by pid, never by name)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---- what the emulator holds ---------------------------------------------------------------------


def job_ids(client: BatchClient) -> list[str]:
    return sorted(j.id for j in client.list_jobs())


def pool_ids(client: BatchClient) -> list[str]:
    return sorted(p.id for p in client.list_pools())


def task_runs(client: BatchClient, pool_id: str) -> list[str]:
    """Every line the tests' tasks appended to the nodes' shared `ran.txt` (one per task run)."""
    from azure.core.exceptions import ResourceNotFoundError

    lines: list[str] = []
    for node in client.list_nodes(pool_id):
        try:
            text = b"".join(client.download_node_file(pool_id, node.id, "shared/ran.txt")).decode()
        except ResourceNotFoundError:
            continue
        lines += [line for line in text.splitlines() if line and not line.startswith("prep ")]
    return lines


def assert_exact_tasks(client: BatchClient, job_id: str, pool_id: str, expected: int) -> None:
    """The job holds exactly the declared tasks, each completed successfully and run exactly once."""
    tasks = list(client.list_tasks(job_id))
    ids = sorted(t.id for t in tasks)
    assert ids == [f"task{i:03d}" for i in range(1, expected + 1)], ids
    assert all(t.state == "completed" and t.execution_info.exit_code == 0 for t in tasks), [
        (t.id, t.state, t.execution_info and t.execution_info.exit_code)
        for t in tasks
        if t.state != "completed"
    ]
    runs = task_runs(client, pool_id)
    duplicated = sorted({r for r in runs if runs.count(r) > 1})
    assert not duplicated, f"tasks ran more than once: {duplicated}"
    assert sorted(runs) == ids, "every task ran exactly once"


def host_processes_below(root: Path) -> dict[int, str]:
    """Pid -> command line of live processes whose working directory is under `root` (task processes)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cwd = os.readlink(proc / "cwd")
            if cwd.startswith(str(root)):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return found


# ---- a fault-injecting proxy in front of Azurite -----------------------------------------------------


class BlobFaultProxy:
    """An HTTP proxy on loopback in front of Azurite that fails some uploads, boundedly.

    Azurite has no fault injection of its own. A `PUT` (block, blob or block list upload) fails with
    probability `rate`, at most `budget` times in all, and never twice in a row for the same URL path,
    so every upload succeeds on its SDK's retry: the test checks that faults are survived, not that a
    lottery is won. Faults alternate between a 503 ServerBusy answer, a 500 and a dropped connection.
    """

    def __init__(self, upstream_port: int, *, rate: float = 0.2, budget: int = 6, seed: int = 7) -> None:
        import random
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream_port = upstream_port
        self.rate = rate
        self.budget = budget
        self.injected: list[tuple[str, str]] = []
        self.requests = 0
        self._last_failed: set[str] = set()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._decide(self.command, self.path)
                if fault == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        import socket

                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None:
                    code = int(fault)
                    text = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{"ServerBusy" if code == 503 else "InternalError"}</Code><Message>injected by the test proxy</Message></Error>'.encode()  # noqa: E501
                    self.send_response(code)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                import http.client

                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")
                }
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in (
                        "connection",
                        "keep-alive",
                        "transfer-encoding",
                        "content-length",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    def _decide(self, method: str, path: str) -> str | None:
        with self._lock:
            self.requests += 1
            key = path.split("?")[0]
            if method != "PUT" or key in self._last_failed or len(self.injected) >= self.budget:
                self._last_failed.discard(key)
                return None
            if self._random.random() >= self.rate:
                return None
            fault = ("503", "500", "drop")[len(self.injected) % 3]
            self.injected.append((fault, re.sub(r"sig=[^&]+", "sig=REDACTED", path)))
            self._last_failed.add(key)
            return fault

    def blob_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT_NAME}"

    def __enter__(self) -> BlobFaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def local_stack(root: Path) -> Iterator[LocalStack]:
    stack = LocalStack(root).start()
    try:
        yield stack
    finally:
        stack.stop()


# ---- load ----------------------------------------------------------------------------------------


def prepare_load_target(local: LocalStack, fault_rate: float) -> str:
    """A one-node pool (4 slots) and a job for the load run; `fault_rate` of requests fail (429 or 503)."""
    from azure.batch import models as m

    client = local.client()
    pool_id, job_id = unique("load-pool"), unique("load-job")
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=1,
            task_slots_per_node=4,
            virtual_machine_configuration=m.VirtualMachineConfiguration(
                image_reference=m.BatchVmImageReference(publisher="canonical", offer="o", sku="s"),
                node_agent_sku_id="batch.node.ubuntu 24.04",
            ),
        )
    )
    wait_until(
        lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"], 30, "the load pool's node"
    )
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    if fault_rate:
        for status, probability in ((429, fault_rate / 2), (503, fault_rate / 2 / (1 - fault_rate / 2))):
            admin(
                local.batch_url,
                "POST",
                "/_localbatch/faults",
                {
                    "count": 10**9,
                    "status": status,
                    "probability": probability,
                    "pathRegex": f"^/jobs/{job_id}",
                },
            )
    return job_id


def verify_load(local: LocalStack, job_id: str, figures: dict[str, Any]) -> dict[str, int]:
    """Clear the faults; the job holds exactly the acknowledged tasks (none lost, none extra)."""
    clear_faults(local.batch_url)
    client = local.client()
    ids = [t.id for t in client.list_tasks(job_id, select=["id"])]
    assert len(ids) == len(set(ids)), "duplicate task ids"
    acknowledged = set(figures["added"])
    lost = acknowledged - set(ids)
    extra = set(ids) - acknowledged
    assert not lost, f"{len(lost)} acknowledged tasks are missing: {sorted(lost)[:10]}"
    assert not extra, f"{len(extra)} tasks the clients never saw acknowledged: {sorted(extra)[:10]}"
    counts = client.get_job_task_counts(job_id).task_counts
    total = counts.active + counts.running + counts.completed
    assert total == len(ids), (counts, len(ids))
    return {"tasks": len(ids), "completed": counts.completed}
