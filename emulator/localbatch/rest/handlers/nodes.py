"""Handlers of the compute node administration operations: scheduling, deallocate/start, node users,
remote login settings, service log upload and VM extensions.

May import: the service's public API, `rest.types`, `.base`.
"""

from __future__ import annotations

from ...wire import Doc
from ..types import Request, Response, entity_headers, json_response
from .base import HandlerBase


class NodeHandlers(HandlerBase):
    """Compute node administration."""

    def _node_changed(self, req: Request, doc: Doc, status: int = 200) -> Response:
        """An action on a node: its new ETag / Last-Modified and the request URL as DataServiceId."""
        return Response(status, {**entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def _node_headers(self, pool_id: str, node_id: str) -> dict[str, str]:
        """The ETag / Last-Modified of the node a read about it answers with (as the spec declares)."""
        return entity_headers(self.service.get_node(pool_id, node_id))

    def disable_node_scheduling(self, req: Request, pool_id: str, node_id: str) -> Response:
        option = req.json_object(required=False).get("nodeDisableSchedulingOption")
        return self._node_changed(req, self.service.disable_node_scheduling(pool_id, node_id, option))

    def enable_node_scheduling(self, req: Request, pool_id: str, node_id: str) -> Response:
        return self._node_changed(req, self.service.enable_node_scheduling(pool_id, node_id))

    def deallocate_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        option = req.json_object(required=False).get("nodeDeallocateOption")
        return self._node_changed(req, self.service.deallocate_node(pool_id, node_id, option), 202)

    def start_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        return self._node_changed(req, self.service.start_node(pool_id, node_id), 202)

    def create_node_user(self, req: Request, pool_id: str, node_id: str) -> Response:
        doc = self.service.create_node_user(pool_id, node_id, req.json_object())
        response = self._node_changed(req, doc, 201)
        response.headers["Location"] = response.headers["DataServiceId"]
        return response

    def replace_node_user(self, req: Request, pool_id: str, node_id: str, user_name: str) -> Response:
        return self._node_changed(
            req, self.service.replace_node_user(pool_id, node_id, user_name, req.json_object())
        )

    def delete_node_user(self, req: Request, pool_id: str, node_id: str, user_name: str) -> Response:
        self.service.delete_node_user(pool_id, node_id, user_name)
        return Response(200)

    def remote_login_settings(self, req: Request, pool_id: str, node_id: str) -> Response:
        settings = self.service.remote_login_settings(pool_id, node_id)
        body = {
            "odata.metadata": self._metadata(
                "Microsoft.Azure.Batch.Protocol.Entities.ComputeNodeGetRemoteLoginSettingsResult"
            ),
            **settings,
        }
        return json_response(200, body, self._node_headers(pool_id, node_id))

    def upload_node_logs(self, req: Request, pool_id: str, node_id: str) -> Response:
        result = self.service.upload_node_logs(pool_id, node_id, req.json_object())
        body = {
            "odata.metadata": self._metadata(
                "Microsoft.Azure.Batch.Protocol.Entities.UploadBatchServiceLogsResult"
            ),
            **result,
        }
        return json_response(200, body, self._node_headers(pool_id, node_id))

    def list_node_extensions(self, req: Request, pool_id: str, node_id: str) -> Response:
        items = self.service.list_node_extensions(pool_id, node_id)
        return self._list(req, items, "extensions", key="vmExtension")

    def get_node_extension(self, req: Request, pool_id: str, node_id: str, name: str) -> Response:
        extension = self.service.get_node_extension(pool_id, node_id, name)
        body = {"odata.metadata": self._metadata("extensions/@Element"), **extension}
        return json_response(200, body, self._node_headers(pool_id, node_id))
