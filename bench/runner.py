"""Run the benchmarks on private emulators, print one table, write the results as JSON."""

from __future__ import annotations

import json
import math
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi_azbatch.localdev import running_emulators

from .common import BenchResult, Context

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NAMES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9")
#: What `--scale` runs: the benchmarks with a 100,000-task case.
SCALE_NAMES = ("B1", "B2", "B9")


MODULES = {
    "B1": "b1_submission",
    "B2": "b2_pulumi",
    "B3": "b3_execution",
    "B4": "b4_upload",
    "B5": "b5_destroy",
    "B6": "b6_polling",
    "B7": "b7_tracked",
    "B8": "b8_task_changes",
    "B9": "b9_scale",
}


def _benchmark(name: str) -> Callable[[Context], BenchResult]:
    import importlib

    module = importlib.import_module(f"{__package__}.{MODULES[name]}")
    run: Callable[[Context], BenchResult] = module.run
    return run


def results_path(quick: bool, scale: bool = False) -> Path:
    """Where a mode's results live: ``quick.json`` is the regression check's baseline, ``full.json``
    the table in the README, ``scale.json`` the 100,000-task runs."""
    return RESULTS_DIR / ("scale.json" if scale else "quick.json" if quick else "full.json")


def run_all(
    *,
    quick: bool,
    only: list[str] | None = None,
    progress: Callable[[str], None] = print,
    scale: bool = False,
) -> dict[str, Any]:
    """Start Azurite and the Batch emulator on free ports, run the benchmarks, return the results document."""
    chosen = [n for n in NAMES if n in (only or (SCALE_NAMES if scale else NAMES))]
    mode = "scale" if scale else "quick" if quick else "full"
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="azbatch-bench-") as tmp:
        scratch = Path(tmp)
        with running_emulators(scratch / "emulators") as emulators:
            ctx = Context(emulators, quick and not scale, scratch, scale)
            for name in chosen:
                progress(f"[bench] {name} ({mode}) ...")
                started = time.perf_counter()
                result = _benchmark(name)(ctx)
                result.seconds = time.perf_counter() - started
                progress(f"[bench] {name} done in {result.seconds:.1f}s")
                results.append(result)
    return {
        "mode": mode,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "benchmarks": {
            r.name: {
                "seconds": round(r.seconds, 1),
                "rows": [row.as_json() for row in r.rows],
                "data": r.data,
            }
            for r in results
        },
        "ratios": {k: v.as_json() for r in results for k, v in r.ratios().items()},
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def table(document: dict[str, Any]) -> str:
    """The one table: benchmark, case, what was measured, the ratio against its goal."""
    lines = ["| benchmark | case | measured | ratio | value | goal | met |", "|---|---|---|---|---|---|---|"]
    for bench in document["benchmarks"].values():
        for row in bench["rows"]:
            ratio = row["ratio"]
            value = (
                "" if ratio is None else ("n/a" if math.isnan(ratio["value"]) else f"{ratio['value']:.2f}")
            )
            met = (
                ""
                if ratio is None or ratio["meets_goal"] is None
                else ("yes" if ratio["meets_goal"] else "**no**")
            )
            measured = row["measured"].replace("|", "\\|")
            lines.append(
                f"| {row['bench']} | {row['case']} | {measured} | {row['ratio_name']} | {value} | "
                f"{row['goal']} | {met} |"
            )
    return "\n".join(lines)


def write(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def merge(path: Path, partial: dict[str, Any]) -> dict[str, Any]:
    """``partial`` (a run of some benchmarks) laid over the results already in ``path``."""
    if not path.exists():
        return partial
    document: dict[str, Any] = json.loads(path.read_text())
    if document.get("mode") != partial["mode"]:
        return partial
    for name, bench in partial["benchmarks"].items():
        document["benchmarks"][name] = bench
        document["ratios"] = {k: v for k, v in document["ratios"].items() if not k.startswith(f"{name} ")}
    document["ratios"].update(partial["ratios"])
    document["benchmarks"] = {k: document["benchmarks"][k] for k in NAMES if k in document["benchmarks"]}
    document["created"], document["machine"] = partial["created"], partial["machine"]
    return document
