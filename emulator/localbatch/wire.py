"""Wire formats of the Batch REST API: timestamps, ISO-8601 durations, ETags and state names.

Owns: the one clock (`utcnow`, moved forward only by `advance_clock`), the timestamp form Batch writes
in bodies (`iso`, `parse_iso`), the duration parser (`parse_duration`, with the service's "unlimited")
and writer (`iso_duration`), the pool defaults the service fills in (`fill_pool_defaults`), the
ETag/lastModified stamp every change gets (`touch`), `clone` (the copy of a record handed out), the
state transition bookkeeping (`set_state`: previousState and the transition times), the state names
as `StrEnum`s and the defaults the service fills in.
May import: the standard library and `exceptions` (a bad duration is a 400). Nothing else of the emulator.
"""

from __future__ import annotations

import functools
import itertools
import pickle
import re
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from .exceptions import invalid_property

Doc = dict[str, Any]

# .NET TimeSpan.MaxValue: what Batch returns for an unset ("unlimited") duration.
UNLIMITED = "P10675199DT2H48M5.4775807S"
_MAX_DURATION_SECONDS = 10675199 * 86400 + 2 * 3600 + 48 * 60 + 5.4775807
DEFAULT_RETENTION = "P7D"
RELEASE_DEFAULT_WALL_CLOCK = "PT15M"
RELEASE_MAX_WALL_CLOCK = timedelta(minutes=15)
DEFAULT_USER_IDENTITY: Doc = {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}


class PoolState(StrEnum):
    ACTIVE = "active"
    DELETING = "deleting"


class AllocationState(StrEnum):
    STEADY = "steady"
    RESIZING = "resizing"
    STOPPING = "stopping"


class NodeState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STARTING = "starting"
    WAITING_FOR_START_TASK = "waitingforstarttask"
    START_TASK_FAILED = "starttaskfailed"
    UNUSABLE = "unusable"
    OFFLINE = "offline"
    PREEMPTED = "preempted"
    DEALLOCATING = "deallocating"
    DEALLOCATED = "deallocated"
    REBOOTING = "rebooting"
    REIMAGING = "reimaging"
    LEAVING_POOL = "leavingpool"


class JobState(StrEnum):
    ACTIVE = "active"
    DISABLING = "disabling"
    DISABLED = "disabled"
    ENABLING = "enabling"
    TERMINATING = "terminating"
    COMPLETED = "completed"
    DELETING = "deleting"


class JobScheduleState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    TERMINATING = "terminating"
    COMPLETED = "completed"
    DELETING = "deleting"


class TaskState(StrEnum):
    ACTIVE = "active"
    PREPARING = "preparing"
    RUNNING = "running"
    COMPLETED = "completed"


# Node states the scheduler assigns tasks in.
SCHEDULABLE_NODE_STATES = (NodeState.IDLE, NodeState.RUNNING)
# Job states in which the job still runs work (its wall clock counts, prep reruns after a reboot).
LIVE_JOB_STATES = (JobState.ACTIVE, JobState.DISABLED, JobState.DISABLING, JobState.ENABLING)
# Task states that hold a slot on a node.
BUSY_TASK_STATES = (TaskState.RUNNING, TaskState.PREPARING)

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def fill_pool_defaults(doc: Doc) -> None:
    """Fill in what the service returns for a pool created without it (examples/Pools_GetPool_Basic.json
    of the 2025-06-01 spec, and the defaults its property descriptions state), so a client reading the
    pool back sees the service's values and not a difference from what it sent."""
    doc.setdefault("resizeTimeout", "PT15M")
    doc.setdefault("enableInterNodeCommunication", False)
    doc.setdefault("taskSlotsPerNode", 1)
    doc.setdefault("targetNodeCommunicationMode", "default")
    doc.setdefault("taskSchedulingPolicy", {}).setdefault("nodeFillType", "spread")
    vmc = doc.get("virtualMachineConfiguration") or {}
    image = vmc.get("imageReference") or {}
    if image.get("publisher") and not image.get("virtualMachineImageId"):
        image.setdefault("version", "latest")
    for disk in vmc.get("dataDisks") or []:
        disk.setdefault("caching", "readwrite")
        if not disk.get("storageAccountType"):
            disk.setdefault("managedDisk", {}).setdefault("storageAccountType", "standard_lrs")
    for account in doc.get("userAccounts") or []:
        account.setdefault("elevationLevel", "nonadmin")
    network = doc.get("networkConfiguration")
    if isinstance(network, dict):
        network.setdefault("dynamicVNetAssignmentScope", "none")
        network.setdefault("enableAcceleratedNetworking", False)
    start = doc.get("startTask")
    if isinstance(start, dict):
        start.setdefault("maxTaskRetryCount", 0)
        # As a pool reads back from the service (azure-sdk-for-js batch-rest recording
        # recording_should_list_a_maximum_number_of_pools.json): the task-level auto user and the
        # documented default of waitForSuccess.
        start.setdefault("waitForSuccess", True)
        if not start.get("userIdentity"):
            start["userIdentity"] = clone(DEFAULT_USER_IDENTITY)


