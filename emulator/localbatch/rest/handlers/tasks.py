"""Handlers of the task operations (one task, a task collection, update, terminate, reactivate, delete).

May import: the service's public API, `rest.types`, `rest.conditions`, `rest.odata`, `.base`, `exceptions`.
"""

from __future__ import annotations

from collections.abc import Callable

from ...exceptions import BatchError, missing_property
from ...wire import Doc
from ..conditions import precondition
from ..odata import Cursor
from ..types import Request, Response, entity_headers, json_response
from .base import HandlerBase

MAX_COLLECTION_TASKS = 100
MAX_COLLECTION_BYTES = 1024 * 1024
ADD_COLLECTION_METADATA = "Microsoft.Azure.Batch.Protocol.Entities.TaskAddCollectionResult"


def _too_large(reason: str) -> BatchError:
    return BatchError(
        413,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
        [("Reason", reason)],
    )


class TaskHandlers(HandlerBase):
    """Tasks."""

    def create_task(self, req: Request, job_id: str) -> Response:
        return self._created(self.service.add_task(job_id, req.json_object()))

    def create_task_collection(self, req: Request, job_id: str) -> Response:
        if len(req.body) >= MAX_COLLECTION_BYTES:
            raise _too_large(f"The task collection is {len(req.body)} bytes; the limit is under 1 MB.")
        body = req.json_object()
        tasks = body.get("value")
        if not isinstance(tasks, list):
            raise missing_property("value")
        if len(tasks) > MAX_COLLECTION_TASKS:
            raise _too_large(
                f"The task collection has {len(tasks)} tasks; at most {MAX_COLLECTION_TASKS} are allowed."
            )
        results = []
        for item in self.service.add_tasks(job_id, tasks):
            error = item.pop("error", None)
            if isinstance(error, BatchError):
                item["status"] = "clienterror" if error.status < 500 else "servererror"
                item["error"] = {k: v for k, v in error.body(req.request_id).items() if k != "odata.metadata"}
            results.append(item)
        return json_response(
            200, {"odata.metadata": self._metadata(ADD_COLLECTION_METADATA), "value": results}
        )

    def list_tasks(self, req: Request, job_id: str) -> Response:
        # Only the requested page is read (O(page), not O(job)), in id order; the cursor carries the
        # number of tasks passed so far and the id of the last one examined, which the next page
        # resumes after.
        def fetch(
            where: Callable[[Doc], bool] | None, cursor: Cursor | None, limit: int
        ) -> tuple[list[Doc], Cursor | None]:
            passed, after = cursor if cursor else (0, None)
            docs, following = self.service.list_tasks_page(job_id, where=where, after=after, limit=limit)
            return docs, None if following is None else (passed + len(docs), following)

        return self._paged(req, fetch, "tasks")

    def get_task(self, req: Request, job_id: str, task_id: str) -> Response:
        doc = self.service.get_task(job_id, task_id)
        response = self._entity(req, doc, "tasks/@Element")
        response.headers["DataServiceId"] = doc["url"]
        return response

    def replace_task(self, req: Request, job_id: str, task_id: str) -> Response:
        doc = self.service.replace_task(job_id, task_id, req.json_object(), precondition(req, write=True))
        return Response(200, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def list_subtasks(self, req: Request, job_id: str, task_id: str) -> Response:
        items = self.service.list_subtasks(job_id, task_id)
        return json_response(200, {"odata.metadata": self._metadata("subtaskinfo"), "value": items})

    def terminate_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.terminate_task(job_id, task_id, precondition(req, write=True))
        return Response(204, {"DataServiceId": f"{self.base}{req.path}"})

    def reactivate_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.reactivate_task(job_id, task_id, precondition(req, write=True))
        return Response(204, {"DataServiceId": f"{self.base}{req.path}"})

    def delete_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.delete_task(job_id, task_id, precondition(req, write=True))
        return Response(200)
