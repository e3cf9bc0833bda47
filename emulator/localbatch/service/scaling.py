"""Autoscale on pools: enable / disable / evaluate, the metric sampler and the periodic evaluation
that resizes a pool to its formula's targets.

The formula language is `localbatch.autoscale` (pure); this part feeds it one `MetricsSnapshot` of each
autoscale pool every `SAMPLE_PERIOD` (30 s, as the service samples), evaluates the formula when the pool's
`autoScaleEvaluationInterval` has passed since its last `autoScaleRun` (and at once when autoscale is
enabled or the pool is created), records the run on the pool and applies its targets as a resize. The
samples live in memory: after an emulator restart a formula's history starts again, as documented in
docs/autoscale.md.
May import: `autoscale`, `entities`, `validation`, `wire`, `exceptions`, and `.base`. Not HTTP or the portal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from .. import autoscale
from ..entities import Pool
from ..exceptions import BatchError, conflict, missing_property
from ..validation import autoscale_settings
from ..wire import Doc, NodeState, iso, parse_duration, parse_iso, touch, utcnow
from .base import ServiceBase

# Enable requests for the same pool must be 30 seconds apart (BatchErrorCodeStrings
# AutoScaleTooManyRequestsToEnable: "Enable AutoScale requests for the same pool must be separated by at
# least 30 seconds").
ENABLE_SPACING_SECONDS = 30.0
USABLE_NODE_STATES = (NodeState.IDLE, NodeState.RUNNING)


class ScalingPart(ServiceBase):
    """Autoscale (`BatchService` mixin)."""

    def enable_autoscale(self, pool_id: str, body: Doc, check: Callable[[Doc], None] | None = None) -> Doc:
        """Set (or change) a pool's formula and interval and evaluate it at once; returns the pool."""
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            doc = pool.doc
            if doc["state"] == "deleting":
                raise conflict(
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion.",
                )
            if doc["allocationState"] != "steady":
                raise conflict("PoolBeingResized", "The specified pool is being resized.")
            now = utcnow()
            last = self._autoscale_enabled_at.get(pool.key)
            if last is not None and (now - last).total_seconds() < ENABLE_SPACING_SECONDS:
                raise conflict(
                    "TooManyEnableAutoScaleRequests",
                    "Enable AutoScale requests for the same pool must be separated by at least 30 seconds.",
                )
            formula = body.get("autoScaleFormula")
            if formula is None and not doc.get("enableAutoScale"):
                raise missing_property("autoScaleFormula")
            settings = autoscale_settings(
                formula if formula is not None else doc.get("autoScaleFormula"),
                body.get("autoScaleEvaluationInterval"),
                current_interval=doc.get("autoScaleEvaluationInterval"),
            )
            doc.update(
                enableAutoScale=True,
                autoScaleFormula=settings.formula,
                autoScaleEvaluationInterval=settings.interval,
            )
            self._autoscale_enabled_at[pool.key] = now
            self._run_autoscale(pool, now, apply=True)
            touch(doc, now)
            self._save_pool(pool)
            return copy.deepcopy(doc)

    def disable_autoscale(self, pool_id: str, check: Callable[[Doc], None] | None = None) -> Doc:
        """Stop evaluating the formula; the pool keeps its current targets."""
        with self._op():
            pool = self._pool(pool_id)
            if check:
                check(pool.doc)
            doc = pool.doc
            doc["enableAutoScale"] = False
            for name in (
                "autoScaleFormula",
                "autoScaleEvaluationInterval",
                "autoScaleRun",
            ):
                doc.pop(name, None)
            self._samples.pop(pool.key, None)
            self._autoscale_enabled_at.pop(pool.key, None)
            touch(doc)
            self._save_pool(pool)
            return copy.deepcopy(doc)

    def evaluate_autoscale(self, pool_id: str, body: Doc) -> Doc:
        """Evaluate `autoScaleFormula` against the pool's samples without applying it (an AutoScaleRun).

        The pool must have autoscale enabled (409 otherwise, as documented). A formula that does not
        parse or fails answers 200 with the run's `error`, as the service reports it; one over 8192
        characters is a 400 `AutoScaleFormulaTooLong`.
        """
        formula = body.get("autoScaleFormula")
        if not isinstance(formula, str) or not formula:
            raise missing_property("autoScaleFormula")
        if len(formula) > autoscale.MAX_FORMULA_LENGTH:
            problem = autoscale.check_formula(formula)
            assert problem is not None
            raise BatchError(400, problem.code, problem.message, list(problem.values))
        with self.lock:
            pool = self._pool(pool_id)
            if not pool.doc.get("enableAutoScale"):
                raise conflict(
                    "OperationInvalidForCurrentState",
                    "The pool does not have automatic scaling enabled; enable it before evaluating a formula.",
                )
            now = utcnow()
            result = autoscale.evaluate(formula, self._samples_for(pool, now), now)
            return _run_doc(result, now)

    def _samples_for(self, pool: Pool, now: datetime) -> autoscale.InMemorySampleSource:
        """The pool's sample history, with a first sample taken now if it has none."""
        source = self._samples.get(pool.key)
        if source is None:
            source = self._samples[pool.key] = autoscale.InMemorySampleSource()
            source.record(now, self._snapshot(pool))
            self._sampled_at[pool.key] = now
        return source

    def _snapshot(self, pool: Pool) -> autoscale.MetricsSnapshot:
        """The pool's counts now: tasks of the jobs that run on it, its nodes and targets."""
        active = running = succeeded = failed = 0
        for job in self.jobs.values():
            if str(job.doc.get("executionInfo", {}).get("poolId", "")).lower() != pool.key:
                continue
            if job.state == "active":
                active += job.counts["active"]
            running += job.counts["running"]
            succeeded += job.counts["succeeded"]
            failed += job.counts["failed"]
        nodes = pool.staying()
        doc = pool.doc
        return autoscale.MetricsSnapshot(
            active_tasks=active,
            running_tasks=running,
            succeeded_tasks=succeeded,
            failed_tasks=failed,
            current_dedicated_nodes=sum(1 for n in nodes if n.doc["isDedicated"]),
            current_low_priority_nodes=sum(1 for n in nodes if not n.doc["isDedicated"]),
            preempted_node_count=sum(1 for n in nodes if n.doc["state"] == NodeState.PREEMPTED),
            usable_node_count=sum(1 for n in nodes if n.doc["state"] in USABLE_NODE_STATES),
            task_slots_per_node=int(doc.get("taskSlotsPerNode", 1)),
            target_dedicated_nodes=int(doc.get("targetDedicatedNodes") or 0),
            target_low_priority_nodes=int(doc.get("targetLowPriorityNodes") or 0),
        )

    def _run_autoscale(self, pool: Pool, now: datetime, *, apply: bool) -> None:
        """Evaluate the pool's formula now, record `autoScaleRun` and take its targets.

        `apply` starts a resize when the targets changed (a pool being created takes them directly).
        A failed evaluation changes nothing but the run's `error`.
        """
        doc = pool.doc
        result = autoscale.evaluate(doc["autoScaleFormula"], self._samples_for(pool, now), now)
        doc["autoScaleRun"] = _run_doc(result, now)
        if result.error is not None:
            return
        assert result.target_dedicated_nodes is not None and result.target_low_priority_nodes is not None
        targets = (result.target_dedicated_nodes, result.target_low_priority_nodes)
        current = (
            int(doc.get("targetDedicatedNodes") or 0),
            int(doc.get("targetLowPriorityNodes") or 0),
        )
        doc["targetDedicatedNodes"], doc["targetLowPriorityNodes"] = targets
        if apply and targets != current and doc["state"] == "active":
            pool.deallocation = result.node_deallocation_option or "requeue"
            doc.pop("resizeErrors", None)
            if doc["allocationState"] == "steady":
                doc["allocationState"] = "resizing"
                doc["allocationStateTransitionTime"] = iso(now)
        touch(doc, now)
        self._save_pool(pool)

    def _advance_autoscale(self, now: datetime) -> None:
        """The scheduler's step: a sample of every autoscale pool every 30 s, and an evaluation when due."""
        for key in [k for k in self._samples if k not in self.pools]:  # deleted pools
            self._samples.pop(key, None)
            self._sampled_at.pop(key, None)
            self._autoscale_enabled_at.pop(key, None)
        for pool in list(self.pools.values()):
            doc = pool.doc
            if not doc.get("enableAutoScale") or doc["state"] != "active":
                continue
            source = self._samples_for(pool, now)
            last_sample = self._sampled_at.get(pool.key)
            if last_sample is None or now - last_sample >= autoscale.SAMPLE_PERIOD:
                source.record(now, self._snapshot(pool))
                self._sampled_at[pool.key] = now
            interval = parse_duration(doc.get("autoScaleEvaluationInterval"), "autoScaleEvaluationInterval")
            last_run = (doc.get("autoScaleRun") or {}).get("timestamp")
            if interval is not None and (last_run is None or now - parse_iso(last_run) >= interval):
                self._run_autoscale(pool, now, apply=True)


def _run_doc(result: autoscale.AutoScaleResult, now: datetime) -> Doc:
    """The wire shape of an AutoScaleRun: timestamp, results and, when it failed, error."""
    run: Doc = {"timestamp": iso(now), "results": result.results}
    if result.error is not None:
        run["error"] = result.error.to_wire()
    return run
