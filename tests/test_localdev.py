"""The local dev plumbing a newcomer meets first: emulators that start, stop, and say what is wrong."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from pulumi_azbatch.localdev import engine_env, start_emulators


def test_a_busy_port_is_named_instead_of_talking_to_the_wrong_service(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(
            RuntimeError, match=f"127.0.0.1:{port} is already in use, so Azurite cannot listen"
        ):
            start_emulators(tmp_path, blob_port=port)


def test_emulators_start_answer_and_stop_promptly(tmp_path: Path) -> None:
    emulators = start_emulators(tmp_path)
    try:
        for url in (emulators.endpoints.batch_url, emulators.endpoints.blob_url):
            host, port = url.split("//")[1].split("/")[0].split(":")
            with socket.create_connection((host, int(port)), timeout=2):
                pass
    finally:
        started = time.monotonic()
        emulators.stop()
    assert time.monotonic() - started < 5  # Azurite needs SIGINT; SIGTERM would leave it running for 10 s
    assert emulators.azurite is not None and emulators.azurite.returncode is not None
    assert emulators.batch is not None and emulators.batch.returncode is not None


def test_engine_env_is_offline_and_self_contained(tmp_path: Path) -> None:
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home", base={"PATH": "/usr/bin"})
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'state'}"
    assert env["PULUMI_HOME"] == str(tmp_path / "home")
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "local-development-only"
    assert env["PATH"].endswith("/usr/bin") and ".venv/bin" in env["PATH"]
