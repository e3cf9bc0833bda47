"""The emulator's read-only portal, in a real browser: headless Chromium from Debian, driven by Playwright.

The browser is Debian's `chromium` package (`/usr/bin/chromium`, or `LOCALBATCH_CHROMIUM`); Playwright
only drives it (`executable_path`), nothing is downloaded. Without Chromium or the `playwright`
package the browser tests are skipped on a workstation and fail in CI (`CI=true`).
Screenshots land in `test-output/<test name>/`.
"""

from __future__ import annotations

import http.client
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from emulator_helpers import (
    pool_options,
    terminate_options,
    unique,
    wait_for,
    wait_task,
    wait_tasks_completed,
    write_container_url,
)

SHARED_FILE = "job_prep_and_release.txt"
PREP = f"/bin/sh -c 'echo $AZ_BATCH_NODE_ID > $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE}'"
# Like the sample's step 5 and 6: show the node's file, then delete it.
RELEASE = (
    f"/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE} && rm $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE}'"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">&amp;"


def _chromium() -> str | None:
    candidates = [os.environ.get("LOCALBATCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must install Debian's chromium package and the playwright Python package)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    executable = _chromium()
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / name), full_page=True)


def _rows(page: Any, selector: str) -> list[list[str]]:
    """The visible text of each cell of each body row of a table."""
    return [
        [cell.inner_text().strip() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all(f"{selector} tbody tr")
    ]


# ---- the seed's JobPrepRelease sample, watched in the portal --------------------------------------


def test_job_prep_release_in_the_portal(
    client: BatchClient, endpoints: Any, page: Any, test_output_dir: Path
) -> None:
    from playwright.sync_api import expect  # importable: the `page` fixture checked it

    base = endpoints.batch_url
    pool_id, job_id = unique("JobPrepReleaseSamplePool"), unique("JobPrepReleaseSampleJob")
    client.create_pool(pool_options(pool_id, nodes=2))
    nodes = wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"] or None)
    assert len(nodes) == 2
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            display_name=f"JobPrepRelease {HOSTILE}",
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line=PREP),
            job_release_task=m.BatchJobReleaseTask(command_line=RELEASE),
            metadata=[m.BatchMetadataItem(name="owner", value=HOSTILE)],
        )
    )
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"task{i}",
            command_line=f"/bin/sh -c 'echo $AZ_BATCH_TASK_ID >> $AZ_BATCH_NODE_SHARED_DIR/{SHARED_FILE}; "
            "echo $AZ_BATCH_TASK_ID ran on $AZ_BATCH_NODE_ID; sleep 1.5'",
        )
        for i in range(4)
    ]
    client.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))

    # Console errors would mean a CSP violation, a broken script or a missing stylesheet.
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    # While the tasks run, the job page shows them running and refreshes itself.
    page.goto(f"{base}/portal/jobs/{job_id}")
    assert page.get_attribute("body", "data-refresh-seconds") == "2", "a running job's page refreshes itself"
    assert (
        page.inner_text(".count[data-count=running] b") != "0"
        or page.inner_text(".count[data-count=active] b") != "0"
    )
    assert page.is_checked("#autorefresh")
    _shot(page, test_output_dir, "01-job-running.png")
    # No reload from the test: the page's own refresh brings the final counts in.
    # (A locator wait, not wait_for_function: the page's CSP forbids evaluating strings as script.)
    expect(page.locator(".count[data-count=succeeded] b")).to_have_text("4", timeout=20_000)
    completed = wait_tasks_completed(client, job_id)
    ran_on: dict[str, list[str]] = {}
    for task in completed:
        ran_on.setdefault(task.node_info.node_id, []).append(task.id)
    assert len(ran_on) == 2, "spread scheduling puts tasks on both nodes"
    rows = {r[0]: r for r in _rows(page, "table.tasks")}
    assert sorted(rows) == [f"task{i}" for i in range(4)]
    for task in completed:
        task_id, state, exit_code, retries, node = rows[task.id][:5]
        assert (state, exit_code, retries) == ("completed", "0", "0")
        assert node.startswith(task.node_info.node_id)
    # User-supplied text is shown as text, never interpreted.
    assert HOSTILE in page.inner_text("dl.props"), "display name and metadata shown literally"
    assert page.query_selector("main img") is None and page.title() != "pwned"
    page.reload()
    assert page.get_attribute("body", "data-refresh-seconds") is None, "nothing runs any more: no refresh"
    _shot(page, test_output_dir, "02-job-tasks-done.png")

    # A task's stdout.txt through the file link.
    page.click("table.tasks tbody tr:has(a:text-is('task0')) .files a:text-is('stdout.txt')")
    node_of_task0 = next(t.node_info.node_id for t in completed if t.id == "task0")
    assert page.inner_text("body").strip() == f"task0 ran on {node_of_task0}"
    page.go_back()
    # The task's own page lists the files of its folder on the node.
    page.click("table.tasks a:text-is('task1')")
    assert page.url.endswith(f"/portal/jobs/{job_id}/tasks/task1")
    names = page.locator("table.task-files tbody td:first-child").all_inner_texts()
    assert {"stdout.txt", "stderr.txt"} <= set(names)
    _shot(page, test_output_dir, "02b-task.png")

    client.begin_terminate_job(
        job_id, options=terminate_options("sample done"), polling_interval=0.1
    ).result()

    # Preparation tasks: one row per node that ran tasks, exit code 0.
    page.goto(f"{base}/portal/jobs/{job_id}")
    page.click("nav.tabs a:text-is('Preparation tasks')")
    assert page.url.endswith(f"/portal/jobs/{job_id}/preparation")
    assert PREP in page.inner_text("dl.props")
    prep_rows = _rows(page, "table.prep-release")
    assert sorted(r[0].splitlines()[0] for r in prep_rows) == sorted(ran_on)
    for row in prep_rows:
        assert row[1:5] == ["completed", "0", "success", "0"]  # state, exit code, result, retries
        assert row[5] and row[6], "start and end times shown"
    _shot(page, test_output_dir, "03-preparation-tasks.png")

    # Release tasks: the same nodes, exit code 0; stdout shows what the node's shared file held.
    page.click("nav.tabs a:text-is('Release tasks')")
    assert page.url.endswith(f"/portal/jobs/{job_id}/release")
    release_rows = _rows(page, "table.prep-release")
    assert sorted(r[0].splitlines()[0] for r in release_rows) == sorted(ran_on)
    for row in release_rows:
        assert row[1:4] == ["completed", "0", "success"]
        assert row[4] and row[5], "start and end times shown"
    _shot(page, test_output_dir, "04-release-tasks.png")
    node_id = sorted(ran_on)[0]
    page.click(f"table.prep-release tbody tr:has(a:text-is('{node_id}')) .files a:text-is('stdout.txt')")
    assert f"/portal/files/{pool_id}/{node_id}/workitems/{job_id}/job-1/jobrelease/stdout.txt" in page.url
    lines = page.inner_text("body").split()
    assert lines[0] == node_id, "the preparation task wrote the node id first"
    assert sorted(lines[1:]) == sorted(ran_on[node_id]), "then each task appended its id"
    _shot(page, test_output_dir, "05-release-stdout.png")
    page.go_back()
    page.click(f"table.prep-release tbody tr:has(a:text-is('{node_id}')) .files a:text-is('files')")
    listing = page.locator("table.dir tbody td:first-child").all_inner_texts()
    assert {"stdout.txt", "stderr.txt", "wd/"} <= set(listing)
    _shot(page, test_output_dir, "05b-release-folder.png")

    # The home page: the pool with both nodes and their states, the job with its counts.
    page.goto(f"{base}/portal/")
    pool_block = page.locator(f"div.group[data-pool='{pool_id}']")
    node_rows = [r.split("\t") for r in pool_block.locator("table.nodes tbody tr").all_inner_texts()]
    assert sorted(r[0] for r in node_rows) == sorted(n.id for n in nodes)
    assert {r[1] for r in node_rows} == {"idle"}
    job_row = page.locator(f"table.jobs tbody tr:has(a:text-is('{job_id}'))").inner_text().split("\t")
    assert job_row[1:3] == ["completed", pool_id] and job_row[3:8] == ["0", "0", "4", "4", "0"]
    _shot(page, test_output_dir, "00-home.png")
    page.click(f"div.group[data-pool='{pool_id}'] h3 a")
    pool_rows = _rows(page, "table.nodes")
    assert sorted(r[0] for r in pool_rows) == sorted(n.id for n in nodes)
    assert all(r[1:3] == ["idle", "enabled"] for r in pool_rows)
    assert sum(int(r[5]) for r in pool_rows) == 4, "tasks run, summed over the nodes"
    _shot(page, test_output_dir, "06-pool.png")

    assert console_errors == []
    client.begin_delete_job(job_id, polling_interval=0.1).result()
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()


