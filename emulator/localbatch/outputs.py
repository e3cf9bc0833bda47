"""Output files: pattern matching, blob naming, upload conditions and the upload itself.

After a task's last attempt the node uploads every output file whose `uploadCondition` matches the
exit code (reference §8), through azure-storage-blob to the `containerUrl` (a SAS with write
permission is enough: nothing here lists, reads or probes the container).

Pattern rules (Linux): relative patterns start at the task working directory, `..` may climb to the
task directory but not above it, absolute patterns are allowed; `*` matches within one path segment,
`**` as a whole segment matches any number of directories (zero included), `?` one character,
`[abc]`/`[a-c]`/`[!abc]` (also `[^abc]`) a set; a bracket around one character escapes it
(`abc[*]` is the literal name `abc*`); names starting with `.` only match a pattern segment that
itself starts with a literal `.` (and `**` does not descend into dot directories); only `/`
separates segments; `$VAR` and `${VAR}` are expanded from the task environment first (an unknown
variable is left as written).

Blob naming: a pattern without wildcards (escapes do not count) names one file, and `path` is its
full blob name (the file's name at the container root when `path` is omitted). A wildcard pattern
makes `path` a virtual directory: each match is uploaded as `<path>/<relative path below the
pattern's fixed leading directory>`, so `out/**/*.txt` with `path: p` gives `p/sub/a.txt` (the
subdirectory is kept, which the documentation's wording suggests but does not state).

A pattern that matches no file is not an error. Failures give a `usererror` failureInfo:
`FileUploadContainerNotFound` (404 for the container), `FileUploadAuthenticationFailed` (401/403:
a SAS without write permission, expired or malformed), `FileUploadMiscError` (anything else).
Progress goes to `fileuploadout.txt` and errors to `fileuploaderr.txt` in the task directory.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Files at most this big go up in one Put Blob; larger ones in blocks of BLOCK_SIZE, several at once.
# 64 MiB is azure-storage-blob's own default: measured against Azurite, one Put Blob of 64 MiB is
# about twice as fast as 8 parallel 4-8 MiB blocks (Azurite persists each block separately), and
# real Storage accepts it too. Blocks of 8 MiB beat 4 MiB on Azurite by about 1.7x.
MAX_SINGLE_PUT_SIZE = 64 * 1024 * 1024
BLOCK_SIZE = 8 * 1024 * 1024
# Parallel block uploads for one large file, and parallel files for many small ones.
BLOCK_CONCURRENCY = 8
FILE_CONCURRENCY = 8

CONTAINER_NOT_FOUND_MESSAGE = (
    "One of the specified Azure container(s) was not found while attempting to upload an output file"
)


# --------------------------------------------------------------------------------------------------
# Pattern matching (pure functions)
# --------------------------------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_variables(pattern: str, environment: Mapping[str, str]) -> str:
    """Expand `$VAR` and `${VAR}` from `environment` (not the emulator's); unknown ones stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return environment.get(name, match.group(0))

    return _VAR.sub(replace, pattern)


@dataclass(frozen=True)
class Segment:
    """One compiled `/`-separated piece of a file pattern.

    `literal` is the exact name when the piece has no wildcard (escapes decoded), `regex` the
    compiled matcher otherwise; `globstar` marks a whole-segment `**`; `explicit_dot` says the
    piece starts with a literal `.`, which is what allows it to match dot files.
    """

    text: str
    literal: str | None
    regex: re.Pattern[str] | None
    globstar: bool
    explicit_dot: bool

    def matches(self, name: str) -> bool:
        """Whether one file or directory name matches this segment (the dot-file rule included)."""
        if self.literal is not None:
            return name == self.literal
        if name.startswith(".") and not self.explicit_dot:
            return False
        assert self.regex is not None
        return self.regex.fullmatch(name) is not None


def _parse_bracket(text: str, start: int) -> tuple[str, str | None, int] | None:
    """Parse `[...]` at `text[start]`: (regex, the single escaped char or None, index after `]`)."""
    i = start + 1
    negate = i < len(text) and text[i] in "!^"
    if negate:
        i += 1
    items: list[str] = []
    chars: list[str] = []
    first = True
    while i < len(text):
        c = text[i]
        if c == "]" and not first:
            break
        first = False
        if i + 2 < len(text) and text[i + 1] == "-" and text[i + 2] != "]":
            lo, hi = c, text[i + 2]
            if lo > hi:  # an empty range matches nothing, as in fnmatch
                items.append("")
            else:
                items.append(f"{re.escape(lo)}-{re.escape(hi)}")
            chars.extend("xx")  # more than one char: not a plain escape
            i += 3
            continue
        items.append(re.escape(c))
        chars.append(c)
        i += 1
    else:
        return None  # no closing bracket: the '[' is a literal character
    body = "".join(items)
    # A negated set never matches `/`; an empty set (only reversed ranges) matches nothing.
    regex = f"[^/{body}]" if negate else (f"[{body}]" if body else "(?!)")
    single = chars[0] if len(chars) == 1 and not negate else None
    return regex, single, i + 1


def compile_segment(text: str) -> Segment:
    """Compile one pattern segment (no `/` inside) into a `Segment`."""
    if text == "**":
        return Segment(text, None, None, True, False)
    parts: list[str] = []
    literal_chars: list[str] = []
    is_literal = True
    i = 0
    while i < len(text):
        c = text[i]
        if c == "*":
            # `**` inside a segment is just `*`: it cannot cross a `/`.
            while i < len(text) and text[i] == "*":
                i += 1
            parts.append("[^/]*")
            is_literal = False
            continue
        if c == "?":
            parts.append("[^/]")
            is_literal = False
            i += 1
            continue
        if c == "[":
            parsed = _parse_bracket(text, i)
            if parsed is not None:
                regex, single, i = parsed
                parts.append(regex)
                if single is not None:
                    literal_chars.append(single)
                else:
                    is_literal = False
                continue
        parts.append(re.escape(c))
        literal_chars.append(c)
        i += 1
    literal = "".join(literal_chars) if is_literal else None
    return Segment(text, literal, re.compile("".join(parts), re.DOTALL), False, text.startswith("."))


def compile_pattern(pattern: str) -> list[Segment]:
    """Split a pattern on `/` (the only separator on Linux) and compile each non-empty segment."""
    return [compile_segment(part) for part in pattern.split("/") if part not in ("", ".")]


def has_wildcards(pattern: str) -> bool:
    """Whether a pattern can match more than one name (bracket escapes such as `abc[*]` do not count)."""
    return any(s.literal is None for s in compile_pattern(pattern))


def _match_segments(segments: list[Segment], parts: list[str]) -> bool:
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head.globstar:
        if not rest:  # a trailing `**` matches every non-dot file below, at any depth
            return bool(parts) and not any(p.startswith(".") for p in parts)
        # Zero directories, or swallow one non-dot directory and try again.
        if _match_segments(rest, parts):
            return True
        return len(parts) > 1 and not parts[0].startswith(".") and _match_segments(segments, parts[1:])
    return bool(parts) and head.matches(parts[0]) and _match_segments(rest, parts[1:])


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether a `/`-separated path (relative to the same base as the pattern) matches the pattern.

    Pure string matching, no file system and no variable expansion: `pattern_matches("**/*.txt",
    "a/b.txt")` is True, `pattern_matches("*.gif", ".a.gif")` is False. `..` segments match
    literally, so `pattern_matches("../std*.txt", "../stdout.txt")` is True.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return _match_segments(compile_pattern(pattern), parts)


@dataclass(frozen=True)
class Match:
    """One file a pattern matched: where it is, and its path below the pattern's fixed directory."""

    path: Path
    relative: str


def _split_fixed(segments: list[Segment]) -> tuple[list[str], list[Segment]]:
    # The leading run of literal segments is a directory to start from; the rest is walked.
    fixed: list[str] = []
    for i, seg in enumerate(segments):
        if seg.literal is None:
            return fixed, segments[i:]
        fixed.append(seg.literal)
    return fixed, []


def _walk(directory: Path, segments: list[Segment], relative: tuple[str, ...]) -> Iterator[Match]:
    head, rest = segments[0], segments[1:]
    if head.globstar:
        if rest:
            yield from _walk(directory, rest, relative)
        else:  # a trailing `**` matches every non-dot file below
            yield from _walk(directory, [compile_segment("*")], relative)
        for entry in _scandir(directory):
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), segments, (*relative, entry.name))
        return
    if head.literal is not None:
        child = directory / head.literal
        names = [(child, head.literal)] if os.path.lexists(child) else []
    else:
        names = [(Path(e.path), e.name) for e in _scandir(directory) if head.matches(e.name)]
    for child, name in names:
        if rest:
            if child.is_dir():
                yield from _walk(child, rest, (*relative, name))
        elif child.is_file():
            yield Match(child, "/".join((*relative, name)))


