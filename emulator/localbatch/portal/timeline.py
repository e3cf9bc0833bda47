"""A job's run as a per-node timeline (Gantt-like), server-rendered SVG: a pure function of `runs.JobRun`.

One row per node: the job preparation task's bar first, each task's bar (coloured by result, in as many
lanes as the node ran tasks at once), the job release task's bar last, idle stretches marked. A time
window (seconds after the run's first start, from the page's `from`/`to` query) zooms; links move and
scale it, so the controls are ordinary keyboard-reachable links and need no script. Above `MAX_BARS`
task bars in the window, each node's row becomes a strip of busy buckets (how much of the node's
concurrency was in use, how many tasks ended, how many failed) so that 100,000 tasks render quickly.

Imports: `runs` (the data) and `html` (escaping, durations); never the service.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .html import e
from .runs import FAILED, RUNNING, SUCCEEDED, JobRun, Phase, TaskRun

MAX_BARS = 2000
BUCKETS = 160
WIDTH, LABEL_W, PLOT_X, PLOT_W = 1000.0, 150.0, 160.0, 820.0
AXIS_H, LANE_H, ROW_GAP, LEGEND_H = 26.0, 12.0, 8.0, 22.0
LEVELS = 5  # busy shades in the aggregated strips

Window = tuple[float, float]  # seconds after the run's first start


def span_text(seconds: float) -> str:
    """A short elapsed time for axis labels and titles: `850 ms`, `12.5 s`, `4m 05s`, `2h 03m`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def full_window(run: JobRun) -> Window:
    """The whole run, in seconds after its first start (at least a millisecond)."""
    first, last = run.span
    return 0.0, max(last - first, 0.001)


def clamp_window(full: Window, start: float | None, end: float | None) -> Window:
    """The window a request asks for, kept inside the run (`full`) and at least a millisecond wide."""
    lo, hi = full
    a = lo if start is None or not math.isfinite(start) else min(max(start, lo), hi)
    b = hi if end is None or not math.isfinite(end) else min(max(end, lo), hi)
    if b - a < 0.001:
        a, b = max(lo, min(a, hi - 0.001)), min(hi, max(a, lo) + 0.001)
    return a, b


def zoom_links(full: Window, window: Window, href: Callable[[float, float], str]) -> str:
    """Earlier / zoom in / zoom out / later / whole run, as links (or dimmed text when they'd do nothing)."""
    lo, hi = full
    a, b = window
    width = b - a
    mid = (a + b) / 2
    moves = [
        ("Earlier", "tl-earlier", clamp_window(full, a - width / 2, b - width / 2), a > lo),
        ("Zoom in", "tl-in", clamp_window(full, mid - width / 4, mid + width / 4), width > 0.002),
        ("Zoom out", "tl-out", clamp_window(full, mid - width, mid + width), a > lo or b < hi),
        ("Later", "tl-later", clamp_window(full, a + width / 2, b + width / 2), b < hi),
        ("Whole run", "tl-all", (lo, hi), a > lo or b < hi),
    ]
    out = []
    for label, cls, (x0, x1), useful in moves:
        if useful:
            out.append(f'<a class="{cls}" href="{e(href(x0, x1))}">{label}</a>')
        else:
            out.append(f'<span class="{cls} off" aria-disabled="true">{label}</span>')
    shown = f"showing +{span_text(a)} to +{span_text(b)} of {span_text(hi)}"
    return f'<nav class="tl-zoom" aria-label="Timeline zoom">{"".join(out)}<span class="note">{e(shown)}</span></nav>'


def _ticks(a: float, b: float, x: Callable[[float], float], top: float, bottom: float) -> list[str]:
    width = b - a
    raw = width / 8
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    out = []
    t = math.ceil(a / step) * step
    while t <= b + 1e-9:
        px = x(t)
        out.append(
            f'<line class="tl-tick" x1="{px:.1f}" x2="{px:.1f}" y1="{top - 4:.1f}" y2="{bottom:.1f}"></line>'
            f'<text class="tl-axis" x="{px:.1f}" y="{top - 8:.1f}" text-anchor="middle">+{span_text(t)}</text>'
        )
        t += step
    return out


