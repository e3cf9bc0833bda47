"""OData query options of list and get operations: `$filter`, `$select`, `maxresults` and paging.

Owns: the `$filter` parser (recursive descent over `or` / `and` / `not` / parentheses / comparisons /
startswith, endswith, substringof, contains; ids and enum values compare case-insensitively),
`$select` projection, the `maxresults` range and the `$skiptoken` / `odata.nextLink` paging of lists.
May import: `types`, `wire`, `exceptions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from ..exceptions import invalid_query
from ..wire import Doc, parse_iso
from .types import Request

MAX_RESULTS = 1000

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>datetime'[^']*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot parse near {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
    return out


def _field(doc: Doc, path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _literal(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "dt":
        return parse_iso(text[len("datetime'") : -1])
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"unsupported literal {text!r}") from None


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            left = parse_iso(left)
        except ValueError:
            return False
    if isinstance(left, str) and isinstance(right, str):
        # Batch ids and enum values compare case-insensitively.
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


class _FilterParser:
    """Recursive descent over `or` / `and` / `not` / parentheses / comparisons / startswith()."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise ValueError(f"expected {value!r}, found {text!r}")

    def parse(self) -> Callable[[Doc], bool]:
        expr = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def expr(self) -> Callable[[Doc], bool]:
        terms = [self.term()]
        while (tok := self.peek()) and tok[1].lower() == "or":
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda d: any(t(d) for t in terms))

    def term(self) -> Callable[[Doc], bool]:
        factors = [self.factor()]
        while (tok := self.peek()) and tok[1].lower() == "and":
            self.take()
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else (lambda d: all(f(d) for f in factors))

    def factor(self) -> Callable[[Doc], bool]:
        kind, text = self.take()
        if text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if text.lower() == "not":
            inner = self.factor()
            return lambda d: not inner(d)
        if kind != "word":
            raise ValueError(f"expected a property name, found {text!r}")
        if text.lower() in ("startswith", "endswith", "substringof", "contains") and self.peek() == (
            "punct",
            "(",
        ):
            return self.function(text.lower())
        op = self.take()[1].lower()
        if op not in _OPS:
            raise ValueError(f"unsupported operator {op!r}")
        lit_kind, lit_text = self.take()
        value = _literal(lit_kind, lit_text)
        name = text
        return lambda d: _compare(_field(d, name), op, value)

    def function(self, name: str) -> Callable[[Doc], bool]:
        self.expect("(")
        first = self.take()
        self.expect(",")
        second = self.take()
        self.expect(")")
        if name == "substringof":
            first, second = second, first
        if first[0] != "word" or second[0] != "str":
            raise ValueError(f"{name}() takes a property name and a string")
        prop, text = first[1], _literal("str", second[1]).lower()

        def test(d: Doc) -> bool:
            value = str(_field(d, prop) or "").lower()
            if name == "startswith":
                return value.startswith(text)
            if name == "endswith":
                return value.endswith(text)
            return text in value

        return test


def parse_filter(text: str) -> Callable[[Doc], bool]:
    """Compile an OData `$filter` (400 `InvalidQueryParameterValue` when unsupported)."""
    try:
        return _FilterParser(text).parse()
    except (ValueError, KeyError) as exc:
        raise invalid_query("$filter", text, f"Unsupported or malformed filter: {exc}") from None


def select(doc: Doc, fields: str | None) -> Doc:
    """`$select`: only the named top-level properties (`a/b` selects `a`)."""
    if not fields:
        return doc
    names = {part.strip().split("/")[0] for part in fields.split(",") if part.strip()}
    return {k: v for k, v in doc.items() if k in names}


def max_results(req: Request) -> int:
    """`maxresults` (1 to 1000; 1000 when absent)."""
    raw = req.query.get("maxresults")
    if raw is None:
        return MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise invalid_query("maxresults", raw, "The value must be an integer.") from None
    # As the service answered `maxResults=-5` (azure-sdk-for-js batch-rest recording
    # recording_should_fail_to_list_pools_with_invalid_max.json): InvalidQueryParameterValue.
    if value < 1:
        raise invalid_query("maxresults", raw, "MaxResults cannot be less than 1")
    if value > MAX_RESULTS:
        raise invalid_query("maxresults", raw, f"MaxResults cannot be greater than {MAX_RESULTS}")
    return value


#: Where a page starts: the position after which it continues and the key of the last item sent.
Cursor = tuple[int, str]
#: Reads one page: (filter or None, where to continue or None, max items) -> (items, next cursor or None).
Fetch = Callable[[Callable[[Doc], bool] | None, Cursor | None, int], tuple[list[Doc], Cursor | None]]


def _cursor(token: str) -> Cursor:
    position, _, last = token.partition(":")
    if not position.isdigit():
        raise invalid_query("$skiptoken", token, "The continuation token is not valid.")
    return int(position), last


def page_body(req: Request, fetch: Fetch, base_url: str, metadata: str) -> Doc:
    """One page of a list response: `maxresults`, `$filter` and `$skiptoken` handed to `fetch`, which
    reads only that page; `$select` applied to it; `odata.nextLink` when `fetch` says there is more."""
    limit = max_results(req)
    predicate = parse_filter(req.query["$filter"]) if req.query.get("$filter") else None
    token = req.query.get("$skiptoken")
    page, following = fetch(predicate, _cursor(token) if token else None, limit)
    body: Doc = {"odata.metadata": metadata, "value": [select(d, req.query.get("$select")) for d in page]}
    if following is not None:
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["maxresults"] = str(limit)
        query["$skiptoken"] = f"{following[0]}:{following[1]}"
        body["odata.nextLink"] = f"{base_url}{req.path}?{urlencode(query, quote_via=quote, safe='')}"
    return body


def in_memory(items: list[Doc], key: str = "id") -> Fetch:
    """A `Fetch` over a list already in memory (pools, jobs, nodes, files): the cursor's position is
    an index, moved to just after the last key sent when that key is still in the list."""

    def fetch(
        predicate: Callable[[Doc], bool] | None, cursor: Cursor | None, limit: int
    ) -> tuple[list[Doc], Cursor | None]:
        chosen = items if predicate is None else [d for d in items if predicate(d)]
        start = 0
        if cursor is not None:
            start, last = cursor
            keys = [str(d.get(key, "")).lower() for d in chosen]
            if last.lower() in keys:
                start = keys.index(last.lower()) + 1
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        return page, (start + limit, str(page[-1].get(key, ""))) if more else None

    return fetch
