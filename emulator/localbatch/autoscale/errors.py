"""Errors of the autoscale formula language, in the service's `AutoScaleRunError` shape.

Owns the error codes and messages an evaluation can report and their wire form
(`{"code", "message", "values": [{"name", "value"}]}`; note `name`, not the `key` of request errors).
Imports nothing from the rest of the emulator.

Codes and messages the service documents are used verbatim:

- `InsufficientSampleData` / "Autoscale evaluation failed due to insufficient sample data", with a
  `Message` value such as `Line 1, Col 24: Insufficient data from data set: $RunningTasks wanted 70%,
  received 50%` (the REST reference and the pool autoscale event).
- `AutoScalingFormulaSyntaxError` / "The specified auto-scaling formula has a syntax error." (the Batch
  status and error code table); the `Message` value (`Line L, Col C: ...`) is the emulator's wording.

The service documents no code for a formula that parses but fails while running (a type mismatch, a
logarithm of a negative number, a bad `$NodeDeallocationOption`); the emulator reports those as
`AutoScalingFormulaEvaluationError`, a code of its own, with the same `Line L, Col C: ...` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYNTAX_ERROR = "AutoScalingFormulaSyntaxError"
SYNTAX_ERROR_MESSAGE = "The specified auto-scaling formula has a syntax error."
INSUFFICIENT_SAMPLE_DATA = "InsufficientSampleData"
INSUFFICIENT_SAMPLE_DATA_MESSAGE = "Autoscale evaluation failed due to insufficient sample data"
EVALUATION_ERROR = "AutoScalingFormulaEvaluationError"
EVALUATION_ERROR_MESSAGE = "Autoscale evaluation failed while running the formula"


@dataclass(frozen=True)
class AutoScaleRunError:
    """An error of an autoscale run as the service reports it in `autoScaleRun.error`."""

    code: str
    message: str
    values: tuple[tuple[str, str], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """The camelCase body of `autoScaleRun.error` (values as `{"name", "value"}` pairs)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.values:
            body["values"] = [{"name": name, "value": value} for name, value in self.values]
        return body


class FormulaError(Exception):
    """A formula failed to parse or to evaluate at `line`/`col` (1-based) with a one-line `detail`."""

    code = EVALUATION_ERROR
    summary = EVALUATION_ERROR_MESSAGE

    def __init__(self, detail: str, line: int, col: int) -> None:
        super().__init__(f"Line {line}, Col {col}: {detail}")
        self.detail = detail
        self.line = line
        self.col = col

    def run_error(self) -> AutoScaleRunError:
        """This error in the service's `AutoScaleRunError` shape."""
        return AutoScaleRunError(self.code, self.summary, (("Message", str(self)),))


class FormulaSyntaxError(FormulaError):
    """The formula is not valid: it does not parse, names an unknown function, or assigns a read-only
    service-defined variable. The service refuses such a formula when it is set on a pool."""

    code = SYNTAX_ERROR
    summary = SYNTAX_ERROR_MESSAGE


class InsufficientSampleDataError(FormulaError):
    """A sample method found fewer samples than the formula required."""

    code = INSUFFICIENT_SAMPLE_DATA
    summary = INSUFFICIENT_SAMPLE_DATA_MESSAGE


class FormulaEvaluationError(FormulaError):
    """A valid formula failed while running (wrong types, a bad argument, an invalid result)."""
