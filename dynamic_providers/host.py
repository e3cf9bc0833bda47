"""What the providers need from the dynamic-provider host process: the engine's cancel, and partial state.

Pulumi 3.259's Python dynamic-provider host (``python -m pulumi.dynamic``) answers the engine's
``Cancel`` (sent on the first Ctrl-C) with a no-op, and turns any exception from ``create`` or
``update`` into a plain error, so an object that exists is lost from the state. The engine itself
supports both: it sends ``Cancel`` and waits for in-flight operations, and it keeps a resource whose
create failed *after* it existed when the error carries ``ErrorResourceInitFailed`` (the resource is
stored with its outputs and "init errors", and the next ``up`` updates it even without a diff).

* :func:`install_cancel_hook` makes the host's ``Cancel`` set :data:`CANCELLED` (it swaps the code
  of the host's method: the gRPC server holds the bound method, so the function object must stay);
  waits sleep with :func:`sleep_or_cancel` and end within a poll of the first Ctrl-C.
* :func:`fail_keeping_state` ends a ``create``/``update`` with the engine's partial-failure answer:
  the id and outputs are stored and the message is the deployment's error. Outside the host (a test
  calling the provider directly) it raises :class:`KeptInState` carrying the same outputs.

May import: the Pulumi SDK, grpc and protobuf (both Pulumi dependencies). Nothing of this package.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Mapping
from typing import Any, NoReturn

#: Set once the engine asked this provider process to cancel (first Ctrl-C / SIGTERM of `pulumi`).
CANCELLED = threading.Event()

_HOST_MODULE = "pulumi.dynamic.__main__"
_PROVIDER_KEY = "__provider"


class KeptInState(RuntimeError):
    """A create/update failed after its object existed; ``outputs`` are what the state keeps."""

    def __init__(self, message: str, id_: str, outputs: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.id = id_
        self.outputs = dict(outputs)


def _host_module() -> Any:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return main if spec is not None and spec.name == _HOST_MODULE else None


def _on_cancel(self: Any, request: Any, context: Any) -> Any:  # noqa: ARG001 - the host's signature
    # Runs as the host's own `Cancel` (its code object is swapped in): import what it needs by name.
    from google.protobuf import empty_pb2
    from pulumi_azbatch.dynamic_providers.host import CANCELLED as cancelled

    cancelled.set()
    return empty_pb2.Empty()


def install_cancel_hook() -> bool:
    """Make the host's ``Cancel`` set :data:`CANCELLED` (True when running inside the host)."""
    main = _host_module()
    servicer = getattr(main, "DynamicResourceProviderServicer", None)
    cancel = getattr(servicer, "Cancel", None)
    if cancel is None or not hasattr(cancel, "__code__"):
        return False
    if cancel.__code__ is not _on_cancel.__code__:
        cancel.__code__ = _on_cancel.__code__
    return True


def sleep_or_cancel(seconds: float) -> bool:
    """Sleep ``seconds`` or until the engine cancels; True when cancelled."""
    return CANCELLED.wait(max(0.0, seconds))


def _host_call() -> tuple[Any, Mapping[str, Any]] | None:
    """The gRPC context and the inputs of the host's Create/Update running on this thread, if any."""
    frame = sys._getframe(1)
    while frame is not None:
        if (
            frame.f_code.co_name in ("Create", "Update")
            and type(frame.f_locals.get("self")).__name__ == "DynamicResourceProviderServicer"
        ):
            inputs = (
                frame.f_locals.get("props")
                if frame.f_code.co_name == "Create"
                else frame.f_locals.get("news")
            )
            context = frame.f_locals.get("context")
            if context is not None and isinstance(inputs, Mapping):
                return context, inputs
        frame = frame.f_back  # type: ignore[assignment]
    return None


def fail_keeping_state(message: str, id_: str, outputs: Mapping[str, Any]) -> NoReturn:
    """Fail the running create/update with ``message`` but keep ``id_`` and ``outputs`` in the state."""
    call = _host_call()
    if call is None:
        raise KeptInState(message, id_, outputs)
    context, inputs = call
    import grpc
    from google.rpc import status_pb2
    from pulumi.runtime import proto, rpc

    outs = {**outputs, _PROVIDER_KEY: inputs.get(_PROVIDER_KEY)}
    loop = asyncio.new_event_loop()
    try:
        properties = loop.run_until_complete(rpc.serialize_properties(outs, {}))
    finally:
        loop.close()
    detail = proto.ErrorResourceInitFailed(id=id_, properties=properties, reasons=[message])
    status = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=message)
    status.details.add().Pack(detail)
    answer = grpc.Status()
    answer.code = grpc.StatusCode.UNKNOWN
    answer.details = message
    answer.trailing_metadata = (("grpc-status-details-bin", status.SerializeToString()),)
    context.abort_with_status(answer)
    raise KeptInState(message, id_, outputs)  # not reached: abort_with_status raises
