"""The emulator's answers on the wire, as Azure Batch documents or answers them (issue 14).

Each test names its source. These began as the known deviations of the emulator (failing by design);
they now pin the fixed behaviour: SharedKey over the headers as received (the JavaScript SDK's DELETE),
the OData reader's string-to-number/boolean conversion, one `Date`, published api-versions only,
write-only secrets never returned, lists in id order, ETag/Last-Modified on every answer about one
entity, the service's defaults filled in, nodes shaped as the service shapes them, and `$expand=stats`.
Requests go through Microsoft's clients (azure-batch for Python signs the raw requests of
`spec_probe.call`; the JavaScript SDK's scenario run for the DELETE case).
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import spec_examples as examples
from clients import scenario_step
from spec_probe import call, unique, wait_for


def _linux_pool(pool_id: str, **extra: Any) -> dict[str, Any]:
    return {**examples.pool(pool_id), "targetDedicatedNodes": 0, **extra}


def test_js_sdk_delete_is_accepted(js_scenario: dict[str, Any]) -> None:
    """@azure/batch 10.2.0 deletes the job and the pool it created (202 each).

    Source: the SDK signs DELETE with an empty Content-Length line and sends no Content-Length header;
    "Authorize with Shared Key" (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key,
    which Batch's SharedKey follows) puts the header's value as received, empty when absent, in the
    string to sign. Spec: Jobs_DeleteJob and Pools_DeletePool answer 202.
    """
    scenario_step(js_scenario, "deleteJob")
    scenario_step(js_scenario, "deletePool")


def test_numbers_sent_as_json_strings_are_converted(raw_client: Any) -> None:
    """`"targetDedicatedNodes": "2"` creates a pool with 2 target nodes, as the service's OData JSON reader
    converts string literals to the declared Int32 (what `az batch pool create --target-dedicated-nodes 2`
    sends; issue 14, measured with the Azure CLI). Booleans likewise. Spec: Pools_CreatePool 201.
    """
    pool_id = unique("strnum")
    body = {**_linux_pool(pool_id), "targetDedicatedNodes": "2", "enableInterNodeCommunication": "false"}
    created = call(raw_client, "POST", "/pools", body)
    assert created.status == 201, created.body
    pool = call(raw_client, "GET", f"/pools/{pool_id}").body
    assert (pool["targetDedicatedNodes"], pool["enableInterNodeCommunication"]) == (2, False)
    # A string that is not a number is still refused, as the reader's conversion fails.
    bad = call(raw_client, "POST", "/pools", {**_linux_pool(unique("strnum")), "targetDedicatedNodes": "two"})
    assert bad.status == 400, bad.body


def test_one_date_header(endpoints: Any) -> None:
    """Exactly one `Date` header per response. RFC 9110 section 6.6.1 defines Date as a single value; Node's
    HTTP client joins repeated ones into one unparsable value (issue 14); Python's HTTP server adds its
    own next to the emulator's unless told not to. Counted on the raw socket answer of an unauthenticated request.
    """
    url = urlsplit(endpoints.batch_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/pools?api-version=2025-06-01")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert len(response.msg.get_all("Date") or []) == 1


def test_unknown_api_version_is_refused(raw_client: Any) -> None:
    """api-version=1999-01-01.0.0 is refused with 400; only versions Batch has published are served.
    Source: spec parameter Azure.Core.Foundations.ApiVersionParameter (the service validates it) and the
    Azure REST API guidelines (an unsupported api-version is a 400). Versions Batch published (the
    folders of specification/batch/data-plane in Azure/azure-rest-api-specs) are served, including the
    older ones Microsoft's clients still send (@azure/batch 10.x: 2022-10-01.16.0; azure-batch 14.x:
    2024-07-01.20.0).
    """
    answer = call(raw_client, "GET", "/pools", api_version="1999-01-01.0.0")
    assert (answer.status, answer.error_code) == (400, "InvalidQueryParameterValue"), answer.body
    for version in ("2022-10-01.16.0", "2024-07-01.20.0", "2025-06-01"):
        assert call(raw_client, "GET", "/pools", api_version=version).status == 200, version


def test_pool_user_passwords_are_never_returned(raw_client: Any) -> None:
    """GET pool returns `userAccounts` without `password`: Azure never returns a write-only secret
    (issue 14, from recorded service traffic; the spec's Pools_GetPool examples carry no password),
    neither in the pool nor in the list of pools.
    """
    pool_id = unique("users")
    body = _linux_pool(pool_id, userAccounts=[{"name": "worker", "password": "S3cret!pass"}])
    assert call(raw_client, "POST", "/pools", body).status == 201
    accounts = call(raw_client, "GET", f"/pools/{pool_id}").body["userAccounts"]
    assert [a["name"] for a in accounts] == ["worker"]
    assert all("password" not in a for a in accounts), accounts
    listed = call(raw_client, "GET", "/pools", query={"$filter": f"id eq '{pool_id}'"}).body["value"]
    assert "S3cret!pass" not in json.dumps(listed)


def test_pools_are_listed_in_id_order(raw_client: Any) -> None:
    """List pools answers in id order, not creation order (issue 14, from recorded service traffic;
    this decides which pools land on which page).
    """
    prefix = unique("order")
    for suffix in ("c", "a", "b"):
        assert call(raw_client, "POST", "/pools", _linux_pool(f"{prefix}-{suffix}")).status == 201
    listed = call(raw_client, "GET", "/pools", query={"$filter": f"startswith(id,'{prefix}')"}).body["value"]
    assert [p["id"] for p in listed] == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]


def test_action_responses_carry_etag_and_last_modified(raw_client: Any) -> None:
    """A pool resize (202) carries ETag and Last-Modified of the changed pool. Spec: Pools_ResizePool
    declares DataServiceId, ETag, Last-Modified, client-request-id and request-id on its 202 (likewise
    Jobs_TerminateJob, Nodes_RebootNode and the other actions).
    """
    pool_id = unique("resize")
    created = call(raw_client, "POST", "/pools", _linux_pool(pool_id))
    assert created.status == 201 and created.header("ETag")
    answer = call(raw_client, "POST", f"/pools/{pool_id}/resize", examples.resize())
    assert answer.status == 202
    assert answer.header("ETag") and answer.header("Last-Modified"), answer.headers
    # The changed pool's version, not the one the create answered (the resize changed the pool).
    assert answer.header("ETag") != created.header("ETag")


def test_server_defaults_are_filled_in(raw_client: Any) -> None:
    """A pool created without optional properties is returned with the service's defaults, as in the spec's
    example response examples/Pools_GetPool_Basic.json (2025-06-01): imageReference.version "latest",
    taskSchedulingPolicy.nodeFillType "spread", resizeTimeout "PT15M", enableInterNodeCommunication false,
    targetNodeCommunicationMode "default" (issue 14: otherwise a refresh sees false drift).
    """
    pool_id = unique("defaults")
    body = {
        "id": pool_id,
        "vmSize": "standard_d2s_v3",
        "virtualMachineConfiguration": {
            "imageReference": {
                "publisher": "canonical",
                "offer": "0001-com-ubuntu-server-jammy",
                "sku": "22_04-lts",
            },
            "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        },
    }
    assert call(raw_client, "POST", "/pools", body).status == 201
    pool = call(raw_client, "GET", f"/pools/{pool_id}").body
    got = {
        "version": pool["virtualMachineConfiguration"]["imageReference"].get("version"),
        "nodeFillType": (pool.get("taskSchedulingPolicy") or {}).get("nodeFillType"),
        "resizeTimeout": pool.get("resizeTimeout"),
        "enableInterNodeCommunication": pool.get("enableInterNodeCommunication"),
        "targetNodeCommunicationMode": pool.get("targetNodeCommunicationMode"),
    }
    assert got == {
        "version": "latest",
        "nodeFillType": "spread",
        "resizeTimeout": "PT15M",
        "enableInterNodeCommunication": False,
        "targetNodeCommunicationMode": "default",
    }, json.dumps(pool)


def test_nested_server_defaults_are_filled_in(raw_client: Any) -> None:
    """Defaults the spec's property descriptions state (azure-batch 15.1.0 models, 2025-06-01): a data disk's
    caching "readwrite" and managed disk storage type "standard_lrs", a user account's elevationLevel
    "nonadmin", a start task's maxTaskRetryCount 0; what was sent is kept as sent.
    """
    pool_id = unique("nested")
    body = _linux_pool(
        pool_id,
        userAccounts=[{"name": "worker", "password": "S3cret!pass"}],
        startTask={"commandLine": "/bin/true"},
    )
    body["virtualMachineConfiguration"]["dataDisks"] = [
        {"lun": 0, "diskSizeGB": 16},
        {"lun": 1, "diskSizeGB": 8, "caching": "none"},
    ]
    assert call(raw_client, "POST", "/pools", body).status == 201
    pool = call(raw_client, "GET", f"/pools/{pool_id}").body
    disks = pool["virtualMachineConfiguration"]["dataDisks"]
    assert [(d["caching"], d["managedDisk"]["storageAccountType"]) for d in disks] == [
        ("readwrite", "standard_lrs"),
        ("none", "standard_lrs"),
    ]
    assert pool["userAccounts"][0]["elevationLevel"] == "nonadmin"
    assert pool["startTask"]["maxTaskRetryCount"] == 0


def test_nodes_are_shaped_as_the_service_shapes_them(raw_client: Any) -> None:
    """A node carries `endpointConfiguration` (its inbound SSH rule, as recorded service traffic shows) and
    no `eTag` / `lastModified` in its body: BatchNode has neither property (spec 2025-06-01,
    examples/Nodes_GetNode.json); its version travels in the ETag / Last-Modified headers that
    Nodes_GetNode declares.
    """
    pool_id = unique("nodes")
    assert call(raw_client, "POST", "/pools", _linux_pool(pool_id, targetDedicatedNodes=1)).status == 201
    listed = call(raw_client, "GET", f"/pools/{pool_id}/nodes").body["value"]
    assert len(listed) == 1
    answer = call(raw_client, "GET", f"/pools/{pool_id}/nodes/{listed[0]['id']}")
    for node in (listed[0], answer.body):
        assert "eTag" not in node and "lastModified" not in node, node
        (endpoint,) = node["endpointConfiguration"]["inboundEndpoints"]
        assert (endpoint["protocol"], endpoint["backendPort"]) == ("tcp", 22)
    assert answer.header("ETag") and answer.header("Last-Modified")


def test_expand_stats_answers_pool_and_job_statistics(raw_client: Any) -> None:
    """`$expand=stats` adds `stats` in the BatchPoolStatistics / BatchJobStatistics shape (spec 2025-06-01:
    Pools_GetPool and Jobs_GetJob take `$expand`; examples/Jobs_GetJobLifetimeStatistics of earlier
    versions show the job shape); without it there is no `stats`. A job's finished tasks are counted.
    """
    pool_id, job_id = unique("stats"), unique("stats")
    assert call(raw_client, "POST", "/pools", _linux_pool(pool_id, targetDedicatedNodes=1)).status == 201
    assert call(raw_client, "POST", "/jobs", examples.job(job_id, pool_id)).status == 201
    for task_id, line in (("ok", "/bin/true"), ("bad", "/bin/false")):
        assert (
            call(raw_client, "POST", f"/jobs/{job_id}/tasks", {"id": task_id, "commandLine": line}).status
            == 201
        )
    wait_for(
        lambda: call(raw_client, "GET", f"/jobs/{job_id}/taskcounts").body["taskCounts"]["completed"] == 2
    )
    plain = call(raw_client, "GET", f"/jobs/{job_id}").body
    assert "stats" not in plain
    job_stats = call(raw_client, "GET", f"/jobs/{job_id}", query={"$expand": "stats"}).body["stats"]
    assert (job_stats["numSucceededTasks"], job_stats["numFailedTasks"], job_stats["numTaskRetries"]) == (
        1,
        1,
        0,
    )
    assert {
        "url",
        "startTime",
        "lastUpdateTime",
        "userCPUTime",
        "kernelCPUTime",
        "wallClockTime",
        "readIOps",
        "writeIOps",
        "readIOGiB",
        "writeIOGiB",
        "waitTime",
    } <= set(job_stats)
    pools = call(raw_client, "GET", "/pools", query={"$expand": "stats", "$filter": f"id eq '{pool_id}'"})
    pool_stats = pools.body["value"][0]["stats"]
    assert pool_stats["usageStats"]["dedicatedCoreTime"].startswith("PT")
    assert {"avgCPUPercentage", "peakMemoryGiB", "networkReadGiB"} <= set(pool_stats["resourceStats"])
    refused = call(raw_client, "GET", f"/jobs/{job_id}", query={"$expand": "nonsense"})
    assert (refused.status, refused.error_code) == (400, "InvalidQueryParameterValue")


def test_duplicate_property_names_are_refused(raw_client: Any) -> None:
    """A body naming one property twice (`{"id": "a", "id": "b"}`) is a 400 `InvalidRequestBody`, not a
    job named after the last one: the service reads bodies with an OData reader, which does not allow
    duplicate property names. Spec: Jobs_CreateJob; error code table of batch-status-and-error-codes
    (InvalidRequestBody, 400).
    """
    first, second = unique("dup"), unique("dup")
    raw = f'{{"id": "{first}", "poolInfo": {{"poolId": "p"}}, "id": "{second}"}}'
    answer = call(raw_client, "POST", "/jobs", raw_body=raw)
    assert (answer.status, answer.error_code) == (400, "InvalidRequestBody"), answer.body
    assert "'id'" in json.dumps(answer.body)
    for job_id in (first, second):
        assert call(raw_client, "GET", f"/jobs/{job_id}").status == 404


def test_metadata_item_without_value_is_refused(raw_client: Any) -> None:
    """A metadata item needs a value: BatchMetadataItem marks `name` and `value` required (azure-batch
    15.1.0, spec 2025-06-01 MetadataItem), so `{"name": "a"}` is a 400 MissingRequiredProperty naming
    `metadata.value`. An environment setting's value stays optional (EnvironmentSetting requires only
    `name`).
    """
    body = {"id": unique("meta"), "poolInfo": {"poolId": "p"}, "metadata": [{"name": "owner"}]}
    answer = call(raw_client, "POST", "/jobs", body)
    assert (answer.status, answer.error_code) == (400, "MissingRequiredProperty"), answer.body
    assert {"key": "PropertyName", "value": "metadata.value"} in answer.body["values"]
    body = {
        "id": unique("env"),
        "poolInfo": {"poolId": "p"},
        "commonEnvironmentSettings": [{"name": "EMPTY"}],
    }
    assert call(raw_client, "POST", "/jobs", body).status == 201


def test_head_of_a_missing_pool_is_a_bare_404(raw_client: Any) -> None:
    """`HEAD /pools/{id}` of a pool that does not exist answers 404 with no body and no body type, as
    recorded from the service (azure-sdk-for-net, Azure.Compute.Batch
    tests/SessionRecords/PoolClientRecordedTests/DoesNotExist.json: DataServiceVersion, request-id, no
    Content-Type). Successful JSON answers carry `application/json; odata=minimalmetadata` (recorded
    traffic of azure-sdk-for-python's test_batch_jobs).
    """
    missing = call(raw_client, "HEAD", f"/pools/{unique('nopool')}")
    assert missing.status == 404 and missing.header("Content-Type") is None, missing.headers
    assert missing.header("request-id") and missing.header("DataServiceVersion") == "3.0"
    listed = call(raw_client, "GET", "/pools", query={"maxresults": "1"})
    assert listed.header("Content-Type") == "application/json; odata=minimalmetadata"


def test_recorded_job_flow_with_an_auto_pool(raw_client: Any) -> None:
    """Replays azure-sdk-for-python's recorded test_batch_jobs (tests/recordings, api-version
    2023-05-01.17.0): a job on an auto pool with preparation and release tasks, then a PUT that sends the
    same `poolInfo.autoPoolSpecification` back with a new priority and retry count (200, it answered a
    500 before), then a PATCH of the priority (200), and the job as the recording shows it: priority 900,
    maxTaskRetryCount 3 from the PUT, the auto pool's id in executionInfo.
    """
    version = "2023-05-01.17.0"
    job_id = unique("batch_job1")
    pool_info = {
        "autoPoolSpecification": {
            "poolLifetimeOption": "job",
            "pool": {"vmSize": "standard_d2_v2", "cloudServiceConfiguration": {"osFamily": "5"}},
        }
    }
    created = call(
        raw_client,
        "POST",
        "/jobs",
        {
            "id": job_id,
            "poolInfo": pool_info,
            "jobPreparationTask": {"commandLine": 'cmd /c "echo hello world"'},
            "jobReleaseTask": {"commandLine": 'cmd /c "echo goodbye world"'},
        },
        api_version=version,
    )
    assert created.status == 201, created.body
    replaced = call(
        raw_client,
        "PUT",
        f"/jobs/{job_id}",
        {"priority": 500, "constraints": {"maxTaskRetryCount": 3}, "poolInfo": pool_info},
        api_version=version,
    )
    assert replaced.status == 200, replaced.body
    patched = call(raw_client, "PATCH", f"/jobs/{job_id}", {"priority": 900}, api_version=version)
    assert patched.status == 200, patched.body
    job = call(raw_client, "GET", f"/jobs/{job_id}", api_version=version).body
    assert (job["priority"], job["constraints"]["maxTaskRetryCount"]) == (900, 3), job
    assert job["poolInfo"]["autoPoolSpecification"]["poolLifetimeOption"] == "job"
    # The auto pool's specification reads back with the service's defaults, as recorded.
    pool = job["poolInfo"]["autoPoolSpecification"]["pool"]
    assert {k: pool.get(k) for k in ("taskSlotsPerNode", "resizeTimeout", "enableAutoScale")} == {
        "taskSlotsPerNode": 1,
        "resizeTimeout": "PT15M",
        "enableAutoScale": False,
    }
    assert (pool["targetDedicatedNodes"], pool["targetLowPriorityNodes"]) == (0, 0)
    assert pool["enableInterNodeCommunication"] is False
    assert job["executionInfo"]["poolId"] and "poolId" not in job["poolInfo"]
    assert call(raw_client, "DELETE", f"/jobs/{job_id}", api_version=version).status == 202


def test_recorded_pool_update_flow(raw_client: Any) -> None:
    """Replays azure-sdk-for-python's recorded test_batch_update_pools (tests/recordings, api-version
    2023-05-01.17.0): updateproperties without a startTask removes the pool's start task and sets
    metadata and targetNodeCommunicationMode "classic" (204); a PATCH replaces the metadata (200); the
    pool then reads back as recorded, and `$select=id,state` with `$expand=stats` answers just those two.
    A mode that does not exist is a 400.
    """
    version = "2023-05-01.17.0"
    pool_id = unique("batch_paas")
    body = {
        "id": pool_id,
        "vmSize": "standard_d2_v2",
        "cloudServiceConfiguration": {"osFamily": "5"},
        "startTask": {
            "commandLine": 'cmd.exe /c "echo hello world"',
            "resourceFiles": [{"httpUrl": "https://blobsource.com", "filePath": "filename.txt"}],
            "environmentSettings": [{"name": "ENV_VAR", "value": "env_value"}],
            "userIdentity": {"autoUser": {"elevationLevel": "admin"}},
        },
    }
    assert call(raw_client, "POST", "/pools", body, api_version=version).status == 201
    replace = {
        "certificateReferences": [],
        "applicationPackageReferences": [],
        "metadata": [{"name": "foo", "value": "bar"}],
        "targetNodeCommunicationMode": "classic",
    }
    answer = call(raw_client, "POST", f"/pools/{pool_id}/updateproperties", replace, api_version=version)
    assert answer.status == 204, answer.body
    patch = {"metadata": [{"name": "foo2", "value": "bar2"}]}
    assert call(raw_client, "PATCH", f"/pools/{pool_id}", patch, api_version=version).status == 200
    pool = call(raw_client, "GET", f"/pools/{pool_id}", api_version=version).body
    assert "startTask" not in pool
    assert (pool["metadata"], pool["targetNodeCommunicationMode"]) == (patch["metadata"], "classic")
    selected = call(
        raw_client,
        "GET",
        f"/pools/{pool_id}",
        api_version=version,
        query={"$select": "id,state", "$expand": "stats"},
    ).body
    assert {k: v for k, v in selected.items() if k != "odata.metadata"} == {"id": pool_id, "state": "active"}
    bad = call(
        raw_client,
        "POST",
        f"/pools/{pool_id}/updateproperties",
        {**replace, "targetNodeCommunicationMode": "x"},
    )
    assert (bad.status, bad.error_code) == (400, "InvalidPropertyValue"), bad.body
    assert call(raw_client, "DELETE", f"/pools/{pool_id}", api_version=version).status == 202


def test_prep_release_status_of_a_job_without_them(raw_client: Any) -> None:
    """The preparation/release status list of a job with neither task is a 409 with the code and text the
    service answered in azure-sdk-for-js's recorded traffic (sdk/batch/batch-rest/recordings,
    recording_should_fail_to_job_preprelease_status.json, api-version 2024-02-01.19.0):
    `JobPreparationTaskOrReleaseTaskNotSpecified`, "The specified job does not have either job
    preparation task or job release task." (the SDK docstrings name `JobPreparationTaskNotSpecified`).
    """
    job_id = unique("JSSDKTest-Job-Basic")
    assert call(raw_client, "POST", "/jobs", {"id": job_id, "poolInfo": {"poolId": "p"}}).status == 201
    answer = call(raw_client, "GET", f"/jobs/{job_id}/jobpreparationandreleasetaskstatus")
    assert (answer.status, answer.error_code) == (409, "JobPreparationTaskOrReleaseTaskNotSpecified")
    assert answer.body["message"]["value"].startswith(
        "The specified job does not have either job preparation task or job release task.\nRequestId:"
    )
    assert answer.header("Content-Type") == "application/json; odata=minimalmetadata"


def test_upload_condition_reads_back_in_the_service_spelling(raw_client: Any) -> None:
    """Output files sent with `uploadCondition` "taskCompletion" / "taskFailure" read back as
    "TaskCompletion" / "TaskFailure", everything else as sent: azure-sdk-for-js's recorded traffic
    (sdk/batch/batch-rest/recordings, recording_should_create_a_second_task_with_output_files_successfully,
    api-version 2024-02-01.19.0).
    """
    job_id = unique("JSSDKTest-Job-Basic")
    assert (
        call(raw_client, "POST", "/jobs", {"id": job_id, "poolInfo": {"poolId": "dummypool"}}).status == 201
    )
    url = "https://teststorage.blob.core.windows.net/batch-sdk-test?se=fakeToken"
    headers = [
        {"name": "x-ms-blob-content-type", "value": "text/plain"},
        {"name": "x-ms-blob-content-language", "value": "en-US"},
    ]
    outputs = [
        {
            "filePattern": "../stdout.txt",
            "destination": {
                "container": {"containerUrl": url, "path": "taskLogs/output.txt", "uploadHeaders": headers}
            },
            "uploadOptions": {"uploadCondition": "taskCompletion"},
        },
        {
            "filePattern": "../stderr.txt",
            "destination": {"container": {"containerUrl": url, "path": "taskLogs/error.txt"}},
            "uploadOptions": {"uploadCondition": "taskFailure"},
        },
    ]
    task = {"id": f"{job_id}-task2", "commandLine": "cmd /c echo hello world", "outputFiles": outputs}
    assert call(raw_client, "POST", f"/jobs/{job_id}/tasks", task).status == 201
    got = call(raw_client, "GET", f"/jobs/{job_id}/tasks/{task['id']}").body["outputFiles"]
    expected = [
        {**outputs[0], "uploadOptions": {"uploadCondition": "TaskCompletion"}},
        {**outputs[1], "uploadOptions": {"uploadCondition": "TaskFailure"}},
    ]
    assert got == expected


def test_query_parameter_names_are_case_insensitive(raw_client: Any) -> None:
    """`maxResults` pages like `maxresults` and `$Filter` filters like `$filter`: azure-sdk-for-js's
    batch-rest client sends `maxResults`, and the service answered it naming `maxresults` (recorded:
    sdk/batch/batch-rest/recordings, recording_should_fail_to_list_pools_with_invalid_max.json).
    """
    prefix = unique("qcase")
    for suffix in ("a", "b"):
        assert call(raw_client, "POST", "/pools", _linux_pool(f"{prefix}-{suffix}")).status == 201
    page = call(
        raw_client, "GET", "/pools", query={"maxResults": "1", "$Filter": f"startswith(id,'{prefix}')"}
    ).body
    assert [p["id"] for p in page["value"]] == [f"{prefix}-a"] and page.get("odata.nextLink"), page


def test_a_pool_start_task_reads_back_with_its_defaults(raw_client: Any) -> None:
    """A start task sent with only a command line reads back with `waitForSuccess` true, the pool-scoped
    non-admin auto user and no retries, as a pool listed from the service shows it (azure-sdk-for-js
    batch-rest recording_should_list_a_maximum_number_of_pools.json; waitForSuccess "The default is
    true" in the 2025-06-01 spec).
    """
    pool_id = unique("starttask")
    body = _linux_pool(pool_id, startTask={"commandLine": "/bin/sh -c 'echo hello > hello.txt'"})
    assert call(raw_client, "POST", "/pools", body).status == 201
    start = call(raw_client, "GET", f"/pools/{pool_id}").body["startTask"]
    assert start == {
        "commandLine": "/bin/sh -c 'echo hello > hello.txt'",
        "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
        "maxTaskRetryCount": 0,
        "waitForSuccess": True,
    }
