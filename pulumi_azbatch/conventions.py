"""Batch File Conventions naming for the provider: a re-export of ``batch_file_conventions.naming``.

The rules (container name of a job, blob paths by kind, relative-path normalisation) live in the
node-side distribution ``batch-file-conventions`` (folder ``file_conventions/``), which tasks install
without Pulumi; the provider imports them from there so the two sides can never disagree.
"""

from __future__ import annotations

from batch_file_conventions.naming import (
    JobOutputKind,
    TaskOutputKind,
    job_output_container_name,
    job_output_path,
    job_output_prefix,
    normalize_relative_path,
    task_output_path,
    task_output_prefix,
)
from batch_file_conventions.storage import CONTAINER_URL_ENV

__all__ = [
    "CONTAINER_URL_ENV",
    "JobOutputKind",
    "TaskOutputKind",
    "job_output_container_name",
    "job_output_path",
    "job_output_prefix",
    "normalize_relative_path",
    "task_output_path",
    "task_output_prefix",
]
