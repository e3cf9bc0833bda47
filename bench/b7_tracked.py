"""B7 tracked saves: the cost of ``TaskOutputStorage.track`` against a plain upload of the same bytes.

Both sides go through ``batch_file_conventions`` to the same Azurite, with a container SAS as a task
has. Two cases, interleaved best of 3, each run into its own blob name:

* **complete file** (64 MiB; quick 16 MiB): a tracked save of a file that no longer grows (create
  an append blob, append 16 MiB blocks, close) against the SDK's own upload of the same bytes to an
  append blob (``upload_blob(blob_type="AppendBlob")``): the overhead of the tracker itself, goal
  ≤ 1.25. Also against ``save`` (one block-blob upload): what choosing an append blob costs on this
  storage (reported, no goal; Azurite's appends are slower than its block puts).
* **growing log** (100 appends of 256 KiB; quick 60): the file grows and is flushed after every
  append, as a live log is. Compared with re-saving the whole file after every append, what a user
  does without tracking (goal ≤ 0.5: tracking sends only the new bytes), and with one plain upload
  of the final bytes (the price of being live; reported, no goal).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas
from batch_file_conventions import TaskOutputKind, TaskOutputStorage, job_output_container_name

from .common import MIB, BenchResult, Context, Ratio, Row, best_of_interleaved, fmt_seconds

KIND = TaskOutputKind.TASK_LOG


def run(ctx: Context) -> BenchResult:
    result = BenchResult("B7")
    endpoints = ctx.endpoints
    name = job_output_container_name("bench-tracked")
    admin = ContainerClient.from_connection_string(endpoints.storage_connection_string, name)
    admin.create_container()
    sas = generate_container_sas(
        endpoints.storage_account_name,
        name,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions.from_string("racwl"),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    storage = TaskOutputStorage.from_container_url(f"{endpoints.blob_url}/{name}?{sas}", "bench-task")
    work = ctx.scratch / "b7"
    work.mkdir(parents=True, exist_ok=True)
    try:
        _complete_file(ctx, storage, work, result)
        _growing_log(ctx, storage, work, result)
    finally:
        admin.delete_container()
        admin.close()
    return result


def _complete_file(ctx: Context, storage: TaskOutputStorage, work: Path, result: BenchResult) -> None:
    size = (16 if ctx.quick else 64) * MIB
    source = work / "complete.bin"
    source.write_bytes(os.urandom(size))

    def tracked(i: int) -> None:
        with storage.track(KIND, source, f"complete-tracked-{i}.bin", flush_interval=3600):
            pass

    def sdk_append(i: int) -> None:
        with open(source, "rb") as data:
            storage.container.upload_blob(
                f"{storage.task_id}/$TaskLog/complete-sdk-{i}.bin",
                data,
                blob_type="AppendBlob",
                overwrite=True,
            )

    def plain(i: int) -> None:
        storage.save(KIND, source, f"complete-plain-{i}.bin")

    runs = best_of_interleaved(
        3, {"tracked": tracked, "SDK append upload": sdk_append, "block-blob save": plain}
    )
    _record(
        result, f"complete file {size // MIB} MiB", runs, {"SDK append upload": 1.25, "block-blob save": None}
    )
    result.data["complete"] = {"bytes": size, "seconds": runs}


def _growing_log(ctx: Context, storage: TaskOutputStorage, work: Path, result: BenchResult) -> None:
    appends = 60 if ctx.quick else 100
    piece = 256 * 1024
    pieces = [os.urandom(piece) for _ in range(appends)]

    def grow(path: Path, after_each: Callable[[], object]) -> float:
        """Write the log piece by piece, calling ``after_each`` after every write; time it all."""
        path.write_bytes(b"")
        started = time.perf_counter()
        with open(path, "ab") as out:
            for data in pieces:
                out.write(data)
                out.flush()
                after_each()
        return time.perf_counter() - started

    def tracked(i: int) -> float:
        path = work / f"grow-tracked-{i}.log"
        with storage.track(KIND, path, path.name, flush_interval=3600) as tracker:
            elapsed = grow(path, tracker.flush)
            started = time.perf_counter()
        return elapsed + (time.perf_counter() - started)

    def resave(i: int) -> float:
        path = work / f"grow-resave-{i}.log"
        return grow(path, lambda: storage.save(KIND, path, path.name))

    final = work / "grow-final.log"
    final.write_bytes(b"".join(pieces))

    def plain(i: int) -> None:
        storage.save(KIND, final, f"grow-plain-{i}.log")

    runs = best_of_interleaved(3, {"tracked": tracked, "re-save each": resave, "plain once": plain})
    _record(
        result,
        f"growing log {appends} x {piece // 1024} KiB",
        runs,
        {"plain once": None, "re-save each": 0.5},
    )
    result.data["growing"] = {"appends": appends, "piece": piece, "seconds": runs}


def _record(
    result: BenchResult, case: str, runs: dict[str, list[float]], goals: dict[str, float | None]
) -> None:
    """One row per baseline in ``goals``: tracked / baseline (best runs), lower is better, goal or none."""
    best = {k: min(v) for k, v in runs.items()}
    measured = ", ".join(f"{name} {fmt_seconds(seconds)}" for name, seconds in best.items())
    for baseline, goal in goals.items():
        ratio = Ratio(best["tracked"] / best[baseline], False, goal)
        result.rows.append(
            Row(
                "B7 tracked save",
                case,
                measured,
                f"tracked/{baseline}",
                ratio,
                "" if goal is None else f"≤ {goal}",
            )
        )
