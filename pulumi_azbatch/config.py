"""The stack config: what a team commits in ``stacks/Pulumi.<stack>.yaml``, mapped to the models once.

A stack's settings live under a few structured keys of the ``azbatch`` namespace (the project's
name, so ``Pulumi.yaml`` declares them without the prefix):

=====================  ==========================================================================
key                    what
=====================  ==========================================================================
``azbatch:backend``    ``local`` (the Batch emulator + Azurite) or ``azure``
``azbatch:local``      local endpoints: ``endpoints_file`` (default ``.local/endpoints.json``)
``azbatch:azure``      subscription, resource group, location, Batch and storage accounts
``azbatch:pool``       the pool: id, VM size, image, node agent, fixed or autoscaled dedicated and
                       spot nodes, containers, mounts, network, users, disks, start task, identity
``azbatch:storage``    the output container and its write SAS (lifetime, rotation margin, permissions)
``azbatch:job``        the job: a :class:`~pulumi_azbatch.spec.JobSpec` without ``pool_id`` and
                       ``output_container_url`` (the stack fills both in)
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
    container_task_paths,
    container_task_refusal,
    validate_pool,
)
from pulumi_azbatch.model.storage import StorageSpec, canonical_permissions
from pulumi_azbatch.model.validation import validate_job

__all__ = [
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
STACK_KEYS: tuple[str, ...] = ("backend", "local", "azure", "pool", "storage", "job")
#: Keys of the namespace read by the Job dynamic provider itself (its provider config), not by the stack.
PROVIDER_KEYS: frozenset[str] = frozenset({"batchAccountUrl", "batchAccountName"})

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
        if not _ACCOUNT.match(value):
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
        if not _ACCOUNT.match(value):
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
        if value is not None and not _GUID.match(value):
            raise ValueError(f"subscription id {value!r} is not a GUID")
        return value

    @field_validator("resource_group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not _RESOURCE_GROUP.match(value) or value.endswith("."):
            raise ValueError(f"resource group name {value!r} is invalid (1-90 letters, digits, '-_.()')")
        return value


class StackConfig(_Model):
    """A validated stack: backend, its settings, the pool, the output storage and the job.

    ``job`` has ``pool_id`` set to ``pool.id`` and no ``output_container_url`` (the output storage
    provides it); :meth:`container_name` is the output container.
    """

    backend: Backend = "local"
    local: LocalConfig = Field(default_factory=LocalConfig)
    azure: AzureConfig | None = None
    pool: PoolSpec
    storage: StorageSpec = Field(default_factory=StorageSpec)
    job: JobSpec

    def container_name(self) -> str:
        """The output container: ``storage.container_name`` or the job's File Conventions container."""
        return self.storage.container_name or job_output_container_name(self.job.effective_id())

    def endpoints_path(self, project_dir: Path | None = None) -> Path:
        """The local endpoints file, resolved against the project directory (default: cwd)."""
        path = Path(self.local.endpoints_file)
        return path if path.is_absolute() else (project_dir or Path.cwd()) / path


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


def _pydantic_failures(top: str, value: Any, exc: ValidationError) -> list[ConfigFailure]:
    failures = []
    for error in exc.errors():
        path = error_path(error["loc"], value)
        reason = error_reason(error, path, noun="key", names=_all_field_names)
        failures.append(ConfigFailure(_key(top, path), reason))
    return failures


