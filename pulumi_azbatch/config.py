"""The stack config model: what a team commits in ``stacks/Pulumi.<stack>.yaml``, validated once.

A stack's settings live under a few structured keys of the ``azbatch`` namespace (the project's
name, so ``Pulumi.yaml`` declares them without the prefix):

=====================  ==========================================================================
key                    what
=====================  ==========================================================================
``azbatch:backend``    ``local`` (the Batch emulator + Azurite) or ``azure``
``azbatch:local``      local endpoints: ``endpoints_file`` (default ``.local/endpoints.json``)
``azbatch:azure``      subscription, resource group, location, Batch and storage accounts
``azbatch:pool``       the pool: id, VM size, image, node agent, nodes, slots, start task, identity
``azbatch:storage``    the output container and its write SAS (lifetime, rotation margin, permissions)
``azbatch:job``        the job: a :class:`~pulumi_azbatch.spec.JobSpec` without ``pool_id`` and
                       ``output_container_url`` (the stack fills both in)
=====================  ==========================================================================

:func:`load_stack_config` turns the raw values (from ``pulumi.Config`` or a YAML file) into a
:class:`StackConfig` or raises :class:`StackConfigError`, whose every failure names the YAML key it
is about (``azbatch:pool.vm_size: ...``). :func:`stack_file_schema` is the JSON Schema of a whole
stack file, for editors. Nothing here needs Pulumi or the network.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from azure.batch import models as batch_models
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from pulumi_azbatch.conventions import job_output_container_name
from pulumi_azbatch.spec import (
    JobSpec,
    ResourceFileSpec,
    UserIdentitySpec,
    format_duration,
    validate_job,
)

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

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Container SAS permission letters, in the order the service expects them in `sp`.
_SAS_PERMISSION_ORDER = "racwdxltfmeopi"
_PLACEHOLDER_SAS_SECONDS = 10 * 365 * 86400


class _Model(BaseModel):
    """Base of the config models: snake_case keys only, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _lower_choice(choices: Sequence[str]) -> Any:
    def normalize(value: Any) -> Any:
        if isinstance(value, str) and value.lower() in choices:
            return value.lower()
        return value

    return BeforeValidator(normalize)


NodeFillType = Annotated[Literal["spread", "pack"], _lower_choice(("spread", "pack"))]
Backend = Annotated[Literal["local", "azure"], _lower_choice(("local", "azure"))]


class ImageReferenceSpec(_Model):
    """A Marketplace image of the pool's nodes (``imageReference``)."""

    publisher: str = Field(min_length=1, description="e.g. canonical")
    offer: str = Field(min_length=1, description="e.g. ubuntu-24_04-lts")
    sku: str = Field(min_length=1, description="e.g. server")
    version: str = Field(default="latest", min_length=1)

    def to_sdk(self) -> batch_models.BatchVmImageReference:
        """The data-plane ``BatchVmImageReference``."""
        return batch_models.BatchVmImageReference(
            publisher=self.publisher, offer=self.offer, sku=self.sku, version=self.version
        )


class StartTaskSpec(_Model):
    """The pool's start task: runs on every node when it joins the pool (or reboots/reimages).

    Command lines run without a shell, as for every Batch task; use ``/bin/sh -c '...'``.
    ``wait_for_success`` (default true) keeps a node out of scheduling until the start task succeeded.
    """

    command_line: str = Field(min_length=1, description="Run without a shell; use /bin/sh -c '...'.")
    resource_files: list[ResourceFileSpec] = Field(default_factory=list)
    environment_settings: dict[str, str] = Field(default_factory=dict)
    user_identity: UserIdentitySpec | None = None
    max_task_retry_count: int = Field(default=0, ge=-1)
    wait_for_success: bool = True

    def to_sdk(self) -> batch_models.BatchStartTask:
        """The data-plane ``BatchStartTask``."""
        return batch_models.BatchStartTask(
            command_line=self.command_line,
            resource_files=[f.to_sdk() for f in self.resource_files] or None,
            environment_settings=[
                batch_models.EnvironmentSetting(name=k, value=v) for k, v in self.environment_settings.items()
            ]
            or None,
            user_identity=self.user_identity.to_sdk() if self.user_identity else None,
            max_task_retry_count=self.max_task_retry_count,
            wait_for_success=self.wait_for_success,
        )


