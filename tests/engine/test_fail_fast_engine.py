"""`pulumi preview` and `pulumi up` with the emulators down fail within seconds and say what to do."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from pulumi_azbatch.endpoints import Endpoints
from pulumi_azbatch.localdev import engine_env, free_port

from .test_secrets_engine import _project

pytestmark = pytest.mark.engine


def test_stopped_emulators_fail_preview_and_up_at_once(tmp_path: Path, endpoints: Endpoints) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    batch_port, blob_port = free_port(), free_port()
    Endpoints(
        **{
            **endpoints.__dict__,
            "batch_url": f"http://127.0.0.1:{batch_port}",
            "blob_url": f"http://127.0.0.1:{blob_port}/devstoreaccount1",
        }
    ).write(endpoints_file)
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    project = _project(tmp_path, endpoints_file, "down")
    subprocess.run(["pulumi", "stack", "init", "sec"], cwd=project, env=env, check=True, capture_output=True)
    for command in (["preview"], ["up", "--yes"]):
        started = time.monotonic()
        run = subprocess.run(
            ["pulumi", *command, "--non-interactive", "--stack", "sec"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.monotonic() - started
        assert run.returncode != 0
        assert f"127.0.0.1:{batch_port}" in run.stdout and f"127.0.0.1:{blob_port}" in run.stdout, run.stdout
        assert "make emulators" in run.stdout
        assert "Traceback" not in run.stdout
        # The engine and the language host start in a few seconds; no retry budget is spent.
        assert elapsed < 30, elapsed
        print(command[0], f"failed in {elapsed:.1f}s")
