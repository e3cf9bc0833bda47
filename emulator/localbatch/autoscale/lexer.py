"""Tokens of the autoscale formula language, with 1-based line and column for error messages.

Owns what a formula's characters mean: numbers (`5`, `0.7`, `.5`, `1e3`), strings in double or single
quotes, names (`$TargetDedicatedNodes`, `maxNumberofVMs`, `TimeInterval_Minute`; the `$` is part of the
name), operators, and the two comment forms (`// to end of line` and `/* ... */`). Line breaks are
whitespace. Imports only `errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FormulaSyntaxError

# Longest first, so `<=` wins over `<`.
OPERATORS = (
    "&&",
    "||",
    "<=",
    ">=",
    "==",
    "!=",
    "+",
    "-",
    "*",
    "/",
    "<",
    ">",
    "!",
    "?",
    ":",
    "(",
    ")",
    ",",
    ".",
    "=",
    ";",
)


def _is_digit(ch: str) -> bool:
    # ASCII only: str.isdigit() also accepts characters such as '²' that float() refuses.
    return "0" <= ch <= "9"


@dataclass(frozen=True)
class Token:
    """One token: `kind` is `number`, `string`, `name`, `op` or `end`; `text` the value as written."""

    kind: str
    text: str
    line: int
    col: int


def tokenize(formula: str) -> list[Token]:
    """The tokens of `formula`, ending with one `end` token; `FormulaSyntaxError` on a stray character."""
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0
    n = len(formula)

    def at(pos: int) -> tuple[int, int]:
        return line, pos - line_start + 1

    while i < n:
        ch = formula[i]
        if ch == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if ch.isspace():
            i += 1
            continue
        if formula.startswith("//", i):
            end = formula.find("\n", i)
            i = n if end < 0 else end
            continue
        if formula.startswith("/*", i):
            end = formula.find("*/", i + 2)
            if end < 0:
                raise FormulaSyntaxError("Unterminated comment", *at(i))
            # Keep line numbers right across a multi-line comment.
            for j in range(i, end):
                if formula[j] == "\n":
                    line, line_start = line + 1, j + 1
            i = end + 2
            continue
        start = i
        if _is_digit(ch) or (ch == "." and i + 1 < n and _is_digit(formula[i + 1])):
            while i < n and _is_digit(formula[i]):
                i += 1
            if i < n and formula[i] == "." and i + 1 < n and _is_digit(formula[i + 1]):
                i += 1
                while i < n and _is_digit(formula[i]):
                    i += 1
            if i < n and formula[i] in "eE":
                j = i + 1
                if j < n and formula[j] in "+-":
                    j += 1
                if j < n and _is_digit(formula[j]):
                    i = j
                    while i < n and _is_digit(formula[i]):
                        i += 1
            tokens.append(Token("number", formula[start:i], *at(start)))
            continue
        if ch in "\"'":
            end = formula.find(ch, i + 1)
            newline = formula.find("\n", i + 1)
            if end < 0 or (0 <= newline < end):
                raise FormulaSyntaxError("Unterminated string", *at(i))
            tokens.append(Token("string", formula[i + 1 : end], *at(start)))
            i = end + 1
            continue
        if ch == "$" or ch == "_" or (ch.isascii() and ch.isalpha()):
            i += 1
            while i < n and (formula[i] == "_" or (formula[i].isascii() and formula[i].isalnum())):
                i += 1
            if formula[start:i] == "$":
                raise FormulaSyntaxError("'$' must be followed by a variable name", *at(start))
            tokens.append(Token("name", formula[start:i], *at(start)))
            continue
        for op in OPERATORS:
            if formula.startswith(op, i):
                tokens.append(Token("op", op, *at(start)))
                i += len(op)
                break
        else:
            raise FormulaSyntaxError(f"Unexpected character {ch!r}", *at(i))
    tokens.append(Token("end", "", *at(n)))
    return tokens
