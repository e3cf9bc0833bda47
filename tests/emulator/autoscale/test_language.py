"""Operators, functions, sample methods and value formatting of the autoscale language."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from localbatch.autoscale import InMemorySampleSource, MetricsSnapshot, evaluate

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)


def value_of(expression: str) -> str:
    """The `results` text of `x = <expression>`, with $ActiveTasks sampled as 1, 2, 3."""
    result = evaluate(f"x = {expression};", _vector_source(), NOW)
    assert result.error is None, result.error
    return dict(part.split("=", 1) for part in result.results.split(";"))["x"]


def _vector_source() -> InMemorySampleSource:
    """$ActiveTasks has the samples 1, 2, 3 (oldest first), one every 30 s up to NOW."""
    source = InMemorySampleSource()
    for i, active in enumerate([1, 2, 3]):
        source.record(NOW - timedelta(seconds=30 * (2 - i)), MetricsSnapshot(active_tasks=active))
    return source


V = "$ActiveTasks.GetSample(3)"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3.5"),
        ("1 / 3", "0.3333333333333333"),
        ("-2 - -3", "1"),
        ("10 - 2 - 3", "5"),
        ("2 < 3", "1"),
        ("2 >= 3", "0"),
        ("2 == 2.0", "1"),
        ("2 != 2", "0"),
        ('"abc" < "abd"', "1"),
        ("!0", "1"),
        ("!5", "0"),
        ("1 && 0", "0"),
        ("0 || 2", "1"),
        ("1 ? 2 : 3", "2"),
        ("0 ? 2 : 0 ? 3 : 4", "4"),  # right-associative
        ("1 < 2 && 3 < 4 || 0", "1"),
        (".5 + 1e3", "1000.5"),
        # doubleVecList functions, with vectors and doubles mixed
        (f"avg({V})", "2"),
        (f"avg({V}, 7)", "3.25"),
        (f"len({V}, 7)", "4"),
        (f"max({V})", "3"),
        (f"min({V}, 0)", "0"),
        ("norm(3, 4)", "5"),
        (f"range({V})", "2"),
        (f"std({V})", "1"),
        ("std(5)", "0"),
        (f"sum({V}, 4)", "10"),
        (f"percentile({V}, 50)", "2"),
        (f"percentile({V}, 100)", "3"),
        (f"percentile({V}, 0)", "1"),
        (f"val({V}, 0)", "1"),
        (f"val({V}, 2)", "3"),
        ("lg(8)", "3"),
        ("ln(1)", "0"),
        ("log(1000)", "3"),
        (f"lg({V})", "[0,1,1.584962500721156]"),
        ("ceil(1.2)", "2"),
        ("floor(-1.2)", "-2"),
        ("round(2.5)", "3"),
        ("round(-2.5)", "-3"),
        # vector arithmetic
        (f"{V} * 2", "[2,4,6]"),
        (f"{V} + {V}", "[2,4,6]"),
        (f"{V} - 1", "[0,1,2]"),
        (f"{V} / {V}", "[1,1,1]"),
        # service variables read directly give their latest value
        ("$ActiveTasks + $PendingTasks", "6"),
        ("$CPUPercent", "0"),
        # time intervals and timestamps
        ("TimeInterval_Minute * 15", "00:15:00"),
        ("2 * TimeInterval_Hour + TimeInterval_Second", "02:00:01"),
        ("TimeInterval_Day * 1.5", "1.12:00:00"),
        ("TimeInterval_Week / 7", "1.00:00:00"),
        ("-TimeInterval_Minute", "-00:01:00"),
        ("TimeInterval_Millisecond", "00:00:00.0010000"),
        ("TimeInterval_Zero", "00:00:00"),
        ("TimeInterval_Year", "365.00:00:00"),
        ("time()", "2024-03-04T10:30:00.000Z"),
        ("time() - TimeInterval_Day", "2024-03-03T10:30:00.000Z"),
        ('time() - time("2024-03-04T10:00:00Z")', "00:30:00"),
        ('time("Mon, 04 Mar 2024 09:00:00 GMT").hour', "9"),
        ('time("2024-02-29T23:59:58.123+01:00")', "2024-02-29T22:59:58.123Z"),
        ("time().year * 10000 + time().month * 100 + time().day", "20240304"),
        ("time().minute + time().second", "30"),
        ('time() > time("2024-01-01T00:00:00Z")', "1"),
        ("TimeInterval_Hour > TimeInterval_Minute * 59", "1"),
        ("taskcompletion", "taskcompletion"),
        ('"a string"', "a string"),
    ],
)
def test_expression_values(expression: str, expected: str) -> None:
    assert value_of(expression) == expected


def test_rand_is_between_0_and_1_and_seedable() -> None:
    formula = "a = rand(); b = rand();"
    first = evaluate(formula, InMemorySampleSource(), NOW, rng=random.Random(7))
    again = evaluate(formula, InMemorySampleSource(), NOW, rng=random.Random(7))
    assert first.results == again.results
    assert all(0 <= float(first.variables[name]) < 1 for name in ("a", "b"))  # type: ignore[arg-type]


def test_user_variables_with_and_without_dollar_are_sorted_ignoring_case() -> None:
    result = evaluate(
        "zeta = 1; $Alpha = 2; beta = 3; $TargetDedicatedNodes = $Alpha;", InMemorySampleSource(), NOW
    )
    assert result.results == (
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$Alpha=2;beta=3;zeta=1"
    )


def test_reassignment_keeps_the_last_value() -> None:
    result = evaluate("n = 1; n = n + 1; n = n * 10; $TargetDedicatedNodes = n", InMemorySampleSource(), NOW)
    assert result.results.endswith(";n=20") and result.target_dedicated_nodes == 20


def test_aliases_feed_the_full_names_and_the_full_name_wins() -> None:
    alias_only = evaluate("$TargetDedicated = 4; $TargetLowPriority = 2;", InMemorySampleSource(), NOW)
    assert (alias_only.target_dedicated_nodes, alias_only.target_low_priority_nodes) == (4, 2)
    assert (
        alias_only.results
        == "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=2;$NodeDeallocationOption=requeue"
    )
    both = evaluate("$TargetDedicatedNodes = 1; $TargetDedicated = 4;", InMemorySampleSource(), NOW)
    assert both.target_dedicated_nodes == 1


def test_targets_start_at_the_pool_targets_and_are_whole_nodes() -> None:
    source = InMemorySampleSource()
    source.record(NOW, MetricsSnapshot(target_dedicated_nodes=6, target_low_priority_nodes=3))
    result = evaluate("$TargetDedicatedNodes = $TargetDedicatedNodes / 4;", source, NOW)
    assert (result.target_dedicated_nodes, result.target_low_priority_nodes) == (1, 3)
    assert (
        result.results == "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=3;$NodeDeallocationOption=requeue"
    )


@pytest.mark.parametrize("option", ["requeue", "terminate", "taskcompletion", "retaineddata"])
def test_every_node_deallocation_option(option: str) -> None:
    assert (
        evaluate(f"$NodeDeallocationOption = {option};", InMemorySampleSource(), NOW).node_deallocation_option
        == option
    )
    quoted = evaluate(f'$NodeDeallocationOption = "{option}";', InMemorySampleSource(), NOW)
    assert quoted.node_deallocation_option == option


def test_an_empty_formula_sets_nothing() -> None:
    result = evaluate("  // nothing\n ; ;", InMemorySampleSource(), NOW)
    assert result.error is None
    assert (result.target_dedicated_nodes, result.node_deallocation_option) == (0, "requeue")


# ---- sample methods --------------------------------------------------------------------------------


def ten_minutes(missing_last_minute: bool = False) -> InMemorySampleSource:
    """The documented example: 20 samples over 10 minutes, or 18 when the last minute is missing."""
    source = InMemorySampleSource()
    for i in range(20):
        at = NOW - timedelta(seconds=30 * (19 - i))
        if missing_last_minute and at > NOW - timedelta(minutes=1):
            continue
        source.record(at, MetricsSnapshot(running_tasks=i))
    return source


def test_get_sample_over_ten_minutes_as_documented() -> None:
    full = evaluate("s = $CPUPercent.GetSample(TimeInterval_Minute * 10);", ten_minutes(), NOW)
    assert full.variables["s"] == tuple([0.0] * 20)
    partial = ten_minutes(missing_last_minute=True)
    assert (
        len(evaluate("s = $CPUPercent.GetSample(TimeInterval_Minute * 10);", partial, NOW).variables["s"])
        == 18
    )  # type: ignore[arg-type]
    assert (
        evaluate("s = $CPUPercent.GetSample(TimeInterval_Minute * 10, 95);", partial, NOW).error is not None
    )
    assert evaluate("s = $CPUPercent.GetSample(TimeInterval_Minute * 10, 80);", partial, NOW).error is None
    assert (
        evaluate("p = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 10);", partial, NOW).variables["p"]
        == 90
    )


def test_get_sample_between_two_look_back_bounds() -> None:
    """`GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute)`: samples from 6 to 1 minutes ago."""
    result = evaluate(
        "s = $RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute);"
        "t = $RunningTasks.GetSample(6 * TimeInterval_Minute, 1 * TimeInterval_Minute, 100);"
        "p = $RunningTasks.GetSamplePercent(TimeInterval_Minute, 6 * TimeInterval_Minute);",
        ten_minutes(),
        NOW,
    )
    assert result.error is None
    assert result.variables["s"] == tuple(float(i) for i in range(8, 18))
    assert result.variables["t"] == result.variables["s"]
    assert result.variables["p"] == 100


def test_get_sample_with_timestamps() -> None:
    formula = 's = $RunningTasks.GetSample(time("2024-03-04T10:28:00Z"), time("2024-03-04T10:29:00Z"));'
    assert evaluate(formula, ten_minutes(), NOW).variables["s"] == (16.0, 17.0)


def test_get_sample_count_returns_the_latest_samples() -> None:
    result = evaluate(
        "a = $RunningTasks.GetSample(1); b = $RunningTasks.GetSample(3); c = $RunningTasks.GetSample(50);",
        ten_minutes(),
        NOW,
    )
    assert result.variables["a"] == (19.0,)
    assert result.variables["b"] == (17.0, 18.0, 19.0)
    assert len(result.variables["c"]) == 20  # type: ignore[arg-type]


def test_history_methods() -> None:
    result = evaluate(
        "n = $ActiveTasks.Count(); first = $ActiveTasks.HistoryBeginTime(); period = $ActiveTasks.GetSamplePeriod();",
        ten_minutes(),
        NOW,
    )
    assert result.results.endswith(";first=2024-03-04T10:20:30.000Z;n=20;period=00:00:30")
    empty = evaluate("first = $ActiveTasks.HistoryBeginTime();", InMemorySampleSource(), NOW)
    assert empty.error is not None and empty.error.code == "InsufficientSampleData"


def test_every_read_only_variable_can_be_sampled() -> None:
    snapshot = MetricsSnapshot(
        active_tasks=1,
        running_tasks=2,
        succeeded_tasks=3,
        failed_tasks=4,
        current_dedicated_nodes=5,
        current_low_priority_nodes=6,
        preempted_node_count=7,
        usable_node_count=8,
        task_slots_per_node=9,
    )
    source = InMemorySampleSource()
    source.record(NOW, snapshot)
    expected = {
        "$ActiveTasks": 1,
        "$RunningTasks": 2,
        "$PendingTasks": 3,
        "$SucceededTasks": 3,
        "$FailedTasks": 4,
        "$CurrentDedicatedNodes": 5,
        "$CurrentLowPriorityNodes": 6,
        "$PreemptedNodeCount": 7,
        "$UsableNodeCount": 8,
        "$TaskSlotsPerNode": 9,
        "$SampleNodeCount": 11,
        "$CPUPercent": 0,
        "$WallClockSeconds": 0,
        "$MemoryBytes": 0,
        "$DiskBytes": 0,
        "$DiskReadBytes": 0,
        "$DiskWriteBytes": 0,
        "$DiskReadOps": 0,
        "$DiskWriteOps": 0,
        "$NetworkInBytes": 0,
        "$NetworkOutBytes": 0,
    }
    formula = ";".join(
        f"v{i} = val({name}.GetSample(1), 0) + {name} * 1000" for i, name in enumerate(expected)
    )
    result = evaluate(formula, source, NOW)
    assert result.error is None
    assert [result.variables[f"v{i}"] for i in range(len(expected))] == [v * 1001 for v in expected.values()]


def test_sample_source_keeps_order_and_retention() -> None:
    source = InMemorySampleSource(retention=timedelta(minutes=5))
    for minute in range(10):
        source.record(NOW + timedelta(minutes=minute), MetricsSnapshot(active_tasks=minute))
    assert [s.value for s in source.history("$ActiveTasks")] == [4, 5, 6, 7, 8, 9]
    assert source.current("$ActiveTasks") == 9
    with pytest.raises(ValueError):
        source.record(NOW, MetricsSnapshot())
