"""What every dynamic provider of this package shares.

Providers are pickled by reference into the Pulumi state (their classes live in this installed
package), so `pulumi destroy` and `pulumi refresh` always run the currently installed code. Nothing
live is kept on an instance: SDK clients are built inside each method from the inputs and the
environment, so a rotated key never needs an `up` before a `destroy`.

Also the program side every resource class shares: :func:`resource_inputs` builds a Job's or a
JobSchedule's inputs from its spec (one sequence: unknown keys refused, engine-serializable values,
secrets, the account, the ownership identity, computed outputs seeded) and :func:`engine_leaf` turns
Python values into what the engine serializes.

May import: the models (:mod:`pulumi_azbatch.model`), the Pulumi dynamic provider API, :mod:`.ownership`
(standard library only). Unknown values are tested with the models' ``is_unknown`` (one value) and
``contains_unknown`` (a value and everything nested in it), re-exported here.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import DiffResult, ResourceProvider
from pulumi.output import Unknown
from pydantic import BaseModel

from pulumi_azbatch.model.common import (
    DESCEND,
    UNKNOWN,
    contains_unknown,
    has_sas,
    is_unknown,
    plain_data,
    redact_sas,
)

from .ownership import ADOPT_INPUT, owner_inputs

if TYPE_CHECKING:
    import pulumi

# Environment variable naming a file to which providers append one JSON line per call: which
# operation ran, in which process and with which Python (used to diagnose "which code ran my destroy").
TRACE_ENV = "PULUMI_AZBATCH_PROVIDER_TRACE"
#: The input holding the resource name, used once by ``check`` to autoname the object id.
NAME_KEY = "name_prefix"
#: Why the pool cannot run container tasks (set by BatchJob / BatchJobSchedule from its pool; None when
#: it can): ``check`` refuses every ``container_settings`` with it, at preview.
CONTAINER_REFUSAL_KEY = "container_refusal"

__all__ = [
    "CONTAINER_REFUSAL_KEY",
    "NAME_KEY",
    "TRACE_ENV",
    "autoname",
    "engine_leaf",
    "mark_secret_inputs",
    "masked_failures",
    "UNKNOWN",
    "ProviderBase",
    "SasRedactedError",
    "changed_keys",
    "contains_unknown",
    "is_unknown",
    "normalize_unknowns",
    "public_inputs",
    "resource_inputs",
    "say",
    "secret_if_sas",
    "trace",
]


def normalize_unknowns(value: Any) -> Any:
    """Replace the SDK's `Unknown` placeholders (preview) by the UNKNOWN sentinel string, recursively.

    Depending on the Pulumi SDK version a dynamic provider receives unknown inputs either as the
    sentinel string or as `pulumi.output.Unknown` objects; validation and diffing see one form only.
    """
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: normalize_unknowns(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize_unknowns(v) for v in value]
    return value


def _with_known_form(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> Any:
        return method(self, *(normalize_unknowns(a) for a in args))

    return wrapper


def public_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs without engine bookkeeping (`__provider` and friends)."""
    return {k: v for k, v in props.items() if not k.startswith("__")}


