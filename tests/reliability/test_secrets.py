"""Secrets and access: nothing secret in exported state or logs, a write-only short-lived SAS, a closed emulator.

* `pulumi stack export` of a deployed local stack, its `stack output`, its stack file and the log of
  `pulumi up` hold no account key, SAS signature or passphrase in plain text (the test searches for
  each); the same for a mocked Azure stack (dev), modelled as the engine stores it.
* The output SAS the stack hands to Batch lets a node create and write blobs and nothing else (Azurite
  refuses read, list and delete) and expires after the configured lifetime; on Azure it is https-only.
* The Batch emulator refuses requests without, or with a wrong, SharedKey signature, binds to
  loopback by default, and refuses node-file paths that leave the node root, however encoded.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pulumi
import pytest
import yaml
from arm_mocks import BATCH_KEY, SECRET_SIG, STORAGE_KEY, ArmMocks, is_secret
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient
from harness import LocalStack, Project, job_config, stack_config, unique, wait_until

from pulumi_azbatch.localdev import (
    AZURITE_ACCOUNT_KEY,
    DEV_PASSPHRASE,
    LOCALBATCH_ACCOUNT_KEY,
    LOCALBATCH_ACCOUNT_NAME,
    REPO_ROOT,
    batch_emulator_command,
    free_port,
    wait_for_port,
)

API = "2024-07-01.20.0"


@pytest.fixture(scope="module")
def deployed(local: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The local stack, up: its project, ids, the log of `pulumi up` and the state with secrets shown."""
    root = tmp_path_factory.mktemp("secrets")
    pool_id, job_id = unique("sec-pool"), unique("sec-job")
    log = REPO_ROOT / "test-output" / "reliability-secrets.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    project = Project.create(
        root / "project", local.endpoints(), stack_config(pool_id, job_config(job_id, 2)), log=log
    )
    up = project.run("up")
    shown = json.loads(project.run("stack", "export", "--show-secrets").stdout)
    # The job's output SAS (beside it: the maintenance SAS that keeps earlier runs' outputs apart).
    [sas] = [
        r
        for r in shown["deployment"]["resources"]
        if r["type"].endswith("azbatch:ContainerSas") and r["urn"].endswith("-output-sas")
    ]
    try:
        yield {
            "project": project,
            "pool_id": pool_id,
            "job_id": job_id,
            "up_log": up.stdout + up.stderr,
            "sas_url": json.loads(sas["outputs"]["sas_url"]["plaintext"]),
        }
    finally:
        project.run("destroy")


def _signature(sas_url: str) -> str:
    return parse_qs(urlsplit(sas_url).query)["sig"][0]


def _forbidden(sas_url: str) -> list[str]:
    """Every secret of the local stack, in the forms it could be written in."""
    sig = _signature(sas_url)
    return [
        LOCALBATCH_ACCOUNT_KEY,
        AZURITE_ACCOUNT_KEY,
        DEV_PASSPHRASE,
        sig,
        quote(sig, safe=""),
        json.dumps(sig)[1:-1],
        json.dumps(LOCALBATCH_ACCOUNT_KEY)[1:-1],
    ]


def test_local_stack_export_outputs_config_and_log_hold_no_secret(deployed: dict[str, Any]) -> None:
    project: Project = deployed["project"]
    exported = project.export()
    outputs = project.run("stack", "output", "--json").stdout
    stack_file = (project.root / "stacks" / f"Pulumi.{project.stack}.yaml").read_text()
    state_files = "".join(p.read_text() for p in (project.root / "_state").rglob("*.json"))
    for where, text in (
        ("stack export", exported),
        ("stack output", outputs),
        ("stack file", stack_file),
        ("state files", state_files),
        ("pulumi up log", deployed["up_log"]),
    ):
        for secret in _forbidden(deployed["sas_url"]):
            assert secret not in text, f"{where} holds a secret in plain text"
        assert "sig=" not in text, f"{where} holds a SAS"
    # The secrets are there, encrypted (so the checks above looked at the right state).
    state = json.loads(exported)["deployment"]
    ciphertexts = json.dumps(state).count("4dabf18193072939515e22adb298388d")
    assert ciphertexts >= 5, "keys, SAS URL and tasks stored as secrets"
    assert json.loads(outputs)["batch_account_key"] == "[secret]"


