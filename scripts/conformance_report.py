"""Write docs/emulator-conformance.md: each Batch 2025-06-01 operation and how the emulator answers it today.

Starts Azurite and the Batch emulator on free ports (as the tests do), sends the conformance probes of
tests/conformance/spec_probe.py through Microsoft's azure-batch client, and renders one table row per
operation plus the failures grouped by cause. Run it again after emulator changes:

    .venv/bin/python scripts/conformance_report.py [--output docs/emulator-conformance.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "conformance"))

from spec_operations import load  # noqa: E402
from spec_probe import Verdict, probe_all  # noqa: E402

# What every answer does, whichever operation (emulator/localbatch/rest, server.py, auth.py, timing.py);
# each line is asserted in tests/conformance/test_wire_fidelity.py or tests/emulator/test_timing.py.
WIRE_BEHAVIOUR = [
    "## On the wire, for every operation",
    "",
    "- One `Date`, `request-id`, `DataServiceVersion: 3.0`, and `client-request-id` echoed when "
    "`return-client-request-id` is true; JSON answers and errors as `application/json; "
    "odata=minimalmetadata` (recorded traffic), a HEAD error without a body type.",
    "- Query parameter names are case-insensitive (`maxResults`, as the JavaScript batch-rest client sends "
    "it); a body naming a property twice is a 400 `InvalidRequestBody`, as the service's OData reader "
    "refuses it.",
    "- `ETag` and `Last-Modified` on every successful answer about one entity (get, create, update, "
    "actions, task counts, add-collection, node operations), taken from the entity the path names; file "
    "answers carry the file's own. Lists carry none.",
    "- SharedKey is computed over the headers as received (an absent `Content-Length` signs as empty, as "
    "the JavaScript SDK signs it).",
    "- api-version: the versions Batch published (the folders of `specification/batch/data-plane`, "
    "2015-12-01.2.2 to 2025-06-01) are served alike; any other is a 400 `InvalidQueryParameterValue`.",
    '- Int32 and Boolean properties sent as JSON strings (`"targetDedicatedNodes": "2"`) are converted, '
    "as the service's OData reader does.",
    "- Write-only secrets (`password`, `sshPrivateKey`, mount `accountKey` / `sasKey`) are never returned.",
    "- Lists are in id order (files in name order), which decides paging.",
    '- A pool is returned with the service\'s defaults filled in (image `version` "latest", data disk '
    "caching and storage type, user `elevationLevel`, network defaults, `targetNodeCommunicationMode`, "
    "`resizeTimeout`, scheduling policy, start task retry count, `waitForSuccess` and auto user); a job's "
    "`autoPoolSpecification.pool` reads back with the same defaults and zero targets (recorded traffic).",
    "- Nodes carry `endpointConfiguration` (a loopback SSH rule, not connectable) and no `eTag` / "
    "`lastModified` in their body.",
    "- `$expand=stats` answers pool and job statistics in the service's shape (measured: task outcomes, "
    "retries, wall-clock and wait time, dedicated core time at one core per node; reported as zero: CPU "
    "split, I/O, memory).",
    "- Timing: fast by default; `localbatch serve --timing realistic --timing-scale S` (or "
    "`LOCALBATCH_TIMING`, `LOCALBATCH_TIMING_SCALE`, or `PUT /_localbatch/timing`) makes nodes spend time "
    "`creating` and `starting`, pools stay `resizing` meanwhile, reboot and reimage take their time, nodes "
    "not allocated within `resizeTimeout` end the resize with `AllocationTimedOut`; stop-resize keeps the "
    "targets and records `ResizeStopped` (in both modes).",
    "- Job schedules create `<scheduleId>:job-<n>` from their job specification on their timetable "
    "(recurrence, `startWindow`, `doNotRunUntil` / `doNotRunAfter`, one unfinished job at a time); the "
    "emulator's clock moves forward through `POST /_localbatch/clock` when started with `--clock-control` "
    "(tests/emulator/test_job_schedules.py, tests/conformance/test_js_job_schedule.py).",
    "",
]


def _status_cell(v: Verdict) -> str:
    if v.setup_error:
        return f"blocked ({v.setup_error})"
    assert v.answer is not None
    if v.status_ok:
        return "implemented"
    if not v.routed:
        return f"{v.answer.status} (not routed)"
    return f"wrong status: {v.answer.status} {v.answer.error_code or ''}".rstrip()


def _cause(v: Verdict) -> str:
    if v.setup_error:
        return "blocked: a prerequisite operation is missing"
    assert v.answer is not None
    if not v.routed:
        return f"{v.answer.status}: operation not routed"
    return f"routed, but answered {v.answer.status} {v.answer.error_code or ''}".rstrip()


def render(verdicts: list[Verdict], generated: str) -> str:
    table = load()
    source = table["derivedFrom"]
    status_ok = [v for v in verdicts if v.status_ok]
    clean = [v for v in status_ok if not v.header_problems()]
    lines = [
        "# Emulator conformance: Batch data plane 2025-06-01",
        "",
        f"Generated by `scripts/conformance_report.py` on {generated}; do not edit by hand.",
        "",
        f"Operations: the {len(verdicts)} operations of `{source['spec']['path']}` "
        f"(Azure/azure-rest-api-specs@{source['spec']['commit'][:12]}) less the deprecated certificate "
        f"operations, as derived from {source['package']} (`tests/conformance/spec_operations.py`). "
        "Each operation gets one request built from the spec's path and, where it has one, its x-ms-examples "
        "body (`tests/conformance/data/`), signed by Microsoft's azure-batch client. The same probes are the "
        "tests `tests/conformance/test_operations.py`; deviations the spec alone does not show (client "
        "behaviour, recorded service traffic) are asserted in `tests/conformance/test_wire_fidelity.py`.",
        "",
        "## Summary",
        "",
        f"- answered with the declared success status: **{len(status_ok)} of {len(verdicts)}**",
        f"- of those, with every graded header and one `Date`: **{len(clean)}**",
        "",
        "Graded headers: `request-id` always, `client-request-id` echoed (the probes ask for it); for a "
        "non-list success also every header the spec declares (`ETag`, `Last-Modified`, `DataServiceId`, "
        "file properties). The ETag/Last-Modified the spec declares on list answers are shown but not graded.",
        "",
        *WIRE_BEHAVIOUR,
        "## Failures by cause",
        "",
    ]
    causes: dict[str, list[str]] = defaultdict(list)
    for v in verdicts:
        if not v.status_ok:
            causes[_cause(v)].append(v.operation["operationId"])
    header_causes: dict[str, list[str]] = defaultdict(list)
    for v in status_ok:
        for problem in v.header_problems():
            header_causes[problem].append(v.operation["operationId"])
    for cause, ops in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"- **{cause}** ({len(ops)}): {', '.join(ops)}")
    for problem, ops in sorted(header_causes.items(), key=lambda kv: -len(kv[1])):
        shown = "every one" if len(ops) == len(status_ok) else ", ".join(ops)
        lines.append(f"- **header: {problem}** ({len(ops)} of the {len(status_ok)} routed): {shown}")
    if not causes and not header_causes:
        lines.append("None: every operation answers with its declared status and headers.")
    lines += [
        "",
        "## Operations",
        "",
        "| operationId | request | declared | emulator today | header gaps |",
        "| --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        op = v.operation
        gaps = ", ".join(v.header_problems()) if v.answer is not None else ""
        info = v.ungraded_missing() if v.status_ok else []
        if info:
            gaps += ("; " if gaps else "") + "not sent (ungraded): " + ", ".join(info)
        lines.append(
            f"| {op['operationId']} | `{op['method']} {op['path']}` | {op['status']} | {_status_cell(v)} | {gaps} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "emulator-conformance.md")
    args = parser.parse_args()

    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

    from pulumi_azbatch.localdev import start_emulators

    with tempfile.TemporaryDirectory() as state:
        running = start_emulators(Path(state))
        try:
            e = running.endpoints
            name = f"probe-logs-{uuid.uuid4().hex[:8]}"
            BlobServiceClient.from_connection_string(e.storage_connection_string).create_container(name)
            now = datetime.now(UTC)
            sas = generate_container_sas(
                e.storage_account_name,
                name,
                account_key=e.storage_account_key,
                permission=ContainerSasPermissions(write=True, create=True),
                start=now - timedelta(minutes=5),
                expiry=now + timedelta(hours=1),
            )
            client = BatchClient(
                endpoint=e.batch_url,
                retry_total=0,
                credential=AzureNamedKeyCredential(e.batch_account_name, e.batch_account_key),
            )
            verdicts = probe_all(client, f"{e.blob_url}/{name}?{sas}")
        finally:
            running.stop()
    args.output.write_text(render(verdicts, now.strftime("%Y-%m-%d")))
    ok = sum(v.status_ok for v in verdicts)
    print(f"{ok}/{len(verdicts)} operations answer with the declared status -> {args.output}")


if __name__ == "__main__":
    main()
