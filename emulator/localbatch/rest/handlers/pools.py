"""Handlers of the pool and compute node operations.

May import: the service's public API, `rest.types`, `rest.conditions`, `.base`.
"""

from __future__ import annotations

from ...wire import Doc
from ..conditions import check_read, precondition
from ..types import Request, Response, entity_headers, json_response
from .base import HandlerBase


class PoolHandlers(HandlerBase):
    """Pools and their nodes."""

    def create_pool(self, req: Request) -> Response:
        return self._created(self.service.create_pool(req.json_object()))

    def list_pools(self, req: Request) -> Response:
        return self._list(req, self.service.list_pools(), "pools")

    def get_pool(self, req: Request, pool_id: str) -> Response:
        return self._entity(req, self.service.get_pool(pool_id), "pools/@Element")

    def pool_exists(self, req: Request, pool_id: str) -> Response:
        doc = self.service.get_pool(pool_id)
        check_read(req, doc)
        return Response(200, entity_headers(doc))

    def delete_pool(self, req: Request, pool_id: str) -> Response:
        self.service.delete_pool(pool_id, precondition(req, write=True))
        return self._accepted(req)

    def update_pool(self, req: Request, pool_id: str) -> Response:
        doc = self.service.update_pool(pool_id, req.json_object(), precondition(req, write=True))
        return self._changed(req, doc, 200)

    def replace_pool_properties(self, req: Request, pool_id: str) -> Response:
        doc = self.service.replace_pool_properties(pool_id, req.json_object(), precondition(req, write=True))
        return self._changed(req, doc, 204)

    def enable_autoscale(self, req: Request, pool_id: str) -> Response:
        doc = self.service.enable_autoscale(pool_id, req.json_object(), precondition(req, write=True))
        return self._changed(req, doc, 200)

    def disable_autoscale(self, req: Request, pool_id: str) -> Response:
        return self._changed(
            req,
            self.service.disable_autoscale(pool_id, precondition(req, write=True)),
            200,
        )

    def evaluate_autoscale(self, req: Request, pool_id: str) -> Response:
        run = self.service.evaluate_autoscale(pool_id, req.json_object())
        body = {
            "odata.metadata": self._metadata("Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"),
            **run,
        }
        headers = {
            **entity_headers(self.service.get_pool(pool_id)),
            "DataServiceId": f"{self.base}{req.path}",
        }
        return json_response(200, body, headers)

    def _changed(self, req: Request, doc: Doc, status: int) -> Response:
        """A change to a pool: its new ETag / Last-Modified and the request URL as DataServiceId."""
        return Response(status, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def list_nodes(self, req: Request, pool_id: str) -> Response:
        return self._list(req, self.service.list_nodes(pool_id), "nodes")

    def get_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        return self._entity(req, self.service.get_node(pool_id, node_id), "nodes/@Element")

    def resize_pool(self, req: Request, pool_id: str) -> Response:
        self.service.resize_pool(pool_id, req.json_object(), precondition(req, write=True))
        return self._accepted(req)

    def stop_pool_resize(self, req: Request, pool_id: str) -> Response:
        self.service.stop_resize(pool_id, precondition(req, write=True))
        return self._accepted(req)

    def remove_nodes(self, req: Request, pool_id: str) -> Response:
        self.service.remove_nodes(pool_id, req.json_object(), precondition(req, write=True))
        return self._accepted(req)

    def reboot_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        # The SDK sends no body when no options are given; the default is requeue.
        option = req.json_object(required=False).get("nodeRebootOption")
        self.service.reboot_node(pool_id, node_id, option)
        return self._accepted(req)

    def reimage_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        option = req.json_object(required=False).get("nodeReimageOption")
        self.service.reboot_node(pool_id, node_id, option, reimage=True)
        return self._accepted(req)
