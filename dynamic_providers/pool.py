"""A Batch pool managed through the Batch data plane (the local emulator, or an account key on Azure).

On Azure the components use azure-native's ``batch.Pool`` (ARM); this provider is the local backend's
pool, and works against any Batch endpoint that speaks the data-plane API.

* ``create`` creates the pool and waits, with progress, until every node is idle (a node whose start
  task failed, or that became unusable, fails the create: the pool is deleted again and the error
  names the node and the start task's exit code or failure).
* ``diff`` replaces the pool when a property Batch cannot change changes (VM size, image, node agent,
  containers, mounts, network, users, disks, start task...) and updates it in place when only the
  scale changes: fixed targets (``target_dedicated_nodes``, ``target_low_priority_nodes``, resize),
  autoscale (enabled, disabled, new formula or interval), or ``display_name``/``metadata`` (stored only).
* Autoscale pools: ``create`` waits until the first evaluation's targets are reached (the formula may
  ask for 0 nodes); the pool's ``auto_scale_run`` output carries the last evaluation's results.
* Properties that can hold a password, key or SAS (container registries, mounts, user accounts) are
  stored as Pulumi secrets.
* ``delete`` deletes the pool and waits until it is gone, so a replacement under the same id does not
  race the old pool's deletion (``PoolBeingDeleted``).
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from pulumi_azbatch.model.pool import POOL_SECRET_FIELDS, PoolSpec, validate_pool

from .base import ProviderBase, changed_keys, contains_unknown, public_inputs, say, trace
from .batch_client import BatchAccount, call_with_retry, error_code

_ACCOUNT_KEYS = ("batch_account_url", "batch_account_name", "batch_account_key")
#: The pool's properties as provider inputs: every ``PoolSpec`` field (``id`` as ``pool_id``) but the
#: ARM-only ones (the data plane has no pool identity or node communication mode).
_ARM_ONLY = frozenset({"identity", "target_node_communication_mode"})
_SPEC_KEYS = tuple(
    "pool_id" if name == "id" else name for name in PoolSpec.model_fields if name not in _ARM_ONLY
)
_INPUTS = (*_ACCOUNT_KEYS, *_SPEC_KEYS, "wait_timeout_seconds")
#: Changed in place: resized (fixed targets), autoscale enabled/disabled/re-formulated, or stored only.
_IN_PLACE = frozenset(
    {
        "display_name",
        "metadata",
        "target_dedicated_nodes",
        "target_low_priority_nodes",
        "resize_timeout",
        "enable_auto_scale",
        "auto_scale_formula",
        "auto_scale_evaluation_interval",
        "wait_timeout_seconds",
    }
)
#: Properties the service cannot change on an existing pool through this provider (or that name
#: another pool): every other input.
_REPLACE = frozenset(k for k in (*_ACCOUNT_KEYS, *_SPEC_KEYS) if k not in _IN_PLACE) - {"batch_account_key"}
_BAD_NODE_STATES = frozenset({"starttaskfailed", "unusable"})
_POLL_SECONDS = 1.0


def _account(props: dict[str, Any]) -> BatchAccount:
    return BatchAccount(
        url=props["batch_account_url"], name=props["batch_account_name"], key=props.get("batch_account_key")
    )


def _spec_data(props: dict[str, Any]) -> dict[str, Any]:
    """The ``PoolSpec`` properties among the provider's inputs (``pool_id`` back to ``id``, None dropped)."""
    data = {k: props.get(k) for k in _SPEC_KEYS if props.get(k) is not None}
    data["id"] = data.pop("pool_id", None)
    return data


def _with_defaults(props: dict[str, Any]) -> dict[str, Any]:
    """``props`` with every unset optional pool property at its default (in its JSON form)."""
    from pydantic_core import to_jsonable_python

    out = dict(props)
    for name, field in PoolSpec.model_fields.items():
        key = "pool_id" if name == "id" else name
        if key in _SPEC_KEYS and out.get(key) is None and not field.is_required():
            out[key] = to_jsonable_python(field.get_default(call_default_factory=True))
    return out


def _spec(props: dict[str, Any]) -> PoolSpec:
    """The pool's ``PoolSpec`` from the provider's inputs (the same model the stack config uses)."""
    return PoolSpec.model_validate(_spec_data(props))


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "").lower()


