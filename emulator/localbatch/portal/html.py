"""HTML building blocks of the portal: escaping, links, the page layout, the stylesheet and the script.

Pages are plain server-rendered HTML built from f-strings. The rule that keeps them safe is simple:
every value that comes from a user (ids, command lines, metadata, file and blob names, failure
messages) goes through `e()` (text) or `href()` (URLs) at the point where it is written; functions here
return strings that are already safe HTML. The stylesheet and the script are served from
`/portal/static/` so the pages can carry a Content-Security-Policy with no inline script or style.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import quote

from ..exceptions import redact_sas
from ..wire import parse_iso

PREFIX = "/portal"


# A SAS signature in anything shown (job metadata, environment values, resource file URLs): the
# portal shows that a SAS is there, never the signature, as the Azure portal hides secrets.
_SAS_SIGNATURE = re.compile(r"(?i)(\bsig=)[^&\s'\"<>]+")


def e(value: object) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too); None is empty.

    SAS signatures are shown as ``sig=REDACTED``.
    """
    return "" if value is None else html.escape(_SAS_SIGNATURE.sub(r"\1REDACTED", str(value)), quote=True)


def url(*segments: str) -> str:
    """A portal URL from path segments, each percent-encoded on its own (ids may hold any character)."""
    return PREFIX + "/" + "/".join(quote(s, safe="") for s in segments)


def file_url(pool_id: str, node_id: str, path: str = "") -> str:
    """The portal's read-only node-file route; `path` keeps its `/` separators."""
    base = url("files", pool_id, node_id)
    return f"{base}/{quote(path.strip('/'), safe='/')}" if path.strip("/") else base + "/"


def link(target: str, text: object, cls: str = "") -> str:
    """An `<a>` whose text is escaped; `target` is a URL built by `url()` / `file_url()`."""
    attr = f' class="{e(cls)}"' if cls else ""
    return f'<a href="{e(target)}"{attr}>{e(text)}</a>'


def code(value: object) -> str:
    # Command lines and URLs shown as code may carry a SAS: the portal never shows its signature.
    return f"<code>{e(redact_sas(str(value)) if isinstance(value, str) else value)}</code>"


def pill(state: object) -> str:
    """A coloured state badge; the CSS class is derived from a known word, the text is escaped."""
    word = str(state or "unknown")
    cls = "".join(ch for ch in word.lower() if ch.isalnum())
    return f'<span class="pill s-{cls}">{e(word)}</span>'


def when(value: object) -> str:
    """An ISO 8601 time from a Batch document as `YYYY-MM-DD HH:MM:SS` UTC (empty when unset)."""
    if not value:
        return ""
    try:
        dt = parse_iso(str(value))
    except (TypeError, ValueError):
        return e(value)
    return f'<time datetime="{e(value)}">{dt.strftime("%Y-%m-%d %H:%M:%S")}</time>'


def duration(start: object, end: object) -> str:
    """Elapsed time between two ISO times (`1.23 s`, `4m 05s`, `2h 03m`), or empty."""
    if not start or not end:
        return ""
    try:
        seconds = (parse_iso(str(end)) - parse_iso(str(start))).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size(n: object) -> str:
    try:
        value = float(str(n))
    except ValueError:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "", empty: str = "Nothing here yet."
) -> str:
    """A table; `headers` are plain text (escaped here), cells are safe HTML already."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    attr = f' class="{e(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metadata_list(items: object) -> str:
    """A Batch ``metadata`` list (name/value items) as lines of code, values' SAS signatures redacted."""
    if not isinstance(items, list):
        return ""
    return "".join(
        f"<div>{code(m.get('name'))} = {code(m.get('value'))}</div>" for m in items if isinstance(m, dict)
    )


def props(items: Iterable[tuple[str, str]]) -> str:
    """A definition list of (plain-text label, safe HTML value) pairs, skipping empty values."""
    body = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in items if v not in ("", None))
    return f'<dl class="props">{body}</dl>'


def failure(info: object) -> str:
    """A task's `failureInfo` (category, code, message and details), or empty."""
    if not isinstance(info, dict) or not info:
        return ""
    head = " · ".join(e(info[k]) for k in ("category", "code") if info.get(k))
    details = "".join(
        f"<li>{e(d.get('name'))}: {e(d.get('value'))}</li>"
        for d in info.get("details") or []
        if isinstance(d, dict)
    )
    message = f'<div class="msg">{e(info.get("message"))}</div>' if info.get("message") else ""
    listed = f"<ul>{details}</ul>" if details else ""
    return f'<div class="failure"><strong>{head}</strong>{message}{listed}</div>'


def page(
    title: str, body: str, *, crumbs: Sequence[tuple[str, str]] = (), refresh: bool = False, account: str = ""
) -> str:
    """The whole document. `crumbs` are (url, plain text) pairs; `refresh` turns on the auto-refresh."""
    trail = " / ".join([link(url(""), "Home")] + [link(u, t) for u, t in crumbs])
    refresh_attr = ' data-refresh-seconds="2"' if refresh else ""
    stamp = datetime.now().strftime("%H:%M:%S")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · localbatch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{PREFIX}/static/portal.css">
