"""Request bodies from the spec's x-ms-examples (data/examples-2025-06-01.json), with fresh ids.

Owns reading that data file; each function returns a new dict the caller may change. Standard library only.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "data" / "examples-2025-06-01.json"


@cache
def _examples() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text())  # type: ignore[no-any-return]


def body(name: str) -> dict[str, Any]:
    return copy.deepcopy(_examples()[name]["body"])


def source(name: str) -> str:
    return str(_examples()[name]["source"])


def pool(pool_id: str) -> dict[str, Any]:
    return {**body("pool"), "id": pool_id}


def job(job_id: str, pool_id: str) -> dict[str, Any]:
    return {**body("job"), "id": job_id, "poolInfo": {"poolId": pool_id}}


def task(task_id: str) -> dict[str, Any]:
    return {**body("task"), "id": task_id}


def task_collection() -> dict[str, Any]:
    return body("taskCollection")


def resize() -> dict[str, Any]:
    return body("resize")


def enable_autoscale() -> dict[str, Any]:
    return body("enableAutoScale")


def job_schedule(schedule_id: str, pool_id: str) -> dict[str, Any]:
    data = body("jobSchedule")
    data["id"] = schedule_id
    data["jobSpecification"]["poolInfo"]["poolId"] = pool_id
    return data
