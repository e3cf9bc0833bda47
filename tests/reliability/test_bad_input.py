"""Bad input across the layers: each case gets a clear error, before anything exists or from the service.

The unit corpora (tests/test_spec.py for the job model, tests/components/test_config.py for the stack
config) check each rule. Here the same kinds of mistakes travel the real path a user's input takes:

* stack configs and a Job resource through `pulumi preview` of the real engine: the preview fails,
  every problem names its key, and the emulator holds no pool or job afterwards;
* Job inputs through the dynamic provider's `check` (what preview calls), each failure naming the
  input it is about;
* raw REST bodies sent to the Batch emulator, signed by the real SDK, with no client-side model in
  between: each answer is a Batch-shaped 400 (`odata.error` with `code`, `message.value` and the
  `values` naming the property), and the object was not created.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from harness import LocalStack, Project, job_config, job_ids, pool_ids, stack_config, unique

from pulumi_azbatch.localdev import REPO_ROOT, engine_env

API = "2024-07-01.20.0"
POOL = "badinput-pool"
JOB = "badinput-job"
URL = "http://127.0.0.1:10000/devstoreaccount1/c"
VM = {
    "imageReference": {"publisher": "canonical", "offer": "o", "sku": "s"},
    "nodeAgentSKUId": "batch.node.ubuntu 24.04",
}


def _out(**changes: Any) -> dict[str, Any]:
    """A valid output file, changed (a value of None removes the key)."""
    output: dict[str, Any] = {
        "filePattern": "*.txt",
        "destination": {"container": {"containerUrl": URL}},
        "uploadOptions": {"uploadCondition": "tasksuccess"},
    }
    for key, value in changes.items():
        if value is None:
            output.pop(key)
        else:
            output[key] = value
    return output


def _job(**extra: Any) -> dict[str, Any]:
    return {"id": "{new}", "poolInfo": {"poolId": POOL}, **extra}


def _task(**extra: Any) -> dict[str, Any]:
    return {"id": "{new}", "commandLine": "/bin/true", **extra}


def _pool(**extra: Any) -> dict[str, Any]:
    body = {"id": "{new}", "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": VM, **extra}
    return {k: v for k, v in body.items() if v is not None}


PREP = {"commandLine": "/bin/true"}
Case = tuple[str, str, str, Any, str, str | None]
# (case id, method, path, body (bytes are sent as is), expected error code, expected PropertyName)
REST_CASES: list[Case] = [
    # ---- POST /jobs ---------------------------------------------------------------------------------
    ("job-invalid-json", "POST", "/jobs", b"{not json", "InvalidRequestBody", None),
    ("job-empty-body", "POST", "/jobs", b"", "InvalidRequestBody", None),
    ("job-body-is-a-list", "POST", "/jobs", [], "InvalidRequestBody", None),
    ("job-missing-id", "POST", "/jobs", {"poolInfo": {"poolId": POOL}}, "MissingRequiredProperty", "id"),
    ("job-empty-id", "POST", "/jobs", _job(id=""), "MissingRequiredProperty", "id"),
    ("job-id-too-long", "POST", "/jobs", _job(id="j" * 65), "InvalidPropertyValue", "id"),
    ("job-id-bad-characters", "POST", "/jobs", _job(id="my job!"), "InvalidPropertyValue", "id"),
    ("job-missing-pool-info", "POST", "/jobs", {"id": "{new}"}, "MissingRequiredProperty", "poolInfo"),
    (
        "job-pool-info-without-pool",
        "POST",
        "/jobs",
        _job(poolInfo={}),
        "MissingRequiredProperty",
        "poolInfo.poolId",
    ),
    ("job-priority-too-high", "POST", "/jobs", _job(priority=1001), "InvalidPropertyValue", "priority"),
    ("job-priority-not-a-number", "POST", "/jobs", _job(priority="high"), "InvalidPropertyValue", "priority"),
    (
        "job-max-parallel-zero",
        "POST",
        "/jobs",
        _job(maxParallelTasks=0),
        "InvalidPropertyValue",
        "maxParallelTasks",
    ),
    (
        "job-max-parallel-negative",
        "POST",
        "/jobs",
        _job(maxParallelTasks=-5),
        "InvalidPropertyValue",
        "maxParallelTasks",
    ),
    (
        "job-wall-clock-not-iso",
        "POST",
        "/jobs",
        _job(constraints={"maxWallClockTime": "2 hours"}),
        "InvalidPropertyValue",
        "constraints.maxWallClockTime",
    ),
    (
        "job-retry-count-below-minus-one",
        "POST",
        "/jobs",
        _job(constraints={"maxTaskRetryCount": -2}),
        "InvalidPropertyValue",
        "maxTaskRetryCount",
    ),
    (
        "job-unknown-all-tasks-complete",
        "POST",
        "/jobs",
        _job(onAllTasksComplete="sometimes"),
        "InvalidPropertyValue",
        "onAllTasksComplete",
    ),
    (
        "job-unknown-task-failure",
        "POST",
        "/jobs",
        _job(onTaskFailure="explode"),
        "InvalidPropertyValue",
        "onTaskFailure",
    ),
    (
        "job-prep-task-empty",
        "POST",
        "/jobs",
        _job(jobPreparationTask={}),
        "MissingRequiredProperty",
        "jobPreparationTask.commandLine",
    ),
    (
        "job-prep-task-empty-command",
        "POST",
        "/jobs",
        _job(jobPreparationTask={"commandLine": ""}),
        "MissingRequiredProperty",
        "jobPreparationTask.commandLine",
    ),
    (
        "job-release-without-prep",
        "POST",
        "/jobs",
        _job(jobReleaseTask=PREP),
        "InvalidPropertyValue",
        "jobReleaseTask",
    ),
    (
        "job-release-task-empty",
        "POST",
        "/jobs",
        _job(jobPreparationTask=PREP, jobReleaseTask={}),
        "MissingRequiredProperty",
        "jobReleaseTask.commandLine",
    ),
    (
        "job-release-longer-than-15-min",
        "POST",
        "/jobs",
        _job(
            jobPreparationTask=PREP, jobReleaseTask={"commandLine": "/bin/true", "maxWallClockTime": "PT1H"}
        ),
        "InvalidPropertyValue",
        "jobReleaseTask.maxWallClockTime",
    ),
    (
        "job-prep-bad-id",
        "POST",
        "/jobs",
        _job(jobPreparationTask={**PREP, "id": "prep task"}),
        "InvalidPropertyValue",
        "jobPreparationTask.id",
    ),
    (
        "job-prep-bad-retry-count",
        "POST",
        "/jobs",
        _job(jobPreparationTask={**PREP, "constraints": {"maxTaskRetryCount": -5}}),
        "InvalidPropertyValue",
        "maxTaskRetryCount",
    ),
    (
        "job-environment-without-name",
        "POST",
        "/jobs",
        _job(commonEnvironmentSettings=[{"value": "x"}]),
        "MissingRequiredProperty",
        "commonEnvironmentSettings.name",
    ),
    (
        "job-metadata-not-a-list",
        "POST",
        "/jobs",
        _job(metadata={"a": "b"}),
        "InvalidPropertyValue",
        "metadata",
    ),
    (
        "job-manager-task-without-command",
        "POST",
        "/jobs",
        _job(jobManagerTask={"id": "m"}),
        "MissingRequiredProperty",
        "jobManagerTask.commandLine",
    ),
    # ---- POST /jobs/{job}/tasks --------------------------------------------------------------------
    (
        "task-missing-command",
        "POST",
        f"/jobs/{JOB}/tasks",
        {"id": "{new}"},
        "MissingRequiredProperty",
        "task.commandLine",
    ),
    (
        "task-empty-command",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(commandLine=""),
        "MissingRequiredProperty",
        "task.commandLine",
    ),
    ("task-bad-id", "POST", f"/jobs/{JOB}/tasks", _task(id="task 1"), "InvalidPropertyValue", "id"),
    (
        "task-resource-file-without-source",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(resourceFiles=[{"filePath": "x"}]),
        "InvalidPropertyValue",
        "task.resourceFiles",
    ),
    (
        "task-resource-file-two-sources",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(resourceFiles=[{"httpUrl": f"{URL}/a", "storageContainerUrl": URL}]),
        "InvalidPropertyValue",
        "task.resourceFiles",
    ),
    (
        "task-resource-file-escapes-wd",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(resourceFiles=[{"httpUrl": f"{URL}/a", "filePath": "../../escape"}]),
        "InvalidPropertyValue",
        "task.resourceFiles",
    ),
    (
        "task-depends-on-without-dependencies",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(dependsOn={"taskIds": ["t0"]}),
        "TaskDependenciesNotSpecifiedOnJob",
        None,
    ),
    (
        "task-wall-clock-not-iso",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(constraints={"maxWallClockTime": "forever"}),
        "InvalidPropertyValue",
        "task.constraints.maxWallClockTime",
    ),
    (
        "task-zero-slots",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(requiredSlots=0),
        "InvalidPropertyValue",
        "requiredSlots",
    ),
    (
        "task-environment-without-name",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(environmentSettings=[{"value": "v"}]),
        "MissingRequiredProperty",
        "environmentSettings.name",
    ),
    (
        "task-unknown-elevation",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(userIdentity={"autoUser": {"elevationLevel": "root"}}),
        "InvalidPropertyValue",
        "elevationLevel",
    ),
    (
        "task-retry-count-too-high",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(constraints={"maxTaskRetryCount": 1000}),
        "InvalidPropertyValue",
        "maxTaskRetryCount",
    ),
    # ---- output files (the emulator accepted all of these before this suite) --------------------------
    (
        "output-files-not-a-list",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles="*.txt"),
        "InvalidPropertyValue",
        "outputFiles",
    ),
    (
        "output-missing-pattern",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(filePattern=None)]),
        "MissingRequiredProperty",
        "task.outputFiles.filePattern",
    ),
    (
        "output-empty-pattern",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(filePattern="")]),
        "MissingRequiredProperty",
        "task.outputFiles.filePattern",
    ),
    (
        "output-missing-destination",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(destination=None)]),
        "MissingRequiredProperty",
        "task.outputFiles.destination.container.containerUrl",
    ),
    (
        "output-container-without-url",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(destination={"container": {"path": "x"}})]),
        "MissingRequiredProperty",
        "task.outputFiles.destination.container.containerUrl",
    ),
    (
        "output-url-not-absolute",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(destination={"container": {"containerUrl": "results?sig=abc"}})]),
        "InvalidPropertyValue",
        "task.outputFiles.destination.container.containerUrl",
    ),
    (
        "output-url-not-http",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(destination={"container": {"containerUrl": "ftp://host/c"}})]),
        "InvalidPropertyValue",
        "task.outputFiles.destination.container.containerUrl",
    ),
    (
        "output-missing-upload-condition",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(uploadOptions={})]),
        "MissingRequiredProperty",
        "task.outputFiles.uploadOptions.uploadCondition",
    ),
    (
        "output-unknown-upload-condition",
        "POST",
        f"/jobs/{JOB}/tasks",
        _task(outputFiles=[_out(uploadOptions={"uploadCondition": "TaskComplete"})]),
        "InvalidPropertyValue",
        "uploadCondition",
    ),
    (
        "collection-without-value",
        "POST",
        f"/jobs/{JOB}/addtaskcollection",
        {},
        "MissingRequiredProperty",
        "value",
    ),
    # ---- PATCH / PUT /jobs/{job} -----------------------------------------------------------------------
    (
        "update-priority-too-high",
        "PATCH",
        f"/jobs/{JOB}",
        {"priority": 5000},
        "InvalidPropertyValue",
        "priority",
    ),
    (
        "update-unknown-all-tasks-complete",
        "PATCH",
        f"/jobs/{JOB}",
        {"onAllTasksComplete": "sometimes"},
        "InvalidPropertyValue",
        "onAllTasksComplete",
    ),
    (
        "update-max-parallel-zero",
        "PATCH",
        f"/jobs/{JOB}",
        {"maxParallelTasks": 0},
        "InvalidPropertyValue",
        "maxParallelTasks",
    ),
    (
        "replace-without-pool-info",
        "PUT",
        f"/jobs/{JOB}",
        {"priority": 1},
        "MissingRequiredProperty",
        "poolInfo",
    ),
    # ---- POST /pools --------------------------------------------------------------------------------
    ("pool-missing-vm-size", "POST", "/pools", _pool(vmSize=None), "MissingRequiredProperty", "vmSize"),
    (
        "pool-missing-vm-configuration",
        "POST",
        "/pools",
        _pool(virtualMachineConfiguration=None),
        "MissingRequiredProperty",
        "virtualMachineConfiguration",
    ),
    (
        "pool-missing-node-agent",
        "POST",
        "/pools",
        _pool(virtualMachineConfiguration={"imageReference": VM["imageReference"]}),
        "MissingRequiredProperty",
        "virtualMachineConfiguration.nodeAgentSKUId",
    ),
    (
        "pool-negative-nodes",
        "POST",
        "/pools",
        _pool(targetDedicatedNodes=-1),
        "InvalidPropertyValue",
        "targetDedicatedNodes",
    ),
    (
        "pool-zero-slots",
        "POST",
        "/pools",
        _pool(taskSlotsPerNode=0),
        "InvalidPropertyValue",
        "taskSlotsPerNode",
    ),
    ("pool-bad-id", "POST", "/pools", _pool(id="my pool"), "InvalidPropertyValue", "id"),
    (
        "pool-unknown-fill-type",
        "POST",
        "/pools",
        _pool(taskSchedulingPolicy={"nodeFillType": "diagonal"}),
        "InvalidPropertyValue",
        "nodeFillType",
    ),
    (
        "pool-start-task-empty",
        "POST",
        "/pools",
        _pool(startTask={}),
        "MissingRequiredProperty",
        "startTask.commandLine",
    ),
]


@pytest.fixture(scope="module")
def target(local: LocalStack) -> Iterator[LocalStack]:
    """A pool without nodes and a job on it, which the task and update cases address."""
    client = local.client()
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=POOL,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=0,
            virtual_machine_configuration=m.VirtualMachineConfiguration(
                image_reference=m.BatchVmImageReference(publisher="canonical", offer="o", sku="s"),
                node_agent_sku_id="batch.node.ubuntu 24.04",
            ),
        )
    )
    client.create_job(m.BatchJobCreateOptions(id=JOB, pool_info=m.BatchPoolInfo(pool_id=POOL)))
    yield local
    client.begin_delete_job(JOB, polling_interval=0.2).result()
    client.begin_delete_pool(POOL, polling_interval=0.2).result()


def _send(local: LocalStack, method: str, path: str, body: Any) -> Any:
    """A raw request signed by the SDK's SharedKey policy; the HTTP response, whatever its status."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = HttpRequest(
        method,
        f"{local.batch_url}{path}?api-version={API}",
        content=content,
        headers={"Content-Type": "application/json; odata=minimalmetadata"},
    )
    try:
        return local.client().send_request(request)
    except HttpResponseError as exc:  # the SDK's error policy raises; the response is what we check
        return exc.response