def test_output_sas_is_write_only_and_expires(deployed: dict[str, Any]) -> None:
    sas_url = deployed["sas_url"]
    query = parse_qs(urlsplit(sas_url).query)
    assert query["sp"] == ["cw"]
    start = datetime.strptime(query["st"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expiry = datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # sas_lifetime P1D from a start 15 minutes back (clock skew): short-lived as configured.
    assert expiry - start == timedelta(days=1, minutes=15)
    assert expiry <= datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert "spr" not in query, "Azurite listens on http; https-only is for Azure (see the mocked stack)"

    container = ContainerClient.from_container_url(sas_url, retry_total=0)
    container.upload_blob("probe/written-with-the-sas.txt", b"x")  # create + write: what Batch needs
    refused = []
    for name, action in (
        ("read", lambda: container.download_blob("task001/$TaskOutput/output.txt").readall()),
        ("list", lambda: list(container.list_blobs())),
        ("delete", lambda: container.delete_blob("probe/written-with-the-sas.txt")),
        ("properties", lambda: container.get_container_properties()),
    ):
        with pytest.raises(HttpResponseError) as info:
            action()
        assert info.value.status_code == 403, name
        refused.append(name)
    assert refused == ["read", "list", "delete", "properties"]


def _raw(
    local: LocalStack,
    method: str,
    target: str,
    *,
    key: str | None = LOCALBATCH_ACCOUNT_KEY,
    account: str = LOCALBATCH_ACCOUNT_NAME,
    sign_target: str | None = None,
    date: str | None = None,
) -> tuple[int, dict[str, Any] | str]:
    """A request with the exact raw `target` (no client normalization), SharedKey-signed unless `key` is None."""
    from localbatch.auth import sign, string_to_sign

    headers = {"ocp-date": date or formatdate(usegmt=True)}
    if key is not None:
        text = string_to_sign(method, sign_target or target, list(headers.items()), account)
        headers["Authorization"] = f"SharedKey {account}:{sign(key, text)}"
    conn = http.client.HTTPConnection("127.0.0.1", local.batch_port, timeout=10)
    conn.request(method, target, headers=headers)
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    try:
        return response.status, json.loads(body)
    except json.JSONDecodeError:
        return response.status, body


def test_emulator_refuses_missing_and_wrong_shared_key(local: LocalStack) -> None:
    target = f"/jobs?api-version={API}"
    assert _raw(local, "GET", target)[0] == 200, "a correctly signed request passes (the baseline)"
    other_key = base64.b64encode(b"not-the-account-key-0123456789ab").decode()
    cases = {
        "no Authorization header": _raw(local, "GET", target, key=None),
        "signed with another key": _raw(local, "GET", target, key=other_key),
        "another account's name": _raw(local, "GET", target, account="someoneelse"),
        "signature of another path": _raw(local, "GET", f"/pools?api-version={API}", sign_target=target),
        "a replayed old date": _raw(local, "GET", target, date=formatdate(time.time() - 3600, usegmt=True)),
    }
    for case, (status, body) in cases.items():
        assert status == 403, case
        assert isinstance(body, dict) and body["code"] == "AuthenticationFailed", case
        assert LOCALBATCH_ACCOUNT_KEY not in json.dumps(body)
    # A malformed header is a 400, as on the service.
    conn = http.client.HTTPConnection("127.0.0.1", local.batch_port, timeout=10)
    conn.request("GET", target, headers={"Authorization": "Bearer abc", "ocp-date": formatdate(usegmt=True)})
    response = conn.getresponse()
    assert response.status == 400 and json.loads(response.read())["code"] == "InvalidAuthenticationInfo"
    conn.close()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_emulator_binds_to_loopback_by_default(tmp_path: Path, local: LocalStack) -> None:
    port = free_port()
    command = [
        c for c in batch_emulator_command(port, tmp_path / "batch") if c not in ("--host", "127.0.0.1")
    ]
    assert "--host" not in command
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_port(port, proc=proc)
        assert _listening_addresses(port) == {"0100007F"}, "127.0.0.1 only"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # Azurite as localdev starts it, and the module's emulators, listen on loopback only too.
    assert _listening_addresses(local.blob_port) == {"0100007F"}
    assert _listening_addresses(local.batch_port) == {"0100007F"}


def test_node_files_cannot_escape_the_node_root(
    deployed: dict[str, Any], local: LocalStack, tmp_path: Path
) -> None:
    client = local.client()
    pool_id, job_id = deployed["pool_id"], deployed["job_id"]
    node = next(iter(client.list_nodes(pool_id))).id
    victim = tmp_path / "victim.txt"
    victim.write_text("outside the node root")
    # A task that plants a symlink to a file outside its sandbox, to read it back through the API.
    client.create_task(
        job_id,
        m.BatchTaskCreateOptions(
            id="plant-link", command_line=f"/bin/sh -c 'ln -s {victim} link.txt; ln -s / rootdir'"
        ),
    )
    wait_until(lambda: client.get_task(job_id, "plant-link").state == "completed", 30, "the task")
    node_of_task = client.get_task(job_id, "plant-link").node_info.node_id
    up = "..%2F" * 12
    escapes = [
        f"{up}etc%2Fpasswd",
        "..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{up.upper()}etc%2Fpasswd",
        "%2E%2E%2F" * 12 + "etc%2Fpasswd",
        "%2e%2e/" * 12 + "etc/passwd",
        "%2Fetc%2Fpasswd",
        "shared%2F" + up + "etc%2Fpasswd",
        "..%252F" * 12 + "etc%252Fpasswd",
        "../" * 12 + "etc/passwd",
        "shared/../../../../../../../../../../../../etc/passwd",
        "%2E%2E",
        "..",
        "%2e%2e%2f",
        quote(str(victim), safe=""),
        up + quote(str(victim).lstrip("/"), safe=""),
    ]
    routes = [f"/pools/{pool_id}/nodes/{node}/files/", f"/jobs/{job_id}/tasks/plant-link/files/"]
    for route in routes:
        for path in escapes:
            for method in ("GET", "HEAD"):
                status, body = _raw(local, method, f"{route}{path}?api-version={API}")
                assert status in (400, 404), (method, route, path, status)
                assert "root:" not in str(body) and "outside the node root" not in str(body), (route, path)
            status, _ = _raw(local, "DELETE", f"{route}{path}?api-version={API}")
            assert status in (400, 404), ("DELETE", route, path, status)
    # The planted links: resolving them leaves the root, so they are refused too.
    task_dir = f"workitems/{job_id}/job-1/plant-link/wd"
    for link in ("link.txt", "rootdir%2Fetc%2Fpasswd"):
        for route, path in (
            (f"/pools/{pool_id}/nodes/{node_of_task}/files/", quote(f"{task_dir}/", safe="") + link),
            (f"/jobs/{job_id}/tasks/plant-link/files/", "wd%2F" + link),
        ):
            status, body = _raw(local, "GET", f"{route}{path}?api-version={API}")
            assert status in (400, 404), (route, path, status)
            assert "outside the node root" not in str(body) and "root:" not in str(body)
        status, _ = _raw(
            local, "DELETE", f"/jobs/{job_id}/tasks/plant-link/files/wd%2F{link}?api-version={API}"
        )
        assert status in (400, 404)
    assert victim.read_text() == "outside the node root", "nothing outside the root was deleted"
    # A normal file still reads (the refusals above are not a broken route).
    status, body = _raw(local, "GET", f"/jobs/{job_id}/tasks/plant-link/files/stdout.txt?api-version={API}")
    assert status == 200
    client.delete_task(job_id, "plant-link")
    assert unquote("%2F") == "/"


# ---- the mocked Azure stack ---------------------------------------------------------------------------


def _as_stored(value: Any) -> Any:
    """A value as the engine writes it to the state: secrets replaced by their ciphertext."""
    if is_secret(value):
        return {"4dabf18193072939515e22adb298388d": SECRET_SIG, "ciphertext": "v1:..."}
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_stored(v) for v in value]
    return value


@pytest.fixture
def azure_mocks(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ArmMocks, dict[str, list[str]], dict[str, Any]]]:
    """Mocks for the dev stack, the additional secret outputs each resource asks the engine for, exports."""
    from pulumi.runtime import mocks as mocks_module

    secret_outputs: dict[str, list[str]] = {}
    original = mocks_module.MockMonitor.RegisterResource

    def register(self: Any, request: Any) -> Any:
        secret_outputs[request.name] = list(request.additionalSecretOutputs)
        return original(self, request)

    monkeypatch.setattr(mocks_module.MockMonitor, "RegisterResource", register)
    exports: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exports.__setitem__(name, value))
    mocks = ArmMocks()
    pulumi.runtime.set_mocks(mocks, project="azbatch", stack="dev", preview=False)
    config = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    yield mocks, secret_outputs, exports


