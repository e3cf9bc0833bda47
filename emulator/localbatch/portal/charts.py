"""The job page's task summaries: a duration histogram (SVG), duration figures, failures by exit code.

Pure functions of `runs.JobRun` returning safe HTML; each picture carries `<title>`/`<desc>` and a
table with the same numbers. Imports: `runs` and `html` (escaping, tables); never the service.
"""

from __future__ import annotations

from collections.abc import Callable

from .html import e, table
from .runs import FAILED, RUNNING, SUCCEEDED, JobRun, TaskRun
from .timeline import span_text

BINS = 20
EXAMPLES = 5
W, H, LEFT, BOTTOM, TOP = 600.0, 180.0, 44.0, 30.0, 10.0


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def duration_histogram(tasks: list[TaskRun], bins: int = BINS) -> str:
    """Completed tasks' durations (latest attempt) in `bins` equal bins, succeeded and failed stacked."""
    done = [t for t in tasks if t.result != RUNNING]
    if not done:
        return '<p class="empty" id="histogram-empty">No task has completed yet.</p>'
    ordered = sorted(t.seconds for t in done)
    top = ordered[-1] if ordered[-1] > 0 else 0.001
    width = top / bins
    ok = [0] * bins
    bad = [0] * bins
    for t in done:
        k = min(bins - 1, int(t.seconds / width))
        (bad if t.result == FAILED else ok)[k] += 1
    peak = max(o + b for o, b in zip(ok, bad, strict=True))
    plot_w, plot_h = W - LEFT - 10, H - BOTTOM - TOP
    step = plot_w / bins
    parts = []
    for k in range(bins):
        x = LEFT + k * step
        base = H - BOTTOM
        label = f"{span_text(k * width)} to {span_text((k + 1) * width)}: {ok[k]} succeeded, {bad[k]} failed"
        for cls, n in (("r-succeeded", ok[k]), ("r-failed", bad[k])):
            if n:
                h = plot_h * n / peak
                base -= h
                parts.append(
                    f'<rect class="hist-bar {cls}" data-bin="{k}" data-count="{n}" x="{x + 1:.1f}" y="{base:.1f}" '
                    f'width="{step - 2:.1f}" height="{h:.1f}"><title>{e(label)}</title></rect>'
                )
    axis = (
        f'<line class="tl-tick" x1="{LEFT}" x2="{W - 10}" y1="{H - BOTTOM}" y2="{H - BOTTOM}"></line>'
        f'<text class="tl-axis" x="{LEFT}" y="{H - BOTTOM + 14}" text-anchor="middle">0</text>'
        f'<text class="tl-axis" x="{LEFT + plot_w / 2:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle">'
        f"{e(span_text(top / 2))}</text>"
        f'<text class="tl-axis" x="{W - 10}" y="{H - BOTTOM + 14}" text-anchor="end">{e(span_text(top))}</text>'
        f'<text class="tl-axis" x="{LEFT + plot_w / 2:.1f}" y="{H - 4}" text-anchor="middle">task duration</text>'
        f'<text class="tl-axis" x="{LEFT - 6}" y="{TOP + 8}" text-anchor="end">{peak}</text>'
        f'<text class="tl-axis" x="{LEFT - 6}" y="{H - BOTTOM}" text-anchor="end">0</text>'
    )
    failed = sum(bad)
    desc = (
        f"{len(done)} completed task(s), {failed} failed; durations from {span_text(ordered[0])} to "
        f"{span_text(ordered[-1])}, median {span_text(_quantile(ordered, 0.5))}, "
        f"95th percentile {span_text(_quantile(ordered, 0.95))}."
    )
    svg = (
        f'<svg class="histogram" viewBox="0 0 {W:.0f} {H:.0f}" width="100%" role="img" '
        f'aria-labelledby="hist-title hist-desc"><title id="hist-title">Task durations</title>'
        f'<desc id="hist-desc">{e(desc)}</desc>{axis}{"".join(parts)}</svg>'
    )
    rows = [
        [e(f"{span_text(k * width)} – {span_text((k + 1) * width)}"), e(ok[k]), e(bad[k])]
        for k in range(bins)
        if ok[k] or bad[k]
    ]
    stats = (
        '<dl class="props duration-stats">'
        + "".join(
            f"<dt>{label}</dt><dd>{e(span_text(value))}</dd>"
            for label, value in (
                ("Shortest", ordered[0]),
                ("Median", _quantile(ordered, 0.5)),
                ("95th percentile", _quantile(ordered, 0.95)),
                ("Longest", ordered[-1]),
            )
        )
        + "</dl>"
    )
    return (
        f'<figure class="histogram-figure">{svg}<figcaption class="note">{e(desc)}</figcaption></figure>{stats}'
        '<details class="hist-table"><summary>Durations as a table</summary>'
        + table(["Duration", "Succeeded", "Failed"], rows, cls="histogram-bins")
        + "</details>"
    )


def failures_by_exit_code(tasks: list[TaskRun], task_href: Callable[[str], str] | None = None) -> str:
    """Failed tasks grouped by exit code and failure code, most frequent first, with example tasks."""
    groups: dict[tuple[str, str], list[str]] = {}
    for t in tasks:
        if t.result == FAILED:
            code = "" if t.exit_code is None else str(t.exit_code)
            groups.setdefault((code, t.failure), []).append(t.task_id)
    if not groups:
        return '<p class="empty" id="no-failures">No task failed.</p>'
    rows = []
    for (code, failure), ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        examples = ", ".join(
            f'<a href="{e(task_href(i))}">{e(i)}</a>' if task_href else e(i) for i in ids[:EXAMPLES]
        ) + (f' <span class="note">and {len(ids) - EXAMPLES} more</span>' if len(ids) > EXAMPLES else "")
        rows.append([e(code or "none"), e(failure), e(len(ids)), examples])
    return table(["Exit code", "Failure", "Tasks", "For example"], rows, cls="failures-by-exit-code")


def render_summaries(run: JobRun, task_href: Callable[[str], str] | None = None) -> str:
    """The job page's summaries: task states, the duration histogram, failures by exit code."""
    results = {SUCCEEDED: 0, FAILED: 0, RUNNING: 0}
    for t in run.tasks:
        results[t.result] += 1
    states = " · ".join(f"{e(state)} {n}" for state, n in sorted(run.states.items())) or "no tasks"
    return (
        f'<p class="task-states">Task states: {states}. Results: {results[SUCCEEDED]} succeeded, '
        f"{results[FAILED]} failed, {results[RUNNING]} running.</p>"
        "<h3>Task durations</h3>"
        + duration_histogram(run.tasks)
        + "<h3>Failures by exit code</h3>"
        + failures_by_exit_code(run.tasks, task_href)
    )
