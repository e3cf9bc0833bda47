"""Hostile input over the wire: each request gets the service's documented error (status and code), never a
5xx and never a hang.

One table, one row per probe, each naming its source: the error code table of "Batch status and error
codes" (learn.microsoft.com/rest/api/batchservice/batch-status-and-error-codes), the 2025-06-01 spec
(Azure/azure-rest-api-specs, specification/batch/data-plane/Azure.Batch/stable/2025-06-01), azure-batch
15.1.0's model docstrings, or recorded service traffic. Requests are signed by Microsoft's azure-batch
client (`spec_probe.call`), except the authentication rows, which must not be signed.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import spec_examples as examples
from spec_probe import call, unique

POOL = unique("hostile-pool")
JOB = unique("hostile-job")
TASK = "t1"


@dataclass(frozen=True)
class Probe:
    """One hostile request and the answer the service gives it."""

    name: str
    method: str
    path: str
    status: int
    code: str
    source: str
    body: Any = None
    raw: str | bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    api_version: str = "2025-06-01"


def _task(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "commandLine": "/bin/true", **extra}


PROBES = [
    Probe(
        "malformed JSON",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidRequestBody",
        "error table: InvalidRequestBody, the request body is not syntactically valid",
        raw='{"id": "x", "commandLine": ',
    ),
    Probe(
        "body is a JSON array",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidRequestBody",
        "spec Tasks_CreateTask: the body is a BatchTaskCreateOptions object",
        raw="[]",
    ),
    Probe(
        "invalid UTF-8",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidRequestBody",
        "error table: InvalidRequestBody",
        raw=b'{"id": "\xff", "commandLine": "x"}',
    ),
    Probe(
        "property named twice",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidRequestBody",
        "OData reader (Microsoft.Data.OData, Azure/azure-batch-cli-extensions#119): no duplicate names",
        raw='{"id": "d1", "commandLine": "x", "commandLine": "y"}',
    ),
    Probe(
        "id over 64 characters",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidPropertyValue",
        "azure-batch 15.1.0 BatchTaskCreateOptions.id: at most 64 characters",
        body=_task("x" * 65),
    ),
    Probe(
        "unicode id",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidPropertyValue",
        "azure-batch 15.1.0 BatchTaskCreateOptions.id: letters, digits, hyphens, underscores",
        body=_task("t\u00e4sk"),
    ),
    Probe(
        "missing commandLine",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "MissingRequiredProperty",
        "spec BatchTaskCreateOptions: commandLine required",
        body={"id": "nocmd"},
    ),
    Probe(
        "number where a string belongs",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidPropertyValue",
        "spec BatchTaskCreateOptions.commandLine: string",
        body={"id": "num", "commandLine": 42},
    ),
    Probe(
        "retry count out of range",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidPropertyValue",
        "azure-batch 15.1.0 BatchTaskConstraints.maxTaskRetryCount: -1 (unlimited) or more",
        body=_task("retries", constraints={"maxTaskRetryCount": -2}),
    ),
    Probe(
        "duration that is not ISO 8601",
        "POST",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidPropertyValue",
        "spec BatchTaskConstraints.maxWallClockTime: duration",
        body=_task("wall", constraints={"maxWallClockTime": "ten minutes"}),
    ),
    Probe(
        "metadata item without value",
        "POST",
        "/jobs",
        400,
        "MissingRequiredProperty",
        "azure-batch 15.1.0 BatchMetadataItem: name and value required",
        body={"id": "meta", "poolInfo": {"poolId": POOL}, "metadata": [{"name": "a"}]},
    ),
    Probe(
        "more than 100 tasks in one collection",
        "POST",
        f"/jobs/{JOB}/addtaskcollection",
        413,
        "RequestBodyTooLarge",
        "spec Tasks_CreateTaskCollection: at most 100 tasks",
        body={"value": [_task(f"c{i}") for i in range(101)]},
    ),
    Probe(
        "body over the size limit",
        "POST",
        "/jobs",
        413,
        "RequestBodyTooLarge",
        "error table: RequestBodyTooLarge (413)",
        raw='{"id": "big", "displayName": "' + "a" * (5 * 1024 * 1024) + '"}',
    ),
    Probe(
        "maxResults negative",
        "GET",
        "/pools",
        400,
        "InvalidQueryParameterValue",
        "recorded: azure-sdk-for-js batch-rest recording_should_fail_to_list_pools_with_invalid_max.json",
        query={"maxResults": "-5"},
    ),
    Probe(
        "maxresults huge",
        "GET",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidQueryParameterValue",
        "spec maxresults: 1 to 1000",
        query={"maxresults": "2147483648"},
    ),
    Probe(
        "maxresults not a number",
        "GET",
        "/jobs",
        400,
        "InvalidQueryParameterValue",
        "error table: InvalidQueryParameterValue",
        query={"maxresults": "ten"},
    ),
    Probe(
        "invalid continuation token",
        "GET",
        f"/jobs/{JOB}/tasks",
        400,
        "InvalidQueryParameterValue",
        "error table: InvalidQueryParameterValue",
        query={"$skiptoken": "not-a-token"},
    ),
    Probe(
        "unbalanced $filter",
        "GET",
        "/jobs",
        400,
        "InvalidQueryParameterValue",
        "error table: InvalidQueryParameterValue",
        query={"$filter": "(state eq 'active'"},
    ),
    Probe(
        "$filter nested absurdly deep",
        "GET",
        "/jobs",
        400,
        "InvalidQueryParameterValue",
        "error table: InvalidQueryParameterValue",
        query={"$filter": "(" * 200 + "state eq 'active'" + ")" * 200},
    ),
    Probe(
        "$expand other than stats",
        "GET",
        f"/jobs/{JOB}",
        400,
        "InvalidQueryParameterValue",
        "spec Jobs_GetJob $expand: only stats",
        query={"$expand": "tasks"},
    ),
    Probe(
        "api-version never published",
        "GET",
        "/jobs",
        400,
        "InvalidQueryParameterValue",
        "spec: api-version of a published version only",
        api_version="2099-01-01",
    ),
    Probe(
        "path traversal in a task file path",
        "GET",
        f"/jobs/{JOB}/tasks/{TASK}/files/{quote('../../../etc/passwd', safe='')}",
        400,
        "InvalidFilePath",
        "spec Tasks_GetTaskFile: the path is relative to the task directory",
    ),
    Probe(
        "absolute task file path",
        "GET",
        f"/jobs/{JOB}/tasks/{TASK}/files/{quote('/etc/passwd', safe='')}",
        400,
        "InvalidFilePath",
        "spec Tasks_GetTaskFile: the path is relative to the task directory",
    ),
    Probe(
        "malformed ocp-range",
        "GET",
        f"/jobs/{JOB}/tasks/{TASK}/files/stdout.txt",
        400,
        "InvalidHeaderValue",
        "error table: InvalidHeaderValue",
        headers={"ocp-range": "bytes=banana"},
    ),
    Probe(
        "malformed If-Modified-Since",
        "GET",
        f"/jobs/{JOB}",
        400,
        "InvalidHeaderValue",
        "error table: InvalidHeaderValue",
        headers={"If-Modified-Since": "yesterday"},
    ),
    Probe(
        "unknown job",
        "GET",
        f"/jobs/{unique('nojob')}",
        404,
        "JobNotFound",
        "error table: JobNotFound (404)",
    ),
    Probe(
        "unsupported verb",
        "DELETE",
        "/jobs",
        405,
        "UnsupportedHttpVerb",
        "error table: UnsupportedHttpVerb (405)",
    ),
]


@pytest.fixture(scope="module")
def hostile_world(raw_client: Any) -> None:
    """A pool without nodes, a job on it and one (never scheduled) task the probes aim at."""
    pool = {**examples.pool(POOL), "targetDedicatedNodes": 0}
    assert call(raw_client, "POST", "/pools", pool).status == 201
    assert call(raw_client, "POST", "/jobs", {"id": JOB, "poolInfo": {"poolId": POOL}}).status == 201
    assert call(raw_client, "POST", f"/jobs/{JOB}/tasks", _task(TASK)).status == 201


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_hostile_request_gets_the_documented_error(
    raw_client: Any, hostile_world: None, probe: Probe
) -> None:
    started = time.monotonic()
    answer = call(
        raw_client,
        probe.method,
        probe.path,
        probe.body,
        raw_body=probe.raw,
        query=probe.query or None,
        headers=probe.headers or None,
        api_version=probe.api_version,
    )
    assert time.monotonic() - started < 10, "answered too slowly"
    assert (answer.status, answer.error_code) == (probe.status, probe.code), (probe.source, answer.body)
    if probe.name == "maxResults negative":  # as recorded, the name lower-cased and the service's reason
        assert answer.body["values"] == [
            {"key": "QueryParameterName", "value": "maxresults"},
            {"key": "QueryParameterValue", "value": "-5"},
            {"key": "Reason", "value": "MaxResults cannot be less than 1"},
        ]
        assert answer.body["message"]["value"].startswith(
            "Value for one of the query parameters specified in the request URI is invalid."
        )
    # The error shape every Batch error has: code, message {lang, value} with the request id.
    assert answer.body["message"]["lang"] == "en-US" and "RequestId:" in answer.body["message"]["value"]
    assert (answer.header("Content-Type") or "").startswith("application/json")


def _unsigned(endpoints: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    url = urlsplit(endpoints.batch_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/jobs?api-version=2025-06-01", headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 403, "AuthenticationFailed"),
        (
            "SharedKey devbatchaccount1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            403,
            "AuthenticationFailed",
        ),
        ("SharedKey", 400, "InvalidAuthenticationInfo"),
        ("Basic dXNlcjpwYXNz", 400, "InvalidAuthenticationInfo"),
    ],
    ids=["missing", "wrong-signature", "malformed", "other-scheme"],
)
def test_missing_or_wrong_auth(endpoints: Any, authorization: str | None, status: int, code: str) -> None:
    """Authentication errors as the error table gives them: a signature that does not match is a 403
    `AuthenticationFailed` (the wire log in Azure/doAzureParallel#5: "403 Server failed to authenticate
    the request"), an Authorization header of the wrong form a 400 `InvalidAuthenticationInfo`. The status
    for no header at all is not documented; the emulator answers it like a wrong signature.
    """
    headers = {} if authorization is None else {"Authorization": authorization}
    got_status, body = _unsigned(endpoints, headers)
    assert (got_status, body.get("code")) == (status, code), body