def _lanes(tasks: list[TaskRun]) -> tuple[list[int], int]:
    """Greedy interval packing: a lane per task so bars that overlap in time never overlap on screen."""
    ends: list[float] = []
    lanes = []
    for t in tasks:
        for i, end in enumerate(ends):
            if end <= t.start:
                ends[i] = t.end
                lanes.append(i)
                break
        else:
            ends.append(t.end)
            lanes.append(len(ends) - 1)
    return lanes, max(1, len(ends))


def _idle(busy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The gaps between the union of busy intervals, from the first start to the last end."""
    gaps = []
    reach = None
    for start, end in sorted(busy):
        if reach is not None and start > reach:
            gaps.append((reach, start))
        reach = end if reach is None else max(reach, end)
    return gaps


def _phase_title(name: str, node: str, p: Phase, t0: float) -> str:
    retries = f", retried {p.retry_count}×" if p.retry_count else ""
    code = f", exit code {p.exit_code}" if p.exit_code is not None else ""
    return (
        f"{name} on {node}: {p.result}{code}{retries}; +{span_text(p.start - t0)}, "
        f"took {span_text(p.end - p.start)}"
    )


def _task_title(t: TaskRun, t0: float) -> str:
    code = f", exit code {t.exit_code}" if t.exit_code is not None else ""
    retries = f", retried {t.retry_count}× (latest attempt shown)" if t.retry_count else ""
    failure = f", {t.failure}" if t.failure else ""
    return (
        f"Task {t.task_id} on {t.node_id}: {t.result}{code}{failure}{retries}; "
        f"+{span_text(t.start - t0)}, took {span_text(t.seconds)}"
    )


@dataclass
class _Node:
    """One node's share of the run, gathered in a single pass over the tasks."""

    tasks: list[TaskRun] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=lambda: {SUCCEEDED: 0, FAILED: 0, RUNNING: 0})
    task_time: float = 0.0
    idle: list[tuple[float, float]] = field(default_factory=list)


def _gather(run: JobRun, nodes: list[str]) -> dict[str, _Node]:
    gathered = {n: _Node() for n in nodes}
    for t in run.tasks:
        node = gathered[t.node_id]
        node.tasks.append(t)
        node.results[t.result] += 1
        node.task_time += t.end - t.start
    for name, node in gathered.items():
        busy = [(t.start, t.end) for t in node.tasks]
        for phase in (run.prep.get(name), run.release.get(name)):
            if phase is not None:
                busy.append((phase.start, phase.end))
        node.idle = _idle(busy)
    return gathered


