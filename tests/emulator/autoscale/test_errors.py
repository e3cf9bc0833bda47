"""Errors of autoscale formulas in the service's `AutoScaleRunError` shape, with line and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from localbatch.autoscale import InMemorySampleSource, MetricsSnapshot, evaluate

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)


def message(formula: str, source: InMemorySampleSource | None = None) -> tuple[str, str]:
    result = evaluate(formula, source or InMemorySampleSource(), NOW)
    assert result.error is not None, result.results
    assert result.target_dedicated_nodes is None and result.node_deallocation_option is None
    (name, value), *_ = result.error.values
    assert name == "Message"
    return result.error.code, value


def test_insufficient_sample_data_in_the_documented_shape() -> None:
    result = evaluate(
        "$TargetDedicatedNodes= $RunningTasks.GetSample(TimeInterval_Minute * 5, 100);",
        InMemorySampleSource(),
        NOW,
    )
    assert result.error is not None
    assert result.error.to_wire() == {
        "code": "InsufficientSampleData",
        "message": "Autoscale evaluation failed due to insufficient sample data",
        "values": [
            {
                "name": "Message",
                "value": "Line 1, Col 24: Insufficient data from data set: $RunningTasks wanted 100%, received 0%",
            }
        ],
    }
    # The run still reports the values reached, as the service does alongside the error.
    assert (
        result.results == "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"
    )


def test_insufficient_samples_report_the_percentage_received() -> None:
    source = InMemorySampleSource()
    for i in range(10):  # 5 of the last 10 minutes
        source.record(NOW - timedelta(seconds=30 * (9 - i)), MetricsSnapshot(running_tasks=1))
    formula = "a = 1;\nb = 2;\n  x = $RunningTasks.GetSample(TimeInterval_Minute * 10, 70);"
    code, text = message(formula, source)
    assert (code, text) == (
        "InsufficientSampleData",
        "Line 3, Col 7: Insufficient data from data set: $RunningTasks wanted 70%, received 50%",
    )
    partial = evaluate(formula, source, NOW)
    assert partial.results.endswith(";a=1;b=2")


def test_sample_count_on_an_empty_history() -> None:
    assert message("x = $ActiveTasks.GetSample(1);") == (
        "InsufficientSampleData",
        "Line 1, Col 5: Insufficient data from data set: $ActiveTasks wanted 1, received 0",
    )


@pytest.mark.parametrize(
    ("formula", "position", "detail"),
    [
        ("$TargetDedicatedNodes = 1 +", "Line 1, Col 28", "Expected a value, found end of formula"),
        ("$TargetDedicatedNodes = (1 + 2;", "Line 1, Col 31", "Expected ')', found ';'"),
        ("a = 1\nb = 2", "Line 2, Col 1", "Expected ';' or an operator, found 'b'"),
        ("x = 3 % 2;", "Line 1, Col 7", "Unexpected character '%'"),
        ('x = "open;', "Line 1, Col 5", "Unterminated string"),
        ("x = 1; /* never closed", "Line 1, Col 8", "Unterminated comment"),
        ("x = average(1, 2);", "Line 1, Col 5", "Unknown function 'average'"),
        ("x = $ActiveTasks.GetSamples(1);", "Line 1, Col 18", "Unknown method 'GetSamples'"),
        ("x = time().hours;", "Line 1, Col 12", "Unknown member 'hours'"),
        ("x = max();", "Line 1, Col 5", "Function 'max' takes 1 or more argument(s), got 0"),
        ("x = percentile(1);", "Line 1, Col 5", "Function 'percentile' takes 2 argument(s), got 1"),
        ("x = $CPUPercent.Count(1);", "Line 1, Col 17", "Method 'Count' takes 0 argument(s), got 1"),
        (
            "$ActiveTasks = 5;",
            "Line 1, Col 1",
            "$ActiveTasks is a read-only service-defined variable and cannot be assigned",
        ),
        (
            "TimeInterval_Minute = 5;",
            "Line 1, Col 1",
            "TimeInterval_Minute is a constant and cannot be assigned",
        ),
        ("x = $;", "Line 1, Col 5", "'$' must be followed by a variable name"),
    ],
)
def test_syntax_errors_name_the_place(formula: str, position: str, detail: str) -> None:
    result = evaluate(formula, InMemorySampleSource(), NOW)
    assert result.error is not None
    assert result.error.code == "AutoScalingFormulaSyntaxError"
    assert result.error.message == "The specified auto-scaling formula has a syntax error."
    assert result.error.values == (("Message", f"{position}: {detail}"),)
    assert result.results == ""


def test_more_than_100_statements_is_refused() -> None:
    assert evaluate(";".join(f"v{i} = {i}" for i in range(100)), InMemorySampleSource(), NOW).error is None
    code, text = message(";".join(f"v{i} = {i}" for i in range(101)))
    assert code == "AutoScalingFormulaSyntaxError"
    assert text.endswith("A formula can have at most 100 statements")


@pytest.mark.parametrize(
    ("formula", "detail"),
    [
        (
            "$NodeDeallocationOption = taskcompleton;",
            "$NodeDeallocationOption must be one of requeue, terminate, taskcompletion, retaineddata, got taskcompleton",
        ),
        (
            "$TargetDedicatedNodes = -1;",
            "$TargetDedicatedNodes must be a finite number of nodes >= 0, got -1",
        ),
        ('$TargetLowPriorityNodes = "two";', "$TargetLowPriorityNodes must be a double, got string"),
        (
            "$TargetDedicatedNodes = TimeInterval_Hour;",
            "$TargetDedicatedNodes must be a double, got timeinterval",
        ),
        ("x = 1 / 0;", "Division by zero"),
        ("x = lg(0);", "Logarithm of 0"),
        ("x = maxNodes + 1;", "Operator + cannot be applied to a string and a double"),
        ("x = time() * 2;", "Operator * cannot be applied to a timestamp and a double"),
        ('x = 1 < "a";', "Cannot compare a double with a string"),
        ('x = "a" ? 1 : 2;', "A condition must be a double, got string"),
        ("x = avg($ActiveTasks.GetSample(TimeInterval_Minute));", "avg of an empty list"),
        (
            "x = val($ActiveTasks.GetSample(TimeInterval_Minute), 0);",
            "Index 0 is outside a vector of length 0",
        ),
        ('x = time("yesterday");', "'yesterday' is not a W3C-DTF or RFC 1123 date and time"),
        ("x = $ActiveTasks.GetSample(0.5);", "The sample count must be a whole number >= 1, got 0.5"),
        (
            "x = 5; y = x.GetSample(1);",
            "'GetSample' can only be called on a read-only service-defined variable",
        ),
        ("x = percentile(1, 101);", "The percentile must be between 0 and 100, got 101"),
    ],
)
def test_evaluation_errors(formula: str, detail: str) -> None:
    code, text = message(formula)
    assert code == "AutoScalingFormulaEvaluationError"
    assert text.split(": ", 1)[1] == detail


def test_invalid_target_error_points_at_the_assignment() -> None:
    assert message("a = 1;\n  $TargetDedicatedNodes = 0 - 3;")[1].startswith("Line 2, Col 3: ")


def test_untaken_branches_are_not_evaluated() -> None:
    """`?:`, `&&` and `||` evaluate only what they need, so a sample check can guard a GetSample."""
    formula = (
        "p = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 10);"
        "$TargetDedicatedNodes = p < 70 ? 1 : avg($ActiveTasks.GetSample(TimeInterval_Minute * 10, 70));"
        "a = 0 && 1 / 0; b = 1 || 1 / 0;"
    )
    result = evaluate(formula, InMemorySampleSource(), NOW)
    assert result.error is None
    assert (result.target_dedicated_nodes, result.variables["a"], result.variables["b"]) == (1, 0.0, 1.0)


def test_stop_ends_the_evaluation_successfully() -> None:
    result = evaluate(
        "$TargetDedicatedNodes = 1; stop(); $TargetDedicatedNodes = 1 / 0;", InMemorySampleSource(), NOW
    )
    assert result.error is None
    assert result.target_dedicated_nodes == 1


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        evaluate("x = 1", InMemorySampleSource(), datetime(2024, 1, 1))


def test_non_ascii_digits_are_not_numbers() -> None:
    """Found by the fuzz test: '²' is a digit to str.isdigit() but not a number of the language."""
    assert message("x = ²;") == ("AutoScalingFormulaSyntaxError", "Line 1, Col 5: Unexpected character '²'")
