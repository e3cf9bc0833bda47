"""Job schedules in the stack config: ``azbatch:schedules`` by name, validated offline, errors naming the key."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_azbatch.config import StackConfigError, load_stack_config, load_stack_file, stack_file_schema

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"

POOLS = {
    "cpu": {
        "vm_size": "standard_d2s_v3",
        "image": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
        "node_agent_sku_id": "batch.node.ubuntu 24.04",
        "target_dedicated_nodes": 1,
    }
}
SCHEDULE = {
    "pool": "cpu",
    "schedule": {"recurrence_interval": "PT6H"},
    "job_specification": {
        "job_preparation_task": {"command_line": "/bin/true"},
        "job_release_task": {"command_line": "/bin/true"},
    },
}


def _config(**schedules: Any) -> dict[str, Any]:
    return {"azbatch:pools": copy.deepcopy(POOLS), "azbatch:schedules": copy.deepcopy(schedules)}


def _problems(values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(StackConfigError) as err:
        load_stack_config(values)
    return {f.key: f.reason for f in err.value.failures}


def test_a_stack_of_schedules_only_loads_with_the_pool_filled_in() -> None:
    config = load_stack_config(_config(hourly=SCHEDULE))
    assert config.jobs == {}
    schedule = config.schedules["hourly"]
    assert schedule.id == "hourly", "the id defaults to the entry's name"
    assert schedule.job_specification.pool_id == "cpu" and config.schedule_pools == {"hourly": "cpu"}
    assert schedule.output_container_url is None, "the stack's storage fills it in at deployment"


def test_errors_name_the_yaml_key() -> None:
    bad = copy.deepcopy(SCHEDULE)
    bad["schedule"] = {"recurrence_interval": "PT10S"}
    bad["job_specification"]["tasks"] = [{"id": "a", "command_line": "x"}]
    bad["job_specification"]["pool_id"] = "elsewhere"
    wrong_pool = {**copy.deepcopy(SCHEDULE), "pool": "gpu"}
    problems = _problems(_config(nightly=bad, other=wrong_pool))
    assert "at least 1 minute" in problems["azbatch:schedules.nightly.schedule.recurrence_interval"]
    assert "job_manager_task" in problems["azbatch:schedules.nightly.job_specification.tasks"]
    assert "set by the stack" in problems["azbatch:schedules.nightly.job_specification.pool_id"]
    assert "'gpu' is not a pool" in problems["azbatch:schedules.other.pool"]
    missing = {k: v for k, v in SCHEDULE.items() if k != "job_specification"}
    assert "required" in _problems(_config(x=missing))["azbatch:schedules.x.job_specification"]


def test_a_schedule_cannot_take_a_jobs_id() -> None:
    values = _config(nightly={**SCHEDULE, "id": "Sweep"})
    values["azbatch:jobs"] = {"sweep": {"pool": "cpu", "tasks": [{"id": "a", "command_line": "/bin/true"}]}}
    problems = _problems(values)
    assert "jobs and job schedules share ids" in problems["azbatch:schedules.nightly.id"]


def test_the_example_stack_and_the_schema() -> None:
    config = load_stack_file(STACKS / "Pulumi.nightly.yaml")
    nightly = config.schedules["nightly"]
    assert nightly.id == "nightly-sweep" and nightly.job_specification.job_manager_task is not None
    [output] = nightly.job_specification.job_manager_task.output_files
    assert output.kind == "JobOutput", "each run's outputs under $JobOutput/<job id>/"
    schema = stack_file_schema()
    named = schema["$defs"]["NamedJobSchedule"]
    assert "pool" in named["properties"] and "output_container_url" not in named["properties"]
    spec = schema["$defs"]["NamedJobSpecification"]
    assert "pool_id" not in spec["properties"] and "tasks" not in spec["properties"]
    assert "job_manager_task" in spec["properties"]
    document = yaml.safe_load((STACKS / "Pulumi.nightly.yaml").read_text())
    assert set(document["config"]) <= set(schema["properties"]["config"]["properties"]) | {
        "azure-native:location"
    }


def test_validate_cli_summarises_schedules() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_azbatch.cli", "validate", str(STACKS / "Pulumi.nightly.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schedule nightly-sweep every 1 day" in result.stdout


def test_the_container_rule_runs_on_the_job_specification_naming_its_keys() -> None:
    boxed = copy.deepcopy(SCHEDULE)
    boxed["job_specification"]["job_manager_task"] = {
        "command_line": "python run.py",
        "container_settings": {"image_name": "busybox"},
    }
    problems = _problems(_config(nightly=boxed))
    assert list(problems) == [
        "azbatch:schedules.nightly.job_specification.job_manager_task.container_settings"
    ]
    assert "pool 'cpu' has no container_configuration" in problems[next(iter(problems))]
    # The converse: on a container pool the job manager (the run's regular task) must run in a container.
    plain = copy.deepcopy(SCHEDULE)
    plain["job_specification"]["job_manager_task"] = {"command_line": "python run.py"}
    values = _config(nightly=plain)
    values["azbatch:pools"]["cpu"]["container_configuration"] = {"container_image_names": ["busybox"]}
    problems = _problems(values)
    assert list(problems) == ["azbatch:schedules.nightly.job_specification.job_manager_task"]
    assert (
        "runs its tasks only in containers"
        in problems["azbatch:schedules.nightly.job_specification.job_manager_task"]
    )
    values["azbatch:schedules"]["nightly"] = boxed
    manager = load_stack_config(values).schedules["nightly"].job_specification.job_manager_task
    assert manager is not None and manager.container_settings is not None
