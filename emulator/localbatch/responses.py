"""The HTTP-facing layer: parse a request, call the model, shape the response as Batch does.

Each handler returns a `Response` with the exact success status the SDK requires (201 create, 202 for
the long-running operations, 200 / 204 elsewhere), `ETag` / `Last-Modified`, Batch's JSON bodies with
`odata.metadata`, OData paging through `odata.nextLink`, `$filter` for the common cases and `$select`.
The node-file and task-file operations live here too: they only read the sandbox directories that the
model exposes (`BatchService.node_root`, `BatchService.task_root`).
"""

from __future__ import annotations

import errno
import json
import mimetypes
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from . import safefs
from .exceptions import BatchError, invalid_body, invalid_query, not_found
from .models import BatchService, parse_iso

Doc = dict[str, Any]
JSON_TYPE = "application/json;odata=minimalmetadata"
MAX_RESULTS = 1000
MAX_COLLECTION_TASKS = 100
MAX_COLLECTION_BYTES = 1024 * 1024


@dataclass
class Request:
    """One parsed request: raw path (still percent-encoded), decoded query, headers, body bytes."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    request_id: str = ""

    def json(self, required: bool = True) -> Any:
        if not self.body.strip():
            if required:
                raise invalid_body("The request body is empty.")
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise invalid_body(f"The request body is not valid JSON: {exc}") from None

    def json_object(self, required: bool = True) -> Doc:
        value = self.json(required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid_body("The request body must be a JSON object.")
        return value


@dataclass
class Response:
    """What to send: status, headers and body (`head_length` is the Content-Length a HEAD reports)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    head_length: int | None = None