def trace(provider: object, operation: str, **fields: Any) -> None:
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    record = {
        "provider": type(provider).__qualname__,
        "module": type(provider).__module__,
        "operation": operation,
        "python": sys.executable,
        "prefix": sys.prefix,
        "pid": os.getpid(),
        "time": time.time(),
        **fields,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")


def say(message: str) -> None:
    """Progress for the user: the engine shows a provider's stderr lines in the CLI output.

    SAS signatures are redacted: diagnostics end up in CI logs.
    """
    print(redact_sas(message), file=sys.stderr, flush=True)


def secret_if_sas(value: Any) -> Any:
    """Mark a value secret when it holds a SAS (``sig=``), now or once an Output inside it resolves."""
    import pulumi

    if value is None:
        return None
    return pulumi.Output.from_input(value).apply(lambda v: pulumi.Output.secret(v) if has_sas(v) else v)


class SasRedactedError(RuntimeError):
    """A provider failure whose message held a SAS signature, re-raised with it redacted."""


def _redacting_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """The engine prints a failed operation's message: a SAS in it (an SDK error quoting a URL) is redacted."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Exception as exc:
            text = str(exc)
            if "sig=" not in text:
                raise
            raise SasRedactedError(redact_sas(text)) from None

    return wrapper


class ProviderBase(ResourceProvider):
    """A dynamic provider with a diff that ignores `__provider` and classes each key as update or replace.

    Failures of every operation reach the user with SAS signatures redacted.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("check", "diff"):
            if name in cls.__dict__:
                setattr(cls, name, _with_known_form(cls.__dict__[name]))
        for name in ("create", "read", "update", "delete"):
            if name in cls.__dict__:
                setattr(cls, name, _redacting_errors(cls.__dict__[name]))

    #: the resource's inputs (stored outputs also hold computed values, which are not compared)
    input_keys: frozenset[str] = frozenset()
    #: inputs whose change needs a new resource; every other changed input is updated in place
    replace_keys: frozenset[str] = frozenset()

    @_with_known_form
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        keys = self.input_keys or public_inputs(news).keys()
        changed = sorted(changed_keys(olds, news, keys))
        replaces = [k for k in changed if k in self.replace_keys]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The keys whose new value differs from the stored one (an unknown new value counts as a change)."""
    return [
        k
        for k in keys
        if not k.startswith("__") and (contains_unknown(news.get(k)) or olds.get(k) != news.get(k))
    ]


def autoname(olds: Mapping[str, Any], news: Mapping[str, Any], key: str, name_key: str, fallback: str) -> Any:
    """The object id of a resource: the given one, else the one an earlier check chose (kept in the
    state), else ``<resource name>-<random>`` (Pulumi's autonaming, drawn once)."""
    import secrets

    from pulumi_azbatch.model.job import make_job_id

    if news.get(key):
        return news[key]
    old_id = olds.get(key)
    prefix = news.get(name_key) or fallback
    if old_id and not is_unknown(prefix):
        return old_id
    return make_job_id(str(prefix), secrets.token_hex(4)[:7])


def masked_failures(failures: list[Any], inputs: Mapping[str, Any], secret_keys: Iterable[str]) -> list[Any]:
    """Check failures that do not make the engine print a secret.

    The engine shows a failure on a top-level property as ``property X value {<the value>} has a
    problem``, unwrapping secrets: a failure about a secret input (``secret_keys``) or a value holding
    a SAS would print it in the deployment log. Such failures name the property in the reason instead.
    """
    from pulumi.dynamic import CheckFailure

    hidden = set(secret_keys)
    masked = []
    for failure in failures:
        if failure.property in hidden or has_sas(inputs.get(failure.property)):
            masked.append(CheckFailure("", f"{failure.property}: {failure.reason}"))
        else:
            masked.append(failure)
    return masked


def mark_secret_inputs(
    props: dict[str, Any], secret_properties: Iterable[str], sas_keys: Iterable[str], id_key: str
) -> list[str]:
    """Make a resource's inputs secret where they must be, in place; returns the keys made secret.

    Secret because the stack config value is (``secret_properties``: spec property names, ``id`` as
    ``id_key``, ``*`` for all), or because the value holds a SAS (``sas_keys``: a resource file URL, a
    metadata or environment value), and always ``output_container_url`` (a write SAS).
    """
    import pulumi

    names = set(secret_properties)
    wanted = set(props) if "*" in names else {id_key if k == "id" else k for k in names}
    secret = sorted(k for k in wanted if props.get(k) is not None)
    for key in secret:
        props[key] = pulumi.Output.secret(props[key])
    for key in sas_keys:
        if props.get(key) is not None and key not in secret:
            props[key] = secret_if_sas(props[key])
    if props.get("output_container_url") is not None:
        props["output_container_url"] = pulumi.Output.secret(props["output_container_url"])
    return secret


# ---- the program side: a resource's inputs ------------------------------------------------------------


def engine_leaf(value: Any) -> Any:
    """Python values the engine can serialize: timedeltas as seconds, models as their JSON form.

    The leaf function of :func:`~pulumi_azbatch.model.common.plain_data` for a resource's inputs.
    """
    import pulumi

    if isinstance(value, pulumi.Output):
        return value  # (an Output answers hasattr() for any name: test it first)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    return DESCEND


def resource_inputs(
    resource_name: str,
    spec: BaseModel | Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    model: type[BaseModel],
    kind: str,
    type_token: str,
    id_key: str,
    sas_keys: Iterable[str],
    secret_properties: Iterable[str],
    account: tuple[Any, Any, Any],
    adopt: bool,
    computed_keys: Iterable[str],
    secret_inputs: Mapping[str, Any] | None = None,
    extra_inputs: Mapping[str, Any] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """A Job's or JobSchedule's inputs and resource options, built from its spec in one sequence.

    * the spec (a ``model`` instance, dumped without defaults, or a mapping) with ``overrides`` on top;
      a key that is not a ``model`` property is a ``TypeError`` naming it (and the ``kind``);
    * every value made engine-serializable (:func:`engine_leaf`), ``id`` renamed ``id_key``;
    * secrets (:func:`mark_secret_inputs`): the stack config's ``secret_properties``, SAS-bearing
      ``sas_keys``, ``output_container_url``;
    * the account (``url``, ``name``, ``key``), the key secret; ``secret_inputs`` (URLs with a SAS)
      secret; ``extra_inputs`` as given; the resource name under :data:`NAME_KEY` (autonaming);
    * the ownership identity (:func:`~.ownership.owner_inputs`) and ``adopt``;
    * ``computed_keys`` seeded with None (so they are outputs of the resource);
    * ``additional_secret_outputs``: the key, ``output_container_url``, ``secret_inputs`` and the
      inputs made secret, merged into ``opts``.
    """
    import pulumi

    raw = spec.model_dump(mode="json", exclude_defaults=True) if isinstance(spec, model) else dict(spec)
    raw.update(overrides)
    unknown = sorted(k for k in raw if k not in model.model_fields)
    if unknown:
        resource_type = type_token.split(":")[-1]
        raise TypeError(f"{resource_type} {resource_name!r}: unknown {kind} properties {', '.join(unknown)}")
    props: dict[str, Any] = {(id_key if k == "id" else k): plain_data(v, engine_leaf) for k, v in raw.items()}
    secret = mark_secret_inputs(props, secret_properties, sas_keys, id_key)
    props.setdefault(id_key, None)
    url, name, key = account
    secret_urls = dict(secret_inputs or {})
    props.update(
        {
            "batch_account_url": url,
            "batch_account_name": name,
            "batch_account_key": pulumi.Output.secret(key) if key is not None else None,
            NAME_KEY: resource_name,
            **dict(extra_inputs or {}),
            **{k: pulumi.Output.secret(v) if v is not None else None for k, v in secret_urls.items()},
            **owner_inputs(type_token, resource_name),
            ADOPT_INPUT: adopt,
        }
    )
    for computed in computed_keys:
        props.setdefault(computed, None)
    secret_opts = pulumi.ResourceOptions(
        additional_secret_outputs=["batch_account_key", "output_container_url", *secret_urls, *secret]
    )
    return props, pulumi.ResourceOptions.merge(opts, secret_opts)
