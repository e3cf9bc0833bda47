"""The portal's pages, each a function from the service's read API to a safe HTML document.

Pages read state only through `BatchService`'s public read methods (wire-shape copies taken under the
service lock), so rendering never holds the lock and never changes anything. Every user-supplied
value is escaped in `html.py`'s helpers; see the rule there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .. import safefs
from ..exceptions import BatchError
from ..service import BatchService
from . import files, pictures, schedules
from .html import (
    code,
    duration,
    e,
    failure,
    file_url,
    link,
    metadata_list,
    page,
    pill,
    props,
    size,
    table,
    tabs,
    url,
    when,
)
from .storage import Outputs, job_output_container_name, list_outputs, storage_for

Doc = dict[str, Any]
TASK_PAGE_ROWS = 100  # rows of a job's task table per page
SUMMARY_MAX_TASKS = 1_000  # the overview draws the summaries of jobs up to this size
MAX_FILE_ROWS = 500
BUSY_TASK_STATES = ("active", "preparing", "running")
BUSY_JOB_STATES = ("terminating", "deleting", "disabling", "enabling")
BUSY_NODE_STATES = ("starting", "waitingforstarttask", "creating", "rebooting", "reimaging", "leavingpool")


class NotFound(Exception):
    """A portal page for something that does not exist (rendered as an HTML 404)."""


# ---- shared bits --------------------------------------------------------------------------------


def _prep_records(service: BatchService, job_id: str) -> list[Doc] | None:
    """The job's preparation/release records, or None when the job has neither task."""
    try:
        return service.list_preparation_and_release_status(job_id)
    except BatchError as err:
        if err.status == 409:
            return None
        raise


def job_busy(service: BatchService, job: Doc) -> bool:
    """Whether anything of the job may still change on its own (tasks queued or running, a
    preparation or release task running, or a state transition under way): the page then refreshes."""
    if job.get("state") in BUSY_JOB_STATES:
        return True
    counts = service.task_counts(job["id"])["taskCounts"]
    if counts["active"] or counts["running"]:
        return True
    for rec in _prep_records(service, job["id"]) or []:
        for key in ("jobPreparationTaskExecutionInfo", "jobReleaseTaskExecutionInfo"):
            if (rec.get(key) or {}).get("state") == "running":
                return True
    return False


def _node_cell(pool_id: str, node_id: str, show_pool: bool = False) -> str:
    cell = link(file_url(pool_id, node_id), node_id, "node-id")
    if show_pool:
        cell += f'<div class="note">pool {link(url("pools", pool_id), pool_id)}</div>'
    return cell


def _std_links(pool_id: str, node_id: str, root_dir: str) -> str:
    root = root_dir.strip("/")
    return (
        '<span class="files">'
        + " ".join(
            [  # spaces let the links wrap in a narrow column
                link(file_url(pool_id, node_id, f"{root}/stdout.txt"), "stdout.txt"),
                link(file_url(pool_id, node_id, f"{root}/stderr.txt"), "stderr.txt"),
                link(file_url(pool_id, node_id, root), "files"),
            ]
        )
        + "</span>"
    )


def _counts_block(counts: Doc) -> str:
    c = counts["taskCounts"]
    total = c["active"] + c["running"] + c["completed"]
    boxes = "".join(
        f'<div class="count" data-count="{name}"><span>{label}</span><b>{c[name]}</b></div>'
        for name, label in (
            ("active", "Active"),
            ("running", "Running"),
            ("completed", "Completed"),
            ("succeeded", "Succeeded"),
            ("failed", "Failed"),
        )
    )
    bar = ""
    if total:
        parts = [
            ("succeeded", c["succeeded"]),
            ("failed", c["failed"]),
            ("running", c["running"]),
            ("active", c["active"]),
        ]
        # SVG geometry attributes, not inline styles: the page's CSP allows no inline style.
        rects, x = [], 0.0
        for name, n in parts:
            if n:
                width = 100 * n / total
                rects.append(
                    f'<rect class="b-{name}" x="{x:.3f}" y="0" width="{width:.3f}" height="1"></rect>'
                )
                x += width
        bar = (
            '<svg class="bar" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">'
            + "".join(rects)
            + "</svg>"
        )
    return f'<div class="counts">{boxes}</div>{bar}'


