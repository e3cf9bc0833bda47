"""Which Pulumi resource made a Batch or Storage object: the ownership mark and the adoption rule.

Every object the providers create (jobs, pools, output containers) carries a mark in its metadata:
the stack (``organization/project/stack``), the resource (``type::name``) and a nonce drawn when the
resource was first checked. The program passes the stack and resource identity as inputs (inside a
provider ``pulumi.get_stack()`` is a stub); the provider draws the nonce in ``check`` and keeps it.

The rule, one place for every provider (:func:`verdict`):

* same stack, resource and nonce: this resource's object (delete, update, read it);
* same stack and resource, another nonce: left by an interrupted deployment of this resource (the
  create's answer was lost, or the run was killed): adopted, and re-marked with the current nonce;
* anything else (another stack, another resource, or no mark: created outside Pulumi): refused,
  with a message naming the owner, unless the resource says ``adopt: true``.

``destroy`` deletes only what carries this resource's full mark; what another stack took over is left
alone with a warning. The mark lives in the object's metadata but never in the user's ``metadata``
input or its drift: :func:`user_metadata` strips it, :func:`with_mark` adds it.

May import: the standard library only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

#: Metadata names of the mark. Valid Batch metadata names and Blob metadata names (C# identifiers).
STACK_KEY = "pulumi_azbatch_stack"
RESOURCE_KEY = "pulumi_azbatch_resource"
NONCE_KEY = "pulumi_azbatch_nonce"
MARK_KEYS = (STACK_KEY, RESOURCE_KEY, NONCE_KEY)

#: Resource inputs carrying the identity (set by the resource classes) and the explicit takeover.
OWNER_STACK_INPUT = "owner_stack"
OWNER_RESOURCE_INPUT = "owner_resource"
OWNER_NONCE_INPUT = "owner_nonce"
ADOPT_INPUT = "adopt"
OWNER_INPUTS = (OWNER_STACK_INPUT, OWNER_RESOURCE_INPUT, OWNER_NONCE_INPUT)


@dataclass(frozen=True)
class Mark:
    """The ownership mark of one object."""

    stack: str
    resource: str
    nonce: str

    def metadata(self) -> dict[str, str]:
        return {STACK_KEY: self.stack, RESOURCE_KEY: self.resource, NONCE_KEY: self.nonce}

    def describe(self) -> str:
        return f"stack {self.stack}, resource {self.resource}"


class Verdict(Enum):
    OURS = "ours"
    INTERRUPTED = "interrupted"  # this resource's, from an earlier, interrupted deployment
    FOREIGN = "foreign"


def new_nonce() -> str:
    return secrets.token_hex(8)


def with_nonce(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """``news`` with this resource's nonce: the one its state has, or a new one at the first check."""
    inputs = dict(news)
    if not inputs.get(OWNER_NONCE_INPUT):
        inputs[OWNER_NONCE_INPUT] = olds.get(OWNER_NONCE_INPUT) or new_nonce()
    return inputs


def mark_of_object(obj: object) -> Mark | None:
    """The mark of a Batch job or pool (its ``metadata`` is a list of name/value items)."""
    return mark_of_metadata({i.name: i.value for i in getattr(obj, "metadata", None) or []})


def mark_of_inputs(props: Mapping[str, object]) -> Mark | None:
    """The mark this resource puts on its objects (None for state written before marks existed)."""
    values = [props.get(k) for k in OWNER_INPUTS]
    if not all(isinstance(v, str) and v for v in values):
        return None
    stack, resource, nonce = (str(v) for v in values)
    return Mark(stack, resource, nonce)


def mark_of_metadata(metadata: Mapping[str, str] | None) -> Mark | None:
    """The mark found on an object (None when it carries none: created outside these providers)."""
    metadata = {k.lower(): v for k, v in (metadata or {}).items()}
    values = [metadata.get(k) for k in MARK_KEYS]
    if not all(values):
        return None
    stack, resource, nonce = (str(v) for v in values)
    return Mark(stack, resource, nonce)


def user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """An object's metadata without the mark: what the user's ``metadata`` input describes."""
    return {k: v for k, v in (metadata or {}).items() if k.lower() not in MARK_KEYS}


def reserved_keys_used(metadata: object) -> list[str]:
    """The metadata names a user gave that belong to the mark (refused by ``check``)."""
    if not isinstance(metadata, Mapping):
        return []
    return sorted(k for k in metadata if str(k).lower() in MARK_KEYS)


def with_mark(metadata: Mapping[str, str] | None, mark: Mark | None) -> dict[str, str]:
    """The user's metadata plus the mark (unchanged when there is no mark to add)."""
    return {**user_metadata(metadata), **(mark.metadata() if mark else {})}


def verdict(found: Mark | None, ours: Mark) -> Verdict:
    if found is None or (found.stack, found.resource) != (ours.stack, ours.resource):
        return Verdict.FOREIGN
    return Verdict.OURS if found.nonce == ours.nonce else Verdict.INTERRUPTED


def owner_text(found: Mark | None) -> str:
    if found is None:
        return "nobody known: it carries no pulumi-azbatch mark (created outside Pulumi, or by a version without marks)"
    return found.describe()


def refusal(kind: str, object_id: str, found: Mark | None, ours: Mark) -> str:
    """The message of a refused takeover: who owns the object and how to take it over deliberately."""
    return (
        f"{kind} {object_id} already exists and belongs to {owner_text(found)}, not to this resource "
        f"({ours.describe()}). Choose another id, or delete it, or take it over deliberately: set "
        f"`adopt: true` on this resource (preview announces it), run `pulumi up`, then remove `adopt`."
    )


def foreign_left_alone(kind: str, object_id: str, found: Mark | None, ours: Mark) -> str:
    """The warning of a destroy that leaves an object it no longer owns."""
    return (
        f"warning: {kind} {object_id} is not deleted: it now belongs to {owner_text(found)}, not to this "
        f"resource ({ours.describe()}); only the state entry is removed"
    )


# ---- the program side (the resource classes): identity inputs and the takeover announcement ----------


def owner_inputs(type_token: str, resource_name: str) -> dict[str, object]:
    """The identity inputs of a resource: its stack and ``type::name`` (the nonce is drawn by ``check``)."""
    import pulumi

    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    return {
        OWNER_STACK_INPUT: stack,
        OWNER_RESOURCE_INPUT: f"{type_token}::{resource_name}",
        OWNER_NONCE_INPUT: None,
    }


def announce_adoption(resource: object, kind: str, resource_name: str) -> None:
    """The warning of an explicit takeover, shown by preview and up (the program's own diagnostic)."""
    import pulumi

    pulumi.log.warn(
        f"{kind} {resource_name}: adopt: true takes over an existing {kind} with the same id, whoever made it "
        "(it is marked as this stack's, and `pulumi destroy` then deletes it); remove `adopt` once adopted",
        resource=resource,  # type: ignore[arg-type]
    )