class PoolIdentitySpec(_Model):
    """User-assigned managed identities of the pool (Azure only), by ARM resource id."""

    user_assigned_identity_ids: list[str] = Field(min_length=1)

    @field_validator("user_assigned_identity_ids")
    @classmethod
    def _arm_ids(cls, ids: list[str]) -> list[str]:
        for value in ids:
            if "/providers/microsoft.managedidentity/userassignedidentities/" not in value.lower():
                raise ValueError(
                    f"{value!r} is not the ARM id of a user-assigned identity "
                    "(/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
                )
        return ids


class PoolSpec(_Model):
    """A Batch pool, the same on both backends (``azbatch:pool``).

    ``vm_size``, ``image``, ``node_agent_sku_id``, ``task_slots_per_node`` and
    ``task_scheduling_policy`` cannot change on an existing pool: changing one replaces the pool.
    ``target_dedicated_nodes`` is resized in place.
    """

    id: str = Field(description="The pool id: 1-64 letters, digits, '-' and '_'.")
    display_name: str | None = None
    vm_size: str = Field(min_length=1, description="e.g. standard_d2s_v3")
    image: ImageReferenceSpec
    node_agent_sku_id: str = Field(min_length=1, description="e.g. 'batch.node.ubuntu 24.04'")
    target_dedicated_nodes: int = Field(default=1, ge=0, le=10000)
    task_slots_per_node: int = Field(default=1, ge=1, le=256)
    task_scheduling_policy: NodeFillType = Field(default="spread", description="spread | pack")
    start_task: StartTaskSpec | None = None
    identity: PoolIdentitySpec | None = Field(default=None, description="Azure only.")
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"pool id {value!r} must be 1-64 letters, digits, '-' or '_'")
        return value

    @property
    def node_os(self) -> Literal["linux", "windows"]:
        """The nodes' OS, from the node agent SKU (``batch.node.windows amd64`` is Windows)."""
        return "windows" if "windows" in self.node_agent_sku_id.lower() else "linux"


class StorageSpec(_Model):
    """The output container and its write SAS (``azbatch:storage``).

    ``container_name`` defaults to the job's File Conventions container (``job-<job id>``). The SAS
    is signed with the account key for ``sas_permissions`` (default ``cw``: create + write, nothing
    to read or list), starts 15 minutes back, lives ``sas_lifetime`` and is re-signed only when a
    ``pulumi up`` runs within ``sas_rotation_margin`` of its expiry. With ``retain_on_destroy``
    (default) ``pulumi destroy`` leaves the container and what the job persisted in it: outputs are
    data, and the job's preparation and release logs are copied there during that very destroy.
    """

    container_name: str | None = None
    sas_lifetime: timedelta = Field(default=timedelta(days=30), description="ISO-8601 (P30D) or seconds.")
    sas_rotation_margin: timedelta = Field(default=timedelta(days=7), description="ISO-8601 (P7D) or seconds.")
    sas_permissions: str = Field(default="cw", description="Container SAS letters; must include c and w.")
    persist_task_logs: bool = Field(
        default=True, description="Persist every task's stdout/stderr to {taskId}/$TaskLog on completion."
    )
    retain_on_destroy: bool = Field(
        default=True,
        description="Keep the container and its blobs (the persisted outputs, $JobLog) when the stack is "
        "destroyed; false deletes them with the stack.",
    )

    @field_validator("container_name")
    @classmethod
    def _container(cls, value: str | None) -> str | None:
        if value is not None and not _CONTAINER.match(value):
            raise ValueError(
                f"container name {value!r} is invalid: 3-63 lower-case letters, digits and single hyphens, "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("sas_permissions")
    @classmethod
    def _permissions(cls, value: str) -> str:
        return canonical_permissions(value)

    @field_validator("sas_lifetime", "sas_rotation_margin")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"must be a positive duration, got {format_duration(value)}")
        return value


