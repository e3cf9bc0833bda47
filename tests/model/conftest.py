"""Tests of the job, pool and storage models (no Pulumi, no network)."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import `job_samples` from this folder (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))
