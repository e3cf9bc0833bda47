"""Handlers of the node-file and task-file operations; the serving itself is `rest.files`.

May import: the service's public API (`node_root`, `task_root`, URLs), `rest.types`, `rest.files`, `.base`.
"""

from __future__ import annotations

from pathlib import Path

from ...exceptions import not_found
from ..files import check_file_request, file_operation, list_files
from ..types import Request, Response
from .base import HandlerBase


class FileHandlers(HandlerBase):
    """Files on nodes and of tasks."""

    def _node_files_root(self, pool_id: str, node_id: str) -> tuple[Path, str]:
        root = self.service.node_root(pool_id, node_id)
        return root, f"{self.service.node_url(pool_id, node_id)}/files"

    def _task_files_root(self, job_id: str, task_id: str) -> tuple[Path | None, str]:
        root = self.service.task_root(job_id, task_id)
        return root, f"{self.service.task_url(job_id, task_id)}/files"

    def list_node_files(self, req: Request, pool_id: str, node_id: str) -> Response:
        root, url = self._node_files_root(pool_id, node_id)
        return self._list(req, list_files(root, url, req.flag("recursive")), "files", key="name")

    def list_task_files(self, req: Request, job_id: str, task_id: str) -> Response:
        root, url = self._task_files_root(job_id, task_id)
        files = list_files(root, url, req.flag("recursive")) if root is not None else []
        return self._list(req, files, "files", key="name")

    def node_file(self, req: Request, pool_id: str, node_id: str, file_path: str) -> Response:
        root, url = self._node_files_root(pool_id, node_id)
        return file_operation(req, root, url, file_path)

    def task_file(self, req: Request, job_id: str, task_id: str, file_path: str) -> Response:
        root, url = self._task_files_root(job_id, task_id)
        if root is None:  # never ran: no file, but a malformed request is still a 400
            check_file_request(req, file_path)
            raise not_found("FileNotFound", "file")
        return file_operation(req, root, url, file_path)
