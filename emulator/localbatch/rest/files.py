"""Node and task file serving: list, get (with `ocp-range`), HEAD properties and delete of the files
under a node's or task's sandbox directory.

Owns: resolving a requested path inside its root (400 for anything that escapes it), the
`BatchNodeFile` entries of a listing, the file property headers and byte ranges.
May import: `types`, `conditions`, `wire`, `exceptions`. The roots come from the service's public API.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from ..exceptions import BatchError, not_found
from ..wire import Doc, iso
from .conditions import file_not_modified
from .types import Request, Response, http_date


def _resolve(root: Path, file_path: str) -> Path:
    """`file_path` inside `root`; 400 for anything that escapes it (absolute, `..`, symlinks out)."""
    rel = file_path.replace("\\", "/").strip("/")
    if file_path.startswith("/") or any(part == ".." for part in rel.split("/")):
        raise BatchError(
            400,
            "InvalidFilePath",
            "The file path must be relative to the root directory and may not contain '..'.",
            [("FilePath", file_path)],
        )
    root = root.resolve()
    target = (root / rel).resolve()
    if target != root and not target.is_relative_to(root):
        raise BatchError(
            400, "InvalidFilePath", "The file path escapes the root directory.", [("FilePath", file_path)]
        )
    return target


def _content_type(path: Path) -> str:
    if path.suffix.lower() == ".txt":
        return "text/plain"
    guessed = mimetypes.guess_type(path.name)[0]
    return guessed or "application/octet-stream"


def _file_entry(path: Path, name: str, url_base: str) -> Doc:
    st = path.lstat()
    is_dir = stat.S_ISDIR(st.st_mode)
    entry: Doc = {"name": name, "url": f"{url_base}/{name}", "isDirectory": is_dir}
    if not is_dir:
        entry["properties"] = {
            "creationTime": _iso(st.st_ctime),
            "lastModified": _iso(st.st_mtime),
            "contentLength": str(st.st_size),
            "contentType": _content_type(path),
            "fileMode": format(st.st_mode, "o"),
        }
    return entry


def _iso(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))


def list_files(root: Path, url_base: str, recursive: bool) -> list[Doc]:
    """Node or task files as `BatchNodeFile` dicts, names relative to `root` with `/`."""
    if not root.is_dir():
        return []
    out: list[Doc] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            base = Path(dirpath)
            for name in dirnames + sorted(filenames):
                path = base / name
                try:
                    out.append(_file_entry(path, path.relative_to(root).as_posix(), url_base))
                except OSError:
                    continue  # removed while listing
        out.sort(key=lambda e: e["name"])
    else:
        for path in sorted(root.iterdir()):
            try:
                out.append(_file_entry(path, path.name, url_base))
            except OSError:
                continue
    return out


def file_operation(req: Request, root: Path, url_base: str, file_path: str) -> Response:
    target = _resolve(root, file_path)
    if not target.exists():
        raise not_found("FileNotFound", "file")
    if req.method == "DELETE":
        if target.is_dir():
            if any(target.iterdir()) and not req.flag("recursive"):
                raise BatchError(
                    409, "DirectoryNotEmpty", "The directory is not empty; use recursive=true to delete it."
                )
            shutil.rmtree(target)
        else:
            target.unlink()
        return Response(200)
    st = target.stat()
    is_dir = target.is_dir()
    modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
    headers = {
        "Content-Type": "application/octet-stream" if is_dir else _content_type(target),
        "Last-Modified": http_date(modified),
        "ocp-creation-time": http_date(datetime.fromtimestamp(int(st.st_ctime), UTC)),
        "ocp-batch-file-isdirectory": "True" if is_dir else "False",
        "ocp-batch-file-url": quote(f"{url_base}/{target.relative_to(root.resolve()).as_posix()}", safe=""),
        "ocp-batch-file-mode": format(st.st_mode, "o"),
    }
    if file_not_modified(req, modified):
        return Response(304, headers)
    size = 0 if is_dir else st.st_size
    if req.method == "HEAD":
        return Response(200, headers, b"", head_length=size)
    if is_dir:
        raise BatchError(
            409, "FileIsDirectory", "The specified path is a directory; list files to see its content."
        )
    start, end = 0, size - 1
    ranged = req.headers.get("ocp-range")
    if ranged:
        match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", ranged)
        if not match or (not match.group(1) and not match.group(2)):
            raise BatchError(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
                [("HeaderName", "ocp-range"), ("HeaderValue", ranged)],
            )
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(0, size - int(match.group(2)))
        if start >= size or start > end:
            raise BatchError(
                416,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
                headers={"Content-Range": f"bytes */{size}"},
            )
    if ranged:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    # Streamed by the server in chunks (bounded memory for any size); opened now, so a file removed
    # after this point is still sent whole.
    fh = open(target, "rb")  # noqa: SIM115 - closed by the server once sent
    fh.seek(start)
    return Response(200, headers, head_length=max(0, end - start + 1), stream=fh)
