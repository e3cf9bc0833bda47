"""End to end through the real engine: the project's local stack, its `make up` report, the consumer
project (a StackReference to the main stack's pool), and destroy with the release exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi import automation as auto

from engine.engine_helpers import project_copy
from pulumi_azbatch.localdev import REPO_ROOT, Emulators, engine_env, workspace_options
from pulumi_azbatch.report import build_report, kept_blobs, release_exit_codes

pytestmark = pytest.mark.engine


def _project_copy(tmp: Path, endpoints_file: Path) -> Path:
    """The project (program, Pulumi.yaml, local stack config) in a temp dir, using the repo's .venv."""
    project = project_copy(tmp)
    stack = (REPO_ROOT / "stacks" / "Pulumi.local.yaml").read_text()
    assert "endpoints_file: .local/endpoints.json" in stack
    (project / "stacks" / "Pulumi.local.yaml").write_text(
        stack.replace("endpoints_file: .local/endpoints.json", f"endpoints_file: {endpoints_file}")
    )
    return project


def _consumer_copy(tmp: Path, endpoints_file: Path) -> Path:
    """The consumer example with its own virtualenv, into which this project is pip-installed (not editable)."""
    consumer = tmp / "consumer"
    shutil.copytree(REPO_ROOT / "examples" / "consumer", consumer, ignore=shutil.ignore_patterns(".venv"))
    subprocess.run([sys.executable, "-m", "venv", str(consumer / ".venv")], check=True)
    subprocess.run(
        [
            str(consumer / ".venv" / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(REPO_ROOT / "file_conventions"),
            str(REPO_ROOT),
        ],
        check=True,
    )
    stack = f"config:\n  azbatch-consumer:endpointsFile: {endpoints_file}\n"
    (consumer / "Pulumi.local.yaml").write_text(stack)
    return consumer


def _fetch_outputs(consumer_dir: Path, endpoints_file: Path, *args: str) -> str:
    """What the consumer example's client (``fetch_outputs.py``, the File Conventions reader) prints."""
    return subprocess.run(
        [
            str(consumer_dir / ".venv" / "bin" / "python"),
            "fetch_outputs.py",
            "--endpoints-file",
            str(endpoints_file),
            *args,
        ],
        cwd=consumer_dir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_local_stack_report_consumer_and_destroy(tmp_path: Path, emulators: Emulators, batch_client) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    emulators.endpoints.write(endpoints_file)
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    project = _project_copy(tmp_path, endpoints_file)
    stack = auto.create_or_select_stack("local", work_dir=str(project), opts=workspace_options(env))
    destroyed = False
    try:
        up = stack.up(on_output=print)
        assert up.summary.result == "succeeded"
        outputs = {k: v.value for k, v in up.outputs.items()}
        assert outputs["job_state"] == "active"
        assert outputs["task_counts"]["succeeded"] == 4 and outputs["task_counts"]["failed"] == 0

        # The report `make up` prints, checked fact by fact.
        report = build_report(outputs, emulators.endpoints.storage_account_key)
        text = report.render()
        print(text)
        assert 1 <= len(report.nodes) <= 2  # the nodes that ran the job (and so its preparation task)
        seen_tasks: list[str] = []
        for node in report.nodes:
            if node.preparation_state is None:  # a node that ran no task never ran the preparation task
                assert node.shared_file is None
                continue
            assert node.preparation_exit_code == 0
            lines = (node.shared_file or "").splitlines()
            assert lines[0] == f"{node.node_id} tasks:"
            seen_tasks += lines[1:]
        assert sorted(seen_tasks) == ["task001", "task002", "task003", "task004"]
        # Outputs per task and kind, read with the File Conventions reader.
        kinds = {(o.task_id, o.kind): o for o in report.outputs}
        for task in ("task001", "task002", "task003", "task004"):
            assert kinds[(task, "TaskOutput")].count == 1 and kinds[(task, "TaskOutput")].size > 0
            assert kinds[(task, "TaskLog")].count == 2  # stdout.txt and stderr.txt
            assert f"  {task}: $TaskLog 2 blob(s)" in text
        assert report.container == "job-jobprepreleasesamplejob"
        assert "preparation: exit code 0" in text and "Traceback" not in text

        # Nothing secret in the state a user exports.
        exported = subprocess.run(
            ["pulumi", "stack", "export", "--stack", "local"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert emulators.endpoints.batch_account_key not in exported
        assert emulators.endpoints.storage_account_key not in exported
        assert "sig=" not in exported

        # A second `up` changes nothing (the SAS is stable, the job is as declared).
        preview = stack.preview()
        assert set(preview.change_summary) == {"same"}, preview.change_summary

        # The consumer project: installs this package, reads the pool through a StackReference.
        consumer_dir = _consumer_copy(tmp_path, endpoints_file)
        consumer = auto.create_or_select_stack(
            "local", work_dir=str(consumer_dir), opts=workspace_options(env)
        )
        try:
            consumer_up = consumer.up(on_output=print)
            assert consumer_up.outputs["job_state"].value in ("active", "completed")
            assert consumer_up.outputs["task_counts"].value["succeeded"] == 2
            # The consumer's job ran on the main stack's pool.
            task = batch_client.get_task("consumer-report-job", "summarize")
            assert task.node_info.pool_id == outputs["pool_id"]
            # Its outputs, listed by kind with the File Conventions reader (the example's client).
            listing = _fetch_outputs(consumer_dir, endpoints_file, "--kind", "TaskOutput")
            assert listing.splitlines() == [
                f"summarize\tTaskOutput\tsummary.txt\t{len('summary from ' + task.node_info.node_id) + 1} bytes"
            ], listing
            # The `stream` task ran under the library its job's preparation task installed from the
            # wheel in the job's container (built from this fresh, non-editable install).
            stream = batch_client.get_task("consumer-report-job", "stream")
            assert stream.execution_info.exit_code == 0
            prep = batch_client.get_job("consumer-report-job").job_preparation_task
            assert [r.file_path for r in prep.resource_files] == [
                "batch_file_conventions-0.1.0-py3-none-any.whl"
            ]
            summary = _fetch_outputs(consumer_dir, endpoints_file, "--summary")
            assert "stream\tTaskLog\t2 file(s)" in summary, summary
            assert "summarize\tTaskOutput\t1 file(s)" in summary, summary
        finally:
            assert consumer.destroy(on_output=print).summary.result == "succeeded"

        lines: list[str] = []
        destroy = stack.destroy(on_output=lines.append)
        destroyed = True
        assert destroy.summary.result == "succeeded"
        codes = release_exit_codes("\n".join(lines))
        prepared = {n.node_id for n in report.nodes if n.preparation_state is not None}
        assert set(codes) == prepared and all(code == 0 for code in codes.values()), codes

        # The output container outlives the stack (retain_on_destroy, the default): the persisted
        # outputs are data, and destroy copied each node's preparation and release logs into it.
        kept = {b.name for b in kept_blobs(outputs, emulators.endpoints.storage_account_key) or []}
        assert {f"{t}/$TaskOutput/output.txt" for t in ("task001", "task002", "task003", "task004")} <= kept
        for node in prepared:
            assert f"$JobLog/{node}/jobpreparation/stdout.txt" in kept
            assert f"$JobLog/{node}/jobrelease/stdout.txt" in kept
    finally:
        if not destroyed:
            stack.destroy(on_output=print)
