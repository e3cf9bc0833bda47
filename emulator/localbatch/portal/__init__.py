"""The read-only web portal of the local Batch emulator, served by the emulator itself at `/portal/`.

It shows what the Azure portal shows for a Batch account, offline: pools with their nodes and node
states; jobs with their state and approximate task counts; per job, the tasks (state, exit code,
retries, failure information, node), the **Preparation tasks** and **Release tasks** views (per node:
state, exit code, start and end, links to `stdout.txt` / `stderr.txt`), a task's files, and the
outputs persisted in the job's File Conventions container (grouped by task and kind). Pages refresh
themselves while something is still running.

Routes (GET and HEAD only; no authentication beyond the server's loopback binding, like the
`/_localbatch/` admin routes):

| path | page |
|---|---|
| `/portal/` | pools, nodes, jobs and job schedules |
| `/portal/pools/<poolId>` | a pool, its node heat map and its nodes |
| `/portal/pools/<poolId>/heatmap.json` | the heat map's node states, polled by the page to recolour it live |
| `/portal/schedules/<scheduleId>` | a job schedule: state, next run time, and the jobs it created (each linking to its preparation / release views) |
| `/portal/jobs/<jobId>?state=&failed=1&node=&after=` | job overview, task counts and a page of 100 tasks, filtered by state, failure and node (`after`: where the next page starts) |
| `/portal/jobs/<jobId>/preparation`, `/release` | the job preparation / release task per node |
| `/portal/jobs/<jobId>/timeline?from=&to=` | who ran what, where, when (seconds after the first start) |
| `/portal/jobs/<jobId>/outputs` | the File Conventions container, grouped by task and kind |
| `/portal/jobs/<jobId>/blobs/<blob name>` | one persisted output, read-only |
| `/portal/jobs/<jobId>/tasks/<taskId>` | a task and its files |
| `/portal/files/<poolId>/<nodeId>/<path>` | a node's files and folders, read-only, confined to the node |

The server calls `handle(service, request)`; `configure_storage(service, StorageConfig(...))` tells
the portal where the File Conventions containers live (the CLI does it from `--blob-url`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..exceptions import BatchError
from ..service import BatchService
from . import files, pictures, schedules, views
from .html import CSS, JS, PREFIX, e, page
from .storage import StorageConfig, configure_storage, read_blob, storage_for

__all__ = ["StorageConfig", "configure_storage", "handle"]

Headers = dict[str, str]

# Pages load their style and script from /portal/static only; nothing inline may run.
_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HTML_HEADERS: Headers = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _html(status: int, document: str) -> tuple[int, Headers, bytes]:
    return status, dict(_HTML_HEADERS), document.encode("utf-8")


def _error(service: BatchService, status: int, title: str, message: str) -> tuple[int, Headers, bytes]:
    return _html(status, page(title, f'<p class="empty">{e(message)}</p>', account=service.account_name))


def handle(service: BatchService, request: Any) -> tuple[int, Headers, bytes]:
    """Answer one request under `/portal` with (status, headers, body); never changes any state.

    `request` is the server's `rest.Request` (method and raw, still percent-encoded path).
    """
    if request.method not in ("GET", "HEAD"):
        status, headers, body = _error(service, 405, "Method not allowed", "The portal is read-only.")
        headers["Allow"] = "GET, HEAD"
        return status, headers, body
    raw = request.path
    if raw == PREFIX:
        return 301, {"Location": PREFIX + "/", "Content-Type": "text/plain"}, b""
    segments = [unquote(s) for s in raw[len(PREFIX) + 1 :].split("/")]
    try:
        return _route(service, segments, request.query)
    except views.NotFound as err:
        return _error(service, 404, "Not found", str(err))
    except files.PathRefused:
        return _error(service, 400, "Path refused", "The file path must stay inside the node's folder.")


def _route(service: BatchService, seg: list[str], query: dict[str, str]) -> tuple[int, Headers, bytes]:
    head = seg[0]
    if head == "" and len(seg) == 1:
        document, _ = views.home(service)
        return _html(200, document)
    if head == "static" and len(seg) == 2 and seg[1] in ("portal.css", "portal.js"):
        is_css = seg[1].endswith(".css")
        content_type = "text/css; charset=utf-8" if is_css else "text/javascript; charset=utf-8"
        return (
            200,
            {"Content-Type": content_type, "Cache-Control": "max-age=60"},
            (CSS + pictures.CSS if is_css else JS + pictures.JS).encode(),
        )
    if head == "pools" and len(seg) == 2:
        return _html(200, views.pool_page(service, seg[1]))
    if head == "pools" and len(seg) == 3 and seg[2] == "heatmap.json":
        return _heatmap_json(service, seg[1])
    if head == "jobs" and len(seg) >= 2:
        job_id, rest = seg[1], seg[2:]
        if rest in ([], [""]):
            return _html(200, views.job_page(service, job_id, "", query))
        if len(rest) == 1 and rest[0] in ("preparation", "release", "outputs"):
            return _html(200, views.job_page(service, job_id, rest[0]))
        if rest == ["timeline"]:
            return _html(200, views.job_page(service, job_id, "timeline", query))
        if len(rest) == 2 and rest[0] == "tasks":
            return _html(200, views.task_page(service, job_id, rest[1]))
        if len(rest) >= 2 and rest[0] == "blobs":
            return _blob(service, job_id, "/".join(rest[1:]))
    if head == "schedules" and len(seg) == 2:
        return _html(200, schedules.schedule_page(service, seg[1], views.NotFound))
    if head == "files" and len(seg) >= 3:
        return _node_file(service, seg[1], seg[2], "/".join(seg[3:]))
    raise views.NotFound("No such portal page.")


def _heatmap_json(service: BatchService, pool_id: str) -> tuple[int, Headers, bytes]:
    try:
        body = pictures.heatmap_json(service, pool_id)
    except BatchError as err:
        raise views.NotFound(f"Pool {pool_id} not found.") from err
    return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body


def _node_file(service: BatchService, pool_id: str, node_id: str, rel: str) -> tuple[int, Headers, bytes]:
    try:
        root = service.node_root(pool_id, node_id)
    except BatchError as err:
        raise views.NotFound(f"Node {node_id} of pool {pool_id} not found.") from err
    try:
        if files.is_dir(root, rel):
            return _html(200, views.directory_page(service, pool_id, node_id, rel.strip("/"), root))
        data, full = files.read(root, rel)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise views.NotFound(f"No file {rel} on node {node_id}.") from err
    headers, body = files.file_response(data, rel.rstrip("/").rsplit("/", 1)[-1], full)
    return 200, headers, body


def _blob(service: BatchService, job_id: str, name: str) -> tuple[int, Headers, bytes]:
    config = storage_for(service)
    if config is None:
        raise views.NotFound("Storage is not configured for this emulator.")
    try:
        service.get_job(job_id)
        data = read_blob(config, job_id, name)
    except BatchError as err:
        raise views.NotFound(f"Job {job_id} not found.") from err
    except Exception as exc:  # noqa: BLE001 - a storage failure is a page, not a 500
        return _error(
            service, 502, "Storage error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )
    if data is None:
        raise views.NotFound(f"No blob {name} in the job's container.")
    headers, body = files.file_response(data, name.rsplit("/", 1)[-1])
    return 200, headers, body
