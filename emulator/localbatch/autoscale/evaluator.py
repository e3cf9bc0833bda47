"""Running a parsed autoscale formula against metric samples: values, operators, functions, results.

Owns the semantics of the language (as the "Create a formula to automatically scale compute nodes in
a Batch pool" article documents them), the `AutoScaleResult` an evaluation produces, and the service's
`results` string (`$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;
maxNumberofVMs=25;...`). Imports `parser`, `samples` and `errors` only.

Values are `float` (double), `DoubleVec`, `str`, `datetime` (timestamp, UTC) and `timedelta`
(timeinterval). Comparisons and `&&`, `||`, `!` give 1.0 or 0.0; a double is true when nonzero. `?:`,
`&&` and `||` evaluate only the operand they need, so `$x.GetSamplePercent(...) < 70 ? a :
avg($x.GetSample(...))` never fails for lack of samples in the branch not taken.

Where the article is silent the emulator chooses, and says so here:

- An undefined name reads as the string of its own name. This is what makes `$NodeDeallocationOption
  = taskcompletion` work, and it matches the service answering a formula of just `something_useless`
  without an error. Using such a string in arithmetic is an evaluation error.
- `$TargetDedicatedNodes` / `$TargetLowPriorityNodes` start as the pool's current targets
  (`SampleSource.current`); `$NodeDeallocationOption` starts as `requeue`. At the end the targets are
  truncated to whole nodes (the documented `+ 0.99` idiom relies on this); a negative, infinite or
  non-numeric target is an evaluation error. The aliases `$TargetDedicated` / `$TargetLowPriority`
  feed the full names and are not listed separately in `results`.
- `GetSample(count)` returns the last `count` samples, or fewer when fewer exist; it fails only when the
  metric has no sample at all. `GetSample(start[, end][, percent])` returns the samples recorded
  strictly after the older bound and up to the newer one (a time interval counts back from now), and
  fails when `percent` is given and fewer than that percentage of the expected samples (one per 30 s)
  are present. `GetSamplePercent` is that percentage, at most 100.
- Division by zero, a logarithm of a number <= 0, `val` out of range, and `avg`/`min`/`max`/... of an
  empty list are evaluation errors. `std` is the sample standard deviation (0 for one value);
  `percentile(v, p)` is the nearest-rank element; `round` rounds half away from zero.
- In `results`, user variables follow the three service variables sorted by name ignoring case;
  numbers print in their shortest form (`5`, `0.7`), vectors as `[1,2,3]`, timestamps as
  `2016-10-13T19:18:47.805Z`, time intervals as .NET prints a TimeSpan (`00:15:00`, `1.00:00:00`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from .errors import (
    AutoScaleRunError,
    FormulaError,
    FormulaEvaluationError,
    InsufficientSampleDataError,
)
from .parser import (
    ALIASES,
    NODE_DEALLOCATION_OPTION,
    NODE_DEALLOCATION_OPTIONS,
    READ_ONLY,
    TARGET_DEDICATED,
    TARGET_LOW_PRIORITY,
    TIME_INTERVALS,
    Assignment,
    Binary,
    Call,
    Conditional,
    Formula,
    Member,
    MethodCall,
    Name,
    Node,
    Number,
    String,
    Unary,
    parse,
)
from .samples import SAMPLE_PERIOD, Sample, SampleSource

DEFAULT_NODE_DEALLOCATION_OPTION = "requeue"


class DoubleVec(tuple[float, ...]):
    """A vector of doubles (`doubleVec`), as `GetSample` returns."""


@dataclass(frozen=True)
class Metric:
    """A read-only service-defined variable before it is read: the target of `.GetSample(...)` & co."""

    name: str


Value = float | DoubleVec | str | datetime | timedelta
_Raw = Value | Metric


@dataclass(frozen=True)
class AutoScaleResult:
    """The outcome of one evaluation, as `autoScaleRun` reports it and as the pool applies it.

    `results` is the service's string of final variable values; `error` is set when the formula is
    invalid or failed (then `results` holds the values reached before the failure and the three
    parsed fields are None, so nothing is applied to the pool).
    """

    results: str
    error: AutoScaleRunError | None = None
    target_dedicated_nodes: int | None = None
    target_low_priority_nodes: int | None = None
    node_deallocation_option: str | None = None
    variables: dict[str, Value] = field(default_factory=dict)


class _Stop(Exception):
    """`stop()` was called: end the evaluation successfully."""


def evaluate(
    formula: str | Formula,
    samples: SampleSource,
    now: datetime,
    *,
    rng: random.Random | None = None,
) -> AutoScaleResult:
    """Evaluate `formula` at `now` against `samples`; never raises for a bad formula (see `error`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = _Run(samples, now.astimezone(UTC), rng or random.Random())
    try:
        parsed = formula if isinstance(formula, Formula) else parse(formula)
    except FormulaError as exc:
        return AutoScaleResult(results="", error=exc.run_error())
    try:
        for statement in parsed.statements:
            run.statement(statement)
    except _Stop:
        pass
    except FormulaError as exc:
        return AutoScaleResult(results=run.results(), error=exc.run_error(), variables=dict(run.variables))
    try:
        dedicated = run.target(TARGET_DEDICATED)
        low_priority = run.target(TARGET_LOW_PRIORITY)
        option = run.deallocation_option()
    except FormulaError as exc:
        return AutoScaleResult(results=run.results(), error=exc.run_error(), variables=dict(run.variables))
    return AutoScaleResult(
        results=run.results(),
        target_dedicated_nodes=dedicated,
        target_low_priority_nodes=low_priority,
        node_deallocation_option=option,
        variables=dict(run.variables),
    )


# ---- formatting of results -------------------------------------------------------------------------


def format_value(value: Value) -> str:
    """A value as the service prints it in `results` (see the module docstring)."""
    if isinstance(value, DoubleVec):
        return "[" + ",".join(_format_number(x) for x in value) + "]"
    if isinstance(value, float):
        return _format_number(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, timedelta):
        return _format_timespan(value)
    return value


def _format_number(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x).replace("e", "E")


def _format_timespan(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    ticks = delta.days * 864_000_000_000 + delta.seconds * 10_000_000 + delta.microseconds * 10
    days, rest = divmod(ticks, 864_000_000_000)
    hours, rest = divmod(rest, 36_000_000_000)
    minutes, rest = divmod(rest, 600_000_000)
    seconds, fraction = divmod(rest, 10_000_000)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


# ---- the evaluation ----------------------------------------------------------------------------------


def _type_name(value: _Raw) -> str:
    if isinstance(value, DoubleVec):
        return "doubleVec"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, timedelta):
        return "timeinterval"
    return "metric"


def _fail(node: Node, detail: str) -> FormulaEvaluationError:
    return FormulaEvaluationError(detail, node.line, node.col)


class _Run:
    def __init__(self, samples: SampleSource, now: datetime, rng: random.Random) -> None:
        self.samples = samples
        self.now = now
        self.rng = rng
        self.variables: dict[str, Value] = {}  # user variables, in assignment order
        self.service: dict[str, Value] = {}  # assigned read-write service variables (and aliases)
        self.assigned_at: dict[str, Node] = {}

    # -- statements and results
    def statement(self, node: Node) -> None:
        if not isinstance(node, Assignment):
            self.raw(node)  # a bare expression: evaluated for its effect (stop(), errors)
            return
        value = self.value(node.value)
        if node.name in ALIASES or node.name in (
            TARGET_DEDICATED,
            TARGET_LOW_PRIORITY,
            NODE_DEALLOCATION_OPTION,
        ):
            self.service[node.name] = value
        else:
            self.variables[node.name] = value
        self.assigned_at[node.name] = node

    def _service_value(self, name: str) -> tuple[Value, Node | None]:
        for candidate in (name, *[alias for alias, full in ALIASES.items() if full == name]):
            if candidate in self.service:
                return self.service[candidate], self.assigned_at[candidate]
        if name == NODE_DEALLOCATION_OPTION:
            return DEFAULT_NODE_DEALLOCATION_OPTION, None
        return float(self.samples.current(name)), None

    def target(self, name: str) -> int:
        value, node = self._service_value(name)
        where = node or Number(1, 1, 0.0)
        if not isinstance(value, float):
            raise _fail(where, f"{name} must be a double, got {_type_name(value)}")
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise _fail(where, f"{name} must be a finite number of nodes >= 0, got {_format_number(value)}")
        return int(value)

    def deallocation_option(self) -> str:
        value, node = self._service_value(NODE_DEALLOCATION_OPTION)
        if not isinstance(value, str) or value not in NODE_DEALLOCATION_OPTIONS:
            where = node or Number(1, 1, 0.0)
            raise _fail(
                where,
                f"$NodeDeallocationOption must be one of {', '.join(NODE_DEALLOCATION_OPTIONS)}, "
                f"got {format_value(value)}",
            )
        return value

    def results(self) -> str:
        parts = []
        for name in (TARGET_DEDICATED, TARGET_LOW_PRIORITY):
            value, _ = self._service_value(name)
            shown = value
            if isinstance(value, float) and not (math.isnan(value) or math.isinf(value)):
                shown = float(math.trunc(value))
            parts.append(f"{name}={format_value(shown)}")
        option, _ = self._service_value(NODE_DEALLOCATION_OPTION)
        parts.append(f"{NODE_DEALLOCATION_OPTION}={format_value(option)}")
        for name in sorted(self.variables, key=lambda n: (n.lstrip("$").lower(), n)):
            parts.append(f"{name}={format_value(self.variables[name])}")
        return ";".join(parts)

    # -- expressions
    def value(self, node: Node) -> Value:
        raw = self.raw(node)
        if isinstance(raw, Metric):
            return float(self.samples.current(raw.name))
        return raw

    def double(self, node: Node, what: str) -> float:
        value = self.value(node)
        if not isinstance(value, float):
            raise _fail(node, f"{what} must be a double, got {_type_name(value)}")
        return value

    def raw(self, node: Node) -> _Raw:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, String):
            return node.value
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Conditional):
            chosen = node.if_true if self.double(node.condition, "A condition") != 0 else node.if_false
            return self.raw(chosen)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, MethodCall):
            return self.method(node)
        raise _fail(node, "Unsupported expression")

    def name(self, node: Name) -> _Raw:
        name = node.name
        if name in TIME_INTERVALS:
            return TIME_INTERVALS[name]
        if name in READ_ONLY:
            return Metric(name)
        if name in (TARGET_DEDICATED, TARGET_LOW_PRIORITY, NODE_DEALLOCATION_OPTION):
            return self._service_value(name)[0]
        if name in ALIASES:
            return self.service.get(name, self._service_value(ALIASES[name])[0])
        if name in self.variables:
            return self.variables[name]
        return name

    def unary(self, node: Unary) -> Value:
        operand = self.value(node.operand)
        if node.op == "!" and isinstance(operand, float):
            return 1.0 if operand == 0 else 0.0
        if node.op == "-" and isinstance(operand, float | timedelta):
            return -operand
        if node.op == "+" and isinstance(operand, float | timedelta):
            return operand
        raise _fail(node, f"Operator {node.op} cannot be applied to a {_type_name(operand)}")

    def binary(self, node: Binary) -> Value:
        op = node.op
        if op in ("&&", "||"):
            first = self.double(node.left, f"The left operand of {op}")
            if (op == "&&" and first == 0) or (op == "||" and first != 0):
                return 1.0 if op == "||" else 0.0
            return 1.0 if self.double(node.right, f"The right operand of {op}") != 0 else 0.0
        left, right = self.value(node.left), self.value(node.right)
        if op in ("<", "<=", ">", ">=", "==", "!="):
            comparable = (float, str, datetime, timedelta)
            same = next((t for t in comparable if isinstance(left, t) and isinstance(right, t)), None)
            if same is None or isinstance(left, DoubleVec) or isinstance(right, DoubleVec):
                raise _fail(node, f"Cannot compare a {_type_name(left)} with a {_type_name(right)}")
            return 1.0 if _COMPARE[op](left, right) else 0.0
        result = _arithmetic(op, left, right)
        if result is None:
            raise _fail(
                node, f"Operator {op} cannot be applied to a {_type_name(left)} and a {_type_name(right)}"
            )
        if isinstance(result, str):  # an error detail
            raise _fail(node, result)
        return result

    def member(self, node: Member) -> float:
        target = self.value(node.target)
        if not isinstance(target, datetime):
            raise _fail(node, f"Member '{node.member}' needs a timestamp, got a {_type_name(target)}")
        if node.member == "weekday":
            return float(target.isoweekday() % 7)  # 0 Sunday, 1 Monday, as documented
        return float(getattr(target, node.member))

    # -- functions
    def call(self, node: Call) -> Value:
        fn = node.function
        if fn == "rand":
            return self.rng.random()
        if fn == "stop":
            raise _Stop()
        if fn == "time":
            return self.now if not node.args else self.parse_time(node.args[0])
        if fn in ("lg", "ln", "log", "ceil", "floor", "round"):
            arg = self.value(node.args[0])
            if isinstance(arg, DoubleVec):
                return DoubleVec(_ELEMENTWISE[fn](node, x) for x in arg)
            if isinstance(arg, float):
                return _ELEMENTWISE[fn](node, arg)
            raise _fail(node, f"Function '{fn}' needs a double or a doubleVec, got a {_type_name(arg)}")
        if fn == "percentile":
            values, p = self.vector(node, node.args[:1]), self.double(node.args[1], "The percentile")
            if not values:
                raise _fail(node, "percentile of an empty vector")
            if not 0 <= p <= 100:
                raise _fail(node, f"The percentile must be between 0 and 100, got {_format_number(p)}")
            ordered = sorted(values)
            return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
        if fn == "val":
            values, index = self.vector(node, node.args[:1]), self.double(node.args[1], "The index")
            if index != int(index) or not 0 <= index < len(values):
                raise _fail(
                    node, f"Index {_format_number(index)} is outside a vector of length {len(values)}"
                )
            return values[int(index)]
        values = self.vector(node, node.args)
        if fn == "len":
            return float(len(values))
        if not values:
            raise _fail(node, f"{fn} of an empty list")
        return _AGGREGATES[fn](values)

    def vector(self, node: Node, args: Sequence[Node]) -> DoubleVec:
        """A doubleVecList (doubles and doubleVecs, comma-separated) flattened into one doubleVec."""
        flat: list[float] = []
        for arg in args:
            value = self.value(arg)
            if isinstance(value, DoubleVec):
                flat.extend(value)
            elif isinstance(value, float):
                flat.append(value)
            else:
                raise _fail(arg, f"Expected a double or a doubleVec, got a {_type_name(value)}")
        return DoubleVec(flat)

    def parse_time(self, node: Node) -> datetime:
        text = self.value(node)
        if not isinstance(text, str):
            raise _fail(node, f"time() needs a string, got a {_type_name(text)}")
        parsed: datetime | None = None
        try:
            parsed = datetime.fromisoformat(text.strip())  # W3C-DTF
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)  # RFC 1123
            except (TypeError, ValueError, IndexError):
                parsed = None
        if parsed is None:
            raise _fail(node, f"'{text}' is not a W3C-DTF or RFC 1123 date and time")
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    # -- sample methods
    def method(self, node: MethodCall) -> Value:
        target = self.raw(node.target)
        if not isinstance(target, Metric):
            raise _fail(node, f"'{node.method}' can only be called on a read-only service-defined variable")
        history = list(self.samples.history(target.name))
        if node.method == "GetSamplePeriod":
            return SAMPLE_PERIOD
        if node.method == "Count":
            return float(len(history))
        if node.method == "HistoryBeginTime":
            if not history:
                raise InsufficientSampleDataError(
                    f"No data in data set: {target.name}", node.target.line, node.target.col
                )
            return history[0].time
        if node.method == "GetSamplePercent":
            lower, upper = self.window(node.args)
            return _percent(history, lower, upper)
        return self.get_sample(node, target, history)

    def window(self, args: Sequence[Node]) -> tuple[datetime, datetime]:
        """The absolute (older, newer) bounds of a time window given as one or two time bounds."""
        bounds = [self.bound(arg) for arg in args]
        if len(bounds) == 1:
            bounds.append(self.now)
        return min(bounds), max(bounds)

    def bound(self, node: Node) -> datetime:
        value = self.value(node)
        if isinstance(value, timedelta):
            return self.now - value
        if isinstance(value, datetime):
            return value
        raise _fail(node, f"Expected a timeinterval or a timestamp, got a {_type_name(value)}")

    def get_sample(self, node: MethodCall, metric: Metric, history: list[Sample]) -> DoubleVec:
        first = self.value(node.args[0])
        where = node.target
        if isinstance(first, float):
            if len(node.args) != 1:
                raise _fail(node, "GetSample(count) takes one argument")
            if first < 1 or first != int(first):
                raise _fail(
                    node, f"The sample count must be a whole number >= 1, got {_format_number(first)}"
                )
            if not history:
                raise InsufficientSampleDataError(
                    f"Insufficient data from data set: {metric.name} wanted {int(first)}, received 0",
                    where.line,
                    where.col,
                )
            return DoubleVec(s.value for s in history[-int(first) :])
        # A time window, then an optional required percentage.
        window_args, percent_arg = list(node.args), None
        last = self.value(node.args[-1]) if len(node.args) > 1 else None
        if isinstance(last, float):
            window_args, percent_arg = list(node.args[:-1]), node.args[-1]
        if len(window_args) > 2:
            raise _fail(node, "GetSample takes at most two time bounds")
        lower, upper = self.window(window_args)
        chosen = [s.value for s in history if lower < s.time <= upper]
        if percent_arg is not None:
            wanted = self.double(percent_arg, "The sample percentage")
            received = _percent(history, lower, upper)
            if received < wanted:
                raise InsufficientSampleDataError(
                    f"Insufficient data from data set: {metric.name} wanted {_format_number(wanted)}%, "
                    f"received {_format_number(round(received, 2))}%",
                    where.line,
                    where.col,
                )
        return DoubleVec(chosen)


