"""The report `make up` prints after `pulumi up`: what the job did, per node, and what it persisted.

In the spirit of the JobPrepRelease sample's console output: for each node of the pool, the contents
of the shared file the job preparation task wrote and the tasks appended to, with the preparation
task's exit code; then the output blobs the Batch service persisted through the write SAS, with
their names and sizes. The facts are read live from the Batch data plane and the blob container,
using the stack's outputs to find them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ResourceNotFoundError
from batch_file_conventions import OutputReader

SHARED_FILE = "shared/job_prep_and_release.txt"
RELEASE_LINE = re.compile(
    r"job (?P<job>\S+): node (?P<node>\S+): preparation exit code (?P<prep>\S+), "
    r"(?:release exit code (?P<release>-?\d+)|no release task ran)"
)


@dataclass
class NodeReport:
    """One compute node: its shared file and the job preparation task's result there."""

    node_id: str
    shared_file: str | None
    preparation_state: str | None = None
    preparation_exit_code: int | None = None
    release_exit_code: int | None = None


@dataclass
class BlobReport:
    name: str
    size: int
    kind: str | None = None


@dataclass
class JobReport:
    """What `make up` shows: the pool's nodes, the job's state and counts, and the persisted outputs."""

    pool_id: str
    job_id: str
    job_state: str
    task_counts: dict[str, int]
    nodes: list[NodeReport] = field(default_factory=list)
    container: str = ""
    blobs: list[BlobReport] = field(default_factory=list)
    portal_url: str | None = None

    def render(self) -> str:
        lines = [
            f"Pool {self.pool_id}: {len(self.nodes)} node(s)",
            f"Job {self.job_id}: {self.job_state}; tasks: "
            + ", ".join(f"{v} {k}" for k, v in self.task_counts.items()),
            "",
        ]
        for node in self.nodes:
            lines.append(f"Contents of {SHARED_FILE} on {node.node_id}:")
            if node.shared_file is None:
                lines.append("  (no such file: the job preparation task did not run on this node)")
            else:
                lines.extend(f"  {line}" for line in node.shared_file.rstrip("\n").splitlines())
            prep = (
                "did not run (the node ran no task of the job)"
                if node.preparation_state is None
                else (
                    f"{node.preparation_exit_code}"
                    if node.preparation_state == "completed"
                    else node.preparation_state
                )
            )
            lines.append(f"  Prep task exit code:    {prep}")
            lines.append("")
        lines.append(f"Persisted outputs in container {self.container} ({len(self.blobs)} blob(s)):")
        width = max((len(b.name) for b in self.blobs), default=0)
        lines.extend(f"  {b.name:<{width}}  {b.size:>8} bytes" for b in self.blobs)
        if self.portal_url:
            lines += ["", f"Portal: {self.portal_url}"]
        return "\n".join(lines)


def _text(value: Any) -> str:
    """An SDK enum member or string as the service's own lower-case text."""
    return str(getattr(value, "value", value))


def build_report(outputs: dict[str, Any], storage_key: str) -> JobReport:
    """Read the job's facts live; `outputs` are the stack outputs (with secrets shown)."""
    from azure.batch import BatchClient
    from azure.storage.blob import BlobServiceClient

    batch = BatchClient(
        endpoint=outputs["batch_account_url"],
        credential=AzureNamedKeyCredential(outputs["batch_account_name"], outputs["batch_account_key"]),
    )
    pool_id, job_id = outputs["pool_id"], outputs["job_id"]
    prep = {s.node_id: s for s in batch.list_job_preparation_and_release_task_status(job_id)}
    counts = batch.get_job_task_counts(job_id).task_counts
    report = JobReport(
        pool_id=pool_id,
        job_id=job_id,
        job_state=_text(batch.get_job(job_id).state),
        task_counts={
            "active": counts.active,
            "running": counts.running,
            "completed": counts.completed,
            "succeeded": counts.succeeded,
            "failed": counts.failed,
        },
        container=outputs["output_container_name"],
    )
    for node in batch.list_nodes(pool_id):
        try:
            content: str | None = b"".join(batch.download_node_file(pool_id, node.id, SHARED_FILE)).decode()
        except ResourceNotFoundError:
            content = None
        info = prep.get(node.id)
        prep_info = info.job_preparation_task_execution_info if info else None
        report.nodes.append(
            NodeReport(
                node_id=node.id,
                shared_file=content,
                preparation_state=_text(prep_info.state) if prep_info else None,
                preparation_exit_code=prep_info.exit_code if prep_info else None,
            )
        )
    blobs = BlobServiceClient(
        account_url=outputs["blob_url"],
        credential={"account_name": outputs["storage_account_name"], "account_key": storage_key},
    ).get_container_client(report.container)
    # The File Conventions reader lists the outputs by kind (job outputs first, then each task's).
    report.blobs = [
        BlobReport(output.blob_name, int(output.size or 0), output.kind)
        for _, output in OutputReader(blobs).outputs()
    ]
    if outputs.get("backend") == "local":
        report.portal_url = f"{outputs['batch_account_url'].rstrip('/')}/portal/jobs/{job_id}"
    return report


def kept_blobs(outputs: dict[str, Any], storage_key: str) -> list[BlobReport] | None:
    """The blobs left in the stack's output container (after a destroy that retains it), or None if gone."""
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient(
        account_url=outputs["blob_url"],
        credential={"account_name": outputs["storage_account_name"], "account_key": storage_key},
    ).get_container_client(outputs["output_container_name"])
    if not container.exists():
        return None
    return [BlobReport(b.name, int(b.size)) for b in container.list_blobs()]


def release_exit_codes(destroy_output: str) -> dict[str, int | None]:
    """Each node's job release task exit code, from the lines the Job provider prints on destroy."""
    codes: dict[str, int | None] = {}
    for match in RELEASE_LINE.finditer(destroy_output):
        codes[match["node"]] = int(match["release"]) if match["release"] is not None else None
    return codes
