"""The File Conventions library installed by the job preparation task, and a new run of a job id kept
apart from the previous one (emulator + Azurite, the Job provider called directly)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from batch_file_conventions import OutputReader
from provider_helpers import blob_read_url, container_sas_url, unique
from pulumi_azbatch.dynamic_providers.job import JobProvider

from pulumi_azbatch.conventions import LIBRARY_DIR, job_output_container_name, library_wheel
from pulumi_azbatch.localdev import Endpoints

#: What a shell task runs with the installed library: its CLI, on its own PYTHONPATH.
SCRIPT = (
    f'export PYTHONPATH="$AZ_BATCH_NODE_SHARED_DIR/{LIBRARY_DIR}"; '
    'exec "$PYTHONPATH/bin/batch-outputs" run --flush-interval 0.3 -- '
    "python3 -u -c \"import batch_file_conventions as b; print('library at', b.__file__); print('done')\""
)


def test_preparation_installs_the_library_and_new_runs_keep_old_outputs_apart(
    account: dict[str, str], pool_id: str, endpoints: Endpoints, blob_service: Any, batch_client: Any
) -> None:
    provider = JobProvider()
    job_id = unique("library")
    container = job_output_container_name(job_id)
    output_url = container_sas_url(endpoints, blob_service, container, permission="cw")
    wheel = library_wheel()
    base = {
        **account,
        "job_id": job_id,
        "pool_id": pool_id,
        # The user's own preparation command still runs, after the install, with its arguments.
        "job_preparation_task": {"command_line": "/bin/sh -c 'echo prepared on $AZ_BATCH_NODE_ID'"},
        "tasks": [
            {
                "id": "streamer",
                "command_line": f"/bin/sh -c {shlex.quote(SCRIPT)}",
                "output_files": [{"file_pattern": "../stderr.txt", "kind": "TaskLog"}],
            }
        ],
        "output_container_url": output_url,
        "file_conventions_container_url": container_sas_url(endpoints, blob_service, container, "cw"),
        "file_conventions_library_url": blob_read_url(endpoints, container, wheel.blob_name),
        "maintenance_container_url": container_sas_url(endpoints, blob_service, container, "rwdl"),
        "file_conventions": {"install_library": True, "library_dependencies": "preinstalled"},
        "wait_for": "tasks",
        "wait_timeout": 90,
        "on_destroy": "delete",
    }
    checked = provider.check({}, base)
    assert not checked.failures, checked.failures
    assert checked.inputs["file_conventions_library"] == {
        "wheel": wheel.blob_name,
        "dependencies": "preinstalled",
    }
    reader = OutputReader(blob_service.get_container_client(container))
    try:
        provider.create(checked.inputs)
        # The wheel went to $Library/ and the preparation task got it as a resource file.
        job = batch_client.get_job(job_id)
        prep = job.job_preparation_task
        assert [r.file_path for r in prep.resource_files] == [wheel.filename]
        assert "pip install" in prep.command_line and "echo prepared" in prep.command_line
        assert (
            blob_service.get_blob_client(container, wheel.blob_name).download_blob().readall() == wheel.data
        )
        task = batch_client.get_task(job_id, "streamer")
        assert task.execution_info.exit_code == 0, task.execution_info
        # The task streamed its stdout with the installed CLI, importing the installed copy.
        log = reader.task("streamer").get_output("TaskLog", "stdout.txt").download_text()
        assert f"/shared/{LIBRARY_DIR}/batch_file_conventions/__init__.py" in log, log
        assert log.rstrip().endswith("done")
        [status] = batch_client.list_job_preparation_and_release_task_status(job_id)
        assert status.job_preparation_task_execution_info.exit_code == 0
        prep_out = b"".join(
            batch_client.download_node_file(
                status.pool_id, status.node_id, f"workitems/{job_id}/job-1/jobpreparation/stdout.txt"
            )
        ).decode()
        assert prep_out == f"prepared on {status.node_id}\n"
        first = {(s.task_id, s.kind): s.count for s in reader.summary()}
        assert first == {("streamer", "TaskLog"): 2}
        assert reader.kinds() == [] and list(reader.task_ids()) == ["streamer"]

        # ---- the same job id again (a replacement): the first run's outputs move aside -----------
        provider.delete(job_id, checked.inputs)  # copies the preparation logs to $JobLog/ first
        assert {s.kind for s in reader.summary() if s.task_id is None} == {"JobLog"}
        provider.create(checked.inputs)
        runs = reader.previous_runs()
        assert len(runs) == 1
        previous = reader.previous_run(runs[0])
        moved = {(s.task_id, s.kind): s.count for s in previous.summary()}
        assert moved[("streamer", "TaskLog")] == 2 and ("JobLog" in {k for _, k in moved})
        # The current run shows only the new job's outputs; the wheel stayed where the nodes find it.
        assert {(s.task_id, s.kind) for s in reader.summary()} == {("streamer", "TaskLog")}
        assert "done" in reader.task("streamer").get_output("TaskLog", "stdout.txt").download_text()
        assert blob_service.get_blob_client(container, wheel.blob_name).exists()

        # ---- previous_outputs: delete --------------------------------------------------------------
        provider.delete(job_id, checked.inputs)
        deleting = provider.check({}, {**base, "previous_outputs": "delete"})
        provider.create(deleting.inputs)
        assert reader.previous_runs() == runs, "earlier archives are kept"
        assert {(s.task_id, s.kind) for s in reader.summary()} == {("streamer", "TaskLog")}
        names = [b.name for b in blob_service.get_container_client(container).list_blobs()]
        assert not any(n.startswith("$JobLog/") for n in names), "the second run's $JobLog was deleted"
    finally:
        provider.delete(job_id, checked.inputs)


def test_a_write_only_output_url_leaves_earlier_outputs_in_place_with_a_warning(
    account: dict[str, str],
    pool_id: str,
    endpoints: Endpoints,
    blob_service: Any,
    capsys: Any,
) -> None:
    provider = JobProvider()
    job_id = unique("mixed")
    container = job_output_container_name(job_id)
    output_url = container_sas_url(endpoints, blob_service, container, permission="cw")
    blob_service.get_blob_client(container, "old/$TaskOutput/result.txt").upload_blob(b"old run")
    news = {
        **account,
        "job_id": job_id,
        "pool_id": pool_id,
        "tasks": [{"id": "t", "command_line": "/bin/true"}],
        "output_container_url": output_url,
        "on_destroy": "delete",
    }
    checked = provider.check({}, news)
    try:
        provider.create(checked.inputs)
        said = capsys.readouterr()
        assert "previous_outputs: keep_apart needs list, read, write and delete" in said.out + said.err
        assert blob_service.get_blob_client(container, "old/$TaskOutput/result.txt").exists()
    finally:
        provider.delete(job_id, checked.inputs)


def test_a_failure_before_the_first_task_deletes_the_new_job_again(
    account: dict[str, str], pool_id: str, endpoints: Endpoints, blob_service: Any, batch_client: Any
) -> None:
    provider = JobProvider()
    job_id = unique("stale-library")
    container = job_output_container_name(job_id)
    news = {
        **account,
        "job_id": job_id,
        "pool_id": pool_id,
        "tasks": [{"id": "t", "command_line": "/bin/true"}],
        "output_container_url": container_sas_url(endpoints, blob_service, container, "rcwdl"),
        # A URL signed for another wheel than this library (the library changed during the deployment).
        "file_conventions_library_url": blob_read_url(endpoints, container, "$Library/0000/other.whl"),
        "file_conventions": {"install_library": True},
        "on_destroy": "delete",
    }
    checked = provider.check({}, news)
    assert not checked.failures, checked.failures
    with pytest.raises(RuntimeError, match="library changed while deploying"):
        provider.create(checked.inputs)
    assert job_id not in {j.id for j in batch_client.list_jobs()}, "the job without tasks was deleted again"