# ---- persisted outputs (File Conventions) ----------------------------------------------------------


def test_outputs_grouped_by_task_and_kind(
    client: BatchClient, shared_pool: str, blob_service: Any, endpoints: Any, page: Any, test_output_dir: Path
) -> None:
    from pulumi_azbatch.conventions import job_output_container_name

    # Upper case and `_` make the container name the hashed form.
    job_id = unique("Render_Job")
    container = job_output_container_name(job_id)
    assert len(container) > 50, "the hashed container name"
    container_url = write_container_url(endpoints, blob_service, container)

    def persist(pattern: str, path: str) -> m.OutputFile:
        return m.OutputFile(
            file_pattern=pattern,
            destination=m.OutputFileDestination(
                container=m.OutputFileBlobContainerDestination(container_url=container_url, path=path)
            ),
            upload_options=m.OutputFileUploadConfiguration(upload_condition="taskcompletion"),
        )

    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"render-{i}",
            command_line=f"/bin/sh -c 'mkdir -p out && echo frame {i} > out/frame-{i}.txt && echo rendered {i}'",
            output_files=[
                persist("out/*.txt", f"render-{i}/$TaskOutput"),
                persist("../std*.txt", f"render-{i}/$TaskLog"),
            ],
        )
        for i in (1, 2)
    ] + [
        m.BatchTaskCreateOptions(
            id="merge",
            command_line="/bin/sh -c 'echo all frames merged > summary.txt'",
            output_files=[persist("summary.txt", "$JobOutput/summary.txt")],
        )
    ]
    client.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))
    wait_tasks_completed(client, job_id)

    page.goto(f"{endpoints.batch_url}/portal/jobs/{job_id}/outputs")
    assert container in page.inner_text("main")
    assert page.locator("#storage-not-configured").count() == 0
    for i in (1, 2):
        group = page.locator(f".task-outputs[data-task='render-{i}']")
        assert group.locator("[data-kind='$TaskOutput'] td a").all_inner_texts() == [f"frame-{i}.txt"]
        assert group.locator("[data-kind='$TaskLog'] td a").all_inner_texts() == ["stderr.txt", "stdout.txt"]
    assert page.locator(".task-outputs[data-task='merge']").count() == 0, "merge wrote a job output only"
    job_outputs = page.locator("[data-kind='$JobOutput'] td a")
    assert job_outputs.all_inner_texts() == ["summary.txt"]
    _shot(page, test_output_dir, "outputs.png")
    job_outputs.first.click()
    assert page.inner_text("body").strip() == "all frames merged"
    page.go_back()
    page.click(".task-outputs[data-task='render-2'] [data-kind='$TaskLog'] a:text-is('stdout.txt')")
    assert page.inner_text("body").strip() == "rendered 2"


