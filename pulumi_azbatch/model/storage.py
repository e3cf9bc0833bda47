"""Output storage: :class:`StorageSpec` (the container and its write SAS) and the rules for both.

Owns: :class:`StorageSpec`, the container-name rule (:func:`container_name_problem`, shared by
the stack config and the BlobContainer provider), SAS permission letters
(:func:`canonical_permissions`), a container's URL (:func:`container_url`) and the container's ARM
mapping (:meth:`StorageSpec.to_arm_container_args`).

May import: :mod:`.common`, pydantic; azure-native's types only inside ``to_arm_*``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from .common import SpecModel, error, positive_duration

__all__ = [
    "StorageSpec",
    "canonical_permissions",
    "check_sas_permissions",
    "container_name_problem",
    "container_url",
]

_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
# Container SAS permission letters, in the order the service expects them in `sp`.
_SAS_PERMISSION_ORDER = "racwdxltfmeopi"


def container_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid blob container name, or None when it is."""
    if isinstance(name, str) and _CONTAINER.fullmatch(name):
        return None
    return (
        f"container name {name!r} is invalid: 3-63 lower-case letters, digits and single hyphens, "
        "starting and ending with a letter or digit"
    )


def container_url(blob_url: str, name: str) -> str:
    """The container's URL (without any SAS)."""
    return f"{blob_url.rstrip('/')}/{name}"


def check_sas_permissions(value: str) -> str:
    """A field validator: container SAS letters (see :func:`canonical_permissions`), as a model error."""
    try:
        return canonical_permissions(value)
    except ValueError as exc:
        raise error(str(exc)) from None


class StorageSpec(SpecModel):
    """The output container and its write SAS (``azbatch:storage``).

    ``container_name`` defaults to the job's File Conventions container (``job-<job id>``). The SAS
    is signed with the account key for ``sas_permissions`` (default ``cw``: create + write, nothing
    to read or list), starts 15 minutes back, lives ``sas_lifetime`` and is re-signed only when a
    ``pulumi up`` runs within ``sas_rotation_margin`` of its expiry (default: a quarter of the
    lifetime, :attr:`rotation_margin`, so a 7-day SAS is re-signed by an ``up`` in its last 42 hours
    and never on every ``up``). With ``retain_on_destroy``
    (default) ``pulumi destroy`` leaves the container and what the job persisted in it: outputs are
    data, and the job's preparation and release logs are copied there during that very destroy.
    """

    container_name: str | None = None
    sas_lifetime: timedelta = Field(default=timedelta(days=30), description="ISO-8601 (P30D) or seconds.")
    sas_rotation_margin: timedelta | None = Field(
        default=None,
        description="ISO-8601 (P7D) or seconds; default a quarter of sas_lifetime (7.5 days of 30).",
    )
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
        if value is not None:
            problem = container_name_problem(value)
            if problem:
                raise error(problem)
        return value

    _permissions = field_validator("sas_permissions")(check_sas_permissions)

    @field_validator("sas_lifetime", "sas_rotation_margin")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        positive_duration(value)
        return value

    @property
    def rotation_margin(self) -> timedelta:
        """The rotation margin in effect: ``sas_rotation_margin``, else a quarter of ``sas_lifetime``."""
        return self.sas_rotation_margin if self.sas_rotation_margin is not None else self.sas_lifetime / 4

    def to_arm_container_args(self, container_name: str) -> dict[str, Any]:
        """The azure-native (ARM) ``storage.BlobContainer`` arguments of the container (private)."""
        from pulumi_azure_native import storage

        return {"container_name": container_name, "public_access": storage.PublicAccess.NONE}


def canonical_permissions(value: str, require: str = "cw") -> str:
    """Container SAS permission letters in the service's order; raises ``ValueError`` on bad letters.

    Output files need create and write (``require``, default ``cw``); anything else is allowed but
    must include both. A blob's read SAS (the File Conventions library wheel) requires nothing.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("give container SAS permission letters, e.g. 'cw'")
    bad = sorted({c for c in value if c not in _SAS_PERMISSION_ORDER})
    if bad:
        raise ValueError(
            f"unknown SAS permission letter(s) {', '.join(repr(c) for c in bad)} "
            f"(allowed: {_SAS_PERMISSION_ORDER})"
        )
    missing = [c for c in require if c not in value]
    if missing:
        raise ValueError(
            f"permissions {value!r} lack {' and '.join(repr(c) for c in missing)}: Batch output files need "
            "create (c) and write (w)"
        )
    return "".join(c for c in _SAS_PERMISSION_ORDER if c in value)
