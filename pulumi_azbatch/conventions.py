"""Batch File Conventions for the provider: the naming rules (a re-export) and the library shipped to nodes.

The rules (container name of a job, blob paths by kind, relative-path normalisation, the reserved
``$Library/`` and ``$PreviousRuns/`` prefixes) live in the node-side distribution
``batch-file-conventions`` (folder ``file_conventions/``), which tasks install without Pulumi; the
provider imports them from there so the two sides can never disagree.

This module also owns how that distribution reaches the nodes (``file_conventions.install_library``):
:func:`library_wheel` builds its wheel from the installed package, offline and byte-for-byte
reproducible (so an unchanged library never changes a job), and :func:`library_install_command` is
the job preparation task's command line that installs it into the node's shared directory
(:data:`LIBRARY_DIR`). May import: the standard library and ``batch_file_conventions``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import io
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

import batch_file_conventions
from batch_file_conventions.naming import (
    LIBRARY_PREFIX,
    PREVIOUS_RUNS_PREFIX,
    JobOutputKind,
    TaskOutputKind,
    is_current_run_blob,
    job_output_container_name,
    job_output_path,
    job_output_prefix,
    normalize_relative_path,
    parse_output_name,
    previous_run_prefix,
    task_output_path,
    task_output_prefix,
)
from batch_file_conventions.storage import CONTAINER_URL_ENV

__all__ = [
    "CONTAINER_URL_ENV",
    "LIBRARY_DIR",
    "LIBRARY_PREFIX",
    "PREVIOUS_RUNS_PREFIX",
    "JobOutputKind",
    "LibraryWheel",
    "TaskOutputKind",
    "is_current_run_blob",
    "job_output_container_name",
    "job_output_path",
    "job_output_prefix",
    "library_install_command",
    "library_wheel",
    "normalize_relative_path",
    "parse_output_name",
    "previous_run_prefix",
    "task_output_path",
    "task_output_prefix",
]

#: Where the job preparation task installs the library, relative to ``$AZ_BATCH_NODE_SHARED_DIR``:
#: tasks run ``PYTHONPATH="$AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions" python3 ...`` or the
#: command line ``"$AZ_BATCH_NODE_SHARED_DIR/batch-file-conventions/bin/batch-outputs"``.
LIBRARY_DIR = "batch-file-conventions"
_DISTRIBUTION = "batch-file-conventions"
_PACKAGE = "batch_file_conventions"
# Zip entries carry this date so the same sources always give the same bytes (zip cannot store 1970).
_EPOCH = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class LibraryWheel:
    """The ``batch-file-conventions`` wheel: its file name (what pip needs), bytes and content digest."""

    filename: str
    data: bytes
    sha256: str

    @property
    def blob_name(self) -> str:
        """``$Library/<digest>/<file name>``: a new library is a new blob, the same one is the same blob."""
        return f"{LIBRARY_PREFIX}{self.sha256[:16]}/{self.filename}"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


@functools.cache
def library_wheel() -> LibraryWheel:
    """A pure-Python wheel of the installed ``batch_file_conventions`` package (no network, no build tool).

    The files are the package's sources as imported here (editable installs included); the metadata
    (name, version, ``Requires-Dist: azure-storage-blob``) and the ``batch-outputs`` entry point come
    from the installed distribution. Entries are sorted and dated :data:`_EPOCH`, so the bytes depend
    on the sources only.
    """
    dist = importlib.metadata.distribution(_DISTRIBUTION)
    version = dist.version
    package_dir = Path(batch_file_conventions.__file__).parent
    files: dict[str, bytes] = {}
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files[f"{_PACKAGE}/{path.relative_to(package_dir).as_posix()}"] = path.read_bytes()
    info = f"{_PACKAGE}-{version}.dist-info"
    metadata = (
        dist.read_text("METADATA") or f"Metadata-Version: 2.1\nName: {_DISTRIBUTION}\nVersion: {version}\n"
    )
    files[f"{info}/METADATA"] = metadata.encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pulumi_azbatch.conventions\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
    if scripts:
        lines = [
            "[console_scripts]",
            *(f"{ep.name} = {ep.value}" for ep in sorted(scripts, key=lambda e: e.name)),
        ]
        files[f"{info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    files[f"{info}/top_level.txt"] = f"{_PACKAGE}\n".encode()
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    data = buffer.getvalue()
    return LibraryWheel(f"{_PACKAGE}-{version}-py3-none-any.whl", data, hashlib.sha256(data).hexdigest())


def library_install_command(wheel_file: str, dependencies: str) -> str:
    """The shell line that installs ``wheel_file`` (in the working directory) into the shared directory.

    ``dependencies``: ``index`` lets pip fetch ``azure-storage-blob`` from the package index (PyPI on
    Azure); ``preinstalled`` installs the wheel alone, offline (``--no-index --no-deps``), for nodes
    whose Python already has it (the local emulator, custom images). ``flock`` serialises jobs that
    prepare the same node at once; ``--upgrade`` replaces an older copy.
    """
    target = f'"$AZ_BATCH_NODE_SHARED_DIR/{LIBRARY_DIR}"'
    offline = " --no-index --no-deps" if dependencies == "preinstalled" else ""
    return (
        f'mkdir -p {target} && flock "$AZ_BATCH_NODE_SHARED_DIR/{LIBRARY_DIR}.lock" '
        f"python3 -m pip install --quiet --disable-pip-version-check --upgrade{offline} "
        f"--target {target} {shlex.quote(wheel_file)}"
    )
