"""SharedKey authentication of the emulator (auth.py): wrong keys, accounts, dates, encoded paths."""

from __future__ import annotations

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
)

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