# ---- home: pools and jobs -----------------------------------------------------------------------


def home(service: BatchService) -> tuple[str, bool]:
    """Every pool with its nodes and their states, and every job with its state and task counts."""
    busy = False
    pool_blocks = []
    for pool in service.list_pools():
        try:
            nodes = service.list_nodes(pool["id"])
        except BatchError:
            continue  # deleted while rendering
        busy = busy or pool.get("state") != "active" or any(n.get("state") in BUSY_NODE_STATES for n in nodes)
        states: dict[str, int] = {}
        for node in nodes:
            states[node.get("state", "unknown")] = states.get(node.get("state", "unknown"), 0) + 1
        summary = (
            " ".join(f"{pill(s)} {n}" for s, n in sorted(states.items()))
            or '<span class="note">no nodes</span>'
        )
        rows = [
            [
                link(file_url(pool["id"], n["id"]), n["id"], "node-id"),
                pill(n.get("state")),
                e(n.get("runningTasksCount", 0)),
                e(n.get("totalTasksRun", 0)),
            ]
            for n in nodes
        ]
        pool_blocks.append(
            f'<div class="group" data-pool="{e(pool["id"])}"><h3>{link(url("pools", pool["id"]), pool["id"])} '
            f'{pill(pool.get("state"))} <span class="note">{e(pool.get("vmSize"))} · '
            f"{e(pool.get('currentDedicatedNodes', len(nodes)))} dedicated nodes</span></h3>"
            f"<p>{summary}</p>"
            + pictures.pool_heatmap(pool, nodes)
            + table(
                ["Node", "State", "Running tasks", "Tasks run"],
                rows,
                cls="nodes",
                empty="This pool has no nodes.",
            )
            + "</div>"
        )
    job_rows = []
    for job in service.list_jobs():
        try:
            counts = service.task_counts(job["id"])["taskCounts"]
            busy = busy or job_busy(service, job)
        except BatchError:
            continue
        pool_id = (job.get("poolInfo") or {}).get("poolId", "")
        job_rows.append(
            [
                link(url("jobs", job["id"]), job["id"]),
                pill(job.get("state")),
                link(url("pools", pool_id), pool_id) if pool_id else "",
                e(counts["active"]),
                e(counts["running"]),
                e(counts["completed"]),
                e(counts["succeeded"]),
                e(counts["failed"]),
                when(job.get("creationTime")),
            ]
        )
    body = (
        "<h2>Pools</h2>"
        + ("".join(pool_blocks) or '<p class="empty">No pools.</p>')
        + "<h2>Jobs</h2>"
        + table(
            ["Job", "State", "Pool", "Active", "Running", "Completed", "Succeeded", "Failed", "Created"],
            job_rows,
            cls="jobs",
            empty="No jobs.",
        )
    )
    schedules_body, schedules_busy = schedules.schedules_section(service)
    body += schedules_body
    busy = busy or schedules_busy
    return page("Pools and jobs", body, refresh=busy, account=service.account_name), busy


# ---- a pool -------------------------------------------------------------------------------------


