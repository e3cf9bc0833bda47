"""A job schedule on the wire, as Azure Batch answered it in Microsoft's recorded SDK test.

Source: Azure/azure-sdk-for-python, sdk/batch/azure-batch/tests/recordings/
`test_batch.pyTestBatchtest_batch_job_schedules[sync].json` (api-version 2023-05-01.17.0): the create body
below, then GET /jobschedules/{id}, GET /jobschedules/{id}/jobs and POST .../disable. The requests here are
signed by Microsoft's azure-batch client (`spec_probe.call`); only the ids differ from the recording.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import spec_examples as examples
from spec_probe import call, unique

# .NET TimeSpan.MaxValue: the service's "unlimited" maxWallClockTime (as recorded).
UNLIMITED = "P10675199DT2H48M5.4775807S"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_recorded_schedule_reads_back_as_the_service_answered(raw_client: Any) -> None:
    pool_id = unique("wirepool")
    assert (
        call(raw_client, "POST", "/pools", {**examples.pool(pool_id), "targetDedicatedNodes": 0}).status
        == 201
    )
    sid = unique("wire_schedule")
    created = call(
        raw_client,
        "POST",
        "/jobschedules",
        {
            "id": sid,
            "schedule": {"startWindow": "PT01H00M00S", "recurrenceInterval": "P1D"},
            "jobSpecification": {
                "poolInfo": {"poolId": pool_id},
                "constraints": {"maxTaskRetryCount": 2},
                "onAllTasksComplete": "terminatejob",
            },
        },
    )
    assert created.status == 201
    url = created.headers["location"][0]
    assert url.endswith(f"/jobschedules/{sid}") and created.headers["dataserviceid"] == [url]

    got = call(raw_client, "GET", f"/jobschedules/{sid}")
    body = got.body
    assert body["odata.metadata"].endswith("$metadata#jobschedules/@Element")
    assert body["url"] == url and body["state"] == "active" and "previousState" not in body
    assert got.headers["etag"] == [body["eTag"]]
    # Durations come back in the service's form; the job specification with its defaults filled in.
    assert body["schedule"] == {"startWindow": "PT1H", "recurrenceInterval": "P1D"}
    assert body["jobSpecification"] == {
        "priority": 0,
        "maxParallelTasks": -1,
        "allowTaskPreemption": False,
        "usesTaskDependencies": False,
        "onAllTasksComplete": "terminatejob",
        "onTaskFailure": "noaction",
        "constraints": {"maxWallClockTime": UNLIMITED, "maxTaskRetryCount": 2},
        "poolInfo": {"poolId": pool_id},
    }
    info = body["executionInfo"]
    assert _time(info["nextRunTime"]) - _time(body["creationTime"]) == timedelta(days=1)
    base = url.rsplit("/jobschedules/", 1)[0]
    assert info["recentJob"] == {"id": f"{sid}:job-1", "url": f"{base}/jobs/{sid}:job-1"}

    jobs = call(raw_client, "GET", f"/jobschedules/{sid}/jobs").body
    assert jobs["odata.metadata"].endswith("$metadata#jobs")
    (job,) = jobs["value"]
    assert job["id"] == f"{sid}:job-1" and job["url"] == f"{base}/jobs/{sid}:job-1"
    assert job["constraints"] == {"maxWallClockTime": UNLIMITED, "maxTaskRetryCount": 2}
    assert job["poolInfo"] == {"poolId": pool_id} and job["executionInfo"]["poolId"] == pool_id
    assert (job["onAllTasksComplete"], job["onTaskFailure"]) == ("terminatejob", "noaction")

    disabled = call(raw_client, "POST", f"/jobschedules/{sid}/disable")
    assert disabled.status == 204
    assert disabled.headers["dataserviceid"] == [f"{url}/disable"]
    assert disabled.headers["etag"] != [body["eTag"]]
    assert call(raw_client, "DELETE", f"/jobschedules/{sid}").status == 202
    call(raw_client, "DELETE", f"/pools/{pool_id}")
