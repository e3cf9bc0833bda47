"""Wire protocol: SharedKey failures, pools and nodes, paging, $filter/$select, fault injection."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from emulator_helpers import LINUX, admin, pool_options, unique, wait_for, wait_task

API = "api-version=2025-06-01"


def _raw(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# ---- authentication ------------------------------------------------------------------------------


def test_wrong_key_is_403_with_detail(endpoints: Any) -> None:
    bad = BatchClient(
        endpoint=endpoints.batch_url,
        retry_total=0,
        credential=AzureNamedKeyCredential(
            endpoints.batch_account_name, "AAAA" + endpoints.batch_account_key[4:]
        ),
    )
    with pytest.raises(HttpResponseError) as err:
        list(bad.list_jobs())
    assert err.value.status_code == 403 and err.value.error.code == "AuthenticationFailed"
    assert err.value.error.details[0].code == "AuthenticationErrorDetail"
    assert "string to sign" in err.value.error.details[0].message


def test_wrong_account_and_stale_date_are_403(endpoints: Any, client: BatchClient) -> None:
    other = BatchClient(
        endpoint=endpoints.batch_url,
        retry_total=0,
        credential=AzureNamedKeyCredential("someoneelse", endpoints.batch_account_key),
    )
    with pytest.raises(HttpResponseError) as err:
        list(other.list_pools())
    assert err.value.status_code == 403
    with pytest.raises(HttpResponseError) as err:
        list(client.list_pools(ocp_date=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)))
    assert err.value.status_code == 403 and err.value.error.code == "AuthenticationFailed"


def test_missing_and_malformed_authorization(endpoints: Any) -> None:
    status, body = _raw(f"{endpoints.batch_url}/jobs?{API}")
    assert status == 403 and body["code"] == "AuthenticationFailed"
    assert body["message"]["lang"] == "en-US" and "RequestId:" in body["message"]["value"]
    assert body["values"][0]["key"] == "AuthenticationErrorDetail"
    status, body = _raw(f"{endpoints.batch_url}/jobs?{API}", {"Authorization": "Bearer abc"})
    assert status == 400 and body["code"] == "InvalidAuthenticationInfo"
    status, body = _raw(f"{endpoints.batch_url}/_localbatch/health")
    assert status == 200 and body["status"] == "ok"


def test_signature_covers_encoded_paths_and_query(client: BatchClient, job: str) -> None:
    # A filter with spaces/quotes and a select: the query is signed with decoded values, sorted names.
    client.create_task(job, m.BatchTaskCreateOptions(id="a b".replace(" ", "_"), command_line="/bin/true"))
    found = list(
        client.list_tasks(job, filter="id eq 'a_b'", select=["id", "state"], max_results=5, timeout=30)
    )
    assert [t.id for t in found] == ["a_b"]


# ---- pools and nodes -----------------------------------------------------------------------------


def test_pool_lifecycle_and_errors(client: BatchClient) -> None:
    pool_id = unique("pool")
    client.create_pool(
        pool_options(
            pool_id,
            nodes=2,
            task_slots_per_node=2,
            task_scheduling_policy=m.BatchTaskSchedulingPolicy(node_fill_type="pack"),
        )
    )
    pool = client.get_pool(pool_id)
    assert (pool.state, pool.allocation_state, pool.current_dedicated_nodes) == ("active", "steady", 2)
    assert pool.task_slots_per_node == 2 and pool.resize_timeout == dt.timedelta(minutes=15)
    assert client.pool_exists(pool_id) is True
    with pytest.raises(ResourceNotFoundError):
        client.pool_exists(unique("absent"))  # the SDK raises rather than returning False
    with pytest.raises(ResourceExistsError) as err:
        client.create_pool(pool_options(pool_id.upper()))
    assert err.value.error.code == "PoolExists"
    nodes = list(client.list_nodes(pool_id))
    assert len(nodes) == 2 and all(n.state == "idle" and n.scheduling_state == "enabled" for n in nodes)
    assert client.get_node(pool_id, nodes[0].id).affinity_id == f"TVM:{nodes[0].id}"
    # Pack: two single-slot tasks share one node while the other stays idle.
    job_id = unique("pack")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_task_collection(
        job_id,
        m.BatchTaskGroup(
            task_values=[m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/sleep 30") for i in range(2)]
        ),
    )
    running = wait_for(
        lambda: (ts := [t for t in client.list_tasks(job_id) if t.state == "running"]) and len(ts) == 2 and ts
    )
    assert len({t.node_info.node_id for t in running}) == 1
    busy = client.get_node(pool_id, running[0].node_info.node_id)
    assert busy.state == "running" and busy.running_task_slots_count == 2
    # Delete: deleting before the 202, running tasks requeued, then 404.
    poller = client.begin_delete_pool(pool_id, polling_interval=0.1)
    with contextlib.suppress(ResourceNotFoundError):  # killed tasks requeue in ms; it may be gone already
        assert client.get_pool(pool_id).state == "deleting"
    poller.result()
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_pool(pool_id)
    assert gone.value.error.code == "PoolNotFound"
    for task in client.list_tasks(job_id):
        assert task.state == "active" and task.execution_info.requeue_count == 1
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_windows_and_invalid_pools_are_refused(client: BatchClient) -> None:
    win = m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(
            publisher="microsoftwindowsserver", offer="windowsserver", sku="2022-datacenter"
        ),
        node_agent_sku_id="batch.node.windows amd64",
    )
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(
            m.BatchPoolCreateOptions(
                id=unique("win"), vm_size="standard_d2s_v3", virtual_machine_configuration=win
            )
        )
    assert err.value.status_code == 400 and err.value.error.code == "UnsupportedProperty"
    assert any("Windows" in d.message for d in err.value.error.details)
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(m.BatchPoolCreateOptions(id=unique("novm"), virtual_machine_configuration=LINUX))
    assert err.value.error.code == "MissingRequiredProperty"


def test_start_task(client: BatchClient) -> None:
    ok, bad = unique("start-ok"), unique("start-bad")
    client.create_pool(
        pool_options(
            ok,
            start_task=m.BatchStartTask(
                command_line="/bin/sh -c 'sleep 0.3; echo ready > $AZ_BATCH_NODE_SHARED_DIR/started'",
                wait_for_success=True,
            ),
        )
    )
    client.create_pool(pool_options(bad, start_task=m.BatchStartTask(command_line="/bin/sh -c 'exit 7'")))
    node = next(iter(client.list_nodes(ok)))
    assert node.state in ("waitingforstarttask", "idle")
    node = wait_for(lambda: (n := client.get_node(ok, node.id)).state == "idle" and n)
    assert node.start_task_info.exit_code == 0 and node.start_task_info.result == "success"
    assert b"".join(client.download_node_file(ok, node.id, "shared/started")) == b"ready\n"
    failed = wait_for(lambda: (n := next(iter(client.list_nodes(bad)))).state == "starttaskfailed" and n)
    assert (
        failed.start_task_info.exit_code == 7
        and failed.start_task_info.failure_info.code == "FailureExitCode"
    )
    for pool_id in (ok, bad):
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- paging, $filter, $select ---------------------------------------------------------------------


def test_paging_filter_select(client: BatchClient, job: str) -> None:
    client.create_task_collection(
        job,
        m.BatchTaskGroup(
            task_values=[
                m.BatchTaskCreateOptions(
                    id=name, command_line="/bin/true" if name != "c" else "/bin/sleep 30"
                )
                for name in "abcde"
            ]
        ),
    )
    wait_task(client, job, "a")
    wait_task(client, job, "e")
    # The SDK follows odata.nextLink page by page.
    assert [t.id for t in client.list_tasks(job, max_results=2)] == list("abcde")
    first = client.send_request(HttpRequest("GET", f"/jobs/{job}/tasks?{API}&maxresults=2"))
    assert first.status_code == 200 and "odata.nextLink" in first.json() and len(first.json()["value"]) == 2
    assert [t.id for t in client.list_tasks(job, filter="state eq 'running'")] == ["c"]
    assert [t.id for t in client.list_tasks(job, filter="id ge 'b' and id lt 'd'")] == ["b", "c"]
    assert [
        t.id for t in client.list_tasks(job, filter="state eq 'completed' or id eq 'c'", max_results=1)
    ] == list("abcde")
    selected = client.send_request(HttpRequest("GET", f"/jobs/{job}/tasks?{API}&$select=id,state")).json()[
        "value"
    ]
    assert set(selected[0]) == {"id", "state"}
    with pytest.raises(HttpResponseError) as err:
        list(client.list_tasks(job, filter="state wibble 'x'"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidQueryParameterValue"
    with pytest.raises(HttpResponseError) as err:
        list(client.list_tasks(job, max_results=5000))
    assert err.value.status_code == 400
    client.terminate_task(job, "c")


# ---- fault injection ------------------------------------------------------------------------------


def test_fault_429_without_retry_after_then_normal(client: BatchClient, endpoints: Any, job: str) -> None:
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 1, "status": 429, "retryAfter": None, "method": "GET", "pathRegex": f"^/jobs/{job}$"},
    )
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job)
    assert err.value.status_code == 429 and "Retry-After" not in err.value.response.headers
    assert client.get_job(job).id == job, "only the next matching request fails"


def test_fault_503_with_retry_after_is_retried_by_the_sdk(
    make_batch_client: Any, endpoints: Any, job: str
) -> None:
    retrying = make_batch_client(retry_backoff_factor=0.01)
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 2, "status": 503, "retryAfter": 0.1, "pathRegex": f"^/jobs/{job}/tasks$"},
    )
    retrying.create_task(job, m.BatchTaskCreateOptions(id="after-503", command_line="/bin/true"))
    assert retrying.get_task(job, "after-503").id == "after-503"
    assert admin(endpoints.batch_url, "GET", "/_localbatch/faults")["faults"] == []


def test_fault_drop_and_header(client: BatchClient, endpoints: Any, job: str) -> None:
    admin(
        endpoints.batch_url,
        "POST",
        "/_localbatch/faults",
        {"count": 1, "status": "drop", "pathRegex": f"^/jobs/{job}$"},
    )
    with pytest.raises((ServiceResponseError, ServiceRequestError)):
        client.get_job(job)
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job, headers={"x-localbatch-fault": "429; retry-after=3"})
    assert err.value.status_code == 429 and err.value.response.headers["Retry-After"] == "3"
    with pytest.raises(HttpResponseError) as err:
        client.get_job(job, headers={"x-localbatch-fault": "503"})
    assert err.value.status_code == 503 and err.value.error.code == "ServerBusy"
    assert client.get_job(job).state == "active"
