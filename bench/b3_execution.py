"""B3 emulator execution: trivial tasks per second through the emulator versus spawning the same processes
at the pool's parallelism.

Throughput: N ``/bin/true`` tasks added in add-collection calls to a job on a pool of 4 nodes x 8
slots, timed from the first add to the last task's ``endTime`` in the emulator's own records.
The floor, on the same cores, is ``subprocess.run(["/bin/true"])`` from 32 threads in this process
(4 x 8: as many processes at once as the pool runs); a sequential spawn loop is reported beside it,
and so is the 32-thread floor with the files Batch gives every task (its directory, ``wd``,
``stdout.txt`` and ``stderr.txt``: four inodes per task, which the emulator cannot skip).
The sides run interleaved (emulator, loop, 32 threads, 32 threads with files, emulator, ...), and the
ratio is taken per round, emulator against the floor measured right after it: load from other
processes on a shared machine moves both sides of one round alike. The ratio is the median of the
rounds (the best round is reported beside it). The jobs of all rounds are deleted at the end, not
between rounds: deleting a job frees its tasks' inodes, and on ext4 allocating inodes right after
many were freed is several times slower, which would slow every round after the first.
Goal: emulator / floor ≥ 0.8.

Emulator CPU per task (its own and its reaped children's, from ``/proc/<pid>/stat``) is reported
beside the floor's (this process and its children): both are CPU time, which load on a shared
machine moves far less than wall-clock time.

Scheduling latency: single tasks added one at a time to an idle pool; the latency of each is the
emulator's own ``executionInfo.startTime - creationTime``; p50 and p95 are reported.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.batch import models as m

from .common import (
    BenchResult,
    Context,
    Ratio,
    Row,
    batch_client,
    best_of_interleaved,
    create_job,
    create_pool,
    delete_job_quietly,
    median,
    percentile,
    unique,
    wait_until,
)

NODES, SLOTS = 4, 8
_TICKS = os.sysconf("SC_CLK_TCK")


def _spawn_loop(count: int, threads: int = 1) -> None:
    if threads == 1:
        for _ in range(count):
            subprocess.run(["/bin/true"], check=True)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: subprocess.run(["/bin/true"], check=True), range(count)))


def _spawn_with_files(count: int, threads: int, root: Path) -> None:
    """The parallel floor plus what every Batch task has on its node: a directory with `wd`,
    `stdout.txt` and `stderr.txt` (the process writes to them and runs in `wd`)."""
    root.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        task_dir = root / f"t{i:06d}"
        (task_dir / "wd").mkdir(parents=True)
        with open(task_dir / "stdout.txt", "wb") as out, open(task_dir / "stderr.txt", "wb") as err:
            subprocess.run(["/bin/true"], check=True, cwd=task_dir / "wd", stdout=out, stderr=err)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))


def _cpu_split(pid: int) -> tuple[float, float]:
    """CPU time of a process itself and of its reaped children (`/proc/<pid>/stat` utime+stime,
    cutime+cstime)."""
    fields = [int(x) for x in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15]]
    return (fields[0] + fields[1]) / _TICKS, (fields[2] + fields[3]) / _TICKS


def _own_cpu_split() -> tuple[float, float]:
    """CPU time of this process itself and of its reaped children."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime, children.ru_utime + children.ru_stime


