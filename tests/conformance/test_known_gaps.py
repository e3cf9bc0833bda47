"""Known deviations of the emulator from Azure Batch, each asserted as Azure documents or answers it.

These tests fail on the emulator as of this file's commit; they are the acceptance tests of the fidelity
work of issue 14 and are neither marked nor skipped. Each docstring names its source. Requests go through
Microsoft's clients (azure-batch for Python signs the raw requests of `spec_probe.call`; the JavaScript
SDK's scenario run for the DELETE case).
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import spec_examples as examples
from clients import scenario_step
from spec_probe import call, unique


def _linux_pool(pool_id: str, **extra: Any) -> dict[str, Any]:
    return {**examples.pool(pool_id), "targetDedicatedNodes": 0, **extra}


def test_js_sdk_delete_is_accepted(js_scenario: dict[str, Any]) -> None:
    """@azure/batch 10.2.0 deletes the job and the pool it created (202 each).

    Source: the SDK signs DELETE with an empty Content-Length line and sends no Content-Length header;
    "Authorize with Shared Key" (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key,
    which Batch's SharedKey follows) puts the header's value as received, empty when absent, in the
    string to sign. Spec: Jobs_DeleteJob and Pools_DeletePool answer 202. Today: 403 AuthenticationFailed.
    """
    scenario_step(js_scenario, "deleteJob")
    scenario_step(js_scenario, "deletePool")


def test_numbers_sent_as_json_strings_are_converted(raw_client: Any) -> None:
    """`"targetDedicatedNodes": "2"` creates a pool with 2 target nodes, as the service's OData JSON reader
    converts string literals to the declared Int32 (what `az batch pool create --target-dedicated-nodes 2`
    sends; issue 14, measured with the Azure CLI). Spec: Pools_CreatePool 201. Today: 400.
    """
    pool_id = unique("strnum")
    created = call(raw_client, "POST", "/pools", {**_linux_pool(pool_id), "targetDedicatedNodes": "2"})
    assert created.status == 201, created.body
    assert call(raw_client, "GET", f"/pools/{pool_id}").body["targetDedicatedNodes"] == 2


def test_account_node_counts_are_listed(raw_client: Any) -> None:
    """GET /nodecounts answers 200 with a `value` list. Spec: Pools_ListPoolNodeCounts
    (examples/Pools_ListPoolNodeCounts.json). Today: 404.
    """
    answer = call(raw_client, "GET", "/nodecounts")
    assert answer.status == 200 and isinstance(answer.body.get("value"), list), answer.body


def test_supported_images_are_listed(raw_client: Any) -> None:
    """GET /supportedimages answers 200 with a `value` list of images and node agent SKUs.
    Spec: Pools_ListSupportedImages (examples/Pools_ListSupportedImages.json). Today: 404.
    """
    answer = call(raw_client, "GET", "/supportedimages")
    assert answer.status == 200 and answer.body.get("value"), answer.body


def test_one_date_header(endpoints: Any) -> None:
    """Exactly one `Date` header per response. RFC 9110 section 6.6.1 defines Date as a single value; Node's
    HTTP client joins repeated ones into one unparsable value (issue 14). Today: two (the HTTP server's and
    the emulator's). Counted on the raw socket answer of an unauthenticated request.
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
    Azure REST API guidelines (an unsupported api-version is a 400). Today: 200.
    """
    answer = call(raw_client, "GET", "/pools", api_version="1999-01-01.0.0")
    assert answer.status == 400, answer.status


def test_pool_user_passwords_are_never_returned(raw_client: Any) -> None:
    """GET pool returns `userAccounts` without `password`: Azure never returns a write-only secret
    (issue 14, from recorded service traffic; the spec's Pools_GetPool examples carry no password). Today:
    the password comes back, and with it into refresh state and the portal.
    """
    pool_id = unique("users")
    body = _linux_pool(pool_id, userAccounts=[{"name": "worker", "password": "S3cret!pass"}])
    assert call(raw_client, "POST", "/pools", body).status == 201
    accounts = call(raw_client, "GET", f"/pools/{pool_id}").body["userAccounts"]
    assert [a["name"] for a in accounts] == ["worker"]
    assert all("password" not in a for a in accounts), accounts


def test_pools_are_listed_in_id_order(raw_client: Any) -> None:
    """List pools answers in id order, not creation order (issue 14, from recorded service traffic;
    this decides which pools land on which page). Today: creation order.
    """
    prefix = unique("order")
    for suffix in ("c", "a", "b"):
        assert call(raw_client, "POST", "/pools", _linux_pool(f"{prefix}-{suffix}")).status == 201
    listed = call(raw_client, "GET", "/pools", query={"$filter": f"startswith(id,'{prefix}')"}).body["value"]
    assert [p["id"] for p in listed] == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]


def test_action_responses_carry_etag_and_last_modified(raw_client: Any) -> None:
    """A pool resize (202) carries ETag and Last-Modified of the changed pool. Spec: Pools_ResizePool
    declares DataServiceId, ETag, Last-Modified, client-request-id and request-id on its 202 (likewise
    Jobs_TerminateJob, Nodes_RebootNode and the other actions). Today: no ETag, no Last-Modified.
    """
    pool_id = unique("resize")
    assert call(raw_client, "POST", "/pools", _linux_pool(pool_id)).status == 201
    answer = call(raw_client, "POST", f"/pools/{pool_id}/resize", examples.resize())
    assert answer.status == 202
    assert answer.header("ETag") and answer.header("Last-Modified"), answer.headers
    assert answer.header("ETag") == call(raw_client, "GET", f"/pools/{pool_id}").header("ETag")


def test_server_defaults_are_filled_in(raw_client: Any) -> None:
    """A pool created without optional properties is returned with the service's defaults, as in the spec's
    example response examples/Pools_GetPool_Basic.json (2025-06-01): imageReference.version "latest",
    taskSchedulingPolicy.nodeFillType "spread", resizeTimeout "PT15M", enableInterNodeCommunication false,
    targetNodeCommunicationMode "default" (issue 14: otherwise a refresh sees false drift).
    """
    pool_id = unique("defaults")
    body = {
        "id": pool_id, "vmSize": "standard_d2s_v3",
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
            "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        },
    }  # fmt: skip
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
        "version": "latest", "nodeFillType": "spread", "resizeTimeout": "PT15M",
        "enableInterNodeCommunication": False, "targetNodeCommunicationMode": "default",
    }, json.dumps(pool)  # fmt: skip
