"""The File Conventions library as the nodes get it: a reproducible wheel, installable offline, and the
job preparation task that installs it (``file_conventions.install_library``)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from pulumi_azbatch.conventions import LIBRARY_PREFIX, library_install_command, library_wheel
from pulumi_azbatch.model.job import JobSpec
from pulumi_azbatch.model.validation import JobSpecError, parse_job


def test_the_wheel_is_reproducible_and_named_by_its_digest() -> None:
    first, second = library_wheel.__wrapped__(), library_wheel.__wrapped__()
    assert first.data == second.data
    assert first.filename == "batch_file_conventions-0.1.0-py3-none-any.whl"
    assert first.blob_name == f"{LIBRARY_PREFIX}{first.sha256[:16]}/{first.filename}"
    names = zipfile.ZipFile(BytesIO(first.data)).namelist()
    assert "batch_file_conventions/cli.py" in names and "batch_file_conventions/py.typed" in names
    assert not [n for n in names if "__pycache__" in n]
    entry_points = zipfile.ZipFile(BytesIO(first.data)).read(
        "batch_file_conventions-0.1.0.dist-info/entry_points.txt"
    )
    assert b"batch-outputs = batch_file_conventions.cli:main" in entry_points


def test_the_install_command_installs_the_wheel_offline_and_the_cli_runs(tmp_path: Path) -> None:
    wheel = library_wheel()
    work = tmp_path / "jobpreparation" / "wd"
    work.mkdir(parents=True)
    (work / wheel.filename).write_bytes(wheel.data)
    shared = tmp_path / "shared"
    shared.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # python3 on the node: this interpreter (pip and azure-storage-blob included), as on the emulator.
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "AZ_BATCH_NODE_SHARED_DIR": str(shared)}
    command = library_install_command(wheel.filename, "preinstalled")
    for _ in range(2):  # a second job preparing the same node replaces the copy
        subprocess.run(["/bin/sh", "-c", command], cwd=work, env=env, check=True)
    target = shared / "batch-file-conventions"
    probe = subprocess.run(
        [str(target / "bin" / "batch-outputs"), "--help"],
        env={**env, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "{save,run,list,get,download}" in probe.stdout
    where = subprocess.run(
        ["python3", "-c", "import batch_file_conventions as b; print(b.__file__)"],
        env={**env, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.strip() == str(target / "batch_file_conventions" / "__init__.py")


def test_index_mode_lets_pip_resolve_the_dependency() -> None:
    assert "--no-index" not in library_install_command("x.whl", "index")
    assert "--no-index --no-deps" in library_install_command("x.whl", "preinstalled")


def _job(**extra: object) -> JobSpec:
    return parse_job(
        {
            "id": "lib-job",
            "pool_id": "p",
            "tasks": [{"id": "t", "command_line": "/bin/true"}],
            "file_conventions": {"install_library": True},
            **extra,
        }
    )


def test_with_library_adds_a_preparation_task_or_runs_the_install_before_the_users() -> None:
    url = "https://acct.blob.core.windows.net/job-lib-job/%24Library/abc/w.whl?sig=x"
    alone = _job().with_library(url)
    prep = alone.job_preparation_task
    assert prep is not None and prep.id == "jobpreparation" and prep.wait_for_success
    assert [(r.http_url, r.file_path) for r in prep.resource_files] == [(url, library_wheel().filename)]
    assert shlex.split(prep.command_line)[:2] == ["/bin/sh", "-c"]
    mine = '/bin/sh -c \'echo "$AZ_BATCH_NODE_ID" > "$AZ_BATCH_NODE_SHARED_DIR/x"\''
    chained = _job(
        job_preparation_task={
            "command_line": mine,
            "resource_files": [{"http_url": "https://h/f", "file_path": "f"}],
        }
    ).with_library(url)
    prep = chained.job_preparation_task
    assert prep is not None
    argv = shlex.split(prep.command_line)
    assert argv[:2] == ["/bin/sh", "-c"] and argv[2].endswith('&& exec "$0" "$@"')
    assert argv[3:] == shlex.split(mine), "the user's command keeps its arguments"
    assert [r.file_path for r in prep.resource_files] == ["f", library_wheel().filename]


def test_windows_nodes_are_refused() -> None:
    with pytest.raises(JobSpecError, match="install_library"):
        _job(node_os="windows")
