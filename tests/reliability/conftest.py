"""Fixtures of the reliability tests: emulators of their own (they arm faults and kill processes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules import `harness` from this folder (pytest runs in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LocalStack, clear_faults  # noqa: E402


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Azurite and the Batch emulator for one test module, on free loopback ports."""
    stack = LocalStack(tmp_path_factory.mktemp("emulators")).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def no_faults(local: LocalStack) -> Iterator[LocalStack]:
    """The module's emulators, with every armed fault cleared after the test (also on failure)."""
    clear_faults(local.batch_url)
    try:
        yield local
    finally:
        if local.batch is not None and local.batch.poll() is None:
            clear_faults(local.batch_url)
