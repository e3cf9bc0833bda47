"""Fixtures for the conformance tests: the emulators as a Microsoft client sees them, and one probe run.

The Batch emulator and Azurite come from tests/conftest.py (free ports, started once per session).
Modules of this folder import each other by bare name (pytest runs in importlib mode).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import ensure_js_sdk, run_node  # noqa: E402
from spec_probe import Verdict, probe_all, unique  # noqa: E402

JS_SCENARIO = Path(__file__).resolve().parent / "clients" / "js_prep_release.cjs"


@pytest.fixture(scope="session")
def raw_client(make_batch_client: Callable[..., Any]) -> Any:
    """Microsoft's azure-batch client without retries: it signs the probes' raw requests."""
    return make_batch_client(retry_total=0)


@pytest.fixture(scope="session")
def make_container(blob_service: Any, endpoints: Any) -> Callable[[str], str]:
    """Create a fresh Azurite container and return its URL with a read/write/list SAS."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    def make(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        blob_service.create_container(name)
        now = datetime.now(UTC)
        sas = generate_container_sas(
            endpoints.storage_account_name,
            name,
            account_key=endpoints.storage_account_key,
            permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
            start=now - timedelta(minutes=5),
            expiry=now + timedelta(hours=2),
        )
        return f"{endpoints.blob_url}/{name}?{sas}"

    return make


@pytest.fixture(scope="session")
def verdicts(raw_client: Any, make_container: Callable[[str], str]) -> dict[str, Verdict]:
    """One request per spec operation, sent once per session, judged per operationId."""
    return {v.operation["operationId"]: v for v in probe_all(raw_client, make_container("probe-logs"))}


@pytest.fixture(scope="session")
def js_scenario(endpoints: Any, make_container: Callable[[str], str], blob_service: Any) -> dict[str, Any]:
    """Run the scenario once per session; its per-step outcomes and the container's blobs."""
    version = ensure_js_sdk()
    container_url = make_container("js-out")
    result = run_node(
        JS_SCENARIO,
        {
            "BATCH_URL": endpoints.batch_url,
            "BATCH_ACCOUNT": endpoints.batch_account_name,
            "BATCH_KEY": endpoints.batch_account_key,
            "CONTAINER_URL": container_url,
            "POOL_ID": unique("jspool"),
            "JOB_ID": unique("jsjob"),
        },
    )
    container = blob_service.get_container_client(container_url.split("?")[0].rsplit("/", 1)[1])
    result["blobs"] = {
        b.name: container.download_blob(b.name).readall().decode() for b in container.list_blobs()
    }
    result["sdkVersion"] = version
    return result