def _scandir(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def find_matches(pattern: str, working_dir: Path) -> tuple[Path, list[Match]]:
    """The files an (already expanded) pattern matches: (the pattern's fixed directory, matches).

    A relative pattern starts at `working_dir`; the fixed directory is the pattern's leading
    wildcard-free segments (for `../std*.txt`, the task directory). For a wildcard-free pattern the
    result has at most one match, whose `relative` is the file's name.
    """
    absolute = pattern.startswith("/")
    segments = compile_pattern(pattern)
    fixed, rest = _split_fixed(segments)
    base = Path(os.path.normpath(Path("/" if absolute else working_dir, *fixed)))
    if not rest:
        if base.is_file():
            return base.parent, [Match(base, base.name)]
        return base.parent, []
    if not base.is_dir():
        return base, []
    seen: set[Path] = set()
    matches: list[Match] = []
    for match in _walk(base, rest, ()):
        if match.path not in seen:  # `**/**/x` can reach one file twice
            seen.add(match.path)
            matches.append(match)
    return base, matches


def blob_name(pattern: str, path: str | None, match: Match) -> str:
    """The blob name of one matched file: `path` itself for a wildcard-free pattern, else `path/<rel>`."""
    if not has_wildcards(pattern):
        return path if path else match.relative
    prefix = (path or "").strip("/")
    return f"{prefix}/{match.relative}" if prefix else match.relative


def condition_applies(upload_condition: str | None, exit_code: int | None) -> bool:
    """Whether an `uploadCondition` applies to a task that ended with `exit_code` (None: no exit code).

    `tasksuccess`: exit code 0; `taskfailure`: a non-zero exit code or none at all;
    `taskcompletion` (also the default when absent): always.
    """
    condition = (upload_condition or "taskcompletion").lower()
    if condition == "tasksuccess":
        return exit_code == 0
    if condition == "taskfailure":
        return exit_code != 0
    return True


# --------------------------------------------------------------------------------------------------
# Upload headers
# --------------------------------------------------------------------------------------------------

_CONTENT_HEADERS = {
    "x-ms-blob-content-type": "content_type",
    "content-type": "content_type",
    "x-ms-blob-content-encoding": "content_encoding",
    "content-encoding": "content_encoding",
    "x-ms-blob-content-language": "content_language",
    "content-language": "content_language",
    "x-ms-blob-content-disposition": "content_disposition",
    "x-ms-blob-cache-control": "cache_control",
    "cache-control": "cache_control",
}


@dataclass
class UploadSettings:
    """What `uploadHeaders` turn into on the azure-storage-blob upload call."""

    content: dict[str, Any]
    metadata: dict[str, str]
    tags: dict[str, str]
    tier: str | None
    ignored: list[str]


def upload_settings(headers: Iterable[Mapping[str, Any]] | None) -> UploadSettings:
    """Map Put Blob request headers (`[{name, value}]`) to content settings, metadata, tags and tier.

    `x-ms-blob-content-*`, `x-ms-blob-cache-control` (and the plain `Content-*` forms) become
    ContentSettings, `x-ms-blob-content-md5` the stored MD5, `x-ms-meta-<name>` metadata,
    `x-ms-tags` blob index tags and `x-ms-access-tier` the tier. Other headers are reported in
    `ignored` (written to fileuploaderr.txt) rather than silently dropped.
    """
    settings = UploadSettings({}, {}, {}, None, [])
    for header in headers or ():
        name = str(header.get("name") or "")
        value = "" if header.get("value") is None else str(header.get("value"))
        key = name.lower()
        if key in _CONTENT_HEADERS:
            settings.content[_CONTENT_HEADERS[key]] = value
        elif key == "x-ms-blob-content-md5":
            settings.content["content_md5"] = bytearray(base64.b64decode(value))
        elif key.startswith("x-ms-meta-"):
            settings.metadata[name[len("x-ms-meta-") :]] = value
        elif key == "x-ms-tags":
            settings.tags.update(dict(parse_qsl(value, keep_blank_values=True)))
        elif key == "x-ms-access-tier":
            settings.tier = value
        else:
            settings.ignored.append(name)
    return settings


# --------------------------------------------------------------------------------------------------
# Uploading
# --------------------------------------------------------------------------------------------------


class UploadFailure(Exception):
    """An output file could not be uploaded; carries Batch's failure code.

    `where` names the file: its path on the node, the pattern that matched it and its destination
    (without the SAS). The service's failureInfo names them as `FilePath`, `FilePattern` and
    `FileDestination` details (a recorded failureInfo in microsoft/ga4gh-tes#343); the emulator adds
    the reason as a `Message` detail after them.
    """

    def __init__(
        self, code: str, message: str, detail: str, where: tuple[str, str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.where = where

    def failure_info(self) -> dict[str, Any]:
        """The wire-shape `failureInfo` (category usererror, as for every file upload error)."""
        details = []
        if self.where is not None:
            path, pattern, destination = self.where
            details = [
                {"name": "FilePath", "value": path},
                {"name": "FilePattern", "value": pattern},
                {"name": "FileDestination", "value": destination},
            ]
        return {
            "category": "usererror",
            "code": self.code,
            "message": self.message,
            "details": [*details, {"name": "Message", "value": self.detail}],
        }


def _redact(url: str) -> str:
    # Logs and failure details never show a SAS signature.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _classify(exc: BaseException, job: _Job) -> UploadFailure:
    from azure.core.exceptions import HttpResponseError

    target = f"{_redact(job.container_url)}/{job.blob}"
    where = (str(job.source), job.pattern, target)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = getattr(exc, "error_code", None) or ""
        detail = f"{target}: HTTP {status} {code}".strip()
        if status == 404:
            return UploadFailure("FileUploadContainerNotFound", CONTAINER_NOT_FOUND_MESSAGE, detail, where)
        if status in (401, 403):
            # The service's message (microsoft/ga4gh-tes#343); the code is the emulator's choice.
            return UploadFailure(
                "FileUploadAuthenticationFailed",
                "Access to one of the specified file upload destinations was denied",
                f"{detail}; check that the SAS grants write permission and has not expired",
                where,
            )
        return UploadFailure(
            "FileUploadMiscError",
            "Miscellaneous error encountered while uploading an output file",
            detail,
            where,
        )
    return UploadFailure(
        "FileUploadMiscError",
        "Miscellaneous error encountered while uploading an output file",
        f"{target}: {type(exc).__name__}: {str(exc).split('?', 1)[0]}",
        where,
    )


class _Log:
    """Thread-safe appender for fileuploadout.txt / fileuploaderr.txt."""

    def __init__(self, task_dir: Path) -> None:
        task_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._out = open(task_dir / "fileuploadout.txt", "a", encoding="utf-8")  # noqa: SIM115
        self._err = open(task_dir / "fileuploaderr.txt", "a", encoding="utf-8")  # noqa: SIM115

    def _write(self, stream: Any, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock:
            stream.write(f"{stamp} {line}\n")
            stream.flush()

    def out(self, line: str) -> None:
        self._write(self._out, line)

    def err(self, line: str) -> None:
        self._write(self._err, line)

    def close(self) -> None:
        self._out.close()
        self._err.close()


@dataclass
class _Job:
    source: Path
    container_url: str
    blob: str
    settings: UploadSettings
    pattern: str  # the filePattern as written, for the failureInfo


class _Uploader:
    """Uploads files to containers, one cached ContainerClient per container URL."""

    def __init__(self, log: _Log, max_single_put_size: int, block_size: int) -> None:
        self.log = log
        self.max_single_put_size = max_single_put_size
        self.block_size = block_size
        self._clients: dict[str, Any] = {}
        self._dead: dict[str, UploadFailure] = {}
        self._lock = threading.Lock()

    def _client(self, container_url: str) -> Any:
        from azure.storage.blob import ContainerClient, LinearRetry

        with self._lock:
            client = self._clients.get(container_url)
            if client is None:
                client = ContainerClient.from_container_url(
                    container_url,
                    max_single_put_size=self.max_single_put_size,
                    max_block_size=self.block_size,
                    # Storage's default backoff (15 s, then 18 s, 24 s...) keeps a task `running` for
                    # about 85 s when the destination does not answer at all; a few retries one second
                    # apart fail it within seconds with the same FileUploadMiscError.
                    retry_policy=LinearRetry(backoff=1, random_jitter_range=1, retry_total=3),
                    connection_timeout=10,
                )
                self._clients[container_url] = client
            return client

    def upload(self, job: _Job) -> UploadFailure | None:
        from azure.storage.blob import ContentSettings

        target = f"{_redact(job.container_url)}/{job.blob}"
        with self._lock:
            dead = self._dead.get(job.container_url)
        if dead is not None:  # the container already refused us: do not hammer it per file
            self.log.err(f"Skipped {job.source} -> {target}: {dead.code}")
            return dead
        size = job.source.stat().st_size
        self.log.out(f"Uploading {job.source} ({size} bytes) to {target}")
        started = time.monotonic()
        try:
            blob = self._client(job.container_url).get_blob_client(job.blob)
            kwargs: dict[str, Any] = {}
            if job.settings.content:
                kwargs["content_settings"] = ContentSettings(**job.settings.content)
            if job.settings.metadata:
                kwargs["metadata"] = job.settings.metadata
            if job.settings.tags:
                kwargs["tags"] = job.settings.tags
            if job.settings.tier:
                kwargs["standard_blob_tier"] = job.settings.tier
            with open(job.source, "rb") as data:
                blob.upload_blob(
                    data, length=size, overwrite=True, max_concurrency=BLOCK_CONCURRENCY, **kwargs
                )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Batch failure code
            failure = _classify(exc, job)
            if failure.code in ("FileUploadContainerNotFound", "FileUploadAuthenticationFailed"):
                with self._lock:
                    self._dead.setdefault(job.container_url, failure)
            self.log.err(f"Failed to upload {job.source} to {target}: {failure.code}: {failure.detail}")
            return failure
        elapsed = max(time.monotonic() - started, 1e-6)
        self.log.out(f"Uploaded {job.source} to {target} in {elapsed:.3f}s ({size / elapsed / 1e6:.1f} MB/s)")
        return None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _plan(
    output_file: Mapping[str, Any],
    exit_code: int | None,
    task_dir: Path,
    working_dir: Path,
    environment: Mapping[str, str],
    log: _Log,
) -> list[_Job]:
    pattern_text = str(output_file.get("filePattern") or "")
    condition = (output_file.get("uploadOptions") or {}).get("uploadCondition")
    if not condition_applies(condition, exit_code):
        log.out(
            f"Skipped {pattern_text!r}: uploadCondition {condition} does not apply to exit code {exit_code}"
        )
        return []
    container = (output_file.get("destination") or {}).get("container") or {}
    container_url = str(container.get("containerUrl") or "")
    if not container_url:
        raise UploadFailure(
            "FileUploadMiscError", "An output file has no destination containerUrl", pattern_text
        )
    pattern = expand_variables(pattern_text, environment)
    base, matches = find_matches(pattern, working_dir)
    if not pattern.startswith("/") and not base.resolve().is_relative_to(task_dir.resolve()):
        raise UploadFailure(
            "FileUploadMiscError",
            "An output file pattern reaches outside the task directory",
            f"{pattern_text!r} resolves to {base}; relative patterns may use '..' only within the task directory",
        )
    if not pattern.startswith("/"):
        # `..` after a wildcard (`*/../../x`) or a link the task planted can still point a match
        # out of the task directory: every match must resolve inside it, or nothing is uploaded.
        root = task_dir.resolve()
        for match in matches:
            if not match.path.resolve().is_relative_to(root):
                raise UploadFailure(
                    "FileUploadMiscError",
                    "An output file pattern reaches outside the task directory",
                    f"{pattern_text!r} matched {match.relative!r}, which resolves outside the task directory",
                )
    if not matches:
        log.out(f"Pattern {pattern_text!r} matched no files")
        return []
    settings = upload_settings(container.get("uploadHeaders"))
    if settings.ignored:
        log.err(f"Ignored unsupported upload headers for {pattern_text!r}: {', '.join(settings.ignored)}")
    path = container.get("path")
    return [_Job(m.path, container_url, blob_name(pattern, path, m), settings, pattern_text) for m in matches]


def upload_output_files(
    output_files: Iterable[Mapping[str, Any]],
    *,
    exit_code: int | None,
    task_dir: Path,
    working_dir: Path,
    environment: Mapping[str, str],
    max_single_put_size: int = MAX_SINGLE_PUT_SIZE,
    block_size: int = BLOCK_SIZE,
) -> dict[str, Any] | None:
    """Upload the wire-shape `output_files` that apply to `exit_code`; failureInfo of the first failure.

    Every output file and every match is attempted even after a failure (a container that refused
    one upload is not asked again), so the logs list all problems; the returned failureInfo is the
    first in output-file order, None when all went up. Small files go up several at a time, large
    ones (above `max_single_put_size`) in parallel blocks of `block_size`.
    """
    output_files = list(output_files)
    if not output_files:
        return None
    log = _Log(task_dir)
    uploader = _Uploader(log, max_single_put_size, block_size)
    failures: list[UploadFailure] = []
    try:
        jobs: list[_Job] = []
        for output_file in output_files:
            try:
                jobs.extend(_plan(output_file, exit_code, task_dir, working_dir, environment, log))
            except UploadFailure as failure:
                log.err(f"{failure.code}: {failure.message}: {failure.detail}")
                failures.append(failure)
        started = time.monotonic()
        total = sum(job.source.stat().st_size for job in jobs)
        if len(jobs) == 1:
            results = [uploader.upload(jobs[0])]
        else:
            with ThreadPoolExecutor(max_workers=FILE_CONCURRENCY, thread_name_prefix="upload") as pool:
                results = list(pool.map(uploader.upload, jobs))
        failures.extend(r for r in results if r is not None)
        elapsed = max(time.monotonic() - started, 1e-6)
        log.out(
            f"Upload finished: {len(jobs) - sum(r is not None for r in results)} of {len(jobs)} files, "
            f"{total} bytes in {elapsed:.3f}s"
        )
    finally:
        uploader.close()
        log.close()
    return failures[0].failure_info() if failures else None
