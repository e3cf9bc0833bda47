"""The glue between the service and the portal's pictures: read, translate (`runs`), render.

Pages call these functions with the documents they read from the service (`list_tasks`,
`list_preparation_and_release_status`, `get_pool`, `list_nodes`); only the heat map's JSON reads the
service itself (`get_pool`, `list_nodes`). They hand plain data to the pure renderers in `timeline.py`, `charts.py` and `heatmap.py`. This module also owns
the stylesheet and script the pictures add to `/portal/static/`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..service import BatchService
from . import charts, heatmap, runs, timeline
from .html import file_url, url

Doc = dict[str, Any]
#: The task properties `runs.job_run` reads: what pages ask the service to copy for the pictures.
RUN_FIELDS = runs.TASK_FIELDS


def _number(query: Mapping[str, str], name: str) -> float | None:
    try:
        return float(query[name])
    except (KeyError, ValueError):
        return None


def job_timeline(
    job_id: str, tasks: Iterable[Doc], prep_records: list[Doc] | None, query: Mapping[str, str]
) -> str:
    """The job's Timeline view from its tasks and preparation/release records (None: the job has
    neither task); `from`/`to` (seconds after the run's first start) pick the window."""
    run = runs.job_run(tasks, prep_records, time.time())
    full = timeline.full_window(run)
    window = timeline.clamp_window(full, _number(query, "from"), _number(query, "to"))
    base = url("jobs", job_id, "timeline")
    return timeline.render_timeline(
        run,
        job_id=job_id,
        window=window,
        task_href=lambda task_id: url("jobs", job_id, "tasks", task_id),
        zoom_href=lambda a, b: f"{base}?from={a:.3f}&to={b:.3f}",
    )


def job_summaries(job_id: str, tasks: Iterable[Doc]) -> str:
    """Task states, the duration histogram and failures by exit code, from the tasks the page listed."""
    run = runs.job_run(tasks, None, time.time())
    return charts.render_summaries(run, task_href=lambda task_id: url("jobs", job_id, "tasks", task_id))


def _tiles(pool: Doc, nodes: list[Doc]) -> list[runs.NodeTile]:
    return runs.node_tiles(nodes, int(pool.get("taskSlotsPerNode") or 1))


def pool_heatmap(pool: Doc, nodes: list[Doc]) -> str:
    """The heat map of a pool whose document and nodes the page already read."""
    pool_id = pool["id"]
    return heatmap.render_heatmap(
        pool_id,
        _tiles(pool, nodes),
        json_href=url("pools", pool_id, "heatmap.json"),
        node_href=lambda node_id: file_url(pool_id, node_id),
    )


def heatmap_json(service: BatchService, pool_id: str) -> bytes:
    """`/portal/pools/<poolId>/heatmap.json` (raises `BatchError` 404 for an unknown pool)."""
    pool = service.get_pool(pool_id)
    document = heatmap.heatmap_document(pool["id"], _tiles(pool, service.list_nodes(pool_id)))
    return json.dumps(document).encode()


CSS = """
svg.timeline, svg.histogram { display:block; background:#fff; border:1px solid var(--line); max-width:1200px; }
svg.histogram { max-width:640px; }
figure { margin:.4em 0 1em; }
figcaption { margin-top:.3em; }
.tl-axis { font-size:9px; fill:#555; }
.tl-label { font-size:10px; fill:var(--fg); font-family:ui-monospace, Menlo, Consolas, monospace; }
.tl-tick { stroke:#e5e7eb; stroke-width:.6; }
.tl-row { fill:#f8fafc; }
.tl-idle { fill:#fde68a; fill-opacity:.45; }
.tl-bar { stroke:#fff; stroke-width:.4; }
.r-succeeded { fill:#16a34a; } .r-failed { fill:#dc2626; } .r-running { fill:#2563eb; }
/* after the result colours, and more specific: a phase keeps its own colour unless it failed */
.tl-prep, .tl-prep.r-succeeded, .tl-prep.r-running { fill:#7c3aed; }
.tl-release, .tl-release.r-succeeded, .tl-release.r-running { fill:#0891b2; }
.tl-prep.r-failed, .tl-release.r-failed { fill:#7f1d1d; }
.tl-prep.r-running, .tl-release.r-running { fill-opacity:.55; }
.tl-task.retried { stroke:#111827; stroke-width:.8; stroke-dasharray:2 1; }
.tl-retry { stroke:#7f1d1d; stroke-width:2; }
table.timeline-nodes td:first-child { word-break:break-all; }
.tl-busy { fill:#16a34a; }
.tl-busy.l1 { fill-opacity:.2; } .tl-busy.l2 { fill-opacity:.4; } .tl-busy.l3 { fill-opacity:.6; }
.tl-busy.l4 { fill-opacity:.8; } .tl-busy.l5 { fill-opacity:1; }
.tl-failmark { fill:#dc2626; }
svg a:focus rect, svg a:focus .hm-bg { stroke:#111827; stroke-width:2; }
nav.tl-zoom { display:flex; gap:.5em; align-items:baseline; flex-wrap:wrap; margin:.3em 0; }
nav.tl-zoom a, nav.tl-zoom span.off { border:1px solid var(--line); background:#fff; padding:.15em .6em; border-radius:4px; }
nav.tl-zoom span.off { color:#9ca3af; }
.hist-bar { stroke:#fff; stroke-width:.5; }
svg.heatmap { display:block; max-width:100%; height:auto; }
.hm-bg { fill:#e5e7eb; }
.hm-slots { font-size:11px; font-weight:600; fill:#111827; }
.hm-pip { fill:#fff; fill-opacity:.55; } .hm-pip.used { fill:#111827; fill-opacity:.85; }
.st-idle .hm-bg, .hm-swatch.st-idle { fill:#86efac; background:#86efac; }
.st-running .hm-bg, .hm-swatch.st-running { fill:#60a5fa; background:#60a5fa; }
.st-creating .hm-bg, .st-starting .hm-bg, .st-waitingforstarttask .hm-bg,
.hm-swatch.st-creating, .hm-swatch.st-starting, .hm-swatch.st-waitingforstarttask { fill:#fcd34d; background:#fcd34d; }
.st-rebooting .hm-bg, .st-reimaging .hm-bg, .st-upgradingos .hm-bg,
.hm-swatch.st-rebooting, .hm-swatch.st-reimaging, .hm-swatch.st-upgradingos { fill:#c4b5fd; background:#c4b5fd; }
.st-preempted .hm-bg, .st-deallocating .hm-bg, .st-deallocated .hm-bg,
.hm-swatch.st-preempted, .hm-swatch.st-deallocating, .hm-swatch.st-deallocated { fill:#6b7280; background:#6b7280; }
.st-leavingpool .hm-bg, .st-offline .hm-bg, .hm-swatch.st-leavingpool, .hm-swatch.st-offline { fill:#d1d5db; background:#d1d5db; }
.st-unusable .hm-bg, .st-starttaskfailed .hm-bg, .st-unknown .hm-bg,
.hm-swatch.st-unusable, .hm-swatch.st-starttaskfailed, .hm-swatch.st-unknown { fill:#f87171; background:#f87171; }
ul.hm-legend { list-style:none; display:flex; gap:1em; flex-wrap:wrap; padding:0; margin:.3em 0; font-size:12px; }
.hm-swatch { display:inline-block; width:.9em; height:.9em; border-radius:2px; margin-right:.3em; vertical-align:-1px; }
"""

JS = """
// Recolour the node heat maps every two seconds from their JSON (figure[data-src]); a changed set of
// nodes reloads the page, which draws the new tiles.
(function () {
  var maps = document.querySelectorAll("figure.heatmap-figure[data-src]");
  if (!maps.length) { return; }
  function apply(fig, doc) {
    var tiles = fig.querySelectorAll("g.hm-tile");
    if (tiles.length !== doc.nodes.length) { window.location.reload(); return; }
    var details = fig.nextElementSibling;
    doc.nodes.forEach(function (node, i) {
      var tile = tiles[i];
      if (tile.getAttribute("data-node") !== node.id) { window.location.reload(); return; }
      tile.setAttribute("class", "hm-tile " + node["class"]);
      tile.setAttribute("data-state", node.state);
      tile.setAttribute("data-slots-used", String(node.slotsUsed));
      tile.querySelector("title").textContent = node.title;
      tile.querySelector("text.hm-slots").textContent = node.slotsUsed + "/" + node.slots;
      if (tile.parentNode.tagName.toLowerCase() === "a") { tile.parentNode.setAttribute("aria-label", node.title); }
      var pips = tile.querySelectorAll("rect.hm-pip");
      var used = Math.min(pips.length, Math.round(node.slotsUsed * pips.length / node.slots));
      for (var k = 0; k < pips.length; k++) { pips[k].setAttribute("class", k < used ? "hm-pip used" : "hm-pip"); }
      var row = details && details.querySelectorAll("tbody tr")[i];
      if (row) {
        row.querySelector(".hm-state").textContent = node.state;
        row.querySelector(".hm-used").textContent = node.slotsUsed + " of " + node.slots;
      }
    });
    var summary = fig.querySelector(".hm-summary");
    if (summary && summary.textContent !== doc.summary) { summary.textContent = doc.summary; }
    var desc = fig.querySelector("desc.hm-desc");
    if (desc) { desc.textContent = doc.summary; }
  }
  function poll() {
    maps.forEach(function (fig) {
      fetch(fig.getAttribute("data-src"), { cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (doc) { if (doc) { apply(fig, doc); fig.setAttribute("data-updated", String(Date.now())); } })
        .catch(function () {});
    });
  }
  window.setInterval(poll, 2000);
})();
"""
