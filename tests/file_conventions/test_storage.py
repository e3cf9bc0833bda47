"""Saving, listing and fetching outputs by kind against real Azurite, and reading them as a client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from batch_file_conventions import (
    JobOutputKind,
    JobOutputStorage,
    OutputReader,
    TaskOutputKind,
    TaskOutputStorage,
)
from fc_helpers import JobContainer

pytestmark = pytest.mark.azurite


@pytest.fixture
def in_task_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Batch-like task folder: ``stdout.txt`` beside the working directory ``wd``, the current dir."""
    wd = tmp_path / "wd"
    wd.mkdir()
    (tmp_path / "stdout.txt").write_text("task stdout\n")
    monkeypatch.chdir(wd)
    return wd


def test_save_uploads_a_block_blob_under_the_task_and_kind(
    job_container: JobContainer, in_task_dir: Path
) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(), "analysis-309")
    (in_task_dir / "out").mkdir()
    (in_task_dir / "out" / "result.csv").write_text("a,b\n1,2\n")
    saved = storage.save(TaskOutputKind.TASK_OUTPUT, "out/result.csv")
    assert saved.blob_name == "analysis-309/$TaskOutput/out/result.csv"
    assert job_container.blob_bytes(saved.blob_name) == b"a,b\n1,2\n"
    props = job_container.admin.get_blob_client(saved.blob_name).get_blob_properties()
    assert props.blob_type == "BlockBlob"
    assert props.content_settings.content_type.startswith("text/csv")
    # Saving again overwrites.
    (in_task_dir / "out" / "result.csv").write_text("a,b\n3,4\n")
    storage.save(TaskOutputKind.TASK_OUTPUT, "out/result.csv")
    assert job_container.blob_bytes(saved.blob_name) == b"a,b\n3,4\n"


def test_leading_parent_segments_are_stripped_as_in_dotnet(
    job_container: JobContainer, in_task_dir: Path
) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(), "t1")
    saved = storage.save(TaskOutputKind.TASK_LOG, "../stdout.txt")
    assert saved.blob_name == "t1/$TaskLog/stdout.txt"
    assert storage.get_output(TaskOutputKind.TASK_LOG, "stdout.txt").download_text() == "task stdout\n"


def test_absolute_paths_need_a_destination(job_container: JobContainer, in_task_dir: Path) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(), "t1")
    absolute = in_task_dir.parent / "stdout.txt"
    with pytest.raises(ValueError, match="absolute"):
        storage.save(TaskOutputKind.TASK_LOG, absolute)
    with pytest.raises(ValueError, match="absolute"):
        storage.track(TaskOutputKind.TASK_LOG, absolute)
    saved = storage.save(TaskOutputKind.TASK_LOG, absolute, "logs/stdout.txt")
    assert saved.blob_name == "t1/$TaskLog/logs/stdout.txt"
    with pytest.raises(ValueError, match="rooted"):
        storage.save(TaskOutputKind.TASK_LOG, absolute, "/etc/stdout.txt")


def test_save_text_and_get_output(job_container: JobContainer) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(), "t1")
    storage.save_text(TaskOutputKind.TASK_PREVIEW, "héllo ✓", "preview/summary")
    output = storage.get_output(TaskOutputKind.TASK_PREVIEW, "preview/summary")
    assert output.download_text() == "héllo ✓"
    assert output.size == len("héllo ✓".encode())
    assert output.blob.get_blob_properties().content_settings.content_type == "text/plain; charset=utf-8"
    with pytest.raises(FileNotFoundError, match="TaskPreview output 'preview/missing'"):
        storage.get_output(TaskOutputKind.TASK_PREVIEW, "preview/missing")


def test_listings_are_exact_per_kind_and_per_task(job_container: JobContainer) -> None:
    url = job_container.sas_url()
    task = TaskOutputStorage.from_container_url(url, "task-1")
    other = TaskOutputStorage.from_container_url(url, "task-10")
    log = TaskOutputKind.TASK_LOG
    archive = TaskOutputKind.custom("TaskLogArchive")
    task.save_text(log, "live", "app.log")
    task.save_text(archive, "old", "app.log.1")
    other.save_text(log, "other task", "app.log")
    # A plain prefix without the trailing slash (what .NET lists by) mixes the two kinds.
    assert len(list(job_container.admin.list_blobs(name_starts_with="task-1/$TaskLog"))) == 2
    assert [(o.kind, o.path) for o in task.list_outputs(log)] == [("TaskLog", "app.log")]
    assert [(o.kind, o.path) for o in task.list_outputs(archive)] == [("TaskLogArchive", "app.log.1")]
    assert [o.download_text() for o in other.list_outputs(log)] == ["other task"]