def _pool_key(prop: str) -> str:
    """``azbatch:pool`` + a pool property path (``user_accounts[0].name``)."""
    if not prop:
        return _key("pool")
    return f"{_key('pool')}{prop if prop.startswith('[') else '.' + prop}"


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
                    f"unknown key{_hint(top, STACK_KEYS)} (known: {', '.join(_key(k) for k in STACK_KEYS)})",
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
    """Validate a stack's config values (``{"azbatch:pool": {...}, ...}``) into a :class:`StackConfig`.

    Keys may carry the ``azbatch:`` prefix or not; keys of other namespaces are ignored. Every
    problem is collected and raised at once as :class:`StackConfigError`, each naming its YAML key.
    ``source`` (a file name) is only used in the error message.
    """
    now = now or datetime.now(UTC)
    raw, failures = _split_keys(values)
    parsed: dict[str, Any] = {}
    models: dict[str, Any] = {
        "local": LocalConfig,
        "azure": AzureConfig,
        "pool": PoolSpec,
        "storage": StorageSpec,
    }

    backend = raw.get("backend", "local")
    if not isinstance(backend, str) or backend.lower() not in ("local", "azure"):
        failures.append(ConfigFailure(_key("backend"), f"must be 'local' or 'azure', got {backend!r}"))
        backend = None
    else:
        backend = backend.lower()

    for name, model in models.items():
        value = raw.get(name)
        if value is None or (value == {} and name != "pool"):
            if name == "pool":
                failures.append(
                    ConfigFailure(_key("pool"), "required key is missing: the pool the job runs on")
                )
            elif name == "azure" and backend == "azure":
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
        if name == "pool":
            pool_spec, pool_failures = validate_pool(value)
            failures.extend(ConfigFailure(_pool_key(f.property), f.reason) for f in pool_failures)
            if pool_spec is not None:
                parsed[name] = pool_spec
            continue
        try:
            parsed[name] = model.model_validate(value)
        except ValidationError as exc:
            failures.extend(_pydantic_failures(name, value, exc))

    pool: PoolSpec | None = parsed.get("pool")
    storage: StorageSpec = parsed.get("storage") or StorageSpec()
    if backend == "local" and pool is not None:
        if pool.identity is not None:
            failures.append(
                ConfigFailure(
                    _key("pool", ["identity"]),
                    "managed identities exist only on Azure; remove it for backend 'local'",
                )
            )
        if pool.target_node_communication_mode is not None:
            failures.append(
                ConfigFailure(
                    _key("pool", ["target_node_communication_mode"]),
                    "is set through Azure Resource Manager only; remove it for backend 'local'",
                )
            )
        if pool.node_os == "windows":
            failures.append(
                ConfigFailure(
                    _key("pool", ["node_agent_sku_id"]),
                    f"{pool.node_agent_sku_id!r} is a Windows node agent; the local "
                    "emulator runs Linux nodes only",
                )
            )
    if backend == "local" and raw.get("azure"):
        failures.append(
            ConfigFailure(
                _key("azure"), "only used with backend 'azure'; remove it or set azbatch:backend: azure"
            )
        )
    if storage.sas_rotation_margin >= storage.sas_lifetime and "storage" in parsed:
        failures.append(
            ConfigFailure(
                _key("storage", ["sas_rotation_margin"]),
                f"{format_duration(storage.sas_rotation_margin)} must be shorter than "
                f"sas_lifetime ({format_duration(storage.sas_lifetime)}), or the SAS "
                "would be re-signed on every pulumi up",
            )
        )

    job = _load_job(raw.get("job"), pool, storage, now, failures)
    if failures:
        raise StackConfigError(failures, source=source)
    assert pool is not None and job is not None and backend is not None
    # Every part is validated already; model_construct keeps pydantic from re-running the job's
    # after-validators on a spec whose output_container_url the output storage fills in later.
    return StackConfig.model_construct(
        backend=backend,
        local=parsed.get("local") or LocalConfig(),
        azure=parsed.get("azure"),
        pool=pool,
        storage=storage,
        job=job,
    )


def _load_job(
    value: Any, pool: PoolSpec | None, storage: StorageSpec, now: datetime, failures: list[ConfigFailure]
) -> JobSpec | None:
    if value is None:
        failures.append(ConfigFailure(_key("job"), "required key is missing: the job to run"))
        return None
    if not isinstance(value, Mapping):
        failures.append(ConfigFailure(_key("job"), f"must be a mapping, got {type(value).__name__}"))
        return None
    data = dict(value)
    ok = True
    if "output_container_url" in data:
        failures.append(
            ConfigFailure(
                _key("job", ["output_container_url"]),
                "is set by the stack from azbatch:storage (the container and its write SAS); remove it",
            )
        )
        ok = False
        data.pop("output_container_url")
    if pool is not None:
        given = data.get("pool_id")
        if given is not None and given != pool.id:
            failures.append(
                ConfigFailure(
                    _key("job", ["pool_id"]),
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
                    _key("job", ["node_os"]),
                    f"{given_os!r} does not match the pool's node agent "
                    f"{pool.node_agent_sku_id!r} ({pool.node_os}); remove it",
                )
            )
            ok = False
        data.setdefault("node_os", pool.node_os)
    else:
        data.setdefault("pool_id", "pool")  # placeholder so the job's own problems are still reported
    if pool is not None:
        refusal = container_task_refusal(pool)
        for path in container_task_paths(data) if refusal else []:
            failures.append(ConfigFailure(f"{_key('job')}.{path}", refusal or ""))
            ok = False
    job_id = data.get("id")
    if not job_id:
        failures.append(
            ConfigFailure(
                _key("job", ["id"]),
                "required in a stack: the output container is named from it "
                "(File Conventions job-<id>) before the job exists",
            )
        )
        return None
    container = storage.container_name
    if container is None and isinstance(job_id, str) and ID_PATTERN.match(job_id):
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
            path = (
                f".{failure.property}"
                if failure.property and not failure.property.startswith("[")
                else failure.property
            )
            failures.append(ConfigFailure(f"{_key('job')}{path}", failure.reason))
        ok = False
    if not ok or pool is None:
        return None
    spec = JobSpec.model_validate(data)
    # Margin check: the SAS may be re-signed no sooner than `margin` before expiry, so a job started
    # just before that must finish within the margin.
    limit = spec.constraints.max_wall_clock_time
    if limit is not None and storage.sas_rotation_margin < limit:
        failures.append(
            ConfigFailure(
                _key("storage", ["sas_rotation_margin"]),
                f"{format_duration(storage.sas_rotation_margin)} is shorter than the job's "
                f"constraints.max_wall_clock_time ({format_duration(limit)}): a job started "
                "just before rotation could outlive its SAS",
            )
        )
        return None
    return spec.model_copy(update={"output_container_url": None})


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

    The job is the :class:`~pulumi_azbatch.spec.JobSpec` schema with ``pool_id`` optional and
    ``output_container_url`` removed (the stack fills both in).
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
                    "required": [f"{NAMESPACE}:pool", f"{NAMESPACE}:job"],
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
