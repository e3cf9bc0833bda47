"""Every process a task starts ends with the task: `setsid` and `nohup` children included.

Each task leaves a daemon that writes its pid to a file and then sleeps; after terminate, the wall
clock, a normal completion, an emulator stop, and crash recovery, that pid must be gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator, create_pool, start_emulator, stop_emulator  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402
from localbatch import orphans  # noqa: E402

# Two escapes: a new session (`setsid`), and `nohup` behind a shell that exits at once.
ESCAPE = (
    "setsid sh -c 'echo $$ > {dir}/setsid.pid; exec sleep 300' & "
    "nohup sh -c 'echo $$ > {dir}/nohup.pid; exec sleep 300' >/dev/null 2>&1 & "
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids(directory: Path) -> list[int]:
    def both() -> list[int] | None:
        files = [directory / "setsid.pid", directory / "nohup.pid"]
        if all(f.exists() and f.read_text().strip() for f in files):
            return [int(f.read_text()) for f in files]
        return None

    return wait_for(both, 20)


def _task(emu: Emulator, job: str, task_id: str, command: str, **extra: object) -> None:
    body = {"id": task_id, "commandLine": f'/bin/sh -c "{command}"', **extra}
    answer = emu.request("POST", f"/jobs/{job}/tasks", json.dumps(body))
    assert answer.status == 201, answer.body


def _state(emu: Emulator, job: str, task_id: str) -> dict[str, object]:
    return json.loads(emu.request("GET", f"/jobs/{job}/tasks/{task_id}").body)


@pytest.fixture(scope="module")
def job(emu: Emulator) -> str:
    create_pool(emu, "proc-pool", nodes=2)
    body = {"id": "proc-job", "poolInfo": {"poolId": "proc-pool"}}
    assert emu.request("POST", "/jobs", json.dumps(body)).status == 201
    return "proc-job"


def test_terminate_ends_setsid_and_nohup_children(emu: Emulator, job: str, tmp_path: Path) -> None:
    _task(emu, job, "terminated", ESCAPE.format(dir=tmp_path) + "sleep 300")
    pids = _pids(tmp_path)
    assert all(_alive(p) for p in pids)
    assert emu.request("POST", f"/jobs/{job}/tasks/terminated/terminate").status == 204
    wait_for(lambda: not any(_alive(p) for p in pids), 10)


def test_wall_clock_ends_escaped_children(emu: Emulator, job: str, tmp_path: Path) -> None:
    _task(
        emu, job, "timed", ESCAPE.format(dir=tmp_path) + "sleep 300", constraints={"maxWallClockTime": "PT2S"}
    )
    pids = _pids(tmp_path)
    wait_for(lambda: _state(emu, job, "timed").get("state") == "completed", 20)
    wait_for(lambda: not any(_alive(p) for p in pids), 10)


def test_completed_task_leaves_no_process_and_no_zombie(emu: Emulator, job: str, tmp_path: Path) -> None:
    _task(emu, job, "finished", ESCAPE.format(dir=tmp_path) + "sleep 0.5")
    pids = _pids(tmp_path)
    wait_for(lambda: _state(emu, job, "finished").get("state") == "completed", 20)
    # Gone entirely: not running, and not a zombie of the emulator either (it was reaped).
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 10)


def test_completed_task_ends_a_new_session_left_alone(emu: Emulator, job: str, tmp_path: Path) -> None:
    """Nothing of the task is left in its process group, only a `setsid` child whose parent exited:
    the completion's quick check must still find it (re-parented to the emulator) and end it."""
    command = f"setsid sh -c 'echo $$ > {tmp_path}/alone.pid; exec sleep 300' & sleep 0.5"
    _task(emu, job, "alone", command)
    pid_file = tmp_path / "alone.pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 20))
    wait_for(lambda: _state(emu, job, "alone").get("state") == "completed", 20)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10)


def test_emulator_stop_ends_escaped_children(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "data")
    try:
        create_pool(emu, "stop-pool")
        assert (
            emu.request("POST", "/jobs", json.dumps({"id": "j", "poolInfo": {"poolId": "stop-pool"}})).status
            == 201
        )
        _task(emu, "j", "t", ESCAPE.format(dir=tmp_path) + "sleep 300")
        pids = _pids(tmp_path)
    finally:
        stop_emulator(emu)
    wait_for(lambda: not any(_alive(p) for p in pids), 10)


def test_crash_recovery_kills_escaped_children_of_the_dead_emulator(tmp_path: Path) -> None:
    """A child that escaped an emulator killed with SIGKILL is ended by the next start, before re-runs."""
    node_root = tmp_path / "node"
    node_root.mkdir()
    token = f"deadbeef {node_root}"
    # Stands for the dead emulator's task: it escaped (`setsid`, parent gone) and holds its token.
    escaped = subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)"],
        env={orphans.TASK_TOKEN_VAR: token, "PATH": os.defpath},
    )
    other = subprocess.Popen(
        ["sleep", "300"], env={orphans.TASK_TOKEN_VAR: f"x {tmp_path / 'other'}", "PATH": os.defpath}
    )
    try:
        time.sleep(0.2)
        orphans.reap_orphans(node_root)
        assert escaped.wait(5) == -9
        assert other.poll() is None, "another node's process is left alone"
    finally:
        for proc in (escaped, other):
            proc.kill()
            proc.wait()


def test_nul_in_a_command_line_fails_that_task_only(emu: Emulator, job: str) -> None:
    """Accepted today by the model (see test_validation_corpus); at run time it must fail one task,
    with a clear failure, and the scheduler keeps running the next one."""
    bad = {"id": "nul", "commandLine": "/bin/echo a\u0000b"}
    if emu.request("POST", f"/jobs/{job}/tasks", json.dumps(bad)).status == 201:
        doc = wait_for(lambda: (d := _state(emu, job, "nul")).get("state") == "completed" and d, 20)
        assert doc["executionInfo"]["failureInfo"]["code"] == "CommandLaunchFailed"
    _task(emu, job, "after-nul", "true")
    wait_for(lambda: _state(emu, job, "after-nul").get("state") == "completed", 20)
