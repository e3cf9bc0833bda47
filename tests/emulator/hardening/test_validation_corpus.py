"""Malformed request bodies the model must refuse with a Batch-shaped 400 (and create nothing).

These checks belong to the request validation of the model (emulator/localbatch/models.py); each
entry says what Azure Batch answers. Entries the model does not refuse yet fail here on purpose:
the issue (15) lists them as accepted with 201, which stops scheduling or stores garbage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator, create_pool  # noqa: E402

INVALID = "InvalidPropertyValue"
# Azure answers a missing-or-empty required value with MissingRequiredProperty, a wrong one with
# InvalidPropertyValue; either is the documented refusal.
REFUSED = {"InvalidPropertyValue", "MissingRequiredProperty", "InvalidRequestBody"}


def _task(**fields: Any) -> dict[str, Any]:
    return {"id": "vt", "commandLine": "/bin/true", **fields}


def _job(**fields: Any) -> dict[str, Any]:
    return {"id": "vj", "poolInfo": {"poolId": "val-pool"}, **fields}


TASKS: list[tuple[str, Any, int, str]] = [
    ("depends-range-end-text", _task(dependsOn={"taskIdRanges": [{"start": 1, "end": "x"}]}), 400, INVALID),
    ("depends-range-end-float", _task(dependsOn={"taskIdRanges": [{"start": 1, "end": 2.5}]}), 400, INVALID),
    (
        "depends-range-start-negative",
        _task(dependsOn={"taskIdRanges": [{"start": -1, "end": 2}]}),
        400,
        INVALID,
    ),
    (
        "depends-range-start-after-end",
        _task(dependsOn={"taskIdRanges": [{"start": 9, "end": 2}]}),
        400,
        INVALID,
    ),
    ("depends-range-not-object", _task(dependsOn={"taskIdRanges": [5]}), 400, INVALID),
    ("depends-task-ids-number", _task(dependsOn={"taskIds": 5}), 400, INVALID),
    ("depends-task-ids-numbers", _task(dependsOn={"taskIds": [5]}), 400, INVALID),
    ("depends-on-string", _task(dependsOn="a"), 400, INVALID),
    ("task-id-newline", _task(id="vt\n"), 400, INVALID),
    ("task-id-65-chars", _task(id="t" * 65), 400, INVALID),
    (
        "task-wall-clock-overflow",
        _task(constraints={"maxWallClockTime": "PT99999999999999999999H"}),
        400,
        INVALID,
    ),
    ("task-retention-overflow", _task(constraints={"retentionTime": "P99999999999999999999D"}), 400, INVALID),
    ("task-retries-huge", _task(constraints={"maxTaskRetryCount": 10**20}), 400, INVALID),
    ("task-display-name-1025", _task(displayName="n" * 1025), 400, INVALID),
    ("task-env-name-number", _task(environmentSettings=[{"name": 5, "value": "x"}]), 400, INVALID),
    ("task-env-name-null", _task(environmentSettings=[{"name": None, "value": "x"}]), 400, INVALID),
    ("task-env-name-empty", _task(environmentSettings=[{"name": "", "value": "x"}]), 400, INVALID),
    ("task-env-value-object", _task(environmentSettings=[{"name": "A", "value": {"x": 1}}]), 400, INVALID),
    ("task-command-nul", _task(commandLine="/bin/echo a\u0000b"), 400, INVALID),
    ("task-command-number", _task(commandLine=5), 400, INVALID),
]
JOBS: list[tuple[str, Any, int, str]] = [
    ("job-id-newline", _job(id="vj\n"), 400, INVALID),
    ("job-id-65-chars", _job(id="j" * 65), 400, INVALID),
    ("job-display-name-1025", _job(displayName="n" * 1025), 400, INVALID),
    ("job-display-name-3mb", _job(displayName="n" * 3_000_000), 400, INVALID),
    ("job-priority-out-of-range", _job(priority=5000), 400, INVALID),
    ("job-metadata-name-number", _job(metadata=[{"name": 5, "value": "x"}]), 400, INVALID),
    (
        "job-wall-clock-overflow",
        _job(constraints={"maxWallClockTime": "PT99999999999999999999H"}),
        400,
        INVALID,
    ),
    ("job-common-env-name-number", _job(commonEnvironmentSettings=[{"name": 1, "value": "x"}]), 400, INVALID),
]
POOLS: list[tuple[str, Any, int, str]] = [
    ("pool-id-newline", {"id": "vp\n", "vmSize": "standard_d2s_v3"}, 400, INVALID),
    (
        "pool-target-nodes-text",
        {"id": "vp", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": "5"},
        400,
        INVALID,
    ),
    (
        "pool-target-nodes-inf",
        {"id": "vp", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1e400},
        400,
        INVALID,
    ),
]
# A 50 MB display name never reaches the model: the server refuses the body from its Content-Length.
HUGE = [("job-display-name-50mb", _job(displayName="n" * 50_000_000), 413, "RequestBodyTooLarge")]


@pytest.fixture(scope="module")
def job(emu: Emulator) -> str:
    create_pool(emu, "val-pool")
    body = {"id": "val-job", "poolInfo": {"poolId": "val-pool"}, "usesTaskDependencies": True}
    assert emu.request("POST", "/jobs", json.dumps(body)).status == 201
    return "val-job"


def _check(emu: Emulator, path: str, body: Any, status: int, code: str, listing: str, created: str) -> None:
    answer = emu.request("POST", path, json.dumps(body))
    assert answer.seconds < 5
    assert answer.status == status, answer.body[:300]
    assert answer.code in (REFUSED if code == INVALID else {code}), answer.body[:300]
    ids = [d["id"] for d in json.loads(emu.request("GET", listing).body)["value"]]
    assert created not in ids, "nothing is half-created"


@pytest.mark.parametrize(("name", "body", "status", "code"), TASKS, ids=[t[0] for t in TASKS])
def test_bad_task_body(name: str, body: Any, status: int, code: str, emu: Emulator, job: str) -> None:
    if body["id"] == "vt":
        body = {**body, "id": f"vt-{name}"[:64]}
    _check(emu, f"/jobs/{job}/tasks", body, status, code, f"/jobs/{job}/tasks", str(body.get("id")))


@pytest.mark.parametrize(("name", "body", "status", "code"), JOBS + HUGE, ids=[t[0] for t in JOBS + HUGE])
def test_bad_job_body(name: str, body: Any, status: int, code: str, emu: Emulator) -> None:
    if body["id"] == "vj":
        body = {**body, "id": f"vj-{name}"[:64]}
    _check(emu, "/jobs", body, status, code, "/jobs", str(body.get("id")))


@pytest.mark.parametrize(("name", "body", "status", "code"), POOLS, ids=[t[0] for t in POOLS])
def test_bad_pool_body(name: str, body: Any, status: int, code: str, emu: Emulator) -> None:
    if body["id"] == "vp":
        body = {**body, "id": f"vp-{name}"[:64]}
    _check(emu, "/pools", body, status, code, "/pools", str(body.get("id")))
