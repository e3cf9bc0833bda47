"""A Batch emulator whose clock a test moves (`--clock-control`, `POST /_localbatch/clock`), for job
schedules: the engine's schedule tests and the JobSchedule provider's."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ResourceNotFoundError

from pulumi_azbatch.localdev import (
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    batch_emulator_command,
    free_port,
    node_environment,
    wait_for_port,
)


class ClockedBatch:
    """A Batch emulator of its own with clock control (`--clock-control`), and its SDK client."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*batch_emulator_command(self.port, data_dir), "--clock-control"],
            # The nodes' python3 is this interpreter (with azure-storage-blob), as for `make emulators`.
            env=node_environment(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)
        self.url = f"http://127.0.0.1:{self.port}"
        credential = AzureNamedKeyCredential(LOCALBATCH_ACCOUNT_NAME, LOCALBATCH_ACCOUNT_KEY)
        self.client = BatchClient(endpoint=self.url, credential=credential)

    def create_pool(self, pool_id: str, nodes: int = 1) -> list[str]:
        """A Linux pool of ``nodes`` nodes on this emulator; returns their ids once they are idle."""
        image = m.BatchVmImageReference(
            publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"
        )
        self.client.create_pool(
            m.BatchPoolCreateOptions(
                id=pool_id,
                vm_size="standard_d2s_v3",
                target_dedicated_nodes=nodes,
                virtual_machine_configuration=m.VirtualMachineConfiguration(
                    image_reference=image, node_agent_sku_id="batch.node.ubuntu 22.04"
                ),
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            idle = [n.id for n in self.client.list_nodes(pool_id) if n.state == "idle"]
            if len(idle) == nodes:
                return idle
            time.sleep(0.1)
        raise AssertionError(f"pool {pool_id}: {nodes} idle node(s) not within 30 s")

    def advance(self, delta: timedelta) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/_localbatch/clock",
            data=json.dumps({"advanceSeconds": delta.total_seconds()}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def jobs(self, schedule_id: str) -> list[str]:
        return sorted(j.id for j in self.client.list_jobs_from_schedule(schedule_id))

    def node_file(self, pool_id: str, node_id: str, path: str) -> str:
        try:
            return b"".join(self.client.download_node_file(pool_id, node_id, path)).decode()
        except ResourceNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
