"""The autoscale formulas of Microsoft's documentation and SDK tests, evaluated by the emulator's engine.

Each test states the pool's metric history, evaluates the documented formula and checks the target
nodes and the `results` string the service documents (with `$TargetLowPriorityNodes` in the place the
current service puts it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localbatch.autoscale import InMemorySampleSource, MetricsSnapshot, evaluate

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)  # a Monday, 10:30 UTC


def history(minutes: float, *, now: datetime = NOW, **counts: int) -> InMemorySampleSource:
    """A source with one sample every 30 s over the last `minutes`, each with the same `counts`."""
    source = InMemorySampleSource()
    n = int(minutes * 2)
    for i in range(n):
        source.record(now - timedelta(seconds=30 * (n - 1 - i)), MetricsSnapshot(**counts))
    return source


PENDING_TASKS = """startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;
"""


def test_pending_tasks_formula_starts_with_one_node_without_samples() -> None:
    result = evaluate(PENDING_TASKS, InMemorySampleSource(), NOW)
    assert result.error is None
    assert result.target_dedicated_nodes == 1
    assert result.node_deallocation_option == "taskcompletion"


def test_pending_tasks_formula_follows_the_average_and_caps_at_25() -> None:
    source = InMemorySampleSource()
    for i, pending in enumerate([4, 6, 8, 10, 12, 14]):
        source.record(NOW - timedelta(seconds=30 * (5 - i)), MetricsSnapshot(active_tasks=pending))
    assert evaluate(PENDING_TASKS, source, NOW).target_dedicated_nodes == 9
    assert (
        evaluate(PENDING_TASKS, history(5, active_tasks=30, running_tasks=10), NOW).target_dedicated_nodes
        == 25
    )


def test_results_string_of_a_recorded_pool() -> None:
    """A real pool's `autoScaleRun.results` for the pending-tasks formula with maxNumberofVMs = 2."""
    formula = PENDING_TASKS.replace("maxNumberofVMs = 25", "maxNumberofVMs = 2").replace(
        "$NodeDeallocationOption = taskcompletion;", ""
    )
    result = evaluate(formula, history(10), NOW)
    assert result.results == (
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "maxNumberofVMs=2;pendingTaskSamplePercent=100;pendingTaskSamples=0;startingNumberOfVMs=1"
    )


TIME_BASED = """
$curTime = time();
$workHours = $curTime.hour >= 8 && $curTime.hour < 18;
$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
$isWorkingWeekdayHour = $workHours && $isWeekday;
$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;
"""


def test_time_based_formula_results_as_documented() -> None:
    now = datetime(2016, 10, 13, 19, 18, 47, 805000, tzinfo=UTC)  # the documented sample output
    result = evaluate(TIME_BASED, InMemorySampleSource(), now)
    assert result.results == (
        "$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "$curTime=2016-10-13T19:18:47.805Z;$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0"
    )


def test_time_based_formula_by_day_and_hour() -> None:
    formula = TIME_BASED + "$NodeDeallocationOption = taskcompletion;"
    assert evaluate(formula, InMemorySampleSource(), NOW).target_dedicated_nodes == 20  # Monday 10:30
    saturday = datetime(2024, 3, 9, 10, 30, tzinfo=UTC)
    assert evaluate(formula, InMemorySampleSource(), saturday).target_dedicated_nodes == 10
    sunday = datetime(2024, 3, 10, 10, 30, tzinfo=UTC)
    assert (
        evaluate(
            "$TargetDedicatedNodes = time().weekday;", InMemorySampleSource(), sunday
        ).target_dedicated_nodes
        == 0
    )


def test_time_zone_offset_as_documented() -> None:
    formula = "$curTime = time() + (-6 * TimeInterval_Hour); $TargetDedicatedNodes = $curTime.hour;"
    assert evaluate(formula, InMemorySampleSource(), NOW).target_dedicated_nodes == 4


def test_monday_formula_from_the_dotnet_sample() -> None:
    formula = "$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);"
    assert evaluate(formula, InMemorySampleSource(), NOW).target_dedicated_nodes == 5
    assert evaluate(formula, InMemorySampleSource(), NOW + timedelta(days=1)).target_dedicated_nodes == 1


PREEMPTED = """maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);
$NodeDeallocationOption = taskcompletion;
"""


def test_preempted_nodes_are_replaced_by_dedicated_nodes() -> None:
    result = evaluate(PREEMPTED, history(5, preempted_node_count=3, current_low_priority_nodes=25), NOW)
    assert (result.target_dedicated_nodes, result.target_low_priority_nodes) == (3, 22)
    assert result.results.startswith(
        "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=22;$NodeDeallocationOption=taskcompletion;"
    )
    fresh = evaluate(PREEMPTED, history(5, current_low_priority_nodes=25), NOW)
    assert (fresh.target_dedicated_nodes, fresh.target_low_priority_nodes) == (0, 25)


TASK_BASED = """// Get pending tasks for the past 15 minutes.
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - let running tasks finish before removing a node
$NodeDeallocationOption = taskcompletion;
"""


def test_task_based_formula_with_comments() -> None:
    busy = evaluate(TASK_BASED, history(20, active_tasks=5, running_tasks=2, target_dedicated_nodes=4), NOW)
    assert busy.error is None and busy.target_dedicated_nodes == 7
    idle = evaluate(TASK_BASED, history(20, target_dedicated_nodes=8), NOW)
    assert idle.target_dedicated_nodes == 4  # half of the current target
    # Fewer than 70% of the samples: the last sample alone decides.
    few = evaluate(TASK_BASED, history(2, active_tasks=50, target_dedicated_nodes=1), NOW)
    assert few.target_dedicated_nodes == 20
    assert few.results.split(";")[3:] == ["$samples=13.333333333333334", "$targetVMs=50", "$tasks=50"]


