"""The canonical form of a task: what the Job provider compares to tell a changed task from an unchanged one.

Owns: :func:`canonical_task` (defaults omitted, keys sorted, SAS stripped) and
:func:`task_fingerprint`.

May import: :mod:`.common`, :mod:`.tasks`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from .common import strip_query
from .tasks import TaskSpec

__all__ = ["canonical_task", "task_fingerprint"]

_URL_KEYS = frozenset({"container_url", "http_url", "storage_container_url"})


def _strip_sas(url: str) -> str:
    """A URL without its SAS query, so that rotating a SAS does not look like a changed task."""
    return strip_query(url) if "sig=" in urlsplit(url).query else url


def _canonical_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (_strip_sas(v) if k in _URL_KEYS and isinstance(v, str) else _canonical_tree(v))
            for k, v in sorted(node.items())
        }
    if isinstance(node, list):
        return [_canonical_tree(v) for v in node]
    return node


def canonical_task(task: TaskSpec) -> dict[str, Any]:
    """A stable, JSON-ready dict of a task for diffing: defaults omitted, keys sorted, SAS stripped.

    Two specs of the same task give the same dict whether a default is written out or omitted.
    Container and resource URLs lose their SAS query (a rotated SAS is not a different task).
    File Conventions outputs stay unresolved (kind + relative path), so the form does not depend on
    the job id or the container URL.
    """
    dumped = task.model_dump(mode="json", exclude_defaults=True)
    canonical = _canonical_tree(dumped)
    assert isinstance(canonical, dict)
    return canonical


def task_fingerprint(task: TaskSpec) -> str:
    """SHA-256 (hex) of :func:`canonical_task`: equal fingerprints mean the same task."""
    text = json.dumps(canonical_task(task), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
