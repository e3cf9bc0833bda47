"""Tracked saves against real Azurite: live streaming, final flush, surfaced failures, retried tasks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient
from batch_file_conventions import TaskOutputKind, TaskOutputStorage, TrackedFile
from fc_helpers import JobContainer, eventually

pytestmark = pytest.mark.azurite

LOG = TaskOutputKind.TASK_LOG


@pytest.fixture
def storage(job_container: JobContainer) -> TaskOutputStorage:
    """Task ``task-1``'s storage through a read/write/list SAS, as a task gets it."""
    return TaskOutputStorage.from_container_url(job_container.sas_url(), "task-1")


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


def test_growing_file_is_streamed_across_several_flushes(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    log = tmp_path / "progress.log"
    log.write_text("step 0\n")
    blob = "task-1/$TaskLog/progress.log"
    with storage.track(LOG, log, "progress.log", flush_interval=0.2) as tracked:
        seen = []
        for step in range(1, 4):
            _append(log, f"step {step}\n")
            expected = log.read_bytes()
            # Each stage reaches the blob while the tracker is still running (no close in between).
            eventually(lambda expected=expected: job_container.blob_bytes(blob) == expected)
            seen.append(tracked.flushes)
        assert seen == sorted(seen) and seen[-1] >= 3
    assert job_container.blob_bytes(blob) == b"step 0\nstep 1\nstep 2\nstep 3\n"
    # Only new bytes were sent each time: the total appended equals the file's size.
    assert tracked.bytes_appended == log.stat().st_size
    props = job_container.admin.get_blob_client(blob).get_blob_properties()
    assert props.blob_type == "AppendBlob"


def test_first_flush_is_immediate_and_exit_flushes_the_rest(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    log = tmp_path / "run.log"
    log.write_text("started\n")
    blob = "task-1/$TaskLog/run.log"
    with storage.track(LOG, log, "run.log", flush_interval=3600):
        # The first flush does not wait for the (hour-long) interval.
        eventually(lambda: job_container.blob_bytes(blob) == b"started\n")
        _append(log, "finished\n")
        time.sleep(0.3)
        assert job_container.blob_bytes(blob) == b"started\n"  # no tick until the interval
    assert job_container.blob_bytes(blob) == b"started\nfinished\n"


def test_a_file_that_appears_later_is_picked_up(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    log = tmp_path / "late.log"
    with storage.track(LOG, log, "late.log", flush_interval=0.1):
        # The blob is listed (empty) from the start, as .NET's EnsureExists does.
        assert [o.path for o in storage.list_outputs(LOG)] == ["late.log"]
        time.sleep(0.2)
        log.write_text("now here\n")
    assert job_container.blob_bytes("task-1/$TaskLog/late.log") == b"now here\n"


def test_failing_flushes_go_to_the_callback_and_the_final_one_raises(
    job_container: JobContainer, tmp_path: Path
) -> None:
    # A SAS that expires while the task runs: a real way for uploads to start failing.
    expiry = datetime.now(UTC) + timedelta(seconds=3)
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(expiry=expiry), "task-1")
    log = tmp_path / "app.log"
    log.write_text("before expiry\n")
    errors: list[BaseException] = []
    lock = threading.Lock()

    def collect(error: BaseException) -> None:
        with lock:
            errors.append(error)

    tracked = storage.track(LOG, log, "app.log", flush_interval=0.2, on_flush_error=collect)
    with pytest.raises(HttpResponseError) as final, tracked:
        eventually(lambda: job_container.blob_bytes("task-1/$TaskLog/app.log") == b"before expiry\n")
        time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 0.5)
        _append(log, "after expiry\n")
        # The timer keeps trying (and reporting) after a failure.
        eventually(lambda: len(errors) >= 2)
    assert final.value.status_code == 403
    assert all(isinstance(e, HttpResponseError) and e.status_code == 403 for e in errors)
    assert tracked.last_error is not None
    assert job_container.blob_bytes("task-1/$TaskLog/app.log") == b"before expiry\n"


def test_a_deleted_blob_is_reported_then_rebuilt_from_the_file(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\n")
    blob = "task-1/$TaskLog/app.log"
    errors: list[BaseException] = []
    with storage.track(LOG, log, "app.log", flush_interval=0.2, on_flush_error=errors.append):
        eventually(lambda: job_container.blob_bytes(blob) == b"one\n")
        job_container.admin.delete_blob(blob)
        _append(log, "two\n")
        eventually(lambda: errors)
    assert getattr(errors[0], "status_code", None) == 404
    assert job_container.blob_bytes(blob) == b"one\ntwo\n"


def test_retracking_the_same_growing_log_resumes_without_duplicating(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    # The task (or its tracker) restarts and keeps appending to the same local log, which .NET would
    # upload again from offset 0 behind what the blob already holds.
    log = tmp_path / "train.log"
    log.write_text("epoch 1\n")
    with storage.track(LOG, log, "train.log", flush_interval=3600):
        pass
    _append(log, "epoch 2\n")
    with storage.track(LOG, log, "train.log", flush_interval=3600) as second:
        pass
    assert job_container.blob_bytes("task-1/$TaskLog/train.log") == b"epoch 1\nepoch 2\n"
    assert second.bytes_appended == len("epoch 2\n") and second.restarts == 0


@pytest.mark.parametrize("permission", ["racwl", "cw"], ids=["read-back", "write-only-sas"])
def test_a_retried_task_with_a_new_log_replaces_the_blob(
    job_container: JobContainer, tmp_path: Path, permission: str
) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(permission), "task-1")
    log = tmp_path / "stdout.txt"
    log.write_text("attempt 1: starting\nattempt 1: crashed\n")
    with storage.track(LOG, log, "stdout.txt", flush_interval=3600):
        pass
    # Batch retries the task: its stdout starts again from nothing.
    log.write_text("attempt 2: starting\n")
    with storage.track(LOG, log, "stdout.txt", flush_interval=0.1):
        _append(log, "attempt 2: done\n")
    assert job_container.blob_bytes("task-1/$TaskLog/stdout.txt") == b"attempt 2: starting\nattempt 2: done\n"


def test_a_write_only_sas_re_uploads_a_resumed_log_once(job_container: JobContainer, tmp_path: Path) -> None:
    # Without read permission the tracker cannot compare, so it rebuilds the blob: still no duplicate.
    storage = TaskOutputStorage.from_container_url(job_container.sas_url("cw"), "task-1")
    log = tmp_path / "x.log"
    log.write_text("a\n")
    with storage.track(LOG, log, "x.log", flush_interval=3600):
        pass
    _append(log, "b\n")
    with storage.track(LOG, log, "x.log", flush_interval=3600) as second:
        pass
    assert job_container.blob_bytes("task-1/$TaskLog/x.log") == b"a\nb\n"
    assert second.restarts == 1


def test_an_append_that_already_landed_is_not_written_twice(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    # What a retried request looks like to the tracker: the blob already holds bytes it thinks are
    # still to send. The append-position condition refuses the duplicate; the next flush reconciles.
    log = tmp_path / "y.log"
    log.write_text("first\n")
    blob = "task-1/$TaskLog/y.log"
    errors: list[BaseException] = []
    with storage.track(LOG, log, "y.log", flush_interval=3600, on_flush_error=errors.append) as tracked:
        tracked.flush()
        _append(log, "second\n")
        ContainerClient.from_container_url(job_container.sas_url()).get_blob_client(blob).append_block(
            b"second\n"
        )
        with pytest.raises(HttpResponseError) as refused:
            tracked.flush()
        assert refused.value.status_code == 412
        _append(log, "third\n")
    assert job_container.blob_bytes(blob) == b"first\nsecond\nthird\n"


def test_a_truncated_file_is_mirrored_again_from_its_start(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    log = tmp_path / "rotating.log"
    log.write_text("old content that is long\n")
    with storage.track(LOG, log, "rotating.log", flush_interval=3600) as tracked:
        tracked.flush()
        log.write_text("new\n")
    assert job_container.blob_bytes("task-1/$TaskLog/rotating.log") == b"new\n"


def test_a_backlog_is_appended_in_blocks_of_max_block(
    storage: TaskOutputStorage, job_container: JobContainer, tmp_path: Path
) -> None:
    data = bytes(range(256)) * (2 * 1024 * 1024 // 256 + 7)  # just over 2 MiB: three 1 MiB blocks
    log = tmp_path / "big.bin"
    log.write_bytes(data)
    blob = storage.container.get_blob_client("task-1/$TaskOutput/big.bin")
    with TrackedFile(blob, log, flush_interval=3600, max_block=1024 * 1024):
        pass
    assert job_container.blob_bytes("task-1/$TaskOutput/big.bin") == data
    assert blob.get_blob_properties().append_blob_committed_block_count == 3


def test_flush_interval_must_be_positive(storage: TaskOutputStorage, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        storage.track(LOG, tmp_path / "a.log", "a.log", flush_interval=0)
