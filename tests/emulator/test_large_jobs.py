"""What large jobs rely on: task lists in id order (as the service lists them, whatever order the tasks
were added in) that page from where they left off (with filters, and with tasks
deleted between pages), dependency ranges far larger than the job, files larger than one write
streamed whole and by range, and the portal's task table paged and filtered.

The costs themselves (a page of a 100,000-task job, RSS while streaming, ticks with a huge range) are
measured side by side in `bench/b9_scale.py`; these tests hold the behaviour those optimisations keep.
"""

from __future__ import annotations

import hashlib
import http.client
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.rest import HttpRequest
from emulator_helpers import pool_options, unique, wait_task, wait_tasks_completed

API = "api-version=2025-06-01"


@pytest.fixture
def idle_job(client: BatchClient) -> Iterator[str]:
    """A job on a pool without nodes: its tasks stay active, so lists see a fixed set."""
    pool_id = unique("nonodes")
    client.create_pool(pool_options(pool_id, nodes=0))
    job_id = unique("big")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    yield job_id
    client.begin_delete_job(job_id, polling_interval=1)
    client.begin_delete_pool(pool_id, polling_interval=1)


def _add(client: BatchClient, job_id: str, ids: list[str]) -> None:
    for i in range(0, len(ids), 100):
        group = [m.BatchTaskCreateOptions(id=t, command_line="/bin/true") for t in ids[i : i + 100]]
        client.create_task_collection(job_id, m.BatchTaskGroup(task_values=group))


def test_task_lists_page_in_id_order_with_filters(client: BatchClient, idle_job: str) -> None:
    ids = [f"t{i:05d}" for i in range(2500)]
    _add(client, idle_job, sorted(ids, key=lambda t: hashlib.sha256(t.encode()).hexdigest()))  # shuffled
    assert [t.id for t in client.list_tasks(idle_job, select=["id"])] == ids
    one = client.send_request(HttpRequest("GET", f"/jobs/{idle_job}/tasks?{API}&maxresults=1")).json()
    assert [t["id"] for t in one["value"]] == ["t00000"] and "odata.nextLink" in one
    chosen = [t.id for t in client.list_tasks(idle_job, filter="id ge 't02000'", max_results=100)]
    assert chosen == ids[2000:]
    # A filter matching nothing ends the listing (possibly after short pages), returning no task.
    assert list(client.list_tasks(idle_job, filter="state eq 'running'")) == []


def test_deleting_tasks_between_pages_loses_or_repeats_nothing(client: BatchClient, idle_job: str) -> None:
    ids = [f"t{i:04d}" for i in range(300)]
    _add(client, idle_job, ids)
    first = client.send_request(HttpRequest("GET", f"/jobs/{idle_job}/tasks?{API}&maxresults=100")).json()
    seen = [t["id"] for t in first["value"]]
    # Delete the last task sent and one of the next page: the continuation still starts right after it.
    client.delete_task(idle_job, "t0099")
    client.delete_task(idle_job, "t0150")
    link = first["odata.nextLink"]
    while link:
        page = client.send_request(HttpRequest("GET", link)).json()
        seen += [t["id"] for t in page["value"]]
        link = page.get("odata.nextLink")
    assert seen == [t for t in ids if t != "t0150"]


def test_dependency_ranges_larger_than_the_job(client: BatchClient, shared_pool: str) -> None:
    job_id = unique("ranges")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool), uses_task_dependencies=True
        )
    )
    ranged = m.BatchTaskDependencies(task_id_ranges=[m.BatchTaskIdRange(start=1, end=3)])
    huge = m.BatchTaskDependencies(task_id_ranges=[m.BatchTaskIdRange(start=1, end=5_000_000)])
    tasks = [
        m.BatchTaskCreateOptions(id="after-range", command_line="/bin/true", depends_on=ranged),
        m.BatchTaskCreateOptions(id="after-huge", command_line="/bin/true", depends_on=huge),
        m.BatchTaskCreateOptions(id="2", command_line="/bin/true"),
        m.BatchTaskCreateOptions(id="03", command_line="/bin/true"),  # not "3": ranges name canonical ids
        m.BatchTaskCreateOptions(id="1", command_line="/bin/true"),
    ]
    try:
        client.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))
        for task_id in ("1", "2", "03"):
            wait_task(client, job_id, task_id)
        assert client.get_task(job_id, "after-range").state == m.BatchTaskState.ACTIVE  # "3" is missing
        client.create_task(job_id, m.BatchTaskCreateOptions(id="3", command_line="/bin/true"))
        done = wait_task(client, job_id, "after-range")
        assert done.execution_info.result == m.BatchTaskExecutionResult.SUCCESS
        assert client.get_task(job_id, "after-huge").state == m.BatchTaskState.ACTIVE
    finally:
        client.begin_delete_job(job_id, polling_interval=1)


def test_a_file_larger_than_a_chunk_is_streamed_whole_and_by_range(client: BatchClient, job: str) -> None:
    size = 5 * 1024 * 1024 + 123  # more than the server's 1 MiB writes, not a multiple of them
    client.create_task(
        job, m.BatchTaskCreateOptions(id="big", command_line=f"/usr/bin/head -c {size} /dev/urandom")
    )
    wait_task(client, job, "big")
    whole = b"".join(client.download_task_file(job, "big", "stdout.txt"))
    assert len(whole) == size
    part = b"".join(
        client.download_task_file(job, "big", "stdout.txt", ocp_range=f"bytes=1048570-{size - 1}")
    )
    assert hashlib.sha256(part).digest() == hashlib.sha256(whole[1048570:]).digest()


def _portal(base: str, path: str) -> str:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200, path
        return resp.read().decode()
    finally:
        conn.close()


def _table(document: str) -> tuple[list[str], list[str]]:
    """The task ids of the page's task table and the links of its pager."""
    table = re.search(r'<table class="tasks">(.*?)</table>', document, re.S)
    ids = re.findall(r'<tr><td><a href="[^"]*/tasks/([^"]+)">', table.group(1)) if table else []
    pager = re.search(r'<p class="pager">(.*?)</p>', document, re.S)
    links = re.findall(r'href="([^"]+)"', pager.group(1).replace("&amp;", "&")) if pager else []
    return ids, links


def test_portal_task_table_pages_and_filters(client: BatchClient, job: str, endpoints: Any) -> None:
    ids = [f"t{i:03d}" for i in range(150)]
    group = [
        m.BatchTaskCreateOptions(id=t, command_line="/bin/false" if i % 10 == 0 else "/bin/true")
        for i, t in enumerate(ids)
    ]
    client.create_task_collection(job, m.BatchTaskGroup(task_values=group[:100]))
    client.create_task_collection(job, m.BatchTaskGroup(task_values=group[100:]))
    tasks = wait_tasks_completed(client, job, timeout=60)
    base = endpoints.batch_url
    first, links = _table(_portal(base, f"/portal/jobs/{job}"))
    assert first == ids[:100] and len(links) == 1 and "after=" in links[0]
    second, links = _table(_portal(base, links[0]))
    assert second == ids[100:] and len(links) == 1 and "after=" not in links[0]  # back to the first page
    failed, _ = _table(_portal(base, f"/portal/jobs/{job}?failed=1"))
    assert failed == ids[::10]
    node = tasks[0].node_info.node_id
    on_node, _ = _table(_portal(base, f"/portal/jobs/{job}?node={node}&state=completed"))
    assert on_node == [t.id for t in tasks if t.node_info.node_id == node]
    assert _table(_portal(base, f"/portal/jobs/{job}?state=running"))[0] == []