@pytest.mark.parametrize(
    "job_id",
    [
        "MyTerrificJob",
        "job-15",
        "my_job-bob",
        "-my_job-sam--",
        "my-_EVEN_MORE_-terrific-job",
        "---",
        "myverylongjobnameallinonewordreallystartingtogetreallysillynow",
    ],
)
def test_portal_container_name_matches_the_provider(job_id: str) -> None:
    from localbatch.portal.storage import job_output_container_name as emulator_rule

    from pulumi_azbatch.conventions import job_output_container_name as provider_rule

    assert emulator_rule(job_id) == provider_rule(job_id)


# ---- read-only, confined, and safe with hostile files ---------------------------------------------------


def _get(base: str, raw_path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A request with the path sent exactly as written (no client-side `..` normalisation)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, raw_path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_file_route_stays_inside_the_node_and_never_serves_html(
    client: BatchClient, job: str, shared_pool: str, endpoints: Any
) -> None:
    client.create_task(
        job,
        m.BatchTaskCreateOptions(
            id="hostile",
            command_line="/bin/sh -c 'ln -s / escape && echo \"<script>alert(1)</script>\" > page.html'",
        ),
    )
    task = wait_task(client, job, "hostile")
    node = task.node_info.node_id
    wd = f"{task.node_info.task_root_directory}/wd"
    files = f"/portal/files/{shared_pool}/{node}"
    status, headers, body = _get(endpoints.batch_url, f"{files}/{wd}/page.html")
    assert status == 200 and body.strip() == b"<script>alert(1)</script>"
    assert headers["content-type"].startswith("text/plain"), "a task's HTML file is shown as text"
    assert "sandbox" in headers["content-security-policy"]
    for path in (
        f"{files}/../../../../etc/passwd",
        f"{files}/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        f"{files}/%2Fetc%2Fpasswd",
        f"{files}/{wd}/escape/etc/passwd",
    ):
        status, _, body = _get(endpoints.batch_url, path)
        assert status in (400, 404), path
        assert b"root:" not in body
    status, _, body = _get(endpoints.batch_url, f"{files}/{wd}/escape/etc/passwd")
    assert status == 400 and b"inside the node" in body, "a symlink out of the node is refused"
    status, headers, _ = _get(endpoints.batch_url, f"/portal/jobs/{job}", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, body = _get(endpoints.batch_url, f"/portal/jobs/{quote('<x>')}")
    assert status == 404 and b"<x>" not in body and b"&lt;x&gt;" in body


def test_outputs_view_says_storage_not_configured(tmp_path: Path) -> None:
    from localbatch.models import BatchService
    from localbatch.server import make_server

    from pulumi_azbatch.localdev import LOCALBATCH_ACCOUNT_KEY, LOCALBATCH_ACCOUNT_NAME

    service = BatchService(tmp_path, account_name=LOCALBATCH_ACCOUNT_NAME)
    server = make_server(
        service, port=0, account_name=LOCALBATCH_ACCOUNT_NAME, account_key=LOCALBATCH_ACCOUNT_KEY
    )
    service.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        own = BatchClient(
            endpoint=service.base_url,
            retry_total=0,
            credential=AzureNamedKeyCredential(LOCALBATCH_ACCOUNT_NAME, LOCALBATCH_ACCOUNT_KEY),
        )
        own.create_pool(pool_options("p", nodes=1))
        own.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id="p")))
        with urllib.request.urlopen(f"{service.base_url}/portal/jobs/j/outputs", timeout=10) as resp:
            text = resp.read().decode()
        assert "Storage not configured" in text and "job-j" in text
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{service.base_url}/portal/jobs/j/blobs/x.txt", timeout=10)
        assert info.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
        service.stop()


