"""The import path `localbatch.models.BatchService`, kept for callers written before the service was
split into `localbatch.service` (one part per resource group). Owns nothing.
May import: `service`.
"""

from __future__ import annotations

from .service import BatchService

__all__ = ["BatchService"]
