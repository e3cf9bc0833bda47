"""The rules the service applies when autoscale settings are set on a pool, as pure functions.

Owns the formula length limit (8 KB: "The formula string cannot exceed 8 KB"; the SDKs' error-code
constants say "The maximum length is 8192 characters"), the formula validity check made before a pool is
created or autoscale is enabled, and the evaluation interval bounds ("The minimum interval is five
minutes, and the maximum is 168 hours. If an interval outside this range is specified, the Batch
service returns a Bad Request (400) error."). The default interval is 15 minutes. Imports `parser` and
`errors` only; the caller turns a problem into its HTTP error.
"""

from __future__ import annotations

from datetime import timedelta

from .errors import AutoScaleRunError, FormulaSyntaxError
from .parser import parse

MAX_FORMULA_LENGTH = 8192
FORMULA_TOO_LONG = "AutoScaleFormulaTooLong"
MIN_EVALUATION_INTERVAL = timedelta(minutes=5)
MAX_EVALUATION_INTERVAL = timedelta(hours=168)
DEFAULT_EVALUATION_INTERVAL = timedelta(minutes=15)


def check_formula(formula: str) -> AutoScaleRunError | None:
    """None if the service accepts `formula` on a pool; else the 400 error's code, message and values.

    An empty formula is refused as a syntax error: the service requires a formula when autoscale is
    enabled, and one with no statement sets nothing.
    """
    if len(formula) > MAX_FORMULA_LENGTH:
        return AutoScaleRunError(
            FORMULA_TOO_LONG,
            f"The specified auto-scaling formula exceeds the length limit of {MAX_FORMULA_LENGTH} characters.",
            (("Length", str(len(formula))),),
        )
    try:
        parsed = parse(formula)
    except FormulaSyntaxError as exc:
        return exc.run_error()
    if not parsed.statements:
        return FormulaSyntaxError("The formula has no statement", 1, 1).run_error()
    return None


def check_evaluation_interval(interval: timedelta) -> str | None:
    """None if `interval` is within 5 minutes to 168 hours; else the reason the service refuses it."""
    if MIN_EVALUATION_INTERVAL <= interval <= MAX_EVALUATION_INTERVAL:
        return None
    return "The autoscale evaluation interval must be between 5 minutes and 168 hours."
