"""Helpers for the Batch emulator's black-box tests: unique ids, polling, pool options, admin calls."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from pulumi_azbatch.localdev import (
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    batch_emulator_command,
    free_port,
    wait_for_port,
)

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
LINUX = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")


def unique(prefix: str) -> str:
    """A fresh id, so tests sharing the session's emulator never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def pool_options(pool_id: str, nodes: int = 1, **kwargs: Any) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=pool_id,
        vm_size="standard_d2s_v3",
        target_dedicated_nodes=nodes,
        virtual_machine_configuration=LINUX,
        **kwargs,
    )


def terminate_options(reason: str | None = None) -> Any:
    # azure-batch 15.1.0 raises ValueError client-side in begin_terminate_job when `options` is
    # empty or None (it drops the content-type it then serializes), so always send a reason.
    return m._models.BatchJobTerminateOptions(termination_reason=reason or "UserTerminate")


def wait_tasks_completed(client: BatchClient, job_id: str, timeout: float = 20.0) -> list[m.BatchTask]:
    def done() -> list[m.BatchTask] | None:
        tasks = list(client.list_tasks(job_id))
        return tasks if tasks and all(t.state == m.BatchTaskState.COMPLETED for t in tasks) else None

    return wait_for(done, timeout)


def wait_task(
    client: BatchClient, job_id: str, task_id: str, state: str = "completed", timeout: float = 20.0
) -> m.BatchTask:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == state and t, timeout)


def task_file_text(
    client: BatchClient, job_id: str, task_id: str, path: str = "stdout.txt", **kwargs: Any
) -> str:
    """A task's file (`stdout.txt` unless named) as text, as Get Task File answers it (`kwargs`: `ocp_range`...)."""
    return b"".join(client.download_task_file(job_id, task_id, path, **kwargs)).decode()


def admin(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """Call an unauthenticated `/_localbatch/` admin route."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


class Emulator:
    """One `python -m localbatch serve` process on a given data dir (started and stopped by the test)."""

    def __init__(self, data_dir: Path, extra: list[str] | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            batch_emulator_command(self.port, data_dir) + (extra or []),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_port(self.port, proc=self.proc)
        credential = AzureNamedKeyCredential(LOCALBATCH_ACCOUNT_NAME, LOCALBATCH_ACCOUNT_KEY)
        self.client = BatchClient(
            endpoint=f"http://127.0.0.1:{self.port}", credential=credential, retry_total=0
        )

    def kill(self) -> None:
        """Die without any cleanup, as a crash would."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def write_container_url(endpoints: Any, blob_service: Any, container: str) -> str:
    """Create ``container`` on Azurite; its URL with a create + write SAS valid for an hour."""
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    blob_service.create_container(container)
    sas = generate_container_sas(
        endpoints.storage_account_name,
        container,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions(write=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"{endpoints.blob_url}/{container}?{sas}"
