"""Node and task file serving: list, get (with `ocp-range`), HEAD properties and delete of the files
under a node's or task's sandbox directory.

Owns: the requested path kept inside its root (every access by descriptor through `safefs`, so a
racing task cannot point it elsewhere; 400 for anything that escapes it), the
`BatchNodeFile` entries of a listing, the file property headers and byte ranges.
May import: `types`, `conditions`, `wire`, `exceptions`, `safefs`. The roots come from the service's public API.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from .. import safefs
from ..exceptions import BatchError, not_found
from ..wire import Doc, iso
from .conditions import file_not_modified
from .types import Request, Response, http_date


def _refused(file_path: str, exc: safefs.PathRefused) -> BatchError:
    return BatchError(
        400,
        "InvalidFilePath",
        f"{exc} The file path must stay inside the root directory.",
        [("FilePath", file_path)],
    )


def _content_type(path: Path) -> str:
    if path.suffix.lower() == ".txt":
        return "text/plain"
    guessed = mimetypes.guess_type(path.name)[0]
    return guessed or "application/octet-stream"


def _file_entry(st: os.stat_result, name: str, url_base: str) -> Doc:
    is_dir = stat.S_ISDIR(st.st_mode)
    entry: Doc = {"name": name, "url": f"{url_base}/{name}", "isDirectory": is_dir}
    if not is_dir:
        entry["properties"] = {
            "creationTime": _iso(st.st_ctime),
            "lastModified": _iso(st.st_mtime),
            "contentLength": str(st.st_size),
            "contentType": _content_type(Path(name)),
            "fileMode": format(st.st_mode, "o"),
        }
    return entry


def _iso(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))


def list_files(root: Path, url_base: str, recursive: bool) -> list[Doc]:
    """Node or task files as `BatchNodeFile` dicts, names relative to `root` with `/`."""
    try:
        entries = safefs.list_dir(root, "", recursive)
    except (OSError, safefs.PathRefused):
        return []
    return [_file_entry(entry.stat, entry.name, url_base) for entry in entries]


_RANGE = re.compile(r"\s*bytes=(\d*)-(\d*)\s*")


def _requested_range(req: Request) -> re.Match[str] | None:
    """The `ocp-range` header's `bytes=a-b` (None when absent); 400 when it is not one."""
    ranged = req.headers.get("ocp-range")
    if not ranged:
        return None
    match = _RANGE.fullmatch(ranged)
    if not match or (not match.group(1) and not match.group(2)):
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
            [("HeaderName", "ocp-range"), ("HeaderValue", ranged)],
        )
    return match


def check_file_request(req: Request, file_path: str) -> None:
    """The checks of a file request that need no file: the path's form and the range header's.

    A malformed request is a 400 whatever the file's state, also for a task that never ran.
    """
    try:
        safefs.parts(file_path)
    except safefs.PathRefused as exc:
        raise _refused(file_path, exc) from None
    _requested_range(req)


def file_operation(req: Request, root: Path, url_base: str, file_path: str) -> Response:
    check_file_request(req, file_path)
    try:
        return _file_operation_under(req, root, url_base, file_path)
    except safefs.PathRefused as exc:
        raise _refused(file_path, exc) from None
    except (FileNotFoundError, NotADirectoryError):
        raise not_found("FileNotFound", "file") from None


def _file_operation_under(req: Request, root: Path, url_base: str, file_path: str) -> Response:
    # Every access goes through `safefs`, by descriptor and without following links: a task that
    # swaps a folder for a symlink while this runs cannot point it outside the root.
    rel = "/".join(safefs.parts(file_path))
    if req.method == "DELETE":
        try:
            safefs.delete(root, rel, req.flag("recursive"))
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                raise BatchError(
                    409, "DirectoryNotEmpty", "The directory is not empty; use recursive=true to delete it."
                ) from None
            raise
        return Response(200)
    st = safefs.lstat(root, rel)
    is_dir = stat.S_ISDIR(st.st_mode)
    modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
    headers = {
        "Content-Type": "application/octet-stream" if is_dir else _content_type(Path(rel or ".")),
        # The file's version: changes whenever its content (size or modification time) does.
        "ETag": f"0x{st.st_mtime_ns:X}{st.st_size:X}",
        "Last-Modified": http_date(modified),
        "ocp-creation-time": http_date(datetime.fromtimestamp(int(st.st_ctime), UTC)),
        "ocp-batch-file-isdirectory": "True" if is_dir else "False",
        "ocp-batch-file-url": quote(f"{url_base}/{rel}", safe=""),
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
    match = _requested_range(req)
    if match:
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
    if match:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    # Streamed by the server in chunks (bounded memory for any size); opened now, by descriptor, so a
    # file removed or swapped after this point is still sent whole, from what was opened.
    fh, _ = safefs.open_file(root, rel)
    fh.seek(start)
    return Response(200, headers, head_length=max(0, end - start + 1), stream=fh)
