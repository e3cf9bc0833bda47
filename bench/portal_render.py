"""``python -m bench.portal_render``: how long the portal's pictures take to render, 10 to 100,000 tasks.

Feeds the pure renderers (`localbatch.portal.timeline`, `charts`), and the translation of the
service's task documents into their data (`runs.job_run`), a synthetic job run: tasks packed
behind a job preparation task on each node of a pool (2 task slots per node), about 3 % failing,
some retried, a job release task at the end. Prints one table: milliseconds per render and the ratio
to the 10-task render, per picture, so a regression shows as a ratio, not as a wall-clock guess.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from localbatch.portal import charts, timeline
from localbatch.portal.runs import FAILED, SUCCEEDED, JobRun, Phase, TaskRun, job_run

SIZES = (10, 10_000, 100_000)


def synthetic_run(tasks: int, nodes: int = 50, slots: int = 2, seed: int = 7) -> JobRun:
    """A finished job run: per node, preparation, then tasks packed into `slots` lanes, then release."""
    rng = random.Random(seed)
    t0 = 1_700_000_000.0
    run = JobRun(now=t0 + 10**6)
    free: dict[str, list[float]] = {}
    for n in range(nodes):
        node = f"tvmps_{n:04d}"
        prep_end = t0 + rng.uniform(0.5, 3.0)
        run.prep[node] = Phase(start=t0, end=prep_end, result=SUCCEEDED)
        free[node] = [prep_end] * slots
    names = list(free)
    for i in range(tasks):
        node = names[i % nodes]
        lanes = free[node]
        lane = min(range(slots), key=lanes.__getitem__)
        start = lanes[lane] + rng.uniform(0.0, 0.2)
        end = start + rng.uniform(0.5, 6.0)
        lanes[lane] = end
        failed = rng.random() < 0.03
        run.tasks.append(
            TaskRun(
                task_id=f"task{i}",
                node_id=node,
                start=start,
                end=end,
                result=FAILED if failed else SUCCEEDED,
                retry_count=1 if rng.random() < 0.02 else 0,
                exit_code=rng.choice((1, 2, 137)) if failed else 0,
            )
        )
        run.states["completed"] += 1
    for node, lanes in free.items():
        last = max(lanes)
        run.release[node] = Phase(start=last + 0.1, end=last + 0.4, result=SUCCEEDED)
    return run


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_documents(run: JobRun) -> list[dict[str, object]]:
    """The run's tasks as the service's `list_tasks` documents (what the page translates)."""
    return [
        {
            "id": t.task_id,
            "state": "completed",
            "nodeInfo": {"nodeId": t.node_id},
            "executionInfo": {
                "startTime": _iso(t.start),
                "endTime": _iso(t.end),
                "exitCode": t.exit_code,
                "result": "success" if t.result == SUCCEEDED else "failure",
                "retryCount": t.retry_count,
            },
        }
        for t in run.tasks
    ]


def _best_ms(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portal_render", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeat", type=int, default=3, help="renders per size; the best is reported")
    args = parser.parse_args(argv)
    pictures: dict[str, Callable[[JobRun], object]] = {
        "timeline": lambda run: timeline.render_timeline(run, job_id="bench"),
        "timeline, zoomed to 1%": lambda run: timeline.render_timeline(
            run, job_id="bench", window=(0.0, timeline.full_window(run)[1] / 100)
        ),
        "histogram + exit codes": lambda run: charts.render_summaries(run),
        "documents -> JobRun": lambda run: job_run(documents[id(run)], None, run.now),
    }
    runs = {n: synthetic_run(n) for n in SIZES}
    documents = {id(run): as_documents(run) for run in runs.values()}
    print(f"{'picture':<26}" + "".join(f"{n:>12,} tasks" for n in SIZES) + "   mode at the largest size")
    for name, render in pictures.items():
        times = [_best_ms(lambda run=runs[n], draw=render: draw(run), args.repeat) for n in SIZES]
        out = render(runs[SIZES[-1]])
        if isinstance(out, str):
            mode = "buckets" if 'data-mode="buckets"' in out else ("bars" if "data-mode" in out else "-")
            note = f"{mode}, {len(out.encode()) / 1024:,.0f} KiB of HTML"
        else:
            note = "-"
        cells = "".join(f"{t:>9.1f} ms ({t / times[0]:>5.0f}x)".rjust(18) for t in times)
        print(f"{name:<26}{cells}   {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