@pytest.mark.parametrize(
    "path",
    [
        "résultats/été 2024/carte ✓.txt",
        "with spaces/and #hash %percent ?query &amp; +plus.txt",
        "/".join(f"level-{i:02d}-{'x' * 30}" for i in range(20)) + "/deep.txt",
        "日本語/ファイル.log",
    ],
    ids=["unicode", "punctuation", "long", "cjk"],
)
def test_odd_and_long_paths_round_trip(job_container: JobContainer, tmp_path: Path, path: str) -> None:
    storage = TaskOutputStorage.from_container_url(job_container.sas_url(), "task-odd")
    source = tmp_path / "source.bin"
    source.write_bytes(path.encode())
    kind = TaskOutputKind.custom("Odd")
    saved = storage.save(kind, source, path)
    assert saved.path == path
    assert [o.path for o in storage.list_outputs(kind)] == [path]
    assert storage.get_output(kind, path).download_bytes() == path.encode()
    downloaded = storage.download_outputs(kind, tmp_path / "down")
    assert downloaded == [(tmp_path / "down" / path).resolve()]
    assert downloaded[0].read_bytes() == path.encode()


def test_a_job_id_needing_the_hashed_container_name(
    make_job_container: Callable[..., JobContainer], storage_service: BlobServiceClient
) -> None:
    # A vector of docs/file-conventions.md (Batch Explorer's spec file).
    job = make_job_container("my-_EVEN_MORE_-terrific-job")
    assert job.name == "job-my-even-more-te-68b05a7d8aa6aa65b9a6892c667a6c406a16ad65"
    # The task (SAS URL of that container) and a client (account key + job id) meet in the same place.
    task = TaskOutputStorage.from_container_url(job.sas_url(), "frame-0001")
    task.save_text(TaskOutputKind.TASK_OUTPUT, "pixels", "frame-0001.png")
    client_side = TaskOutputStorage.from_blob_service(
        storage_service, "MY-_even_more_-TERRIFIC-JOB", "frame-0001"
    )
    assert client_side.get_output(TaskOutputKind.TASK_OUTPUT, "frame-0001.png").download_bytes() == b"pixels"


def test_job_outputs_live_beside_task_outputs_and_have_no_tracked_saves(
    make_job_container: Callable[..., JobContainer], storage_service: BlobServiceClient, tmp_path: Path
) -> None:
    job = JobOutputStorage.from_blob_service(storage_service, "merge-job-7")
    assert job.prepare() is True
    assert job.prepare() is False
    merged = tmp_path / "merged.txt"
    merged.write_text("all frames\n")
    saved = job.save(JobOutputKind.JOB_OUTPUT, merged, "out/merged.txt")
    assert saved.blob_name == "$JobOutput/out/merged.txt"
    job.save_text(JobOutputKind.JOB_PREVIEW, "thumb", "preview.txt")
    job.task("t1").save_text(TaskOutputKind.TASK_OUTPUT, "frame", "f.txt")
    assert [o.path for o in job.list_outputs(JobOutputKind.JOB_OUTPUT)] == ["out/merged.txt"]
    assert not hasattr(job, "track")


def test_reader_discovers_and_downloads_a_jobs_outputs(
    job_container: JobContainer, storage_service: BlobServiceClient, tmp_path: Path
) -> None:
    url = job_container.sas_url()
    JobOutputStorage.from_container_url(url).save_text(JobOutputKind.JOB_OUTPUT, "summary", "summary.txt")
    for task_id in ("task-b", "task-a"):
        storage = TaskOutputStorage.from_container_url(url, task_id)
        storage.save_text(TaskOutputKind.TASK_OUTPUT, f"{task_id} result", "result.txt")
        storage.save_text(TaskOutputKind.TASK_LOG, f"{task_id} log", "stdout.txt")
    reader = OutputReader.from_blob_service(storage_service, job_container.job_id)
    assert reader.exists()
    assert list(reader.task_ids()) == ["task-a", "task-b"]
    assert reader.kinds() == ["JobOutput"]
    assert reader.kinds("task-a") == ["TaskLog", "TaskOutput"]
    logs = [(task_id, o.path) for task_id, o in reader.outputs(kinds=["TaskLog"])]
    assert logs == [("task-a", "stdout.txt"), ("task-b", "stdout.txt")]
    files = reader.download(tmp_path / "all")
    root = (tmp_path / "all").resolve()
    assert sorted(p.relative_to(root).as_posix() for p in files) == [
        "$JobOutput/summary.txt",
        "task-a/$TaskLog/stdout.txt",
        "task-a/$TaskOutput/result.txt",
        "task-b/$TaskLog/stdout.txt",
        "task-b/$TaskOutput/result.txt",
    ]
    assert (root / "task-b" / "$TaskOutput" / "result.txt").read_text() == "task-b result"
    assert not OutputReader.from_blob_service(storage_service, "never-ran").exists()


def test_from_environment_reads_the_documented_variables(job_container: JobContainer) -> None:
    env = {"AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL": job_container.sas_url(), "AZ_BATCH_TASK_ID": "env-task"}
    storage = TaskOutputStorage.from_environment(env)
    storage.save_text(TaskOutputKind.TASK_OUTPUT, "x", "x.txt")
    assert job_container.blob_bytes("env-task/$TaskOutput/x.txt") == b"x"
    with pytest.raises(LookupError, match="AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL"):
        TaskOutputStorage.from_environment({"AZ_BATCH_TASK_ID": "t"})
    with pytest.raises(LookupError, match="AZ_BATCH_TASK_ID"):
        TaskOutputStorage.from_environment(
            {"AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL": job_container.sas_url()}
        )