def _auto_scale_run(pool: Any) -> dict[str, Any] | None:
    """The pool's last autoscale evaluation (timestamp, results, error) as plain data, or None."""
    run = getattr(pool, "auto_scale_run", None)
    if run is None:
        return None
    error = getattr(run, "error", None)
    return {
        "timestamp": str(getattr(run, "timestamp", "") or ""),
        "results": getattr(run, "results", None),
        "error": f"{error.code}: {error.message}" if error is not None else None,
    }


class PoolError(RuntimeError):
    """A pool did not become usable (node start task failed, unusable node, timeout)."""


def _node_problem(node: Any) -> str:
    info = node.start_task_info
    detail = ""
    if info is not None:
        if info.exit_code is not None:
            detail = f"start task exit code {info.exit_code}"
        if info.failure_info is not None:
            detail += f"{'; ' if detail else ''}{info.failure_info.code}: {info.failure_info.message}"
    errors = "; ".join(f"{e.code}: {e.message}" for e in (node.errors or []))
    return (
        f"node {node.id} is {_state(node.state)}"
        + (f" ({detail})" if detail else "")
        + (f" [{errors}]" if errors else "")
    )


def wait_for_idle_nodes(client: Any, pool_id: str, timeout: float) -> list[str]:
    """Wait until the pool is steady and every node is idle; print progress; return the node ids.

    Raises :class:`PoolError` naming the node when a start task fails or a node becomes unusable,
    and on timeout (with the node states seen last).
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        pool = call_with_retry(lambda: client.get_pool(pool_id), what=f"get pool {pool_id}")
        nodes = list(
            call_with_retry(lambda: list(client.list_nodes(pool_id)), what=f"list nodes of {pool_id}")
        )
        states: dict[str, int] = {}
        for node in nodes:
            states[_state(node.state)] = states.get(_state(node.state), 0) + 1
        bad = [n for n in nodes if _state(n.state) in _BAD_NODE_STATES]
        if bad:
            raise PoolError(
                f"pool {pool_id}: "
                + "; ".join(_node_problem(n) for n in bad)
                + ". Fix the start task (see the node's startup/stderr.txt) and run pulumi up again."
            )
        for err in pool.resize_errors or []:
            say(f"pool {pool_id}: resize error {err.code}: {err.message}")
        target = int(pool.target_dedicated_nodes or 0) + int(pool.target_low_priority_nodes or 0)
        idle = states.get("idle", 0) + states.get("running", 0)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no nodes"
        line = f"pool {pool_id}: {idle}/{target} nodes ready ({summary}), allocation {_state(pool.allocation_state)}"
        if line != last:
            say(line)
            last = line
        steady = _state(pool.allocation_state) == "steady"
        if steady and (pool.resize_errors or len(nodes) >= target) and idle == len(nodes):
            if len(nodes) < target:
                say(f"pool {pool_id}: only {len(nodes)} of {target} nodes were allocated")
            return sorted(n.id for n in nodes)
        if time.monotonic() > deadline:
            raise PoolError(f"pool {pool_id}: nodes not ready after {timeout:.0f} s ({summary})")
        time.sleep(_POLL_SECONDS)


def delete_and_wait(client: Any, pool_id: str, timeout: float) -> None:
    """Delete a pool and wait until the service no longer knows it (a missing pool is fine)."""
    try:
        call_with_retry(
            lambda: client.begin_delete_pool(pool_id, polling_interval=1), what=f"delete pool {pool_id}"
        )
    except ResourceNotFoundError:
        return
    except HttpResponseError as exc:
        if error_code(exc) != "PoolBeingDeleted":
            raise
    say(f"pool {pool_id}: deleting")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call_with_retry(lambda: client.get_pool(pool_id), what=f"get pool {pool_id}")
        except ResourceNotFoundError:
            say(f"pool {pool_id}: deleted")
            return
        time.sleep(_POLL_SECONDS)
    raise PoolError(f"pool {pool_id}: still being deleted after {timeout:.0f} s")


class PoolProvider(ProviderBase):
    """Creates, resizes, reads and deletes one Batch pool through the data plane."""

    input_keys = frozenset(_INPUTS) - {"wait_timeout_seconds"}
    replace_keys = _REPLACE

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        failures: list[CheckFailure] = []
        for key in ("batch_account_url", "batch_account_name", "pool_id"):
            if not news.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        if not failures and not contains_unknown({k: news.get(k) for k in _SPEC_KEYS}):
            data = _spec_data(news)
            _pool, problems = validate_pool(data)
            for problem in problems:
                prop = problem.property
                if prop == "id" or prop.startswith("id."):
                    prop = "pool_id" + prop[2:]
                failures.append(CheckFailure(prop, problem.reason))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        trace(self, "diff")
        # A pool created before a property existed has no value stored for it: compare it as the
        # property's default, so upgrading this library does not replace existing pools.
        changed = sorted(changed_keys(_with_defaults(olds), _with_defaults(news), self.input_keys))
        replaces = [k for k in changed if k in self.replace_keys]
        # The pool id stays the same across a replacement, so the old pool must be gone first.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def _outs(self, props: dict[str, Any], node_ids: list[str], pool: Any) -> dict[str, Any]:
        outs = {k: props.get(k) for k in _INPUTS}
        outs.update(
            node_ids=node_ids,
            url=getattr(pool, "url", None),
            state=_state(getattr(pool, "state", None)),
            current_dedicated_nodes=getattr(pool, "current_dedicated_nodes", None),
            current_low_priority_nodes=getattr(pool, "current_low_priority_nodes", None),
            auto_scale_run=_auto_scale_run(pool),
        )
        return outs

    def _timeout(self, props: dict[str, Any]) -> float:
        return float(props.get("wait_timeout_seconds") or 900)

    def create(self, props: dict[str, Any]) -> CreateResult:
        trace(self, "create")
        props = public_inputs(props)
        client = _account(props).client()
        pool_id = props["pool_id"]
        options = _spec(props).to_batch_pool_create()
        try:
            call_with_retry(lambda: client.create_pool(options), what=f"create pool {pool_id}")
        except HttpResponseError as exc:
            if error_code(exc) == "PoolExists":
                raise PoolError(
                    f"pool {pool_id} already exists in account {props['batch_account_name']} but is not in this "
                    "stack's state; delete it (or choose another azbatch:pool.id) and run pulumi up again"
                ) from None
            raise
        if options.enable_auto_scale:
            say(f"pool {pool_id}: created ({options.vm_size}, autoscale)")
        else:
            say(
                f"pool {pool_id}: created ({options.vm_size}, {options.target_dedicated_nodes or 0} dedicated, "
                f"{options.target_low_priority_nodes or 0} spot node(s))"
            )
        try:
            node_ids = wait_for_idle_nodes(client, pool_id, self._timeout(props))
            pool = call_with_retry(lambda: client.get_pool(pool_id), what=f"get pool {pool_id}")
        except Exception:
            # The engine records nothing for a failed create (also when the service kept throttling
            # the waits): do not leave an orphan pool behind.
            say(f"pool {pool_id}: not usable; deleting it again")
            delete_and_wait(client, pool_id, self._timeout(props))
            raise
        return CreateResult(id_=pool_id, outs=self._outs(props, node_ids, pool))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        trace(self, "read")
        client = _account(props).client()
        try:
            pool = call_with_retry(lambda: client.get_pool(id_), what=f"get pool {id_}")
        except ResourceNotFoundError:
            return ReadResult(id_="", outs={})
        node_ids = sorted(
            n.id for n in call_with_retry(lambda: list(client.list_nodes(id_)), what=f"list nodes of {id_}")
        )
        outs = self._outs(public_inputs(props), node_ids, pool)
        outs.update(pool_id=pool.id, vm_size=pool.vm_size, task_slots_per_node=pool.task_slots_per_node)
        if not pool.enable_auto_scale:
            # Only what the stack set: an unset target stays unset (the model's default applies).
            for key in ("target_dedicated_nodes", "target_low_priority_nodes"):
                if outs.get(key) is not None or getattr(pool, key):
                    outs[key] = getattr(pool, key)
        return ReadResult(id_=id_, outs=outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trace(self, "update")
        news = public_inputs(news)
        client = _account(news).client()
        old_spec, new_spec = _spec(olds), _spec(news)
        scale_keys = ("enable_auto_scale", "auto_scale_formula", "auto_scale_evaluation_interval")
        if new_spec.enable_auto_scale:
            if any(olds.get(k) != news.get(k) for k in scale_keys):
                self._enable_auto_scale(client, id_, new_spec)
        else:
            if old_spec.enable_auto_scale:
                say(f"pool {id_}: disabling autoscale")
                call_with_retry(
                    lambda: client.disable_pool_auto_scale(id_), what=f"disable autoscale of {id_}"
                )
            if old_spec.enable_auto_scale or old_spec.fixed_targets != new_spec.fixed_targets:
                self._resize(client, id_, new_spec, self._timeout(news))
        node_ids = wait_for_idle_nodes(client, id_, self._timeout(news))
        pool = call_with_retry(lambda: client.get_pool(id_), what=f"get pool {id_}")
        return UpdateResult(outs=self._outs(news, node_ids, pool))

    def _enable_auto_scale(self, client: Any, pool_id: str, spec: PoolSpec) -> None:
        """Enable autoscale, or change the formula/interval of an autoscaled pool (evaluated at once)."""
        from azure.batch import models as m

        say(f"pool {pool_id}: autoscale formula set")
        call_with_retry(
            lambda: client.enable_pool_auto_scale(
                pool_id,
                m.BatchPoolEnableAutoScaleOptions(
                    auto_scale_formula=spec.auto_scale_formula,
                    auto_scale_evaluation_interval=spec.auto_scale_evaluation_interval,
                ),
            ),
            what=f"enable autoscale of {pool_id}",
        )

    def _resize(self, client: Any, pool_id: str, spec: PoolSpec, timeout: float) -> None:
        """Resize the pool in place (the nodes it keeps keep their ids, disks and running tasks)."""
        from azure.batch import models as m

        dedicated, low_priority = spec.fixed_targets
        deadline = time.monotonic() + timeout
        say(f"pool {pool_id}: resizing to {dedicated} dedicated and {low_priority} spot node(s)")
        options = m.BatchPoolResizeOptions(
            target_dedicated_nodes=dedicated,
            target_low_priority_nodes=low_priority,
            resize_timeout=spec.resize_timeout,
        )
        while True:
            try:
                poller = call_with_retry(
                    lambda: client.begin_resize_pool(pool_id, options, polling_interval=1),
                    what=f"resize pool {pool_id}",
                )
            except HttpResponseError as exc:
                # An earlier resize (another run, the portal) is still going: wait for it to settle.
                if error_code(exc) != "PoolBeingResized" or time.monotonic() > deadline:
                    raise
                say(f"pool {pool_id}: another resize is in progress; waiting for it to finish")
                time.sleep(_POLL_SECONDS)
                continue
            poller.result(timeout=max(1.0, deadline - time.monotonic()))
            return

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        trace(self, "delete")
        delete_and_wait(_account(props).client(), id_, self._timeout(props))


class Pool(Resource, module="azbatch", name="Pool"):
    """A Batch pool on the data plane (the local emulator's pool); ``node_ids`` lists its nodes."""

    pool_id: pulumi.Output[str]
    node_ids: pulumi.Output[list[str]]
    url: pulumi.Output[str]
    state: pulumi.Output[str]
    current_dedicated_nodes: pulumi.Output[int]
    current_low_priority_nodes: pulumi.Output[int]
    auto_scale_run: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self,
        resource_name: str,
        *,
        spec: Any,
        batch_account_url: pulumi.Input[str],
        batch_account_name: pulumi.Input[str],
        batch_account_key: pulumi.Input[str],
        wait_timeout_seconds: float = 900,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``spec`` is a :class:`pulumi_azbatch.model.PoolSpec` (or its mapping); the key is kept secret."""
        pool = spec if isinstance(spec, PoolSpec) else PoolSpec.model_validate(spec)
        data = pool.model_dump(mode="json", exclude=set(_ARM_ONLY))
        data["pool_id"] = data.pop("id")
        spec_props: dict[str, Any] = {k: data.get(k) for k in _SPEC_KEYS}
        for key in POOL_SECRET_FIELDS:
            if spec_props.get(key):
                spec_props[key] = pulumi.Output.secret(spec_props[key])
        props = {
            **spec_props,
            "batch_account_url": batch_account_url,
            "batch_account_name": batch_account_name,
            "batch_account_key": pulumi.Output.secret(batch_account_key),
            "wait_timeout_seconds": wait_timeout_seconds,
            "node_ids": None,
            "url": None,
            "state": None,
            "current_dedicated_nodes": None,
            "current_low_priority_nodes": None,
            "auto_scale_run": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(POOL_SECRET_FIELDS))
        )
        super().__init__(PoolProvider(), resource_name, props, opts)
