"""Resource files: real downloads from Azurite (httpUrl, storageContainerUrl + blobPrefix), modes, failures."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from localbatch.resourcefiles import (
    download_resource_files,
    parse_file_mode,
    validate_resource_file,
)


@pytest.fixture
def inputs(azurite_storage: Any) -> tuple[str, Any]:
    """A fresh container holding a few input blobs in virtual directories."""
    name = f"in-{uuid.uuid4().hex[:12]}"
    container = azurite_storage.create_container(name)
    for blob, data in {
        "data/a.csv": b"a,1\n",
        "data/sub/b.csv": b"b,2\n",
        "data-extra.txt": b"extra\n",
        "other/c.txt": b"c\n",
        "top.txt": b"top\n",
    }.items():
        container.upload_blob(blob, data)
    return name, container


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_http_url_with_a_read_sas(tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any]) -> None:
    name, _ = inputs
    failure = download_resource_files(
        [
            {"httpUrl": azurite_storage.blob_url(name, "data/a.csv"), "filePath": "in/a.csv"},
            {"httpUrl": azurite_storage.blob_url(name, "top.txt"), "filePath": "top.txt", "fileMode": "0644"},
        ],
        tmp_path,
    )
    assert failure is None
    assert (tmp_path / "in" / "a.csv").read_bytes() == b"a,1\n"
    assert _mode(tmp_path / "in" / "a.csv") == 0o770  # the documented default
    assert _mode(tmp_path / "top.txt") == 0o644


def test_container_url_with_prefix_keeps_virtual_directories(
    tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any]
) -> None:
    name, _ = inputs
    url = azurite_storage.container_url(name, "rl")  # read + list, as Batch documents
    assert (
        download_resource_files(
            [{"storageContainerUrl": url, "blobPrefix": "data/", "filePath": "inputs"}], tmp_path
        )
        is None
    )
    assert _files(tmp_path) == {"inputs/data/a.csv": b"a,1\n", "inputs/data/sub/b.csv": b"b,2\n"}
    assert _mode(tmp_path / "inputs/data/sub/b.csv") == 0o770


def test_container_url_prefix_may_be_part_of_a_name(
    tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any]
) -> None:
    name, _ = inputs
    url = azurite_storage.container_url(name, "rl")
    assert (
        download_resource_files(
            [{"storageContainerUrl": url, "blobPrefix": "data", "fileMode": "600"}], tmp_path
        )
        is None
    )
    assert set(_files(tmp_path)) == {"data/a.csv", "data/sub/b.csv", "data-extra.txt"}
    assert _mode(tmp_path / "data-extra.txt") == 0o600


def test_container_url_without_prefix_downloads_everything(
    tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any]
) -> None:
    name, _ = inputs
    assert (
        download_resource_files(
            [{"storageContainerUrl": azurite_storage.container_url(name, "rl")}], tmp_path
        )
        is None
    )
    assert set(_files(tmp_path)) == {
        "data/a.csv",
        "data/sub/b.csv",
        "data-extra.txt",
        "other/c.txt",
        "top.txt",
    }


@pytest.mark.parametrize(
    ("make", "code", "category"),
    [
        (lambda s, n: {"httpUrl": s.blob_url(n, "nope.txt"), "filePath": "x"}, "BlobNotFound", "usererror"),
        (
            lambda s, n: {"httpUrl": s.blob_url("no-such-container", "a"), "filePath": "x"},
            "BlobNotFound",
            "usererror",
        ),
        (
            lambda s, n: {"httpUrl": s.blob_url(n, "top.txt", "cw"), "filePath": "x"},
            "BlobAccessDenied",
            "usererror",
        ),
        (
            lambda s, n: {"storageContainerUrl": s.container_url("no-such-container", "rl")},
            "BlobNotFound",
            "usererror",
        ),
        (
            lambda s, n: {"storageContainerUrl": s.container_url(n, "r")},
            "BlobAccessDenied",
            "usererror",
        ),  # no list
        (
            lambda s, n: {"httpUrl": "http://127.0.0.1:9/x", "filePath": "x"},
            "BlobDownloadMiscError",
            "servererror",
        ),
    ],
    ids=[
        "missing-blob",
        "missing-container",
        "sas-without-read",
        "container-missing",
        "sas-without-list",
        "refused",
    ],
)
def test_download_failures(
    tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any], make: Any, code: str, category: str
) -> None:
    name, _ = inputs
    failure = download_resource_files([make(azurite_storage, name)], tmp_path)
    assert failure is not None
    assert (failure["category"], failure["code"]) == (category, code)
    assert "sig=" not in str(failure)  # the SAS never leaks into the task's failureInfo
    assert not (tmp_path / "x").exists()  # no partial file left behind


def test_first_failure_stops_later_downloads(
    tmp_path: Path, azurite_storage: Any, inputs: tuple[str, Any]
) -> None:
    name, _ = inputs
    failure = download_resource_files(
        [
            {"httpUrl": azurite_storage.blob_url(name, "missing"), "filePath": "m"},
            {"httpUrl": azurite_storage.blob_url(name, "top.txt"), "filePath": "top.txt"},
        ],
        tmp_path,
    )
    assert failure is not None and failure["code"] == "BlobNotFound"
    assert not (tmp_path / "top.txt").exists()


@pytest.mark.parametrize(
    ("resource_file", "problem"),
    [
        ({"httpUrl": "http://x/a"}, "filePath is required"),
        ({"httpUrl": "http://x/a", "filePath": "../a"}, "may not escape"),
        ({"httpUrl": "http://x/a", "filePath": "sub/../../a"}, "may not escape"),
        ({"httpUrl": "http://x/a", "filePath": "/etc/passwd"}, "must be relative"),
        ({"storageContainerUrl": "http://x/c", "filePath": ".."}, "may not escape"),
        ({"httpUrl": "http://x/a", "storageContainerUrl": "http://x/c", "filePath": "a"}, "Exactly one"),
        ({"filePath": "a"}, "Exactly one"),
        ({"httpUrl": "http://x/a", "filePath": "a", "blobPrefix": "p"}, "blobPrefix"),
        ({"httpUrl": "http://x/a", "filePath": "a", "fileMode": "rwx"}, "octal"),
        ({"httpUrl": "http://x/a", "filePath": "a", "fileMode": "0999"}, "octal"),
    ],
)
def test_invalid_resource_files(tmp_path: Path, resource_file: dict[str, Any], problem: str) -> None:
    reason = validate_resource_file(resource_file)
    assert reason is not None and problem in reason
    failure = download_resource_files([resource_file], tmp_path)
    assert failure is not None and failure["code"] == "ResourceFileCreateFailed"
    assert problem in failure["details"][0]["value"]


def test_valid_resource_files_and_modes() -> None:
    assert validate_resource_file({"httpUrl": "http://x/a", "filePath": "dir/a.txt"}) is None
    assert validate_resource_file({"storageContainerUrl": "http://x/c", "blobPrefix": "p/"}) is None
    assert [parse_file_mode(m) for m in (None, "", "0770", "644", "0o600", "4755")] == [
        0o770,
        0o770,
        0o770,
        0o644,
        0o600,
        0o4755,
    ]


def test_auto_storage_is_refused_clearly(tmp_path: Path) -> None:
    failure = download_resource_files([{"autoStorageContainerName": "inputs"}], tmp_path)
    assert failure is not None and failure["code"] == "BlobDownloadMiscError"
    assert "auto-storage" in failure["details"][0]["value"]


def test_unreachable_container_fails_within_seconds(tmp_path: Path) -> None:
    """A `storageContainerUrl` nothing answers at (a closed port) fails pre-processing with
    BlobDownloadMiscError in seconds: azure-storage-blob's default backoff (15 s, 18 s) kept the task
    in pre-processing for about 45 s first.
    """
    import socket
    import time

    with socket.socket() as probe:  # a port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    failure = download_resource_files(
        [{"storageContainerUrl": f"http://127.0.0.1:{port}/devstoreaccount1/inputs?sig=secret"}], tmp_path
    )
    assert time.monotonic() - started < 15
    assert failure is not None and failure["code"] == "BlobDownloadMiscError"
    assert "secret" not in str(failure)
