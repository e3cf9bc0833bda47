"""The stack config: what a team commits in ``stacks/Pulumi.<stack>.yaml``, mapped to the models once.

A stack's settings live under a few structured keys of the ``azbatch`` namespace (the project's
name, so ``Pulumi.yaml`` declares them without the prefix):

=====================  ==========================================================================
key                    what
=====================  ==========================================================================
``azbatch:backend``    ``local`` (the Batch emulator + Azurite) or ``azure``
``azbatch:local``      local endpoints: ``endpoints_file`` (default ``.local/endpoints.json``)
``azbatch:azure``      subscription, resource group, location, Batch and storage accounts
``azbatch:pools``      the pools by name: id (default: the name), VM size, image, node agent, fixed
                       or autoscaled dedicated and spot nodes, containers, mounts, network, users,
                       disks, start task, identity (docs/pools.md)
``azbatch:storage``    the output containers' write SAS (lifetime, rotation margin, permissions);
                       each job writes to its own File Conventions container ``job-<job id>``
``azbatch:jobs``       the jobs by name: a :class:`~pulumi_azbatch.model.job.JobSpec` with id
                       (default: the name) and ``pool``: a pool of ``azbatch:pools`` by name,
                       ``{id: <pool id>}`` (an existing pool of the account) or ``{stack:
                       <org/project/stack>, output: <output name>}`` (another stack's pool)
``azbatch:schedules``  the job schedules by name: a :class:`~pulumi_azbatch.model.schedule.JobScheduleSpec`
                       with id (default: the name), ``pool`` as for a job, ``schedule`` (the
                       timetable) and ``job_specification`` (a job's properties and an optional
                       ``job_manager_task``; no task list); outputs in ``job-<schedule id>``
``azbatch:pool``,      the single-workload form: one pool and one job (still accepted; the same
``azbatch:job``        as one entry in each map, deployed under the resource names it always had)
=====================  ==========================================================================

:func:`load_stack_config` turns the raw values (from ``pulumi.Config`` or a YAML file) into a
:class:`StackConfig` or raises :class:`StackConfigError`, whose every failure names the YAML key it
is about (``azbatch:pool.vm_size: ...``). :func:`stack_file_schema` is the JSON Schema of a whole
stack file, for editors. Nothing here needs Pulumi or the network.

Owns: the stack file's keys, the deployment settings that are not models of Batch objects
(backend, local endpoints file, Azure accounts), key-named errors and the JSON Schema. The pool,
storage and job models live in :mod:`pulumi_azbatch.model` (re-exported here for the old import
path). May import: the models. Must not import SDK clients, Pulumi, components or providers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.model.common import (
    DESCEND,
    ID_PATTERN,
    choice,
    did_you_mean,
    error_path,
    error_reason,
    format_duration,
    plain_data,
    suggest_name,
)
from pulumi_azbatch.model.job import JobSpec
from pulumi_azbatch.model.pool import (
    ImageReferenceSpec,
    PoolIdentitySpec,
    PoolSpec,
    StartTaskSpec,
    container_task_problems,
    validate_pool,
)
from pulumi_azbatch.model.schedule import JobScheduleSpec, as_job_spec, schedule_path
from pulumi_azbatch.model.storage import StorageSpec, canonical_permissions
from pulumi_azbatch.model.validation import validate_job, validate_schedule

__all__ = [
    "PoolRef",
    "NAMESPACE",
    "STACK_KEYS",
    "AzureConfig",
    "BatchAccountConfig",
    "ConfigFailure",
    "ImageReferenceSpec",
    "LocalConfig",
    "PoolIdentitySpec",
    "PoolSpec",
    "StackConfig",
    "StackConfigError",
    "StartTaskSpec",
    "StorageAccountConfig",
    "StorageSpec",
    "canonical_permissions",
    "load_stack_config",
    "load_stack_file",
    "stack_file_schema",
]

#: The config namespace: the project's name in ``Pulumi.yaml``.
NAMESPACE = "azbatch"
#: The keys a stack may set in the namespace, in the order they are documented.
STACK_KEYS: tuple[str, ...] = (
    "backend",
    "local",
    "azure",
    "pools",
    "storage",
    "jobs",
    "schedules",
    "pool",
    "job",
    "adopt",
)
#: What ``azbatch:adopt`` may list: the objects a stack takes over deliberately (see docs/recovery.md).
ADOPTABLE: tuple[str, ...] = ("pool", "container", "job", "schedule")
#: Keys of the namespace read by the Job dynamic provider itself (its provider config), not by the stack.
PROVIDER_KEYS: frozenset[str] = frozenset({"batchAccountUrl", "batchAccountName"})

_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")
#: Names of pools and jobs in the maps: they become parts of Pulumi resource names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PLACEHOLDER_SAS_SECONDS = 10 * 365 * 86400


class _Model(BaseModel):
    """Base of the config models: snake_case keys only, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Backend = Annotated[Literal["local", "azure"], BeforeValidator(choice("backend", ["local", "azure"]))]


