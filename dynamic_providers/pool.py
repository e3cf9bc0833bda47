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
from collections.abc import Collection
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

from .base import ProviderBase, changed_keys, contains_unknown, public_inputs, say, secret_if_sas, trace
from .batch_client import BatchAccount, call_with_retry, error_code
from .ownership import (
    ADOPT_INPUT,
    OWNER_INPUTS,
    Verdict,
    announce_adoption,
    foreign_left_alone,
    mark_of_inputs,
    mark_of_object,
    owner_inputs,
    owner_text,
    refusal,
    verdict,
    with_mark,
    with_nonce,
)

_ACCOUNT_KEYS = ("batch_account_url", "batch_account_name", "batch_account_key")
#: The pool's properties as provider inputs: every ``PoolSpec`` field (``id`` as ``pool_id``) but the
#: ARM-only ones (the data plane has no pool identity or node communication mode).
_ARM_ONLY = frozenset({"identity", "target_node_communication_mode"})
_SPEC_KEYS = tuple(
    "pool_id" if name == "id" else name for name in PoolSpec.model_fields if name not in _ARM_ONLY
)
_INPUTS = (*_ACCOUNT_KEYS, *_SPEC_KEYS, *OWNER_INPUTS, ADOPT_INPUT, "wait_timeout_seconds")
#: Output: the mark an adopted pool carried when it was taken over (pools cannot be re-marked: the
#: data plane has no PATCH of a pool's metadata everywhere), so destroy still knows it is this stack's.
ADOPTED_FROM = "adopted_from"
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

    input_keys = frozenset(_INPUTS) - {"wait_timeout_seconds", ADOPT_INPUT, *OWNER_INPUTS}
    replace_keys = _REPLACE

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        trace(self, "check")
        news = with_nonce(olds, news)
        failures: list[CheckFailure] = []
        for key in ("batch_account_url", "batch_account_name", "pool_id"):
            if not news.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        if not failures and not contains_unknown({k: news.get(k) for k in _SPEC_KEYS}):
            data = _spec_data(news)
            _pool, invalid = validate_pool(data)
            for failure in invalid:
                prop = failure.property
                if prop == "id" or prop.startswith("id."):
                    prop = "pool_id" + prop[2:]
                failures.append(CheckFailure(prop, failure.reason))
        if not failures and not olds and not contains_unknown(news):
            # A new resource: refuse another owner's pool at preview (one GET; errors: create decides).
            try:
                problem, _ = self._judge(_account(news).client(), news)
            except Exception:  # noqa: BLE001
                problem = None
            if problem:
                failures.append(CheckFailure("pool_id", problem))
        return CheckResult(news, failures)

    def _judge(self, client: Any, props: dict[str, Any]) -> tuple[str | None, Any]:
        """(refusal or None, the existing pool or None) for the pool id of ``props``."""
        pool_id = props["pool_id"]
        try:
            pool = call_with_retry(lambda: client.get_pool(pool_id), what=f"get pool {pool_id}")
        except ResourceNotFoundError:
            return None, None
        mark = mark_of_inputs(props)
        found = mark_of_object(pool)
        if mark is None or verdict(found, mark) is not Verdict.FOREIGN:
            return None, pool
        if props.get(ADOPT_INPUT):
            say(
                f"warning: pool {pool_id} exists and belongs to {owner_text(found)}; adopt: true takes it over"
            )
            return None, pool
        return refusal("pool", pool_id, found, mark), pool

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
        mark = mark_of_inputs(props)
        options.metadata = _metadata_items(with_mark(_spec(props).metadata, mark)) or None
        adopted_from: dict[str, str] | None = None
        taken_over = False
        try:
            call_with_retry(lambda: client.create_pool(options), what=f"create pool {pool_id}")
            if options.enable_auto_scale:
                say(f"pool {pool_id}: created ({options.vm_size}, autoscale)")
            else:
                say(
                    f"pool {pool_id}: created ({options.vm_size}, {options.target_dedicated_nodes or 0} "
                    f"dedicated, {options.target_low_priority_nodes or 0} spot node(s))"
                )
        except HttpResponseError as exc:
            if error_code(exc) != "PoolExists":
                raise
            # The answer to an earlier create was lost (or the run was killed): adopt the pool if it
            # carries this resource's mark, or if `adopt: true` says so; refuse anyone else's.
            problem, pool = self._judge(client, props)
            if pool is None:
                raise PoolError(
                    f"pool {pool_id} was reported to exist but is gone; run pulumi up again"
                ) from None
            if problem or mark is None:
                raise PoolError(problem or f"pool {pool_id} already exists") from None
            found = mark_of_object(pool)
            judged = verdict(found, mark)
            if judged is not Verdict.OURS:
                # The mark stays as it is (see ADOPTED_FROM): remember it, so destroy knows the pool.
                adopted_from = found.metadata() if found else {}
            if judged is Verdict.FOREIGN:
                taken_over = True
                say(f"warning: pool {pool_id}: taken over from {owner_text(found)} (adopt: true)")
            else:
                say(
                    f"pool {pool_id}: already exists, made by this resource in an interrupted deployment; adopting it"
                )
        try:
            node_ids = wait_for_idle_nodes(client, pool_id, self._timeout(props))
            pool = call_with_retry(lambda: client.get_pool(pool_id), what=f"get pool {pool_id}")
        except Exception:
            if taken_over:
                raise  # someone else's pool, adopted on purpose: not ours to delete
            # The engine records nothing for a failed create (also when the service kept throttling
            # the waits): do not leave an orphan pool behind.
            say(f"pool {pool_id}: not usable; deleting it again")
            delete_and_wait(client, pool_id, self._timeout(props))
            raise
        return CreateResult(
            id_=pool_id, outs={**self._outs(props, node_ids, pool), ADOPTED_FROM: adopted_from}
        )

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
        outs = {**self._outs(public_inputs(props), node_ids, pool), ADOPTED_FROM: props.get(ADOPTED_FROM)}
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
        return UpdateResult(outs={**self._outs(news, node_ids, pool), ADOPTED_FROM: olds.get(ADOPTED_FROM)})

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
        client = _account(props).client()
        mark = mark_of_inputs(props)
        if mark is not None:
            try:
                pool = call_with_retry(lambda: client.get_pool(id_), what=f"get pool {id_}")
            except ResourceNotFoundError:
                return
            found = mark_of_object(pool)
            adopted = props.get(ADOPTED_FROM)
            ours = verdict(found, mark) is Verdict.OURS or (
                adopted is not None and (found.metadata() if found else {}) == adopted
            )
            if not ours:
                say(foreign_left_alone("pool", id_, found, mark))
                return
        delete_and_wait(client, id_, self._timeout(props))


