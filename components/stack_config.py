"""Reading a stack's ``azbatch:*`` config in a Pulumi program, secrets included.

Owns: which config keys the program reads (every key of the namespace, so a typo'd key reaches the
validator and its did-you-mean instead of passing unseen) and which resource properties must stay
secret because their config value is (``pulumi config set --secret``).

How secretness is known: the engine hands the program the decrypted values and, per *top-level*
key, whether it holds a secret anywhere (``azbatch:job`` is secret if one leaf set with ``pulumi
config set --path --secret azbatch:job.x.y`` is). The leaves themselves are visible only in the
stack file, where they read ``{secure: v1:...}``; :func:`secret_properties` reads their paths from
there (nothing is decrypted) so that only the properties holding a secret are marked. When the file
does not show the secret (a config given otherwise), the whole value is treated as secret.

May import: the Pulumi runtime (config only), PyYAML, :mod:`pulumi_azbatch.config`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

from pulumi_azbatch.config import NAMESPACE, PROVIDER_KEYS

__all__ = ["ALL_PROPERTIES", "read_stack_config", "secret_properties", "secure_paths"]

#: Marks a whole config value as secret (every property made from it is).
ALL_PROPERTIES = "*"


def _config_keys() -> list[str]:
    keys = {*get_config_env(), *CONFIG.get()}
    return sorted(
        k for k in keys if k.startswith(f"{NAMESPACE}:") and k[len(NAMESPACE) + 1 :] not in PROVIDER_KEYS
    )


def _value(key: str) -> Any:
    raw = get_config(key)
    if isinstance(raw, str):
        try:
            return pulumi.Config(NAMESPACE).get_object(key.split(":", 1)[1])
        except Exception:  # noqa: BLE001 - a plain string value, not JSON
            return raw
    return raw


def secure_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The paths of the ``{secure: ...}`` leaves of a stack file value (``()`` for a secret scalar)."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            yield path
            return
        for k, v in value.items():
            yield from secure_paths(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from secure_paths(v, (*path, i))


def _stack_file(project_dir: Path, stack: str) -> Path:
    config_dir = project_dir
    try:
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
        if project.get("stackConfigDir"):
            config_dir = project_dir / str(project["stackConfigDir"])
    except (OSError, yaml.YAMLError):
        pass
    return config_dir / f"Pulumi.{stack}.yaml"


def secret_properties(
    secret_keys: list[str], stack_file_config: Mapping[str, Any] | None
) -> dict[str, frozenset[str]]:
    """Per secret stack key (``job``, ``pool``...), the top-level properties that hold a secret.

    ``stack_file_config`` is the ``config:`` mapping of the stack file (None if unreadable). A key
    whose secret leaves cannot be found there is secret as a whole (``{ALL_PROPERTIES}``).
    """
    result: dict[str, frozenset[str]] = {}
    for full in secret_keys:
        name = full.split(":", 1)[1]
        paths = list(secure_paths((stack_file_config or {}).get(full)))
        if not paths or any(not p for p in paths):
            result[name] = frozenset({ALL_PROPERTIES})
        else:
            result[name] = frozenset(str(p[0]) for p in paths)
    return result


def read_stack_config(project_dir: Path) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    """Every ``azbatch:*`` value (structured keys as objects) and :func:`secret_properties` of them."""
    keys = _config_keys()
    # {} is Pulumi.yaml's default for the structured keys: such a key is not set.
    values = {key: value for key in keys if (value := _value(key)) is not None and value != {}}
    secret = [key for key in keys if is_config_secret(key)]
    file_config: Mapping[str, Any] | None = None
    if secret:
        try:
            document = yaml.safe_load(_stack_file(project_dir, pulumi.get_stack()).read_text()) or {}
            file_config = document.get("config") or {}
        except (OSError, yaml.YAMLError):
            file_config = None
    return values, secret_properties(secret, file_config)