class LocalConfig(_Model):
    """The local backend (``azbatch:local``): where ``make emulators`` wrote the emulators' endpoints."""

    endpoints_file: str = Field(
        default=".local/endpoints.json", description="Relative to the project directory."
    )


class BatchAccountConfig(_Model):
    """The Batch account: an existing one by name, or one this stack creates (``create: true``)."""

    name: str
    create: bool = False
    resource_group: str | None = Field(default=None, description="Default: azbatch:azure.resource_group.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ACCOUNT.fullmatch(value):
            raise ValueError(f"Batch account name {value!r} must be 3-24 lower-case letters and digits")
        return value


class StorageAccountConfig(_Model):
    """The storage account of the outputs: existing by name, or created (``create: true``)."""

    name: str
    create: bool = False
    resource_group: str | None = Field(default=None, description="Default: azbatch:azure.resource_group.")
    sku: str = Field(default="Standard_LRS", description="Only used with create: true.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ACCOUNT.fullmatch(value):
            raise ValueError(f"storage account name {value!r} must be 3-24 lower-case letters and digits")
        return value


class AzureConfig(_Model):
    """The Azure backend (``azbatch:azure``): where the accounts live."""

    subscription_id: str | None = Field(default=None, description="Default: the azure-native provider's.")
    resource_group: str
    location: str = Field(min_length=1, description="e.g. westeurope")
    batch_account: BatchAccountConfig
    storage_account: StorageAccountConfig
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("subscription_id")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.fullmatch(value):
            raise ValueError(f"subscription id {value!r} is not a GUID")
        return value

    @field_validator("resource_group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not _RESOURCE_GROUP.fullmatch(value) or value.endswith("."):
            raise ValueError(f"resource group name {value!r} is invalid (1-90 letters, digits, '-_.()')")
        return value


class PoolRef(_Model):
    """A job's pool outside ``azbatch:pools``: an existing pool by ``id``, or another stack's output.

    ``{id: shared-pool}`` runs the job on an existing pool of this stack's Batch account.
    ``{stack: org/project/stack, output: pool_id}`` reads the pool id from that stack's output (a
    StackReference); the job then runs in that stack's Batch account (its ``batch_account_url``,
    ``batch_account_name`` and secret ``batch_account_key`` outputs), as ``examples/consumer`` does.
    """

    id: str | None = Field(default=None, description="An existing pool of this stack's Batch account.")
    stack: str | None = Field(default=None, description="A StackReference name: org/project/stack.")
    output: str = Field(default="pool_id", description="The referenced stack's output holding the pool id.")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not ID_PATTERN.match(value):
            raise ValueError(f"pool id {value!r} must be 1-64 letters, digits, '-' or '_'")
        return value

    @field_validator("stack")
    @classmethod
    def _stack(cls, value: str | None) -> str | None:
        if value is not None and not _STACK_NAME.match(value):
            raise ValueError(f"{value!r} is not a stack name (org/project/stack, or project/stack, or stack)")
        return value


class StackConfig(_Model):
    """A validated stack: backend, its settings, pools and jobs by name, and the output storage settings.

    Every job has ``pool_id`` set (its pool's id, or a placeholder for a pool of another stack) and
    no ``output_container_url`` (its output storage provides it); :attr:`job_pools` says where each
    job runs: the name of a pool in :attr:`pools` or a :class:`PoolRef`. :attr:`single` is true for
    the single-workload form (``azbatch:pool`` + ``azbatch:job``), whose resources keep their names.
    """

    backend: Backend = "local"
    local: LocalConfig = Field(default_factory=LocalConfig)
    azure: AzureConfig | None = None
    pools: dict[str, PoolSpec] = Field(default_factory=dict)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    jobs: dict[str, JobSpec] = Field(default_factory=dict)
    job_pools: dict[str, str | PoolRef] = Field(default_factory=dict)
    schedules: dict[str, JobScheduleSpec] = Field(default_factory=dict)
    schedule_pools: dict[str, str | PoolRef] = Field(default_factory=dict)
    single: bool = False
    adopt: frozenset[str] = Field(
        default=frozenset(),
        description="Take over existing objects of the same ids that are not this stack's: pool, container, "
        "job, schedule.",
    )

    @property
    def pool(self) -> PoolSpec:
        """The stack's only pool (the single-workload form); an error when it has none or several."""
        return _only(self.pools, "pool")

    @property
    def job(self) -> JobSpec:
        """The stack's only job (the single-workload form); an error when it has none or several."""
        return _only(self.jobs, "job")

    def container_name(self, job: str | None = None) -> str:
        """A job's output container (default: the only job): ``storage.container_name`` or the job's
        File Conventions container."""
        spec = self.jobs[job] if job is not None else self.job
        return self.storage.container_name or job_output_container_name(spec.effective_id())

    def endpoints_path(self, project_dir: Path | None = None) -> Path:
        """The local endpoints file, resolved against the project directory (default: cwd)."""
        path = Path(self.local.endpoints_file)
        return path if path.is_absolute() else (project_dir or Path.cwd()) / path


def _only(items: Mapping[str, Any], noun: str) -> Any:
    if len(items) != 1:
        raise LookupError(f"the stack has {len(items)} {noun}s ({', '.join(items) or 'none'}), not one")
    return next(iter(items.values()))


# --------------------------------------------------------------------------------------------------
# Loading and errors
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFailure:
    """One problem with a stack's config: ``key`` is the YAML key path, e.g. ``azbatch:pool.vm_size``."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class StackConfigError(ValueError):
    """The stack config is invalid; ``failures`` lists every problem, each naming its key."""

    def __init__(self, failures: Sequence[ConfigFailure], *, source: str | None = None) -> None:
        self.failures = list(failures)
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(
            f"{len(self.failures)} problem(s) in the stack config{where}:\n"
            + "\n".join(f"  {f}" for f in self.failures)
        )


def _key(name: str, path: Sequence[str | int] = ()) -> str:
    out = f"{NAMESPACE}:{name}"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for model in (
        PoolSpec,
        ImageReferenceSpec,
        StartTaskSpec,
        PoolIdentitySpec,
        StorageSpec,
        LocalConfig,
        AzureConfig,
        BatchAccountConfig,
        StorageAccountConfig,
    ):
        names.update(model.model_fields)
    return names


def _hint(name: str, candidates: Sequence[str] | set[str]) -> str:
    suggestion, snake = suggest_name(name, candidates)
    if suggestion is None:
        return ""
    return f"; did you mean {suggestion!r}?" + (" (key names are snake_case)" if snake else "")


def _top_level_hint(name: str) -> str:
    # Few, short top-level keys: a transposition (`jbo`) is as likely as a plural (`jobs`).
    hint = _hint(name, STACK_KEYS)
    if hint:
        return hint
    suggestion = did_you_mean(name, STACK_KEYS)
    return f"; did you mean {suggestion!r}?" if suggestion else ""


def _pydantic_failures(top: str, value: Any, exc: ValidationError) -> list[ConfigFailure]:
    failures = []
    for error in exc.errors():
        path = error_path(error["loc"], value)
        reason = error_reason(error, path, noun="key", names=_all_field_names)
        failures.append(ConfigFailure(_key(top, path), reason))
    return failures


def _pool_key(section: str, prop: str) -> str:
    """``azbatch:<section>`` + a pool property path: ``azbatch:pools.gpu.user_accounts[0].name``."""
    if not prop:
        return _key(section)
    return f"{_key(section)}{prop if prop.startswith('[') else '.' + prop}"


def _secret_placeholder(value: Any) -> Any:
    """`{secure: ...}` values (Pulumi secrets in a stack file) become an opaque placeholder string."""
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        return "<secret>"
    return DESCEND


def _split_keys(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigFailure]]:
    """The ``azbatch`` keys without their prefix; other namespaces (``azure-native:``...) are ignored."""
    ours: dict[str, Any] = {}
    failures = []
    for full, value in values.items():
        namespace, sep, name = str(full).partition(":")
        if not sep:  # a key without namespace belongs to the project
            namespace, name = NAMESPACE, namespace
        if namespace != NAMESPACE:
            continue
        top = name.split(".", 1)[0]
        if top in PROVIDER_KEYS:
            continue
        if top not in STACK_KEYS:
            failures.append(
                ConfigFailure(
                    f"{NAMESPACE}:{name}",
                    f"unknown key{_top_level_hint(top)} (known: {', '.join(_key(k) for k in STACK_KEYS)})",
                )
            )
            continue
        ours[top] = plain_data(value, _secret_placeholder)
    return ours, failures


def _placeholder_sas_url(container: str, permissions: str, now: datetime) -> str:
    """A syntactically real container SAS URL, so the job rules can check the conventions container."""
    expiry = (now + timedelta(seconds=_PLACEHOLDER_SAS_SECONDS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"https://placeholder.blob.core.windows.net/{container}?sp={permissions}&se={expiry}&sig=placeholder"
    )


def load_stack_config(
    values: Mapping[str, Any], *, source: str | None = None, now: datetime | None = None
) -> StackConfig:
    """Validate a stack's config values (``{"azbatch:pools": {...}, ...}``) into a :class:`StackConfig`.

    Keys may carry the ``azbatch:`` prefix or not; keys of other namespaces are ignored. Every
    problem is collected and raised at once as :class:`StackConfigError`, each naming its YAML key
    (``azbatch:jobs.nightly.tasks[3].command_line``). ``source`` (a file name) is only used in the
    error message.
    """
    now = now or datetime.now(UTC)
    raw, failures = _split_keys(values)
    parsed: dict[str, Any] = {}

    backend = raw.get("backend", "local")
    if not isinstance(backend, str) or backend.lower() not in ("local", "azure"):
        failures.append(ConfigFailure(_key("backend"), f"must be 'local' or 'azure', got {backend!r}"))
        backend = None
    else:
        backend = backend.lower()

    for name, model in (("local", LocalConfig), ("azure", AzureConfig), ("storage", StorageSpec)):
        value = raw.get(name)
        if value is None or value == {}:
            if name == "azure" and backend == "azure":
                failures.append(
                    ConfigFailure(
                        _key("azure"),
                        "required with backend 'azure': resource_group, "
                        "location, batch_account and storage_account",
                    )
                )
            continue
        if not isinstance(value, Mapping):
            failures.append(ConfigFailure(_key(name), f"must be a mapping, got {type(value).__name__}"))
            continue
        if name == "azure" and backend == "local":
            continue  # reported once below: the section does not apply
        try:
            parsed[name] = model.model_validate(value)
        except ValidationError as exc:
            failures.extend(_pydantic_failures(name, value, exc))

    storage: StorageSpec = parsed.get("storage") or StorageSpec()
    single = _single_form(raw, failures)
    pool_values, job_values = _named_sections(raw, single, failures)
    pools = _load_pools(pool_values, single, backend, failures)
    if backend == "local" and raw.get("azure"):
        failures.append(
            ConfigFailure(
                _key("azure"), "only used with backend 'azure'; remove it or set azbatch:backend: azure"
            )
        )
    if storage.rotation_margin >= storage.sas_lifetime and "storage" in parsed:
        failures.append(
            ConfigFailure(
                _key("storage", ["sas_rotation_margin"]),
                f"{format_duration(storage.rotation_margin)} must be shorter than "
                f"sas_lifetime ({format_duration(storage.sas_lifetime)}), or the SAS "
                "would be re-signed on every pulumi up",
            )
        )
    if storage.container_name is not None and len(job_values) > 1:
        failures.append(
            ConfigFailure(
                _key("storage", ["container_name"]),
                "only for a stack with one job: each job writes to its own File Conventions "
                "container (job-<job id>); remove it",
            )
        )

    adopt = raw.get("adopt") or []
    if not isinstance(adopt, list) or any(a not in ADOPTABLE for a in adopt):
        failures.append(ConfigFailure(_key("adopt"), f"a list of {', '.join(ADOPTABLE)}, got {adopt!r}"))
        adopt = []
    jobs: dict[str, JobSpec] = {}
    job_pools: dict[str, str | PoolRef] = {}
    for name, value in job_values.items():
        section = "job" if single else f"jobs.{name}"
        where = _load_job_pool(value, section, pools, pool_values, single, backend, failures)
        if where is None and not single:
            continue
        pool = pools.get(where) if isinstance(where, str) else None
        spec = _load_job(value, section, where, pool, storage, now, failures)
        if spec is not None and where is not None:
            jobs[name], job_pools[name] = spec, where
    schedules: dict[str, JobScheduleSpec] = {}
    schedule_pools: dict[str, str | PoolRef] = {}
    for name, value in _named_map(raw, "schedules", "schedule", failures).items():
        section = f"schedules.{name}"
        if not isinstance(value, Mapping):
            failures.append(ConfigFailure(_key(section), f"must be a mapping, got {type(value).__name__}"))
            continue
        where = _load_job_pool(value, section, pools, pool_values, False, backend, failures)
        if where is None:
            continue
        pool = pools.get(where) if isinstance(where, str) else None
        schedule = _load_schedule(value, section, where, pool, now, failures)
        if schedule is not None:
            schedules[name], schedule_pools[name] = schedule, where
    _unique_ids(pools, jobs, single, failures)
    _unique_schedule_ids(jobs, schedules, failures)
    if failures:
        raise StackConfigError(failures, source=source)
    assert backend is not None
    # Every part is validated already; model_construct keeps pydantic from re-running the jobs'
    # after-validators on specs whose output_container_url the output storage fills in later.
    return StackConfig.model_construct(
        backend=backend,
        local=parsed.get("local") or LocalConfig(),
        azure=parsed.get("azure"),
        pools=pools,
        storage=storage,
        jobs=jobs,
        job_pools=job_pools,
        schedules=schedules,
        schedule_pools=schedule_pools,
        single=single,
        adopt=frozenset(adopt),
    )


def _single_form(raw: Mapping[str, Any], failures: list[ConfigFailure]) -> bool:
    """True for the single-workload form (``azbatch:pool`` + ``azbatch:job``); mixing forms is an error."""
    old = [k for k in ("pool", "job") if k in raw]
    new = [k for k in ("pools", "jobs") if k in raw]
    if old and new:
        failures.append(
            ConfigFailure(
                _key(old[0]),
                f"{', '.join(_key(k) for k in old)} is the single-workload form and cannot be mixed with "
                f"{', '.join(_key(k) for k in new)}: move the pool under azbatch:pools.<name> and the job "
                "under azbatch:jobs.<name> (with pool: <name>)",
            )
        )
    return bool(old) and not new


def _named_sections(
    raw: Mapping[str, Any], single: bool, failures: list[ConfigFailure]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pools and jobs as ``{name: raw mapping}``; the single form becomes one of each."""
    if single:
        pools = {"pool": raw["pool"]} if raw.get("pool") is not None else {}
        jobs = {"job": raw.get("job")}
        if not pools:
            failures.append(ConfigFailure(_key("pool"), "required key is missing: the pool the job runs on"))
        return pools, jobs
    if raw.get("jobs") is None and raw.get("schedules") is None:
        failures.append(ConfigFailure(_key("jobs"), "required key is missing: the jobs to run, by name"))
    return _named_map(raw, "pools", "pool", failures), _named_map(raw, "jobs", "job", failures)


def _named_map(raw: Mapping[str, Any], key: str, noun: str, failures: list[ConfigFailure]) -> dict[str, Any]:
    """One map of the stack (``azbatch:pools``, ``jobs``, ``schedules``) as ``{name: raw value}``."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        failures.append(
            ConfigFailure(
                _key(key), f"must be a mapping of {noun} names to {noun}s, got {type(value).__name__}"
            )
        )
        return {}
    named = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _NAME.match(name):
            failures.append(
                ConfigFailure(
                    _key(f"{key}.{name}"),
                    f"{noun} name {name!r} must be 1-63 letters, digits, '-' or '_', starting with a "
                    "letter or digit (it names Pulumi resources)",
                )
            )
            continue
        named[name] = item
    return named


def _load_pools(
    values: Mapping[str, Any], single: bool, backend: str | None, failures: list[ConfigFailure]
) -> dict[str, PoolSpec]:
    pools: dict[str, PoolSpec] = {}
    for name, value in values.items():
        section = "pool" if single else f"pools.{name}"
        if not isinstance(value, Mapping):
            failures.append(ConfigFailure(_key(section), f"must be a mapping, got {type(value).__name__}"))
            continue
        data = dict(value) if single else {"id": name, **value}
        pool, problems = validate_pool(data)
        failures.extend(ConfigFailure(_pool_key(section, f.property), f.reason) for f in problems)
        if pool is None:
            continue
        pools[name] = pool
        if backend == "local" and pool.identity is not None:
            failures.append(
                ConfigFailure(
                    _key(section, ["identity"]),
                    "managed identities exist only on Azure; remove it for backend 'local'",
                )
            )
        if backend == "local" and pool.target_node_communication_mode is not None:
            failures.append(
                ConfigFailure(
                    _key(section, ["target_node_communication_mode"]),
                    "is set through Azure Resource Manager only; remove it for backend 'local'",
                )
            )
        if backend == "local" and pool.node_os == "windows":
            failures.append(
                ConfigFailure(
                    _key(section, ["node_agent_sku_id"]),
                    f"{pool.node_agent_sku_id!r} is a Windows node agent; the local "
                    "emulator runs Linux nodes only",
                )
            )
    return pools


def _load_job_pool(
    value: Any,
    section: str,
    pools: Mapping[str, PoolSpec],
    declared: Mapping[str, Any],
    single: bool,
    backend: str | None,
    failures: list[ConfigFailure],
) -> str | PoolRef | None:
    """Where a job runs: a pool name of ``azbatch:pools`` or a :class:`PoolRef`; None when invalid."""
    if single:
        return "pool" if "pool" in pools else None
    if not isinstance(value, Mapping):
        return None  # reported by _load_job
    given = value.get("pool")
    if given is None:
        if len(declared) == 1:
            return next(iter(declared)) if next(iter(declared)) in pools else None
        failures.append(
            ConfigFailure(
                _key(section, ["pool"]),
                "required: the pool the job runs on, one of "
                + (", ".join(repr(n) for n in declared) or "(no pools declared)")
                + ", {id: <pool id>} or {stack: <org/project/stack>, output: <output name>}",
            )
        )
        return None
    if isinstance(given, str):
        if given in declared:
            return given if given in pools else None
        failures.append(
            ConfigFailure(
                _key(section, ["pool"]),
                f"{given!r} is not a pool of azbatch:pools{_hint(given, list(declared))} (declared: "
                f"{', '.join(declared) or 'none'}); for an existing pool write pool: {{id: {given}}}",
            )
        )
        return None
    if not isinstance(given, Mapping):
        failures.append(
            ConfigFailure(
                _key(section, ["pool"]), f"must be a pool name or a mapping, got {type(given).__name__}"
            )
        )
        return None
    try:
        ref = PoolRef.model_validate(given)
    except ValidationError as exc:
        failures.extend(_pydantic_failures(f"{section}.pool", given, exc))
        return None
    if (ref.id is None) == (ref.stack is None):
        failures.append(
            ConfigFailure(
                _key(section, ["pool"]),
                "give exactly one of id (an existing pool of this account) and stack (another stack's pool)",
            )
        )
        return None
    if ref.id is not None and not pools and backend == "azure":
        failures.append(
            ConfigFailure(
                _key(section, ["pool", "id"]),
                "on Azure a job on a pool by id needs the Batch account of a pool of this stack: declare "
                "one in azbatch:pools, or use {stack: ..., output: ...}",
            )
        )
        return None
    return ref


def _unique_ids(
    pools: Mapping[str, PoolSpec], jobs: Mapping[str, JobSpec], single: bool, failures: list[ConfigFailure]
) -> None:
    """Two pools (or two jobs) with one Batch id would be one object: name the second key."""
    for kind, items in (("pool", pools), ("job", jobs)):
        seen: dict[str, str] = {}
        for name, item in items.items():
            item_id = str(item.id).lower()
            if item_id in seen:
                section = kind if single else f"{kind}s.{name}"
                failures.append(
                    ConfigFailure(
                        _key(section, ["id"]),
                        f"{item.id!r} is already the id of {kind}s.{seen[item_id]} (Batch ids are "
                        "case-insensitive)",
                    )
                )
            seen.setdefault(item_id, name)


def _load_job(
    value: Any,
    section: str,
    where: str | PoolRef | None,
    pool: PoolSpec | None,
    storage: StorageSpec,
    now: datetime,
    failures: list[ConfigFailure],
) -> JobSpec | None:
    if value is None:
        failures.append(ConfigFailure(_key(section), "required key is missing: the job to run"))
        return None
    if not isinstance(value, Mapping):
        failures.append(ConfigFailure(_key(section), f"must be a mapping, got {type(value).__name__}"))
        return None
    single = section == "job"
    data = dict(value)
    data.pop("pool", None)
    if not single:
        data.setdefault("id", section.split(".", 1)[1])
    ok = True
    if "output_container_url" in data:
        failures.append(
            ConfigFailure(
                _key(section, ["output_container_url"]),
                "is set by the stack from azbatch:storage (the container and its write SAS); remove it",
            )
        )
        ok = False
        data.pop("output_container_url")
    if "pool_id" in data and not single:
        failures.append(
            ConfigFailure(
                _key(section, ["pool_id"]),
                "is set by the stack; name the pool with pool: <name of azbatch:pools>, "
                "pool: {id: <pool id>} or pool: {stack: ..., output: ...}",
            )
        )
        ok = False
    if pool is not None:
        given = data.get("pool_id")
        if single and given is not None and given != pool.id:
            failures.append(
                ConfigFailure(
                    _key(section, ["pool_id"]),
                    f"{given!r} is not the stack's pool {pool.id!r} (azbatch:pool.id); "
                    "remove it, the stack fills it in",
                )
            )
            ok = False
        data["pool_id"] = pool.id
        given_os = data.get("node_os")
        if given_os is not None and isinstance(given_os, str) and given_os.lower() != pool.node_os:
            failures.append(
                ConfigFailure(
                    _key(section, ["node_os"]),
                    f"{given_os!r} does not match the pool's node agent "
                    f"{pool.node_agent_sku_id!r} ({pool.node_os}); remove it",
                )
            )
            ok = False
        data.setdefault("node_os", pool.node_os)
    elif isinstance(where, PoolRef):
        # Another stack's pool: its id is known at deployment; a placeholder lets the rules run now.
        data["pool_id"] = where.id or "pool-of-another-stack"
    else:
        data["pool_id"] = "pool"  # placeholder so the job's own problems are still reported
    for path, reason in container_task_problems(pool, data) if pool is not None else []:
        failures.append(ConfigFailure(f"{_key(section)}.{path}", reason))
        ok = False
    job_id = data.get("id")
    if not job_id:
        failures.append(
            ConfigFailure(
                _key(section, ["id"]),
                "required in a stack: the output container is named from it "
                "(File Conventions job-<id>) before the job exists",
            )
        )
        return None
    container = storage.container_name
    if container is None and isinstance(job_id, str) and ID_PATTERN.fullmatch(job_id):
        container = job_output_container_name(job_id)
    if container is not None:
        data["output_container_url"] = _placeholder_sas_url(container, storage.sas_permissions, now)
    for failure in validate_job(data, now=now):
        if failure.property.startswith("output_container_url"):
            key = _key("storage", ["container_name"])
            failures.append(
                ConfigFailure(key, failure.reason.replace("the URL", "azbatch:storage.container_name"))
            )
        else:
            failures.append(_property_failure(section, failure.property, failure.reason))
        ok = False
    if not ok or where is None:
        return None
    spec = JobSpec.model_validate(data)
    # Margin check: the SAS may be re-signed no sooner than `margin` before expiry, so a job started
    # just before that must finish within the margin.
    limit = spec.constraints.max_wall_clock_time
    if limit is not None and storage.rotation_margin < limit:
        failures.append(
            ConfigFailure(
                _key("storage", ["sas_rotation_margin"]),
                f"{format_duration(storage.rotation_margin)} is shorter than "
                f"{_key(section)}.constraints.max_wall_clock_time ({format_duration(limit)}): a job "
                "started just before rotation could outlive its SAS",
            )
        )
        return None
    return spec.model_copy(update={"output_container_url": None})


def _property_failure(section: str, prop: str, reason: str) -> ConfigFailure:
    """A model failure on ``prop`` (``tasks[0].id``) as the YAML key under ``section`` it is about."""
    path = f".{prop}" if prop and not prop.startswith("[") else prop
    return ConfigFailure(f"{_key(section)}{path}", reason)


def _unique_schedule_ids(
    jobs: Mapping[str, JobSpec], schedules: Mapping[str, JobScheduleSpec], failures: list[ConfigFailure]
) -> None:
    """Job schedules share the jobs' ids (Batch answers JobExists / JobScheduleExists): name the clash."""
    seen = {str(spec.id).lower(): f"jobs.{name}" for name, spec in jobs.items()}
    for name, spec in schedules.items():
        schedule_id = str(spec.id).lower()
        if schedule_id in seen:
            failures.append(
                ConfigFailure(
                    _key(f"schedules.{name}", ["id"]),
                    f"{spec.id!r} is already the id of {seen[schedule_id]} (jobs and job schedules share ids; "
                    "Batch ids are case-insensitive)",
                )
            )
        seen.setdefault(schedule_id, f"schedules.{name}")


def _load_schedule(
    value: Mapping[str, Any],
    section: str,
    where: str | PoolRef,
    pool: PoolSpec | None,
    now: datetime,
    failures: list[ConfigFailure],
) -> JobScheduleSpec | None:
    """One entry of ``azbatch:schedules``: the pool filled into its job specification, every rule run."""
    data = dict(value)
    data.pop("pool", None)
    data.setdefault("id", section.split(".", 1)[1])
    ok = True
    if "output_container_url" in data:
        failures.append(
            ConfigFailure(
                _key(section, ["output_container_url"]),
                "is set by the stack (the schedule's File Conventions container job-<id> and its write SAS); "
                "remove it",
            )
        )
        ok = False
        data.pop("output_container_url")
    spec = data.get("job_specification")
    if not isinstance(spec, Mapping):
        failures.append(
            ConfigFailure(
                _key(section, ["job_specification"]),
                "required: what every run's job is (a job's properties and an optional job_manager_task)"
                if spec is None
                else f"must be a mapping, got {type(spec).__name__}",
            )
        )
        return None
    spec = dict(spec)
    if "pool_id" in spec:
        failures.append(
            ConfigFailure(
                _key(section, ["job_specification", "pool_id"]),
                "is set by the stack; name the pool with pool: <name of azbatch:pools>, pool: {id: <pool id>} "
                "or pool: {stack: ..., output: ...} on the schedule",
            )
        )
        ok = False
    if pool is not None:
        spec["pool_id"] = pool.id
        spec.setdefault("node_os", pool.node_os)
    else:
        assert isinstance(where, PoolRef)
        spec["pool_id"] = where.id or "pool-of-another-stack"
    data["job_specification"] = spec
    schedule_id = data.get("id")
    if isinstance(schedule_id, str) and ID_PATTERN.fullmatch(schedule_id):
        container = job_output_container_name(schedule_id)
        data["output_container_url"] = _placeholder_sas_url(container, "cw", now)
    for failure in validate_schedule(data, now=now):
        failures.append(_property_failure(section, failure.property, failure.reason))
        ok = False
    # The job's container rule on the job a run is (its job manager task is that job's regular task).
    for path, reason in container_task_problems(pool, as_job_spec(data)) if pool is not None else []:
        failures.append(ConfigFailure(f"{_key(section)}.{schedule_path(path)}", reason))
        ok = False
    if not ok:
        return None
    return JobScheduleSpec.model_validate(data).model_copy(update={"output_container_url": None})


# --------------------------------------------------------------------------------------------------
# Stack files and JSON Schema
# --------------------------------------------------------------------------------------------------


def load_stack_file(path: Path) -> StackConfig:
    """Read and validate one ``Pulumi.<stack>.yaml`` (no Pulumi, no network)."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackConfigError(
            [ConfigFailure("(file)", f"not valid YAML: {exc}")], source=str(path)
        ) from None
    if not isinstance(document, Mapping):
        raise StackConfigError([ConfigFailure("(file)", "a stack file must be a mapping")], source=str(path))
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackConfigError(
            [ConfigFailure("config", "must be a mapping of keys to values")], source=str(path)
        )
    return load_stack_config(config, source=str(path))


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema of a ``Pulumi.<stack>.yaml`` with this project's keys, for editors.

    A job is the :class:`~pulumi_azbatch.model.job.JobSpec` schema without ``output_container_url``
    (the stack fills it in); in ``azbatch:jobs`` its ``id`` defaults to the entry's name and ``pool``
    replaces ``pool_id``; in ``azbatch:pools`` a pool's ``id`` defaults to the entry's name.
    """
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, model in (
        ("local", LocalConfig),
        ("azure", AzureConfig),
        ("pool", PoolSpec),
        ("storage", StorageSpec),
        ("job", JobSpec),
    ):
        schema = model.model_json_schema(ref_template="#/$defs/{model}", mode="validation")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        properties[f"{NAMESPACE}:{name}"] = {"$ref": f"#/$defs/{model.__name__}"}
    job = defs["JobSpec"]
    job["required"] = [r for r in job.get("required", []) if r != "pool_id"]
    job["properties"].pop("output_container_url", None)
    job["properties"]["pool_id"]["description"] = "Optional: the stack sets it to azbatch:pool.id."
    job["description"] = (
        "The job (pulumi_azbatch.spec.JobSpec). id is required in a stack (the output container is named "
        "from it); pool_id and output_container_url are filled in by the stack."
    )
    job["required"] = sorted({*job["required"], "id"})
    pool_ref = PoolRef.model_json_schema(ref_template="#/$defs/{model}", mode="validation")
    defs["PoolRef"] = pool_ref
    # The maps: the same models, with id defaulting to the entry's name and the job's pool by name.
    named_pool = copy.deepcopy(defs["PoolSpec"])
    named_pool["required"] = [r for r in named_pool.get("required", []) if r != "id"]
    named_pool["properties"]["id"]["description"] = "The pool id; default: the entry's name."
    defs["NamedPool"] = named_pool
    named_job = copy.deepcopy(job)
    named_job["required"] = [r for r in named_job["required"] if r != "id"]
    named_job["properties"].pop("pool_id", None)
    named_job["properties"]["id"] = {
        **named_job["properties"]["id"],
        "description": "Default: the entry's name.",
    }
    named_job["properties"]["pool"] = {
        "description": "The pool: a name of azbatch:pools, {id: <existing pool id>} or {stack: "
        "<org/project/stack>, output: <output holding the pool id>}. Optional with exactly one pool.",
        "anyOf": [{"type": "string"}, {"$ref": "#/$defs/PoolRef"}],
    }
    named_job["description"] = (
        "A job (pulumi_azbatch.model.job.JobSpec) of azbatch:jobs: id defaults to the entry's name; the "
        "stack fills in pool_id (from pool) and output_container_url (its File Conventions container)."
    )
    defs["NamedJob"] = named_job
    name_pattern = {"pattern": _NAME.pattern}
    properties[f"{NAMESPACE}:pools"] = {
        "description": "The pools, by name.",
        "type": "object",
        "propertyNames": name_pattern,
        "additionalProperties": {"$ref": "#/$defs/NamedPool"},
    }
    properties[f"{NAMESPACE}:jobs"] = {
        "description": "The jobs, by name.",
        "type": "object",
        "propertyNames": name_pattern,
        "additionalProperties": {"$ref": "#/$defs/NamedJob"},
    }
    schedule = JobScheduleSpec.model_json_schema(ref_template="#/$defs/{model}", mode="validation")
    defs.update(schedule.pop("$defs", {}))
    schedule["properties"].pop("output_container_url", None)
    schedule["properties"]["id"] = {
        **schedule["properties"]["id"],
        "description": "Default: the entry's name.",
    }
    schedule["properties"]["pool"] = named_job["properties"]["pool"]
    spec_def = copy.deepcopy(defs["JobSpecificationSpec"])
    spec_def["required"] = [r for r in spec_def.get("required", []) if r != "pool_id"]
    spec_def["properties"].pop("pool_id", None)
    spec_def["description"] = (
        "What every run's job is: a job's properties (no id, no task list) and an optional job_manager_task "
        "that adds the run's tasks or does the work; the stack fills in pool_id from the schedule's pool."
    )
    defs["NamedJobSpecification"] = spec_def
    schedule["properties"]["job_specification"] = {"$ref": "#/$defs/NamedJobSpecification"}
    schedule["description"] = (
        "A job schedule (pulumi_azbatch.model.schedule.JobScheduleSpec) of azbatch:schedules: id defaults to "
        "the entry's name; outputs go to its File Conventions container job-<id>."
    )
    defs["NamedJobSchedule"] = schedule
    properties[f"{NAMESPACE}:schedules"] = {
        "description": "The job schedules (recurring jobs), by name.",
        "type": "object",
        "propertyNames": name_pattern,
        "additionalProperties": {"$ref": "#/$defs/NamedJobSchedule"},
    }
    properties[f"{NAMESPACE}:pool"]["description"] = "The single-workload form's pool (or use azbatch:pools)."
    properties[f"{NAMESPACE}:job"] = {
        "$ref": "#/$defs/JobSpec",
        "description": "The single-workload form's job (or use azbatch:jobs).",
    }
    properties[f"{NAMESPACE}:backend"] = {"enum": ["local", "azure"], "default": "local"}
    return _strip_titles(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://github.com/pulumi-azbatch/stacks/schema.json",
            "description": "A Pulumi stack file of the azbatch project (stacks/Pulumi.<stack>.yaml).",
            "type": "object",
            "properties": {
                "config": {
                    "type": "object",
                    "properties": properties,
                    # One form or the other: azbatch:jobs (+ pools), or azbatch:pool + azbatch:job.
                    "anyOf": [
                        {"required": [f"{NAMESPACE}:jobs"]},
                        {"required": [f"{NAMESPACE}:schedules"]},
                        {"required": [f"{NAMESPACE}:pool", f"{NAMESPACE}:job"]},
                    ],
                    # Other namespaces (azure-native:location, ...) are the providers' business.
                    "additionalProperties": True,
                },
                "encryptionsalt": {"type": "string"},
                "secretsprovider": {"type": "string"},
                "encryptedkey": {"type": "string"},
                "environment": {},
            },
            "$defs": defs,
        }
    )
