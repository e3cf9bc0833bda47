"""B6 polling economy: the status requests the Job provider sends per minute while waiting for N tasks.

For each N, a job with N tasks on a pool of one node with one slot, whose tasks take a while, so the
job stays unfinished for the whole window; the provider's own wait (``wait_for_gate`` with
``wait_for: tasks``, a client built as the provider builds it) runs until its deadline (the window),
and every HTTP request it sends is counted by an azure-core policy. The waits for all N run at the
same time, so they see the same machine. Full mode uses the provider's default poll intervals over a
60 s window; quick mode shrinks intervals and window alike (``PULUMI_AZBATCH_POLL_INTERVAL``...).
Goal: requests per minute independent of N (max / min over N = 1).
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from datetime import timedelta

from azure.batch import models as m
from pulumi_azbatch.dynamic_providers.lifecycle import JobGateError, wait_for_gate

from .common import (
    BenchResult,
    Context,
    Ratio,
    RequestCounter,
    Row,
    batch_client,
    create_job,
    create_pool,
    delete_job_quietly,
    env_vars,
    provider_client,
    unique,
)


def run(ctx: Context) -> BenchResult:
    sizes = [100, 1000, 10000]
    window = 4.0 if ctx.quick else 60.0
    knobs = (
        {"PULUMI_AZBATCH_POLL_INTERVAL": "0.1", "PULUMI_AZBATCH_POLL_MAX_INTERVAL": "0.5"}
        if ctx.quick
        else {"PULUMI_AZBATCH_POLL_INTERVAL": None, "PULUMI_AZBATCH_POLL_MAX_INTERVAL": None}
    )
    result = BenchResult("B6")
    admin = batch_client(ctx.endpoints)
    pool_id = unique("b6")
    create_pool(admin, pool_id, nodes=1, slots=1)
    jobs: dict[int, str] = {}
    try:
        for n in sizes:
            job_id = unique(f"b6-{n}")
            create_job(admin, job_id, pool_id)
            tasks = [m.BatchTaskCreateOptions(id=f"t{i:05d}", command_line="/bin/sleep 2") for i in range(n)]
            admin.create_tasks(job_id, tasks, max_concurrency=8)
            jobs[n] = job_id
        counters = {n: RequestCounter() for n in sizes}
        outcome: dict[int, str] = {}

        def wait(n: int) -> None:
            client = provider_client(ctx.endpoints, counters[n])
            try:
                wait_for_gate(
                    client, jobs[n], wait_for="tasks", timeout=timedelta(seconds=window), expected_tasks=n
                )
                outcome[n] = "finished early"
            except JobGateError:
                outcome[n] = "deadline"

        with env_vars(knobs), contextlib.redirect_stderr(io.StringIO()):  # the provider's progress lines
            threads = [threading.Thread(target=wait, args=(n,)) for n in sizes]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
    finally:
        for job_id in jobs.values():
            delete_job_quietly(admin, job_id)
        admin.begin_delete_pool(pool_id, polling_interval=1)
    per_minute = {n: counters[n].count() / window * 60 for n in sizes}
    spread = max(per_minute.values()) / min(per_minute.values())
    interval = "defaults (2 s, x1.5, cap 30 s)" if not ctx.quick else "0.1 s, x1.5, cap 0.5 s"
    measured = (
        ", ".join(f"N={n:,}: {per_minute[n]:.1f}/min" for n in sizes)
        + f" ({window:.0f} s window, {interval})"
    )
    result.rows.append(
        Row(
            "B6 polling",
            "requests/min while waiting",
            measured,
            "max/min over N",
            Ratio(spread, False, 1.1),
            "≤ 1.1 (independent of N)",
        )
    )
    result.data = {
        "window_s": window,
        "elapsed_s": elapsed,
        "requests": {n: c.count() for n, c in counters.items()},
        "per_minute": per_minute,
        "outcome": outcome,
        "paths": sorted(
            {
                url.split("/jobs/", 1)[-1].split("/", 1)[-1]
                for c in counters.values()
                for _, _, url in c.requests
            }
        ),
    }
    return result
