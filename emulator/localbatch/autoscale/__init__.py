"""The Batch autoscale formula language: parse, check and evaluate formulas against metric samples.

A pure package: it imports nothing from the rest of the emulator, and the pool model wires it into
`enableautoscale`, `evaluateautoscale` and the pool's `autoScaleRun`. What the language supports and
which metrics are synthesized is described in `docs/autoscale.md` and in the module docstrings:
`lexer` (tokens), `parser` (grammar, names, set-time checks), `evaluator` (semantics, `results`),
`samples` (metric samples), `settings` (formula length and evaluation interval rules), `errors`
(the `AutoScaleRunError` shape).
"""

from .errors import AutoScaleRunError, FormulaError, FormulaSyntaxError
from .evaluator import AutoScaleResult, DoubleVec, evaluate, format_value
from .parser import NODE_DEALLOCATION_OPTIONS, Formula, parse
from .samples import SAMPLE_PERIOD, InMemorySampleSource, MetricsSnapshot, Sample, SampleSource
from .settings import (
    DEFAULT_EVALUATION_INTERVAL,
    MAX_EVALUATION_INTERVAL,
    MAX_FORMULA_LENGTH,
    MIN_EVALUATION_INTERVAL,
    check_evaluation_interval,
    check_formula,
)

__all__ = [
    "DEFAULT_EVALUATION_INTERVAL",
    "MAX_EVALUATION_INTERVAL",
    "MAX_FORMULA_LENGTH",
    "MIN_EVALUATION_INTERVAL",
    "NODE_DEALLOCATION_OPTIONS",
    "SAMPLE_PERIOD",
    "AutoScaleResult",
    "AutoScaleRunError",
    "DoubleVec",
    "Formula",
    "FormulaError",
    "FormulaSyntaxError",
    "InMemorySampleSource",
    "MetricsSnapshot",
    "Sample",
    "SampleSource",
    "check_evaluation_interval",
    "check_formula",
    "evaluate",
    "format_value",
    "parse",
]
