"""OData query options through the SDK (rest/odata.py): paging, $filter, $select."""

from __future__ import annotations

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import (
    HttpResponseError,
)
from azure.core.rest import HttpRequest
from emulator_helpers import wait_task

API = "api-version=2025-06-01"


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
