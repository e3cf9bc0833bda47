"""Probe every operation of the Batch data plane 2025-06-01 against a running emulator, from outside.

Owns the per-operation requests (built from the spec's path templates and, where the spec has one, its
x-ms-examples request bodies, see `spec_examples.py`) and the verdict on each answer: declared success status,
declared response headers, exactly one `Date`, `client-request-id` echoed. Used by `test_operations.py`
and by `scripts/conformance_report.py` (docs/emulator-conformance.md). Requests are signed by Microsoft's azure-batch client
(`BatchClient.send_request`); nothing here imports the emulator. May import azure-batch, azure-core and
the sibling modules `spec_operations` and `spec_examples` (by bare name: tests/conformance is on sys.path).
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import spec_examples as examples
from azure.batch import BatchClient
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from spec_operations import load

# Ids and polling as the emulator's black-box tests do them (one helper for both suites).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from emulator_helpers import unique, wait_for  # noqa: E402

API_VERSION = "2025-06-01"
SLEEP = "/bin/sh -c 'sleep 30'"  # a task still running when the probe acts on it


@dataclass
class Answer:
    """One HTTP answer as received: status, every header value (lower-cased names, repeats kept), body."""

    status: int
    headers: dict[str, list[str]]
    body: Any
    sent_client_request_id: str = ""

    @property
    def error_code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def call(
    client: BatchClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    api_version: str = API_VERSION,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    raw_body: str | bytes | None = None,
) -> Answer:
    """Send one signed request and keep the raw headers (a joined duplicate would hide a second `Date`).

    `raw_body` is sent as it is (hostile input a JSON serializer cannot produce), instead of `body`.
    """
    request_id = str(uuid.uuid4())
    sent = {"client-request-id": request_id, "return-client-request-id": "true", **(headers or {})}
    content = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if content is not None:
        sent.setdefault("Content-Type", "application/json; odata=minimalmetadata")
    request = HttpRequest(
        method,
        path,
        params={"api-version": api_version, **(query or {})},
        headers=sent,
        content=content,
    )
    try:
        response = client.send_request(request)
    except HttpResponseError as err:  # the client's error policy raises on non-2xx; the answer rides along
        response = err.response
    # The transport's urllib3 response keeps repeated headers apart (requests would join two `Date`s).
    raw = response._internal_response.raw  # type: ignore[union-attr]
    seen: dict[str, list[str]] = {}
    for name, value in raw.headers.items():
        seen.setdefault(name.lower(), []).append(value)
    data = response.read()  # type: ignore[union-attr]
    try:
        parsed: Any = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return Answer(response.status_code, seen, parsed, request_id)  # type: ignore[union-attr]


class World:
    """The resources the probes act on, created through the REST API with the spec's example bodies."""

    def __init__(self, client: BatchClient, container_url: str) -> None:
        self.client = client
        self.container_url = container_url
        self.pool = self.new_pool()
        self.node = self.nodes(self.pool)[0]
        self.job = self.new_job(self.pool)
        self.task = self.new_task(self.job, "/bin/sh -c 'echo hello'")
        self.wait_task(self.job, self.task)

    def ok(self, answer: Answer, what: str) -> Answer:
        if answer.status >= 300:
            raise AssertionError(f"{what} answered {answer.status} {answer.error_code or ''}".rstrip())
        return answer

    def new_pool(self, nodes: int = 1) -> str:
        body = examples.pool(unique("pool"))
        body["targetDedicatedNodes"] = nodes
        self.ok(call(self.client, "POST", "/pools", body), "create pool")
        wait_for(lambda: len(self.nodes(body["id"], "idle")) == nodes)
        return str(body["id"])

    def nodes(self, pool_id: str, state: str | None = None) -> list[str]:
        answer = self.ok(call(self.client, "GET", f"/pools/{pool_id}/nodes"), "list nodes")
        return [n["id"] for n in answer.body["value"] if state is None or n["state"] == state]

    def new_job(self, pool_id: str) -> str:
        body = examples.job(unique("job"), pool_id)
        self.ok(call(self.client, "POST", "/jobs", body), "create job")
        return str(body["id"])

    def new_task(self, job_id: str, command_line: str | None = None) -> str:
        body = examples.task(unique("task"))
        if command_line:  # the example's `cmd /c` line is for Windows nodes; this one runs on Linux
            body["commandLine"] = command_line
        self.ok(call(self.client, "POST", f"/jobs/{job_id}/tasks", body), "create task")
        return str(body["id"])

    def wait_task(self, job_id: str, task_id: str) -> None:
        wait_for(
            lambda: (
                call(self.client, "GET", f"/jobs/{job_id}/tasks/{task_id}").body.get("state") == "completed"
            ),
        )

    def node_file(self, pool_id: str, node_id: str) -> str:
        answer = self.ok(
            call(self.client, "GET", f"/pools/{pool_id}/nodes/{node_id}/files", query={"recursive": "true"}),
            "list node files",
        )
        files = [f["name"] for f in answer.body["value"] if not f.get("isDirectory")]
        if not files:
            raise AssertionError(f"no file on node {node_id}")
        return str(files[-1])