def pool_page(service: BatchService, pool_id: str) -> str:
    """A pool's properties and its nodes: state, scheduling state, tasks, recent tasks, files."""
    try:
        pool = service.get_pool(pool_id)
        nodes = service.list_nodes(pool_id)
    except BatchError as err:
        raise NotFound(f"Pool {pool_id} not found.") from err
    start = pool.get("startTask") or {}
    info = props(
        [
            ("State", pill(pool.get("state"))),
            ("Allocation state", pill(pool.get("allocationState"))),
            ("VM size", e(pool.get("vmSize"))),
            ("Task slots per node", e(pool.get("taskSlotsPerNode", 1))),
            (
                "Dedicated nodes",
                e(f"{pool.get('currentDedicatedNodes', 0)} of {pool.get('targetDedicatedNodes', 0)}"),
            ),
            ("Start task", code(start.get("commandLine")) if start else ""),
            ("Created", when(pool.get("creationTime"))),
        ]
    )
    rows = []
    for n in nodes:
        recent = ", ".join(
            link(url("jobs", r.get("jobId", ""), "tasks", r.get("taskId", "")), r.get("taskId", ""))
            for r in (n.get("recentTasks") or [])[-5:]
            if isinstance(r, dict) and r.get("jobId") and r.get("taskId")
        )
        start_info = n.get("startTaskInfo") or {}
        rows.append(
            [
                link(file_url(pool["id"], n["id"]), n["id"], "node-id"),
                pill(n.get("state")),
                pill(n.get("schedulingState")),
                e(n.get("ipAddress")),
                e(n.get("runningTasksCount", 0)),
                e(n.get("totalTasksRun", 0)),
                e(n.get("totalTasksSucceeded", 0)),
                (
                    pill(start_info.get("state"))
                    + (f" exit {e(start_info.get('exitCode'))}" if "exitCode" in start_info else "")
                )
                if start_info
                else "",
                recent,
            ]
        )
    busy = any(n.get("state") in BUSY_NODE_STATES for n in nodes) or pool.get("state") != "active"
    body = (
        info
        + "<h2>Heat map</h2>"
        + pictures.pool_heatmap(pool, nodes)
        + "<h2>Nodes</h2>"
        + table(
            [
                "Node",
                "State",
                "Scheduling",
                "IP address",
                "Running tasks",
                "Tasks run",
                "Succeeded",
                "Start task",
                "Recent tasks",
            ],
            rows,
            cls="nodes",
            empty="This pool has no nodes.",
        )
    )
    return page(
        f"Pool {pool['id']}",
        body,
        crumbs=[(url("pools", pool["id"]), pool["id"])],
        refresh=busy,
        account=service.account_name,
    )


# ---- a job --------------------------------------------------------------------------------------

VIEWS = (
    ("", "Tasks"),
    ("preparation", "Preparation tasks"),
    ("release", "Release tasks"),
    ("timeline", "Timeline"),
    ("outputs", "Outputs"),
)


def job_page(service: BatchService, job_id: str, view: str, query: dict[str, str] | None = None) -> str:
    """A job with the Azure portal's left-hand navigation: tasks, preparation tasks, release tasks and
    the persisted outputs in its File Conventions container."""
    try:
        job = service.get_job(job_id)
        counts = service.task_counts(job_id)
    except BatchError as err:
        raise NotFound(f"Job {job_id} not found.") from err
    jid = job["id"]
    current = dict(VIEWS)[view]
    nav = tabs([(url("jobs", jid, v) if v else url("jobs", jid), label) for v, label in VIEWS], current)
    if view == "":
        content = _job_overview(service, job, counts, query or {})
    elif view in ("preparation", "release"):
        content = _prep_release_view(service, job, view)
    elif view == "timeline":
        content = pictures.job_timeline(
            jid, service.iter_tasks(jid, fields=pictures.RUN_FIELDS), _prep_records(service, jid), query or {}
        )
    else:
        content = _outputs_view(service, job)
    body = f'<div class="layout">{nav}<div class="content" data-view="{e(view or "tasks")}">{content}</div></div>'
    title = f"Job {jid}" + ("" if view == "" else f" · {current}")
    return page(
        title,
        body,
        crumbs=[(url("jobs", jid), jid)],
        refresh=job_busy(service, job),
        account=service.account_name,
    )


