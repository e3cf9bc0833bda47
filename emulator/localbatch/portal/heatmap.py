"""A pool's heat map: every node as a tile coloured by its state, with its task slots in use.

Like Batch Explorer's node heat map. Pure functions of `runs.NodeTile` lists: `render_heatmap` draws
the SVG (each tile a link to the node's files, so it is keyboard reachable, with a `<title>`), a
summary line and a table with the same facts; `heatmap_document` is the JSON the page's script polls
to recolour the tiles live. Imports: `runs` and `html`; never the service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from .html import e
from .runs import NodeTile

TILE, GAP, COLUMNS, MAX_PIPS = 44.0, 6.0, 16, 8
# Azure Batch's node states, in the order the legend lists them.
STATES = (
    "idle",
    "running",
    "creating",
    "starting",
    "waitingforstarttask",
    "rebooting",
    "reimaging",
    "preempted",
    "leavingpool",
    "offline",
    "deallocating",
    "deallocated",
    "upgradingos",
    "starttaskfailed",
    "unusable",
    "unknown",
)


def state_class(state: str) -> str:
    """The CSS class of a state word (letters and digits only, so user text never reaches a class)."""
    word = "".join(ch for ch in state.lower() if ch.isalnum())
    return f"st-{word if word in STATES else 'unknown'}"


def tile_title(tile: NodeTile) -> str:
    text = f"{tile.node_id}: {tile.state}, {tile.slots_used} of {tile.slots} task slot(s) in use"
    return text + ("" if tile.scheduling == "enabled" else f", scheduling {tile.scheduling}")


def summary(tiles: list[NodeTile]) -> str:
    """`4 nodes: 2 idle, 2 running; 3 of 8 task slots in use` (plain text)."""
    if not tiles:
        return "No nodes."
    counts = Counter(t.state for t in tiles)
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    used, total = sum(t.slots_used for t in tiles), sum(t.slots for t in tiles)
    return f"{len(tiles)} node(s): {states}; {used} of {total} task slots in use."


def heatmap_document(pool_id: str, tiles: list[NodeTile]) -> dict[str, Any]:
    """What the page's script fetches: per node its state, class and slots, and the summary line."""
    return {
        "poolId": pool_id,
        "summary": summary(tiles),
        "nodes": [
            {
                "id": t.node_id,
                "state": t.state,
                "class": state_class(t.state),
                "slotsUsed": t.slots_used,
                "slots": t.slots,
                "title": tile_title(t),
            }
            for t in tiles
        ],
    }


def render_heatmap(
    pool_id: str, tiles: list[NodeTile], *, json_href: str = "", node_href: Callable[[str], str] | None = None
) -> str:
    """The heat map figure (SVG tiles, legend, summary, table) as safe HTML; `json_href` turns on the
    live refresh (the page's script polls it)."""
    if not tiles:
        return '<p class="empty heatmap-empty">This pool has no nodes.</p>'
    columns = min(COLUMNS, len(tiles))
    rows = (len(tiles) + columns - 1) // columns
    width, height = columns * (TILE + GAP) + GAP, rows * (TILE + GAP) + GAP
    parts = []
    for i, t in enumerate(tiles):
        x = GAP + (i % columns) * (TILE + GAP)
        y = GAP + (i // columns) * (TILE + GAP)
        shown_pips = min(t.slots, MAX_PIPS)
        pip_w = (TILE - 8) / shown_pips
        used_pips = min(shown_pips, round(t.slots_used * shown_pips / t.slots))
        pips = "".join(
            f'<rect class="hm-pip{" used" if k < used_pips else ""}" x="{x + 4 + k * pip_w:.1f}" y="{y + TILE - 9:.1f}" '
            f'width="{max(pip_w - 1.5, 1):.1f}" height="5"></rect>'
            for k in range(shown_pips)
        )
        title = e(tile_title(t))
        tile = (
            f'<g class="hm-tile {state_class(t.state)}" data-node="{e(t.node_id)}" data-state="{e(t.state)}" '
            f'data-slots-used="{t.slots_used}"><title>{title}</title>'
            f'<rect class="hm-bg" x="{x:.1f}" y="{y:.1f}" width="{TILE}" height="{TILE}" rx="4"></rect>'
            f'<text class="hm-slots" x="{x + TILE / 2:.1f}" y="{y + 20:.1f}" text-anchor="middle">'
            f"{t.slots_used}/{t.slots}</text>{pips}</g>"
        )
        if node_href is not None:
            tile = f'<a href="{e(node_href(t.node_id))}" aria-label="{title}">{tile}</a>'
        parts.append(tile)
    text = summary(tiles)
    svg = (
        f'<svg class="heatmap" viewBox="0 0 {width:.0f} {height:.0f}" width="{width * 1.4:.0f}" role="group" '
        f'aria-labelledby="hm-title-{e(pool_id)} hm-desc-{e(pool_id)}">'
        f'<title id="hm-title-{e(pool_id)}">Node heat map of pool {e(pool_id)}</title>'
        f'<desc id="hm-desc-{e(pool_id)}" class="hm-desc">{e(text)}</desc>{"".join(parts)}</svg>'
    )
    present = {state_class(t.state) for t in tiles}
    legend = "".join(
        f'<li><span class="hm-swatch {state_class(s)}"></span>{e(s)}</li>'
        for s in STATES
        if state_class(s) in present or s in ("idle", "running")
    )
    table_rows = "".join(
        f'<tr data-node="{e(t.node_id)}"><td>{e(t.node_id)}</td><td class="hm-state">{e(t.state)}</td>'
        f'<td class="hm-used">{t.slots_used} of {t.slots}</td></tr>'
        for t in tiles
    )
    live = f' data-src="{e(json_href)}"' if json_href else ""
    return (
        f'<figure class="heatmap-figure" data-pool="{e(pool_id)}"{live}>{svg}'
        f'<figcaption><span class="hm-summary" aria-live="polite">{e(text)}</span>'
        f'<ul class="hm-legend" aria-hidden="true">{legend}</ul></figcaption></figure>'
        '<details class="hm-table"><summary>Node states as a table</summary>'
        '<table class="heatmap-nodes"><thead><tr><th>Node</th><th>State</th><th>Task slots in use</th></tr></thead>'
        f"<tbody>{table_rows}</tbody></table></details>"
    )
