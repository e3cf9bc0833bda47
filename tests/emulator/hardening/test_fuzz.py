"""Fuzzing the request parser and `$filter` over HTTP: never a 5xx, never a hang.

Hypothesis builds request heads (methods, paths, header values, Content-Length text, bodies) and
`$filter` texts (OData-shaped tokens, deep nesting, junk); each goes to the in-process emulator.
Bounded for CI: a fixed example budget and a per-example deadline keep the whole file under ~30 s.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator  # noqa: E402

FUZZ = settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True)  # fmt: skip

header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\r\n"), max_size=40
)
paths = st.sampled_from(["/jobs", "/pools", "/jobs/j", "/jobs/j/tasks", "/jobs/j/tasks/t/files/x", "/pools/p/nodes",
                         "/_localbatch/faults", "/portal/", "/portal/files/p/n/x", "/jobs/%00", "/%2e%2e/x"])  # fmt: skip
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    path=paths,
    length=st.one_of(st.none(), st.just("auto"), header_text, st.integers(-5, 2**70).map(str)),
    auth=st.one_of(st.none(), header_text.map(lambda v: "SharedKey " + v)),
    extra=st.dictionaries(st.sampled_from(["Origin", "Sec-Fetch-Site", "Content-Type", "ocp-date", "If-Match",
                                           "ocp-range", "Host", "Transfer-Encoding"]), header_text, max_size=3),
    body=st.one_of(st.binary(max_size=200), json_like.map(lambda v: repr(v).encode())),
    sign=st.booleans(),
)  # fmt: skip
def test_request_parser_never_fails_with_5xx(
    emu: Emulator, method: str, path: str, length: str | None, auth: str | None, extra: dict[str, str],
    body: bytes, sign: bool,
) -> None:  # fmt: skip
    headers = dict(extra)
    if auth is not None:
        headers["Authorization"] = auth
    if length not in (None, "auto"):
        body = b""  # a declared length the body does not have: the server must time out, not hang
    answer = emu.request(method, path, body, headers, sign=sign, content_length=length, timeout=8)
    assert answer.status < 500, (answer.status, answer.body[:300])
    assert answer.seconds < 6


tokens = st.sampled_from(["(", ")", " and ", " or ", "not ", "id", "state", " eq ", " ne ", " gt ", "'a'", "''",
                          "datetime'2024-01-01T00:00:00Z'", "startswith(id,'a')", "1", "99999999999999999999999",
                          "executionInfo/exitCode", ",", "true", "null", "'", "endswith(", "substringof('x',id)"])  # fmt: skip


@FUZZ
@given(st.one_of(st.lists(tokens, max_size=30).map("".join), st.text(max_size=60),
                 st.integers(0, 5000).map(lambda n: "(" * n + "id eq 'a'" + ")" * n)))  # fmt: skip
def test_filter_parser_never_fails_with_5xx(emu: Emulator, text: str) -> None:
    for route in ("/jobs", "/pools"):
        answer = emu.request("GET", f"{route}?$filter={quote(text, safe='')}")
        assert answer.status in (200, 400), (text, answer.status, answer.body[:300])
        assert answer.seconds < 3
