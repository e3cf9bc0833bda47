"""Time-stamped metric samples that autoscale formulas read, and an in-memory store of them.

Owns the `SampleSource` protocol the evaluator reads (`history` for `GetSample` and friends, `current`
for a service-defined variable read directly, such as `$CurrentDedicatedNodes * 1.1`), the
`MetricsSnapshot` record the emulator takes of a pool every `SAMPLE_PERIOD`, and
`InMemorySampleSource`. Imports only `parser` (for the metric names).

The service records a sample every 30 seconds and makes it available to formulas after a delay of
about a minute; the emulator's samples are available as soon as they are recorded.

What the emulator measures and what it synthesizes:

- Task and node counts are measured from the emulator's own state: `$ActiveTasks`, `$RunningTasks`,
  `$PendingTasks` (= active + running, as documented), `$SucceededTasks`, `$FailedTasks`,
  `$CurrentDedicatedNodes`, `$CurrentLowPriorityNodes`, `$PreemptedNodeCount`, `$UsableNodeCount`,
  `$TaskSlotsPerNode`, and `$SampleNodeCount` (dedicated + low-priority nodes).
- Resource metrics are not measured: the emulator's nodes are folders on one machine, so a per-node
  CPU, memory, disk or network figure would be invented. `$CPUPercent`, `$WallClockSeconds`,
  `$MemoryBytes`, `$DiskBytes`, `$DiskReadBytes`, `$DiskWriteBytes`, `$DiskReadOps`,
  `$DiskWriteOps`, `$NetworkInBytes` and `$NetworkOutBytes` are recorded as 0 in every sample, so a
  formula using them evaluates (it sees an idle pool) instead of failing for lack of data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from .parser import READ_ONLY, RESOURCE_METRICS, TARGET_DEDICATED, TARGET_LOW_PRIORITY

SAMPLE_PERIOD = timedelta(seconds=30)


@dataclass(frozen=True)
class Sample:
    """One recorded value of a metric at `time` (timezone-aware UTC)."""

    time: datetime
    value: float


class SampleSource(Protocol):
    """What an autoscale evaluation reads: metric histories and current values of service variables."""

    def history(self, metric: str) -> Sequence[Sample]:
        """Every available sample of `metric` (a read-only service-defined variable), oldest first."""
        ...

    def current(self, name: str) -> float:
        """The current value of a read-only service-defined variable, or of `$TargetDedicatedNodes` /
        `$TargetLowPriorityNodes` (the pool's targets before this evaluation)."""
        ...


@dataclass(frozen=True)
class MetricsSnapshot:
    """The counts of a pool at one instant, from which one sample of every metric is made."""

    active_tasks: int = 0
    running_tasks: int = 0
    succeeded_tasks: int = 0
    failed_tasks: int = 0
    current_dedicated_nodes: int = 0
    current_low_priority_nodes: int = 0
    preempted_node_count: int = 0
    usable_node_count: int = 0
    task_slots_per_node: int = 1
    target_dedicated_nodes: int = 0
    target_low_priority_nodes: int = 0

    def metrics(self) -> dict[str, float]:
        """The value of every read-only service-defined variable in this snapshot (see module doc)."""
        counts: dict[str, int] = dict.fromkeys(RESOURCE_METRICS, 0)
        counts.update(
            {
                "$ActiveTasks": self.active_tasks,
                "$RunningTasks": self.running_tasks,
                "$PendingTasks": self.active_tasks + self.running_tasks,
                "$SucceededTasks": self.succeeded_tasks,
                "$FailedTasks": self.failed_tasks,
                "$TaskSlotsPerNode": self.task_slots_per_node,
                "$CurrentDedicatedNodes": self.current_dedicated_nodes,
                "$CurrentLowPriorityNodes": self.current_low_priority_nodes,
                "$PreemptedNodeCount": self.preempted_node_count,
                "$UsableNodeCount": self.usable_node_count,
                "$SampleNodeCount": self.current_dedicated_nodes + self.current_low_priority_nodes,
            }
        )
        return {name: float(count) for name, count in counts.items()}


class InMemorySampleSource:
    """A `SampleSource` kept in memory: `record` one snapshot per sample period, newest last.

    Samples older than `retention` are dropped. With no snapshot recorded yet, every current value is 0
    and every history is empty.
    """

    def __init__(self, retention: timedelta = timedelta(hours=24)) -> None:
        self._snapshots: deque[tuple[datetime, MetricsSnapshot, dict[str, float]]] = deque()
        self.retention = retention

    def record(self, time: datetime, snapshot: MetricsSnapshot) -> None:
        """Add the sample of every metric taken at `time` (not earlier than the last recorded one)."""
        if self._snapshots and time < self._snapshots[-1][0]:
            raise ValueError(f"sample at {time} is older than the last one at {self._snapshots[-1][0]}")
        self._snapshots.append((time, snapshot, snapshot.metrics()))
        while self._snapshots and self._snapshots[0][0] < time - self.retention:
            self._snapshots.popleft()

    def history(self, metric: str) -> Sequence[Sample]:
        return [Sample(time, metrics[metric]) for time, _, metrics in self._snapshots]

    def current(self, name: str) -> float:
        if not self._snapshots:
            return 0.0
        _, snapshot, metrics = self._snapshots[-1]
        if name == TARGET_DEDICATED:
            return float(snapshot.target_dedicated_nodes)
        if name == TARGET_LOW_PRIORITY:
            return float(snapshot.target_low_priority_nodes)
        if name not in READ_ONLY:
            raise KeyError(name)
        return float(metrics[name])
