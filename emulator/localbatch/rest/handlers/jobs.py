"""Handlers of the job operations (including task counts and the prep/release status list).

May import: the service's public API, `rest.types`, `rest.conditions`, `.base`, `exceptions`.
"""

from __future__ import annotations

from ...exceptions import missing_property
from ..conditions import precondition
from ..types import Request, Response, entity_headers, json_response
from .base import HandlerBase


class JobHandlers(HandlerBase):
    """Jobs."""

    def create_job(self, req: Request) -> Response:
        return self._created(self.service.create_job(req.json_object()))

    def list_jobs(self, req: Request) -> Response:
        return self._list(req, self.service.list_jobs(), "jobs")

    def get_job(self, req: Request, job_id: str) -> Response:
        return self._entity(req, self.service.get_job(job_id), "jobs/@Element")

    def update_job(self, req: Request, job_id: str) -> Response:
        return self._update(req, job_id, replace=False)

    def replace_job(self, req: Request, job_id: str) -> Response:
        return self._update(req, job_id, replace=True)

    def _update(self, req: Request, job_id: str, *, replace: bool) -> Response:
        doc = self.service.update_job(
            job_id, req.json_object(), replace=replace, check=precondition(req, True)
        )
        return Response(200, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def terminate_job(self, req: Request, job_id: str) -> Response:
        body = req.json_object(required=False)
        reason = body.get("terminateReason")
        self.service.terminate_job(job_id, reason, precondition(req, write=True))
        return self._accepted(req)

    def delete_job(self, req: Request, job_id: str) -> Response:
        self.service.delete_job(job_id, precondition(req, write=True))
        return self._accepted(req)

    def disable_job(self, req: Request, job_id: str) -> Response:
        body = req.json_object()
        if not body.get("disableTasks"):
            raise missing_property("disableTasks")
        self.service.disable_job(job_id, str(body["disableTasks"]), precondition(req, write=True))
        return self._accepted(req)

    def enable_job(self, req: Request, job_id: str) -> Response:
        self.service.enable_job(job_id, precondition(req, write=True))
        return self._accepted(req)

    def task_counts(self, req: Request, job_id: str) -> Response:
        counts = self.service.task_counts(job_id)
        return json_response(200, {"odata.metadata": self._metadata("taskcountsresult/@Element"), **counts})

    def prep_release_status(self, req: Request, job_id: str) -> Response:
        items = self.service.list_preparation_and_release_status(job_id)
        return self._list(req, items, "jobpreparationandreleasetaskstatuslist", key="nodeId")
