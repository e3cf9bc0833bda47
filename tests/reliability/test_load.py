"""Load: 50 concurrent clients against the Batch emulator for a bounded time, with a few faults injected.

No errors besides the injected ones, no task lost or duplicated, and the figures (p50/p99 latency,
requests per second) are written to test-output/reliability-load.json. The duration is
`RELIABILITY_LOAD_SECONDS` (default 20 s, so the suite stays short; the README figures come from
`python tests/reliability/loadgen.py --seconds 60`).
"""

from __future__ import annotations

import json
import os

from harness import LocalStack, prepare_load_target, verify_load
from loadgen import run_load

from pulumi_azbatch.localdev import REPO_ROOT

SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "20"))
CLIENTS = 50


def test_fifty_clients_lose_no_task_and_see_only_injected_errors(local: LocalStack) -> None:
    job_id = prepare_load_target(local, fault_rate=0.01)
    e = local.endpoints()
    figures = run_load(
        e.batch_url, e.batch_account_name, e.batch_account_key, job_id, clients=CLIENTS, seconds=SECONDS
    )
    checked = verify_load(local, job_id, figures)
    report = {**figures, "added": len(figures["added"]), **checked}
    out = REPO_ROOT / "test-output" / "reliability-load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    assert figures["error_count"] == 0, figures["errors"]
    assert figures["injected_faults"] > 0, "the fault injector took part"
    assert checked["tasks"] > 100, "the clients added tasks"
    assert set(figures["per_operation"]) == {"add", "get_task", "counts", "get_job", "list"}
    client = local.client()
    client.begin_delete_job(job_id, polling_interval=0.5).result()
