"""Load on the Batch emulator: concurrent SDK clients adding and reading tasks for a bounded time.

Clients are threads spread over a few processes (one Python process cannot drive 50 clients without
its own lock becoming the bottleneck). Every client loops until the deadline over a realistic mix:
add a task (30%), get a task it added (20%), get the task counts (20%), get the job (20%), list a
page of tasks (10%). The SDK's own retries are off, so every failure is seen; failures answered by
the fault injector count as injected, anything else is an error. A task counts as added once the
service acknowledged it (201); a throttled add is retried with the same id, so a lost or duplicated
task shows up in the final comparison with the service.

Standalone: `python tests/reliability/loadgen.py --seconds 60` starts its own emulators.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPS = (("add", 30), ("get_task", 20), ("counts", 20), ("get_job", 20), ("list", 10))


@dataclass
class WorkerResult:
    """What one process's clients did: latencies per operation, acknowledged task ids, failures."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    injected: int = 0
    errors: list[str] = field(default_factory=list)


def _client(batch_url: str, name: str, key: str) -> Any:
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    return BatchClient(
        endpoint=batch_url,
        credential=AzureNamedKeyCredential(name, key),
        retry_total=0,
        connection_timeout=10,
        read_timeout=30,
    )


def _one_client(
    args: dict[str, Any], client_id: str, deadline: float, out: WorkerResult, lock: threading.Lock
) -> None:
    from azure.batch import models as m
    from azure.core.exceptions import HttpResponseError

    client = _client(args["batch_url"], args["account_name"], args["account_key"])
    rng = random.Random(client_id)
    names, weights = zip(*OPS, strict=True)
    mine: list[str] = []
    counter = 0
    pending: str | None = None  # a task id whose add was throttled: retried with the same id
    while time.monotonic() < deadline:
        op = "add" if pending else rng.choices(names, weights)[0]
        if op == "get_task" and not mine:
            op = "counts"
        started = time.perf_counter()
        try:
            if op == "add":
                task_id = pending or f"{client_id}-{counter}"
                if pending is None:
                    counter += 1
                pending = task_id
                client.create_task(
                    args["job_id"], m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true")
                )
                pending = None
                mine.append(task_id)
            elif op == "get_task":
                client.get_task(args["job_id"], rng.choice(mine))
            elif op == "counts":
                client.get_job_task_counts(args["job_id"])
            elif op == "get_job":
                client.get_job(args["job_id"])
            else:
                next(
                    iter(client.list_tasks(args["job_id"], max_results=50, select=["id", "state"]).by_page())
                )
        except HttpResponseError as exc:
            injected = "(injected fault)" in str(exc)
            with lock:
                if injected:
                    out.injected += 1
                else:
                    out.errors.append(
                        f"{op}: {exc.status_code} {getattr(exc.error, 'code', '')}: {str(exc)[:200]}"
                    )
            continue
        except Exception as exc:  # noqa: BLE001 - every other failure is an error of the run
            with lock:
                out.errors.append(f"{op}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        elapsed = time.perf_counter() - started
        with lock:
            out.latencies.setdefault(op, []).append(elapsed)
    with lock:
        out.added.extend(mine)


def _process(args: dict[str, Any], index: int, clients: int, queue: Any) -> None:
    out = WorkerResult()
    lock = threading.Lock()
    deadline = args["start_at"] + args["seconds"]
    while time.time() < args["start_at"]:  # every process starts at the same moment
        time.sleep(0.01)
    deadline = time.monotonic() + (deadline - time.time())
    threads = [
        threading.Thread(target=_one_client, args=(args, f"c{index:02d}x{i:02d}", deadline, out, lock))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args["seconds"] + 60)
    queue.put(out.__dict__)


def run_load(
    batch_url: str,
    account_name: str,
    account_key: str,
    job_id: str,
    *,
    clients: int = 50,
    processes: int = 5,
    seconds: float = 20,
) -> dict[str, Any]:
    """Run `clients` clients (spread over `processes`) for `seconds`; the merged measurements."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = {
        "batch_url": batch_url,
        "account_name": account_name,
        "account_key": account_key,
        "job_id": job_id,
        "seconds": seconds,
        "start_at": time.time() + 3,
    }
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    workers = [context.Process(target=_process, args=(args, i, n, queue)) for i, n in enumerate(shares)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    merged = WorkerResult()
    for result in results:
        for op, values in result["latencies"].items():
            merged.latencies.setdefault(op, []).extend(values)
        merged.added.extend(result["added"])
        merged.injected += result["injected"]
        merged.errors.extend(result["errors"])
    return summarize(merged, seconds, clients)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(result: WorkerResult, seconds: float, clients: int) -> dict[str, Any]:
    """p50/p99 latency (ms) per operation and overall, requests per second, failures."""
    every = [v for values in result.latencies.values() for v in values]
    ok = len(every)
    per_op = {
        op: {
            "count": len(v),
            "p50_ms": round(1000 * statistics.median(v), 1),
            "p99_ms": round(1000 * _percentile(v, 0.99), 1),
        }
        for op, v in sorted(result.latencies.items())
    }
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": ok + result.injected + len(result.errors),
        "succeeded": ok,
        "requests_per_second": round((ok + result.injected + len(result.errors)) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(every), 1) if every else None,
        "p99_ms": round(1000 * _percentile(every, 0.99), 1) if every else None,
        "per_operation": per_op,
        "injected_faults": result.injected,
        "errors": result.errors[:20],
        "error_count": len(result.errors),
        "added": result.added,
    }


def main(argv: list[str] | None = None) -> int:
    """Start emulators, run the load for `--seconds`, check the tasks, print the figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    options = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tempfile

    from harness import local_stack, prepare_load_target, verify_load

    with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as local:
        job_id = prepare_load_target(local, options.fault_rate)
        e = local.endpoints()
        figures = run_load(
            e.batch_url,
            e.batch_account_name,
            e.batch_account_key,
            job_id,
            clients=options.clients,
            seconds=options.seconds,
        )
        verify_load(local, job_id, figures)
    figures["added"] = len(figures["added"])
    print(json.dumps(figures, indent=2))
    return 0 if not figures["error_count"] else 1


if __name__ == "__main__":
    sys.exit(main())
