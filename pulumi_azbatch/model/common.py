"""What every model of this package shares: one helper per rule.

Owns: Pulumi's unknown-value sentinel and the two tests on it (:func:`is_unknown` for one value,
:func:`contains_unknown` for a value and everything nested in it), the Batch id pattern, the enum
normaliser with did-you-mean (:func:`choice`), property-name suggestions, durations, the query
stripper for URLs, the plain-data converter, the per-process memo of recent results (:class:`RecentValues`), property paths and the conversion of a pydantic error
into a property path and a reason, the base of every model and the identity reference they share.

May import: the standard library, pydantic, ``azure.batch.models``. Must not import the pulumi
runtime, stack config, components or providers (the dynamic providers import *this*).
"""

from __future__ import annotations

import difflib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

from azure.batch import models as batch_models
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "DESCEND",
    "EnvironmentValue",
    "ID_PATTERN",
    "MAX_ID_LENGTH",
    "RecentValues",
    "UNKNOWN",
    "IdentityReferenceSpec",
    "Path",
    "SpecModel",
    "ValidationFailure",
    "choice",
    "contains_unknown",
    "did_you_mean",
    "error",
    "error_path",
    "error_reason",
    "duration_hint",
    "format_duration",
    "iso_duration",
    "format_path",
    "has_sas",
    "invalid_id_characters",
    "is_unknown",
    "parse_human_duration",
    "plain_data",
    "positive_duration",
    "redact_sas",
    "snake_case",
    "strip_query",
    "suggest_name",
]

# --------------------------------------------------------------------------------------------------
# Unknown values (Pulumi preview)
# --------------------------------------------------------------------------------------------------

#: The string Pulumi substitutes for values not yet known during a preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """True when ``value`` is (or is a string containing) Pulumi's unknown-value sentinel.

    A string that merely contains the sentinel (an interpolation of an unknown Output) is unknown
    as a whole. Containers are not looked into: see :func:`contains_unknown`.
    """
    return isinstance(value, str) and UNKNOWN in value


def contains_unknown(value: Any) -> bool:
    """True when ``value`` or anything nested in it (mapping values, list items) is unknown."""
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return is_unknown(value)


# --------------------------------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------------------------------

#: Batch ids (jobs, tasks, pools, preparation/release tasks): 1-64 letters, digits, '-' and '_'.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # always fullmatch: `$` accepts a trailing newline
MAX_ID_LENGTH = 64
_NOT_ID_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")


def invalid_id_characters(value: str) -> list[str]:
    """The characters of ``value`` a Batch id may not contain, sorted and without repeats."""
    return sorted(set(_NOT_ID_CHARACTER.findall(value)))


def id_safe(text: str) -> str:
    """``text`` with every character a Batch id may not contain replaced by ``-``."""
    return _NOT_ID_CHARACTER.sub("-", text)


# --------------------------------------------------------------------------------------------------
# Errors, enumerations and suggestions
# --------------------------------------------------------------------------------------------------


def error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown verbatim (no context, so braces are not templates)."""
    return PydanticCustomError("azbatch", message)


def did_you_mean(value: str, choices: Sequence[str]) -> str | None:
    """The closest choice to ``value`` (compared in lower case), or None when nothing is close."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def choice(what: str, choices: Sequence[str], *, advice: str = "") -> Callable[[Any], Any]:
    """A before-validator accepting ``choices`` in any case (also ignoring ``_``/``-``/spaces).

    The value is stored in the spelling of ``choices``; anything else is an error naming ``what``,
    with a did-you-mean, the allowed values and ``advice`` (what else to do), if any.
    """
    by_key = {re.sub(r"[\s_-]", "", c).lower(): c for c in choices}

    def normalize(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        key = re.sub(r"[\s_-]", "", value).lower()
        if key in by_key:
            return by_key[key]
        suggestion = did_you_mean(value, choices)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        more = f"; {advice}" if advice else ""
        raise error(f"unknown {what} {value!r}{hint} (allowed: {', '.join(choices)}{more})")

    return normalize


def snake_case(name: str) -> str:
    """``commandLine`` -> ``command_line``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def suggest_name(name: str, candidates: Collection[str]) -> tuple[str | None, bool]:
    """The property name meant by ``name``, and whether it is ``name`` spelled in snake_case.

    The snake_case spelling wins when it is a candidate (``commandLine`` -> ``command_line``);
    otherwise the closest candidate, if any is close.
    """
    snake = snake_case(name)
    if snake in candidates:
        return snake, snake != name
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
    return (close[0] if close else None), False