def _exists(local: LocalStack, method: str, path: str, new_id: str) -> bool:
    client = local.client()
    try:
        if path == "/jobs":
            client.get_job(new_id)
        elif path == "/pools":
            client.get_pool(new_id)
        elif path.endswith("/tasks"):
            client.get_task(JOB, new_id)
        else:
            return False
    except ResourceNotFoundError:
        return False
    return True


def test_rest_corpus_is_large() -> None:
    assert len(REST_CASES) >= 50
    assert len({c[0] for c in REST_CASES}) == len(REST_CASES)


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "prop"), [c[1:] for c in REST_CASES], ids=[c[0] for c in REST_CASES]
)
def test_raw_rest_body_gets_a_batch_shaped_400(
    target: LocalStack, method: str, path: str, body: Any, code: str, prop: str | None
) -> None:
    new_id = unique("bad")
    if not isinstance(body, bytes):
        body = json.loads(json.dumps(body).replace("{new}", new_id))
    before = sorted(j.id for j in target.client().list_tasks(JOB)) if "/tasks" in path else None
    response = _send(target, method, path, body)
    assert response.status_code == 400, response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()
    assert error["code"] == code, error
    assert error["message"]["lang"] == "en-US" and error["message"]["value"].strip()
    assert "RequestId:" in error["message"]["value"], "Batch puts the request id in the message"
    values = {v["key"]: v["value"] for v in error.get("values") or []}
    if prop is not None:
        assert values.get("PropertyName") == prop, error
    elif code == "InvalidRequestBody":
        assert values.get("Reason"), error
    # Nothing was created.
    assert not _exists(target, method, path, new_id)
    if before is not None:
        assert sorted(t.id for t in target.client().list_tasks(JOB)) == before
    assert target.client().get_job(JOB).priority == 0, "a refused update changed nothing"


