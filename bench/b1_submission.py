"""B1 task submission: the Job provider's ``submit_tasks`` versus one ``create_task`` per task (the naive
baseline) and the SDK's ``create_tasks(max_concurrency=8)`` (the floor).

All three add the same ``BatchTaskCreateOptions`` (built once from a ``JobSpec`` task factory, as the
provider builds them) to a fresh job on a pool without nodes, so nothing runs meanwhile. Add-collection
calls are counted on the wire by an azure-core policy in the provider's client and must be exactly
⌈N/100⌉. Goals: provider ≥ 10× faster than the baseline, and within 1.3× of the floor.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from azure.batch import models as m
from pulumi_azbatch.dynamic_providers.submission import submit_tasks

from pulumi_azbatch.spec import JobSpec

from .common import (
    MIB,
    BenchResult,
    Context,
    Ratio,
    RequestCounter,
    Row,
    batch_client,
    best_of_interleaved,
    create_job,
    create_pool,
    delete_job_quietly,
    fmt_seconds,
    provider_client,
    unique,
)

FLOOR_CONCURRENCY = 8
NAIVE_MAX = 10_000  # the naive side (one request per task) runs up to this N


def task_creates(n: int, pool_id: str) -> list[m.BatchTaskCreateOptions]:
    """N trivial tasks from a parametric sweep, converted by the job model exactly as the provider does."""
    spec = JobSpec.model_validate(
        {
            "id": "b1",
            "pool_id": pool_id,
            "task_factories": [
                {
                    "type": "parametric_sweep",
                    "parameter_sets": [{"start": 1, "end": n}],
                    "repeat_task": {"command_line": "/bin/sh -c 'echo {0}'"},
                }
            ],
        }
    )
    return spec.to_batch_task_creates(job_id="b1")


ADD_COLLECTION = "/addtaskcollection"
Adder = Callable[[Any, str], None]


def _side(
    admin: Any,
    pool_id: str,
    n: int,
    client: Any,
    counter: RequestCounter,
    add: Adder,
    calls: list[int] | None,
) -> Callable[[int], float]:
    """One timed run of a way of adding: a fresh job, the adding alone timed, its add-collection calls counted."""

    def once(_: int) -> float:
        job_id = unique(f"b1-{n}")
        create_job(admin, job_id, pool_id)
        counter.reset()
        started = time.perf_counter()
        add(client, job_id)
        elapsed = time.perf_counter() - started
        if calls is not None:
            calls.append(counter.count(method="POST", suffix=ADD_COLLECTION))
        delete_job_quietly(admin, job_id)
        return elapsed

    return once


def _by_provider(tasks: list[m.BatchTaskCreateOptions]) -> Adder:
    def add(client: Any, job_id: str) -> None:
        report = submit_tasks(client, job_id, tasks)
        if report.failures or len(report.added) != len(tasks):
            raise RuntimeError(f"provider added {len(report.added)}/{len(tasks)}: {report.failures[:3]}")

    return add


def _by_floor(tasks: list[m.BatchTaskCreateOptions]) -> Adder:
    def add(client: Any, job_id: str) -> None:
        client.create_tasks(job_id, tasks, max_concurrency=FLOOR_CONCURRENCY)

    return add


def _by_naive(tasks: list[m.BatchTaskCreateOptions]) -> Adder:
    def add(client: Any, job_id: str) -> None:
        for task in tasks:
            client.create_task(job_id, task)

    return add


def _peak_allocations(admin: Any, pool_id: str, client: Any, tasks: list[m.BatchTaskCreateOptions]) -> int:
    """The most memory `submit_tasks` holds at once beyond its input (tracemalloc; an untimed run)."""
    job_id = unique("b1-memory")
    create_job(admin, job_id, pool_id)
    tracemalloc.start()
    try:
        submit_tasks(client, job_id, tasks)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        delete_job_quietly(admin, job_id)


def run(ctx: Context) -> BenchResult:
    sizes = [100, 100_000] if ctx.scale else [100, 1000] if ctx.quick else [100, 1000, 10000]
    floor_goal = 1.1 if ctx.scale else 1.3
    repeat = 3
    result = BenchResult("B1")
    admin = batch_client(ctx.endpoints)
    pool_id = unique("b1-idle")
    create_pool(admin, pool_id, nodes=0, slots=1)
    provider_counter, floor_counter, naive_counter = RequestCounter(), RequestCounter(), RequestCounter()
    provider = provider_client(ctx.endpoints, provider_counter)
    floor = batch_client(ctx.endpoints, floor_counter)
    naive = batch_client(ctx.endpoints, naive_counter)
    try:
        for n in sizes:
            tasks = task_creates(n, pool_id)
            calls: dict[str, list[int]] = {"provider": [], "floor": []}
            sides = {
                name: _side(admin, pool_id, n, client, counter, add, calls.get(name))
                for name, client, counter, add in (
                    ("provider", provider, provider_counter, _by_provider(tasks)),
                    ("floor", floor, floor_counter, _by_floor(tasks)),
                    ("naive", naive, naive_counter, _by_naive(tasks)),
                )
                if name != "naive" or n <= NAIVE_MAX  # one request per task: minutes at 100,000
            }
            # Small N runs take milliseconds: more rounds for a stable best at no real cost.
            runs = best_of_interleaved(5 if n <= 100 else repeat, sides)
            best = {k: min(v) for k, v in runs.items()}
            expected = math.ceil(n / 100)
            exact = all(c == expected for c in calls["provider"])
            vs_floor = best["provider"] / best["floor"]
            peak = None if ctx.quick else _peak_allocations(admin, pool_id, provider, tasks)
            measured = (
                f"provider {fmt_seconds(best['provider'])} ({n / best['provider']:,.0f}/s), "
                + (f"naive {fmt_seconds(best['naive'])}, " if "naive" in best else "")
                + f"floor {fmt_seconds(best['floor'])}; "
                f"add-collection calls {calls['provider'][0]} (⌈N/100⌉={expected}"
                f"{', exact' if exact else ', NOT EXACT'})"
                + (
                    ""
                    if peak is None
                    else f"; provider peak allocations {peak / MIB:,.1f} MiB ({peak / n:,.0f} B/task)"
                )
            )
            case = f"N={n:,}"
            if "naive" in best:
                vs_naive = best["naive"] / best["provider"]
                result.rows.append(
                    Row(
                        "B1 submission", case, measured, "naive/provider", Ratio(vs_naive, True, 10.0), "≥ 10"
                    )
                )
                measured = ""
            result.rows.append(
                Row(
                    "B1 submission",
                    case,
                    measured,
                    "provider/floor",
                    Ratio(vs_floor, False, floor_goal),
                    f"≤ {floor_goal:g}",
                )
            )
            result.data[str(n)] = {
                "seconds": runs,
                "best": best,
                "add_collection_calls": calls,
                "expected_calls": expected,
                "calls_exact": exact,
                "peak_allocated_bytes": peak,
            }
            if not exact:
                raise AssertionError(
                    f"B1 N={n}: provider made {calls['provider']} add-collection calls, not {expected}"
                )
    finally:
        admin.begin_delete_pool(pool_id, polling_interval=1)
    return result
