"""B9 emulator at scale: what one request costs on a large job, streamed downloads, huge dependency ranges.

- **List / get / counts / portal cost**: ``GET /jobs/{id}/tasks?maxresults=1``, ``GET .../tasks/{id}``
  and ``GET .../taskcounts`` on a job of N tasks (N = 10,000 quick, 100,000 full) versus the same calls
  on a 10-task job, interleaved; the portal's job page (100 rows of its task table) on the N-task job
  versus a 150-task job (the same rows, summaries drawn). The ratio is the median over 9 rounds (5 quick) of
  (large / small) measured back to back. Both jobs sit on a pool without nodes, so nothing runs meanwhile.
  Goal: each large / small ≤ 2 (O(page), not O(job)). Also reported: paging the whole large job
  (1,000 per page), and the SQLite file's size per task.
- **Dependency ranges**: M ``/bin/true`` tasks on 2 nodes x 4 slots, in a job that also holds one
  task waiting on ``taskIdRanges`` 1..5,000,000, versus the same without it, interleaved. Goal:
  with / without ≤ 1.25 (no tick walks the range).
- **Streamed downloads**: a task writes S bytes to stdout (48 MB quick, 600 MB full); four clients
  download it at once while the emulator's VmRSS (``/proc/<pid>/status``) is sampled. Goal: RSS
  growth ≤ 64 MB. The ratio is growth over that budget, floored at 1.00 (so within budget is 1.00
  and the regression check compares nothing but the budget).
- **Load with lists** (full mode only): the reliability load generator's 50 clients (adds, gets,
  counts, list pages) for 20 s on a job already holding N tasks. Goal: p99 ≤ 500 ms, no task lost.
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from azure.batch import models as m
from azure.core.rest import HttpRequest

from .common import (
    MIB,
    BenchResult,
    Context,
    Ratio,
    Row,
    batch_client,
    best_of_interleaved,
    create_job,
    create_pool,
    delete_job_quietly,
    fmt_seconds,
    median,
    unique,
    wait_until,
)

API = "api-version=2025-06-01"
RSS_BUDGET_MB = 64.0
HUGE_RANGE = m.BatchTaskIdRange(start=1, end=5_000_000)


def _add(client: Any, job_id: str, n: int) -> None:
    tasks = [m.BatchTaskCreateOptions(id=f"t{i:06d}", command_line="/bin/true") for i in range(n)]
    client.create_tasks(job_id, tasks, max_concurrency=8)


def _get(client: Any, path: str) -> None:
    response = client.send_request(HttpRequest("GET", f"{path}{'&' if '?' in path else '?'}{API}"))
    response.raise_for_status()


def _twenty(client: Any, path: str, base_url: str) -> Any:
    def once(_: int) -> None:
        for _ in range(20):
            if path.startswith("/portal/"):
                with urllib.request.urlopen(f"{base_url}{path}", timeout=60) as page:
                    page.read()
            else:
                _get(client, path)

    return once


def _request_costs(ctx: Context, client: Any, large: int, result: BenchResult) -> None:
    pool_id = unique("b8-idle")
    create_pool(client, pool_id, nodes=0, slots=1)
    small_job, large_job, page_job = unique("b8-small"), unique("b8-large"), unique("b8-page")
    try:
        create_job(client, small_job, pool_id)
        create_job(client, large_job, pool_id)
        create_job(client, page_job, pool_id)
        _add(client, small_job, 10)
        _add(client, page_job, 150)
        started = time.perf_counter()
        _add(client, large_job, large)
        added = time.perf_counter() - started
        last = f"t{large - 1:06d}"
        calls = {
            "list": lambda job: f"/jobs/{job}/tasks?maxresults=1",
            "get": lambda job: f"/jobs/{job}/tasks/{last if job == large_job else 't000009'}",
            "counts": lambda job: f"/jobs/{job}/taskcounts",
            "portal": lambda job: f"/portal/jobs/{job}",
        }
        sides: dict[str, Any] = {}
        for name, path in calls.items():
            for label, job in (("small", page_job if name == "portal" else small_job), ("large", large_job)):
                # Each sample is 20 calls: one call is ~1 ms, too short to time alone on a busy machine.
                sides[f"{name} {label}"] = _twenty(client, path(job), ctx.endpoints.batch_url)
        runs = best_of_interleaved(5 if ctx.quick else 9, sides)
        best = {k: min(v) / 20 for k, v in runs.items()}
        # Each round's large side runs right after its small side: the median of the per-round
        # ratios is what a burst of load from elsewhere moves least.
        paired = {
            name: median([b / a for a, b in zip(runs[f"{name} small"], runs[f"{name} large"], strict=True)])
            for name in calls
        }
        started = time.perf_counter()
        paged = sum(1 for _ in client.list_tasks(large_job, max_results=1000, select=["id"]))
        paging = time.perf_counter() - started
        data_dir = ctx.scratch / "emulators" / "batch"
        db = sum(p.stat().st_size for p in data_dir.glob("localbatch.sqlite3*"))
    finally:
        delete_job_quietly(client, small_job)
        delete_job_quietly(client, page_job)
        delete_job_quietly(client, large_job)
        client.begin_delete_pool(pool_id, polling_interval=1)
    for name in calls:
        small, big = best[f"{name} small"], best[f"{name} large"]
        what = {
            "list": "list maxresults=1",
            "get": "get task",
            "counts": "task counts",
            "portal": "portal job page",
        }[name]
        result.rows.append(
            Row(
                "B9 scale",
                f"{what}, N={large:,} vs {150 if name == 'portal' else 10}",
                f"{big * 1000:.2f} ms vs {small * 1000:.2f} ms",
                "large/small",
                Ratio(paired[name], False, 2.0),
                "≤ 2",
            )
        )
    result.rows.append(
        Row(
            "B9 scale",
            f"page through N={large:,}",
            f"{paged:,} tasks in {fmt_seconds(paging)} ({paged / paging:,.0f}/s, 1,000 per page); "
            f"added in {fmt_seconds(added)}; SQLite {db / MIB:,.1f} MiB with both jobs "
            f"({db / (large + 10):,.0f} B/task)",
        )
    )
    result.data["requests"] = {
        "best_s": best,
        "paired_ratios": paired,
        "paging_s": paging,
        "paged": paged,
        "added_s": added,
        "sqlite_bytes": db,
        "tasks": large + 10,
    }


def _dependency_ranges(client: Any, count: int, result: BenchResult) -> None:
    pool_id = unique("b8-deps")
    create_pool(client, pool_id, nodes=2, slots=4)

    def side(blocked: bool) -> Any:
        def once(_: int) -> float:
            job_id = unique("b8-range" if blocked else "b8-plain")
            create_job(client, job_id, pool_id, uses_task_dependencies=True)
            if blocked:
                client.create_task(
                    job_id,
                    m.BatchTaskCreateOptions(
                        id="waits",
                        command_line="/bin/true",
                        depends_on=m.BatchTaskDependencies(task_id_ranges=[HUGE_RANGE]),
                    ),
                )
            tasks = [m.BatchTaskCreateOptions(id=f"r{i:05d}", command_line="/bin/true") for i in range(count)]
            started = time.time()
            client.create_tasks(job_id, tasks, max_concurrency=4)
            wait_until(
                lambda: client.get_job_task_counts(job_id).task_counts.completed >= count,
                timeout=600,
                interval=0.05,
            )
            ends = [
                t.execution_info.end_time
                for t in client.list_tasks(job_id, select=["id", "executionInfo"])
                if t.id != "waits"
            ]
            delete_job_quietly(client, job_id)
            return max(ends).timestamp() - started

        return once

    try:
        runs = best_of_interleaved(2, {"with range": side(True), "without": side(False)})
    finally:
        client.begin_delete_pool(pool_id, polling_interval=1)
    pairs = [a / b for a, b in zip(runs["with range"], runs["without"], strict=True)]
    best = {k: min(v) for k, v in runs.items()}
    result.rows.append(
        Row(
            "B9 scale",
            "dependency range 1..5,000,000",
            f"{count} tasks on 2x4 slots: {fmt_seconds(best['with range'])} beside a task waiting on "
            f"the range, {fmt_seconds(best['without'])} without",
            "with/without",
            Ratio(min(pairs), False, 1.25),
            "≤ 1.25",
        )
    )
    result.data["dependency_ranges"] = {"seconds": runs, "pair_ratios": pairs}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _streamed_downloads(ctx: Context, client: Any, size_mb: int, result: BenchResult) -> None:
    if ctx.emulators.batch is None:
        raise RuntimeError("B9 needs the emulator's process to read its RSS")
    pid = ctx.emulators.batch.pid
    pool_id = unique("b8-files")
    create_pool(client, pool_id, nodes=1, slots=1)
    job_id = unique("b8-files")
    try:
        create_job(client, job_id, pool_id)
        client.create_task(
            job_id,
            m.BatchTaskCreateOptions(id="big", command_line=f"/usr/bin/head -c {size_mb * MIB} /dev/zero"),
        )
        wait_until(lambda: client.get_task(job_id, "big").state == m.BatchTaskState.COMPLETED, timeout=300)
        before = _rss_mb(pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss_mb(pid))
                time.sleep(0.01)

        received: list[int] = []

        def download() -> None:
            received.append(
                sum(len(chunk) for chunk in client.download_task_file(job_id, "big", "stdout.txt"))
            )

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        readers = [threading.Thread(target=download) for _ in range(4)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    finally:
        delete_job_quietly(client, job_id)
        client.begin_delete_pool(pool_id, polling_interval=1)
    if received != [size_mb * MIB] * 4:
        raise RuntimeError(f"B9 downloads received {received}, expected 4 x {size_mb * MIB}")
    growth = peak[0] - before
    result.rows.append(
        Row(
            "B9 scale",
            f"4 concurrent downloads of {size_mb} MB",
            f"emulator RSS {before:,.0f} MB -> peak {peak[0]:,.0f} MB (growth {growth:,.1f} MB); "
            f"{4 * size_mb / elapsed:,.0f} MB/s in all",
            "RSS growth/64 MB (floor 1)",
            Ratio(max(1.0, growth / RSS_BUDGET_MB), False, 1.0),
            "≤ 1 (≤ 64 MB)",
        )
    )
    result.data["downloads"] = {
        "size_mb": size_mb,
        "rss_before_mb": before,
        "rss_peak_mb": peak[0],
        "seconds": elapsed,
    }


def _load_with_lists(ctx: Context, client: Any, large: int, result: BenchResult) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))
    from loadgen import run_load  # type: ignore[import-not-found]

    pool_id = unique("b8-load")
    create_pool(client, pool_id, nodes=0, slots=1)
    job_id = unique("b8-load")
    e = ctx.endpoints
    try:
        create_job(client, job_id, pool_id)
        _add(client, job_id, large)
        figures = run_load(
            e.batch_url, e.batch_account_name, e.batch_account_key, job_id, clients=50, seconds=20
        )
        present = {t.id for t in client.list_tasks(job_id, select=["id"])}
    finally:
        delete_job_quietly(client, job_id)
        client.begin_delete_pool(pool_id, polling_interval=1)
    lost = set(figures["added"]) - present
    lists = figures["per_operation"].get("list", {})
    result.rows.append(
        Row(
            "B9 scale",
            f"50 clients, lists in the mix, job of {large:,}",
            f"{figures['requests_per_second']:,.0f} req/s, p50 {figures['p50_ms']:.0f} ms, "
            f"p99 {figures['p99_ms']:.0f} ms (lists p99 {lists.get('p99_ms', float('nan')):.0f} ms); "
            f"{figures['error_count']} errors, {len(lost)} of {len(figures['added']):,} added tasks "
            f"lost",
            "p99/500 ms",
            Ratio(figures["p99_ms"] / 500, False, 1.0),
            "≤ 1, none lost",
        )
    )
    figures["added"] = len(figures["added"])
    result.data["load"] = {**figures, "lost": len(lost)}
    if lost:
        raise AssertionError(f"B9 load: {len(lost)} acknowledged tasks lost")


def run(ctx: Context) -> BenchResult:
    large = 10_000 if ctx.quick else 100_000
    result = BenchResult("B9")
    client = batch_client(ctx.endpoints)
    _request_costs(ctx, client, large, result)
    _dependency_ranges(client, 100 if ctx.quick else 1000, result)
    _streamed_downloads(ctx, client, 48 if ctx.quick else 600, result)
    if not ctx.quick:
        _load_with_lists(ctx, client, large, result)
    return result
