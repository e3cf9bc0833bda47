"""Resource files: downloading a task's inputs into its working directory before it starts.

Two of Batch's three sources are supported (reference §9): `httpUrl` (a plain HTTP GET of any URL,
for example an Azurite blob URL with a read SAS; `filePath` is required and is the full target path)
and `storageContainerUrl` with an optional `blobPrefix` (a container URL with a read+list SAS; the
blobs are listed and downloaded through azure-storage-blob, keeping their virtual directories below
the optional target directory `filePath`). `autoStorageContainerName` needs an account's linked
auto-storage, which the emulator does not have, and fails with a clear message.

A failure makes the task fail at start-up with a `failureInfo` of Batch's codes: `BlobNotFound` and
`BlobAccessDenied` (usererror) for a 404 / 403, `BlobDownloadTimedOut` and `BlobDownloadMiscError`
(servererror) otherwise. A container URL whose prefix matches no blob downloads nothing and is not
an error (the documentation does not say otherwise).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

DEFAULT_FILE_MODE = 0o770
# Seconds without progress before a download counts as timed out.
DOWNLOAD_TIMEOUT_SECONDS = 60.0
_CHUNK = 1 << 20


class ResourceFileError(Exception):
    """A resource file could not be downloaded; carries Batch's failure category and code."""

    def __init__(self, category: str, code: str, message: str, detail: str) -> None:
        super().__init__(message)
        self.category = category
        self.code = code
        self.message = message
        self.detail = detail

    def failure_info(self) -> dict[str, Any]:
        """The wire-shape `failureInfo` for this error."""
        return {
            "category": self.category,
            "code": self.code,
            "message": self.message,
            "details": [{"name": "Message", "value": self.detail}],
        }


def _not_found(detail: str) -> ResourceFileError:
    return ResourceFileError("usererror", "BlobNotFound", "The specified blob does not exist", detail)


def _access_denied(detail: str) -> ResourceFileError:
    return ResourceFileError(
        "usererror", "BlobAccessDenied", "Access for one of the specified blobs is denied", detail
    )


def _misc(detail: str) -> ResourceFileError:
    return ResourceFileError(
        "servererror",
        "BlobDownloadMiscError",
        "Miscellaneous error encountered while downloading one of the specified blobs",
        detail,
    )


def _status_error(status: int | None, detail: str) -> ResourceFileError:
    if status == 404:
        return _not_found(detail)
    if status in (401, 403):
        return _access_denied(detail)
    return _misc(detail)


def parse_file_mode(value: str | None) -> int:
    """An octal `fileMode` string (`"0770"`, `"770"`, `"0o644"`) as an int; default 0770."""
    if value is None or value == "":
        return DEFAULT_FILE_MODE
    text = value.strip().lower().removeprefix("0o")
    mode = int(text, 8)  # ValueError for a non-octal string
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"fileMode {value!r} is out of range")
    return mode


def validate_resource_file(resource_file: Mapping[str, Any]) -> str | None:
    """Why a wire-shape resource file is invalid (a message for a 400), or None when it is valid.

    Checks that exactly one source is set, that `blobPrefix` only goes with a container source, that
    `httpUrl` has a `filePath`, that `filePath` stays inside the working directory, and that
    `fileMode` is octal. The model can call this when a task is added; `execute` calls it again.
    """
    sources = [
        k for k in ("httpUrl", "storageContainerUrl", "autoStorageContainerName") if resource_file.get(k)
    ]
    if len(sources) != 1:
        return "Exactly one of httpUrl, storageContainerUrl and autoStorageContainerName must be specified"
    if resource_file.get("blobPrefix") and sources[0] == "httpUrl":
        return "blobPrefix is only valid with storageContainerUrl or autoStorageContainerName"
    file_path = resource_file.get("filePath")
    if sources[0] == "httpUrl" and not file_path:
        return "filePath is required with httpUrl"
    if file_path:
        reason = _file_path_problem(str(file_path))
        if reason:
            return reason
    try:
        parse_file_mode(resource_file.get("fileMode"))
    except ValueError:
        return f"fileMode {resource_file.get('fileMode')!r} is not an octal string"
    return None


def _file_path_problem(file_path: str) -> str | None:
    pure = PurePosixPath(file_path.replace("\\", "/"))
    if pure.is_absolute():
        return f"filePath {file_path!r} must be relative to the task working directory"
    if ".." in pure.parts:
        return f"filePath {file_path!r} may not escape the task working directory ('..' is not allowed)"
    return None


