"""Read-only access to a node's files for the portal: resolve a path safely, list a folder, read a file.

Everything a task wrote is untrusted. Paths are resolved inside the node root and anything that
escapes it (absolute paths, `..`, symlinks pointing outside) is refused. Files are never served as
HTML: text is sent as `text/plain`, anything else as an attachment, with a sandboxing CSP, so a task
cannot plant a page that runs script on the portal's origin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 16 * 1024 * 1024  # larger files are cut, with a note; the Batch API serves ranges


class PathRefused(ValueError):
    """The requested path is not inside the node root."""


def resolve(root: Path, rel: str) -> Path:
    """`rel` (with `/` separators) inside `root`, or `PathRefused` if it escapes the root."""
    text = rel.replace("\\", "/")
    if text.startswith("/") or "\x00" in text or any(part == ".." for part in text.split("/")):
        raise PathRefused(rel)
    base = root.resolve()
    target = (base / text.strip("/")).resolve()
    if target != base and not target.is_relative_to(base):
        raise PathRefused(rel)  # a symlink that points out of the node
    return target


@dataclass
class Entry:
    """One listing row: name relative to the listed folder, whether it is a folder, size, mtime."""

    name: str
    is_dir: bool
    size: int
    mtime: float


def list_dir(path: Path) -> list[Entry]:
    """Folders first, then files, each sorted by name; entries that vanish while listing are skipped."""
    entries = []
    with os.scandir(path) as it:
        for item in it:
            try:
                st = item.stat(follow_symlinks=False)
                entries.append(Entry(item.name, item.is_dir(follow_symlinks=False), st.st_size, st.st_mtime))
            except OSError:
                continue
    return sorted(entries, key=lambda x: (not x.is_dir, x.name))


def file_response(data: bytes, name: str, truncated_from: int | None = None) -> tuple[dict[str, str], bytes]:
    """Headers and body for a file: text/plain when it decodes as UTF-8, else a download."""
    headers = {
        "Cache-Control": "no-store",
        # A sandboxed document may not run script or reach the portal, whatever the file holds.
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    try:
        data.decode("utf-8")
        is_text = True
    except UnicodeDecodeError:
        # A cut may split a multi-byte character; that alone does not make a file binary.
        is_text = truncated_from is not None and _decodes_after_trim(data)
    if is_text:
        headers["Content-Type"] = "text/plain; charset=utf-8"
        if truncated_from is not None:
            data += f"\n\n[localbatch portal: cut at {len(data)} of {truncated_from} bytes]\n".encode()
    else:
        headers["Content-Type"] = "application/octet-stream"
        safe = "".join(ch for ch in name if ch.isalnum() or ch in "._-") or "file"
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return headers, data


def _decodes_after_trim(data: bytes) -> bool:
    for cut in range(1, 4):
        try:
            data[:-cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def read(path: Path) -> tuple[bytes, int | None]:
    """The file's bytes (at most `MAX_FILE_BYTES`) and its full size when it was cut, else None."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES)
    return data, (size if size > MAX_FILE_BYTES else None)
