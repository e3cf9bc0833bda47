"""Read-only access to a node's files for the portal: resolve a path safely, list a folder, read a file.

Everything a task wrote is untrusted. Paths are opened through `safefs`, component by component
under the node root's descriptor, and anything that could leave it (absolute paths, `..`, any
symlink on the way, even one swapped in while the request runs) is refused. Files are never served as
HTML: text is sent as `text/plain`, anything else as an attachment, with a sandboxing CSP, so a task
cannot plant a page that runs script on the portal's origin.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from .. import safefs

MAX_FILE_BYTES = 16 * 1024 * 1024  # larger files are cut, with a note; the Batch API serves ranges


PathRefused = safefs.PathRefused


def is_dir(root: Path, rel: str) -> bool:
    """Whether `rel` below `root` is a folder (FileNotFoundError when missing, PathRefused on a link)."""
    return stat.S_ISDIR(safefs.lstat(root, rel).st_mode)


@dataclass
class Entry:
    """One listing row: name relative to the listed folder, whether it is a folder, size, mtime."""

    name: str
    is_dir: bool
    size: int
    mtime: float


def list_dir(root: Path, rel: str) -> list[Entry]:
    """Folders first, then files, each sorted by name; entries that vanish while listing are skipped."""
    entries = [
        Entry(item.name, item.is_dir, item.stat.st_size, item.stat.st_mtime)
        for item in safefs.list_dir(root, rel)
    ]
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


def read(root: Path, rel: str) -> tuple[bytes, int | None]:
    """The file's bytes (at most `MAX_FILE_BYTES`) and its full size when it was cut, else None."""
    data, st = safefs.read(root, rel, 0, MAX_FILE_BYTES)
    return data, (st.st_size if st.st_size > MAX_FILE_BYTES else None)