def _job_overview(service: BatchService, job: Doc, counts: Doc, query: dict[str, str]) -> str:
    pool_id = (job.get("poolInfo") or {}).get("poolId", "")
    execution = job.get("executionInfo") or {}
    prep = job.get("jobPreparationTask") or {}
    release = job.get("jobReleaseTask") or {}
    metadata = metadata_list(job.get("metadata"))
    info = props(
        [
            ("State", pill(job.get("state"))),
            ("Display name", e(job.get("displayName"))),
            ("Pool", link(url("pools", pool_id), pool_id) if pool_id else ""),
            ("Priority", e(job.get("priority", 0))),
            ("Created", when(job.get("creationTime"))),
            ("Started", when(execution.get("startTime"))),
            ("Ended", when(execution.get("endTime"))),
            ("Termination reason", e(execution.get("terminateReason"))),
            ("When all tasks complete", e(job.get("onAllTasksComplete"))),
            ("When a task fails", e(job.get("onTaskFailure"))),
            ("Job preparation task", code(prep.get("commandLine")) if prep else ""),
            ("Job release task", code(release.get("commandLine")) if release else ""),
            ("Metadata", metadata),
        ]
    )
    tasks_section = _task_table(service, job, query)
    # The summaries read the whole job (page by page, the lock released between pages). Above
    # SUMMARY_MAX_TASKS that would make every refresh of this page O(job); the Timeline view, opened
    # on purpose, still reads the whole run.
    tally = counts["taskCounts"]
    if tally["active"] + tally["running"] + tally["completed"] <= SUMMARY_MAX_TASKS:
        summary = pictures.job_summaries(job["id"], service.iter_tasks(job["id"], fields=pictures.RUN_FIELDS))
    else:
        timeline = link(url("jobs", job["id"], "timeline"), "Timeline")
        summary = (
            f'<p class="note">Summaries are drawn for jobs of up to {SUMMARY_MAX_TASKS:,} tasks; the '
            f"{timeline} view draws this job's run.</p>"
        )
    return (
        info
        + "<h2>Approximate task count</h2>"
        + _counts_block(counts)
        + "<h2>Summary</h2>"
        + summary
        + "<h2>Tasks</h2>"
        + tasks_section
    )


#: The states the task table filters by (each filter is a link: the portal's CSP allows no forms).
TASK_STATES = ("active", "preparing", "running", "completed")


def _task_filter(query: dict[str, str]) -> Callable[[Doc], bool] | None:
    """The predicate of the task table's filters: `state`, `failed=1` and `node`."""
    state = query.get("state", "").lower()
    failed = query.get("failed") == "1"
    node = query.get("node", "")
    if not (state or failed or node):
        return None

    def keep(task: Doc) -> bool:
        if state and task.get("state") != state:
            return False
        if failed and (task.get("executionInfo") or {}).get("result") != "failure":
            return False
        return not node or (task.get("nodeInfo") or {}).get("nodeId") == node

    return keep


def _task_table(service: BatchService, job: Doc, query: dict[str, str]) -> str:
    """One page of the job's tasks (filtered by state, failure, node), with links to the next page."""
    jid = job["id"]
    base = {k: v for k, v in query.items() if k in ("state", "failed", "node") and v}

    def href(**changes: str) -> str:
        chosen = {k: v for k, v in {**base, **changes}.items() if v}
        return url("jobs", jid) + ("?" + urlencode(chosen) if chosen else "")

    after = query.get("after") or None  # the id of the last task of the previous page
    tasks, following = service.list_tasks_page(
        jid, where=_task_filter(query), after=after, limit=TASK_PAGE_ROWS
    )
    pool_id = (job.get("poolInfo") or {}).get("poolId", "")
    try:
        nodes = [n["id"] for n in service.list_nodes(pool_id)] if pool_id else []
    except BatchError:
        nodes = []
    current_state = base.get("state", "")
    choices = [("All", href(state="", failed="", node=""), not base)]
    choices += [(s.capitalize(), href(state=s), current_state == s) for s in TASK_STATES]
    choices.append(("Failed", href(failed="" if base.get("failed") else "1"), bool(base.get("failed"))))
    choices += [
        (f"Node {n}", href(node="" if base.get("node") == n else n), base.get("node") == n) for n in nodes
    ]
    filters = " · ".join(
        f"<strong>{e(label)}</strong>" if on and label == "All" else link(target, label, "on" if on else "")
        for label, target, on in choices
    )
    pager = []
    if after is not None:
        pager.append(link(href(), "First page"))
    if following is not None:
        pager.append(link(href(after=following), "Next page"))
    rows = [_task_row(jid, t) for t in tasks]
    empty = "No tasks match these filters." if base else "No tasks yet."
    return (
        f'<p class="filters">Show: {filters}</p>'
        + table(
            [
                "Task",
                "State",
                "Exit code",
                "Retries",
                "Node",
                "Started",
                "Ended",
                "Duration",
                "Failure",
                "Files",
            ],
            rows,
            cls="tasks",
            empty=empty,
        )
        + (f'<p class="pager">{" · ".join(pager)}</p>' if pager else "")
    )


