"""Malformed request bodies the service must refuse with a Batch-shaped 4xx (and create nothing).

These checks belong to the request validation (emulator/localbatch/validation.py); each entry names
the status and code Azure Batch answers. Before issue 15 the service accepted many of them with 201:
a malformed `dependsOn` then stopped the scheduler for every job, an id ending in a newline put a raw
LF into the `Location` header, a huge duration answered 500 (OverflowError).
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
MISSING = "MissingRequiredProperty"
HUGE_DURATION = "PT99999999999999999999H"


def _task(**fields: Any) -> dict[str, Any]:
    return {"id": "vt", "commandLine": "/bin/true", **fields}


def _job(**fields: Any) -> dict[str, Any]:
    return {"id": "vj", "poolInfo": {"poolId": "val-pool"}, **fields}


def _pool(**fields: Any) -> dict[str, Any]:
    image = {"publisher": "canonical", "offer": "ubuntu", "sku": "22_04-lts"}
    vmc = {"imageReference": image, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}
    return {"id": "vp", "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": vmc, **fields}


def _exits(**fields: Any) -> dict[str, Any]:
    return _task(exitConditions=fields)


def _prep(**fields: Any) -> dict[str, Any]:
    return {"commandLine": "/bin/true", **fields}


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
    (
        "depends-range-start-bool",
        _task(dependsOn={"taskIdRanges": [{"start": True, "end": 2}]}),
        400,
        INVALID,
    ),
    ("depends-range-end-missing", _task(dependsOn={"taskIdRanges": [{"start": 1}]}), 400, MISSING),
    (
        "depends-range-end-2-pow-40",
        _task(dependsOn={"taskIdRanges": [{"start": 0, "end": 2**40}]}),
        400,
        INVALID,
    ),
    ("depends-range-not-object", _task(dependsOn={"taskIdRanges": [5]}), 400, INVALID),
    ("depends-ranges-not-list", _task(dependsOn={"taskIdRanges": {"start": 1, "end": 2}}), 400, INVALID),
    ("depends-task-ids-number", _task(dependsOn={"taskIds": 5}), 400, INVALID),
    ("depends-task-ids-numbers", _task(dependsOn={"taskIds": [5]}), 400, INVALID),
    ("depends-task-id-newline", _task(dependsOn={"taskIds": ["a\n"]}), 400, INVALID),
    (
        "depends-task-ids-over-64000-chars",
        _task(dependsOn={"taskIds": [f"{i:064d}" for i in range(1001)]}),
        400,
        "TaskDependencyListTooLong",
    ),
    ("depends-on-string", _task(dependsOn="a"), 400, INVALID),
    ("task-id-newline", _task(id="vt\n"), 400, INVALID),
    ("task-id-crlf", _task(id="vt\r\n"), 400, INVALID),
    ("task-id-non-ascii", _task(id="t\u00e2che"), 400, INVALID),
    ("task-id-65-chars", _task(id="t" * 65), 400, INVALID),
    ("task-id-number", _task(id=5), 400, INVALID),
    ("task-wall-clock-overflow", _task(constraints={"maxWallClockTime": HUGE_DURATION}), 400, INVALID),
    ("task-wall-clock-newline", _task(constraints={"maxWallClockTime": "PT1H\n"}), 400, INVALID),
    ("task-retention-overflow", _task(constraints={"retentionTime": "P99999999999999999999D"}), 400, INVALID),
    ("task-constraints-not-object", _task(constraints="PT1H"), 400, INVALID),
    ("task-retries-huge", _task(constraints={"maxTaskRetryCount": 10**20}), 400, INVALID),
    ("task-display-name-1025", _task(displayName="n" * 1025), 400, INVALID),
    ("task-display-name-number", _task(displayName=5), 400, INVALID),
    ("task-env-name-number", _task(environmentSettings=[{"name": 5, "value": "x"}]), 400, INVALID),
    ("task-env-name-null", _task(environmentSettings=[{"name": None, "value": "x"}]), 400, MISSING),
    ("task-env-name-empty", _task(environmentSettings=[{"name": "", "value": "x"}]), 400, MISSING),
    ("task-env-name-nul", _task(environmentSettings=[{"name": "A\u0000B", "value": "x"}]), 400, INVALID),
    ("task-env-value-object", _task(environmentSettings=[{"name": "A", "value": {"x": 1}}]), 400, INVALID),
    ("task-env-value-nul", _task(environmentSettings=[{"name": "A", "value": "x\u0000y"}]), 400, INVALID),
    ("task-env-item-string", _task(environmentSettings=["A=x"]), 400, INVALID),
    ("task-command-nul", _task(commandLine="/bin/echo a\u0000b"), 400, INVALID),
    ("task-command-number", _task(commandLine=5), 400, INVALID),
    ("task-command-missing", {"id": "vt"}, 400, MISSING),
    ("exit-codes-code-text", _exits(exitCodes=[{"code": "1", "exitOptions": {}}]), 400, INVALID),
    ("exit-codes-code-missing", _exits(exitCodes=[{"exitOptions": {}}]), 400, MISSING),
    (
        "exit-ranges-inverted",
        _exits(exitCodeRanges=[{"start": 5, "end": 1, "exitOptions": {}}]),
        400,
        INVALID,
    ),
    ("exit-ranges-start-text", _exits(exitCodeRanges=[{"start": "a", "end": 1}]), 400, INVALID),
    ("exit-conditions-string", _task(exitConditions="x"), 400, INVALID),
    ("exit-default-job-action-unknown", _exits(default={"jobAction": "explode"}), 400, INVALID),
    ("exit-default-dependency-action-unknown", _exits(default={"dependencyAction": "maybe"}), 400, INVALID),
    ("exit-options-not-object", _exits(exitCodes=[{"code": 1, "exitOptions": "none"}]), 400, INVALID),
    ("affinity-not-object", _task(affinityInfo="TVM:x"), 400, INVALID),
    ("affinity-id-number", _task(affinityInfo={"affinityId": 5}), 400, INVALID),
    ("affinity-id-missing", _task(affinityInfo={}), 400, MISSING),
    ("task-slots-zero", _task(requiredSlots=0), 400, INVALID),
    ("task-not-object", ["vt"], 400, "InvalidRequestBody"),
]
JOBS: list[tuple[str, Any, int, str]] = [
    ("job-id-newline", _job(id="vj\n"), 400, INVALID),
    ("job-id-65-chars", _job(id="j" * 65), 400, INVALID),
    ("job-pool-id-newline", _job(poolInfo={"poolId": "val-pool\n"}), 400, INVALID),
    ("job-display-name-1025", _job(displayName="n" * 1025), 400, INVALID),
    ("job-display-name-3mb", _job(displayName="n" * 3_000_000), 400, INVALID),
    ("job-display-name-object", _job(displayName={"a": 1}), 400, INVALID),
    ("job-priority-out-of-range", _job(priority=5000), 400, INVALID),
    ("job-metadata-name-number", _job(metadata=[{"name": 5, "value": "x"}]), 400, INVALID),
    ("job-metadata-value-object", _job(metadata=[{"name": "a", "value": {"x": 1}}]), 400, INVALID),
    ("job-metadata-item-string", _job(metadata=["a"]), 400, INVALID),
    ("job-wall-clock-overflow", _job(constraints={"maxWallClockTime": HUGE_DURATION}), 400, INVALID),
    ("job-common-env-name-number", _job(commonEnvironmentSettings=[{"name": 1, "value": "x"}]), 400, INVALID),
    (
        "job-common-env-value-nul",
        _job(commonEnvironmentSettings=[{"name": "A", "value": "\u0000"}]),
        400,
        INVALID,
    ),
    ("job-prep-command-nul", _job(jobPreparationTask=_prep(commandLine="/bin/true\u0000")), 400, INVALID),
    (
        "job-prep-env-name-number",
        _job(jobPreparationTask=_prep(environmentSettings=[{"name": 1}])),
        400,
        INVALID,
    ),
    (
        "job-prep-wall-clock-overflow",
        _job(jobPreparationTask=_prep(constraints={"maxWallClockTime": HUGE_DURATION})),
        400,
        INVALID,
    ),
    ("job-prep-id-newline", _job(jobPreparationTask=_prep(id="prep\n")), 400, INVALID),
    (
        "job-release-retention-overflow",
        _job(jobPreparationTask=_prep(), jobReleaseTask=_prep(retentionTime="P99999999999999999999D")),
        400,
        INVALID,
    ),
]
POOLS: list[tuple[str, Any, int, str]] = [
    ("pool-id-newline", _pool(id="vp\n"), 400, INVALID),
    ("pool-target-nodes-text", _pool(targetDedicatedNodes="five"), 400, INVALID),
    ("pool-target-nodes-inf", _pool(targetDedicatedNodes=1e400), 400, INVALID),
    ("pool-display-name-1025", _pool(displayName="n" * 1025), 400, INVALID),
    ("pool-metadata-name-number", _pool(metadata=[{"name": 5, "value": "x"}]), 400, INVALID),
    ("pool-start-task-command-nul", _pool(startTask={"commandLine": "/bin/true\u0000"}), 400, INVALID),
    (
        "pool-start-task-env-value-number",
        _pool(startTask=_prep(environmentSettings=[{"name": "A", "value": 1}])),
        400,
        INVALID,
    ),
    ("pool-resize-timeout-overflow", _pool(resizeTimeout=HUGE_DURATION), 400, INVALID),
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
    assert answer.code == code, answer.body[:300]
    ids = [d["id"] for d in json.loads(emu.request("GET", listing).body)["value"]]
    assert created not in ids, "nothing is half-created"


@pytest.mark.parametrize(("name", "body", "status", "code"), TASKS, ids=[t[0] for t in TASKS])
def test_bad_task_body(name: str, body: Any, status: int, code: str, emu: Emulator, job: str) -> None:
    if isinstance(body, dict) and body.get("id") == "vt":
        body = {**body, "id": f"vt-{name}"[:64]}
    _check(
        emu,
        f"/jobs/{job}/tasks",
        body,
        status,
        code,
        f"/jobs/{job}/tasks",
        str(body.get("id") if isinstance(body, dict) else None),
    )


@pytest.mark.parametrize(("name", "body", "status", "code"), JOBS + HUGE, ids=[t[0] for t in JOBS + HUGE])
def test_bad_job_body(name: str, body: Any, status: int, code: str, emu: Emulator) -> None:
    if isinstance(body, dict) and body.get("id") == "vj":
        body = {**body, "id": f"vj-{name}"[:64]}
    _check(emu, "/jobs", body, status, code, "/jobs", str(body.get("id") if isinstance(body, dict) else None))


@pytest.mark.parametrize(("name", "body", "status", "code"), POOLS, ids=[t[0] for t in POOLS])
def test_bad_pool_body(name: str, body: Any, status: int, code: str, emu: Emulator) -> None:
    if isinstance(body, dict) and body.get("id") == "vp":
        body = {**body, "id": f"vp-{name}"[:64]}
    _check(
        emu, "/pools", body, status, code, "/pools", str(body.get("id") if isinstance(body, dict) else None)
    )


def test_a_bad_task_in_a_collection_is_refused_alone(emu: Emulator, job: str) -> None:
    """addtaskcollection answers per task, as Batch does: the malformed one is a clienterror with the
    documented code and is not created; the good one is."""
    bad = _task(id="coll-bad", dependsOn={"taskIdRanges": [{"start": 1, "end": "x"}]})
    body = {"value": [_task(id="coll-good"), bad]}
    answer = emu.request("POST", f"/jobs/{job}/addtaskcollection", json.dumps(body))
    assert answer.status == 200, answer.body[:300]
    results = {r["taskId"]: r for r in json.loads(answer.body)["value"]}
    assert results["coll-good"]["status"] == "success"
    assert results["coll-bad"]["status"] == "clienterror"
    assert results["coll-bad"]["error"]["code"] == INVALID
    ids = [d["id"] for d in json.loads(emu.request("GET", f"/jobs/{job}/tasks").body)["value"]]
    assert "coll-good" in ids and "coll-bad" not in ids


def test_a_refused_job_update_changes_nothing(emu: Emulator) -> None:
    """A PATCH with one bad property is refused whole: the good property beside it is not applied."""
    assert emu.request("POST", "/jobs", json.dumps(_job(id="vj-patch"))).status == 201
    patch = {"priority": 5, "metadata": [{"name": 5, "value": "x"}]}
    answer = emu.request("PATCH", "/jobs/vj-patch", json.dumps(patch))
    assert (answer.status, answer.code) == (400, INVALID), answer.body[:300]
    assert json.loads(emu.request("GET", "/jobs/vj-patch").body)["priority"] == 0