def _percent(history: Sequence[Sample], lower: datetime, upper: datetime) -> float:
    """The percentage of the samples expected in (lower, upper] (one per period) that are present."""
    expected = max(1, int((upper - lower) / SAMPLE_PERIOD))
    present = sum(1 for s in history if lower < s.time <= upper)
    return min(100.0, present * 100.0 / expected)


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _arithmetic(op: str, left: Value, right: Value) -> Value | None:
    """`left op right` per the documented operations table; None if the types do not combine, a
    string (an error detail) for division by zero or vectors of different lengths."""
    if isinstance(left, DoubleVec) or isinstance(right, DoubleVec):
        if not isinstance(left, DoubleVec) or not isinstance(right, DoubleVec | float):
            return None
        rights = right if isinstance(right, DoubleVec) else DoubleVec([right] * len(left))
        if len(rights) != len(left):
            return f"Vectors of lengths {len(left)} and {len(rights)} cannot be combined"
        out = []
        for a, b in zip(left, rights, strict=True):
            one = _arithmetic(op, a, b)
            if not isinstance(one, float):
                return one
            out.append(one)
        return DoubleVec(out)
    if isinstance(left, float) and isinstance(right, float):
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        return "Division by zero" if right == 0 else left / right
    if isinstance(left, timedelta) and isinstance(right, timedelta) and op in ("+", "-"):
        return left + right if op == "+" else left - right
    if isinstance(left, float) and isinstance(right, timedelta) and op == "*":
        return right * left
    if isinstance(left, timedelta) and isinstance(right, float) and op in ("*", "/"):
        if op == "/" and right == 0:
            return "Division by zero"
        return left * right if op == "*" else left / right
    if op == "+" and isinstance(left, timedelta) and isinstance(right, datetime):
        return right + left
    if op in ("+", "-") and isinstance(left, datetime) and isinstance(right, timedelta):
        return left + right if op == "+" else left - right
    if op == "-" and isinstance(left, datetime) and isinstance(right, datetime):
        return left - right
    return None


def _log(log: Callable[[float], float]) -> Callable[[Node, float], float]:
    def apply(node: Node, x: float) -> float:
        if x <= 0:
            raise _fail(node, f"Logarithm of {_format_number(x)}")
        return log(x)

    return apply


def _round_half_away(node: Node, x: float) -> float:
    return float(math.floor(abs(x) + 0.5)) * (1.0 if x >= 0 else -1.0)


_ELEMENTWISE: dict[str, Callable[[Node, float], float]] = {
    "lg": _log(math.log2),
    "ln": _log(math.log),
    "log": _log(math.log10),
    "ceil": lambda node, x: float(math.ceil(x)),
    "floor": lambda node, x: float(math.floor(x)),
    "round": _round_half_away,
}


def _std(values: DoubleVec) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))


_AGGREGATES: dict[str, Callable[[DoubleVec], float]] = {
    "avg": lambda v: sum(v) / len(v),
    "max": max,
    "min": min,
    "norm": lambda v: math.sqrt(sum(x * x for x in v)),
    "range": lambda v: max(v) - min(v),
    "std": _std,
    "sum": lambda v: float(sum(v)),
}