def _task_row(job_id: str, task: Doc) -> list[str]:
    execution = task.get("executionInfo") or {}
    node = task.get("nodeInfo") or {}
    node_cell = files_cell = ""
    if node.get("nodeId"):
        node_cell = _node_cell(node["poolId"], node["nodeId"])
        files_cell = _std_links(node["poolId"], node["nodeId"], node.get("taskRootDirectory", ""))
    retries = e(execution.get("retryCount", 0))
    if execution.get("requeueCount"):
        retries += f' <span class="note">({e(execution["requeueCount"])} requeued)</span>'
    return [
        link(url("jobs", job_id, "tasks", task["id"]), task["id"]),
        pill(task.get("state")),
        e(execution.get("exitCode")),
        retries,
        node_cell,
        when(execution.get("startTime")),
        when(execution.get("endTime")),
        duration(execution.get("startTime"), execution.get("endTime")),
        failure(execution.get("failureInfo")),
        files_cell,
    ]


def _prep_release_view(service: BatchService, job: Doc, view: str) -> str:
    key = "jobPreparationTaskExecutionInfo" if view == "preparation" else "jobReleaseTaskExecutionInfo"
    spec = job.get("jobPreparationTask" if view == "preparation" else "jobReleaseTask")
    name = "job preparation task" if view == "preparation" else "job release task"
    if not spec:
        return f'<p class="empty">This job has no {name}.</p>'
    records = _prep_records(service, job["id"]) or []
    rows = []
    for rec in records:
        if "jobPreparationTaskExecutionInfo" not in rec:
            continue  # the release view lists the nodes where preparation ran
        info = rec.get(key)
        node = _node_cell(rec["poolId"], rec["nodeId"])
        if not info:
            rows.append([node, pill("not run yet")] + [""] * (8 if view == "release" else 9))
            continue
        row = [
            node,
            pill(info.get("state")),
            e(info.get("exitCode")),
            pill(info["result"]) if info.get("result") else "",
            e(info.get("retryCount", 0)),
            when(info.get("startTime")),
            when(info.get("endTime")),
            duration(info.get("startTime"), info.get("endTime")),
            failure(info.get("failureInfo")),
            _std_links(rec["poolId"], rec["nodeId"], info.get("taskRootDirectory", "")),
        ]
        if view == "release":
            del row[4]  # a release task is never retried
        rows.append(row)
    explain = (
        "The job preparation task runs on each node before the first task of the job that the node runs."
        if view == "preparation"
        else "The job release task runs when the job ends, on each node where the job preparation task ran."
    )
    headers = [
        "Node",
        "State",
        "Exit code",
        "Result",
        "Retries",
        "Started",
        "Ended",
        "Duration",
        "Failure",
        "Files",
    ]
    if view == "release":
        del headers[4]
    info_block = props([("Task id", code(spec.get("id"))), ("Command line", code(spec.get("commandLine")))])
    return (
        info_block
        + f'<p class="note">{e(explain)}</p>'
        + table(headers, rows, cls=f"prep-release {view}", empty=f"The {name} has not run on any node yet.")
    )


