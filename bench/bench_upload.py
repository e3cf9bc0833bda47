"""Output file upload throughput: `localbatch.runtime.upload_outputs` vs a direct azure-storage-blob upload.

Both upload the same files to the same Azurite (started privately for the run): by default one
64 MiB file and 200 files of 64 KiB. The direct baseline is what a careful user would write with the
SDK: one `upload_blob(..., max_concurrency=8)` per file, small files eight at a time on a thread
pool. Each case runs `--repeat` times (alternating) into a fresh virtual directory; the median is reported.

    .venv/bin/python bench/bench_upload.py [--large-mib 64] [--small-count 200] [--small-kib 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas
from localbatch.runtime import TaskRun, task_directory, task_environment, upload_outputs

from pulumi_azbatch.localdev import start_emulators

MIB = 1024 * 1024


def _make_files(wd: Path, large_mib: int, small_count: int, small_kib: int) -> tuple[list[Path], int]:
    files: list[Path] = []
    if large_mib:
        (wd / "large").mkdir(parents=True, exist_ok=True)
        big = wd / "large" / "big.bin"
        with open(big, "wb") as out:
            for _ in range(large_mib):
                out.write(os.urandom(MIB))
        files.append(big)
    if small_count:
        (wd / "small").mkdir(parents=True, exist_ok=True)
        for i in range(small_count):
            path = wd / "small" / f"part-{i:05d}.bin"
            path.write_bytes(os.urandom(small_kib * 1024))
            files.append(path)
    return files, sum(p.stat().st_size for p in files)


def _direct(container_url: str, files: list[Path], wd: Path, prefix: str) -> None:
    with ContainerClient.from_container_url(container_url) as container:

        def put(path: Path) -> None:
            with open(path, "rb") as data:
                name = f"{prefix}/{path.relative_to(wd).as_posix()}"
                container.upload_blob(name, data, overwrite=True, max_concurrency=8)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, files))


def _via_runtime(container_url: str, node_root: Path, task_dir: Path, prefix: str) -> None:
    env = task_environment(
        account_name="bench", account_url="http://127.0.0.1", pool_id="p", node_id="n",
        node_root=node_root, task_dir=task_dir, job_id="job", task_id="task",
    )  # fmt: skip
    outputs = [
        {
            "filePattern": pattern,
            "destination": {
                "container": {"containerUrl": container_url, "path": f"{prefix}/{pattern.split('/')[0]}"}
            },
            "uploadOptions": {"uploadCondition": "taskcompletion"},
        }
        for pattern in ("large/*", "small/*")
    ]
    failure = upload_outputs(TaskRun(node_root, task_dir, "true", env, [], outputs, None), 0)
    if failure is not None:
        raise RuntimeError(f"upload_outputs failed: {failure}")


def _measure(repeat: int, total: int, cases: dict[str, Callable[[str], None]]) -> dict[str, float]:
    # The cases alternate run by run, so drift in Azurite (growing data, a busy machine) hits both alike.
    seconds: dict[str, list[float]] = {label: [] for label in cases}
    for i in range(repeat):
        for label, once in cases.items():
            started = time.perf_counter()
            once(f"{label.split()[0]}-{i}")
            seconds[label].append(time.perf_counter() - started)
    rates: dict[str, float] = {}
    for label, runs in seconds.items():
        median = statistics.median(runs)
        rates[label] = total / median
        listed = ", ".join(f"{s:.3f}" for s in runs)
        print(f"  {label:<26} median {median:7.3f}s {total / median / 1e6:8.1f} MB/s  (runs: {listed})")
    return rates


def run(
    *, large_mib: int = 64, small_count: int = 200, small_kib: int = 64, repeat: int = 3
) -> dict[str, Any]:
    """Run the benchmark for one file set; the MB/s of both ways and their ratio (runtime / direct)."""
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        root = Path(tmp)
        emulators = start_emulators(root / "emulators", batch=False)
        try:
            endpoints = emulators.endpoints
            name = "bench-upload"
            admin = ContainerClient.from_connection_string(endpoints.storage_connection_string, name)
            admin.create_container()
            sas = generate_container_sas(
                endpoints.storage_account_name, name, account_key=endpoints.storage_account_key,
                permission=ContainerSasPermissions(create=True, write=True),
                expiry=datetime.now(UTC) + timedelta(hours=2),
            )  # fmt: skip
            container_url = f"{endpoints.blob_url}/{name}?{sas}"
            node_root = root / "node"
            task_dir = task_directory(node_root, "job", "task")
            wd = task_dir / "wd"
            files, total = _make_files(wd, large_mib, small_count, small_kib)
            print(
                f"upload of {len(files)} files, {total / MIB:.1f} MiB ({large_mib} MiB + {small_count} x {small_kib} KiB):"
            )
            rates = _measure(
                repeat,
                total,
                {
                    "direct azure-storage-blob": lambda p: _direct(container_url, files, wd, p),
                    "upload_outputs": lambda p: _via_runtime(container_url, node_root, task_dir, p),
                },
            )
            direct, runtime = rates["direct azure-storage-blob"], rates["upload_outputs"]
            admin.close()
        finally:
            emulators.stop()
    ratio = runtime / direct
    print(f"  ratio upload_outputs / direct: {ratio:.2f}")
    return {"direct_mb_s": direct / 1e6, "upload_outputs_mb_s": runtime / 1e6, "ratio": ratio, "bytes": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--large-mib", type=int, default=64, help="size of the one large file (0: none)")
    parser.add_argument("--small-count", type=int, default=200, help="number of small files (0: none)")
    parser.add_argument("--small-kib", type=int, default=64, help="size of each small file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--separate", action="store_true", help="also measure the large and small sets on their own"
    )
    args = parser.parse_args(argv)
    run(large_mib=args.large_mib, small_count=args.small_count, small_kib=args.small_kib, repeat=args.repeat)
    if args.separate:
        run(large_mib=args.large_mib, small_count=0, small_kib=args.small_kib, repeat=args.repeat)
        run(large_mib=0, small_count=args.small_count, small_kib=args.small_kib, repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
