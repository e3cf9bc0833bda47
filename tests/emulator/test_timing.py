"""Realistic timing: nodes are allocated and boot over time, pools resize over time, resizes can fail
or be stopped short; the fast default stays instant. Switched at run time by `PUT /_localbatch/timing`.

Durations run at scale 0.01 (a 60 s allocation takes 0.6 s; resizeTimeout is scaled too). Each test
switches the session emulator to realistic timing and back to fast when it ends (`emulator_timing`).
"""

from __future__ import annotations

import os
import subprocess
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from emulator_helpers import admin, pool_options, unique, wait_for

from pulumi_azbatch.localdev import batch_emulator_command, free_port, stop_process, wait_for_port

SCALE = 0.01


def _states(client: BatchClient, pool_id: str) -> tuple[str, tuple[str, ...]]:
    pool = client.get_pool(pool_id)
    return pool.allocation_state.value, tuple(sorted(n.state.value for n in client.list_nodes(pool_id)))


def test_fast_is_the_default_and_bad_settings_are_refused(endpoints: Any) -> None:
    assert admin(endpoints.batch_url, "GET", "/_localbatch/timing")["mode"] == "fast"
    for bad in ({"mode": "slow"}, {"mode": "realistic", "scale": 0}, {"mode": "realistic", "warp": 1}):
        with pytest.raises(urllib.error.HTTPError) as err:
            admin(endpoints.batch_url, "PUT", "/_localbatch/timing", bad)
        assert err.value.code == 400


def test_serve_takes_the_timing_from_its_flags_and_environment(tmp_path: Path) -> None:
    """`localbatch serve --timing realistic --timing-scale 0.01`, and the same from LOCALBATCH_TIMING /
    LOCALBATCH_TIMING_SCALE; a bad value stops it with exit code 2."""
    runs = [
        (["--timing", "realistic", "--timing-scale", "0.01"], {}),
        ([], {"LOCALBATCH_TIMING": "realistic", "LOCALBATCH_TIMING_SCALE": "0.01"}),
    ]
    for flags, env in runs:
        port = free_port()
        command = batch_emulator_command(port, tmp_path / str(port)) + flags
        proc = subprocess.Popen(command, env={**os.environ, **env}, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc=proc)
            got = admin(f"http://127.0.0.1:{port}", "GET", "/_localbatch/timing")
            assert (got["mode"], got["allocate"]) == ("realistic", pytest.approx(0.6)), got
        finally:
            stop_process(proc.pid, "localbatch")
    bad = batch_emulator_command(free_port(), tmp_path / "bad") + [
        "--timing",
        "realistic",
        "--timing-scale",
        "0",
    ]
    assert subprocess.run(bad, capture_output=True, timeout=60).returncode == 2


def test_nodes_go_through_creating_starting_and_the_start_task(
    client: BatchClient, emulator_timing: Callable[..., Any]
) -> None:
    """A new pool is `resizing` while its nodes are `creating`, then they are `starting`, then they
    wait for their start task; the pool is `steady` once every node is allocated."""
    assert emulator_timing(mode="realistic", scale=SCALE)["allocate"] == pytest.approx(0.6)
    pool_id = unique("slow")
    start = m.BatchStartTask(command_line="/bin/sh -c 'sleep 0.5'", wait_for_success=True)
    client.create_pool(pool_options(pool_id, nodes=2, start_task=start))
    seen: list[tuple[str, tuple[str, ...]]] = []

    def settled() -> bool:
        seen.append(_states(client, pool_id))
        return seen[-1] == ("steady", ("idle", "idle"))

    wait_for(settled, timeout=30, interval=0.05)
    node_states = {s for _, states in seen for s in states}
    assert {"creating", "starting", "waitingforstarttask", "idle"} <= node_states, seen
    assert ("resizing", ("creating", "creating")) in seen
    pool = client.get_pool(pool_id)
    assert (pool.current_dedicated_nodes, pool.resize_errors) == (2, None)


def test_stop_resize_keeps_the_targets_and_the_nodes_allocated_so_far(
    client: BatchClient, emulator_timing: Callable[..., Any]
) -> None:
    """Stopping a resize part-way: the targets stay as asked, the pool keeps the nodes it has, the ones
    still being allocated are given up, and `resizeErrors` says `ResizeStopped`."""
    emulator_timing(mode="realistic", scale=SCALE)
    pool_id = unique("stop")
    client.create_pool(pool_options(pool_id, nodes=1))
    wait_for(lambda: _states(client, pool_id) == ("steady", ("idle",)), timeout=30)
    emulator_timing(mode="realistic", scale=SCALE, allocate=100_000)  # the next nodes take 1000 s to allocate
    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=3), polling_interval=0.1
    )
    wait_for(lambda: _states(client, pool_id) == ("resizing", ("creating", "creating", "idle")))
    client.begin_stop_pool_resize(pool_id, polling_interval=0.1).result(timeout=20)
    wait_for(lambda: _states(client, pool_id) == ("steady", ("idle",)))
    pool = client.get_pool(pool_id)
    assert (pool.target_dedicated_nodes, pool.current_dedicated_nodes) == (3, 1)
    assert [e.code for e in pool.resize_errors or []] == ["ResizeStopped"]


def test_allocation_beyond_the_resize_timeout_is_a_resize_error(
    client: BatchClient, emulator_timing: Callable[..., Any]
) -> None:
    """Nodes not allocated within the pool's resizeTimeout are given up: the pool goes `steady` short of
    its target with the resize error `AllocationTimedOut` (PoolResizeErrorCodes of the Batch SDKs)."""
    emulator_timing(mode="realistic", scale=SCALE, allocate=100_000)
    pool_id = unique("timeout")
    client.create_pool(pool_options(pool_id, nodes=2, resize_timeout="PT5M"))  # 3 s at this scale
    assert _states(client, pool_id)[0] == "resizing"
    wait_for(lambda: _states(client, pool_id) == ("steady", ()), timeout=30)
    pool = client.get_pool(pool_id)
    assert (pool.target_dedicated_nodes, pool.current_dedicated_nodes) == (2, 0)
    assert [e.code for e in pool.resize_errors or []] == ["AllocationTimedOut"]