def render_timeline(
    run: JobRun,
    *,
    job_id: str,
    window: Window | None = None,
    task_href: Callable[[str], str] | None = None,
    zoom_href: Callable[[float, float], str] | None = None,
    max_bars: int = MAX_BARS,
    buckets: int = BUCKETS,
) -> str:
    """The timeline figure (zoom links, SVG with title/desc, a per-node table) as safe HTML."""
    nodes = run.nodes
    if not nodes:
        return '<p class="empty" id="timeline-empty">Nothing of this job has run on a node yet.</p>'
    t0, t_last = run.span
    full = (0.0, max(t_last - t0, 0.001))
    a, b = window or full
    lo, hi = t0 + a, t0 + b
    scale = PLOT_W / (b - a)

    def x(rel: float) -> float:
        return PLOT_X + (min(max(rel, a), b) - a) * scale

    gathered = _gather(run, nodes)
    shown = {n: [t for t in g.tasks if t.end >= lo and t.start <= hi] for n, g in gathered.items()}
    visible = sum(len(v) for v in shown.values())
    aggregated = visible > max_bars

    rows: list[str] = []
    labels: list[str] = []
    y = AXIS_H
    for node in nodes:
        if aggregated:
            height = 2 * LANE_H
            body = _busy_strip(node, shown[node], lo, hi, y, height, buckets, t0)
        else:
            bars = sorted(shown[node], key=lambda t: (t.start, t.end))
            lanes, count = _lanes(bars)
            height = count * LANE_H
            body = _bars(node, bars, lanes, y, x, t0, task_href)
        row = [
            f'<g class="tl-node" data-node="{e(node)}">',
            f'<rect class="tl-row" x="{PLOT_X}" y="{y:.1f}" width="{PLOT_W}" height="{height:.1f}"></rect>',
        ]
        if not aggregated:
            for g0, g1 in gathered[node].idle:
                x0, x1 = x(g0 - t0), x(g1 - t0)
                if x1 - x0 > 0.05:
                    row.append(
                        f'<rect class="tl-idle" x="{x0:.2f}" y="{y:.1f}" width="{x1 - x0:.2f}" height="{height:.1f}">'
                        f"<title>{e(node)} idle for {span_text(g1 - g0)}</title></rect>"
                    )
        row.append(body)
        for name, cls, phase in (
            ("Job preparation task", "tl-prep", run.prep.get(node)),
            ("Job release task", "tl-release", run.release.get(node)),
        ):
            if phase is None or phase.end < lo or phase.start > hi:
                continue
            x0, x1 = x(phase.start - t0), x(phase.end - t0)
            row.append(
                f'<rect class="tl-bar {cls} r-{phase.result}" data-node="{e(node)}" '
                f'data-start="{phase.start - t0:.3f}" data-end="{phase.end - t0:.3f}" x="{x0:.2f}" y="{y:.1f}" '
                f'width="{max(x1 - x0, 0.6):.2f}" height="{height:.1f}">'
                f"<title>{e(_phase_title(name, node, phase, t0))}</title></rect>"
            )
        row.append("</g>")
        rows.append("".join(row))
        labels.append(
            f'<text class="tl-label" x="{LABEL_W}" y="{y + min(height, 2 * LANE_H) / 2 + 4:.1f}" '
            f'text-anchor="end">{e(node if len(node) <= 22 else node[:10] + "…" + node[-10:])}</text>'
        )
        y += height + ROW_GAP
    bottom = y
    height = bottom + LEGEND_H
    legend = _legend(bottom + 14, aggregated)
    ticks = _ticks(a, b, lambda rel: PLOT_X + (rel - a) * scale, AXIS_H, bottom - ROW_GAP)
    desc = _description(run, gathered, visible, aggregated, max_bars, full)
    title = f"Timeline of job {job_id}"
    svg = (
        f'<svg class="timeline{" aggregated" if aggregated else ""}" viewBox="0 0 {WIDTH:.0f} {height:.1f}" '
        f'width="100%" role="group" aria-labelledby="tl-title tl-desc" data-mode="{"buckets" if aggregated else "bars"}">'
        f'<title id="tl-title">{e(title)}</title><desc id="tl-desc">{e(desc)}</desc>'
        + "".join(ticks)
        + "".join(labels)
        + "".join(rows)
        + legend
        + "</svg>"
    )
    started = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    controls = zoom_links(full, (a, b), zoom_href) if zoom_href else ""
    return (
        f'<figure class="timeline-figure">{controls}{svg}'
        f'<figcaption class="note">First start {e(started)}. {e(desc)}</figcaption></figure>'
        + _table(run, gathered, t0)
    )


