"""The portal's pictures as pure functions of plain data: no service, no browser.

What a reader of the page would notice: which bars are drawn and where, when the timeline switches to
busy buckets, that every picture has a text alternative, that hostile ids stay text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from localbatch.portal import charts, heatmap, timeline
from localbatch.portal.runs import FAILED, RUNNING, SUCCEEDED, JobRun, NodeTile, Phase, TaskRun, job_run

T0 = 1_700_000_000.0
SVG = "{http://www.w3.org/2000/svg}"


def _svg(html: str, cls: str) -> ET.Element:
    """The `<svg class="cls…">` element of a rendered fragment, parsed (it must be well-formed)."""
    match = re.search(rf'<svg class="{cls}[^"]*".*?</svg>', html, re.S)
    assert match, f"no svg.{cls}"
    return ET.fromstring(match.group(0).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def _run(tasks: int, nodes: int = 4, length: float = 1.0) -> JobRun:
    """`tasks` back-to-back tasks of `length` seconds spread over `nodes` nodes, behind a preparation."""
    run = JobRun(now=T0 + 10**6)
    for n in range(nodes):
        run.prep[f"n{n}"] = Phase(start=T0, end=T0 + 2, result=SUCCEEDED)
    for i in range(tasks):
        start = T0 + 2 + (i // nodes) * length
        run.tasks.append(
            TaskRun(f"t{i}", f"n{i % nodes}", start, start + length, FAILED if i % 10 == 3 else SUCCEEDED)
        )
    for n in range(nodes):
        end = max(t.end for t in run.tasks if t.node_id == f"n{n}")
        run.release[f"n{n}"] = Phase(start=end + 1, end=end + 1.5, result=SUCCEEDED)
    return run


def test_bars_until_the_threshold_then_busy_buckets() -> None:
    at_limit = timeline.render_timeline(_run(timeline.MAX_BARS), job_id="j")
    assert 'data-mode="bars"' in at_limit
    assert at_limit.count('class="tl-bar tl-task') == timeline.MAX_BARS
    above = timeline.render_timeline(_run(timeline.MAX_BARS + 1), job_id="j")
    assert 'data-mode="buckets"' in above and "tl-task" not in above.split("<svg", 1)[1].split("tl-legend")[0]
    assert above.count('class="tl-node"') == 4, "still one row per node"
    assert above.count("tl-prep r-succeeded") >= 4 and above.count("tl-release r-succeeded") >= 4
    assert "zoom in to see single tasks" in above


def test_zooming_into_a_big_run_draws_single_bars_again() -> None:
    run = _run(10_000)
    window = (0.0, timeline.full_window(run)[1] / 100)
    zoomed = timeline.render_timeline(run, job_id="j", window=window)
    assert 'data-mode="bars"' in zoomed
    drawn = re.findall(r'data-task="(t\d+)"', zoomed)
    assert drawn and all(int(t[1:]) < 400 for t in drawn), "only tasks in the first 1% of the run"


def test_busy_buckets_measure_how_busy_a_node_was() -> None:
    # One node, 3000 tasks of 1 s back to back, then nothing for as long: the first half is fully busy.
    run = JobRun(now=T0 + 10**6)
    run.tasks = [TaskRun(f"t{i}", "n0", T0 + i, T0 + i + 1, SUCCEEDED) for i in range(3000)]
    run.release["n0"] = Phase(start=T0 + 5999, end=T0 + 6000, result=SUCCEEDED)
    svg = _svg(timeline.render_timeline(run, job_id="j", buckets=100), "timeline")
    busy = svg.findall(f"./{SVG}g[@class='tl-node']/{SVG}rect[@class='tl-busy l5']")
    assert len(busy) == 1, "one run of full buckets"
    title = busy[0].find(f"{SVG}title").text
    assert "100% of 1 concurrent task slot(s) busy, 3000 tasks ended, 0 failed" in title
    assert float(busy[0].get("width")) == pytest.approx(timeline.PLOT_W / 2)


def test_every_picture_has_a_text_alternative() -> None:
    run = _run(12)
    html = timeline.render_timeline(run, job_id="j<1>", zoom_href=lambda a, b: f"?from={a}&to={b}")
    svg = _svg(html, "timeline")
    labelled = svg.get("aria-labelledby").split()
    assert [svg.find(f"{SVG}{tag}").get("id") for tag in ("title", "desc")] == labelled
    assert svg.find(f"{SVG}title").text == "Timeline of job j<1>"
    assert (
        "4 node(s)" in svg.find(f"{SVG}desc").text
        and "12 task(s) ran (11 succeeded, 1 failed" in svg.find(f"{SVG}desc").text
    )
    assert all(
        bar.find(f"{SVG}title") is not None
        for bar in svg.iter(f"{SVG}rect")
        if "tl-bar" in bar.get("class", "")
    )
    assert '<table class="timeline-nodes">' in html and html.count("<tr data-node=") == 4
    assert 'href="?from=' in html and "Zoom in" in html, "zoom controls are links"
    hist = _svg(charts.duration_histogram(run.tasks), "histogram")
    assert (
        hist.find(f"{SVG}title").text == "Task durations"
        and "12 completed task(s), 1 failed" in hist.find(f"{SVG}desc").text
    )
    tiles = [NodeTile("a", "idle", 0, 2), NodeTile("b", "running", 2, 2)]
    hm = _svg(heatmap.render_heatmap("p", tiles), "heatmap")
    assert hm.find(f"{SVG}desc").text == "2 node(s): 1 idle, 1 running; 2 of 4 task slots in use."


def test_preparation_first_tasks_in_lanes_idle_gap_and_release_last() -> None:
    run = JobRun(now=T0 + 100)
    run.prep["n0"] = Phase(start=T0, end=T0 + 3, result=SUCCEEDED)
    run.tasks = [
        TaskRun("a", "n0", T0 + 3, T0 + 8, SUCCEEDED),
        TaskRun("b", "n0", T0 + 4, T0 + 6, FAILED, exit_code=2),
        TaskRun("c", "n0", T0 + 12, T0 + 13, SUCCEEDED, retry_count=2, last_retry=T0 + 11),
    ]
    run.release["n0"] = Phase(start=T0 + 14, end=T0 + 15, result=SUCCEEDED)
    svg = _svg(timeline.render_timeline(run, job_id="j"), "timeline")
    rects = {r.get("data-task") or r.get("class"): r for r in svg.iter(f"{SVG}rect")}
    x = {k: float(r.get("x")) for k, r in rects.items()}
    ends = {k: float(r.get("x")) + float(r.get("width")) for k, r in rects.items()}
    prep, release = "tl-bar tl-prep r-succeeded", "tl-bar tl-release r-succeeded"
    assert ends[prep] <= min(x["a"], x["b"], x["c"]) and x[release] >= max(ends["a"], ends["c"])
    assert rects["a"].get("y") != rects["b"].get("y"), "overlapping tasks get their own lanes"
    assert float(rects[prep].get("height")) == 2 * timeline.LANE_H, "preparation spans both lanes"
    assert "r-failed" in rects["b"].get("class") and "exit code 2" in rects["b"].find(f"{SVG}title").text
    assert "retried" in rects["c"].get("class") and svg.find(f".//{SVG}line[@class='tl-retry']") is not None
    idle = [
        r.find(f"{SVG}title").text
        for r in svg.findall(f"./{SVG}g[@class='tl-node']/{SVG}rect[@class='tl-idle']")
    ]
    assert idle == ["n0 idle for 4 s", "n0 idle for 1 s"]


def test_failures_grouped_by_exit_code_most_frequent_first() -> None:
    tasks = [TaskRun(f"t{i}", "n", T0, T0 + 1, FAILED, exit_code=1 if i < 7 else 137) for i in range(9)]
    tasks.append(TaskRun("ok", "n", T0, T0 + 1, SUCCEEDED, exit_code=0))
    html = charts.failures_by_exit_code(tasks, task_href=lambda t: f"/t/{t}")
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(\d+)</td>", html)
    assert rows == [("1", "7"), ("137", "2")]
    assert "and 2 more" in html and 'href="/t/t0"' in html
    assert charts.failures_by_exit_code(tasks[-1:]) == '<p class="empty" id="no-failures">No task failed.</p>'


def test_heat_map_one_tile_per_node_coloured_by_state() -> None:
    tiles = [
        NodeTile("n<b>", "idle", 0, 4),
        NodeTile("n2", "running", 3, 4),
        NodeTile("n3", "preempted", 0, 4),
        NodeTile("n4", "no-such-state", 0, 4),
    ]
    html = heatmap.render_heatmap(
        "p", tiles, json_href="/portal/pools/p/heatmap.json", node_href=lambda n: f"/f/{n}"
    )
    svg = _svg(html, "heatmap")
    drawn = {g.get("data-node"): g.get("class") for g in svg.iter(f"{SVG}g")}
    assert drawn == {
        "n<b>": "hm-tile st-idle",
        "n2": "hm-tile st-running",
        "n3": "hm-tile st-preempted",
        "n4": "hm-tile st-unknown",
    }
    assert "<b>" not in html and 'data-src="/portal/pools/p/heatmap.json"' in html
    used = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "hm-pip used"]
    assert len(used) == 3
    doc = heatmap.heatmap_document("p", tiles)
    assert [n["class"] for n in doc["nodes"]] == ["st-idle", "st-running", "st-preempted", "st-unknown"]


def test_job_run_from_service_documents() -> None:
    def at(seconds: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(T0 + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    tasks = [
        {
            "id": "done",
            "state": "completed",
            "nodeInfo": {"nodeId": "n0"},
            "executionInfo": {
                "startTime": at(1),
                "endTime": at(3),
                "result": "success",
                "exitCode": 0,
                "retryCount": 0,
            },
        },
        {
            "id": "bad",
            "state": "completed",
            "nodeInfo": {"nodeId": "n0"},
            "executionInfo": {
                "startTime": at(1),
                "endTime": at(2),
                "result": "failure",
                "exitCode": 9,
                "retryCount": 1,
                "lastRetryTime": at(0.5),
                "failureInfo": {"category": "usererror", "code": "FailureExitCode"},
            },
        },
        {
            "id": "busy",
            "state": "running",
            "nodeInfo": {"nodeId": "n1"},
            "executionInfo": {"startTime": at(2)},
        },
        {"id": "queued", "state": "active", "executionInfo": {"retryCount": 0}},
    ]
    records = [
        {
            "nodeId": "n0",
            "jobPreparationTaskExecutionInfo": {
                "state": "completed",
                "result": "success",
                "startTime": at(0),
                "endTime": at(1),
            },
            "jobReleaseTaskExecutionInfo": {"state": "running", "startTime": at(4)},
        }
    ]
    run = job_run(tasks, records, now=T0 + 5)
    by_id = {t.task_id: t for t in run.tasks}
    assert sorted(by_id) == ["bad", "busy", "done"] and run.states == Counter(
        completed=2, running=1, active=1
    )
    assert by_id["bad"].result == FAILED and by_id["bad"].exit_code == 9 and by_id["bad"].retry_count == 1
    assert by_id["bad"].failure == "usererror FailureExitCode"
    assert by_id["busy"].result == RUNNING and by_id["busy"].end == pytest.approx(T0 + 5), (
        "running: until now"
    )
    assert run.prep["n0"].end == pytest.approx(T0 + 1) and run.release["n0"].result == RUNNING
    assert run.nodes == ["n0", "n1"] and run.span == (pytest.approx(T0), pytest.approx(T0 + 5))
    assert timeline.render_timeline(job_run([], None, now=T0), job_id="j").startswith('<p class="empty"')