def fill_auto_pool_defaults(pool: Doc) -> None:
    """The pool of an autoPoolSpecification as a job reads back (azure-sdk-for-python's recorded
    test_batch_jobs): the pool defaults, and zero targets with autoscale off when it does not scale."""
    fill_pool_defaults(pool)
    if not pool.get("enableAutoScale"):
        pool.setdefault("targetDedicatedNodes", 0)
        pool.setdefault("targetLowPriorityNodes", 0)
        pool["enableAutoScale"] = False


_T = TypeVar("_T")


def clone(doc: _T) -> _T:
    """A deep copy of a wire document (JSON-shaped data), as a reader gets it.

    A pickle round trip, not `copy.deepcopy`: the same result for plain data in a quarter of the
    time, and task lists copy their page under the service's lock.
    """
    copied: _T = pickle.loads(pickle.dumps(doc, pickle.HIGHEST_PROTOCOL))
    return copied


# How far the emulator's clock runs ahead of the real one (seconds). Only `advance_clock` moves it: the
# admin route `POST /_localbatch/clock` when the server was started with clock control, so a test can
# see a job schedule's recurrence, start window or a job's maxWallClockTime in seconds. Never backwards.
_clock_offset = 0.0


def utcnow() -> datetime:
    """The emulator's current UTC time: the real time plus any `advance_clock` (one clock for everything
    the service times: schedules, job and retention deadlines, state transition times, task times)."""
    return datetime.now(UTC) + timedelta(seconds=_clock_offset)


def advance_clock(seconds: float) -> float:
    """Move the emulator's clock `seconds` forward (ValueError when negative); returns the total offset."""
    global _clock_offset
    if not seconds >= 0:
        raise ValueError(f"the clock only moves forward; {seconds!r} seconds is not allowed")
    _clock_offset += float(seconds)
    return _clock_offset


def clock_offset() -> float:
    """How many seconds the emulator's clock runs ahead of the real time."""
    return _clock_offset


def iso(dt: datetime) -> str:
    """RFC 3339 UTC with microseconds and `Z`, the form Batch puts in bodies."""
    global _last_iso
    last = _last_iso
    if last[0] is dt:
        return last[1]  # one transition stamps several fields with the same `now`
    original = dt
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # isoformat, not strftime: a task's start stamps several times, and strftime was most of it.
    text = dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _last_iso = (original, text)  # one tuple, replaced whole: safe to read from any thread
    return text


_last_iso: tuple[datetime | None, str] = (None, "")


def parse_iso(value: str) -> datetime:
    """Parse a timestamp written by `iso` (or any RFC 3339 UTC value with up to 7 fraction digits)."""
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_duration(value: Any, name: str) -> timedelta | None:
    """An ISO-8601 duration as sent by the SDK (`PT01H30M00S`, `P7D`, `PT0.5S`); None if unlimited."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        return _parse_duration_text(value, name)  # the same few values on every task: remembered
    return _parse_duration(value, name)


@functools.lru_cache(maxsize=512)
def _parse_duration_text(value: str, name: str) -> timedelta | None:
    return _parse_duration(value, name)


def _parse_duration(value: Any, name: str) -> timedelta | None:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT"):
        raise invalid_property(name, value, "The value is not a valid ISO-8601 duration.")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    total = parts["w"] * 604800 + parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if total > _MAX_DURATION_SECONDS:
        # Batch reads durations as .NET TimeSpans; a longer one cannot be represented (and would
        # overflow `timedelta`), so it is refused like any other malformed value.
        raise invalid_property(
            name, value[:64], f"The duration may be at most {UNLIMITED} (TimeSpan.MaxValue)."
        )
    delta = timedelta(seconds=total)
    # Anything of ten thousand days or more is the service's "unlimited".
    return None if delta >= timedelta(days=10000) else delta


def iso_duration(delta: timedelta) -> str:
    """An ISO-8601 duration as the service writes it (`PT1H2M3.5S`, `P2D`, `PT0S`)."""
    days, rest = divmod(max(delta.total_seconds(), 0.0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if secs or not (days or clock):
        clock += f"{secs:.3f}".rstrip("0").rstrip(".") + "S"
    return "P" + (f"{int(days)}D" if days else "") + (f"T{clock}" if clock else "")


def seconds(value: Any, name: str) -> float | None:
    """`parse_duration` in seconds (None if unlimited)."""
    delta = parse_duration(value, name)
    return None if delta is None else delta.total_seconds()


_etag_counter = itertools.count(int(time.time() * 1e7))


def touch(doc: Doc, now: datetime | None = None) -> None:
    """Give `doc` a new ETag and lastModified, as every change on the service does."""
    doc["eTag"] = f"0x8DD{next(_etag_counter) % 16**12:012X}"
    doc["lastModified"] = iso(now or utcnow())


def set_state(doc: Doc, state: str, now: datetime | None = None) -> None:
    """Move `doc` to `state`, keeping previousState and the transition times; no-op if already there."""
    now = now or utcnow()
    if doc.get("state") == state:
        return
    if "state" in doc:
        doc["previousState"] = doc["state"]
        doc["previousStateTransitionTime"] = doc["stateTransitionTime"]
    doc["state"] = str(state)
    doc["stateTransitionTime"] = iso(now)
    touch(doc, now)
