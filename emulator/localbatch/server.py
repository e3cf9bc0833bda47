"""The threaded HTTP server: faults, then SharedKey authentication, then the route's handler.

`http.server.ThreadingHTTPServer` from the standard library is enough for an emulator and keeps the
package dependency-free. The handler works on the raw request target (`self.path`), because the
SharedKey signature covers the path exactly as sent (`%2F` still encoded). Unauthenticated admin
routes live under `/_localbatch/` (health, faults, timing, the clock, spot node preemption) and the
read-only portal under `/portal/`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

from . import auth, faults, guards, urls
from .exceptions import BatchError
from .rest import Handlers, Request, Response, check_api_version, http_date
from .rest.types import JSON_TYPE
from .service import BatchService
from .timing import timing_from_json
from .wire import clock_offset, iso, utcnow

ADMIN_PREFIX = "/_localbatch/"
# Bytes per write when a file is streamed to a client.
STREAM_CHUNK = 1024 * 1024
# POST /_localbatch/pools/{poolId}/nodes/{nodeId}/preempt | restore
_SPOT_ROUTE = re.compile(r"^pools/([^/]+)/nodes/([^/]+)/(preempt|restore)$")
PORTAL_PREFIX = "/portal"
# Azure's load balancers close idle connections after about four minutes; a local emulator serves
# one user, so a minute is plenty for an SDK's keep-alive and bounds what an idle client holds.
IDLE_TIMEOUT_SECONDS = 60.0
# After refusing a request without reading its body: how long / how much to discard before closing.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024


class BatchHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the service, its handlers, credentials and the fault injector."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        service: BatchService,
        *,
        account_name: str,
        account_key: str,
        verbose: bool = False,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        clock_control: bool = False,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.idle_timeout = idle_timeout
        # Whether `POST /_localbatch/clock` may move the service's clock (off unless asked for).
        self.clock_control = clock_control
        self.service = service
        self.handlers = Handlers(service)
        self.account_name = account_name
        self.account_key = account_key
        self.faults = faults.FaultInjector()
        self.verbose = verbose
        host, port = str(self.server_address[0]), int(self.server_address[1])
        self.port = port
        if service.base_url in ("", "http://127.0.0.1"):
            shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
            service.base_url = f"http://{shown}:{port}"


def _portal() -> Any:
    # The portal is developed separately; the server only needs its `handle(service, request)`.
    try:
        from . import portal  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(portal, "handle", None)


class _ClientGone(Exception):
    """The client stopped sending its body (timeout or reset): close without an answer."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "localbatch/0.1"
    sys_version = ""
    server: BatchHTTPServer

    def setup(self) -> None:
        # `StreamRequestHandler` applies `timeout` to the socket: an idle keep-alive connection, or a
        # client that stops sending its head or body, is closed after it instead of holding a thread.
        self.timeout = self.server.idle_timeout  # type: ignore[misc] # per server, not per class
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._body_read = False
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    def _handle(self) -> None:
        request_id = str(uuid.uuid4())
        method = self.command
        raw_path, _, query_string = self.path.partition("?")
        header_items = list(self.headers.items())
        lowered = {k.lower(): v for k, v in header_items}
        # Query parameter names are case-insensitive on the service (azure-sdk-for-js's batch-rest client
        # sends `maxResults`, answered as `maxresults` in recorded traffic); the handlers read lower case.
        query = {k.lower(): v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        req = Request(method, raw_path, query, lowered, b"", request_id)
        # Nothing of the body is read until the request passed every check that needs only its
        # head (size, browser guards, faults, SharedKey): an unauthenticated or oversized body is
        # refused without being buffered, and the connection is then closed because its body was
        # never consumed.
        try:
            length = guards.content_length(lowered)
            if raw_path.startswith(ADMIN_PREFIX):
                guards.local_browser_request(method, lowered, self.server.port)
                self._read_body(req, length)
                response = self._admin(req)
            elif raw_path == PORTAL_PREFIX or raw_path.startswith(PORTAL_PREFIX + "/"):
                guards.local_browser_request(method, lowered, self.server.port, read_only=True)
                handle = _portal()
                if handle is None:
                    raise BatchError(404, "ResourceNotFound", "The portal is not installed.")
                self._read_body(req, length)
                status, headers, content = handle(self.server.service, req)
                response = Response(status, dict(headers), content)
            else:
                fault = self._fault(req)
                if fault is not None and fault.status == faults.DROP:
                    self._drop()
                    return
                if fault is not None:
                    raise faults.error_for(fault)
                auth.verify(
                    method, self.path, header_items, self.server.account_name, self.server.account_key
                )
                if "$filter" in query:
                    guards.filter_depth(query["$filter"])
                self._read_body(req, length)
                if req.body:
                    guards.json_depth(req.body)
                response = self._dispatch(req)
        except _ClientGone:
            self.close_connection = True
            return
        except BatchError as err:
            response = Response(err.status, dict(err.headers))
            # A HEAD error has no body, so no body type either (a recorded 404 of Pools_PoolExists:
            # azure-sdk-for-net, Azure.Compute.Batch tests/SessionRecords/PoolClientRecordedTests).
            if err.status != 304 and method != "HEAD":
                response.headers["Content-Type"] = JSON_TYPE
                response.body = json.dumps(err.body(request_id, self.server.service.base_url)).encode()
        except Exception:  # noqa: BLE001 - answer 500 like the service, keep serving
            traceback.print_exc(file=sys.stderr)
            internal = BatchError(
                500, "InternalError", "The server encountered an internal error. Please retry the request."
            )
            response = Response(
                500,
                {"Content-Type": JSON_TYPE},
                json.dumps(internal.body(request_id)).encode(),
            )
        if not self._body_read:
            # The body (if any) is still in the socket: it must not be parsed as the next request.
            self.close_connection = True
            response.headers["Connection"] = "close"
        self._send(req, response)
        if not self._body_read:
            self._linger()

    def _linger(self) -> None:
        """Discard (never buffer) what the client still sends, briefly, so it reads the answer.

        Closing a socket with unread data makes the kernel reset the connection, and a client still
        sending its body would see the reset instead of the 4xx. Bounded in time and bytes.
        """
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while time.monotonic() < deadline and drained < LINGER_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)

    _body_read = True

    def _read_body(self, req: Request, length: int) -> None:
        """Read exactly `length` body bytes (bounded by `guards.content_length`, within the socket timeout)."""
        if length <= 0:
            self._body_read = True
            return
        try:
            body = self.rfile.read(length)
        except OSError as exc:  # the socket timeout or a reset while the client sends
            raise _ClientGone from exc
        if len(body) < length:
            raise _ClientGone
        self._body_read = True
        req.body = body

    def _fault(self, req: Request) -> faults.Fault | None:
        header = req.headers.get(faults.HEADER)
        if header:
            try:
                return faults.parse_header(header)
            except ValueError as exc:
                raise BatchError(
                    400,
                    "InvalidHeaderValue",
                    f"Bad {faults.HEADER} header: {exc}",
                    [("HeaderName", faults.HEADER), ("HeaderValue", header)],
                ) from None
        return self.server.faults.take(req.method, unquote(req.path))

    def _dispatch(self, req: Request) -> Response:
        check_api_version(req.query.get("api-version"))
        found = urls.match(req.method, req.path)
        if found is None:
            if urls.path_exists(req.path):
                raise BatchError(
                    405,
                    "UnsupportedHttpVerb",
                    f"The resource doesn't support the specified HTTP verb {req.method}.",
                )
            raise BatchError(404, "ResourceNotFound", "The specified resource does not exist.")
        name, groups = found
        handler = getattr(self.server.handlers, name)
        result: Response = handler(req, *(unquote(g) for g in groups))
        return self.server.handlers.versioned(req, result)

    def _admin(self, req: Request) -> Response:
        route = req.path[len(ADMIN_PREFIX) :].rstrip("/")
        injector = self.server.faults
        if route == "health" and req.method in ("GET", "HEAD"):
            service = self.server.service
            return _json(
                200,
                {
                    "status": "ok",
                    "account": self.server.account_name,
                    "url": service.base_url,
                    "pools": len(service.pools),
                    "jobs": len(service.jobs),
                    # What runs container tasks (None: container pools and tasks are refused).
                    "containerRuntime": service.container_runtime.name if service.container_runtime else None,
                },
            )
        if route == "faults":
            if req.method == "GET":
                return _json(200, {"faults": injector.list()})
            if req.method == "DELETE":
                injector.clear()
                return _json(200, {"faults": []})
            if req.method == "POST":
                try:
                    injector.add(faults.parse_spec(json.loads(req.body or b"{}")))
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
                return _json(201, {"faults": injector.list()})
        spot = _SPOT_ROUTE.match(route)
        if spot and req.method == "POST":
            # Spot/low-priority capacity reclaimed (preempt) or given back (restore): Azure does these on
            # its own; locally a test or a user triggers them. See docs/emulator-operations.md.
            pool_id, node_id, action = (unquote(g) for g in spot.groups())
            service = self.server.service
            try:
                doc = (service.preempt_node if action == "preempt" else service.restore_node)(
                    pool_id, node_id
                )
            except BatchError as err:
                return _json(err.status, {"error": err.code, "message": err.message})
            return _json(200, {"id": doc["id"], "state": doc["state"]})
        if route == "clock":
            return self._clock(req)
        if route == "timing":
            service = self.server.service
            if req.method in ("PUT", "POST"):
                try:
                    service.timing = timing_from_json(json.loads(req.body or b"{}"))
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
            if req.method in ("GET", "PUT", "POST"):
                return _json(200, service.timing.describe())
        return _json(404, {"error": f"no admin route {req.method} {req.path}"})

    def _clock(self, req: Request) -> Response:
        """GET: the service's time and how far it runs ahead; POST {"advanceSeconds": n}: move it forward,
        only when the server was started with clock control (`--clock-control`, LOCALBATCH_CLOCK_CONTROL=1)."""
        service = self.server.service
        if req.method == "POST":
            if not self.server.clock_control:
                return _json(
                    403,
                    {
                        "error": "clock control is off; start the emulator with --clock-control "
                        "(or LOCALBATCH_CLOCK_CONTROL=1) to move its clock"
                    },
                )
            try:
                body = json.loads(req.body or b"{}")
                service.advance_clock(float(body["advanceSeconds"]))
            except (ValueError, TypeError, KeyError) as exc:
                return _json(400, {"error": f'expected {{"advanceSeconds": <seconds, not negative>}}: {exc}'})
        elif req.method != "GET":
            return _json(405, {"error": f"{req.method} is not allowed on {req.path}"})
        return _json(
            200,
            {"now": iso(utcnow()), "offsetSeconds": clock_offset(), "control": self.server.clock_control},
        )

    def _drop(self) -> None:
        # Close without answering, as a connection reset by an overloaded front end would.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, req: Request, response: Response) -> None:
        headers = {
            "request-id": req.request_id,
            "DataServiceVersion": "3.0",
            "Date": http_date(datetime.now(UTC)),
            "X-Content-Type-Options": "nosniff",
            **response.headers,
        }
        if (
            req.headers.get("return-client-request-id", "").lower() == "true"
            and "client-request-id" in req.headers
        ):
            headers["client-request-id"] = req.headers["client-request-id"]
        head = req.method == "HEAD"
        counted = head or response.stream is not None
        length = response.head_length if counted and response.head_length is not None else len(response.body)
        try:
            # Not `send_response`: it adds its own Date (and Server) header, and a second Date is joined
            # by Node's HTTP client into one unparsable value. One Date, ours.
            self.log_request(response.status)
            self.send_response_only(response.status)
            self.send_header("Server", self.version_string())
            for name, value in headers.items():
                self.send_header(name, value)
            if response.status != 304:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if not head and response.status != 304:
                if response.stream is not None:
                    _copy(response.stream, self.wfile, length)
                elif response.body:
                    self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if response.stream is not None:
                response.stream.close()


def _copy(source: BinaryIO, target: Any, length: int) -> None:
    """Send `length` bytes of an open file in chunks (a file's body is never held in memory whole)."""
    while length > 0:
        chunk = source.read(min(STREAM_CHUNK, length))
        if not chunk:
            break  # the file shrank since its size was sent; the client sees a short body
        target.write(chunk)
        length -= len(chunk)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def make_server(
    service: BatchService,
    *,
    host: str = "127.0.0.1",
    port: int = 8090,
    account_name: str,
    account_key: str,
    verbose: bool = False,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    clock_control: bool = False,
) -> BatchHTTPServer:
    """Bind the server (port 0 picks a free one) and point the service's URLs at it."""
    return BatchHTTPServer(
        (host, port),
        service,
        account_name=account_name,
        account_key=account_key,
        verbose=verbose,
        idle_timeout=idle_timeout,
        clock_control=clock_control,
    )
