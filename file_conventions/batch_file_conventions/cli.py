"""``batch-outputs``: the Batch File Conventions from a shell task (save, run with live logs, list, get).

This module owns the command line. It imports the standard library and this package only.

On a node the storage comes from the environment (``AZ_BATCH_FILE_CONVENTIONS_CONTAINER_URL``,
``AZ_BATCH_TASK_ID``); a client passes ``--connection-string`` (or ``AZURE_STORAGE_CONNECTION_STRING``)
and ``--job-id``. ``--job`` switches from the task's outputs to the job's.

    batch-outputs save --kind TaskOutput result.csv [--dest results/result.csv]
    batch-outputs run [--flush-interval 5] [--track progress.log:TaskLog] -- python train.py
    batch-outputs list --kind TaskLog
    batch-outputs get --kind TaskLog stdout.txt [-o local.txt]
    batch-outputs download --kind TaskOutput ./outputs

``run`` tees the command's stdout and stderr to this process's own (so Batch's ``stdout.txt`` and
``stderr.txt`` still get them) and to ``$TaskLog/stdout.txt`` and ``$TaskLog/stderr.txt`` (append
blobs, flushed every ``--flush-interval`` seconds), then flushes a last time and exits with the
command's exit code (128 + N if a signal N ended it). If the command succeeded but the final flush
failed, it exits with 1: the logs it promised are not stored.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from .naming import TaskOutputKind
from .storage import CONTAINER_URL_ENV, TASK_ID_ENV, JobOutputStorage, TaskOutputStorage
from .tracked import TrackedFile

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
DEFAULT_RUN_FLUSH_INTERVAL = 5.0
_PIPE_READ = 64 * 1024


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch-outputs", description="Save, stream, list and fetch Azure Batch outputs by kind."
    )
    where = parser.add_argument_group("storage (defaults from the Batch task's environment)")
    where.add_argument(
        "--container-url", help=f"job output container URL with a SAS (default: ${CONTAINER_URL_ENV})"
    )
    where.add_argument("--task-id", help=f"task whose outputs to use (default: ${TASK_ID_ENV})")
    where.add_argument("--job", action="store_true", help="use the job's outputs rather than a task's")
    where.add_argument(
        "--connection-string", help=f"storage connection string (default: ${CONNECTION_STRING_ENV})"
    )
    where.add_argument("--job-id", help="job id, to find its container from --connection-string")
    sub = parser.add_subparsers(dest="command", required=True)

    save = sub.add_parser("save", help="upload a file as an output of a kind")
    save.add_argument("--kind", required=True)
    save.add_argument("file")
    save.add_argument("--dest", help="path under the kind (required for an absolute FILE)")

    run = sub.add_parser("run", help="run a command, streaming its stdout/stderr to $TaskLog live")
    run.add_argument("--flush-interval", type=float, default=DEFAULT_RUN_FLUSH_INTERVAL, metavar="S")
    run.add_argument(
        "--track", action="append", default=[], metavar="FILE:KIND", help="also mirror FILE (repeatable)"
    )
    run.add_argument("--log-kind", default=str(TaskOutputKind.TASK_LOG), help="kind of stdout/stderr")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")

    listing = sub.add_parser("list", help="list the outputs of a kind (path and size)")
    listing.add_argument("--kind", required=True)

    get = sub.add_parser("get", help="print or save one output")
    get.add_argument("--kind", required=True)
    get.add_argument("path")
    get.add_argument("-o", "--output", help="file to write (default: standard output)")

    download = sub.add_parser("download", help="download every output of a kind into a folder")
    download.add_argument("--kind", required=True)
    download.add_argument("directory")
    return parser


def _storage(args: argparse.Namespace) -> TaskOutputStorage | JobOutputStorage:
    connection = args.connection_string or os.environ.get(CONNECTION_STRING_ENV)
    url = args.container_url or os.environ.get(CONTAINER_URL_ENV)
    job: JobOutputStorage
    if url:
        job = JobOutputStorage.from_container_url(url)
    elif connection and args.job_id:
        job = JobOutputStorage.from_blob_service(
            BlobServiceClient.from_connection_string(connection), args.job_id
        )
    else:
        raise SystemExit(
            f"batch-outputs: no storage: set ${CONTAINER_URL_ENV} (as a Batch job hands its tasks) or pass "
            "--container-url, or --connection-string with --job-id"
        )
    if args.job:
        return job
    task_id = args.task_id or os.environ.get(TASK_ID_ENV)
    if not task_id:
        raise SystemExit(f"batch-outputs: no task: set ${TASK_ID_ENV} or pass --task-id (or --job)")
    return job.task(task_id)


def _pump(pipe: BinaryIO, local: BinaryIO, echo: BinaryIO) -> None:
    """Copy a child's pipe to the tracked local file and to our own stream, as the bytes arrive."""
    fd = pipe.fileno()
    echoing = True
    while True:
        data = os.read(fd, _PIPE_READ)
        if not data:
            break
        local.write(data)
        local.flush()
        if echoing:
            try:
                echo.write(data)
                echo.flush()
            except OSError:
                # Our own stream is gone (closed pipe): keep draining the child into the log, or it
                # would block on a full pipe.
                echoing = False