<script src="{PREFIX}/static/portal.js" defer></script>
</head>
<body{refresh_attr}>
<header class="top"><span class="brand">localbatch</span><span class="account">Batch account {e(account)}</span>
<span class="refresh" id="refresh-status" data-stamp="{stamp}">updated {stamp}</span></header>
<nav class="crumbs">{trail}</nav>
<main>
<h1>{e(title)}</h1>
{body}
</main>
</body>
</html>
"""


def tabs(items: Sequence[tuple[str, str]], current: str) -> str:
    """The job page's left-hand navigation, like the Azure portal's: (url, label) pairs."""
    out = []
    for target, label in items:
        cls = ' class="current" aria-current="page"' if label == current else ""
        out.append(f'<a href="{e(target)}"{cls}>{e(label)}</a>')
    return '<nav class="tabs">' + "".join(out) + "</nav>"


CSS = """
:root { --fg:#1b1b1b; --muted:#666; --line:#dcdcdc; --bg:#f6f7f9; --accent:#0f6cbd; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; gap:1.2em; align-items:baseline; padding:.6em 1.2em; background:#1f2937; color:#fff; }
header.top .brand { font-weight:700; letter-spacing:.02em; }
header.top .account { color:#cbd5e1; }
span.tracked { font-size:11px; background:#dbeafe; color:#1e3a8a; border-radius:3px; padding:0 4px; }
header.top .refresh { margin-left:auto; color:#cbd5e1; font-size:12px; }
header.top label { color:#cbd5e1; font-size:12px; }
nav.crumbs { padding:.5em 1.2em; background:#fff; border-bottom:1px solid var(--line); }
main { padding:1em 1.2em 3em; }
h1 { font-size:20px; margin:.2em 0 .6em; word-break:break-all; }
h2 { font-size:16px; margin:1.4em 0 .5em; }
h3 { font-size:14px; margin:1em 0 .4em; }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
code { overflow-wrap:anywhere; }
pre { background:#fff; border:1px solid var(--line); padding:.8em; overflow:auto; white-space:pre-wrap; overflow-wrap:anywhere; }
table { border-collapse:collapse; background:#fff; width:100%; margin:.4em 0 1em; }
th, td { border:1px solid var(--line); padding:.35em .6em; text-align:left; vertical-align:top; }
th { background:#eef1f5; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; }
.empty, .note { color:var(--muted); font-weight:normal; }
time { white-space:nowrap; }
td a.node-id { display:inline-block; min-width:16em; word-break:break-all; }
table.blobs { table-layout:fixed; }
table.blobs th:nth-child(2) { width:8em; } table.blobs th:nth-child(3) { width:13em; }
table.blobs td:first-child { overflow-wrap:anywhere; }
.warn { background:#fff4ce; border:1px solid #f0d77b; padding:.6em .8em; }
.pill { display:inline-block; padding:0 .55em; border-radius:999px; font-size:12px; background:#e5e7eb; white-space:nowrap; }
.s-idle, .s-completed, .s-success, .s-steady, .s-active.job { background:#dcfce7; color:#14532d; }
.s-running, .s-preparing, .s-active { background:#dbeafe; color:#1e3a8a; }
.s-starting, .s-waitingforstarttask, .s-terminating, .s-deleting, .s-disabling, .s-enabling, .s-resizing,
.s-rebooting, .s-reimaging, .s-creating, .s-leavingpool { background:#fef3c7; color:#78350f; }
.s-failure, .s-starttaskfailed, .s-unusable, .s-unknown, .s-failed { background:#fee2e2; color:#7f1d1d; }
.s-offline, .s-disabled, .s-notrunyet { background:#e5e7eb; color:#374151; }
.layout { display:flex; gap:1.2em; align-items:flex-start; }
nav.tabs { display:flex; flex-direction:column; min-width:170px; background:#fff; border:1px solid var(--line); }
nav.tabs a { padding:.5em .8em; border-left:3px solid transparent; color:var(--fg); }
nav.tabs a.current { border-left-color:var(--accent); background:#eef4fb; font-weight:600; }
.content { flex:1; min-width:0; }
dl.props { display:grid; grid-template-columns:max-content 1fr; gap:.25em 1em; background:#fff; border:1px solid var(--line); padding:.7em .9em; margin:.4em 0 1em; }
dl.props dt { color:var(--muted); }
dl.props dd { margin:0; min-width:0; }
.counts { display:flex; gap:.6em; flex-wrap:wrap; margin:.4em 0 .6em; }
.count { background:#fff; border:1px solid var(--line); padding:.4em .8em; min-width:7em; }
.count b { display:block; font-size:20px; }
svg.bar { display:block; width:100%; max-width:600px; height:8px; background:#e5e7eb; border-radius:4px; margin-bottom:1em; }
.bar .b-succeeded { fill:#16a34a; } .bar .b-failed { fill:#dc2626; }
.bar .b-running { fill:#2563eb; } .bar .b-active { fill:#94a3b8; }
.failure { color:#7f1d1d; }
.failure .msg { color:var(--fg); }
.failure ul { margin:.2em 0 0 1.2em; padding:0; }
.files a { white-space:nowrap; margin-right:.3em; }
.group { background:#fff; border:1px solid var(--line); padding:.2em .9em .6em; margin-bottom:.8em; }
"""

JS = """
// Reload the page every few seconds while something is still happening (the server marks the body
// with data-refresh-seconds); a checkbox in the header pauses it, remembered per browser.
(function () {
  var seconds = parseFloat(document.body.getAttribute("data-refresh-seconds") || "0");
  if (!seconds) { return; }
  var key = "localbatch.portal.autorefresh";
  var status = document.getElementById("refresh-status");
  var box = document.createElement("input");
  box.type = "checkbox";
  box.id = "autorefresh";
  box.checked = window.localStorage.getItem(key) !== "off";
  var label = document.createElement("label");
  label.appendChild(box);
  label.appendChild(document.createTextNode(" auto-refresh"));
  if (status) { status.parentNode.insertBefore(label, status.nextSibling); }
  box.addEventListener("change", function () {
    window.localStorage.setItem(key, box.checked ? "on" : "off");
    if (box.checked) { window.location.reload(); }
  });
  window.setTimeout(function () { if (box.checked) { window.location.reload(); } }, seconds * 1000);
})();
"""
