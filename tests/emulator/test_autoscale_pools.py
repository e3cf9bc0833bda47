"""Autoscale on pools through the SDK (service/scaling.py): formulas set at create or enable time,
evaluated at once and on their interval, `autoScaleRun`, evaluate without applying, disable, and
resize refused while autoscale is on. The formula language itself is tested in tests/emulator/autoscale.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from emulator_helpers import LINUX, pool_options, unique, wait_for
from localbatch.service import BatchService


def _autoscale_pool(
    pool_id: str, formula: str, interval: dt.timedelta | None = None
) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=pool_id,
        vm_size="standard_d2s_v3",
        virtual_machine_configuration=LINUX,
        enable_auto_scale=True,
        auto_scale_formula=formula,
        auto_scale_evaluation_interval=interval,
    )


def test_pool_created_with_a_formula_takes_its_targets(client: BatchClient) -> None:
    pool_id = unique("as")
    client.create_pool(_autoscale_pool(pool_id, "$TargetDedicatedNodes = 2; $TargetLowPriorityNodes = 1;"))
    pool = client.get_pool(pool_id)
    assert pool.enable_auto_scale is True
    assert pool.auto_scale_evaluation_interval == dt.timedelta(minutes=15)  # the default
    assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes) == (2, 1)
    assert pool.auto_scale_run is not None and pool.auto_scale_run.error is None
    assert pool.auto_scale_run.results.startswith(
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=1;$NodeDeallocationOption=requeue"
    )
    nodes = wait_for(lambda: len(ns := list(client.list_nodes(pool_id))) == 3 and ns)
    assert sorted(n.is_dedicated for n in nodes) == [False, True, True]
    with pytest.raises(HttpResponseError) as err:
        client.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1)).result()
    assert err.value.status_code == 409 and err.value.error.code == "OperationInvalidForCurrentState"


def test_bad_formulas_and_intervals_are_refused_when_set(client: BatchClient) -> None:
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(_autoscale_pool(unique("as"), "$TargetDedicatedNodes = = 2"))
    assert err.value.status_code == 400 and err.value.error.code == "AutoScalingFormulaSyntaxError"
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(_autoscale_pool(unique("as"), "$TargetDedicatedNodes=1", dt.timedelta(minutes=1)))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidPropertyValue"
    with pytest.raises(HttpResponseError) as err:
        client.create_pool(_autoscale_pool(unique("as"), "$TargetDedicatedNodes=1;" + " " * 8192))
    assert err.value.error.code == "AutoScaleFormulaTooLong"
    with pytest.raises(HttpResponseError) as err:  # targets come from the formula, not the body
        client.create_pool(
            m.BatchPoolCreateOptions(
                id=unique("as"),
                vm_size="standard_d2s_v3",
                virtual_machine_configuration=LINUX,
                enable_auto_scale=True,
                auto_scale_formula="$TargetDedicatedNodes=1",
                target_dedicated_nodes=1,
            )
        )
    assert err.value.status_code == 400


def test_enable_evaluate_and_disable(client: BatchClient, shared_pool: str) -> None:
    pool_id = unique("as")
    client.create_pool(pool_options(pool_id, nodes=0))
    with pytest.raises(HttpResponseError) as err:  # evaluate needs autoscale enabled
        client.evaluate_pool_auto_scale(
            pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=1")
        )
    assert err.value.status_code == 409
    client.enable_pool_auto_scale(
        pool_id,
        m.BatchPoolEnableAutoScaleOptions(
            auto_scale_formula="$TargetDedicatedNodes = max(1, $CurrentDedicatedNodes);",
            auto_scale_evaluation_interval=dt.timedelta(minutes=6),
        ),
    )
    pool = client.get_pool(pool_id)
    assert pool.enable_auto_scale and pool.auto_scale_evaluation_interval == dt.timedelta(minutes=6)
    assert pool.target_dedicated_nodes == 1  # evaluated at once, and applied as a resize
    wait_for(lambda: client.get_pool(pool_id).current_dedicated_nodes == 1)
    # Evaluate answers the run without applying it.
    run = client.evaluate_pool_auto_scale(
        pool_id,
        m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 3; spare = 2;"),
    )
    assert (
        run.results
        == "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;spare=2"
    )
    assert run.timestamp is not None and run.error is None
    assert client.get_pool(pool_id).target_dedicated_nodes == 1
    failed = client.evaluate_pool_auto_scale(
        pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1 / 0;")
    )
    assert failed.error is not None and failed.error.code == "AutoScalingFormulaEvaluationError"
    # A second enable within 30 seconds is refused, as documented.
    with pytest.raises(HttpResponseError) as err:
        client.enable_pool_auto_scale(
            pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=0")
        )
    assert err.value.error.code == "TooManyEnableAutoScaleRequests"
    client.disable_pool_auto_scale(pool_id)
    pool = client.get_pool(pool_id)
    assert pool.enable_auto_scale is False and pool.auto_scale_formula is None
    assert pool.target_dedicated_nodes == 1  # kept
    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=0), polling_interval=0.1
    ).result()
    assert client.get_pool(pool_id).current_dedicated_nodes == 0


def test_periodic_evaluation_follows_pending_tasks(tmp_path: Path) -> None:
    """The interval's evaluation resizes the pool to the formula (driven with the clock moved forward:
    the shortest interval the service allows is five minutes)."""
    service = BatchService(tmp_path / "batch", account_name="devbatchaccount1")
    try:
        body = {
            "id": "scaled",
            "vmSize": "standard_d2s_v3",
            "virtualMachineConfiguration": {
                "imageReference": {
                    "publisher": "canonical",
                    "offer": "0001-com-ubuntu-server-jammy",
                    "sku": "22_04-lts",
                },
                "nodeAgentSKUId": "batch.node.ubuntu 22.04",
            },
            "enableAutoScale": True,
            "autoScaleFormula": "$TargetDedicatedNodes = min(3, $PendingTasks.GetSample(1));",
            "autoScaleEvaluationInterval": "PT5M",
        }
        service.create_pool(body)
        assert service.get_pool("scaled")["targetDedicatedNodes"] == 0
        service.create_job({"id": "work", "poolInfo": {"poolId": "scaled"}})
        for i in range(5):
            service.add_task("work", {"id": f"t{i}", "commandLine": "/bin/true"})
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5, seconds=1)
        with service.lock:
            service._advance_autoscale(later)  # the scheduler's step at that time: sample, then evaluate
        pool = service.get_pool("scaled")
        assert pool["targetDedicatedNodes"] == 3 and pool["allocationState"] == "resizing"
        assert pool["autoScaleRun"]["results"].startswith("$TargetDedicatedNodes=3;")
    finally:
        service.stop()
