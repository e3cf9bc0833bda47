"""Handlers of the account-wide operations: applications, supported images, pool node counts and
pool usage metrics.

May import: the service's public API, `rest.types`, `.base`.
"""

from __future__ import annotations

from ..types import Request, Response
from .base import HandlerBase


class AccountHandlers(HandlerBase):
    """Account-wide lists and the application read."""

    def list_applications(self, req: Request) -> Response:
        return self._list(req, self.service.list_applications(), "applications")

    def get_application(self, req: Request, application_id: str) -> Response:
        return self._entity(req, self.service.get_application(application_id), "applications/@Element")

    def list_supported_images(self, req: Request) -> Response:
        return self._list(
            req,
            self.service.list_supported_images(),
            "supportedimages",
            key="imageReference",
        )

    def list_pool_node_counts(self, req: Request) -> Response:
        return self._list(req, self.service.list_pool_node_counts(), "poolnodecounts", key="poolId")

    def list_pool_usage_metrics(self, req: Request) -> Response:
        return self._list(
            req,
            self.service.list_pool_usage_metrics(),
            "poolusagemetrics",
            key="poolId",
        )
