"""Fixtures for the Job provider's tests: a two-node pool on the emulator, fast polls, the account inputs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m

from pulumi_azbatch.localdev import Endpoints

# Test modules import `provider_helpers` from this folder (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider_helpers import unique, wait_for  # noqa: E402

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
LINUX = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's waits poll every 0.1-0.5 s here (the knob users never need)."""
    monkeypatch.setenv("PULUMI_AZBATCH_POLL_INTERVAL", "0.1")
    monkeypatch.setenv("PULUMI_AZBATCH_POLL_MAX_INTERVAL", "0.5")


@pytest.fixture(scope="session")
def pool_id(batch_client: Any) -> Iterator[str]:
    """A two-node pool (one slot per node), as in the seeds' JobPrepRelease sample."""
    pool = unique("provider-pool")
    batch_client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool, vm_size="standard_d2s_v3", target_dedicated_nodes=2, virtual_machine_configuration=LINUX
        )
    )
    wait_for(lambda: len([n for n in batch_client.list_nodes(pool) if n.state == "idle"]) == 2)
    yield pool
    with contextlib.suppress(Exception):
        batch_client.begin_delete_pool(pool, polling_interval=1)


@pytest.fixture
def account(endpoints: Endpoints) -> dict[str, str]:
    """The provider inputs naming the emulator's account."""
    return {
        "batch_account_url": endpoints.batch_url,
        "batch_account_name": endpoints.batch_account_name,
        "batch_account_key": endpoints.batch_account_key,
    }
