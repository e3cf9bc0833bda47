"""Benchmark the local Batch emulator: tasks added per second and task execution throughput.

Starts its own emulator (`python -m localbatch serve`) on a temporary data dir, then measures
1. tasks added per second through parallel add-collection calls (`BatchClient.create_tasks` with
   `max_concurrency`), onto a pool with no nodes so nothing runs meanwhile;
2. trivial tasks (`/bin/true`) executed per second on a pool of 4 nodes x 8 slots, from the first add
   to the last `completed`, as a ratio to a plain `subprocess.run` loop (sequential and 32 threads).

Run: `.venv/bin/python bench/bench_emulator.py [--add N] [--run N]`. Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

LINUX = m.VirtualMachineConfiguration(
    image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu", sku="22_04-lts"),
    node_agent_sku_id="batch.node.ubuntu 22.04",
)


def _pool(client: BatchClient, pool_id: str, nodes: int, slots: int) -> None:
    client.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=nodes,
                                                task_slots_per_node=slots, virtual_machine_configuration=LINUX))  # fmt: skip


def bench_add(client: BatchClient, count: int) -> float:
    """Tasks added per second with 8 parallel add-collection calls of 100 tasks."""
    _pool(client, "idle-pool", 0, 1)
    client.create_job(m.BatchJobCreateOptions(id="add-job", pool_info=m.BatchPoolInfo(pool_id="idle-pool")))
    tasks = [m.BatchTaskCreateOptions(id=f"t{i:06d}", command_line="/bin/true") for i in range(count)]
    start = time.perf_counter()
    client.create_tasks("add-job", tasks, max_concurrency=8)
    return count / (time.perf_counter() - start)


def bench_run(client: BatchClient, count: int) -> float:
    """Trivial tasks completed per second on 32 slots, add to last completion."""
    _pool(client, "run-pool", 4, 8)
    client.create_job(m.BatchJobCreateOptions(id="run-job", pool_info=m.BatchPoolInfo(pool_id="run-pool")))
    tasks = [m.BatchTaskCreateOptions(id=f"r{i:06d}", command_line="/bin/true") for i in range(count)]
    start = time.perf_counter()
    client.create_tasks("run-job", tasks, max_concurrency=4)
    while client.get_job_task_counts("run-job").task_counts.completed < count:
        time.sleep(0.02)
    return count / (time.perf_counter() - start)


def bench_spawn(count: int, threads: int) -> float:
    """Plain `subprocess.run(["/bin/true"])` per second, on `threads` threads."""
    start = time.perf_counter()
    if threads == 1:
        for _ in range(count):
            subprocess.run(["/bin/true"], check=True)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: subprocess.run(["/bin/true"], check=True), range(count)))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add", type=int, default=3000, help="tasks to add")
    parser.add_argument("--run", type=int, default=500, help="tasks to execute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen(batch_emulator_command(port, Path(tmp)), stdout=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc=proc)
            credential = AzureNamedKeyCredential(LOCALBATCH_ACCOUNT_NAME, LOCALBATCH_ACCOUNT_KEY)
            client = BatchClient(endpoint=f"http://127.0.0.1:{port}", credential=credential)
            add_rate = bench_add(client, args.add)
            run_rate = bench_run(client, args.run)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    seq = bench_spawn(args.run, 1)
    par = bench_spawn(args.run, 32)
    print(f"add-collection (8 parallel calls): {add_rate:8.0f} tasks/s  ({args.add} tasks)")
    print(f"task execution (32 slots):         {run_rate:8.0f} tasks/s  ({args.run} x /bin/true)")
    print(f"plain subprocess loop:             {seq:8.0f} spawns/s  -> emulator/loop ratio {run_rate / seq:.2f}")
    print(f"plain subprocess, 32 threads:      {par:8.0f} spawns/s  -> emulator/threads ratio {run_rate / par:.2f}")


if __name__ == "__main__":
    main()