def _inside(root: Path, relative: str) -> Path:
    # Resolve the target and refuse anything outside wd (also blob names with '..' segments).
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ResourceFileError(
            "usererror",
            "ResourceFileCreateFailed",
            "Could not create the resource file",
            f"{relative!r} is outside the task working directory",
        )
    return target


def download_resource_files(
    resource_files: Iterable[Mapping[str, Any]], working_dir: Path
) -> dict[str, Any] | None:
    """Download every resource file into `working_dir`; the failureInfo of the first failure, or None.

    Files get their `fileMode` (default 0770). The first failure stops the downloads, as the task
    cannot start anyway.
    """
    try:
        for resource_file in resource_files:
            download_resource_file(resource_file, working_dir)
    except ResourceFileError as exc:
        return exc.failure_info()
    return None


def download_resource_file(resource_file: Mapping[str, Any], working_dir: Path) -> list[Path]:
    """Download one wire-shape resource file into `working_dir`; the paths written. Raises ResourceFileError."""
    problem = validate_resource_file(resource_file)
    if problem:
        raise ResourceFileError(
            "usererror", "ResourceFileCreateFailed", "Could not create the resource file", problem
        )
    mode = parse_file_mode(resource_file.get("fileMode"))
    file_path = str(resource_file.get("filePath") or "").replace("\\", "/")
    if resource_file.get("httpUrl"):
        target = _inside(working_dir, file_path)
        _download_http(str(resource_file["httpUrl"]), target)
        written = [target]
    elif resource_file.get("storageContainerUrl"):
        written = _download_container(
            str(resource_file["storageContainerUrl"]),
            str(resource_file.get("blobPrefix") or ""),
            working_dir,
            file_path,
        )
    else:
        raise _misc(
            "autoStorageContainerName needs a Batch account with linked auto-storage, which the local "
            "emulator does not have; use storageContainerUrl with a SAS instead"
        )
    for path in written:
        os.chmod(path, mode)
    return written


def _redact(url: str) -> str:
    # Never write a SAS signature into failure details or logs.
    return url.split("?", 1)[0]


def _download_http(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "localbatch-node-agent"})
    try:
        with (
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
            open(target, "wb") as out,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        target.unlink(missing_ok=True)
        raise _status_error(exc.code, f"GET {_redact(url)}: HTTP {exc.code} {exc.reason}") from exc
    except TimeoutError as exc:
        target.unlink(missing_ok=True)
        raise ResourceFileError(
            "servererror",
            "BlobDownloadTimedOut",
            "The download of one of the specified blobs timed out",
            f"GET {_redact(url)}: no data for {DOWNLOAD_TIMEOUT_SECONDS:g}s",
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        raise _misc(f"GET {_redact(url)}: {exc}") from exc


def _download_container(container_url: str, prefix: str, working_dir: Path, file_path: str) -> list[Path]:
    from azure.core.exceptions import AzureError, HttpResponseError
    from azure.storage.blob import ContainerClient, LinearRetry

    written: list[Path] = []
    try:
        # Retries one second apart: Storage's default backoff (15 s, 18 s...) kept a task whose
        # container does not answer in pre-processing for about 45 s before BlobDownloadMiscError.
        container = ContainerClient.from_container_url(
            container_url,
            retry_policy=LinearRetry(backoff=1, random_jitter_range=1, retry_total=2),
            connection_timeout=10,
            read_timeout=DOWNLOAD_TIMEOUT_SECONDS,
        )
        with container:
            for blob in container.list_blobs(name_starts_with=prefix or None):
                if blob.name.endswith("/"):  # a folder marker, not a file
                    continue
                target = _inside(working_dir, f"{file_path}/{blob.name}" if file_path else blob.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with open(target, "wb") as out:
                        container.download_blob(blob.name, max_concurrency=4).readinto(out)
                except BaseException:
                    target.unlink(missing_ok=True)
                    raise
                written.append(target)
    except HttpResponseError as exc:
        raise _status_error(exc.status_code, f"{_redact(container_url)}: {exc.reason or exc}") from exc
    except AzureError as exc:
        raise _misc(f"{_redact(container_url)}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise _misc(f"{_redact(container_url)}: {exc}") from exc
    return written
