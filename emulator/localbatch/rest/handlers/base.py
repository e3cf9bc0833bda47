"""What every handler group shares: the service, `odata.metadata` URLs, the common response shapes
(list, entity, 201 created, 202 accepted), `$expand=stats`, and the entity headers of every answer.

`Handlers.versioned` runs on every successful answer of a Batch route: an answer about one entity
(get, action, update, task counts, add-collection) carries that entity's ETag and Last-Modified, found
from the request path, so a new handler gets them without doing anything. Lists are in id order.
May import: the service's public API (`BatchService`), `rest.types`, `rest.conditions`, `rest.odata`,
`exceptions`. Not entities, store or private service names.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from ...exceptions import BatchError, invalid_query
from ...service import BatchService
from ...wire import Doc
from ..conditions import check_read
from ..odata import Fetch, in_memory, page_body, select
from ..types import Request, Response, entity_headers, json_response

# Request path (collection names) -> the public service method reading the entity it names.
ENTITY_READERS = {
    ("pools",): "get_pool",
    ("pools", "nodes"): "get_node",
    ("jobs",): "get_job",
    ("jobs", "tasks"): "get_task",
    ("jobschedules",): "get_job_schedule",
}
# Entities whose body has no eTag / lastModified on the service (a node is versioned only through the
# headers of its answers), keyed by the first segment of their `odata.metadata` fragment.
HEADER_VERSIONED = frozenset({"nodes"})
VERSION_PROPERTIES = ("eTag", "lastModified")
# `$expand=stats`: the entity kinds (metadata fragment) that have statistics, and the service method.
STATISTICS = {
    "pools": "pool_statistics",
    "jobs": "job_statistics",
    "jobschedules": "job_schedule_statistics",
}


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
        """Filter, page and project a list response (in `key` order, as the service lists)."""
        items = sorted(items, key=lambda d: str(d.get(key, "")).lower())
        return self._paged(req, in_memory(items, key), fragment)

    def _paged(self, req: Request, fetch: Fetch, fragment: str) -> Response:
        """A list response of the page `fetch` reads (see `odata.page_body`), entities as on the wire."""
        expand = self._expansion(req, fragment)
        body = page_body(req, fetch, self.base, self._metadata(fragment))
        body["value"] = [self._wire(doc, fragment, expand) for doc in body["value"]]
        response = json_response(200, body)
        response.versioned = False
        return response

    def _entity(self, req: Request, doc: Doc, fragment: str) -> Response:
        check_read(req, doc)
        headers = entity_headers(doc)
        wire = self._wire(doc, fragment, self._expansion(req, fragment))
        body = {"odata.metadata": self._metadata(fragment), **select(wire, req.query.get("$select"))}
        return json_response(200, body, headers)

    def _wire(self, doc: Doc, fragment: str, expand: Callable[[Doc], Doc | None] | None) -> Doc:
        """The entity as the service sends it: version stamps only where the body has them, stats on
        `$expand=stats`."""
        kind = fragment.split("/", 1)[0]
        if kind in HEADER_VERSIONED:
            doc = {k: v for k, v in doc.items() if k not in VERSION_PROPERTIES}
        if expand is not None:
            stats = expand(doc)
            if stats is not None:
                doc = {**doc, "stats": stats}
        return doc

    def _expansion(self, req: Request, fragment: str) -> Callable[[Doc], Doc | None] | None:
        """The statistics reader for `$expand=stats` (400 for an expansion the entity does not have)."""
        raw = req.query.get("$expand")
        if not raw:
            return None
        names = {part.strip() for part in raw.split(",") if part.strip()}
        if names != {"stats"}:
            raise invalid_query("$expand", raw, "Only stats can be expanded.")
        reader = STATISTICS.get(fragment.split("/", 1)[0])
        if reader is None:
            return None  # tasks: the emulator keeps no statistics for them
        read = getattr(self.service, reader)

        def stats(doc: Doc) -> Doc | None:
            try:
                return read(doc["id"])  # type: ignore[no-any-return]
            except BatchError:
                return None  # deleted since it was listed

        return stats

    @staticmethod
    def _created(doc: Doc) -> Response:
        return Response(201, {**entity_headers(doc), "DataServiceId": doc["url"], "Location": doc["url"]})

    def _accepted(self, req: Request) -> Response:
        return Response(202, {"DataServiceId": f"{self.base}{req.path}"})

    def versioned(self, req: Request, response: Response) -> Response:
        """Add the ETag and Last-Modified of the entity a successful answer is about (see the module)."""
        if response.status >= 300 or req.method == "DELETE" or not response.versioned:
            return response
        if "ETag" in response.headers:
            return response
        doc = self._owner(req.path)
        if doc is not None:
            response.headers.update(entity_headers(doc))
        return response

    def _owner(self, raw_path: str) -> Doc | None:
        """The deepest entity the path names (`/pools/p/nodes/n/reboot` -> node n), or None."""
        parts = [unquote(p) for p in raw_path.strip("/").split("/")]
        names, ids = tuple(parts[0::2]), parts[1::2]
        for depth in range(min(len(names), len(ids)), 0, -1):
            reader = getattr(self.service, ENTITY_READERS.get(names[:depth], ""), None)
            if reader is None:
                continue
            try:
                return reader(*ids[:depth])  # type: ignore[no-any-return]
            except BatchError:
                return None
        return None