def http_date(dt: datetime) -> str:
    """RFC 1123, as Batch writes Last-Modified and ocp-creation-time."""
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str, header: str) -> datetime:
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BatchError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                         [("HeaderName", header), ("HeaderValue", value)]) from None  # fmt: skip
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _json_response(status: int, body: Doc, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": JSON_TYPE, **(headers or {})}, json.dumps(body).encode())


def _entity_headers(doc: Doc) -> dict[str, str]:
    headers = {}
    if doc.get("eTag"):
        headers["ETag"] = doc["eTag"]
    if doc.get("lastModified"):
        headers["Last-Modified"] = http_date(parse_iso(doc["lastModified"]))
    return headers


# ---- conditional requests -----------------------------------------------------------------------


def _precondition(req: Request, write: bool) -> Callable[[Doc], None] | None:
    """A check of If-Match / If-None-Match / If-(Un)Modified-Since against an entity's document."""
    h = req.headers
    if not any(k in h for k in ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")):
        return None

    def failed() -> BatchError:
        return BatchError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")

    def not_modified() -> BatchError:
        return BatchError(304, "ConditionNotMet", "Not modified.")

    def check(doc: Doc) -> None:
        etag = doc.get("eTag", "")
        modified = parse_iso(doc["lastModified"]).replace(microsecond=0) if doc.get("lastModified") else None
        if "if-match" in h and _etag_value(h["if-match"]) not in ("*", etag):
            raise failed()
        if "if-none-match" in h and _etag_value(h["if-none-match"]) in ("*", etag):
            raise failed() if write else not_modified()
        since = h.get("if-unmodified-since")
        if since and modified and modified > _parse_http_date(since, "If-Unmodified-Since"):
            raise failed()
        since = h.get("if-modified-since")
        if since and modified and modified <= _parse_http_date(since, "If-Modified-Since"):
            raise failed() if write else not_modified()

    return check


def _etag_value(header: str) -> str:
    # azure-core quotes the ETag it sends (`"0x8DD..."`); Batch hands them out unquoted.
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _check_read(req: Request, doc: Doc) -> None:
    check = _precondition(req, write=False)
    if check:
        check(doc)


# ---- $filter ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>datetime'[^']*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot parse near {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
    return out


def _field(doc: Doc, path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _literal(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "dt":
        return parse_iso(text[len("datetime'"):-1])
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"unsupported literal {text!r}") from None


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            left = parse_iso(left)
        except ValueError:
            return False
    if isinstance(left, str) and isinstance(right, str):
        # Batch ids and enum values compare case-insensitively.
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


class _FilterParser:
    """Recursive descent over `or` / `and` / `not` / parentheses / comparisons / startswith()."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise ValueError(f"expected {value!r}, found {text!r}")

    def parse(self) -> Callable[[Doc], bool]:
        expr = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def expr(self) -> Callable[[Doc], bool]:
        terms = [self.term()]
        while (tok := self.peek()) and tok[1].lower() == "or":
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda d: any(t(d) for t in terms))

    def term(self) -> Callable[[Doc], bool]:
        factors = [self.factor()]
        while (tok := self.peek()) and tok[1].lower() == "and":
            self.take()
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else (lambda d: all(f(d) for f in factors))

    def factor(self) -> Callable[[Doc], bool]:
        kind, text = self.take()
        if text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if text.lower() == "not":
            inner = self.factor()
            return lambda d: not inner(d)
        if kind != "word":
            raise ValueError(f"expected a property name, found {text!r}")
        if text.lower() in ("startswith", "endswith", "substringof", "contains") and self.peek() == ("punct", "("):
            return self.function(text.lower())
        op = self.take()[1].lower()
        if op not in _OPS:
            raise ValueError(f"unsupported operator {op!r}")
        lit_kind, lit_text = self.take()
        value = _literal(lit_kind, lit_text)
        name = text
        return lambda d: _compare(_field(d, name), op, value)

    def function(self, name: str) -> Callable[[Doc], bool]:
        self.expect("(")
        first = self.take()
        self.expect(",")
        second = self.take()
        self.expect(")")
        if name == "substringof":
            first, second = second, first
        if first[0] != "word" or second[0] != "str":
            raise ValueError(f"{name}() takes a property name and a string")
        prop, text = first[1], _literal("str", second[1]).lower()

        def test(d: Doc) -> bool:
            value = str(_field(d, prop) or "").lower()
            if name == "startswith":
                return value.startswith(text)
            if name == "endswith":
                return value.endswith(text)
            return text in value

        return test


def parse_filter(text: str) -> Callable[[Doc], bool]:
    """Compile an OData `$filter` (400 `InvalidQueryParameterValue` when unsupported)."""
    try:
        return _FilterParser(text).parse()
    except (ValueError, KeyError) as exc:
        raise invalid_query("$filter", text, f"Unsupported or malformed filter: {exc}") from None


# ---- lists --------------------------------------------------------------------------------------


def _select(doc: Doc, select: str | None) -> Doc:
    if not select:
        return doc
    names = {part.strip().split("/")[0] for part in select.split(",") if part.strip()}
    return {k: v for k, v in doc.items() if k in names}


def _max_results(req: Request) -> int:
    raw = req.query.get("maxresults")
    if raw is None:
        return MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise invalid_query("maxresults", raw, "The value must be an integer.") from None
    if not 1 <= value <= MAX_RESULTS:
        raise BatchError(400, "OutOfRangeQueryParameterValue",
                         "One of the query parameters specified in the request URI is outside the permissible range.",
                         [("QueryParameterName", "maxresults"), ("QueryParameterValue", raw),
                          ("Reason", f"The value must be from 1 to {MAX_RESULTS}.")])  # fmt: skip
    return value


class Handlers:
    """One method per Batch operation; `urls.ROUTES` maps method + path pattern to these."""

    def __init__(self, service: BatchService) -> None:
        self.service = service

    @property
    def base(self) -> str:
        return self.service.base_url

    def _metadata(self, fragment: str) -> str:
        return f"{self.base}/$metadata#{fragment}"

    def _list(self, req: Request, items: list[Doc], fragment: str, key: str = "id") -> Response:
        """Filter, page (`$skiptoken` = position:last key) and project a list response."""
        limit = _max_results(req)
        if req.query.get("$filter"):
            predicate = parse_filter(req.query["$filter"])
            items = [d for d in items if predicate(d)]
        start = 0
        token = req.query.get("$skiptoken")
        if token:
            position, _, last = token.partition(":")
            if not position.isdigit():
                raise invalid_query("$skiptoken", token, "The continuation token is not valid.")
            start = int(position)
            keys = [str(d.get(key, "")).lower() for d in items]
            if last.lower() in keys:
                start = keys.index(last.lower()) + 1
        page = items[start:start + limit]
        body: Doc = {"odata.metadata": self._metadata(fragment),
                     "value": [_select(d, req.query.get("$select")) for d in page]}  # fmt: skip
        if start + limit < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["maxresults"] = str(limit)
            query["$skiptoken"] = f"{start + limit}:{page[-1].get(key, '')}"
            body["odata.nextLink"] = f"{self.base}{req.path}?{urlencode(query, quote_via=quote, safe='')}"
        return _json_response(200, body)

    def _entity(self, req: Request, doc: Doc, fragment: str) -> Response:
        _check_read(req, doc)
        body = {"odata.metadata": self._metadata(fragment), **_select(doc, req.query.get("$select"))}
        return _json_response(200, body, _entity_headers(doc))

    @staticmethod
    def _created(doc: Doc) -> Response:
        return Response(201, {**_entity_headers(doc), "DataServiceId": doc["url"], "Location": doc["url"]})

    def _accepted(self, req: Request) -> Response:
        return Response(202, {"DataServiceId": f"{self.base}{req.path}"})

    # ---- pools ----

    def create_pool(self, req: Request) -> Response:
        return self._created(self.service.create_pool(req.json_object()))

    def list_pools(self, req: Request) -> Response:
        return self._list(req, self.service.list_pools(), "pools")

    def get_pool(self, req: Request, pool_id: str) -> Response:
        return self._entity(req, self.service.get_pool(pool_id), "pools/@Element")

    def pool_exists(self, req: Request, pool_id: str) -> Response:
        doc = self.service.get_pool(pool_id)
        _check_read(req, doc)
        return Response(200, _entity_headers(doc))

    def delete_pool(self, req: Request, pool_id: str) -> Response:
        self.service.delete_pool(pool_id, _precondition(req, write=True))
        return self._accepted(req)

    def list_nodes(self, req: Request, pool_id: str) -> Response:
        return self._list(req, self.service.list_nodes(pool_id), "nodes")

    def get_node(self, req: Request, pool_id: str, node_id: str) -> Response:
        return self._entity(req, self.service.get_node(pool_id, node_id), "nodes/@Element")

    def resize_pool(self, req: Request, pool_id: str) -> Response:
        self.service.resize_pool(pool_id, req.json_object(), _precondition(req, write=True))
        return self._accepted(req)

    def stop_pool_resize(self, req: Request, pool_id: str) -> Response:
        self.service.stop_resize(pool_id, _precondition(req, write=True))
        return self._accepted(req)

    def remove_nodes(self, req: Request, pool_id: str) -> Response:
        self.service.remove_nodes(pool_id, req.json_object(), _precondition(req, write=True))
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

    # ---- jobs ----

    def create_job(self, req: Request) -> Response:
        return self._created(self.service.create_job(req.json_object()))

    def list_jobs(self, req: Request) -> Response:
        return self._list(req, self.service.list_jobs(), "jobs")

    def get_job(self, req: Request, job_id: str) -> Response:
        return self._entity(req, self.service.get_job(job_id), "jobs/@Element")

    def update_job(self, req: Request, job_id: str) -> Response:
        doc = self.service.update_job(job_id, req.json_object(), replace=False, check=_precondition(req, True))
        return Response(200, {**_entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def replace_job(self, req: Request, job_id: str) -> Response:
        doc = self.service.update_job(job_id, req.json_object(), replace=True, check=_precondition(req, True))
        return Response(200, {**_entity_headers(doc), "DataServiceId": f"{self.base}{req.path}"})

    def terminate_job(self, req: Request, job_id: str) -> Response:
        body = req.json_object(required=False)
        reason = body.get("terminateReason")
        self.service.terminate_job(job_id, reason, _precondition(req, write=True))
        return self._accepted(req)

    def delete_job(self, req: Request, job_id: str) -> Response:
        self.service.delete_job(job_id, _precondition(req, write=True))
        return self._accepted(req)

    def disable_job(self, req: Request, job_id: str) -> Response:
        body = req.json_object()
        if not body.get("disableTasks"):
            raise BatchError(400, "MissingRequiredProperty", "A required property was not specified in the request body.",
                             [("PropertyName", "disableTasks")])  # fmt: skip
        self.service.disable_job(job_id, str(body["disableTasks"]), _precondition(req, write=True))
        return self._accepted(req)

    def enable_job(self, req: Request, job_id: str) -> Response:
        self.service.enable_job(job_id, _precondition(req, write=True))
        return self._accepted(req)

    def task_counts(self, req: Request, job_id: str) -> Response:
        counts = self.service.task_counts(job_id)
        return _json_response(200, {"odata.metadata": self._metadata("taskcountsresult/@Element"), **counts})

    def prep_release_status(self, req: Request, job_id: str) -> Response:
        items = self.service.list_preparation_and_release_status(job_id)
        return self._list(req, items, "jobpreparationandreleasetaskstatuslist", key="nodeId")

    # ---- tasks ----

    def create_task(self, req: Request, job_id: str) -> Response:
        return self._created(self.service.add_task(job_id, req.json_object()))

    def create_task_collection(self, req: Request, job_id: str) -> Response:
        if len(req.body) >= MAX_COLLECTION_BYTES:
            raise _too_large(f"The task collection is {len(req.body)} bytes; the limit is under 1 MB.")
        body = req.json_object()
        tasks = body.get("value")
        if not isinstance(tasks, list):
            raise BatchError(400, "MissingRequiredProperty", "A required property was not specified in the request body.",
                             [("PropertyName", "value")])  # fmt: skip
        if len(tasks) > MAX_COLLECTION_TASKS:
            raise _too_large(f"The task collection has {len(tasks)} tasks; at most {MAX_COLLECTION_TASKS} are allowed.")
        results = []
        for item in self.service.add_tasks(job_id, tasks):
            error = item.pop("error", None)
            if isinstance(error, BatchError):
                item["status"] = "clienterror" if error.status < 500 else "servererror"
                item["error"] = {k: v for k, v in error.body(_request_id(req)).items() if k != "odata.metadata"}
            results.append(item)
        return _json_response(200, {"odata.metadata": self._metadata("Microsoft.Azure.Batch.Protocol.Entities.TaskAddCollectionResult"),
                                    "value": results})  # fmt: skip

    def list_tasks(self, req: Request, job_id: str) -> Response:
        return self._list(req, self.service.list_tasks(job_id), "tasks")

    def get_task(self, req: Request, job_id: str, task_id: str) -> Response:
        doc = self.service.get_task(job_id, task_id)
        response = self._entity(req, doc, "tasks/@Element")
        response.headers["DataServiceId"] = doc["url"]
        return response

    def terminate_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.terminate_task(job_id, task_id, _precondition(req, write=True))
        return Response(204, {"DataServiceId": f"{self.base}{req.path}"})

    def reactivate_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.reactivate_task(job_id, task_id, _precondition(req, write=True))
        return Response(204, {"DataServiceId": f"{self.base}{req.path}"})

    def delete_task(self, req: Request, job_id: str, task_id: str) -> Response:
        self.service.delete_task(job_id, task_id, _precondition(req, write=True))
        return Response(200)

    # ---- node files and task files ----

    def _node_files_root(self, pool_id: str, node_id: str) -> tuple[Path, str]:
        root = self.service.node_root(pool_id, node_id)
        return root, f"{self.service.node_url(pool_id, node_id)}/files"

    def _task_files_root(self, job_id: str, task_id: str) -> tuple[Path | None, str]:
        root = self.service.task_root(job_id, task_id)
        return root, f"{self.service.task_url(job_id, task_id)}/files"

    def list_node_files(self, req: Request, pool_id: str, node_id: str) -> Response:
        root, url = self._node_files_root(pool_id, node_id)
        return self._list(req, _list_files(root, url, _flag(req, "recursive")), "files", key="name")

    def list_task_files(self, req: Request, job_id: str, task_id: str) -> Response:
        root, url = self._task_files_root(job_id, task_id)
        files = _list_files(root, url, _flag(req, "recursive")) if root is not None else []
        return self._list(req, files, "files", key="name")

    def node_file(self, req: Request, pool_id: str, node_id: str, file_path: str) -> Response:
        root, url = self._node_files_root(pool_id, node_id)
        return _file_operation(req, root, url, file_path)

    def task_file(self, req: Request, job_id: str, task_id: str, file_path: str) -> Response:
        root, url = self._task_files_root(job_id, task_id)
        if root is None:
            raise not_found("FileNotFound", "file")
        return _file_operation(req, root, url, file_path)


def _too_large(reason: str) -> BatchError:
    return BatchError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.",
                      [("Reason", reason)])  # fmt: skip


def _request_id(req: Request) -> str:
    return req.request_id


def _flag(req: Request, name: str) -> bool:
    value = req.query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise invalid_query(name, value, "The value must be true or false.")
    return value == "true"


# ---- files --------------------------------------------------------------------------------------


def _refused(file_path: str, exc: safefs.PathRefused) -> BatchError:
    return BatchError(400, "InvalidFilePath", f"{exc} The file path must stay inside the root directory.",
                      [("FilePath", file_path)])  # fmt: skip


def _content_type(path: Path) -> str:
    if path.suffix.lower() == ".txt":
        return "text/plain"
    guessed = mimetypes.guess_type(path.name)[0]
    return guessed or "application/octet-stream"


def _file_entry(st: os.stat_result, name: str, url_base: str) -> Doc:
    is_dir = stat.S_ISDIR(st.st_mode)
    entry: Doc = {"name": name, "url": f"{url_base}/{name}", "isDirectory": is_dir}
    if not is_dir:
        entry["properties"] = {
            "creationTime": _iso(st.st_ctime), "lastModified": _iso(st.st_mtime),
            "contentLength": str(st.st_size), "contentType": _content_type(Path(name)),
            "fileMode": format(st.st_mode, "o"),
        }  # fmt: skip
    return entry


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _list_files(root: Path, url_base: str, recursive: bool) -> list[Doc]:
    """Node or task files as `BatchNodeFile` dicts, names relative to `root` with `/`."""
    try:
        entries = safefs.list_dir(root, "", recursive)
    except (OSError, safefs.PathRefused):
        return []
    return [_file_entry(entry.stat, entry.name, url_base) for entry in entries]


def _file_operation(req: Request, root: Path, url_base: str, file_path: str) -> Response:
    try:
        return _file_operation_under(req, root, url_base, file_path)
    except safefs.PathRefused as exc:
        raise _refused(file_path, exc) from None
    except (FileNotFoundError, NotADirectoryError):
        raise not_found("FileNotFound", "file") from None


def _file_operation_under(req: Request, root: Path, url_base: str, file_path: str) -> Response:
    # Every access goes through `safefs`, by descriptor and without following links: a task that
    # swaps a folder for a symlink while this runs cannot point it outside the root.
    rel = "/".join(safefs.parts(file_path))
    if req.method == "DELETE":
        try:
            safefs.delete(root, rel, _flag(req, "recursive"))
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                raise BatchError(409, "DirectoryNotEmpty", "The directory is not empty; use recursive=true to delete it.") from None
            raise
        return Response(200)
    st = safefs.lstat(root, rel)
    is_dir = stat.S_ISDIR(st.st_mode)
    modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
    headers = {
        "Content-Type": "application/octet-stream" if is_dir else _content_type(Path(rel or ".")),
        "Last-Modified": http_date(modified),
        "ocp-creation-time": http_date(datetime.fromtimestamp(int(st.st_ctime), UTC)),
        "ocp-batch-file-isdirectory": "True" if is_dir else "False",
        "ocp-batch-file-url": quote(f"{url_base}/{rel}", safe=""),
        "ocp-batch-file-mode": format(st.st_mode, "o"),
    }
    if "if-modified-since" in req.headers and modified <= _parse_http_date(req.headers["if-modified-since"], "If-Modified-Since"):
        return Response(304, headers)
    if "if-unmodified-since" in req.headers and modified > _parse_http_date(req.headers["if-unmodified-since"], "If-Unmodified-Since"):
        raise BatchError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
    size = 0 if is_dir else st.st_size
    if req.method == "HEAD":
        return Response(200, headers, b"", head_length=size)
    if is_dir:
        raise BatchError(409, "FileIsDirectory", "The specified path is a directory; list files to see its content.")
    start, end = 0, size - 1
    ranged = req.headers.get("ocp-range")
    if ranged:
        match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", ranged)
        if not match or (not match.group(1) and not match.group(2)):
            raise BatchError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                             [("HeaderName", "ocp-range"), ("HeaderValue", ranged)])  # fmt: skip
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(0, size - int(match.group(2)))
        if start >= size or start > end:
            raise BatchError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.",
                             headers={"Content-Range": f"bytes */{size}"})  # fmt: skip
    data, _ = safefs.read(root, rel, start, max(0, end - start + 1))
    if ranged:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(200, headers, data)
