"""Pool mount configuration on the emulator's nodes.

Each `mountConfiguration` item gets its directory at `$AZ_BATCH_NODE_MOUNTS_DIR/<relativeMountPath>`
(`<node root>/fsmounts/...`) when the node is created. An NFS or CIFS mount whose `source` is a folder
on this machine (an absolute path or a `file://` URL) is a link to that folder, so tasks read and write
it as on a mounted share; any other mount (blob container, Azure Files share, a remote NFS/CIFS server)
is an empty directory: the emulator does not reach remote file systems, and the keys that would
(`accountKey`, `sasKey`, `password`) are never stored.
May import: `entities`, `validation`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..entities import Node, Pool
from ..validation import MOUNT_KINDS
from .base import ServiceBase


def local_source(source: object) -> Path | None:
    """The folder on this machine an NFS/CIFS `source` names, or None for a remote one."""
    if not isinstance(source, str):
        return None
    if source.startswith("file://"):
        path = Path(unquote(urlsplit(source).path))
    elif source.startswith("/"):
        path = Path(source)
    else:
        return None
    return path if path.is_dir() else None


class MountsPart(ServiceBase):
    """Mounts (`BatchService` mixin)."""

    def _prepare_mounts(self, pool: Pool, node: Node) -> None:
        root = node.root / "fsmounts"
        for mount in pool.doc.get("mountConfiguration") or []:
            kind = next(k for k in MOUNT_KINDS if mount.get(k))
            conf = mount[kind]
            target = root / str(conf["relativeMountPath"])
            if target.exists() or target.is_symlink():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = (
                local_source(conf.get("source"))
                if kind in ("nfsMountConfiguration", "cifsMountConfiguration")
                else None
            )
            if source is not None:
                target.symlink_to(source.resolve(), target_is_directory=True)
            else:
                target.mkdir()