def canonical_permissions(value: str) -> str:
    """Container SAS permission letters in the service's order; raises ``ValueError`` on bad letters.

    Output files need create and write (``cw``); anything else is allowed but must include both.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("give container SAS permission letters, e.g. 'cw'")
    bad = sorted({c for c in value if c not in _SAS_PERMISSION_ORDER})
    if bad:
        raise ValueError(
            f"unknown SAS permission letter(s) {', '.join(repr(c) for c in bad)} "
            f"(allowed: {_SAS_PERMISSION_ORDER})"
        )
    missing = [c for c in "cw" if c not in value]
    if missing:
        raise ValueError(
            f"permissions {value!r} lack {' and '.join(repr(c) for c in missing)}: Batch output files need "
            "create (c) and write (w)"
        )
    return "".join(c for c in _SAS_PERMISSION_ORDER if c in value)


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
    for model in (PoolSpec, ImageReferenceSpec, StartTaskSpec, PoolIdentitySpec, StorageSpec, LocalConfig,
                  AzureConfig, BatchAccountConfig, StorageAccountConfig):
        names.update(model.model_fields)
    return names


def _suggest(name: str, candidates: Sequence[str] | set[str]) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    if snake != name and snake in candidates:
        return f"; did you mean {snake!r}? (keys are snake_case)"
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _pydantic_failures(top: str, exc: ValidationError) -> list[ConfigFailure]:
    failures = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        kind = error["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1]) if loc else ""
            reason = f"unknown key {name!r}{_suggest(name, _all_field_names())}"
        elif kind == "missing":
            reason = "required key is missing"
        else:
            reason = str(error["msg"]).removeprefix("Value error, ")
            value = error.get("input")
            if isinstance(value, str | int | float | bool) and kind not in ("value_error",) and "got" not in reason:
                reason = f"{reason}; got {value!r}"
        failures.append(ConfigFailure(_key(top, loc), reason))
    return failures


def _plain(value: Any) -> Any:
    """A config value as plain data; `{secure: ...}` values become an opaque placeholder string."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return "<secret>"
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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
            failures.append(ConfigFailure(f"{NAMESPACE}:{name}", f"unknown key{_suggest(top, STACK_KEYS)} "
                                          f"(known: {', '.join(_key(k) for k in STACK_KEYS)})"))
            continue
        ours[top] = _plain(value)
    return ours, failures


