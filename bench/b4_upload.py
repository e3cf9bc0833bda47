"""B4 output upload: MB/s through the emulator's output-file upload versus a direct azure-storage-blob upload.

Both sides upload the same files to the same Azurite: the emulator side calls
``localbatch.runtime.upload_outputs`` (what a task's ``outputFiles`` go through), the direct side is
what a careful user writes with the SDK: one ``upload_blob(..., max_concurrency=8)`` per file, small
files eight at a time on a thread pool. Two file sets, measured separately: one large file (512 MiB;
quick mode 32 MiB) and many small ones (1,000 x 64 KiB; quick mode 150). Interleaved best of 3, each
run into a fresh virtual directory that is deleted afterwards. Goal: emulator / direct ≥ 0.8.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas
from localbatch.runtime import TaskRun, task_directory, task_environment, upload_outputs

from .common import MIB, BenchResult, Context, Ratio, Row, best_of_interleaved


def _make_files(wd: Path, sub: str, count: int, size: int) -> list[Path]:
    (wd / sub).mkdir(parents=True, exist_ok=True)
    files = []
    block = os.urandom(min(size, MIB))
    for i in range(count):
        path = wd / sub / f"part-{i:05d}.bin"
        with open(path, "wb") as out:
            written = 0
            while written < size:
                # Vary each MiB so no layer can deduplicate or compress the payload away.
                chunk = block[: size - written]
                out.write(chunk[:-8] + written.to_bytes(8, "little") if len(chunk) >= 8 else chunk)
                written += len(chunk)
        files.append(path)
    return files


def _direct(container_url: str, files: list[Path], wd: Path, prefix: str) -> None:
    with ContainerClient.from_container_url(container_url) as container:

        def put(path: Path) -> None:
            with open(path, "rb") as data:
                container.upload_blob(
                    f"{prefix}/{path.relative_to(wd).as_posix()}", data, overwrite=True, max_concurrency=8
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, files))


def _via_emulator(container_url: str, node_root: Path, task_dir: Path, sub: str, prefix: str) -> None:
    env = task_environment(
        account_name="bench",
        account_url="http://127.0.0.1",
        pool_id="p",
        node_id="n",
        node_root=node_root,
        task_dir=task_dir,
        job_id="job",
        task_id="task",
    )
    outputs = [
        {
            "filePattern": f"{sub}/*",
            "destination": {"container": {"containerUrl": container_url, "path": f"{prefix}/{sub}"}},
            "uploadOptions": {"uploadCondition": "taskcompletion"},
        }
    ]
    failure = upload_outputs(TaskRun(node_root, task_dir, "true", env, [], outputs, None), 0)
    if failure is not None:
        raise RuntimeError(f"upload_outputs failed: {failure}")


def run(ctx: Context) -> BenchResult:
    large_mib = 32 if ctx.quick else 512
    small_count = 150 if ctx.quick else 1000
    result = BenchResult("B4")
    endpoints = ctx.endpoints
    name = "bench-upload"
    admin = ContainerClient.from_connection_string(endpoints.storage_connection_string, name)
    admin.create_container()
    sas = generate_container_sas(
        endpoints.storage_account_name,
        name,
        account_key=endpoints.storage_account_key,
        permission=ContainerSasPermissions(create=True, write=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    container_url = f"{endpoints.blob_url}/{name}?{sas}"
    node_root = ctx.scratch / "b4-node"
    task_dir = task_directory(node_root, "job", "task")
    wd = task_dir / "wd"
    try:
        for case, sub, count, size in (
            (f"1 x {large_mib} MiB", "large", 1, large_mib * MIB),
            (f"{small_count:,} x 64 KiB", "small", small_count, 64 * 1024),
        ):
            files = _make_files(wd, sub, count, size)
            total = count * size

            def clean(prefix: str) -> None:
                for blob in admin.list_blobs(name_starts_with=f"{prefix}/"):
                    admin.delete_blob(blob.name)

            def emulator(i: int, sub: str = sub) -> float:
                import time

                prefix = f"emu-{sub}-{i}"
                started = time.perf_counter()
                _via_emulator(container_url, node_root, task_dir, sub, prefix)
                elapsed = time.perf_counter() - started
                clean(prefix)
                return elapsed

            def direct(i: int, files: list[Path] = files, sub: str = sub) -> float:
                import time

                prefix = f"direct-{sub}-{i}"
                started = time.perf_counter()
                _direct(container_url, files, wd, prefix)
                elapsed = time.perf_counter() - started
                clean(prefix)
                return elapsed

            runs = best_of_interleaved(3, {"emulator": emulator, "direct": direct})
            rates = {k: total / min(v) / 1e6 for k, v in runs.items()}
            ratio = rates["emulator"] / rates["direct"]
            result.rows.append(
                Row(
                    "B4 upload",
                    case,
                    f"emulator {rates['emulator']:,.0f} MB/s, direct {rates['direct']:,.0f} MB/s",
                    "emulator/direct",
                    Ratio(ratio, True, 0.8),
                    "≥ 0.8",
                )
            )
            result.data[sub] = {"bytes": total, "files": count, "seconds": runs, "mb_s": rates}
            for path in files:
                path.unlink()
    finally:
        admin.delete_container()
        admin.close()
    return result
