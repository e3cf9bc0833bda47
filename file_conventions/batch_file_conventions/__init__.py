"""Azure Batch File Conventions for Python tasks and clients: save, stream, list and fetch outputs by kind.

A port of the .NET ``Microsoft.Azure.Batch.Conventions.Files`` library that runs on a node without
Pulumi: it depends on ``azure-storage-blob`` only. The package owns the naming rules
(:mod:`.naming`, re-exported by ``pulumi_azbatch.conventions``), task and job storage
(:mod:`.storage`), tracked saves of growing files (:mod:`.tracked`), the client-side reader
(:mod:`.reader`) and the ``batch-outputs`` command line (:mod:`.cli`).
"""

from __future__ import annotations

from .naming import (
    LIBRARY_PREFIX,
    PREVIOUS_RUNS_PREFIX,
    JobOutputKind,
    TaskOutputKind,
    is_current_run_blob,
    job_output_container_name,
    job_output_path,
    job_output_prefix,
    normalize_relative_path,
    parse_output_name,
    previous_run_prefix,
    task_output_path,
    task_output_prefix,
)
from .reader import KindSummary, OutputReader
from .storage import (
    CONTAINER_URL_ENV,
    JOB_ID_ENV,
    TASK_ID_ENV,
    JobOutputStorage,
    OutputFile,
    TaskOutputStorage,
)
from .tracked import DEFAULT_FLUSH_INTERVAL, TrackedFile

__all__ = [
    "CONTAINER_URL_ENV",
    "DEFAULT_FLUSH_INTERVAL",
    "JOB_ID_ENV",
    "LIBRARY_PREFIX",
    "PREVIOUS_RUNS_PREFIX",
    "TASK_ID_ENV",
    "JobOutputKind",
    "JobOutputStorage",
    "KindSummary",
    "OutputFile",
    "OutputReader",
    "TaskOutputKind",
    "TaskOutputStorage",
    "TrackedFile",
    "job_output_container_name",
    "job_output_path",
    "job_output_prefix",
    "is_current_run_blob",
    "normalize_relative_path",
    "parse_output_name",
    "previous_run_prefix",
    "task_output_path",
    "task_output_prefix",
]
