"""What every dynamic provider of this package shares.

Providers are pickled by reference into the Pulumi state (their classes live in this installed
package), so `pulumi destroy` and `pulumi refresh` always run the currently installed code. Nothing
live is kept on an instance: SDK clients are built inside each method from the inputs and the
environment, so a rotated key never needs an `up` before a `destroy`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi.dynamic import DiffResult, ResourceProvider

# The string the engine sends for values that are unknown during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# Environment variable naming a file to which providers append one JSON line per call: which
# operation ran, in which process and with which Python (used to diagnose "which code ran my destroy").
TRACE_ENV = "PULUMI_AZBATCH_PROVIDER_TRACE"


def is_unknown(value: Any) -> bool:
    """True when `value` is, or contains, a value the engine does not know yet (preview)."""
    if value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


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
    """Progress for the user: the engine shows a provider's stderr lines in the CLI output."""
    print(message, file=sys.stderr, flush=True)


class ProviderBase(ResourceProvider):
    """A dynamic provider with a diff that ignores `__provider` and classes each key as update or replace."""

    #: the resource's inputs (stored outputs also hold computed values, which are not compared)
    input_keys: frozenset[str] = frozenset()
    #: inputs whose change needs a new resource; every other changed input is updated in place
    replace_keys: frozenset[str] = frozenset()

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        keys = self.input_keys or public_inputs(news).keys()
        changed = sorted(changed_keys(olds, news, keys))
        replaces = [k for k in changed if k in self.replace_keys]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The keys whose new value differs from the stored one (an unknown new value counts as a change)."""
    return [k for k in keys if not k.startswith("__") and (is_unknown(news.get(k)) or olds.get(k) != news.get(k))]
