"""An in-process emulator per test module, on a free port, and a raw HTTP client for hostile requests.

The SDK cannot send malformed requests (bad Content-Length, non-ASCII headers, foreign Host), so the
corpus talks to the server over a plain socket; requests are signed with SharedKey the way the SDK
signs them, so the server's checks after authentication are reached too.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from localbatch.auth import SIGNED_HEADERS
from localbatch.server import BatchHTTPServer, make_server
from localbatch.service import BatchService

API = "2024-07-01.20.0"
ACCOUNT = "hardening1"
KEY = base64.b64encode(b"k" * 64).decode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def code(self) -> str | None:
        import json

        try:
            return json.loads(self.body).get("code")
        except ValueError:
            return None


def _sign(method: str, path: str, headers: dict[str, str]) -> str:
    """SharedKey over the headers as sent (the documented scheme): an absent Content-Length signs ""."""
    from urllib.parse import parse_qs

    lowered = {k.lower(): v for k, v in headers.items() if v}
    # The server signs the headers as received (like Batch): an absent Content-Length signs as empty.
    text = method + "\n" + "\n".join(lowered.get(h, "") for h in SIGNED_HEADERS) + "\n"
    for name, value in sorted((k, v) for k, v in lowered.items() if "ocp-" in k):
        text += f"{name}:{value}\n"
    raw_path, _, query = path.partition("?")
    text += f"/{ACCOUNT}{raw_path}"
    parsed = parse_qs(query)
    for name in sorted(parsed):
        if parsed[name][0]:
            text += f"\n{name}:{parsed[name][0]}"
    digest = hmac.new(base64.b64decode(KEY), text.encode(), hashlib.sha256).digest()
    return f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}"


@dataclass
class Emulator:
    server: BatchHTTPServer
    service: BatchService
    data_dir: Path

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> BatchClient:
        return BatchClient(endpoint=self.url, credential=AzureNamedKeyCredential(ACCOUNT, KEY))

    def connect(self, timeout: float = 10) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def raw(self, data: bytes, timeout: float = 10, method: str = "GET") -> Answer:
        """Send `data` as is and read one answer (status 0 when the server closed without one)."""
        start = time.monotonic()
        with self.connect(timeout) as sock:
            # Refused before the body was read: the answer may still be there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            response = http.client.HTTPResponse(sock, method=method)
            try:
                response.begin()
            except (http.client.RemoteDisconnected, ConnectionResetError):
                return Answer(0, {}, b"", time.monotonic() - start)
            body = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return Answer(response.status, headers, body, time.monotonic() - start)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        *,
        sign: bool = True,
        api: bool = True,
        content_length: str | None = "auto",
        timeout: float = 10,
    ) -> Answer:
        """One request; `path` gets `api-version` unless `api=False`; signed unless `sign=False`."""
        data = body.encode() if isinstance(body, str) else body
        if api:
            path += ("&" if "?" in path else "?") + f"api-version={API}"
        head: dict[str, str] = {"Host": f"127.0.0.1:{self.port}", "ocp-date": formatdate(usegmt=True)}
        if data or method in ("POST", "PUT", "PATCH"):
            head["Content-Type"] = "application/json; odata=minimalmetadata"
        if content_length == "auto":
            if data or method not in ("GET", "HEAD", "DELETE"):
                head["Content-Length"] = str(len(data))
        elif content_length is not None:
            head["Content-Length"] = content_length
        head.update(headers or {})
        if sign and "Authorization" not in head:
            head["Authorization"] = _sign(method, path, head)
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + data
        return self.raw(raw, timeout, method)


def start_emulator(data_dir: Path, idle_timeout: float = 2.0) -> Emulator:
    service = BatchService(data_dir, account_name=ACCOUNT)
    server = make_server(
        service, host="127.0.0.1", port=0, account_name=ACCOUNT, account_key=KEY, idle_timeout=idle_timeout
    )
    service.start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return Emulator(server, service, data_dir)


def stop_emulator(emu: Emulator) -> None:
    emu.server.shutdown()
    emu.server.server_close()
    emu.service.stop()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running = start_emulator(tmp_path_factory.mktemp("hardening"))
    yield running
    stop_emulator(running)


def create_pool(emu: Emulator, pool_id: str, nodes: int = 1) -> None:
    import json

    body = {
        "id": pool_id,
        "vmSize": "standard_d2s_v3",
        "targetDedicatedNodes": nodes,
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "ubuntu", "sku": "22_04-lts"},
            "nodeAgentSKUId": "batch.node.ubuntu 22.04",
        },
    }
    answer = emu.request("POST", "/pools", json.dumps(body))
    assert answer.status == 201, answer.body
