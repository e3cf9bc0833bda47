"""Shared plumbing of the benchmarks: the emulators, SDK clients that count requests, timing, results.

Every figure that is compared is a ratio of two things measured side by side in the same run, so
that a slower or busier machine moves both sides alike. Sides are measured interleaved (A, B, A, B,
...) and each side keeps its best run, which is the least disturbed by unrelated load.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.pipeline.policies import SansIOHTTPPolicy

from pulumi_azbatch.localdev import Emulators, Endpoints

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
LINUX = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")
MIB = 1024 * 1024


class RequestCounter(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """An azure-core policy that counts every HTTP request a client sends, by method and path shape.

    Installed as a per-retry policy, so a retried request counts each time it goes on the wire.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[float, str, str]] = []

    def on_request(self, request: Any) -> None:
        url = request.http_request.url.split("?", 1)[0]
        with self._lock:
            self.requests.append((time.monotonic(), request.http_request.method, url))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(
        self,
        *,
        method: str | None = None,
        suffix: str | None = None,
        since: float = 0.0,
        until: float = math.inf,
    ) -> int:
        """Requests matching ``method`` and a path ending in ``suffix``, sent in [since, until)."""
        with self._lock:
            return sum(
                1
                for at, meth, url in self.requests
                if since <= at < until
                and (method is None or meth == method)
                and (suffix is None or url.endswith(suffix))
            )


def batch_client(endpoints: Endpoints, counter: RequestCounter | None = None, **kwargs: Any) -> BatchClient:
    """A plain SDK client for the emulator (SDK defaults), optionally counting its requests."""
    credential = AzureNamedKeyCredential(endpoints.batch_account_name, endpoints.batch_account_key)
    if counter is not None:
        kwargs["per_retry_policies"] = [counter]
    return BatchClient(endpoint=endpoints.batch_url, credential=credential, **kwargs)


def provider_client(endpoints: Endpoints, counter: RequestCounter | None = None) -> Any:
    """A client built exactly as the Job provider builds its own (``BatchAccount.client``)."""
    from pulumi_azbatch.dynamic_providers.batch_client import BatchAccount

    account = BatchAccount(endpoints.batch_url, endpoints.batch_account_name, endpoints.batch_account_key)
    return account.client(per_retry_policies=[counter]) if counter is not None else account.client()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_pool(client: BatchClient, pool_id: str, nodes: int, slots: int, timeout: float = 60) -> None:
    """A Linux pool; waits until ``nodes`` nodes are idle (none for an idle pool that runs nothing)."""
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            target_dedicated_nodes=nodes,
            task_slots_per_node=slots,
            virtual_machine_configuration=LINUX,
        )
    )
    deadline = time.monotonic() + timeout
    while sum(1 for n in client.list_nodes(pool_id) if n.state == m.BatchNodeState.IDLE) < nodes:
        if time.monotonic() > deadline:
            raise TimeoutError(f"pool {pool_id}: {nodes} nodes not idle after {timeout}s")
        time.sleep(0.05)


def create_job(client: BatchClient, job_id: str, pool_id: str, **kwargs: Any) -> None:
    client.create_job(
        m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), **kwargs)
    )


def delete_job_quietly(client: BatchClient, job_id: str) -> None:
    """Delete a job without waiting (keeps the emulator's memory flat between runs)."""
    with contextlib.suppress(Exception):
        client.begin_delete_job(job_id, polling_interval=1)  # the poller is not waited on


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def best_of_interleaved(
    repeat: int, sides: dict[str, Callable[[int], float | None]]
) -> dict[str, list[float]]:
    """Run each side ``repeat`` times, alternating sides; each call returns its own duration (or None
    to be timed here). Returns every duration per side (best = min)."""
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeat):
        for name, once in sides.items():
            started = time.perf_counter()
            measured = once(i)
            runs[name].append(measured if measured is not None else time.perf_counter() - started)
    return runs


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass
class Ratio:
    """A compared figure: its value, which way is better, and the goal (None: no goal, report only)."""

    value: float
    higher_is_better: bool
    goal: float | None = None

    @property
    def meets_goal(self) -> bool | None:
        if self.goal is None or math.isnan(self.value):
            return None
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def as_json(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 4),
            "higher_is_better": self.higher_is_better,
            "goal": self.goal,
            "meets_goal": self.meets_goal,
        }


@dataclass
class Row:
    """One line of the table: a benchmark case, its measured figures, its ratio and goal."""

    bench: str
    case: str
    measured: str
    ratio_name: str = ""
    ratio: Ratio | None = None
    goal_text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "case": self.case,
            "measured": self.measured,
            "ratio_name": self.ratio_name,
            "ratio": self.ratio.as_json() if self.ratio else None,
            "goal": self.goal_text,
        }


@dataclass
class BenchResult:
    """What one benchmark produced: table rows, ratios keyed for the regression check, raw data."""

    name: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def ratios(self) -> dict[str, Ratio]:
        return {f"{r.bench} {r.case} {r.ratio_name}": r.ratio for r in self.rows if r.ratio is not None}


@dataclass
class Context:
    """What every benchmark gets: the running emulators, the mode, and a scratch directory."""

    emulators: Emulators
    quick: bool
    scratch: Path
    scale: bool = False  # `--scale`: 100,000-task jobs (B1, B2, B9)

    @property
    def endpoints(self) -> Endpoints:
        return self.emulators.endpoints


@contextlib.contextmanager
def env_vars(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or unset, for None) environment variables for the duration of a block."""
    import os

    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fmt_seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
