"""Hostile requests at the server's edge: each gets a Batch-shaped 4xx with the documented code, fast.

Covers the transport (Content-Length, Transfer-Encoding, authentication before the body), parse
limits (JSON and `$filter` nesting, huge numbers), the browser guards of the admin and portal routes
(foreign Host, cross-origin, text/plain POST) and the node-file paths a task can plant (symlink
loops, FIFOs, the node root itself). The validation of request bodies is in test_validation_corpus.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ACCOUNT, Emulator, create_pool  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402

LIMIT_SECONDS = 5.0  # every answer comes well within this; a hang fails the entry


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    code: str | None = "InvalidHeaderValue"
    sign: bool = True
    api: bool = True
    content_length: str | None = "auto"


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _job(**extra: Any) -> str:
    return json.dumps({"id": "corpus-job", "poolInfo": {"poolId": "corpus-pool"}, **extra})


EVIL = "http://evil.example"
BAD_AUTH = [
    (
        "auth-non-ascii-signature",
        {"Authorization": f"SharedKey {ACCOUNT}:\u00e9\u00e9\u00e9="},
        403,
        "AuthenticationFailed",
    ),
    (
        "auth-latin1-bytes",
        {"Authorization": f"SharedKey {ACCOUNT}:\udcff\udcfe"},
        403,
        "AuthenticationFailed",
    ),
    ("auth-non-ascii-account", {"Authorization": "SharedKey \u00e4ccount:abc="}, 403, "AuthenticationFailed"),
    ("auth-wrong-account", {"Authorization": "SharedKey someoneelse:abc="}, 403, "AuthenticationFailed"),
    ("auth-bad-scheme", {"Authorization": "Bearer abc"}, 400, "InvalidAuthenticationInfo"),
    ("auth-no-colon", {"Authorization": f"SharedKey {ACCOUNT}"}, 400, "InvalidAuthenticationInfo"),
    ("auth-empty-signature", {"Authorization": f"SharedKey {ACCOUNT}:"}, 400, "InvalidAuthenticationInfo"),
    ("auth-wrong-signature", {"Authorization": f"SharedKey {ACCOUNT}:AAAA"}, 403, "AuthenticationFailed"),
    ("auth-garbage-date", {"ocp-date": "yesterday-ish"}, 403, "AuthenticationFailed"),
    ("auth-non-ascii-date", {"ocp-date": "Mon, 01 J\u00e4n 2024 00:00:00 GMT"}, 403, "AuthenticationFailed"),
]

CASES: list[Case] = [
    # ---- Content-Length and framing: refused from the head, before any body byte is read --------
    Case("cl-letters", "POST", "/jobs", content_length="abc"),
    Case("cl-negative", "POST", "/jobs", content_length="-1"),
    Case("cl-exponent", "POST", "/jobs", content_length="1e3"),
    Case("cl-hex", "POST", "/jobs", content_length="0x10"),
    Case("cl-plus", "POST", "/jobs", content_length="+5"),
    Case("cl-non-ascii-digit", "POST", "/jobs", content_length="\u0663"),
    Case("cl-two-values", "POST", "/jobs", content_length="5, 5"),
    Case("cl-huge-digits", "POST", "/jobs", content_length="9" * 40, status=413, code="RequestBodyTooLarge"),
    Case(
        "cl-200-gb", "POST", "/jobs", content_length=str(200 * 2**30), status=413, code="RequestBodyTooLarge"
    ),
    Case(
        "cl-300-mb-unauthenticated",
        "POST",
        "/jobs",
        content_length=str(300 * 2**20),
        sign=False,
        status=413,
        code="RequestBodyTooLarge",
    ),
    Case(
        "cl-5-mb",
        "POST",
        "/jobs/x/addtaskcollection",
        content_length=str(5 * 2**20),
        status=413,
        code="RequestBodyTooLarge",
    ),
    Case("transfer-encoding-chunked", "POST", "/jobs", headers={"Transfer-Encoding": "chunked"}),
    Case(
        "delete-without-length",
        "DELETE",
        "/jobs/no-such-job",
        content_length=None,
        status=404,
        code="JobNotFound",
    ),
    Case(
        "get-without-length", "GET", "/jobs/no-such-job", content_length=None, status=404, code="JobNotFound"
    ),
    # ---- authentication comes first, whatever the body ----------------------------------------
    *[Case(n, "GET", "/jobs", headers=h, status=s, code=c) for n, h, s, c in BAD_AUTH],
    Case("auth-missing", "GET", "/jobs", sign=False, status=403, code="AuthenticationFailed"),
    Case(
        "auth-missing-with-deep-body",
        "POST",
        "/jobs",
        _nested(100_000),
        sign=False,
        status=403,
        code="AuthenticationFailed",
    ),
    Case(
        "auth-missing-with-1mb-body",
        "POST",
        "/jobs",
        "x" * 2**20,
        sign=False,
        status=403,
        code="AuthenticationFailed",
    ),
    # ---- JSON parse limits ---------------------------------------------------------------------
    Case("json-nested-100k-arrays", "POST", "/jobs", _nested(100_000), code="InvalidRequestBody"),
    Case(
        "json-nested-100k-objects",
        "POST",
        "/jobs",
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        code="InvalidRequestBody",
    ),
    Case("json-nested-65", "POST", "/jobs", _nested(65), code="InvalidRequestBody"),
    Case(
        "json-nested-in-job-metadata",
        "POST",
        "/jobs",
        _job(metadata=json.loads(_nested(80, "{}"))),
        code="InvalidRequestBody",
    ),
    Case("json-unclosed-deep", "POST", "/jobs", "[" * 500_000, code="InvalidRequestBody"),
    Case(
        "json-5000-digit-int",
        "POST",
        "/pools",
        '{"id": "p", "targetDedicatedNodes": ' + "9" * 5000 + "}",
        code="InvalidRequestBody",
    ),
    Case("json-invalid-utf8", "POST", "/jobs", b'{"id": "\xff\xfe"}', code="InvalidRequestBody"),
    Case("json-null", "POST", "/jobs", "null", code="MissingRequiredProperty"),
    Case("json-array", "POST", "/jobs", "[]", code="InvalidRequestBody"),
    Case("json-truncated", "POST", "/jobs", '{"id": "x"', code="InvalidRequestBody"),
    # ---- $filter and list query limits ---------------------------------------------------------
    Case(
        "filter-10k-parens",
        "GET",
        "/jobs?$filter=" + quote("(" * 10_000 + "state eq 'active'" + ")" * 10_000),
        code="InvalidQueryParameterValue",
    ),
    Case(
        "filter-33-parens",
        "GET",
        "/jobs?$filter=" + quote("(" * 33 + "state eq 'active'" + ")" * 33),
        code="InvalidQueryParameterValue",
    ),
    Case(
        "filter-5k-nots",
        "GET",
        "/jobs?$filter=" + quote("not " * 5000 + "state eq 'active'"),
        code="InvalidQueryParameterValue",
    ),
    Case(
        "filter-unclosed-parens",
        "GET",
        "/jobs?$filter=" + quote("(" * 20_000),
        code="InvalidQueryParameterValue",
    ),
    Case(
        "filter-garbage", "GET", "/jobs?$filter=" + quote("state eq eq eq"), code="InvalidQueryParameterValue"
    ),
    Case("maxresults-huge", "GET", "/jobs?maxresults=" + "9" * 30, code="InvalidQueryParameterValue"),
    Case("maxresults-text", "GET", "/jobs?maxresults=lots", code="InvalidQueryParameterValue"),
    Case("no-api-version", "GET", "/jobs", api=False, code="MissingRequiredQueryParameter"),
    # ---- admin and portal: no foreign Host, no cross-origin, no text/plain POST ----------------
    Case(
        "admin-text-plain-post",
        "POST",
        "/_localbatch/faults",
        '{"count": 1, "status": 503}',
        {"Content-Type": "text/plain"},
        403,
        "Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-form-post",
        "POST",
        "/_localbatch/faults",
        "count=1",
        {"Content-Type": "application/x-www-form-urlencoded"},
        403,
        "Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-cross-origin-json",
        "POST",
        "/_localbatch/faults",
        '{"count": 1, "status": 503}',
        {"Content-Type": "application/json", "Origin": EVIL},
        403,
        "Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-cross-site-fetch",
        "POST",
        "/_localbatch/faults",
        '{"count": 1, "status": 503}',
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        403,
        "Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-same-site-fetch",
        "DELETE",
        "/_localbatch/faults",
        headers={"Sec-Fetch-Site": "same-site"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-null-origin",
        "DELETE",
        "/_localbatch/faults",
        headers={"Origin": "null"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-rebound-host",
        "GET",
        "/_localbatch/health",
        headers={"Host": "rebind.evil.example"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "admin-rebound-host-with-port",
        "GET",
        "/_localbatch/faults",
        headers={"Host": "evil.example:{port}"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "portal-rebound-host",
        "GET",
        "/portal/",
        headers={"Host": "evil.example:{port}"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "portal-other-port",
        "GET",
        "/portal/",
        headers={"Host": "127.0.0.1:1"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "portal-cross-origin",
        "GET",
        "/portal/jobs/x",
        headers={"Origin": EVIL},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "portal-cross-site-navigation",
        "GET",
        "/portal/",
        headers={"Sec-Fetch-Site": "cross-site"},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    Case(
        "portal-no-host",
        "GET",
        "/portal/",
        headers={"Host": ""},
        status=403,
        code="Forbidden",
        sign=False,
        api=False,
    ),
    # Controls: the same routes answer a local client.
    Case(
        "portal-localhost-ok",
        "GET",
        "/portal/",
        headers={"Host": "localhost:{port}"},
        status=200,
        code=None,
        sign=False,
        api=False,
    ),
    Case(
        "admin-ipv6-loopback-ok",
        "GET",
        "/_localbatch/health",
        headers={"Host": "[::1]:{port}"},
        status=200,
        code=None,
        sign=False,
        api=False,
    ),
    # ---- node files: paths out of the root, the root itself, what a task planted ----------------
    Case("file-delete-node-root", "DELETE", "{node}/files/.?recursive=true", code="InvalidFilePath"),
    Case(
        "file-delete-node-root-dotdot-slash",
        "DELETE",
        "{node}/files/.%2F.?recursive=true",
        code="InvalidFilePath",
    ),
    Case(
        "file-delete-node-root-encoded-slash",
        "DELETE",
        "{node}/files/%2F?recursive=true",
        code="InvalidFilePath",
    ),
    Case("file-delete-task-root", "DELETE", "{task}/files/.?recursive=true", code="InvalidFilePath"),
    Case("file-parent", "GET", "{node}/files/..%2F..%2Fetc%2Fpasswd", code="InvalidFilePath"),
    Case("file-absolute", "GET", "{node}/files/%2Fetc%2Fpasswd", code="InvalidFilePath"),
    Case("file-nul", "GET", "{node}/files/shared%00x", code="InvalidFilePath"),
    Case("file-symlink-loop-get", "GET", "{wd}%2Floop", code="InvalidFilePath"),
    Case("file-symlink-loop-head", "HEAD", "{wd}%2Floop", code=None),
    Case("file-symlink-loop-delete", "DELETE", "{wd}%2Floop", code="InvalidFilePath"),
    Case("file-through-symlink-loop", "GET", "{wd}%2Floop%2Fx", code="InvalidFilePath"),
    Case("file-through-escape-link", "GET", "{wd}%2Fescape%2Fetc%2Fpasswd", code="InvalidFilePath"),
    Case(
        "file-delete-through-escape-link",
        "DELETE",
        "{wd}%2Fescape%2Ftmp?recursive=true",
        code="InvalidFilePath",
    ),
    Case("file-fifo", "GET", "{wd}%2Ffifo", code="InvalidFilePath"),
    Case("file-list-recursive-with-loop", "GET", "{node}/files?recursive=true", status=200, code=None),
    Case(
        "portal-symlink-loop",
        "GET",
        "/portal/files/{pool}/{node_id}/{wd_raw}/loop",
        headers={"Host": "127.0.0.1:{port}"},
        status=400,
        code=None,
        sign=False,
        api=False,
    ),
    Case(
        "portal-fifo",
        "GET",
        "/portal/files/{pool}/{node_id}/{wd_raw}/fifo",
        headers={"Host": "127.0.0.1:{port}"},
        status=400,
        code=None,
        sign=False,
        api=False,
    ),
]


@pytest.fixture(scope="module")
def planted(emu: Emulator) -> dict[str, str]:
    """A node whose task planted a symlink loop, a FIFO and a link to `/` in its working directory."""
    create_pool(emu, "corpus-pool")
    assert emu.request("POST", "/jobs", _job()).status == 201
    task = {"id": "plant", "commandLine": "/bin/sh -c 'ln -s loop loop; mkfifo fifo; ln -s / escape'"}
    assert emu.request("POST", "/jobs/corpus-job/tasks", json.dumps(task)).status == 201

    def done() -> Any:
        doc = json.loads(emu.request("GET", "/jobs/corpus-job/tasks/plant").body)
        return doc if doc.get("state") == "completed" else None

    doc = wait_for(done, 30)
    assert doc["executionInfo"]["exitCode"] == 0, doc
    node_id, task_root = doc["nodeInfo"]["nodeId"], doc["nodeInfo"]["taskRootDirectory"]
    return {
        "node": f"/pools/corpus-pool/nodes/{node_id}",
        "task": "/jobs/corpus-job/tasks/plant",
        "wd": f"/pools/corpus-pool/nodes/{node_id}/files/" + quote(f"{task_root}/wd", safe=""),
        "wd_raw": f"{task_root}/wd",
        "pool": "corpus-pool",
        "node_id": node_id,
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_request_gets_a_batch_shaped_answer(
    case: Case, emu: Emulator, planted: dict[str, str]
) -> None:
    values = {**planted, "port": str(emu.port)}
    path = case.path.format(**values)
    headers = {k: v.format(**values) for k, v in case.headers.items()}
    answer = emu.request(
        case.method,
        path,
        case.body,
        headers,
        sign=case.sign,
        api=case.api,
        content_length=case.content_length,
    )
    assert answer.seconds < LIMIT_SECONDS, f"{case.name} took {answer.seconds:.1f}s"
    assert answer.status == case.status, (case.name, answer.status, answer.body[:400])
    if case.code is not None:
        assert answer.code == case.code, (case.name, answer.body[:400])
        body = json.loads(answer.body)
        assert body["message"]["value"].splitlines()[-2].startswith("RequestId:"), "a Batch error body"
    assert b"root:x:0:0" not in answer.body and b"Traceback" not in answer.body
    # The server still answers after every entry.
    assert emu.request("GET", "/jobs").status == 200
