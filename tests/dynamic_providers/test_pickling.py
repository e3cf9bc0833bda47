"""Every dynamic provider survives the engine's dill round-trip and is pickled by reference.

By reference means the state holds ``pulumi_azbatch.dynamic_providers.<module>.<Class>``, not the
class's code: `pulumi destroy` and `pulumi refresh` then run the installed code, and a fix to a
provider reaches stacks deployed before it.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import pkgutil

import dill
import pulumi_azbatch.dynamic_providers as package
import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider


def _provider_classes() -> list[type[ResourceProvider]]:
    found: dict[str, type[ResourceProvider]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, ResourceProvider)
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
            ):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


PROVIDERS = _provider_classes()


def test_the_known_providers_are_found() -> None:
    names = {c.__name__ for c in PROVIDERS}
    assert {"JobProvider", "BlobContainerProvider"} <= names


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_dill_round_trip_by_reference(cls: type[ResourceProvider]) -> None:
    provider = cls()
    # Exactly what the SDK stores in `__provider` (sorted dicts, recurse=True) ...
    stored = serialize_provider(provider)
    raw = base64.b64decode(stored)
    # ... and what the provider process does with it.
    loaded = dill.loads(raw)
    assert type(loaded) is cls, "pickled by value: the class was rebuilt instead of imported"
    assert cls.__module__.encode() in raw and cls.__qualname__.encode() in raw
    assert b"co_code" not in raw and len(raw) < 2000, "the class's code went into the state"
    # Nothing live (clients, credentials) rides along on the instance.
    assert vars(loaded) == {}
    again = dill.loads(dill.dumps(provider, recurse=True))
    assert type(again) is cls