def _placeholder_sas_url(container: str, permissions: str, now: datetime) -> str:
    """A syntactically real container SAS URL, so the job rules can check the conventions container."""
    expiry = (now + timedelta(seconds=_PLACEHOLDER_SAS_SECONDS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"https://placeholder.blob.core.windows.net/{container}?sp={permissions}&se={expiry}&sig=placeholder"


def load_stack_config(values: Mapping[str, Any], *, source: str | None = None,
                      now: datetime | None = None) -> StackConfig:
    """Validate a stack's config values (``{"azbatch:pool": {...}, ...}``) into a :class:`StackConfig`.

    Keys may carry the ``azbatch:`` prefix or not; keys of other namespaces are ignored. Every
    problem is collected and raised at once as :class:`StackConfigError`, each naming its YAML key.
    ``source`` (a file name) is only used in the error message.
    """
    now = now or datetime.now(UTC)
    raw, failures = _split_keys(values)
    parsed: dict[str, Any] = {}
    models: dict[str, Any] = {"local": LocalConfig, "azure": AzureConfig, "pool": PoolSpec, "storage": StorageSpec}

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
                failures.append(ConfigFailure(_key("pool"), "required key is missing: the pool the job runs on"))
            elif name == "azure" and backend == "azure":
                failures.append(ConfigFailure(_key("azure"), "required with backend 'azure': resource_group, "
                                              "location, batch_account and storage_account"))
            continue
        if not isinstance(value, Mapping):
            failures.append(ConfigFailure(_key(name), f"must be a mapping, got {type(value).__name__}"))
            continue
        if name == "azure" and backend == "local":
            continue  # reported once below: the section does not apply
        try:
            parsed[name] = model.model_validate(value)
        except ValidationError as exc:
            failures.extend(_pydantic_failures(name, exc))

    pool: PoolSpec | None = parsed.get("pool")
    storage: StorageSpec = parsed.get("storage") or StorageSpec()
    if backend == "local" and pool is not None:
        if pool.identity is not None:
            failures.append(ConfigFailure(_key("pool", ["identity"]), "managed identities exist only on Azure; "
                                          "remove it for backend 'local'"))
        if pool.node_os == "windows":
            failures.append(ConfigFailure(_key("pool", ["node_agent_sku_id"]),
                                          f"{pool.node_agent_sku_id!r} is a Windows node agent; the local "
                                          "emulator runs Linux nodes only"))
    if backend == "local" and raw.get("azure"):
        failures.append(ConfigFailure(_key("azure"), "only used with backend 'azure'; remove it or set "
                                      "azbatch:backend: azure"))
    if storage.sas_rotation_margin >= storage.sas_lifetime and "storage" in parsed:
        failures.append(ConfigFailure(_key("storage", ["sas_rotation_margin"]),
                                      f"{format_duration(storage.sas_rotation_margin)} must be shorter than "
                                      f"sas_lifetime ({format_duration(storage.sas_lifetime)}), or the SAS "
                                      "would be re-signed on every pulumi up"))

    job = _load_job(raw.get("job"), pool, storage, now, failures)
    if failures:
        raise StackConfigError(failures, source=source)
    assert pool is not None and job is not None and backend is not None
    # Every part is validated already; model_construct keeps pydantic from re-running the job's
    # after-validators on a spec whose output_container_url the output storage fills in later.
    return StackConfig.model_construct(
        backend=backend, local=parsed.get("local") or LocalConfig(), azure=parsed.get("azure"),
        pool=pool, storage=storage, job=job,
    )


def _load_job(value: Any, pool: PoolSpec | None, storage: StorageSpec, now: datetime,
              failures: list[ConfigFailure]) -> JobSpec | None:
    if value is None:
        failures.append(ConfigFailure(_key("job"), "required key is missing: the job to run"))
        return None
    if not isinstance(value, Mapping):
        failures.append(ConfigFailure(_key("job"), f"must be a mapping, got {type(value).__name__}"))
        return None
    data = dict(value)
    ok = True
    if "output_container_url" in data:
        failures.append(ConfigFailure(_key("job", ["output_container_url"]),
                                      "is set by the stack from azbatch:storage (the container and its write "
                                      "SAS); remove it"))
        ok = False
        data.pop("output_container_url")
    if pool is not None:
        given = data.get("pool_id")
        if given is not None and given != pool.id:
            failures.append(ConfigFailure(_key("job", ["pool_id"]),
                                          f"{given!r} is not the stack's pool {pool.id!r} (azbatch:pool.id); "
                                          "remove it, the stack fills it in"))
            ok = False
        data["pool_id"] = pool.id
        given_os = data.get("node_os")
        if given_os is not None and isinstance(given_os, str) and given_os.lower() != pool.node_os:
            failures.append(ConfigFailure(_key("job", ["node_os"]),
                                          f"{given_os!r} does not match the pool's node agent "
                                          f"{pool.node_agent_sku_id!r} ({pool.node_os}); remove it"))
            ok = False
        data.setdefault("node_os", pool.node_os)
    else:
        data.setdefault("pool_id", "pool")  # placeholder so the job's own problems are still reported
    job_id = data.get("id")
    if not job_id:
        failures.append(ConfigFailure(_key("job", ["id"]),
                                      "required in a stack: the output container is named from it "
                                      "(File Conventions job-<id>) before the job exists"))
        return None
    container = storage.container_name
    if container is None and isinstance(job_id, str) and _ID.match(job_id):
        container = job_output_container_name(job_id)
    if container is not None:
        data["output_container_url"] = _placeholder_sas_url(container, storage.sas_permissions, now)
    for failure in validate_job(data, now=now):
        if failure.property.startswith("output_container_url"):
            key = _key("storage", ["container_name"])
            failures.append(ConfigFailure(key, failure.reason.replace("the URL", "azbatch:storage.container_name")))
        else:
            path = f".{failure.property}" if failure.property and not failure.property.startswith("[") else failure.property
            failures.append(ConfigFailure(f"{_key('job')}{path}", failure.reason))
        ok = False
    if not ok or pool is None:
        return None
    spec = JobSpec.model_validate(data)
    # Margin check: the SAS may be re-signed no sooner than `margin` before expiry, so a job started
    # just before that must finish within the margin.
    limit = spec.constraints.max_wall_clock_time
    if limit is not None and storage.sas_rotation_margin < limit:
        failures.append(ConfigFailure(_key("storage", ["sas_rotation_margin"]),
                                      f"{format_duration(storage.sas_rotation_margin)} is shorter than the job's "
                                      f"constraints.max_wall_clock_time ({format_duration(limit)}): a job started "
                                      "just before rotation could outlive its SAS"))
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
        raise StackConfigError([ConfigFailure("(file)", f"not valid YAML: {exc}")], source=str(path)) from None
    if not isinstance(document, Mapping):
        raise StackConfigError([ConfigFailure("(file)", "a stack file must be a mapping")], source=str(path))
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackConfigError([ConfigFailure("config", "must be a mapping of keys to values")], source=str(path))
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
    for name, model in (("local", LocalConfig), ("azure", AzureConfig), ("pool", PoolSpec),
                        ("storage", StorageSpec), ("job", JobSpec)):
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
    return _strip_titles({
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
    })
