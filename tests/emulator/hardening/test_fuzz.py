"""Fuzzing the request parser and `$filter` over HTTP: never a 5xx, never a hang.

Hypothesis builds request heads (methods, paths, header values, Content-Length text, bodies) and
`$filter` texts (OData-shaped tokens, deep nesting, junk); each goes to the in-process emulator.
Task bodies shaped like the ones the validation rules cover (`dependsOn`, `exitConditions`,
constraints, environment) check that nothing accepted can stop the scheduler afterwards.
Bounded for CI: a fixed example budget and a per-example deadline keep the whole file under ~30 s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator, create_pool  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402

FUZZ = settings(
    max_examples=150,
    deadline=3000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)

header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\r\n"), max_size=40
)
paths = st.sampled_from(
    [
        "/jobs",
        "/pools",
        "/jobs/j",
        "/jobs/j/tasks",
        "/jobs/j/tasks/t/files/x",
        "/pools/p/nodes",
        "/_localbatch/faults",
        "/portal/",
        "/portal/files/p/n/x",
        "/jobs/%00",
        "/%2e%2e/x",
    ]
)
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
    extra=st.dictionaries(
        st.sampled_from(
            [
                "Origin",
                "Sec-Fetch-Site",
                "Content-Type",
                "ocp-date",
                "If-Match",
                "ocp-range",
                "Host",
                "Transfer-Encoding",
            ]
        ),
        header_text,
        max_size=3,
    ),
    body=st.one_of(st.binary(max_size=200), json_like.map(lambda v: repr(v).encode())),
    sign=st.booleans(),
)
def test_request_parser_never_fails_with_5xx(
    emu: Emulator,
    method: str,
    path: str,
    length: str | None,
    auth: str | None,
    extra: dict[str, str],
    body: bytes,
    sign: bool,
) -> None:
    headers = dict(extra)
    if auth is not None:
        headers["Authorization"] = auth
    if length not in (None, "auto"):
        body = b""  # a declared length the body does not have: the server must time out, not hang
    answer = emu.request(method, path, body, headers, sign=sign, content_length=length, timeout=8)
    assert answer.status < 500, (answer.status, answer.body[:300])
    assert answer.seconds < 6


tokens = st.sampled_from(
    [
        "(",
        ")",
        " and ",
        " or ",
        "not ",
        "id",
        "state",
        " eq ",
        " ne ",
        " gt ",
        "'a'",
        "''",
        "datetime'2024-01-01T00:00:00Z'",
        "startswith(id,'a')",
        "1",
        "99999999999999999999999",
        "executionInfo/exitCode",
        ",",
        "true",
        "null",
        "'",
        "endswith(",
        "substringof('x',id)",
    ]
)


@FUZZ
@given(
    st.one_of(
        st.lists(tokens, max_size=30).map("".join),
        st.text(max_size=60),
        st.integers(0, 5000).map(lambda n: "(" * n + "id eq 'a'" + ")" * n),
    )
)
def test_filter_parser_never_fails_with_5xx(emu: Emulator, text: str) -> None:
    for route in ("/jobs", "/pools"):
        answer = emu.request("GET", f"{route}?$filter={quote(text, safe='')}")
        assert answer.status in (200, 400), (text, answer.status, answer.body[:300])
        assert answer.seconds < 3


ints = st.one_of(
    st.integers(-3, 30), st.integers(), st.floats(), st.text(max_size=3), st.booleans(), st.none()
)
task_bodies = st.fixed_dictionaries(
    {
        "id": st.one_of(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), st.text(max_size=8), st.integers()),
        "commandLine": st.one_of(st.just("/bin/true"), st.text(max_size=12), st.integers()),
    },
    optional={
        "dependsOn": st.one_of(
            json_like,
            st.fixed_dictionaries(
                {},
                optional={
                    "taskIds": st.one_of(
                        json_like, st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3)
                    ),
                    "taskIdRanges": st.one_of(
                        json_like,
                        st.lists(
                            st.fixed_dictionaries({}, optional={"start": ints, "end": ints}), max_size=2
                        ),
                    ),
                },
            ),
        ),
        "exitConditions": st.one_of(
            json_like,
            st.fixed_dictionaries(
                {},
                optional={
                    "exitCodes": st.lists(
                        st.fixed_dictionaries({"code": ints}, optional={"exitOptions": json_like}), max_size=2
                    ),
                    "exitCodeRanges": st.lists(
                        st.fixed_dictionaries({"start": ints, "end": ints}), max_size=2
                    ),
                    "default": json_like,
                },
            ),
        ),
        "constraints": st.one_of(
            json_like,
            st.fixed_dictionaries(
                {},
                optional={
                    "maxWallClockTime": st.one_of(
                        st.text(max_size=10), st.sampled_from(["PT1S", "P1D", "PT99999999999999999999H"])
                    ),
                    "maxTaskRetryCount": ints,
                },
            ),
        ),
        "environmentSettings": st.one_of(
            json_like,
            st.lists(st.fixed_dictionaries({"name": json_like}, optional={"value": json_like}), max_size=2),
        ),
        "affinityInfo": json_like,
        "displayName": st.one_of(json_like, st.text(max_size=3).map(lambda t: t * 400)),
        "requiredSlots": ints,
    },
)


def test_fuzzed_task_bodies_never_fail_with_5xx_nor_stop_the_scheduler(emu: Emulator) -> None:
    """Task bodies built from the shapes `dependsOn`, `exitConditions`, constraints and environment can
    take: each gets a 201 or a Batch-shaped 4xx, and whatever was accepted never stops the scheduler
    (a plain task added afterwards still runs)."""
    create_pool(emu, "fuzz-pool")
    body = {"id": "fuzz-job", "poolInfo": {"poolId": "fuzz-pool"}, "usesTaskDependencies": True}
    assert emu.request("POST", "/jobs", json.dumps(body)).status == 201

    @settings(max_examples=200, deadline=3000, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(task_bodies)
    def post(task: dict[str, object]) -> None:
        answer = emu.request("POST", "/jobs/fuzz-job/tasks", json.dumps(task))
        assert answer.status in (201, 400, 409), (task, answer.status, answer.body[:300])
        assert answer.status == 201 or answer.code, answer.body[:300]

    post()
    probe = {"id": "zz-after-the-fuzz", "commandLine": "/bin/true"}
    assert emu.request("POST", "/jobs/fuzz-job/tasks", json.dumps(probe)).status == 201

    def probe_done() -> bool:
        doc = json.loads(emu.request("GET", "/jobs/fuzz-job/tasks/zz-after-the-fuzz").body)
        return doc["state"] == "completed"

    wait_for(probe_done, 30)