def _outputs_view(service: BatchService, job: Doc) -> str:
    container = job_output_container_name(job["id"])
    config = storage_for(service)
    intro = f"<p>File Conventions container {code(container)}</p>"
    if config is None:
        return intro + (
            '<p class="warn" id="storage-not-configured"><strong>Storage not configured.</strong> Start the emulator '
            "with <code>--blob-url</code>, <code>--storage-account-name</code> and <code>--storage-account-key</code> "
            "(or <code>LOCALBATCH_BLOB_URL</code>, <code>LOCALBATCH_STORAGE_ACCOUNT_NAME</code>, "
            "<code>LOCALBATCH_STORAGE_ACCOUNT_KEY</code>) to see the outputs persisted there.</p>"
        )
    try:
        outputs = list_outputs(config, job["id"])
    except Exception as exc:  # noqa: BLE001 - any storage failure is shown, never a 500
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            intro + f'<p class="warn">Storage at {code(config.blob_url)} could not be listed: {e(first)}</p>'
        )
    intro = f"<p>File Conventions container {code(container)} at {code(config.blob_url)}</p>"
    if not outputs.exists:
        return intro + '<p class="empty">The container does not exist (yet): nothing was persisted.</p>'
    task_order = [t["id"] for t in service.list_tasks(job["id"])]
    return intro + _render_outputs(job["id"], outputs, task_order)


def _blob_rows(job_id: str, entries: Iterable[Any]) -> list[list[str]]:
    return [
        [
            link(url("jobs", job_id, "blobs") + "/" + _quote_path(b.name), b.path)
            + (
                ' <span class="tracked" title="an append blob: a log saved while it grows; this page '
                'refreshes while the job runs">tracked</span>'
                if getattr(b, "tracked", False)
                else ""
            ),
            size(b.size),
            when(b.last_modified),
        ]
        for b in entries
    ]


def _quote_path(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="/")


def _render_outputs(job_id: str, outputs: Outputs, task_order: list[str]) -> str:
    parts = []
    if outputs.truncated:
        parts.append(
            '<p class="warn">The container holds more blobs than the portal lists; showing the first ones.</p>'
        )
    parts.append("<h2>Job outputs</h2>")
    if outputs.job:
        for kind, entries in outputs.job.items():
            parts.append(
                f'<div class="group" data-kind="${e(kind)}"><h3>{code("$" + kind)}</h3>'
                + table(["Path", "Size", "Last modified"], _blob_rows(job_id, entries), cls="blobs")
                + "</div>"
            )
    else:
        parts.append('<p class="empty">No job outputs.</p>')
    parts.append("<h2>Task outputs</h2>")
    known = {t.lower(): t for t in task_order}
    ordered = sorted(
        outputs.tasks,
        key=lambda t: (task_order.index(known[t.lower()]) if t.lower() in known else len(task_order), t),
    )
    if not ordered:
        parts.append('<p class="empty">No task outputs.</p>')
    for task_id in ordered:
        title = (
            link(url("jobs", job_id, "tasks", task_id), task_id) if task_id.lower() in known else e(task_id)
        )
        kinds = "".join(
            f'<div data-kind="${e(kind)}"><h4>{code("$" + kind)}</h4>'
            + table(["Path", "Size", "Last modified"], _blob_rows(job_id, entries), cls="blobs")
            + "</div>"
            for kind, entries in outputs.tasks[task_id].items()
        )
        parts.append(
            f'<div class="group task-outputs" id="outputs-{e(task_id)}" data-task="{e(task_id)}">'
            f"<h3>Task {title}</h3>{kinds}</div>"
        )
    if outputs.other:
        parts.append(
            '<h2>Other blobs</h2><p class="note">Not laid out by File Conventions.</p>'
            + table(["Name", "Size", "Last modified"], _blob_rows(job_id, outputs.other), cls="blobs")
        )
    return "".join(parts)


# ---- a task -------------------------------------------------------------------------------------