# --------------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------------


def format_duration(value: timedelta) -> str:
    """A duration as people write it: ``1 h 30 min``, ``15 min``, ``30 days``, ``-5 s``."""
    total = value.total_seconds()
    if total <= 0:
        return f"{total:g} s"
    days, rest = divmod(int(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{days} day{'s' if days != 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
        f"{seconds} s" if seconds else "",
    ]
    return " ".join(p for p in parts if p) or f"{total:g} s"


_HUMAN_UNITS = {
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_HUMAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def iso_duration(value: timedelta) -> str:
    """A positive duration in ISO-8601: ``PT2H``, ``P1D``, ``P1DT2H30M``, ``PT0.5S``."""
    total = value.total_seconds()
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    date = f"{int(days)}D" if days else ""
    time = "".join(
        f"{n:g}{unit}" for n, unit in ((int(hours), "H"), (int(minutes), "M"), (round(seconds, 3), "S")) if n
    )
    return "P" + date + (f"T{time}" if time else "") if (date or time) else "PT0S"


def parse_human_duration(text: str) -> timedelta | None:
    """``2h``, ``90 min``, ``1h30m``, ``2 days`` as a timedelta; None when ``text`` is not such a duration."""
    compact = text.strip().lower()
    parts = _HUMAN_PART.findall(compact)
    if not parts or _HUMAN_PART.sub("", compact).strip(" ,") != "":
        return None
    seconds = 0.0
    for number, unit in parts:
        if unit not in _HUMAN_UNITS:
            return None
        seconds += float(number) * _HUMAN_UNITS[unit]
    return timedelta(seconds=seconds)


def duration_hint(value: Any) -> str:
    """How to write ``value`` as a duration the models accept (``'2h'`` -> ``use 'PT2H'``), or ``""``."""
    parsed = parse_human_duration(value) if isinstance(value, str) else None
    example = f"use {iso_duration(parsed)!r} ({format_duration(parsed)})" if parsed else "e.g. 'PT2H', 'P1D'"
    return f"a duration is ISO-8601 or seconds: {example}"


def positive_duration(value: timedelta | None) -> timedelta | None:
    """A field validator: ``value`` must be a positive duration (None passes)."""
    if value is not None and value <= timedelta(0):
        raise error(f"must be a positive duration, got {format_duration(value)}")
    return value


# --------------------------------------------------------------------------------------------------
# URLs and plain data
# --------------------------------------------------------------------------------------------------


def strip_query(url: str) -> str:
    """``url`` without its query (a SAS, for instance)."""
    return urlsplit(url)._replace(query="").geturl()


def has_sas(value: Any) -> bool:
    """True when a value (or anything nested in it) holds a SAS: a signature ``sig=``."""
    if isinstance(value, str):
        return "sig=" in value
    if isinstance(value, Mapping):
        return any(has_sas(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_sas(v) for v in value)
    return False


_SAS_SIGNATURE = re.compile(r"(?i)(\bsig=)[^&\s'\"]+")


def redact_sas(text: str) -> str:
    """``text`` with every SAS signature replaced by ``REDACTED`` (``...&sig=REDACTED``)."""
    return _SAS_SIGNATURE.sub(r"\1REDACTED", text)


_V = TypeVar("_V")


class RecentValues(Generic[_V]):
    """The last ``size`` values computed in this process, by key (least recently used dropped first),
    safe to share between the threads of a provider process. The values are shared, not copied: keep
    only immutable ones (frozen models, lists nobody appends to)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[str, _V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _V | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: str, value: _V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)


class _Descend:
    """The marker a :func:`plain_data` ``leaf`` function returns for "convert this node as usual"."""


#: Returned by a :func:`plain_data` ``leaf`` function to let the converter handle the node.
DESCEND: Any = _Descend()


def plain_data(value: Any, leaf: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as plain data: mappings become dicts with string keys, lists and tuples lists.

    ``leaf``, when given, sees every node first and returns its plain form, or :data:`DESCEND` to
    let the converter handle it (so callers add their own leaves: secrets, durations, models).
    """
    if leaf is not None:
        converted = leaf(value)
        if converted is not DESCEND:
            return converted
    if isinstance(value, Mapping):
        return {str(k): plain_data(v, leaf) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v, leaf) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# Property paths and pydantic errors
# --------------------------------------------------------------------------------------------------

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("tasks", 3, "id")`` -> ``tasks[3].id``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


@dataclass(frozen=True)
class ValidationFailure:
    """One problem with a job spec: ``property`` is a path like ``tasks[3].output_files[0].upload_condition``.

    The fields mirror Pulumi's ``CheckFailure(property, reason)`` so the provider can pass them on.
    """

    property: str
    reason: str

    def __str__(self) -> str:
        return f"{self.property}: {self.reason}" if self.property else self.reason


def error_path(loc: Sequence[str | int], data: Any) -> Path:
    """A pydantic error location as a path in the raw input ``data``.

    Parts pydantic adds that are not in the input are left out: the tag of a discriminated-union
    member and the ``function-...`` names of function validators.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            if isinstance(part, str) and node.get("type") == part:
                continue  # the tag pydantic adds for a discriminated union member
            if isinstance(part, str) and part.startswith("function-"):
                continue
            path.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and part.startswith("function-"):
            continue
        else:
            path.append(part)
            node = None
    return tuple(path)


def error_reason(
    error: Mapping[str, Any], path: Path, *, noun: str, names: Callable[[], Collection[str]]
) -> str:
    """A readable reason for one pydantic error at ``path``.

    ``noun`` is what the input calls a name (``property`` in a job spec, ``key`` in a stack file);
    ``names`` gives every known name, for the did-you-mean of an unknown one. Messages of this
    package's validators are kept verbatim; pydantic's own get the offending value appended.
    """
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else ""
        suggestion, snake = suggest_name(name, names())
        hint = ""
        if suggestion is not None:
            hint = f"; did you mean {suggestion!r}?" + (f" ({noun} names are snake_case)" if snake else "")
        return f"unknown {noun} {name!r}{hint}"
    if kind == "missing":
        return f"required {noun} is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("azbatch", "value_error"):
        return message
    if kind.startswith("time_delta"):
        return f"not a duration: {error.get('input')!r}; {duration_hint(error.get('input'))}"
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and "got" not in message:
        message = f"{message}; got {value!r}"
    return message


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def _scalar_as_text(value: Any) -> Any:
    # YAML and `pulumi config set --path` turn `THREADS: 4` into a number; Batch takes strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


#: A value of an environment variable or metadata item: a string; numbers and booleans are taken as
#: their text (``4`` -> ``"4"``, ``true`` -> ``"true"``).
EnvironmentValue = Annotated[str, BeforeValidator(_scalar_as_text)]


class SpecModel(BaseModel):
    """Base of every spec model: snake_case only, unknown properties rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, ("<secret>" if name in SECRET_FIELD_NAMES and value is not None else value)


class IdentityReferenceSpec(SpecModel):
    """A user-assigned managed identity of the pool (``identityReference``), by ARM resource id."""

    resource_id: str = Field(
        min_length=1, description="ARM resource id of a user-assigned identity of the pool."
    )

    def to_sdk(self) -> batch_models.BatchNodeIdentityReference:
        """The SDK ``BatchNodeIdentityReference``."""
        return batch_models.BatchNodeIdentityReference(resource_id=self.resource_id)

    def to_arm(self) -> Any:
        """The azure-native ``batch.ComputeNodeIdentityReferenceArgs``."""
        from pulumi_azure_native import batch

        return batch.ComputeNodeIdentityReferenceArgs(resource_id=self.resource_id)


# --------------------------------------------------------------------------------------------------
# Secrets and container images
# --------------------------------------------------------------------------------------------------

#: A password, key or SAS: hidden from ``repr`` (so from error messages), marked in the JSON Schema.
Secret = Annotated[str, Field(json_schema_extra={"writeOnly": True, "x-secret": True})]
#: The names of :data:`Secret` fields, whose values ``repr`` (and so every error message) hides.
SECRET_FIELD_NAMES = frozenset({"password", "account_key", "sas_key", "ssh_private_key"})

# A Docker image reference: [host[:port]/]path[:tag][@digest], path components lower case.
_IMAGE = re.compile(
    r"^(?:(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z0-9]+:[A-Fa-f0-9]{32,}))?$"
)


def check_image_name(value: str) -> str:
    """A field validator: ``value`` must be a Docker image reference (``[registry/]repo[:tag][@digest]``)."""
    if not value or not _IMAGE.match(value):
        hint = " (repository names are lower case)" if value != value.lower() else ""
        raise error(
            f"{value!r} is not a container image reference [registry[:port]/]repository[:tag][@digest]{hint}"
        )
    return value


#: A container image reference, checked with :func:`check_image_name`.
ImageName = Annotated[str, AfterValidator(check_image_name)]
