"""The stack config model: the committed stacks, the offline validator CLI, the schema, and bad configs.

Every bad config in the corpus must be rejected with an error that names the YAML key a user has to
fix (``azbatch:pool.vm_size: ...``), because that is what a GitOps pull-request check shows.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_azbatch.config import (
    PoolRef,
    StackConfigError,
    load_stack_config,
    load_stack_file,
    stack_file_schema,
)
from pulumi_azbatch.conventions import job_output_container_name

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"


def _stack(name: str) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]


# ---- the committed stacks --------------------------------------------------------------------------


def test_local_stack_is_the_seed_scenario() -> None:
    config = load_stack_file(STACKS / "Pulumi.local.yaml")
    assert config.backend == "local"
    assert config.pool.target_dedicated_nodes == 2
    job = config.job
    assert job.pool_id == config.pool.id, "the stack fills the job's pool_id from azbatch:pool.id"
    assert job.output_container_url is None, "the output storage provides the container URL"
    assert "AZ_BATCH_NODE_SHARED_DIR/job_prep_and_release.txt" in job.job_preparation_task.command_line
    assert job.job_release_task.command_line.startswith("/bin/sh -c")
    assert "rm -f" in job.job_release_task.command_line
    tasks = job.expand_tasks()
    assert len(tasks) == 4
    assert all(">>" in t.command_line and "output.txt" in t.command_line for t in tasks)
    assert config.container_name() == job_output_container_name(job.id) == "job-jobprepreleasesamplejob"
    # the release task deletes the file the report reads, so the job must stay active after its tasks
    assert job.on_all_tasks_complete == "noaction"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_azure_stacks_are_valid(name: str) -> None:
    config = load_stack_file(STACKS / f"Pulumi.{name}.yaml")
    assert config.backend == "azure"
    assert config.azure is not None and config.azure.location == "westeurope"


def test_validate_cli_accepts_the_committed_stacks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_azbatch.cli", "validate", str(STACKS)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("local", "dev", "prod"):
        assert f"Pulumi.{name}.yaml: ok" in result.stdout


def test_validate_cli_fails_naming_the_key(tmp_path: Path) -> None:
    config = _stack("local")
    config["azbatch:pool"]["vm_size"] = ""
    config["azbatch:job"]["job_release_task"]["max_wall_clock_time"] = "PT20M"
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump({"config": config}))
    (tmp_path / "Pulumi.good.yaml").write_text(yaml.safe_dump({"config": _stack("local")}))
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_azbatch.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert "Pulumi.good.yaml: ok" in result.stdout
    assert "azbatch:pool.vm_size:" in result.stdout
    assert "azbatch:job.job_release_task.max_wall_clock_time:" in result.stdout
    assert "1 of 2 stack file(s) invalid" in result.stderr


def test_validate_cli_with_nothing_to_validate_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_azbatch.cli", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 2


def test_committed_schema_is_current() -> None:
    committed = json.loads((STACKS / "schema.json").read_text())
    assert committed == stack_file_schema(), "run `make schema` to regenerate stacks/schema.json"


def test_schema_describes_the_keys_and_the_job() -> None:
    schema = stack_file_schema()
    props = schema["properties"]["config"]["properties"]
    assert set(props) == {
        f"azbatch:{k}"
        for k in ("backend", "local", "azure", "pools", "jobs", "schedules", "pool", "storage", "job")
    }
    named = schema["$defs"]["NamedJob"]
    assert "pool" in named["properties"] and "pool_id" not in named["properties"]
    assert "id" not in named["required"] and "id" not in schema["$defs"]["NamedPool"]["required"]
    job = schema["$defs"]["JobSpec"]
    assert "pool_id" not in job["required"] and "id" in job["required"]
    assert "output_container_url" not in job["properties"]
    assert schema["$defs"]["PoolSpec"]["properties"]["task_scheduling_policy"]["enum"] == ["spread", "pack"]


def test_keys_without_namespace_and_other_namespaces() -> None:
    config = {k.removeprefix("azbatch:"): v for k, v in _stack("local").items()}
    config["azure-native:location"] = "westeurope"  # another namespace: not ours to judge
    config["azbatch:batchAccountUrl"] = "https://x.westeurope.batch.azure.com"  # the Job provider's config
    assert load_stack_config(config).pool.id == "JobPrepReleaseSamplePool"


def test_secure_values_do_not_break_validation() -> None:
    config = _stack("local")
    config["azbatch:job"]["common_environment_settings"] = {"TOKEN": {"secure": "v1:abc"}}
    assert load_stack_config(config).job.common_environment_settings == {"TOKEN": "<secret>"}


def test_every_problem_is_reported_at_once() -> None:
    config = _stack("local")
    config["azbatch:pool"]["vm_size"] = ""
    config["azbatch:storage"]["sas_permissions"] = "r"
    config["azbatch:job"]["priority"] = 5000
    with pytest.raises(StackConfigError) as info:
        load_stack_config(config)
    keys = {f.key for f in info.value.failures}
    assert {"azbatch:pool.vm_size", "azbatch:storage.sas_permissions", "azbatch:job.priority"} <= keys


# ---- the corpus of bad configs -----------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, *path: str | int, value: Any) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        node = config.setdefault(key, {})
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _delete(key: str, *path: str | int) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        if not path:
            del config[key]
            return
        node = config[key]
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


def _azure(config: dict[str, Any]) -> None:
    config.clear()
    config.update(copy.deepcopy(_stack("dev")))


def _both(*mutations: Mutation) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        for m in mutations:
            m(config)

    return mutate


_BLOCK = yaml.safe_load("id: |\n  prep-release\n")["id"]

BAD_CONFIGS: list[tuple[str, Mutation, str]] = [
    ("unknown backend", lambda c: c.__setitem__("azbatch:backend", "aws"), "azbatch:backend"),
    ("misspelt top-level key", lambda c: c.__setitem__("azbatch:jobz", {}), "azbatch:jobz"),
    ("pool missing", _delete("azbatch:pool"), "azbatch:pool"),
    ("job missing", _delete("azbatch:job"), "azbatch:job"),
    ("empty vm size", _set("azbatch:pool", "vm_size", value=""), "azbatch:pool.vm_size"),
    ("pool id with a space", _set("azbatch:pool", "id", value="my pool"), "azbatch:pool.id"),
    # `id: |` (a YAML block scalar) keeps a trailing newline, which `$` alone would accept.
    ("pool id from a block scalar", _set("azbatch:pool", "id", value=_BLOCK), "azbatch:pool.id"),
    ("job id from a block scalar", _set("azbatch:job", "id", value=_BLOCK), "azbatch:job.id"),
    (
        "storage account name from a block scalar",
        _both(_azure, _set("azbatch:azure", "storage_account", "name", value="stazbatchdev001\n")),
        "azbatch:azure.storage_account.name",
    ),
    ("image without offer", _delete("azbatch:pool", "image", "offer"), "azbatch:pool.image.offer"),
    (
        "camelCase key",
        _both(_delete("azbatch:pool", "vm_size"), _set("azbatch:pool", "vmSize", value="x")),
        "azbatch:pool.vmSize",
    ),
    (
        "negative node count",
        _set("azbatch:pool", "target_dedicated_nodes", value=-1),
        "azbatch:pool.target_dedicated_nodes",
    ),
    (
        "too many task slots",
        _set("azbatch:pool", "task_slots_per_node", value=1000),
        "azbatch:pool.task_slots_per_node",
    ),
    (
        "unknown scheduling policy",
        _set("azbatch:pool", "task_scheduling_policy", value="fill"),
        "azbatch:pool.task_scheduling_policy",
    ),
    (
        "start task without command line",
        _set("azbatch:pool", "start_task", value={"wait_for_success": True}),
        "azbatch:pool.start_task.command_line",
    ),
    (
        "identity on the local backend",
        _set(
            "azbatch:pool",
            "identity",
            value={
                "user_assigned_identity_ids": [
                    "/subscriptions/x/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i"
                ]
            },
        ),
        "azbatch:pool.identity",
    ),
    (
        "windows node agent locally",
        _set("azbatch:pool", "node_agent_sku_id", value="batch.node.windows amd64"),
        "azbatch:pool.node_agent_sku_id",
    ),
    (
        "bad container name",
        _set("azbatch:storage", "container_name", value="Job_Outputs"),
        "azbatch:storage.container_name",
    ),
    (
        "SAS without write",
        _set("azbatch:storage", "sas_permissions", value="rc"),
        "azbatch:storage.sas_permissions",
    ),
    (
        "unknown SAS letter",
        _set("azbatch:storage", "sas_permissions", value="cwz"),
        "azbatch:storage.sas_permissions",
    ),
    (
        "margin not shorter than lifetime",
        _set("azbatch:storage", "sas_rotation_margin", value="P30D"),
        "azbatch:storage.sas_rotation_margin",
    ),
    (
        "margin shorter than the job's max wall clock",
        _set("azbatch:storage", "sas_rotation_margin", value="PT1H"),
        "azbatch:storage.sas_rotation_margin",
    ),
    ("negative lifetime", _set("azbatch:storage", "sas_lifetime", value=-5), "azbatch:storage.sas_lifetime"),
    (
        "container that is not the job's conventions container",
        _set("azbatch:storage", "container_name", value="outputs"),
        "azbatch:storage.container_name",
    ),
    ("job without id", _delete("azbatch:job", "id"), "azbatch:job.id"),
    ("job on another pool", _set("azbatch:job", "pool_id", value="other"), "azbatch:job.pool_id"),
    (
        "job sets the output container itself",
        _set("azbatch:job", "output_container_url", value="https://a/b?sig=x"),
        "azbatch:job.output_container_url",
    ),
    ("job priority out of range", _set("azbatch:job", "priority", value=5000), "azbatch:job.priority"),
    (
        "release task longer than 15 minutes",
        _set("azbatch:job", "job_release_task", "max_wall_clock_time", value="PT20M"),
        "azbatch:job.job_release_task.max_wall_clock_time",
    ),
    (
        "release task without preparation task",
        _delete("azbatch:job", "job_preparation_task"),
        "azbatch:job.job_release_task",
    ),
    (
        "upload condition typo",
        _set(
            "azbatch:job",
            "task_factories",
            0,
            "repeat_task",
            "output_files",
            0,
            "upload_condition",
            value="TaskComplete",
        ),
        "azbatch:job.task_factories[0].repeat_task.output_files[0].upload_condition",
    ),
    (
        "camelCase job key",
        _set("azbatch:job", "commonEnvironmentSettings", value={}),
        "azbatch:job.commonEnvironmentSettings",
    ),
    (
        "job node_os disagrees with the pool",
        _set("azbatch:job", "node_os", value="windows"),
        "azbatch:job.node_os",
    ),
    (
        "azure settings on the local backend",
        _set("azbatch:azure", "resource_group", value="rg"),
        "azbatch:azure",
    ),
    ("azure backend without azure settings", _both(_azure, _delete("azbatch:azure")), "azbatch:azure"),
    (
        "bad Batch account name",
        _both(_azure, _set("azbatch:azure", "batch_account", "name", value="Batch-Dev")),
        "azbatch:azure.batch_account.name",
    ),
    (
        "storage account name too long",
        _both(_azure, _set("azbatch:azure", "storage_account", "name", value="x" * 30)),
        "azbatch:azure.storage_account.name",
    ),
    (
        "subscription id not a GUID",
        _both(_azure, _set("azbatch:azure", "subscription_id", value="dev-sub")),
        "azbatch:azure.subscription_id",
    ),
    ("azure without location", _both(_azure, _delete("azbatch:azure", "location")), "azbatch:azure.location"),
    (
        "identity that is not an ARM id",
        _both(
            _azure, _set("azbatch:pool", "identity", value={"user_assigned_identity_ids": ["my-identity"]})
        ),
        "azbatch:pool.identity.user_assigned_identity_ids",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "key"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_its_key(case: str, mutate: Mutation, key: str) -> None:
    config = copy.deepcopy(_stack("local"))
    mutate(config)
    with pytest.raises(StackConfigError) as info:
        load_stack_config(config, source=f"Pulumi.{case}.yaml")
    keys = [f.key for f in info.value.failures]
    assert key in keys, f"{case}: expected an error for {key}, got {info.value}"
    message = str(info.value)
    assert f"{key}: " in message, message


def test_corpus_is_big_enough() -> None:
    assert len(BAD_CONFIGS) >= 20


def test_did_you_mean_for_camel_case() -> None:
    config = _stack("local")
    config["azbatch:pool"]["taskSlotsPerNode"] = 2
    with pytest.raises(StackConfigError) as info:
        load_stack_config(config)
    assert "did you mean 'task_slots_per_node'" in str(info.value)


def test_durations_accept_iso_and_seconds() -> None:
    config = _stack("local")
    config["azbatch:storage"]["sas_lifetime"] = 86400 * 10
    config["azbatch:storage"]["sas_rotation_margin"] = "P2DT12H"
    storage = load_stack_config(config).storage
    assert storage.sas_lifetime == timedelta(days=10)
    assert storage.sas_rotation_margin == timedelta(days=2, hours=12)


def test_permissions_are_canonicalised() -> None:
    config = _stack("local")
    config["azbatch:storage"]["sas_permissions"] = "wc"
    assert load_stack_config(config).storage.sas_permissions == "cw"


def _failures(config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(StackConfigError) as caught:
        load_stack_config(config)
    return {f.key: f.reason for f in caught.value.failures}


def test_a_human_duration_is_answered_with_its_iso_form() -> None:
    config = _stack("local")
    config["azbatch:job"]["wait_timeout"] = "2h"
    config["azbatch:storage"]["sas_lifetime"] = "1h30m"
    failures = _failures(config)
    assert "use 'PT2H' (2 h)" in failures["azbatch:job.wait_timeout"]
    assert "use 'PT1H30M' (1 h 30 min)" in failures["azbatch:storage.sas_lifetime"]
    assert "pydantic" not in str(failures) and "identifier" not in str(failures)


def test_numbers_and_booleans_in_environments_are_taken_as_strings() -> None:
    config = _stack("local")
    config["azbatch:job"]["common_environment_settings"] = {"THREADS": 4, "DEBUG": True, "RATIO": 0.5}
    config["azbatch:pool"]["start_task"] = {"command_line": "/bin/true", "environment_settings": {"N": 2}}
    loaded = load_stack_config(config)
    assert loaded.job.common_environment_settings == {"THREADS": "4", "DEBUG": "true", "RATIO": "0.5"}
    assert loaded.pool.start_task is not None and loaded.pool.start_task.environment_settings == {"N": "2"}


def test_the_default_rotation_margin_is_a_quarter_of_the_lifetime() -> None:
    config = _stack("local")
    config["azbatch:storage"] = {"sas_lifetime": "P7D"}
    config["azbatch:job"]["constraints"] = {}
    storage = load_stack_config(config).storage
    assert storage.rotation_margin == timedelta(days=1, hours=18)
    config["azbatch:storage"] = {}
    assert load_stack_config(config).storage.rotation_margin == timedelta(days=7, hours=12)


def test_a_typo_in_a_top_level_key_is_named_with_the_key_meant() -> None:
    config = _stack("local")
    config["azbatch:jbo"] = config.pop("azbatch:job")
    failures = _failures(config)
    assert "did you mean 'job'?" in failures["azbatch:jbo"]


# ---- many pools and jobs per stack (azbatch:pools / azbatch:jobs) ----------------------------------


def _team() -> dict[str, Any]:
    return copy.deepcopy(_stack("team"))


def test_team_stack_declares_pools_and_jobs_by_name() -> None:
    config = load_stack_config(_team())
    assert set(config.pools) == {"cpu", "big"} and config.pools["cpu"].id == "cpu"  # id defaults to the name
    assert {n: j.id for n, j in config.jobs.items()} == {
        "nightly": "nightly-sweep",
        "rerun": "rerun-failures",
    }
    assert config.job_pools == {"nightly": "cpu", "rerun": "big"}
    assert config.jobs["rerun"].pool_id == "big" and config.jobs["nightly"].task_count() == 20
    assert config.container_name("nightly") == "job-nightly-sweep"
    assert not config.single
    with pytest.raises(LookupError):
        _ = config.job  # two jobs: there is no "the job"


def test_single_workload_form_is_one_entry_of_each() -> None:
    config = load_stack_config(_stack("local"))
    assert config.single and list(config.pools) == ["pool"] and list(config.jobs) == ["job"]
    assert config.job.pool_id == config.pool.id == "JobPrepReleaseSamplePool"


def test_jobs_refer_to_pools_by_id_or_another_stack() -> None:
    values = _team()
    values["azbatch:jobs"]["shared"] = {
        "pool": {"id": "shared-pool"},
        "tasks": [{"id": "t", "command_line": "x"}],
    }
    values["azbatch:jobs"]["other"] = {
        "pool": {"stack": "org/platform/prod", "output": "pool_id"},
        "tasks": [{"id": "t", "command_line": "x"}],
    }
    config = load_stack_config(values)
    assert config.jobs["shared"].pool_id == "shared-pool" and config.jobs["shared"].id == "shared"
    ref = config.job_pools["other"]
    assert isinstance(ref, PoolRef) and ref.stack == "org/platform/prod" and ref.output == "pool_id"


TEAM_ERRORS: list[tuple[str, Mutation, str, str]] = [
    (
        "bad task deep in a job",
        lambda c: c["azbatch:jobs"]["rerun"]["tasks"].extend(
            [{"id": "a", "command_line": "x"}, {"id": "b", "command_line": ""}]
        ),
        "azbatch:jobs.rerun.tasks[3].command_line",
        "",
    ),
    (
        "unknown pool name",
        lambda c: c["azbatch:jobs"]["rerun"].__setitem__("pool", "bigg"),
        "azbatch:jobs.rerun.pool",
        "did you mean 'big'",
    ),
    (
        "pool_id in a named job",
        lambda c: c["azbatch:jobs"]["rerun"].__setitem__("pool_id", "x"),
        "azbatch:jobs.rerun.pool_id",
        "pool: <name",
    ),
    (
        "both pool forms",
        lambda c: c.__setitem__("azbatch:pool", {"id": "p"}),
        "azbatch:pool",
        "cannot be mixed",
    ),
    (
        "pool ref with id and stack",
        lambda c: c["azbatch:jobs"]["rerun"].__setitem__("pool", {"id": "p", "stack": "s"}),
        "azbatch:jobs.rerun.pool",
        "exactly one",
    ),
    (
        "duplicate job id",
        lambda c: c["azbatch:jobs"]["rerun"].__setitem__("id", "NIGHTLY-sweep"),
        "azbatch:jobs.rerun.id",
        "already the id",
    ),
    (
        "container name with two jobs",
        lambda c: c.__setitem__("azbatch:storage", {"container_name": "out"}),
        "azbatch:storage.container_name",
        "own File Conventions",
    ),
    (
        "bad pool field",
        lambda c: c["azbatch:pools"]["cpu"].__setitem__("vm_size", ""),
        "azbatch:pools.cpu.vm_size",
        "",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "key", "text"), TEAM_ERRORS, ids=[c[0] for c in TEAM_ERRORS])
def test_team_stack_errors_name_the_yaml_key(case: str, mutate: Mutation, key: str, text: str) -> None:
    config = _team()
    mutate(config)
    with pytest.raises(StackConfigError) as info:
        load_stack_config(config)
    reasons = [f.reason for f in info.value.failures if f.key == key]
    assert reasons, f"{case}: expected {key}, got {info.value}"
    assert any(text in reason for reason in reasons), reasons
