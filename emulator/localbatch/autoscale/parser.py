"""The grammar of the autoscale formula language: a formula string to a checked syntax tree.

Owns the statement and expression grammar, operator precedence, the names the language defines
(service-defined variables, functions and their arities, sample methods, timestamp members, time
interval constants) and the checks the service makes before it accepts a formula: every function and
method is known and called with a valid number of arguments, read-only service-defined variables are
never assigned, and there are at most 100 statements. Imports `lexer` and `errors` only.

Grammar (lowest precedence first; `?:` is right-associative, binary operators left-associative)::

    formula    := statement? (';' statement?)*
    statement  := NAME '=' expr | expr
    expr       := or ('?' expr ':' expr)?
    or         := and ('||' and)*
    and        := equality ('&&' equality)*
    equality   := relation (('==' | '!=') relation)*
    relation   := additive (('<' | '<=' | '>' | '>=') additive)*
    additive   := term (('+' | '-') term)*
    term       := unary (('*' | '/') unary)*
    unary      := ('-' | '+' | '!') unary | postfix
    postfix    := primary ('.' NAME ('(' args ')')?)*
    primary    := NUMBER | STRING | NAME ('(' args ')')? | '(' expr ')'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .errors import FormulaSyntaxError
from .lexer import Token, tokenize

MAX_STATEMENTS = 100

# Read-write service-defined variables; the aliases are documented ("If both the fully named variable
# and its alias are set by the formula, the value assigned to the fully named variable will take
# precedence").
TARGET_DEDICATED = "$TargetDedicatedNodes"
TARGET_LOW_PRIORITY = "$TargetLowPriorityNodes"
NODE_DEALLOCATION_OPTION = "$NodeDeallocationOption"
ALIASES = {"$TargetDedicated": TARGET_DEDICATED, "$TargetLowPriority": TARGET_LOW_PRIORITY}
SETTABLE = frozenset({TARGET_DEDICATED, TARGET_LOW_PRIORITY, NODE_DEALLOCATION_OPTION, *ALIASES})

# Read-only service-defined variables: each is a metric with a sample history (GetSample & co.).
RESOURCE_METRICS = (
    "$CPUPercent",
    "$WallClockSeconds",
    "$MemoryBytes",
    "$DiskBytes",
    "$DiskReadBytes",
    "$DiskWriteBytes",
    "$DiskReadOps",
    "$DiskWriteOps",
    "$NetworkInBytes",
    "$NetworkOutBytes",
)
COUNT_METRICS = (
    "$SampleNodeCount",
    "$ActiveTasks",
    "$RunningTasks",
    "$PendingTasks",
    "$SucceededTasks",
    "$FailedTasks",
    "$TaskSlotsPerNode",
    "$CurrentDedicatedNodes",
    "$CurrentLowPriorityNodes",
    "$PreemptedNodeCount",
    "$UsableNodeCount",
)
READ_ONLY = frozenset(RESOURCE_METRICS + COUNT_METRICS)

NODE_DEALLOCATION_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")

TIME_INTERVALS = {
    "TimeInterval_Zero": timedelta(0),
    "TimeInterval_100ns": timedelta(microseconds=0.1),
    "TimeInterval_Microsecond": timedelta(microseconds=1),
    "TimeInterval_Millisecond": timedelta(milliseconds=1),
    "TimeInterval_Second": timedelta(seconds=1),
    "TimeInterval_Minute": timedelta(minutes=1),
    "TimeInterval_Hour": timedelta(hours=1),
    "TimeInterval_Day": timedelta(days=1),
    "TimeInterval_Week": timedelta(weeks=1),
    "TimeInterval_Year": timedelta(days=365),
}

# name -> (fewest, most) arguments; None = any number (a doubleVecList).
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "avg": (1, None),
    "len": (1, None),
    "max": (1, None),
    "min": (1, None),
    "norm": (1, None),
    "range": (1, None),
    "std": (1, None),
    "sum": (1, None),
    "lg": (1, 1),
    "ln": (1, 1),
    "log": (1, 1),
    "ceil": (1, 1),
    "floor": (1, 1),
    "round": (1, 1),
    "percentile": (2, 2),
    "val": (2, 2),
    "rand": (0, 0),
    "stop": (0, 0),
    "time": (0, 1),
}
METHODS: dict[str, tuple[int, int | None]] = {
    "GetSample": (1, 3),
    "GetSamplePercent": (1, 2),
    "GetSamplePeriod": (0, 0),
    "Count": (0, 0),
    "HistoryBeginTime": (0, 0),
}
TIMESTAMP_MEMBERS = ("year", "month", "day", "weekday", "hour", "minute", "second")


# ---- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """Base of every syntax tree node; `line`/`col` locate it in the formula for error messages."""

    line: int
    col: int


@dataclass(frozen=True)
class Number(Node):
    value: float


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    condition: Node
    if_true: Node
    if_false: Node


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Member(Node):
    target: Node
    member: str


@dataclass(frozen=True)
class MethodCall(Node):
    target: Node
    method: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Assignment(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class Formula:
    """A parsed, checked formula: its statements in order (assignments or bare expressions)."""

    statements: tuple[Node, ...]


# ---- parser --------------------------------------------------------------------------------------


def parse(formula: str) -> Formula:
    """Parse and check `formula`; raises `FormulaSyntaxError` (with line and column) if it is invalid."""
    return _Parser(tokenize(formula)).formula()


_RELATIONS = ("<", "<=", ">", ">=")


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self) -> Token:
        tok = self.tok
        self.pos += 1
        return tok

    def expect(self, op: str) -> Token:
        if not self.is_op(op):
            self.fail(f"Expected '{op}'")
        return self.take()

    def fail(self, what: str, tok: Token | None = None) -> None:
        tok = tok or self.tok
        found = "end of formula" if tok.kind == "end" else f"'{tok.text}'"
        raise FormulaSyntaxError(f"{what}, found {found}", tok.line, tok.col)

    # -- grammar
    def formula(self) -> Formula:
        statements: list[Node] = []
        while True:
            if self.tok.kind == "end":
                break
            if self.is_op(";"):
                self.take()
                continue
            statement = self.statement()
            statements.append(statement)
            if len(statements) > MAX_STATEMENTS:
                raise FormulaSyntaxError(
                    f"A formula can have at most {MAX_STATEMENTS} statements", statement.line, statement.col
                )
            if self.tok.kind != "end" and not self.is_op(";"):
                self.fail("Expected ';' or an operator")
        return Formula(tuple(statements))

    def statement(self) -> Node:
        tok = self.tok
        nxt = self.tokens[self.pos + 1]
        if tok.kind == "name" and nxt.kind == "op" and nxt.text == "=":
            if tok.text in READ_ONLY:
                raise FormulaSyntaxError(
                    f"{tok.text} is a read-only service-defined variable and cannot be assigned",
                    tok.line,
                    tok.col,
                )
            if tok.text in TIME_INTERVALS:
                raise FormulaSyntaxError(
                    f"{tok.text} is a constant and cannot be assigned", tok.line, tok.col
                )
            self.pos += 2
            return Assignment(tok.line, tok.col, tok.text, self.expr())
        return self.expr()

    def expr(self) -> Node:
        condition = self.binary_or()
        if not self.is_op("?"):
            return condition
        self.take()
        if_true = self.expr()
        self.expect(":")
        if_false = self.expr()
        return Conditional(condition.line, condition.col, condition, if_true, if_false)

    def _left_assoc(self, ops: tuple[str, ...], operand: str) -> Node:
        sub = getattr(self, operand)
        left: Node = sub()
        while self.is_op(*ops):
            op = self.take()
            left = Binary(op.line, op.col, op.text, left, sub())
        return left

    def binary_or(self) -> Node:
        return self._left_assoc(("||",), "binary_and")

    def binary_and(self) -> Node:
        return self._left_assoc(("&&",), "equality")

    def equality(self) -> Node:
        return self._left_assoc(("==", "!="), "relation")

    def relation(self) -> Node:
        return self._left_assoc(_RELATIONS, "additive")

    def additive(self) -> Node:
        return self._left_assoc(("+", "-"), "term")

    def term(self) -> Node:
        return self._left_assoc(("*", "/"), "unary")

    def unary(self) -> Node:
        if self.is_op("-", "+", "!"):
            op = self.take()
            return Unary(op.line, op.col, op.text, self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.is_op("."):
            self.take()
            tok = self.tok
            if tok.kind != "name" or tok.text.startswith("$"):
                self.fail("Expected a method or member name after '.'")
            self.take()
            if self.is_op("("):
                args = self.arguments(tok, METHODS, "method")
                node = MethodCall(tok.line, tok.col, node, tok.text, args)
            else:
                if tok.text not in TIMESTAMP_MEMBERS:
                    raise FormulaSyntaxError(f"Unknown member '{tok.text}'", tok.line, tok.col)
                node = Member(tok.line, tok.col, node, tok.text)
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return Number(tok.line, tok.col, float(tok.text))
        if tok.kind == "string":
            self.take()
            return String(tok.line, tok.col, tok.text)
        if tok.kind == "name":
            self.take()
            if self.is_op("("):
                return Call(tok.line, tok.col, tok.text, self.arguments(tok, FUNCTIONS, "function"))
            return Name(tok.line, tok.col, tok.text)
        if self.is_op("("):
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        self.fail("Expected a value")
        raise AssertionError("unreachable")  # fail() always raises

    def arguments(self, name: Token, known: dict[str, tuple[int, int | None]], kind: str) -> tuple[Node, ...]:
        if name.text not in known:
            raise FormulaSyntaxError(f"Unknown {kind} '{name.text}'", name.line, name.col)
        self.expect("(")
        args: list[Node] = []
        if not self.is_op(")"):
            args.append(self.expr())
            while self.is_op(","):
                self.take()
                args.append(self.expr())
        self.expect(")")
        fewest, most = known[name.text]
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = (
                str(fewest)
                if fewest == most
                else f"{fewest} or more"
                if most is None
                else f"{fewest} to {most}"
            )
            raise FormulaSyntaxError(
                f"{kind.capitalize()} '{name.text}' takes {wanted} argument(s), got {len(args)}",
                name.line,
                name.col,
            )
        return tuple(args)
