"""What every handler group shares: the service, `odata.metadata` URLs and the common response shapes
(list, entity, 201 created, 202 accepted).

May import: the service's public API (`BatchService`), `rest.types`, `rest.conditions`, `rest.odata`.
Not entities, store or private service names.
"""

from __future__ import annotations

from ...service import BatchService
from ...wire import Doc
from ..conditions import check_read
from ..odata import list_body, select
from ..types import Request, Response, entity_headers, json_response


class HandlerBase:
    """The service and the response shapes the handler groups share."""

    def __init__(self, service: BatchService) -> None:
        self.service = service

    @property
    def base(self) -> str:
        return self.service.base_url

    def _metadata(self, fragment: str) -> str:
        return f"{self.base}/$metadata#{fragment}"

    def _list(self, req: Request, items: list[Doc], fragment: str, key: str = "id") -> Response:
        """Filter, page and project a list response."""
        return json_response(200, list_body(req, items, self.base, self._metadata(fragment), key))

    def _entity(self, req: Request, doc: Doc, fragment: str) -> Response:
        check_read(req, doc)
        body = {"odata.metadata": self._metadata(fragment), **select(doc, req.query.get("$select"))}
        return json_response(200, body, entity_headers(doc))

    @staticmethod
    def _created(doc: Doc) -> Response:
        return Response(201, {**entity_headers(doc), "DataServiceId": doc["url"], "Location": doc["url"]})

    def _accepted(self, req: Request) -> Response:
        return Response(202, {"DataServiceId": f"{self.base}{req.path}"})
