"""B2 pulumi overhead: ``pulumi up`` wall time minus the job's makespan in the emulator, and the state size.

The real engine (Automation API, the bootstrapped ``pulumi``, a file backend in a scratch directory)
runs ``bench/b2_program``: one Job whose N trivial tasks come from a parametric sweep, with
``wait_for: tasks``, on a pool of 4 nodes x 8 slots. The overhead of one ``pulumi up`` is its wall time
minus the job's makespan (first task start to last task end, from the emulator's own task records);
it holds engine and language-host start-up, check/diff, job creation, the tasks' submission (except
where it overlaps execution), the polling lag after the last task and the state writes. The state
size is the length of ``pulumi stack export``. Between runs the stack is destroyed. Goals: overhead at
the largest N ≤ 2x the overhead at N = 10; state size independent of N (largest / smallest ≤ 1.05).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from pulumi_azbatch.localdev import engine_env, workspace_options

from .common import BenchResult, Context, Ratio, Row, batch_client, create_pool, fmt_seconds, unique

PROGRAM = Path(__file__).resolve().parent / "b2_program"
NODES, SLOTS = 4, 8


def _makespan(client: Any, job_id: str) -> float:
    starts, ends = [], []
    for task in client.list_tasks(job_id, select=["id", "executionInfo"]):
        info = task.execution_info
        if info is not None and info.start_time is not None and info.end_time is not None:
            starts.append(info.start_time)
            ends.append(info.end_time)
    return (max(ends) - min(starts)).total_seconds()


def run(ctx: Context) -> BenchResult:
    sizes = [10, 1000] if ctx.quick else [10, 1000, 10000]
    repeat = 2 if ctx.quick else 1
    result = BenchResult("B2")
    endpoints = ctx.endpoints
    client = batch_client(endpoints)
    pool_id = unique("b2")
    create_pool(client, pool_id, nodes=NODES, slots=SLOTS)
    env = engine_env(state_dir=ctx.scratch / "b2-state", pulumi_home=ctx.scratch / "b2-home")
    # The provider's default poll settings: the polling lag is part of what a user waits for.
    for knob in (
        "PULUMI_AZBATCH_POLL_INTERVAL",
        "PULUMI_AZBATCH_POLL_MAX_INTERVAL",
        "PULUMI_AZBATCH_PROVIDER_TRACE",
    ):
        env.pop(knob, None)
    # A stack name of its own: the stack's settings file lands in the shared program directory.
    stack_name = unique("bench")
    stack = auto.create_or_select_stack(stack_name, work_dir=str(PROGRAM), opts=workspace_options(env))
    stack.set_all_config(
        {
            "batchUrl": auto.ConfigValue(endpoints.batch_url),
            "batchAccountName": auto.ConfigValue(endpoints.batch_account_name),
            "batchAccountKey": auto.ConfigValue(endpoints.batch_account_key, secret=True),
            "poolId": auto.ConfigValue(pool_id),
        }
    )
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    try:
        for _ in range(repeat):
            for n in sizes:
                job_id = unique(f"b2-{n:05d}")
                stack.set_config("jobId", auto.ConfigValue(job_id))
                stack.set_config("taskCount", auto.ConfigValue(str(n)))
                started = time.perf_counter()
                up = stack.up()
                wall = time.perf_counter() - started
                counts = up.outputs["task_counts"].value
                if counts.get("succeeded") != n:
                    raise RuntimeError(f"B2 N={n}: task counts {counts}")
                makespan = _makespan(client, job_id)
                state_bytes = len(json.dumps(stack.export_stack().deployment, separators=(",", ":")))
                started = time.perf_counter()
                stack.destroy()
                destroy = time.perf_counter() - started
                runs[n].append(
                    {
                        "up_s": wall,
                        "makespan_s": makespan,
                        "overhead_s": wall - makespan,
                        "state_bytes": state_bytes,
                        "destroy_s": destroy,
                    }
                )
    finally:
        try:
            stack.destroy()
            stack.workspace.remove_stack(stack_name)
        finally:
            client.begin_delete_pool(pool_id, polling_interval=1)
    best = {n: min(r, key=lambda x: x["overhead_s"]) for n, r in runs.items()}
    small, large = sizes[0], sizes[-1]
    for n in sizes:
        b = best[n]
        result.rows.append(
            Row(
                "B2 pulumi",
                f"N={n:,}",
                f"up {fmt_seconds(b['up_s'])} - makespan "
                f"{fmt_seconds(b['makespan_s'])} = overhead {fmt_seconds(b['overhead_s'])}; "
                f"state {b['state_bytes']:,} B",
            )
        )
    result.rows.append(
        Row(
            "B2 pulumi",
            f"N={large:,} vs N={small}",
            "",
            "overhead ratio",
            Ratio(best[large]["overhead_s"] / best[small]["overhead_s"], False, 2.0),
            "≤ 2",
        )
    )
    result.rows.append(
        Row(
            "B2 pulumi",
            f"N={large:,} vs N={small}",
            "",
            "state size ratio",
            Ratio(best[large]["state_bytes"] / best[small]["state_bytes"], False, 1.05),
            "≤ 1.05",
        )
    )
    result.data = {"runs": {str(n): r for n, r in runs.items()}}
    return result
