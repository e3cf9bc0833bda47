"""Durability: a second emulator process on the same data dir sees everything; running tasks requeue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.batch import models as m
from emulator_helpers import Emulator, pool_options, wait_for, wait_task


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "batch"


def test_state_survives_a_crash_and_running_tasks_are_requeued(data_dir: Path) -> None:
    first = Emulator(data_dir)
    try:
        c = first.client
        c.create_pool(pool_options("pp", nodes=1))
        c.create_job(
            m.BatchJobCreateOptions(
                id="pj",
                pool_info=m.BatchPoolInfo(pool_id="pp"),
                priority=9,
                metadata=[m.BatchMetadataItem(name="k", value="v")],
                job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            )
        )
        c.create_task(c_job := "pj", m.BatchTaskCreateOptions(id="done", command_line="/bin/echo kept"))
        wait_task(c, c_job, "done")
        # Runs ~1.5 s: long enough to be running at the crash, short enough to finish after it.
        c.create_task("pj", m.BatchTaskCreateOptions(id="busy", command_line="/bin/sleep 1.5"))
        wait_task(c, "pj", "busy", state="running")
        etag = c.get_job("pj").etag
    finally:
        first.kill()

    second = Emulator(data_dir)
    try:
        c = second.client
        assert c.get_pool("pp").current_dedicated_nodes == 1
        job = c.get_job("pj")
        assert (job.priority, job.metadata[0].value, job.etag) == (9, "v", etag)
        done = c.get_task("pj", "done")
        assert done.state == "completed" and done.execution_info.exit_code == 0
        assert b"".join(c.download_task_file("pj", "done", "stdout.txt")) == b"kept\n"
        busy = c.get_task("pj", "busy")
        assert busy.execution_info.requeue_count == 1, "a running task is requeued as after a node reboot"
        counts = c.get_job_task_counts("pj").task_counts  # rebuilt from the stored tasks
        assert (counts.completed, counts.succeeded, counts.failed) == (1, 1, 0)
        assert counts.active + counts.running == 1
        busy = wait_task(c, "pj", "busy", timeout=15)
        assert busy.execution_info.exit_code == 0
        assert len(list(c.list_job_preparation_and_release_task_status("pj"))) == 1
    finally:
        second.stop()


def test_clean_restart_and_delete_in_progress(data_dir: Path) -> None:
    first = Emulator(data_dir)
    try:
        first.client.create_pool(pool_options("keep", nodes=2))
        first.client.create_job(m.BatchJobCreateOptions(id="gone", pool_info=m.BatchPoolInfo(pool_id="keep")))
        first.client.begin_delete_job("gone", polling_interval=0.1).result()
    finally:
        first.stop()
    second = Emulator(data_dir)
    try:
        assert [p.id for p in second.client.list_pools()] == ["keep"]
        assert list(second.client.list_jobs()) == []
        assert len(list(second.client.list_nodes("keep"))) == 2
    finally:
        second.stop()


def test_max_nodes_cap(data_dir: Path) -> None:
    emulator = Emulator(data_dir, ["--max-nodes", "3"])
    try:
        c = emulator.client
        c.create_pool(pool_options("a", nodes=2))
        c.create_pool(pool_options("b", nodes=2))
        pool = c.get_pool("b")
        assert pool.current_dedicated_nodes == 1 and pool.target_dedicated_nodes == 2
        assert pool.resize_errors[0].code == "AccountCoreQuotaReached"
        wait_for(lambda: len(list(c.list_nodes("b"))) == 1)
    finally:
        emulator.stop()