# ---- pictures: the run as a timeline, the pool as a heat map, the job's summaries -------------------


def _boxes(page: Any, selector: str) -> list[dict[str, float]]:
    """Where each matching element is drawn on the screen (its bounding box in CSS pixels)."""
    return [box for el in page.query_selector_all(selector) if (box := el.bounding_box())]


def test_job_run_drawn_as_timeline_heat_map_and_summaries(
    client: BatchClient, endpoints: Any, page: Any, test_output_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = endpoints.batch_url
    pool_id, job_id = unique("PicturesPool"), unique("PicturesJob")
    client.create_pool(pool_options(pool_id, nodes=2, task_slots_per_node=2))
    nodes = wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"] or None)
    assert len(nodes) == 2
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    # The heat map: one tile per node, coloured by the node's state, recoloured live (no page reload).
    page.goto(f"{base}/portal/pools/{pool_id}")
    tiles = page.locator(f"figure.heatmap-figure[data-pool='{pool_id}'] g.hm-tile")
    expect(tiles).to_have_count(2)
    assert sorted(tiles.evaluate_all("ts => ts.map(t => t.getAttribute('data-node'))")) == sorted(
        n.id for n in nodes
    )
    for node in nodes:
        tile = page.locator(f"g.hm-tile[data-node='{node.id}']")
        assert tile.get_attribute("data-state") == "idle"
        assert tile.locator("text.hm-slots").text_content() == "0/2"
    idle_fill = page.locator("g.hm-tile .hm-bg").first.evaluate("r => getComputedStyle(r).fill")
    assert page.get_attribute("body", "data-refresh-seconds") is None, "an idle pool's page does not reload"

    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id,
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/sh -c 'sleep 0.6'"),
            job_release_task=m.BatchJobReleaseTask(command_line="/bin/sh -c 'sleep 0.3'"),
        )
    )
    tasks = [m.BatchTaskCreateOptions(id=f"ok{i}", command_line="/bin/sh -c 'sleep 0.8'") for i in range(6)]
    tasks.append(m.BatchTaskCreateOptions(id="broken", command_line="/bin/sh -c 'sleep 0.3; exit 3'"))
    tasks.append(
        m.BatchTaskCreateOptions(
            id="flaky",
            command_line="/bin/sh -c 'sleep 0.2; exit 7'",
            constraints=m.BatchTaskConstraints(max_task_retry_count=1),
        )
    )
    client.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))
    # The already-open pool page sees its nodes go busy through the heat map's JSON.
    expect(page.locator("g.hm-tile[data-state='running']").first).to_be_visible(timeout=10_000)
    running = page.locator("g.hm-tile[data-state='running'] .hm-bg").first
    assert running.evaluate("r => getComputedStyle(r).fill") != idle_fill, "a running node is another colour"
    states = page.locator("table.heatmap-nodes td.hm-state").evaluate_all("cs => cs.map(c => c.textContent)")
    assert "running" in states, "the heat map's table follows the tiles"
    _shot(page, test_output_dir, "10-heatmap-running.png")

    wait_tasks_completed(client, job_id, timeout=30)
    client.begin_terminate_job(job_id, options=terminate_options("done"), polling_interval=0.1).result()
    wait_for(
        lambda: (
            all(
                (r.job_release_task_execution_info and r.job_release_task_execution_info.state == "completed")
                for r in client.list_job_preparation_and_release_task_status(job_id)
            )
            or None
        ),
        timeout=20,
    )
    expect(page.locator("g.hm-tile[data-state='idle']")).to_have_count(2, timeout=10_000)

    # The timeline: one row per node; preparation first, tasks behind it, release after the last task.
    page.goto(f"{base}/portal/jobs/{job_id}")
    page.click("nav.tabs a:text-is('Timeline')")
    assert page.url.endswith(f"/portal/jobs/{job_id}/timeline")
    svg = page.locator("svg.timeline")
    assert svg.get_attribute("data-mode") == "bars"
    assert job_id in svg.locator("title#tl-title").text_content()
    assert "2 node(s)" in svg.locator("desc#tl-desc").text_content()
    drawn_nodes = page.locator("svg.timeline g.tl-node").evaluate_all(
        "gs => gs.map(g => g.getAttribute('data-node'))"
    )
    assert sorted(drawn_nodes) == sorted(n.id for n in nodes)
    seen_tasks = set()
    for node in drawn_nodes:
        row = f"svg.timeline g.tl-node[data-node='{node}']"
        (prep,) = _boxes(page, f"{row} rect.tl-prep")
        (release,) = _boxes(page, f"{row} rect.tl-release")
        bars = _boxes(page, f"{row} rect.tl-task")
        assert bars, f"tasks ran on {node}"
        seen_tasks |= set(
            page.locator(f"{row} rect.tl-task").evaluate_all("rs => rs.map(r => r.dataset.task)")
        )
        for bar in bars:
            assert prep["x"] + prep["width"] <= bar["x"] + 0.5, "the preparation bar precedes every task bar"
        assert release["x"] >= max(b["x"] + b["width"] for b in bars) - 0.5, "release follows the last task"
        assert prep["height"] >= max(b["y"] + b["height"] for b in bars) - prep["y"] - 0.5, (
            "prep spans the row"
        )
    assert seen_tasks == {t.id for t in tasks}
    broken = page.locator("rect.tl-task[data-task='broken']")
    assert "r-failed" in broken.get_attribute("class")
    assert broken.evaluate("r => getComputedStyle(r).fill") == "rgb(220, 38, 38)", "a failed task is red"
    ok = page.locator("rect.tl-task[data-task='ok0']").evaluate("r => getComputedStyle(r).fill")
    assert ok == "rgb(22, 163, 74)", "a succeeded task is green"
    flaky = page.locator("rect.tl-task[data-task='flaky']")
    assert (
        flaky.get_attribute("data-retries") == "1" and "retried 1×" in flaky.locator("title").text_content()
    )
    assert page.locator("line.tl-retry[data-task='flaky']").count() == 1, "the retry is marked on the row"
    assert page.locator("svg.timeline rect.tl-idle").count() >= 1, "idle time between phases is visible"
    page.click("details.tl-table summary")  # the text alternative, folded away by default
    table_rows = _rows(page, "table.timeline-nodes")
    assert sorted(r[0] for r in table_rows) == sorted(drawn_nodes)
    assert sum(int(r[2]) for r in table_rows) == 8 and sum(int(r[4]) for r in table_rows) == 2
    _shot(page, test_output_dir, "11-timeline.png")

    # Zoom with the keyboard: the links are reachable with Tab and follow with Enter.
    page.focus("nav.tl-zoom a.tl-in")
    page.keyboard.press("Enter")
    page.wait_for_url("**/timeline?from=*")
    assert page.locator("nav.tl-zoom a.tl-all").count() == 1, "a zoomed view links back to the whole run"
    _shot(page, test_output_dir, "12-timeline-zoomed.png")
    page.click("nav.tl-zoom a.tl-all")
    # Each task bar is a link to its task.
    page.click("svg.timeline a:has(rect[data-task='broken'])")
    assert page.url.endswith(f"/portal/jobs/{job_id}/tasks/broken")

    # The job page's summaries: a duration histogram and failures by exit code.
    page.goto(f"{base}/portal/jobs/{job_id}")
    hist = page.locator("svg.histogram")
    assert "8 completed task(s), 2 failed" in hist.locator("desc").text_content()
    counts = hist.locator("rect.hist-bar").evaluate_all("rs => rs.map(r => +r.dataset.count)")
    assert sum(counts) == 8
    failed = hist.locator("rect.hist-bar.r-failed").evaluate_all("rs => rs.map(r => +r.dataset.count)")
    assert sum(failed) == 2
    failures = {r[0]: r for r in _rows(page, "table.failures-by-exit-code")}
    assert sorted(failures) == ["3", "7"]
    assert failures["3"][2:] == ["1", "broken"] and failures["7"][2:] == ["1", "flaky"]
    _shot(page, test_output_dir, "13-job-summaries.png")

    assert console_errors == []
    client.begin_delete_job(job_id, polling_interval=0.1).result()
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()