@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


# One builder per operationId: the concrete request for the operation, acting on fresh resources where
# the operation destroys or changes state other probes rely on.
def _requests(w: World) -> dict[str, Callable[[], Request]]:
    p, n, j, t = w.pool, w.node, w.job, w.task
    q = quote

    def fresh_task_file() -> str:
        task = w.new_task(j, "/bin/sh -c 'echo bye'")
        w.wait_task(j, task)
        return f"/jobs/{j}/tasks/{task}/files/stdout.txt"

    def schedule() -> str:
        sid = unique("sched")
        w.ok(call(w.client, "POST", "/jobschedules", examples.job_schedule(sid, p)), "create job schedule")
        return sid

    def user_node() -> tuple[str, str]:
        name = unique("u")[:20]
        body = {"name": name, "isAdmin": False, "password": "P4ssw0rd!x"}
        w.ok(call(w.client, "POST", f"/pools/{p}/nodes/{n}/users", body), "create node user")
        return n, name

    def autoscale_pool() -> str:
        pool = w.new_pool()
        w.ok(
            call(w.client, "POST", f"/pools/{pool}/enableautoscale", examples.enable_autoscale()),
            "enable autoscale",
        )
        return pool

    def terminated_task() -> str:
        task = w.new_task(j, SLEEP)
        w.ok(call(w.client, "POST", f"/jobs/{j}/tasks/{task}/terminate"), "terminate task")
        return task

    def scratch_node_file() -> str:
        # A file a finished task left on a node of a pool no other probe reads.
        pool = w.new_pool()
        job = w.new_job(pool)
        task = w.new_task(job, "/bin/sh -c 'echo scratch'")
        w.wait_task(job, task)
        node = call(w.client, "GET", f"/jobs/{job}/tasks/{task}").body["nodeInfo"]["nodeId"]
        return f"/pools/{pool}/nodes/{node}/files/{q(w.node_file(pool, node), safe='')}"

    def prep_job() -> str:
        # Without a preparation task the answer is 409 JobPreparationTaskOrReleaseTaskNotSpecified.
        body = {**examples.job(unique("job"), p), "jobPreparationTask": {"commandLine": "/bin/true"}}
        w.ok(call(w.client, "POST", "/jobs", body), "create job with preparation task")
        task = w.new_task(body["id"], "/bin/true")
        w.wait_task(body["id"], task)
        return str(body["id"])

    def upload_logs() -> Any:
        return {"containerUrl": w.container_url, "startTime": "2025-01-01T00:00:00Z"}

    return {
        "Applications_ListApplications": lambda: Request("GET", "/applications"),
        "Applications_GetApplication": lambda: Request("GET", "/applications/nosuchapp"),
        "Pools_ListPoolUsageMetrics": lambda: Request("GET", "/poolusagemetrics"),
        "Pools_ListSupportedImages": lambda: Request("GET", "/supportedimages"),
        "Pools_ListPoolNodeCounts": lambda: Request("GET", "/nodecounts"),
        "Pools_CreatePool": lambda: Request("POST", "/pools", examples.pool(unique("pool"))),
        "Pools_ListPools": lambda: Request("GET", "/pools"),
        "Pools_DeletePool": lambda: Request("DELETE", f"/pools/{w.new_pool()}"),
        "Pools_PoolExists": lambda: Request("HEAD", f"/pools/{p}"),
        "Pools_GetPool": lambda: Request("GET", f"/pools/{p}"),
        "Pools_UpdatePool": lambda: Request(
            "PATCH", f"/pools/{p}", {"metadata": [{"name": "k", "value": "v"}]}
        ),
        "Pools_ReplacePoolProperties": lambda: Request(
            "POST",
            f"/pools/{p}/updateproperties",
            {"certificateReferences": [], "applicationPackageReferences": [], "metadata": []},
        ),
        "Pools_EnablePoolAutoScale": lambda: Request(
            "POST", f"/pools/{w.new_pool()}/enableautoscale", examples.enable_autoscale()
        ),
        "Pools_EvaluatePoolAutoScale": lambda: Request(
            "POST",
            f"/pools/{autoscale_pool()}/evaluateautoscale",
            {"autoScaleFormula": "$TargetDedicatedNodes=1"},
        ),
        "Pools_DisablePoolAutoScale": lambda: Request("POST", f"/pools/{autoscale_pool()}/disableautoscale"),
        "Pools_ResizePool": lambda: Request("POST", f"/pools/{w.new_pool()}/resize", examples.resize()),
        "Pools_StopPoolResize": lambda: Request("POST", f"/pools/{w.new_pool()}/stopresize"),
        "Pools_RemoveNodes": lambda: (
            lambda pool: Request("POST", f"/pools/{pool}/removenodes", {"nodeList": w.nodes(pool)[:1]})
        )(w.new_pool(2)),
        "Jobs_ListJobs": lambda: Request("GET", "/jobs"),
        "Jobs_CreateJob": lambda: Request("POST", "/jobs", examples.job(unique("job"), p)),
        "Jobs_DeleteJob": lambda: Request("DELETE", f"/jobs/{w.new_job(p)}"),
        "Jobs_GetJob": lambda: Request("GET", f"/jobs/{j}"),
        "Jobs_UpdateJob": lambda: Request("PATCH", f"/jobs/{j}", {"priority": 1}),
        "Jobs_ReplaceJob": lambda: Request("PUT", f"/jobs/{j}", {"poolInfo": {"poolId": p}, "priority": 0}),
        "Jobs_DisableJob": lambda: Request(
            "POST", f"/jobs/{w.new_job(p)}/disable", {"disableTasks": "requeue"}
        ),
        "Jobs_EnableJob": lambda: (
            lambda job: (
                w.ok(
                    call(w.client, "POST", f"/jobs/{job}/disable", {"disableTasks": "requeue"}), "disable job"
                ),
                Request("POST", f"/jobs/{job}/enable"),
            )[1]
        )(w.new_job(p)),
        "Jobs_TerminateJob": lambda: Request(
            "POST", f"/jobs/{w.new_job(p)}/terminate", {"terminateReason": "probe"}
        ),
        "Jobs_ListJobPreparationAndReleaseTaskStatus": lambda: Request(
            "GET", f"/jobs/{prep_job()}/jobpreparationandreleasetaskstatus"
        ),
        "Jobs_GetJobTaskCounts": lambda: Request("GET", f"/jobs/{j}/taskcounts"),
        "Jobs_ListJobsFromSchedule": lambda: Request("GET", f"/jobschedules/{schedule()}/jobs"),
        "JobSchedules_ListJobSchedules": lambda: Request("GET", "/jobschedules"),
        "JobSchedules_CreateJobSchedule": lambda: Request(
            "POST", "/jobschedules", examples.job_schedule(unique("sched"), p)
        ),
        "JobSchedules_DeleteJobSchedule": lambda: Request("DELETE", f"/jobschedules/{schedule()}"),
        "JobSchedules_GetJobSchedule": lambda: Request("GET", f"/jobschedules/{schedule()}"),
        "JobSchedules_JobScheduleExists": lambda: Request("HEAD", f"/jobschedules/{schedule()}"),
        "JobSchedules_UpdateJobSchedule": lambda: Request(
            "PATCH", f"/jobschedules/{schedule()}", {"metadata": []}
        ),
        "JobSchedules_ReplaceJobSchedule": lambda: Request(
            "PUT",
            f"/jobschedules/{schedule()}",
            {"schedule": {"recurrenceInterval": "PT2H"}, "jobSpecification": {"poolInfo": {"poolId": p}}},
        ),
        "JobSchedules_DisableJobSchedule": lambda: Request("POST", f"/jobschedules/{schedule()}/disable"),
        "JobSchedules_EnableJobSchedule": lambda: (
            lambda sid: (
                w.ok(call(w.client, "POST", f"/jobschedules/{sid}/disable"), "disable schedule"),
                Request("POST", f"/jobschedules/{sid}/enable"),
            )[1]
        )(schedule()),
        "JobSchedules_TerminateJobSchedule": lambda: Request("POST", f"/jobschedules/{schedule()}/terminate"),
        "Tasks_CreateTask": lambda: Request(
            "POST", f"/jobs/{w.new_job(p)}/tasks", examples.task(unique("task"))
        ),
        "Tasks_ListTasks": lambda: Request("GET", f"/jobs/{j}/tasks"),
        "Tasks_CreateTaskCollection": lambda: Request(
            "POST", f"/jobs/{w.new_job(p)}/addtaskcollection", examples.task_collection()
        ),
        "Tasks_DeleteTask": lambda: Request("DELETE", f"/jobs/{j}/tasks/{w.new_task(j, '/bin/true')}"),
        "Tasks_GetTask": lambda: Request("GET", f"/jobs/{j}/tasks/{t}"),
        "Tasks_ReplaceTask": lambda: Request(
            "PUT", f"/jobs/{j}/tasks/{t}", {"constraints": {"maxTaskRetryCount": 1}}
        ),
        "Tasks_ListSubTasks": lambda: Request("GET", f"/jobs/{j}/tasks/{t}/subtasksinfo"),
        "Tasks_TerminateTask": lambda: Request("POST", f"/jobs/{j}/tasks/{w.new_task(j, SLEEP)}/terminate"),
        "Tasks_ReactivateTask": lambda: Request("POST", f"/jobs/{j}/tasks/{terminated_task()}/reactivate"),
        "Tasks_DeleteTaskFile": lambda: Request("DELETE", fresh_task_file()),
        "Tasks_GetTaskFile": lambda: Request("GET", f"/jobs/{j}/tasks/{t}/files/stdout.txt"),
        "Tasks_GetTaskFileProperties": lambda: Request("HEAD", f"/jobs/{j}/tasks/{t}/files/stdout.txt"),
        "Tasks_ListTaskFiles": lambda: Request("GET", f"/jobs/{j}/tasks/{t}/files"),
        "Nodes_CreateNodeUser": lambda: Request(
            "POST",
            f"/pools/{p}/nodes/{n}/users",
            {"name": unique("u")[:20], "isAdmin": False, "password": "P4ssw0rd!x"},
        ),
        "Nodes_DeleteNodeUser": lambda: (
            lambda nu: Request("DELETE", f"/pools/{p}/nodes/{nu[0]}/users/{nu[1]}")
        )(user_node()),
        "Nodes_ReplaceNodeUser": lambda: (
            lambda nu: Request("PUT", f"/pools/{p}/nodes/{nu[0]}/users/{nu[1]}", {"password": "N3wP4ssw0rd!"})
        )(user_node()),
        "Nodes_GetNode": lambda: Request("GET", f"/pools/{p}/nodes/{n}"),
        "Nodes_RebootNode": lambda: (
            lambda pool: Request("POST", f"/pools/{pool}/nodes/{w.nodes(pool)[0]}/reboot")
        )(w.new_pool()),
        "Nodes_ReimageNode": lambda: (
            lambda pool: Request("POST", f"/pools/{pool}/nodes/{w.nodes(pool)[0]}/reimage")
        )(w.new_pool()),
        "Nodes_DeallocateNode": lambda: (
            lambda pool: Request("POST", f"/pools/{pool}/nodes/{w.nodes(pool)[0]}/deallocate")
        )(w.new_pool()),
        "Nodes_StartNode": lambda: (
            lambda pool: (
                lambda node: (
                    w.ok(call(w.client, "POST", f"/pools/{pool}/nodes/{node}/deallocate"), "deallocate node"),
                    Request("POST", f"/pools/{pool}/nodes/{node}/start"),
                )[1]
            )(w.nodes(pool)[0])
        )(w.new_pool()),
        "Nodes_DisableNodeScheduling": lambda: (
            lambda pool: Request(
                "POST",
                f"/pools/{pool}/nodes/{w.nodes(pool)[0]}/disablescheduling",
                {"nodeDisableSchedulingOption": "requeue"},
            )
        )(w.new_pool()),
        "Nodes_EnableNodeScheduling": lambda: Request("POST", f"/pools/{p}/nodes/{n}/enablescheduling"),
        "Nodes_GetNodeRemoteLoginSettings": lambda: Request(
            "GET", f"/pools/{p}/nodes/{n}/remoteloginsettings"
        ),
        "Nodes_UploadNodeLogs": lambda: Request(
            "POST", f"/pools/{p}/nodes/{n}/uploadbatchservicelogs", upload_logs()
        ),
        "Nodes_ListNodes": lambda: Request("GET", f"/pools/{p}/nodes"),
        "Nodes_GetNodeExtension": lambda: Request("GET", f"/pools/{p}/nodes/{n}/extensions/nosuchextension"),
        "Nodes_ListNodeExtensions": lambda: Request("GET", f"/pools/{p}/nodes/{n}/extensions"),
        "Nodes_DeleteNodeFile": lambda: Request("DELETE", scratch_node_file()),
        "Nodes_GetNodeFile": lambda: Request(
            "GET", f"/pools/{p}/nodes/{n}/files/{q(w.node_file(p, n), safe='')}"
        ),
        "Nodes_GetNodeFileProperties": lambda: Request(
            "HEAD", f"/pools/{p}/nodes/{n}/files/{q(w.node_file(p, n), safe='')}"
        ),
        "Nodes_ListNodeFiles": lambda: Request("GET", f"/pools/{p}/nodes/{n}/files"),
    }