@pulumi.runtime.test
def test_mocked_azure_stack_state_holds_no_secret_and_the_sas_is_https_only(
    azure_mocks: tuple[ArmMocks, dict[str, list[str]], dict[str, Any]],
) -> Any:
    import importlib.util

    mocks, secret_outputs, exports = azure_mocks
    spec = importlib.util.spec_from_file_location("azbatch_program_secrets", REPO_ROOT / "__main__.py")
    assert spec is not None and spec.loader is not None
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    workload = program.main()

    async def check(_: Any) -> None:
        # The state as the engine would store it: inputs as sent (secret ones encrypted), outputs
        # secret when their input was or when the resource asked for it (additionalSecretOutputs).
        resources = []
        sas_url = ""
        for typ, name, inputs, outs in mocks.registered:
            secret_keys = {k for k, v in inputs.items() if is_secret(v)} | set(secret_outputs.get(name, []))
            stored_outs = {
                k: (
                    _as_stored({"4dabf18193072939515e22adb298388d": SECRET_SIG, "value": v})
                    if k in secret_keys
                    else v
                )
                for k, v in outs.items()
            }
            resources.append(
                {"type": typ, "name": name, "inputs": _as_stored(inputs), "outputs": stored_outs}
            )
            if typ.endswith("azbatch:ContainerSas") and name.endswith("-output-sas"):
                sas_url = outs["sas_url"]
        stack_outputs = {}
        for key, value in exports.items():
            output = pulumi.Output.from_input(value)
            resolved, secret = await output.future(), await output.is_secret()
            stack_outputs[key] = "[secret]" if secret else resolved
        exported = json.dumps({"resources": resources, "outputs": stack_outputs}, default=str)

        # The SAS the job writes with: create + write, https only, short-lived (the dev stack's lifetime).
        query = parse_qs(urlsplit(sas_url).query)
        assert query["spr"] == ["https"] and query["sp"] == ["cw"]
        lifetime = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00")) - datetime.fromisoformat(
            query["st"][0].replace("Z", "+00:00")
        )
        assert lifetime <= timedelta(days=30, minutes=15)
        for secret in (STORAGE_KEY, BATCH_KEY, query["sig"][0], quote(query["sig"][0], safe="")):
            assert secret not in exported, "a secret in the mocked Azure stack's state"
        assert "sig=" not in exported
        assert stack_outputs["batch_account_key"] == "[secret]"
        assert len(resources) >= 6

    return pulumi.Output.all(workload.job.job_id, workload.storage.sas_url).apply(check)
