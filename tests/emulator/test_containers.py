"""Container pools and container tasks through the SDK.

Without a container runtime the emulator refuses them (400 `UnsupportedProperty`, naming the
property): always tested, on an emulator told `--container-runtime none`'s equivalent. With one
(Podman here; the tests that need it say why they skip elsewhere), a task with `containerSettings`
runs in its image: the node root mapped in at the same path, the task's variables passed in, its
working directory or the image's, its exit code the task's, and a wall-clock kill removing the
container.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError
from emulator_helpers import LINUX, admin, pool_options, task_file_text, unique, wait_for, wait_task

from pulumi_azbatch.localdev import LOCAL_IMAGE, LOCALBATCH_ACCOUNT_KEY, local_container_image

ACCOUNT = "devbatchaccount1"


def _container_vm(images: list[str] | None = None) -> m.VirtualMachineConfiguration:
    return m.VirtualMachineConfiguration(
        image_reference=LINUX.image_reference,
        node_agent_sku_id=LINUX.node_agent_sku_id,
        container_configuration=m.BatchContainerConfiguration(
            type="dockerCompatible", container_image_names=images
        ),
    )


def _boxed(task_id: str, command: str, **settings: Any) -> m.BatchTaskCreateOptions:
    extra = {k: settings.pop(k) for k in ("constraints", "environment_settings") if k in settings}
    return m.BatchTaskCreateOptions(
        id=task_id,
        command_line=command,
        container_settings=m.BatchTaskContainerSettings(image_name=LOCAL_IMAGE, **settings),
        **extra,
    )


# ---- no container runtime: refused at once, naming the property --------------------------------


@pytest.fixture(scope="module")
def no_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchClient]:
    """An emulator without a container runtime (what `--container-runtime none` gives)."""
    from localbatch.server import make_server
    from localbatch.service import BatchService

    service = BatchService(
        tmp_path_factory.mktemp("no-runtime"), account_name=ACCOUNT, container_runtime=None
    )
    server = make_server(
        service, host="127.0.0.1", port=0, account_name=ACCOUNT, account_key=LOCALBATCH_ACCOUNT_KEY
    )
    service.start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    credential = AzureNamedKeyCredential(ACCOUNT, LOCALBATCH_ACCOUNT_KEY)
    try:
        yield BatchClient(
            endpoint=f"http://127.0.0.1:{server.server_address[1]}", credential=credential, retry_total=0
        )
    finally:
        server.shutdown()
        server.server_close()
        service.stop()


def _refusal(err: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int | None, str, dict[str, str]]:
    error = err.value.error
    assert error is not None
    values = {d.code: d.message for d in error.details or []}
    return err.value.status_code, str(error.code), values


def test_without_a_runtime_container_pools_and_tasks_are_refused_by_name(no_runtime: BatchClient) -> None:
    client = no_runtime
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(
            m.BatchPoolCreateOptions(
                id=unique("ctr"), vm_size="standard_d2s_v3", virtual_machine_configuration=_container_vm()
            )
        )
    status, code, values = _refusal(err)
    assert (status, code) == (400, "UnsupportedProperty")
    assert values["PropertyName"] == "virtualMachineConfiguration.containerConfiguration"
    assert "Podman" in values["Reason"]
    assert not list(client.list_pools()), "nothing was created"

    pool_id, job_id = unique("plain"), unique("job")
    client.create_pool(pool_options(pool_id))
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line="true"),
        )
    )
    with pytest.raises(HttpResponseError) as err:
        client.create_task(job_id, _boxed("boxed", "echo hi"))
    assert _refusal(err)[2]["PropertyName"] == "task.containerSettings"
    with pytest.raises(HttpResponseError) as err:
        client.create_job(
            m.BatchJobCreateOptions(
                id=unique("job"),
                pool_info=m.BatchPoolInfo(pool_id=pool_id),
                job_preparation_task=m.BatchJobPreparationTask(
                    command_line="true",
                    container_settings=m.BatchTaskContainerSettings(image_name=LOCAL_IMAGE),
                ),
            )
        )
    assert _refusal(err)[2]["PropertyName"] == "jobPreparationTask.containerSettings"
    assert [t.id for t in client.list_tasks(job_id)] == []


# ---- with a container runtime --------------------------------------------------------------------


@pytest.fixture(scope="module")
def container_pool(client: BatchClient, endpoints: Any) -> Iterator[str]:
    """A one-node container pool (2 slots) on the session emulator, which must have a runtime."""
    if not endpoints.container_runtime:
        pytest.skip("the Batch emulator found no container runtime on this machine (Podman or Docker)")
    engine = endpoints.container_runtime.split()[0]
    if local_container_image(engine) is None:
        pytest.skip(f"no {LOCAL_IMAGE}: it is imported from a static busybox (Debian's busybox-static)")
    pool_id = unique("ctr")
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=1,
            task_slots_per_node=2,
            virtual_machine_configuration=_container_vm([LOCAL_IMAGE]),
            # The start task runs in the image too: it marks the node's shared directory.
            start_task=m.BatchStartTask(
                command_line="sh -c 'test -e /etc/os-release && echo host > $AZ_BATCH_NODE_SHARED_DIR/start.txt"
                " || echo image > $AZ_BATCH_NODE_SHARED_DIR/start.txt'",
                container_settings=m.BatchTaskContainerSettings(image_name=LOCAL_IMAGE),
                wait_for_success=True,
            ),
        )
    )
    yield pool_id
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()


@pytest.fixture
def container_job(client: BatchClient, container_pool: str) -> Iterator[str]:
    job_id = unique("ctrjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=container_pool)))
    yield job_id
    client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_a_container_task_runs_in_its_image_with_the_task_directory_and_variables(
    client: BatchClient, container_job: str
) -> None:
    # busybox's image has no /etc/os-release and no python3; this machine has both.
    script = (
        "echo $AZ_BATCH_TASK_ID $GREETING > from-container.txt; pwd; "
        "test -e /etc/os-release && echo host-os || echo image-os; "
        "test -x /usr/bin/python3 && echo host-python || echo no-python; exit 3"
    )
    client.create_task(
        container_job,
        _boxed(
            "boxed",
            f"sh -c '{script}'",
            environment_settings=[m.EnvironmentSetting(name="GREETING", value="hello")],
        ),
    )
    task = wait_task(client, container_job, "boxed", timeout=60)
    assert task.execution_info.exit_code == 3, task_file_text(client, container_job, "boxed", "stderr.txt")
    assert task.execution_info.failure_info.code == "FailureExitCode"
    lines = task_file_text(client, container_job, "boxed", "stdout.txt").split()
    assert lines[0].endswith("/wd"), "taskWorkingDirectory: the task's working directory, at its node path"
    assert lines[1:] == ["image-os", "no-python"], "the command ran in the image, not on this machine"
    assert task_file_text(client, container_job, "boxed", "wd/from-container.txt") == "boxed hello\n"


def test_start_preparation_and_release_tasks_run_in_their_images(
    client: BatchClient, container_pool: str
) -> None:
    node = wait_for(lambda: [n for n in client.list_nodes(container_pool) if n.state == "idle"], timeout=60)[
        0
    ]
    start = b"".join(client.download_node_file(container_pool, node.id, "shared/start.txt")).decode()
    assert start == "image\n"
    job_id = unique("ctrjob")
    in_image = m.BatchTaskContainerSettings(image_name=LOCAL_IMAGE)
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=container_pool),
            job_preparation_task=m.BatchJobPreparationTask(
                command_line="sh -c 'echo prepared > $AZ_BATCH_NODE_SHARED_DIR/prep.txt'",
                container_settings=in_image,
            ),
            job_release_task=m.BatchJobReleaseTask(command_line="true", container_settings=in_image),
        )
    )
    try:
        client.create_task(job_id, _boxed("reads", "sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/prep.txt'"))
        task = wait_task(client, job_id, "reads", timeout=60)
        assert task.execution_info.exit_code == 0, task_file_text(client, job_id, "reads", "stderr.txt")
        assert task_file_text(client, job_id, "reads", "stdout.txt") == "prepared\n"
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_container_image_default_working_directory(client: BatchClient, container_job: str) -> None:
    client.create_task(container_job, _boxed("imagewd", "pwd", working_directory="containerImageDefault"))
    task = wait_task(client, container_job, "imagewd", timeout=60)
    assert task.execution_info.exit_code == 0, task_file_text(client, container_job, "imagewd", "stderr.txt")
    assert task_file_text(client, container_job, "imagewd", "stdout.txt") == "/\n"


def test_bind_mounts_map_only_the_listed_node_directories(client: BatchClient, container_job: str) -> None:
    script = (
        "cat $AZ_BATCH_NODE_SHARED_DIR/start.txt; "
        "test -d $AZ_BATCH_NODE_STARTUP_DIR && echo startup-mapped || echo startup-not-mapped; "
        "(echo x > $AZ_BATCH_NODE_SHARED_DIR/w.txt) 2>/dev/null && echo shared-writable || echo shared-read-only"
    )
    client.create_task(
        container_job,
        _boxed(
            "binds",
            f"sh -c '{script}'",
            container_host_batch_bind_mounts=[
                m.ContainerHostBatchBindMountEntry(source="Shared", is_read_only=True)
            ],
        ),
    )
    task = wait_task(client, container_job, "binds", timeout=60)
    assert task.execution_info.exit_code == 0, task_file_text(client, container_job, "binds", "stderr.txt")
    out = task_file_text(client, container_job, "binds", "stdout.txt").split()
    assert out == ["image", "startup-not-mapped", "shared-read-only"]


def test_a_task_without_container_settings_fails_on_a_container_pool(
    client: BatchClient, container_job: str
) -> None:
    client.create_task(container_job, m.BatchTaskCreateOptions(id="bare", command_line="true"))
    task = wait_task(client, container_job, "bare", timeout=60)
    info = task.execution_info
    assert info.result == "failure" and info.exit_code is None
    assert (
        info.failure_info.code == "CommandLaunchFailed" and "containerSettings" in info.failure_info.message
    )


def test_the_wall_clock_kill_removes_the_container(client: BatchClient, container_job: str) -> None:
    client.create_task(
        container_job,
        _boxed(
            "slow",
            "sh -c 'hostname > id.txt; sleep 120'",
            constraints=m.BatchTaskConstraints(max_wall_clock_time="PT3S"),
        ),
    )
    short_id = wait_for(
        lambda: _trytask_file_text(client, container_job, "slow", "wd/id.txt"), timeout=60
    ).strip()
    task = wait_task(client, container_job, "slow", timeout=60)
    info = task.execution_info
    assert (info.failure_info.code, info.exit_code) == ("TaskEnded", 137)
    assert "maxWallClockTime" in info.failure_info.details[0].value
    wait_for(lambda: not any(c.startswith(short_id) for c in _running_containers()), timeout=30, interval=0.5)


def _running_containers() -> set[str]:
    engine = shutil.which("podman") or shutil.which("docker") or "podman"
    out = subprocess.run([engine, "ps", "--quiet", "--no-trunc"], capture_output=True, text=True, timeout=30)
    return set(out.stdout.split())


def test_a_preempted_spot_node_requeues_its_container_task_and_removes_the_container(
    client: BatchClient, endpoints: Any, container_pool: str
) -> None:
    pool_id, job_id = unique("ctrspot"), unique("ctrjob")
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_low_priority_nodes=1,
            virtual_machine_configuration=_container_vm([LOCAL_IMAGE]),
        )
    )
    try:
        node = wait_for(lambda: (ns := list(client.list_nodes(pool_id))) and ns[0].state == "idle" and ns[0])
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        client.create_task(job_id, _boxed("long", "sh -c 'hostname > id.txt; sleep 120'"))
        short_id = wait_for(
            lambda: _trytask_file_text(client, job_id, "long", "wd/id.txt"), timeout=60
        ).strip()
        assert any(c.startswith(short_id) for c in _running_containers())
        admin(endpoints.batch_url, "POST", f"/_localbatch/pools/{pool_id}/nodes/{node.id}/preempt")
        task = wait_task(client, job_id, "long", "active")
        assert task.execution_info.requeue_count == 1 and task.execution_info.retry_count == 0
        wait_for(
            lambda: not any(c.startswith(short_id) for c in _running_containers()), timeout=30, interval=0.5
        )
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def _trytask_file_text(client: BatchClient, job_id: str, task_id: str, path: str) -> str | None:
    try:
        return task_file_text(client, job_id, task_id, path) or None
    except HttpResponseError:
        return None


def test_a_container_task_on_a_pool_without_container_configuration_fails(
    client: BatchClient, endpoints: Any, shared_pool: str
) -> None:
    if not endpoints.container_runtime:
        pytest.skip("without a runtime the task is refused when added (tested above)")
    job_id = unique("job")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    try:
        client.create_task(job_id, _boxed("boxed", "true"))
        info = wait_task(client, job_id, "boxed", timeout=60).execution_info
        assert info.failure_info.code == "CommandLaunchFailed"
        assert "no containerConfiguration" in info.failure_info.message
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()


def test_a_restarted_emulator_removes_the_containers_it_left_running(
    tmp_path: Path, endpoints: Any, container_pool: str
) -> None:
    """A killed emulator leaves its task containers running (the engine keeps them); the next start
    with the same data directory removes them, and leaves another emulator's alone."""
    from localbatch.containers import OWNER_LABEL, detect
    from localbatch.service import BatchService

    runtime = detect()
    assert runtime is not None
    data_dir = tmp_path / "batch"
    data_dir.mkdir()

    def started(owner: Path) -> str:
        return subprocess.run(
            [*runtime.base_command(), "run", "--detach", "--label", f"{OWNER_LABEL}={owner.resolve()}"]
            + ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", LOCAL_IMAGE, "sleep", "120"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    ours, theirs = started(data_dir), started(tmp_path / "another-emulator")
    try:
        assert {ours, theirs} <= _running_containers()
        service = BatchService(data_dir, account_name=ACCOUNT, container_runtime=runtime)
        service.start()
        service.stop()
        left = _running_containers()
        assert ours not in left and theirs in left
    finally:
        runtime.remove(theirs)