# ---- Job inputs through the dynamic provider's check ---------------------------------------------------


def _job_inputs(**changes: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "job_id": "checked-job",
        "pool_id": "p",
        "batch_account_url": "http://127.0.0.1:1",
        "batch_account_name": "devbatchaccount1",
        "name_prefix": "job",
        "tasks": [
            {
                "id": "t1",
                "command_line": "/bin/true",
                "output_files": [
                    {"file_pattern": "out.txt", "container_url": f"{URL}?sv=1&sig=x", "path": "out.txt"}
                ],
            }
        ],
    }
    inputs.update(changes)
    return {k: v for k, v in inputs.items() if v is not None}


def _output(**changes: Any) -> dict[str, Any]:
    return _job_inputs(
        tasks=[
            {
                "id": "t1",
                "command_line": "/bin/true",
                "output_files": [
                    {
                        "file_pattern": "out.txt",
                        "container_url": f"{URL}?sv=1&sig=x",
                        "path": "out.txt",
                        **changes,
                    }
                ],
            }
        ]
    )


PROVIDER_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no-account-url", _job_inputs(batch_account_url=None), "batch_account_url", "is required"),
    ("no-account-name", _job_inputs(batch_account_name=None), "batch_account_name", "is required"),
    ("bad-job-id", _job_inputs(job_id="my job"), "job_id", "job id"),
    ("unknown-on-destroy", _job_inputs(on_destroy="explode"), "on_destroy", "explode"),
    ("unknown-wait-for", _job_inputs(wait_for="everything"), "wait_for", "everything"),
    ("output-pattern-empty", _output(file_pattern=""), "tasks[0].output_files[0].file_pattern", "at least 1"),
    (
        "output-upload-condition-typo",
        _output(upload_condition="TaskComplete"),
        "tasks[0].output_files[0].upload_condition",
        "did you mean 'taskcompletion'",
    ),
    ("output-url-without-sas", _output(container_url=URL), "tasks[0].output_files[0]", "SAS"),
]


