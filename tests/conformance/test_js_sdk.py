"""The job preparation/release scenario driven by Microsoft's JavaScript SDK (`@azure/batch`, npm).

A pool of two nodes; a job with a preparation and a release task; four tasks that read what the
preparation task wrote to AZ_BATCH_NODE_SHARED_DIR and upload out.txt to an Azurite container; terminate
the job, after which the release task runs on each node that ran the preparation; delete job and pool.
The SDK (10.2.0, api-version 2022-10-01.16.0, an older version Microsoft's clients still send) is the
installed package from the npm registry; the scenario script only calls its public API. Deleting is
asserted in test_wire_fidelity.py (SharedKey over the headers as received).
"""

from __future__ import annotations

from typing import Any

from clients import scenario_step as _step


def test_sdk_is_the_registry_package(js_scenario: dict[str, Any]) -> None:
    assert js_scenario["sdkVersion"] == "10.2.0"
    assert js_scenario["apiVersion"] == "2022-10-01.16.0"


def test_pool_of_two_nodes_comes_up(js_scenario: dict[str, Any]) -> None:
    _step(js_scenario, "createPool")
    assert len(_step(js_scenario, "nodesIdle")) == 2


def test_four_tasks_read_the_preparation_output_and_succeed(js_scenario: dict[str, Any]) -> None:
    _step(js_scenario, "createJob")
    added = _step(js_scenario, "addTaskCollection")
    assert sorted(a["taskId"] for a in added) == ["t1", "t2", "t3", "t4"]
    assert {a["status"] for a in added} == {"success"}  # TaskAddStatus in the SDK's own enum
    tasks = _step(js_scenario, "tasksCompleted")
    assert [(t["id"], t["exitCode"], t["result"]) for t in sorted(tasks, key=lambda t: t["id"])] == [
        (f"t{i}", 0, "success") for i in range(1, 5)
    ]


def test_output_files_reach_the_container(js_scenario: dict[str, Any]) -> None:
    tasks = {t["id"]: t["nodeId"] for t in _step(js_scenario, "tasksCompleted")}
    blobs = js_scenario["blobs"]
    assert sorted(blobs) == [f"t{i}/out.txt" for i in range(1, 5)]
    for task_id, node_id in tasks.items():
        assert blobs[f"{task_id}/out.txt"] == f"prepared-{node_id}\n{task_id}\n"


def test_terminate_runs_the_release_task_on_every_prepared_node(js_scenario: dict[str, Any]) -> None:
    _step(js_scenario, "terminateJob")
    entries = _step(js_scenario, "releaseCompleted")
    used = {t["nodeId"] for t in _step(js_scenario, "tasksCompleted")}
    assert {e["nodeId"] for e in entries} == used
    assert all(e["prep"] == "completed" and e["prepExit"] == 0 and e["releaseExit"] == 0 for e in entries)
    assert _step(js_scenario, "jobState") == "completed"
