"""The client side: discover, list and download a job's and its tasks' outputs by kind.

This module owns :class:`OutputReader`, what a report, a portal or a consumer uses after (or while)
a job runs. It discovers which tasks saved outputs and which kinds exist by walking the container's
virtual directories, then lists and downloads through :class:`~.storage.JobOutputStorage` and
:class:`~.storage.TaskOutputStorage`; :meth:`OutputReader.summary` totals them per task and kind.
It reads the job's current run by default; ``run=`` reads an earlier run that was moved under
``$PreviousRuns/<run>/`` (:meth:`OutputReader.previous_runs` names them). It needs list + read on the
container. It imports the standard library, ``azure-storage-blob`` and this package's :mod:`naming`
and :mod:`storage`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob import BlobServiceClient, ContainerClient

from .naming import (
    LIBRARY_PREFIX,
    PREVIOUS_RUNS_PREFIX,
    job_output_container_name,
    parse_output_name,
    previous_run_prefix,
)
from .storage import JobOutputStorage, OutputFile, TaskOutputStorage

__all__ = ["KindSummary", "OutputReader"]

#: Top-level names that are not outputs of the run being read.
_RESERVED = (LIBRARY_PREFIX, PREVIOUS_RUNS_PREFIX)


@dataclass(frozen=True)
class KindSummary:
    """The outputs of one kind of one task (``task_id`` None: the job's own): how many, how many bytes."""

    task_id: str | None
    kind: str
    count: int
    size: int


class OutputReader:
    """Read access to one job's output container.

    ``reader.job`` lists job outputs (``reader.job.list_outputs("JobOutput")``), ``reader.task(id)``
    a task's; :meth:`task_ids` and :meth:`kinds` discover what is there; :meth:`outputs` walks
    everything; :meth:`download` copies it to a folder laid out like the container
    (``<dir>/$JobOutput/...``, ``<dir>/<taskId>/$TaskLog/...``).
    """

    def __init__(self, container: ContainerClient, *, run: str | None = None) -> None:
        self.container = container
        #: None for the current run, else the earlier run read (see :meth:`previous_runs`).
        self.run = run
        self.root = "" if run is None else previous_run_prefix(run)
        self.job = JobOutputStorage(container, root=self.root)

    @classmethod
    def from_blob_service(
        cls, service: BlobServiceClient, job_id: str, *, run: str | None = None
    ) -> OutputReader:
        return cls(service.get_container_client(job_output_container_name(job_id)), run=run)

    @classmethod
    def from_connection_string(
        cls, connection_string: str, job_id: str, *, run: str | None = None
    ) -> OutputReader:
        return cls.from_blob_service(
            BlobServiceClient.from_connection_string(connection_string), job_id, run=run
        )

    @classmethod
    def from_container_url(cls, container_url: str, *, run: str | None = None) -> OutputReader:
        return cls(ContainerClient.from_container_url(container_url), run=run)

    def previous_runs(self) -> list[str]:
        """The earlier runs of this job id kept apart in the container, oldest first (names sort by time)."""
        runs = []
        for item in self.container.walk_blobs(name_starts_with=PREVIOUS_RUNS_PREFIX, delimiter="/"):
            if item.name.endswith("/"):
                runs.append(item.name[len(PREVIOUS_RUNS_PREFIX) : -1])
        return sorted(runs)

    def previous_run(self, run: str) -> OutputReader:
        """A reader of one earlier run (a name from :meth:`previous_runs`)."""
        return OutputReader(self.container, run=run)

    def exists(self) -> bool:
        """Whether the job's output container exists (nothing was saved if not)."""
        return bool(self.container.exists())

    def task(self, task_id: str) -> TaskOutputStorage:
        return TaskOutputStorage(self.container, task_id, root=self.root)

    def task_ids(self) -> Iterator[str]:
        """The ids of the tasks that have at least one output, in name order."""
        for item in self.container.walk_blobs(name_starts_with=self.root or None, delimiter="/"):
            name = item.name[len(self.root) :]
            # Top-level "directories" are task ids; "$<kind>/" are the job's own outputs. Batch ids
            # never start with "$", so the two cannot be confused.
            if name.endswith("/") and not name.startswith("$"):
                yield name[:-1]

    def kinds(self, task_id: str | None = None) -> list[str]:
        """The kinds present for the job (``task_id=None``) or one task, without the ``$``."""
        prefix = self.root + ("" if task_id is None else f"{task_id}/")
        found = []
        for item in self.container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            segment = item.name[len(prefix) :]
            if task_id is None and not self.root and item.name.startswith(_RESERVED):
                continue  # the library wheel and earlier runs are no job outputs
            if segment.startswith("$") and segment.endswith("/"):
                found.append(segment[1:-1])
        return found

    def outputs(
        self, *, kinds: Iterable[str] | None = None, task_ids: Iterable[str] | None = None
    ) -> Iterator[tuple[str | None, OutputFile]]:
        """Every output as ``(task_id, output)``; ``task_id`` is None for job outputs.

        ``kinds`` limits the kinds (default: all found); ``task_ids`` limits the tasks (default:
        the job's own outputs and every task's; pass ``[]`` for job outputs only).
        """
        wanted = None if kinds is None else {str(k) for k in kinds}
        if task_ids is None:
            for kind in self.kinds():
                if wanted is None or kind in wanted:
                    for output in self.job.list_outputs(kind):
                        yield None, output
        for task_id in self.task_ids() if task_ids is None else task_ids:
            storage = self.task(task_id)
            for kind in self.kinds(task_id):
                if wanted is None or kind in wanted:
                    for output in storage.list_outputs(kind):
                        yield task_id, output

    def summary(self) -> list[KindSummary]:
        """Per task and kind (the job's own first), how many outputs and bytes: one listing call."""
        totals: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0])
        for item in self.container.list_blobs(name_starts_with=self.root or None):
            parsed = parse_output_name(item.name[len(self.root) :])
            if parsed is None:
                continue  # the library, earlier runs, names not laid out by kind
            key = (parsed[0], parsed[1])
            totals[key][0] += 1
            totals[key][1] += int(item.size or 0)
        ordered = sorted(totals.items(), key=lambda e: (e[0][0] is not None, e[0][0] or "", e[0][1]))
        return [KindSummary(task, kind, count, size) for (task, kind), (count, size) in ordered]

    def download(
        self,
        directory: str | os.PathLike[str],
        *,
        kinds: Iterable[str] | None = None,
        task_ids: Iterable[str] | None = None,
    ) -> list[Path]:
        """Download the outputs chosen as in :meth:`outputs` under ``directory``; returns the files."""
        return [
            output.download_under(directory, full_name=True)
            for _, output in self.outputs(kinds=kinds, task_ids=task_ids)
        ]
