"""Set-time rules (formula length and validity, evaluation interval) and a fuzz test of the parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from localbatch.autoscale import (
    InMemorySampleSource,
    MetricsSnapshot,
    check_evaluation_interval,
    check_formula,
    evaluate,
    parse,
)
from localbatch.autoscale.errors import FormulaSyntaxError
from localbatch.autoscale.lexer import OPERATORS
from localbatch.autoscale.parser import FUNCTIONS, METHODS

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)


def test_formula_length_limit_is_8192_characters() -> None:
    padding = "// " + "x" * (8192 - len("$TargetDedicatedNodes = 1;\n// "))
    at_limit = "$TargetDedicatedNodes = 1;\n" + padding
    assert len(at_limit) == 8192 and check_formula(at_limit) is None
    too_long = check_formula(at_limit + "x")
    assert too_long is not None
    assert (too_long.code, too_long.values) == ("AutoScaleFormulaTooLong", (("Length", "8193"),))


def test_check_formula_reports_syntax_errors_and_accepts_runtime_failures() -> None:
    bad = check_formula("$TargetDedicatedNodes = min(1,")
    assert bad is not None and bad.code == "AutoScalingFormulaSyntaxError"
    assert bad.values == (("Message", "Line 1, Col 31: Expected a value, found end of formula"),)
    # Fails only when evaluated (no samples yet): valid at set time, as on the service.
    assert check_formula("$TargetDedicatedNodes = $ActiveTasks.GetSample(1);") is None
    empty = check_formula("  ")
    assert empty is not None and empty.code == "AutoScalingFormulaSyntaxError"


def test_evaluation_interval_bounds() -> None:
    assert check_evaluation_interval(timedelta(minutes=5)) is None
    assert check_evaluation_interval(timedelta(minutes=15)) is None
    assert check_evaluation_interval(timedelta(hours=168)) is None
    for refused in (timedelta(minutes=4, seconds=59), timedelta(hours=168, seconds=1), timedelta(0)):
        assert check_evaluation_interval(refused) == (
            "The autoscale evaluation interval must be between 5 minutes and 168 hours."
        )


# ---- fuzz ------------------------------------------------------------------------------------------

# Every operator and function of the language, some names, values and whitespace.
TOKENS = [
    *OPERATORS,
    *FUNCTIONS,
    *METHODS,
    "$TargetDedicatedNodes",
    "$TargetLowPriorityNodes",
    "$NodeDeallocationOption",
    "$ActiveTasks",
    "$PendingTasks",
    "$CPUPercent",
    "$TargetDedicated",
    "x",
    "y",
    "taskcompletion",
    "TimeInterval_Minute",
    "TimeInterval_Zero",
    "0",
    "1",
    "2.5",
    "70",
    '"s"',
    '"2024-03-04T00:00:00Z"',
    "hour",
    "weekday",
    "// c\n",
    "\n",
]


def _source() -> InMemorySampleSource:
    source = InMemorySampleSource()
    for i in range(6):
        source.record(
            NOW - timedelta(seconds=30 * (5 - i)), MetricsSnapshot(active_tasks=i, target_dedicated_nodes=1)
        )
    return source


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_parser_raises_only_the_documented_error_on_any_text(text: str) -> None:
    try:
        parse(text)
    except FormulaSyntaxError as exc:
        assert exc.line >= 1 and exc.col >= 1


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_evaluate_never_raises_on_token_soup(formula: str) -> None:
    result = evaluate(formula, _source(), NOW)
    if result.error is None:
        assert result.target_dedicated_nodes is not None and result.target_dedicated_nodes >= 0
        assert result.results.startswith("$TargetDedicatedNodes=")
    else:
        assert result.error.values[0][0] == "Message"
        assert result.error.values[0][1].startswith("Line ")
