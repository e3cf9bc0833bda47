"""What a web page, an idle client and a task cannot do to the emulator.

A cross-origin page cannot arm faults; the portal shows environment names but not values and no SAS
signature; an idle connection is closed after the server's timeout; a task sees neither account
key in its environment nor on the emulator's command line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import KEY, Emulator, create_pool  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402
from localbatch.exceptions import redact_sas  # noqa: E402

SAS = "https://acct.blob.core.windows.net/c/in.txt?sv=2024-01-01&sp=r&sig=TOPSECRETSIG%3D"


def test_cross_origin_page_cannot_arm_faults(emu: Emulator) -> None:
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json", "Origin": "https://x.example"},
    ):
        answer = emu.request(
            "POST", "/_localbatch/faults", '{"count": 5, "status": 503}', headers, sign=False, api=False
        )
        assert answer.status == 403
    assert json.loads(emu.request("GET", "/_localbatch/faults", sign=False, api=False).body)["faults"] == []
    assert emu.request("GET", "/jobs").status == 200, "no fault was armed"


def test_portal_hides_environment_values_and_sas(emu: Emulator) -> None:
    create_pool(emu, "guard-pool")
    job = {"id": "guard-job", "poolInfo": {"poolId": "guard-pool"}}
    assert emu.request("POST", "/jobs", json.dumps(job)).status == 201
    task = {
        "id": "t",
        "commandLine": f"/bin/echo {SAS}",
        "environmentSettings": [{"name": "API_TOKEN", "value": "ENV-SECRET-VALUE"}],
    }
    assert emu.request("POST", "/jobs/guard-job/tasks", json.dumps(task)).status == 201
    page = emu.request("GET", "/portal/jobs/guard-job/tasks/t", sign=False, api=False)
    assert page.status == 200
    assert b"API_TOKEN" in page.body, "names are shown"
    assert b"ENV-SECRET-VALUE" not in page.body and b"TOPSECRETSIG" not in page.body
    assert b"sig=REDACTED" in page.body


def test_refused_resource_file_does_not_echo_its_sas(emu: Emulator) -> None:
    body = {
        "id": "rf",
        "commandLine": "/bin/true",
        "resourceFiles": [{"httpUrl": SAS, "filePath": "../escape"}],
    }
    answer = emu.request("POST", "/jobs/guard-job/tasks", json.dumps(body))
    assert answer.status == 400
    assert b"TOPSECRETSIG" not in answer.body and b"sig=REDACTED" in answer.body
    assert redact_sas("a?sig=x&sp=r 'sig=y'") == "a?sig=REDACTED&sp=r 'sig=REDACTED'"


def test_idle_connection_is_closed(emu: Emulator) -> None:
    with emu.connect(timeout=10) as sock:
        start = time.monotonic()
        assert sock.recv(1) == b"", "the server closes an idle connection"
        assert time.monotonic() - start < emu.server.idle_timeout + 2


def test_task_cannot_read_the_account_key(emu: Emulator) -> None:
    task = {
        "id": "snoop",
        "commandLine": "/bin/sh -c 'env; cat /proc/$PPID/cmdline /proc/$PPID/environ; true'",
    }
    assert emu.request("POST", "/jobs/guard-job/tasks", json.dumps(task)).status == 201

    def stdout() -> bytes | None:
        doc = json.loads(emu.request("GET", "/jobs/guard-job/tasks/snoop").body)
        if doc.get("state") != "completed":
            return None
        return emu.request("GET", "/jobs/guard-job/tasks/snoop/files/" + quote("stdout.txt")).body

    out = wait_for(stdout, 20)
    assert b"LOCALBATCH_TASK_TOKEN" in out, "the task's environment was printed"
    assert KEY.encode() not in out


def test_database_files_are_private(emu: Emulator) -> None:
    files = list(emu.data_dir.glob("*.sqlite3*"))
    assert files
    for path in files:
        assert os.stat(path).st_mode & 0o077 == 0, path


def test_localdev_keeps_the_key_off_command_lines_and_checks_pids(tmp_path: Path) -> None:
    import subprocess

    from pulumi_azbatch import localdev

    command = localdev.batch_emulator_command(1234, tmp_path)
    assert localdev.LOCALBATCH_ACCOUNT_KEY not in " ".join(command)
    key_file = Path(command[command.index("--account-key-file") + 1])
    assert key_file.read_text().strip() == localdev.LOCALBATCH_ACCOUNT_KEY
    assert key_file.stat().st_mode & 0o077 == 0, "only the emulator's user reads the key file"
    # A recycled pid that now belongs to an unrelated process is not ours to signal.
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        assert not localdev.is_our_emulator(stranger.pid, "localbatch", tmp_path)
        assert not localdev.is_our_emulator(stranger.pid, "azurite", tmp_path)
    finally:
        stranger.kill()
        stranger.wait()
    impostor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "localbatch", "serve", str(tmp_path / "batch")]
    )
    try:
        time.sleep(0.2)
        assert localdev.is_our_emulator(impostor.pid, "localbatch", tmp_path), (
            "command line with data dir matches"
        )
    finally:
        impostor.kill()
        impostor.wait()


def test_localdev_stop_leaves_a_process_that_reused_the_pid_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`localdev stop` with stale pid files: the unrelated process now holding the pid survives, the
    stale files go, and the real emulator (its data folder on its command line) is stopped."""
    import argparse
    import subprocess

    from pulumi_azbatch import localdev

    monkeypatch.setattr(localdev, "LOCAL_DIR", tmp_path)
    stranger = subprocess.Popen(["sleep", "30"])
    ours = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "localbatch", "serve", str(tmp_path / "batch")]
    )
    try:
        (tmp_path / "azurite.pid").write_text(str(stranger.pid))
        (tmp_path / "localbatch.pid").write_text(str(ours.pid))
        time.sleep(0.2)
        assert localdev._cmd_stop(argparse.Namespace()) == 0
        assert ours.wait(10) is not None, "the emulator started by `localdev up` is stopped"
        assert stranger.poll() is None, "a process that reused a stale pid is never signalled"
        assert "stale pid file" in capsys.readouterr().out
        assert not (tmp_path / "azurite.pid").exists() and not (tmp_path / "localbatch.pid").exists()
    finally:
        for proc in (stranger, ours):
            proc.kill()
            proc.wait()