PARALLEL_TASKS = """$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
$TargetDedicatedNodes = max(0,min($targetVMs,3));
$NodeDeallocationOption = taskcompletion;
"""


def test_parallel_tasks_formula() -> None:
    result = evaluate(PARALLEL_TASKS, history(15, active_tasks=20, target_dedicated_nodes=1), NOW)
    assert result.variables["$extraVMs"] == 4.75
    assert result.target_dedicated_nodes == 3
    small = evaluate(PARALLEL_TASKS, history(15, active_tasks=6, target_dedicated_nodes=1), NOW)
    assert small.target_dedicated_nodes == 2  # 1 + (6 - 4 + 3) / 4 = 2.25, truncated


INITIAL_SIZE = """
    $TargetDedicatedNodes = {size};
    lifespan         = time() - time("{created}");
    span             = TimeInterval_Minute * 60;
    startup          = TimeInterval_Minute * 10;
    ratio            = 50;

    $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : {size});
"""


def test_initial_pool_size_formula_with_an_rfc1123_time() -> None:
    created = NOW - timedelta(minutes=5)
    formula = INITIAL_SIZE.format(size=4, created=created.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert evaluate(formula, InMemorySampleSource(), NOW).target_dedicated_nodes == 4
    later = NOW + timedelta(minutes=70)
    assert evaluate(formula, history(70, now=later), later).target_dedicated_nodes == 0
    busy = evaluate(formula, history(70, now=later, running_tasks=1), later)
    assert busy.target_dedicated_nodes == 4


CPU = """$totalDedicatedNodes =
    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?
    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes =
    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?
    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)"""


def test_cpu_formula_sees_the_synthesized_idle_cpu() -> None:
    """The emulator samples $CPUPercent as 0, so the documented CPU formula shrinks the pool by 10%."""
    result = evaluate(CPU, history(60, current_dedicated_nodes=10), NOW)
    assert result.error is None
    assert result.variables["$totalDedicatedNodes"] == 9
    assert result.target_dedicated_nodes == 9


def test_powershell_example_result() -> None:
    formula = (
        "totalNodes=($CPUPercent.GetSamplePercent(TimeInterval_Minute*0,TimeInterval_Minute*10)<0.7?5:"
        "(min($CPUPercent.GetSample(TimeInterval_Minute*0, TimeInterval_Minute*10))>0.8?"
        "($CurrentDedicated*1.1):$CurrentDedicated));$TargetDedicated=min(100,totalNodes);"
    )
    result = evaluate(formula, InMemorySampleSource(), NOW)
    assert result.results == (
        "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;totalNodes=5"
    )
    assert result.target_dedicated_nodes == 5


def test_sdk_recorded_evaluations() -> None:
    """azure-sdk-for-python / -js recordings: a plain assignment, and a formula that sets nothing."""
    pool = history(1, target_dedicated_nodes=2)
    assert evaluate("$TargetDedicatedNodes=3", pool, NOW).results == (
        "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"
    )
    useless = evaluate("something_useless", pool, NOW)
    assert useless.error is None
    assert (
        useless.results == "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"
    )
    enabled = evaluate(
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=terminate", pool, NOW
    )
    assert (
        enabled.results
        == "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=terminate"
    )


def test_dotnet_recorded_evaluation_lists_the_user_variable() -> None:
    result = evaluate("myActiveSamples=$ActiveTasks.GetSample(5);", history(1, active_tasks=3), NOW)
    assert result.error is None
    assert result.results.endswith(";myActiveSamples=[3,3]")


def test_vector_variables_print_as_lists() -> None:
    source = InMemorySampleSource()
    for i, (pending, running) in enumerate([(1, 4), (2, 5), (3, 6)]):
        source.record(
            NOW - timedelta(seconds=30 * (2 - i)),
            MetricsSnapshot(active_tasks=pending, running_tasks=running),
        )
    formula = "$pendingTasksVector=$ActiveTasks.GetSample(3);$runningTasksVector=$RunningTasks.GetSample(3);"
    assert evaluate(formula, source, NOW).results.endswith(
        ";$pendingTasksVector=[1,2,3];$runningTasksVector=[4,5,6]"
    )


def test_low_priority_autoscale_with_alias_and_spot_fallback() -> None:
    formula = """startingNumberOfVMs = 0;
maxNumberofVMs = 60;
numCores=32;
activeTaskSamplePercent = $ActiveTasks.GetSamplePercent(60 * TimeInterval_Second);
activeTaskSamples = activeTaskSamplePercent < 70 ? startingNumberOfVMs : avg($ActiveTasks.GetSample(60 * TimeInterval_Second))/numCores;
$TargetLowPriorityNodes=min(maxNumberofVMs, activeTaskSamples+0.99);
$NodeDeallocationOption = taskcompletion;"""
    result = evaluate(formula, history(2, active_tasks=40), NOW)
    assert result.target_low_priority_nodes == 2  # 40/32 + 0.99 = 2.24, whole nodes only
    assert result.results.startswith("$TargetDedicatedNodes=0;$TargetLowPriorityNodes=2;")