@pytest.mark.parametrize(
    ("inputs", "prop", "fragment"), [c[1:] for c in PROVIDER_CASES], ids=[c[0] for c in PROVIDER_CASES]
)
def test_job_inputs_fail_check_naming_the_input(
    inputs: dict[str, Any], prop: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi_azbatch.dynamic_providers.job import JobProvider

    for name in ("AZURE_BATCH_ENDPOINT", "AZURE_BATCH_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    failures = JobProvider().check({}, inputs).failures
    assert failures, "check refused the inputs"
    matching = [f for f in failures if f.property.startswith(prop)]
    assert matching and any(fragment.lower() in f.reason.lower() for f in matching), [
        (f.property, f.reason) for f in failures
    ]


# ---- stack configs and a Job resource through `pulumi preview` -----------------------------------------


def _preview_fails(project: Project) -> str:
    out = project.run("preview", check=False)
    assert out.returncode != 0, out.stdout
    return out.stdout + out.stderr


def test_preview_lists_every_stack_config_problem_and_creates_nothing(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    pool_id, job_id = unique("cfg-pool"), unique("cfg-job")
    config = stack_config(pool_id, job_config(job_id, 3))
    c = config["config"]
    c["azbatch:pool"]["task_slots_per_node"] = 0
    c["azbatch:pool"]["vm_sizee"] = "standard_d2s_v3"
    c["azbatch:storage"]["sas_permissions"] = "rl"
    c["azbatch:job"]["on_destroy"] = "explode"
    c["azbatch:job"]["wait_timeout"] = "ten minutes"
    c["azbatch:job"]["task_factories"][0]["repeat_task"]["output_files"] = [
        {"file_pattern": "out/**/*.txt", "kind": "TaskOutput", "upload_condition": "TaskComplete"},
        {"file_pattern": "", "kind": "TaskLog"},
        {"file_pattern": "a.txt", "kind": "Nonsense"},
    ]
    project = Project.create(
        tmp_path / "project", local.endpoints(), config, log=test_output_dir / "pulumi.log"
    )
    text = _preview_fails(project)
    files = "azbatch:job.task_factories[0].repeat_task.output_files"
    for expected in (
        "8 problem(s) in the stack config",
        "azbatch:pool.task_slots_per_node: Input should be greater than or equal to 1",
        "azbatch:pool.vm_sizee: unknown key 'vm_sizee'; did you mean 'vm_size'?",
        "azbatch:storage.sas_permissions: permissions 'rl' lack 'c' and 'w'",
        "azbatch:job.on_destroy: unknown on_destroy value 'explode'",
        "azbatch:job.wait_timeout:",
        f"{files}[0].upload_condition: unknown upload condition 'TaskComplete'; did you mean 'taskcompletion'?",
        f"{files}[1].file_pattern: String should have at least 1 character",
        f"{files}[2].kind: unknown File Conventions kind 'Nonsense'",
    ):
        assert expected in text, expected
    client = local.client()
    assert pool_id not in pool_ids(client) and job_id not in job_ids(client)

    # A misspelt top-level key: the engine itself stops on the key Pulumi.yaml declares required.
    valid = stack_config(pool_id, job_config(job_id, 3))["config"]
    project.write_config(
        {
            "config": {
                **{k: v for k, v in valid.items() if k != "azbatch:job"},
                "azbatch:jobz": valid["azbatch:job"],
            }
        }
    )
    text = _preview_fails(project)
    assert "azbatch:jobz: unknown key; did you mean 'job'?" in text, text
    assert "azbatch:job: required key is missing" in text, text

    # A valid config, but the emulators were never started (no endpoints file).
    project.write_config(stack_config(pool_id, job_config(job_id, 3)))
    (project.root / ".local" / "endpoints.json").unlink()
    text = _preview_fails(project)
    assert "endpoints.json not found: start the emulators first with `make emulators`" in text
    assert pool_id not in pool_ids(client) and job_id not in job_ids(client)


def test_preview_of_a_job_resource_with_bad_inputs_names_them(
    local: LocalStack, tmp_path: Path, test_output_dir: Path
) -> None:
    program = tmp_path / "job_program"
    shutil.copytree(REPO_ROOT / "tests" / "engine" / "job_program", program)
    meta = yaml.safe_load((program / "Pulumi.yaml").read_text())
    meta["runtime"]["options"]["virtualenv"] = str(REPO_ROOT / ".venv")
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(meta))
    e = local.endpoints()
    pool_id = unique("never-created")
    good = {
        "batchUrl": e.batch_url,
        "batchAccountName": e.batch_account_name,
        "batchAccountKey": e.batch_account_key,
        "outputContainerUrl": f"{e.blob_url}/job-fine-job?sv=1&sig=x",
        "poolId": pool_id,
        "taskCount": "2",
        "inputUrl": f"{e.blob_url}/job-x/in.txt?sv=1&sig=x",
    }
    project = Project(
        program,
        "bad",
        {**engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")},
        test_output_dir / "pulumi.log",
    )
    project.run("stack", "init", "bad")

    def configure(**changes: str) -> None:
        values = {**good, **changes}
        (program / "Pulumi.bad.yaml").write_text(
            yaml.safe_dump({"config": {f"azbatch-job-engine:{k}": v for k, v in values.items()}})
        )

    configure(jobId="job with spaces")
    text = _preview_fails(project)
    assert (
        "property job_id value {job with spaces} has a problem: job id 'job with spaces' may only contain"
        in text
    )
    configure(jobId="fine-job", onDestroy="explode")
    text = _preview_fails(project)
    assert "unknown on_destroy value 'explode' (allowed: terminate_then_delete, terminate, delete)" in text
    # A problem with the (secret) output container URL is named, without printing its SAS: the engine
    # prints the value of a failing top-level property, secrets included.
    configure(jobId="fine-job", outputContainerUrl=f"{e.blob_url}/job-other?sv=1&sig=SECRETSIGNATURE0123")
    text = _preview_fails(project)
    assert "output_container_url: File Conventions outputs need the job's container 'job-fine-job'" in text
    assert "SECRETSIGNATURE0123" not in text
    assert pool_id not in pool_ids(local.client()) and "fine-job" not in job_ids(local.client())


def test_the_corpus_spans_at_least_fifty_cases() -> None:
    # REST bodies + provider checks + engine previews (8 + 1 + 1 config problems, 3 Job inputs).
    assert len(REST_CASES) + len(PROVIDER_CASES) + 10 + 3 >= 50
    assert copy.deepcopy(REST_CASES) == REST_CASES