def _bars(
    node: str,
    tasks: list[TaskRun],
    lanes: list[int],
    y: float,
    x: Callable[[float], float],
    t0: float,
    task_href: Callable[[str], str] | None,
) -> str:
    out = []
    for t, lane in zip(tasks, lanes, strict=True):
        x0, x1 = x(t.start - t0), x(t.end - t0)
        top = y + lane * LANE_H + 1
        retried = " retried" if t.retry_count else ""
        title = e(_task_title(t, t0))
        rect = (
            f'<rect class="tl-bar tl-task r-{t.result}{retried}" data-task="{e(t.task_id)}" data-node="{e(node)}" '
            f'data-start="{t.start - t0:.3f}" data-end="{t.end - t0:.3f}" data-retries="{t.retry_count}" '
            f'x="{x0:.2f}" y="{top:.1f}" width="{max(x1 - x0, 0.6):.2f}" height="{LANE_H - 2:.1f}">'
            f"<title>{title}</title></rect>"
        )
        if task_href is not None:
            rect = f'<a href="{e(task_href(t.task_id))}" aria-label="{title}">{rect}</a>'
        out.append(rect)
        if t.retry_count and t.last_retry is not None and t.last_retry <= t.start:
            rx = x(t.last_retry - t0)
            out.append(
                f'<line class="tl-retry" data-task="{e(t.task_id)}" x1="{rx:.2f}" x2="{rx:.2f}" y1="{top:.1f}" '
                f'y2="{top + LANE_H - 2:.1f}"><title>Task {e(t.task_id)}: retried {t.retry_count}×; an '
                f"earlier attempt ended here</title></line>"
            )
    return "".join(out)


def _busy_strip(
    node: str, tasks: list[TaskRun], lo: float, hi: float, y: float, height: float, buckets: int, t0: float
) -> str:
    """Per-bucket busy time (a difference array keeps it O(tasks + buckets)), ends and failures."""
    width = (hi - lo) / buckets
    busy = [0.0] * (buckets + 1)
    full = [0] * (buckets + 1)  # +1 / -1 marks of whole buckets covered
    ended = [0] * buckets
    failed = [0] * buckets
    last = buckets - 1
    for t in tasks:  # the hot loop at 100,000 tasks: locals only, no calls
        s, f = t.start, t.end
        fs = ((s if s > lo else lo) - lo) / width
        fe = ((f if f < hi else hi) - lo) / width
        i, j = int(fs), int(fe)
        if i > last:
            i = last
        if j > last:
            j = last
        if i == j:
            busy[i] += (fe - fs) * width
        else:
            busy[i] += (i + 1 - fs) * width
            busy[j] += (fe - j) * width
            full[i + 1] += 1
            full[j] -= 1
        if t.result != RUNNING and lo <= f <= hi:
            k = j - 1 if j and fe == j else j  # an end on a boundary belongs to the bucket it closes
            ended[k] += 1
            if t.result == FAILED:
                failed[k] += 1
    running = 0
    for k in range(buckets):
        running += full[k]
        busy[k] += running * width
    concurrency = max(1, math.ceil(max(busy[:buckets]) / width - 1e-6))
    levels = [
        0 if v <= 0 else min(LEVELS, 1 + int(v / (width * concurrency) * LEVELS)) for v in busy[:buckets]
    ]
    out = []
    k = 0
    step = PLOT_W / buckets
    while k < buckets:
        m = k
        while m + 1 < buckets and levels[m + 1] == levels[k]:
            m += 1
        if levels[k]:
            share = sum(busy[k : m + 1]) / (width * concurrency * (m + 1 - k))
            title = (
                f"{node}, +{span_text(lo - t0 + k * width)} to +{span_text(lo - t0 + (m + 1) * width)}: "
                f"{share:.0%} of {concurrency} concurrent task slot(s) busy, {sum(ended[k : m + 1])} tasks ended, "
                f"{sum(failed[k : m + 1])} failed"
            )
            out.append(
                f'<rect class="tl-busy l{levels[k]}" x="{PLOT_X + k * step:.2f}" y="{y:.1f}" '
                f'width="{(m + 1 - k) * step:.2f}" height="{height - 4:.1f}"><title>{e(title)}</title></rect>'
            )
        k = m + 1
    for k in range(buckets):
        if failed[k]:
            out.append(
                f'<rect class="tl-failmark" x="{PLOT_X + k * step:.2f}" y="{y + height - 4:.1f}" '
                f'width="{step:.2f}" height="4"><title>{failed[k]} failed</title></rect>'
            )
    return "".join(out)