def _metadata_items(metadata: dict[str, str]) -> list[Any]:
    from azure.batch import models as m

    return [m.BatchMetadataItem(name=k, value=v) for k, v in metadata.items()]


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
        secret_properties: Collection[str] = (),
        adopt: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``spec`` is a :class:`pulumi_azbatch.model.PoolSpec` (or its mapping); the key is kept secret.

        ``adopt`` takes over an existing pool of the same id that is not this resource's (announced).
        """
        pool = spec if isinstance(spec, PoolSpec) else PoolSpec.model_validate(spec)
        data = pool.model_dump(mode="json", exclude=set(_ARM_ONLY))
        data["pool_id"] = data.pop("id")
        props = {
            **{k: data.get(k) for k in _SPEC_KEYS},
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
            ADOPTED_FROM: None,
            **owner_inputs("azbatch:Pool", resource_name),
            ADOPT_INPUT: adopt,
        }
        names = {"pool_id" if k == "id" else k for k in secret_properties}
        # Parts that can hold a password, key or SAS are always secret; others when their config is.
        secret = sorted(
            k
            for k in _SPEC_KEYS
            if ("*" in names or k in names or k in POOL_SECRET_FIELDS) and props.get(k) not in (None, [], {})
        )
        for key in secret:
            props[key] = pulumi.Output.secret(props[key])
        for key in ("start_task", "metadata"):  # a resource file URL or a value with a SAS
            if props.get(key) is not None and key not in secret:
                props[key] = secret_if_sas(props[key])
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["batch_account_key", *secret])
        super().__init__(
            PoolProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts)
        )
        if adopt:
            announce_adoption(self, "pool", resource_name)