def task_page(service: BatchService, job_id: str, task_id: str) -> str:
    """One task: its state and execution, its definition, and the files in its folder on the node."""
    try:
        job = service.get_job(job_id)
        task = service.get_task(job_id, task_id)
    except BatchError as err:
        raise NotFound(f"Task {task_id} of job {job_id} not found.") from err
    execution = task.get("executionInfo") or {}
    node = task.get("nodeInfo") or {}
    constraints = task.get("constraints") or {}
    info = props(
        [
            ("State", pill(task.get("state"))),
            ("Display name", e(task.get("displayName"))),
            ("Command line", code(task.get("commandLine"))),
            ("Exit code", e(execution.get("exitCode"))),
            ("Result", pill(execution["result"]) if execution.get("result") else ""),
            (
                "Retry count",
                e(f"{execution.get('retryCount', 0)} of {constraints.get('maxTaskRetryCount', 0)}"),
            ),
            ("Requeue count", e(execution.get("requeueCount", 0))),
            (
                "Node",
                _node_cell(node["poolId"], node["nodeId"], show_pool=True) if node.get("nodeId") else "",
            ),
            ("Created", when(task.get("creationTime"))),
            ("Started", when(execution.get("startTime"))),
            ("Ended", when(execution.get("endTime"))),
            ("Duration", duration(execution.get("startTime"), execution.get("endTime"))),
            ("Failure", failure(execution.get("failureInfo"))),
            (
                "Persisted outputs",
                link(url("jobs", job["id"], "outputs") + f"#outputs-{task['id']}", "in the job's container"),
            ),
        ]
    )
    # Names only: values often hold keys or SAS tokens, and the portal has no authentication.
    env_rows = [
        [code(s.get("name")), '<span class="muted">(hidden)</span>' if s.get("value") else ""]
        for s in task.get("environmentSettings") or []
        if isinstance(s, dict)
    ]
    out_rows = []
    for spec in task.get("outputFiles") or []:
        dest = ((spec.get("destination") or {}).get("container") or {}) if isinstance(spec, dict) else {}
        out_rows.append(
            [
                code(spec.get("filePattern")),
                code(dest.get("path")),
                e((spec.get("uploadOptions") or {}).get("uploadCondition")),
            ]
        )
    body = info
    if env_rows:
        body += "<h2>Environment settings</h2>" + table(["Name", "Value (not shown)"], env_rows)
    if out_rows:
        body += "<h2>Output files</h2>" + table(
            ["File pattern", "Destination path", "Upload condition"], out_rows
        )
    body += "<h2>Files on the node</h2>" + _task_files(service, node)
    busy = task.get("state") in BUSY_TASK_STATES
    return page(
        f"Task {task['id']}",
        body,
        crumbs=[
            (url("jobs", job["id"]), job["id"]),
            (url("jobs", job["id"], "tasks", task["id"]), task["id"]),
        ],
        refresh=busy,
        account=service.account_name,
    )


def _task_files(service: BatchService, node: Doc) -> str:
    if not node.get("nodeId"):
        return '<p class="empty">The task has not run on a node yet.</p>'
    task_rel = node.get("taskRootDirectory", "")
    try:
        root = service.node_root(node["poolId"], node["nodeId"])
        entries = safefs.list_dir(root, task_rel, recursive=True)
    except (BatchError, files.PathRefused, OSError):
        entries = []
    rows = []
    for entry in entries:
        if entry.is_dir:
            continue
        rel = f"{task_rel.strip('/')}/{entry.name}"
        rows.append(
            [link(file_url(node["poolId"], node["nodeId"], rel), entry.name), size(entry.stat.st_size)]
        )
        if len(rows) >= MAX_FILE_ROWS:
            break
    return table(
        ["File", "Size"], rows, cls="task-files", empty="No files (the node may have cleaned them up)."
    )


# ---- node files ---------------------------------------------------------------------------------


def directory_page(service: BatchService, pool_id: str, node_id: str, rel: str, root: Path) -> str:
    """A folder on a node, with links to its subfolders and files."""
    rows = []
    for entry in files.list_dir(root, rel)[:MAX_FILE_ROWS]:
        target = f"{rel}/{entry.name}" if rel else entry.name
        rows.append(
            [
                link(file_url(pool_id, node_id, target), entry.name + ("/" if entry.is_dir else "")),
                "" if entry.is_dir else size(entry.size),
            ]
        )
    crumbs = [(url("pools", pool_id), pool_id), (file_url(pool_id, node_id), node_id)]
    walked = ""
    for part in [p for p in rel.split("/") if p]:
        walked = f"{walked}/{part}" if walked else part
        crumbs.append((file_url(pool_id, node_id, walked), part))
    body = table(["Name", "Size"], rows, cls="dir", empty="Empty folder.")
    return page(
        f"Files on {node_id}" + (f": {rel}" if rel else ""), body, crumbs=crumbs, account=service.account_name
    )