def _parse_track(spec: str) -> tuple[str, str]:
    path, sep, kind = spec.rpartition(":")
    if not sep or not path or not kind:
        raise SystemExit(f"batch-outputs: --track {spec!r}: expected FILE:KIND")
    return path, kind


def _run(storage: TaskOutputStorage, args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise SystemExit("batch-outputs run: no command given (batch-outputs run [options] -- CMD ARGS)")
    extra = [_parse_track(spec) for spec in args.track]

    def report(error: BaseException) -> None:
        print(f"batch-outputs: a log flush failed (retried at the next flush): {error}", file=sys.stderr)

    scratch = Path(tempfile.mkdtemp(prefix="batch-outputs-"))
    trackers: list[TrackedFile] = []
    streams = []
    try:
        for name in ("stdout.txt", "stderr.txt"):
            local = scratch / name
            streams.append(open(local, "wb"))  # noqa: SIM115 - closed in the finally below
            trackers.append(
                storage.track(
                    args.log_kind, local, name, flush_interval=args.flush_interval, on_flush_error=report
                )
            )
        for path, kind in extra:
            trackers.append(
                storage.track(kind, path, flush_interval=args.flush_interval, on_flush_error=report)
            )

        try:
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        except OSError as error:
            message = f"batch-outputs: cannot run {cmd[0]!r}: {error}\n".encode()
            streams[1].write(message)
            streams[1].flush()
            sys.stderr.buffer.write(message)
            code = 127
        else:
            code = _wait_with_pumps(child, streams[0], streams[1])
    finally:
        for stream in streams:
            stream.close()
        failed = False
        for tracker in trackers:
            try:
                tracker.close()
            except Exception as error:  # report every tracker's failure, not only the first
                failed = True
                print(f"batch-outputs: final flush of {tracker.source.name} failed: {error}", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)
    if failed and code == 0:
        return 1
    return code


def _wait_with_pumps(child: subprocess.Popen[bytes], out: BinaryIO, err: BinaryIO) -> int:
    assert child.stdout is not None and child.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(child.stdout, out, sys.stdout.buffer), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, err, sys.stderr.buffer), daemon=True),
    ]
    for pump in pumps:
        pump.start()

    # Batch terminates a task with SIGTERM: pass it on, then still flush the logs.
    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for pump in pumps:
        pump.join()
    return returncode if returncode >= 0 else 128 - returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    storage = _storage(args)
    if args.command == "run" and not isinstance(storage, TaskOutputStorage):
        raise SystemExit("batch-outputs run: tracked saves are for task outputs (drop --job)")
    try:
        if args.command == "run":
            assert isinstance(storage, TaskOutputStorage)
            return _run(storage, args)
        if args.command == "save":
            saved = storage.save(args.kind, args.file, args.dest)
            print(saved.blob_name)
        elif args.command == "list":
            for output in storage.list_outputs(args.kind):
                print(f"{output.path}\t{output.size}")
        elif args.command == "get":
            output = storage.get_output(args.kind, args.path)
            if args.output:
                output.download_to_file(args.output)
            else:
                output.download_to_stream(sys.stdout.buffer)
                sys.stdout.buffer.flush()
        elif args.command == "download":
            for path in storage.download_outputs(args.kind, args.directory):
                print(path)
    except (ValueError, FileNotFoundError) as error:
        print(f"batch-outputs: {error}", file=sys.stderr)
        return 2
    except AzureError as error:
        # E.g. `run` could not create its log blobs: it fails before starting the command, rather
        # than run it with logs that would be lost.
        print(f"batch-outputs: storage error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
