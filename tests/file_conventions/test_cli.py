"""The ``batch-outputs`` command line, run as a shell task would run it, against real Azurite."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fc_helpers import JobContainer, eventually

from pulumi_azbatch.localdev import Emulators

pytestmark = pytest.mark.azurite

CLI = [sys.executable, "-m", "batch_file_conventions"]


def _task_env(job_container: JobContainer, task_id: str = "shell-task") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZ_BATCH_", "AZURE_STORAGE_"))}
    env.update(
        AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL=job_container.sas_url(),
        AZ_BATCH_JOB_ID=job_container.job_id,
        AZ_BATCH_TASK_ID=task_id,
        PYTHONUNBUFFERED="1",
    )
    return env


def _blob_or_empty(job_container: JobContainer, name: str) -> bytes:
    client = job_container.admin.get_blob_client(name)
    return client.download_blob().readall() if client.exists() else b""


def test_run_streams_stdout_and_stderr_live_and_returns_the_exit_code(
    job_container: JobContainer, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = tmp_path / "task.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import pathlib, sys, time
            print("working on part 1", flush=True)
            print("a warning", file=sys.stderr, flush=True)
            while not pathlib.Path({str(go)!r}).exists():
                time.sleep(0.05)
            print("part 2 done", flush=True)
            sys.exit(3)
            """
        )
    )
    progress = tmp_path / "progress.log"
    progress.write_text("0%\n")
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            "--flush-interval",
            "0.2",
            "--track",
            f"{progress.name}:TaskProgress",
            "--",
            sys.executable,
            str(script),
        ],
        env=_task_env(job_container),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # While the command is still blocked, its output is already in storage.
        eventually(
            lambda: _blob_or_empty(job_container, "shell-task/$TaskLog/stdout.txt") == b"working on part 1\n"
        )
        eventually(lambda: _blob_or_empty(job_container, "shell-task/$TaskLog/stderr.txt") == b"a warning\n")
        eventually(lambda: _blob_or_empty(job_container, "shell-task/$TaskProgress/progress.log") == b"0%\n")
        assert proc.poll() is None
        with open(progress, "a") as out:
            out.write("100%\n")
        go.touch()
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3
    # The command's output still reaches this process's own streams (Batch's stdout.txt/stderr.txt).
    assert stdout == b"working on part 1\npart 2 done\n"
    assert b"a warning\n" in stderr
    assert job_container.blob_bytes("shell-task/$TaskLog/stdout.txt") == b"working on part 1\npart 2 done\n"
    assert job_container.blob_bytes("shell-task/$TaskProgress/progress.log") == b"0%\n100%\n"


def test_run_final_flush_catches_output_written_just_before_exit(
    job_container: JobContainer, tmp_path: Path
) -> None:
    # An hour-long interval: only the immediate first flush and the final one run.
    result = subprocess.run(
        [
            *CLI,
            "run",
            "--flush-interval",
            "3600",
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(0.5); print('last words')",
        ],
        env=_task_env(job_container, "quick"),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert job_container.blob_bytes("quick/$TaskLog/stdout.txt") == b"last words\n"
    assert job_container.blob_bytes("quick/$TaskLog/stderr.txt") == b""


def test_run_reports_a_missing_command_with_127(job_container: JobContainer) -> None:
    result = subprocess.run(
        [*CLI, "run", "--", "/nonexistent/program"], env=_task_env(job_container, "bad"), capture_output=True
    )
    assert result.returncode == 127
    assert b"cannot run '/nonexistent/program'" in job_container.blob_bytes("bad/$TaskLog/stderr.txt")


def test_run_fails_when_the_logs_cannot_be_stored(job_container: JobContainer) -> None:
    env = _task_env(job_container, "nolog")
    # A SAS for another container: the tracker cannot create its blobs.
    env["AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL"] = job_container.sas_url().replace(
        f"/{job_container.name}?", "/no-such-container?"
    )
    result = subprocess.run(
        [*CLI, "run", "--", sys.executable, "-c", "print('ran')"], env=env, capture_output=True, text=True
    )
    # It fails before running the command rather than run it with logs that would be lost.
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("batch-outputs: storage error:")
    assert "Traceback" not in result.stderr


def test_save_list_get_and_download(job_container: JobContainer, tmp_path: Path) -> None:
    env = _task_env(job_container, "t7")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a b.txt").write_text("alpha")
    saved = subprocess.run(
        [*CLI, "save", "--kind", "TaskOutput", "out/a b.txt"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == "t7/$TaskOutput/out/a b.txt"
    absolute = subprocess.run(
        [*CLI, "save", "--kind", "TaskOutput", str(tmp_path / "out" / "a b.txt")],
        env=env,
        capture_output=True,
    )
    assert absolute.returncode == 2 and b"absolute" in absolute.stderr
    subprocess.run(
        [*CLI, "save", "--kind", "TaskOutput", str(tmp_path / "out" / "a b.txt"), "--dest", "copy.txt"],
        env=env,
        check=True,
    )
    listing = subprocess.run([*CLI, "list", "--kind", "TaskOutput"], env=env, capture_output=True, text=True)
    assert listing.stdout.splitlines() == ["copy.txt\t5", "out/a b.txt\t5"]
    got = subprocess.run([*CLI, "get", "--kind", "TaskOutput", "out/a b.txt"], env=env, capture_output=True)
    assert got.stdout == b"alpha"
    missing = subprocess.run([*CLI, "get", "--kind", "TaskOutput", "nope"], env=env, capture_output=True)
    assert missing.returncode == 2 and b"no TaskOutput output 'nope'" in missing.stderr
    subprocess.run([*CLI, "download", "--kind", "TaskOutput", str(tmp_path / "dl")], env=env, check=True)
    assert (tmp_path / "dl" / "out" / "a b.txt").read_text() == "alpha"


def test_client_side_use_with_a_connection_string_and_job_level_outputs(
    job_container: JobContainer, azurite: Emulators, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZ_BATCH_", "AZURE_STORAGE_"))}
    conn = azurite.endpoints.storage_connection_string
    (tmp_path / "merged.txt").write_text("merged")
    where = ["--connection-string", conn, "--job-id", job_container.job_id, "--job"]
    subprocess.run(
        [*CLI, *where, "save", "--kind", "JobOutput", "merged.txt"], env=env, cwd=tmp_path, check=True
    )
    assert job_container.blob_bytes("$JobOutput/merged.txt") == b"merged"
    refused = subprocess.run([*CLI, *where, "run", "--", "true"], env=env, capture_output=True)
    assert refused.returncode != 0 and b"task outputs" in refused.stderr
    no_storage = subprocess.run([*CLI, "list", "--kind", "TaskLog"], env=env, capture_output=True)
    assert no_storage.returncode != 0 and b"AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL" in no_storage.stderr
