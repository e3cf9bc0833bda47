"""The benchmark regression check's comparison rule.

The real quick run (`make bench-check`) measures timing ratios, so it is not part of `make test`: on a
machine loaded by parallel test workers its ratios swing past any fair tolerance. `.ci/run` runs it
after the tests, alone on the machine, and prints its table.
"""

from __future__ import annotations

from bench.check import regressions


def _ratios(**values: tuple[float, bool]) -> dict[str, dict[str, object]]:
    return {name: {"value": value, "higher_is_better": higher} for name, (value, higher) in values.items()}


def test_a_ratio_more_than_25_percent_worse_fails_in_either_direction() -> None:
    baseline = _ratios(speedup=(20.0, True), floor=(1.0, False))
    assert regressions(baseline, _ratios(speedup=(16.0, True), floor=(1.2, False))) == []
    assert regressions(baseline, _ratios(speedup=(40.0, True), floor=(0.5, False))) == []  # better is fine
    [slower] = regressions(baseline, _ratios(speedup=(14.0, True), floor=(1.0, False)))
    assert slower.startswith("speedup: 14.000, committed 20.000")
    [costlier] = regressions(baseline, _ratios(speedup=(20.0, True), floor=(1.3, False)))
    assert costlier.startswith("floor: 1.300")
    assert regressions(baseline, _ratios(speedup=(20.0, True))) == [
        "floor: measured 1.000 before, not measured now"
    ]


def test_a_ratio_within_its_goal_is_not_a_regression() -> None:
    baseline = {"cost": {"value": 1.0, "higher_is_better": False, "goal": 2.0}}
    assert regressions(baseline, {"cost": {"value": 1.6, "higher_is_better": False, "goal": 2.0}}) == []
    [grew] = regressions(baseline, {"cost": {"value": 2.5, "higher_is_better": False, "goal": 2.0}})
    assert grew.startswith("cost: 2.500, committed 1.000 (must stay ≤ 2.000)")
    speed = {"speed": {"value": 0.9, "higher_is_better": True, "goal": 0.5}}
    assert regressions(speed, {"speed": {"value": 0.6, "higher_is_better": True, "goal": 0.5}}) == []
    assert regressions(speed, {"speed": {"value": 0.4, "higher_is_better": True, "goal": 0.5}}) != []
