"""Fetch the consumer job's outputs by kind, as a client of the File Conventions does.

The reader (``batch_file_conventions.OutputReader``) finds the job's container by the conventions
(``job-<id>``), lists every task's outputs by kind and downloads them laid out like the container::

    python fetch_outputs.py                          # list all outputs of consumer-report-job
    python fetch_outputs.py --summary                # per task and kind: how many files, how many bytes
    python fetch_outputs.py --kind TaskOutput --to out   # download the TaskOutput files under ./out

It reads the job's current run; ``--run NAME`` reads an earlier run of the same job id, kept apart under
``$PreviousRuns/NAME/`` when the job was replaced (``--summary`` names them).

The storage account comes from the endpoints file of the local emulators (``make emulators``); on
Azure, build the reader with ``OutputReader.from_blob_service`` and your credential instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from batch_file_conventions import OutputReader

from pulumi_azbatch.endpoints import Endpoints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-id", default="consumer-report-job")
    parser.add_argument("--kind", action="append", help="TaskOutput, TaskLog, ... (default: every kind)")
    parser.add_argument("--to", type=Path, help="download into this directory instead of listing")
    parser.add_argument("--summary", action="store_true", help="count outputs per task and kind")
    parser.add_argument("--run", help="an earlier run of the job id (see --summary)")
    parser.add_argument("--endpoints-file", type=Path, default=Path("../../.local/endpoints.json"))
    args = parser.parse_args(argv)
    endpoints = Endpoints.read(args.endpoints_file)
    reader = OutputReader.from_connection_string(
        endpoints.storage_connection_string, args.job_id, run=args.run
    )
    if not reader.exists():
        print(f"job {args.job_id} has saved no outputs")
        return 1
    if args.summary:
        for kind in reader.summary():
            if args.kind is None or kind.kind in args.kind:
                print(f"{kind.task_id or '(job)'}\t{kind.kind}\t{kind.count} file(s)\t{kind.size} bytes")
        for run in reader.previous_runs():
            print(f"earlier run: {run}")
        return 0
    if args.to is not None:
        for path in reader.download(args.to, kinds=args.kind):
            print(path)
        return 0
    for task_id, output in reader.outputs(kinds=args.kind):
        print(f"{task_id or '(job)'}\t{output.kind}\t{output.path}\t{output.size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
