"""The HTTP-facing layer (no sockets: `server.py` owns those): parse a request, call the service,
shape the response as Batch does.

| module | owns |
|---|---|
| `apiversions` | the published api-versions and their check |
| `types` | `Request`, `Response`, `http_date`, entity headers |
| `conditions` | If-Match / If-None-Match / If-(Un)Modified-Since |
| `odata` | `$filter`, `$select`, `maxresults`, paging |
| `files` | node and task file serving |
| `handlers/` | one handler group per resource (pools and nodes, jobs, tasks, files) |

Imports point one way: HTTP -> the service's public API -> entities / validation -> wire.
"""

from __future__ import annotations

from .apiversions import check_api_version
from .handlers import Handlers
from .types import Request, Response, http_date

__all__ = ["Handlers", "Request", "Response", "check_api_version", "http_date"]
