"""``python -m bench.check``: fail when a benchmark ratio regressed by more than 25% against the committed results.

Runs the quick mode of the benchmarks that produce ratios (B1, B2, B3, B4, B6, B9) on private emulators
and compares each ratio with ``bench/results/quick.json``, the committed quick-mode results. Only
ratios are compared, never absolute times: both sides of a ratio were measured side by side, so a
slower machine moves them alike. A ratio that regressed is measured once more (its whole benchmark)
and the better of the two runs counts, so one noisy run does not fail the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .runner import results_path, run_all

#: A ratio may be this much worse than the committed one (0.25: 25%).
TOLERANCE = 0.25
CHECKED = ["B1", "B2", "B3", "B4", "B6", "B9"]


def regressions(baseline: dict[str, Any], current: dict[str, Any], tolerance: float = TOLERANCE) -> list[str]:
    """The ratios of ``current`` worse than ``baseline`` by more than ``tolerance``, as messages.

    Both are ``ratios`` mappings of a results document (``{name: {"value", "higher_is_better", ...}}``).
    A ratio in the baseline but missing from ``current`` is a regression too (a benchmark stopped
    measuring it); a new ratio is not. A ratio that still meets its goal is not a regression: ratios
    whose true value is ~1 (B9's large/small: a cost independent of N) swing by more than 25% on a
    loaded 2-core machine, while a real regression there (a cost that grows with N) misses the goal
    by far.
    """
    problems = []
    for name, base in baseline.items():
        if base.get("value") is None:
            continue
        now = current.get(name)
        if now is None or now.get("value") is None:
            problems.append(f"{name}: measured {base['value']:.3f} before, not measured now")
            continue
        goal = now.get("goal", base.get("goal"))
        if base["higher_is_better"]:
            limit = base["value"] * (1 - tolerance)
            if goal is not None:
                limit = min(limit, goal)
            worse = now["value"] < limit
            sign = "≥"
        else:
            limit = base["value"] * (1 + tolerance)
            if goal is not None:
                limit = max(limit, goal)
            worse = now["value"] > limit
            sign = "≤"
        if worse:
            problems.append(
                f"{name}: {now['value']:.3f}, committed {base['value']:.3f} (must stay {sign} {limit:.3f})"
            )
    return problems


def _better(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a.get("value") is None:
        return b
    if b.get("value") is None:
        return a
    return max(a, b, key=lambda r: r["value"] if r["higher_is_better"] else -r["value"])


def _selected(ratios: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {k: v for k, v in ratios.items() if k.split(" ", 1)[0] in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.check", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--baseline", type=Path, default=results_path(quick=True))
    parser.add_argument("--only", default=",".join(CHECKED), help="benchmarks to check")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()]
    if not args.baseline.exists():
        print(
            f"no committed results at {args.baseline}: run `python -m bench --quick` first", file=sys.stderr
        )
        return 2
    baseline = _selected(json.loads(args.baseline.read_text())["ratios"], names)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    current = _selected(run_all(quick=True, only=names, progress=progress)["ratios"], names)
    failing = regressions(baseline, current, args.tolerance)
    if failing:
        again = sorted({name.split(" ", 1)[0] for name in failing})
        progress(f"[check] ratios of {', '.join(again)} look worse; measuring those once more")
        second = _selected(run_all(quick=True, only=again, progress=progress)["ratios"], again)
        for name, ratio in second.items():
            current[name] = _better(current[name], ratio) if name in current else ratio
        failing = regressions(baseline, current, args.tolerance)
    width = max((len(n) for n in baseline), default=10)
    print(f"{'ratio':<{width}}  committed    now")
    for name, base in baseline.items():
        now = current.get(name, {}).get("value")
        shown = "-" if now is None else f"{now:.3f}"
        print(f"{name:<{width}}  {base['value']:9.3f}  {shown:>7}")
    if failing:
        print(f"\n{len(failing)} ratio(s) regressed by more than {args.tolerance:.0%}:")
        for line in failing:
            print(f"  {line}")
        return 1
    print(f"\nno ratio regressed by more than {args.tolerance:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