def run(ctx: Context) -> BenchResult:
    count = 300 if ctx.quick else 2000
    rounds_wanted = 5 if ctx.quick else 3
    latency_samples = 20 if ctx.quick else 100
    result = BenchResult("B3")
    client = batch_client(ctx.endpoints)
    pool_id = unique("b3")
    create_pool(client, pool_id, nodes=NODES, slots=SLOTS)
    emulator_pid = ctx.emulators.batch.pid
    cpu: dict[str, list[float]] = {"emulator": [], "threads": [], "files": []}
    # Of that, the process itself (the emulator's bookkeeping, or the floor's spawning threads and
    # file creation), without the task processes it reaped (the same /bin/true on every side).
    own: dict[str, list[float]] = {"emulator": [], "threads": [], "files": []}
    jobs: list[str] = []
    try:

        def emulator(_: int) -> float:
            job_id = unique("b3-run")
            jobs.append(job_id)
            create_job(client, job_id, pool_id)
            tasks = [m.BatchTaskCreateOptions(id=f"t{i:06d}", command_line="/bin/true") for i in range(count)]
            cpu_before = _cpu_split(emulator_pid)
            started = time.time()
            client.create_tasks(job_id, tasks, max_concurrency=4)
            # Polled slowly so the polling costs the emulator nothing worth mentioning; the end is the
            # emulator's own record of the last task's end (same machine, same wall clock).
            wait_until(
                lambda: client.get_job_task_counts(job_id).task_counts.completed >= count,
                timeout=600,
                interval=0.1,
            )
            cpu_after = _cpu_split(emulator_pid)
            cpu["emulator"].append((sum(cpu_after) - sum(cpu_before)) / count)
            own["emulator"].append((cpu_after[0] - cpu_before[0]) / count)
            last = max(t.execution_info.end_time for t in client.list_tasks(job_id, select=["executionInfo"]))
            return last.timestamp() - started

        def floor(name: str, spawn: Callable[[], None]) -> float:
            cpu_before = _own_cpu_split()
            started = time.perf_counter()
            spawn()
            elapsed = time.perf_counter() - started
            cpu_after = _own_cpu_split()
            cpu[name].append((sum(cpu_after) - sum(cpu_before)) / count)
            own[name].append((cpu_after[0] - cpu_before[0]) / count)
            return elapsed

        runs = best_of_interleaved(
            rounds_wanted,
            {
                "emulator": emulator,
                "loop": lambda _: _spawn_loop(count),
                "threads": lambda _: floor("threads", lambda: _spawn_loop(count, NODES * SLOTS)),
                "files": lambda i: floor(
                    "files", lambda: _spawn_with_files(count, NODES * SLOTS, ctx.scratch / f"b3-files-{i}")
                ),
            },
        )
        for job_id in jobs:
            delete_job_quietly(client, job_id)
        best = {k: min(v) for k, v in runs.items()}
        rates = {k: count / v for k, v in best.items()}
        rounds = [floor / emu for emu, floor in zip(runs["emulator"], runs["threads"], strict=True)]
        rounds_files = [floor / emu for emu, floor in zip(runs["emulator"], runs["files"], strict=True)]

        # Scheduling latency on an idle pool.
        job_id = unique("b3-latency")
        create_job(client, job_id, pool_id)
        latencies: list[float] = []
        for i in range(latency_samples):
            task_id = f"l{i:04d}"
            client.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true"))
            task = wait_until(lambda tid=task_id: _completed(client, job_id, tid), timeout=30, interval=0.005)
            latencies.append((task.execution_info.start_time - task.creation_time).total_seconds())
        delete_job_quietly(client, job_id)
    finally:
        client.begin_delete_pool(pool_id, polling_interval=1)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    ms = {k: 1000 * median(v) for k, v in cpu.items()}
    own_ms = {k: 1000 * median(v) for k, v in own.items()}
    measured = (
        f"{count} x /bin/true on {NODES}x{SLOTS} slots: emulator {rates['emulator']:,.0f} tasks/s, "
        f"{NODES * SLOTS} threads {rates['threads']:,.0f}/s, sequential loop {rates['loop']:,.0f}/s; "
        f"per round {', '.join(f'{r:.2f}' for r in rounds)} (best {max(rounds):.2f})"
    )
    result.rows.append(
        Row(
            "B3 execution",
            "throughput",
            measured,
            "emulator/parallel spawn (median of rounds)",
            Ratio(median(rounds), True, 0.8),
            "≥ 0.8",
        )
    )
    result.rows.append(
        Row(
            "B3 execution",
            "throughput against the floor with task files",
            f"{NODES * SLOTS} threads creating each task's directory, wd, stdout and stderr: "
            f"{rates['files']:,.0f}/s; emulator/that per round {', '.join(f'{r:.2f}' for r in rounds_files)}",
        )
    )
    result.rows.append(
        Row(
            "B3 execution",
            "CPU per task (median)",
            f"emulator {ms['emulator']:.2f} ms (its own and its task processes'), "
            f"{NODES * SLOTS}-thread floor {ms['threads']:.2f} ms, with task files {ms['files']:.2f} ms; "
            f"of which the process itself (not its tasks): emulator {own_ms['emulator']:.2f} ms, "
            f"floor {own_ms['threads']:.2f} ms, with task files {own_ms['files']:.2f} ms",
        )
    )
    result.rows.append(
        Row(
            "B3 execution",
            "scheduling latency",
            f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms ({latency_samples} tasks)",
        )
    )
    result.data = {
        "count": count,
        "seconds": runs,
        "rates": rates,
        "round_ratios": rounds,
        "round_ratios_with_files": rounds_files,
        "cpu_ms_per_task": {k: [1000 * x for x in v] for k, v in cpu.items()},
        "own_cpu_ms_per_task": {k: [1000 * x for x in v] for k, v in own.items()},
        "latency_ms": {"p50": p50 * 1000, "p95": p95 * 1000, "samples": [x * 1000 for x in latencies]},
    }
    return result


def _completed(client: object, job_id: str, task_id: str) -> m.BatchTask | None:
    task = client.get_task(job_id, task_id)  # type: ignore[attr-defined]
    return task if task.state == m.BatchTaskState.COMPLETED else None