# Where the spec's success status cannot be reached without data only the management plane creates
# (applications, VM extensions), the documented not-found answer is the expected one.
EXPECTED_NOT_FOUND = {
    "Applications_GetApplication": "ApplicationNotFound",  # BatchErrorCodeStrings (Java/.NET Batch SDKs)
}
# Always expected on every answer; the rest of a list operation's declared headers (ETag, Last-Modified)
# are reported but not graded, since a list has no single entity to version.
# Reachable only with data this plane cannot create (VM extensions need a pool with extensions, which the
# request then also tests); graded on routing alone: a routed 404 counts as the documented answer.
ROUTE_ONLY = {"Nodes_GetNodeExtension"}
ALWAYS = ["request-id", "client-request-id"]
GENERIC_NOT_FOUND = "ResourceNotFound"


@dataclass
class Verdict:
    operation: dict[str, Any]
    request: Request | None
    answer: Answer | None
    expected_status: int
    expected_code: str | None = None
    setup_error: str | None = None

    @property
    def status_ok(self) -> bool:
        if self.answer is None:
            return False
        if self.expected_code:
            return self.answer.status == 404 and self.answer.error_code == self.expected_code
        if self.operation["operationId"] in ROUTE_ONLY:
            return self.routed and self.answer.status in (self.expected_status, 404)
        return self.answer.status == self.expected_status

    @property
    def routed(self) -> bool:
        a = self.answer
        return a is not None and not (
            a.status == 405 or (a.status == 404 and a.error_code == GENERIC_NOT_FOUND)
        )

    def graded_headers(self) -> list[str]:
        declared = self.operation["headers"]
        # An error answer (an expected not-found, or a routed 404 of ROUTE_ONLY) names no entity.
        errored = self.answer is not None and self.answer.status >= 400
        if self.operation["pageable"] or self.expected_code or not self.status_ok or errored:
            return ALWAYS
        return [h for h in declared if h.lower() != "content-type"] + ["client-request-id"]

    def missing_headers(self) -> list[str]:
        if self.answer is None:
            return []
        return sorted({h for h in self.graded_headers() if not self.answer.header(h)})

    def ungraded_missing(self) -> list[str]:
        if self.answer is None:
            return []
        return sorted(
            {h for h in self.operation["headers"] if not self.answer.header(h)} - set(self.graded_headers())
        )

    def header_problems(self) -> list[str]:
        """Everything wrong with the headers of a successful answer, in words."""
        a = self.answer
        if a is None:
            return []
        problems = [f"missing {h}" for h in self.missing_headers()]
        if len(a.headers.get("date", [])) != 1:
            problems.append(f"{len(a.headers.get('date', []))} Date headers")
        echoed = a.header("client-request-id")
        if echoed and echoed != a.sent_client_request_id:
            problems.append("client-request-id not echoed as sent")
        return problems

    def summary(self) -> str:
        if self.setup_error:
            return f"blocked: {self.setup_error}"
        a = self.answer
        assert a is not None
        if self.status_ok:
            return "ok"
        if not self.routed:
            return f"{a.status} (not routed)"
        return f"{a.status} {a.error_code or ''}".strip()


def probe_all(client: BatchClient, container_url: str) -> list[Verdict]:
    """Create the resources, send one request per operation, and judge each answer."""
    world = World(client, container_url)
    builders = _requests(world)
    verdicts = []
    for op in load()["operations"]:
        expected_code = EXPECTED_NOT_FOUND.get(op["operationId"])
        build = builders[op["operationId"]]
        try:
            request = build()
        except Exception as err:  # a setup step the emulator refused: recorded, not raised
            verdicts.append(Verdict(op, None, None, op["status"], expected_code, setup_error=str(err)[:200]))
            continue
        answer = call(client, request.method, request.path, copy.deepcopy(request.body), query=request.query)
        verdicts.append(Verdict(op, request, answer, op["status"], expected_code))
    return verdicts