def _legend(y: float, aggregated: bool) -> str:
    items = [
        ("tl-prep r-succeeded", "job preparation"),
        ("tl-task r-succeeded", "succeeded"),
        ("tl-task r-failed", "failed"),
        ("tl-task r-running", "running"),
        ("tl-release r-succeeded", "job release"),
        ("tl-idle", "idle"),
    ]
    if aggregated:
        items[1:4] = [("tl-busy l5", "busy (darker: more slots in use)"), ("tl-failmark", "a task failed")]
    out = []
    px = PLOT_X
    for cls, label in items:
        out.append(
            f'<rect class="{cls}" x="{px:.1f}" y="{y - 9:.1f}" width="12" height="10"></rect>'
            f'<text class="tl-axis" x="{px + 16:.1f}" y="{y:.1f}">{e(label)}</text>'
        )
        px += 22 + 6.2 * len(label)
    return '<g class="tl-legend" aria-hidden="true">' + "".join(out) + "</g>"


def _description(
    run: JobRun, gathered: dict[str, _Node], visible: int, aggregated: bool, max_bars: int, full: Window
) -> str:
    results = {SUCCEEDED: 0, FAILED: 0, RUNNING: 0}
    for g in gathered.values():
        for k, n in g.results.items():
            results[k] += n
    waiting = run.states.get("active", 0)
    text = (
        f"{len(gathered)} node(s) over {span_text(full[1])}; {len(run.tasks)} task(s) ran "
        f"({results[SUCCEEDED]} succeeded, {results[FAILED]} failed, {results[RUNNING]} running)"
    )
    if waiting:
        text += f", {waiting} waiting"
    if run.prep:
        slowest = max(run.prep.items(), key=lambda kv: kv[1].end - kv[1].start)
        text += (
            f"; the job preparation task ran on {len(run.prep)} node(s), longest "
            f"{span_text(slowest[1].end - slowest[1].start)} on {slowest[0]}"
        )
    if run.release:
        text += f"; the job release task ran on {len(run.release)} node(s)"
    if aggregated:
        text += (
            f". {visible} task bars in this window are more than {max_bars}: each node shows how busy "
            "it was instead; zoom in to see single tasks"
        )
    return text + "."


def _table(run: JobRun, gathered: dict[str, _Node], t0: float) -> str:
    """The text alternative: per node, preparation, tasks by result, busy and idle time, release."""

    def phase(p: Phase | None) -> str:
        if p is None:
            return ""
        return e(f"{p.result}, +{span_text(p.start - t0)}, {span_text(p.end - p.start)}")

    rows = []
    for node, g in gathered.items():
        idle = sum(g1 - g0 for g0, g1 in g.idle)
        rows.append(
            f'<tr data-node="{e(node)}"><td>{e(node)}</td><td>{phase(run.prep.get(node))}</td><td>{len(g.tasks)}</td>'
            f"<td>{g.results[SUCCEEDED]}</td><td>{g.results[FAILED]}</td><td>{g.results[RUNNING]}</td>"
            f"<td>{e(span_text(g.task_time))}</td><td>{e(span_text(idle))}</td>"
            f"<td>{phase(run.release.get(node))}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "Node",
            "Preparation",
            "Tasks",
            "Succeeded",
            "Failed",
            "Running",
            "Task time",
            "Idle",
            "Release",
        )
    )
    return (
        '<details class="tl-table"><summary>The timeline as a table (per node)</summary>'
        f'<table class="timeline-nodes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></details>'
    )
