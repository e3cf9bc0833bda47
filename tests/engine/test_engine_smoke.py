"""The real Pulumi engine runs a program whose dynamic provider lives in the installed package."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from pulumi import automation as auto

from pulumi_azbatch.localdev import PULUMI_VERSION, REPO_ROOT, Emulators, engine_env, workspace_options

PROGRAM = Path(__file__).parent / "smoke_program"
pytestmark = pytest.mark.engine


def test_engine_version_is_the_pin(tmp_path: Path) -> None:
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    out = subprocess.run(["pulumi", "version"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"v{PULUMI_VERSION}"


def test_up_refresh_preview_destroy(tmp_path: Path, azurite: Emulators) -> None:
    from azure.storage.blob import BlobServiceClient

    endpoints = azurite.endpoints
    blob_service = BlobServiceClient.from_connection_string(endpoints.storage_connection_string)
    trace = tmp_path / "provider-trace.jsonl"
    env = engine_env(state_dir=tmp_path / "state", pulumi_home=tmp_path / "home")
    env["PULUMI_AZBATCH_PROVIDER_TRACE"] = str(trace)
    stack = auto.create_or_select_stack("smoke", work_dir=str(PROGRAM), opts=workspace_options(env))
    name = f"smoke-{uuid.uuid4().hex[:12]}"
    stack.set_all_config(
        {
            "blobUrl": auto.ConfigValue(endpoints.blob_url),
            "accountName": auto.ConfigValue(endpoints.storage_account_name),
            "accountKey": auto.ConfigValue(endpoints.storage_account_key, secret=True),
            "containerName": auto.ConfigValue(name),
        }
    )
    try:
        up = stack.up(on_output=print)
        assert up.summary.result == "succeeded"
        assert up.outputs["container_url"].value == f"{endpoints.blob_url}/{name}"
        props = blob_service.get_container_client(name).get_container_properties()
        # The user's metadata, beside the ownership mark that ties the container to this resource.
        marks = {k: v for k, v in props.metadata.items() if k.startswith("pulumi_azbatch_")}
        assert {k: v for k, v in props.metadata.items() if k not in marks} == {"purpose": "engine-smoke"}
        assert marks["pulumi_azbatch_resource"] == "azbatch:BlobContainer::smoke", marks
        assert marks["pulumi_azbatch_stack"].endswith("/smoke") and marks["pulumi_azbatch_nonce"]

        # The state the engine wrote: one dynamic resource, its provider pickled by reference to the
        # installed module, the account key stored only as a secret.
        # (The Automation API's export_stack shows secrets; `pulumi stack export` is what a user runs.)
        exported = subprocess.run(
            ["pulumi", "stack", "export", "--stack", "smoke"],
            cwd=PROGRAM,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        state = json.loads(exported)["deployment"]
        dynamic = [
            r for r in state["resources"] if r["type"] == "pulumi-python:dynamic/azbatch:BlobContainer"
        ]
        assert len(dynamic) == 1
        assert dynamic[0]["outputs"]["name"] == name
        assert endpoints.storage_account_key not in exported

        refresh = stack.refresh(on_output=print)
        assert refresh.summary.result == "succeeded"
        preview = stack.preview(on_output=print)
        assert preview.change_summary == {"same": 2}  # the stack and the container: no drift
    finally:
        destroy = stack.destroy(on_output=print)
        stack.workspace.remove_stack("smoke")
    assert destroy.summary.result == "succeeded"
    with pytest.raises(ResourceNotFoundError):
        blob_service.get_container_client(name).get_container_properties()

    # The provider ran in the project's virtualenv, from the installed package.
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    assert {c["operation"] for c in calls} >= {"create", "read", "delete"}
    venv = (REPO_ROOT / ".venv").resolve()
    assert all(Path(c["prefix"]).resolve() == venv for c in calls), {c["prefix"] for c in calls}
    assert all(c["module"] == "pulumi_azbatch.dynamic_providers.storage" for c in calls)
