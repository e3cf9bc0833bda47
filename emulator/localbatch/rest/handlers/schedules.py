"""Handlers of the job schedule operations, and the list of the jobs a schedule created.

May import: the service's public API, `rest.types`, `rest.conditions`, `.base`.
"""

from __future__ import annotations

from ..conditions import check_read, precondition
from ..types import Request, Response, entity_headers
from .base import HandlerBase


class JobScheduleHandlers(HandlerBase):
    """Job schedules."""

    def create_job_schedule(self, req: Request) -> Response:
        return self._created(self.service.create_job_schedule(req.json_object()))

    def list_job_schedules(self, req: Request) -> Response:
        return self._list(req, self.service.list_job_schedules(), "jobschedules")

    def get_job_schedule(self, req: Request, schedule_id: str) -> Response:
        return self._entity(req, self.service.get_job_schedule(schedule_id), "jobschedules/@Element")

    def job_schedule_exists(self, req: Request, schedule_id: str) -> Response:
        doc = self.service.get_job_schedule(schedule_id)
        check_read(req, doc)
        return Response(200, entity_headers(doc))

    def update_job_schedule(self, req: Request, schedule_id: str) -> Response:
        return self._update_schedule(req, schedule_id, replace=False)

    def replace_job_schedule(self, req: Request, schedule_id: str) -> Response:
        return self._update_schedule(req, schedule_id, replace=True)

    def _update_schedule(self, req: Request, schedule_id: str, *, replace: bool) -> Response:
        doc = self.service.update_job_schedule(
            schedule_id, req.json_object(), replace=replace, check=precondition(req, write=True)
        )
        return Response(200, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def disable_job_schedule(self, req: Request, schedule_id: str) -> Response:
        doc = self.service.disable_job_schedule(schedule_id, precondition(req, write=True))
        return Response(204, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def enable_job_schedule(self, req: Request, schedule_id: str) -> Response:
        doc = self.service.enable_job_schedule(schedule_id, precondition(req, write=True))
        return Response(204, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def terminate_job_schedule(self, req: Request, schedule_id: str) -> Response:
        # `force` (2025-06-01) is accepted: the emulator's termination never waits on a node.
        self.service.terminate_job_schedule(schedule_id, precondition(req, write=True))
        return self._accepted(req)

    def delete_job_schedule(self, req: Request, schedule_id: str) -> Response:
        self.service.delete_job_schedule(schedule_id, precondition(req, write=True))
        return self._accepted(req)

    def list_jobs_from_schedule(self, req: Request, schedule_id: str) -> Response:
        return self._list(req, self.service.list_jobs_of_schedule(schedule_id), "jobs")
