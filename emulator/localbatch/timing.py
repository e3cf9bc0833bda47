"""How long the service's slow operations take: fast (the default) or realistic.

Fast: nodes join at once (`idle`, or `waitingforstarttask` while their start task runs), a reboot or
reimage takes `REBOOT_SECONDS` so pollers can see the state, and a resize completes on the next tick.
Realistic: a node spends `allocate` seconds `creating` and `boot` seconds `starting` before its start
task runs, a reboot and a reimage take their own time, a pool stays `resizing` while any node is being
allocated, and a node not allocated within the pool's `resizeTimeout` is given up with the resize error
`AllocationTimedOut`. Every realistic duration, `resizeTimeout` included, is multiplied by `scale`, so
tests can run the same sequence of states in seconds (scale 0.01: a 60 s allocation takes 0.6 s).

Switched by `localbatch serve --timing realistic --timing-scale 0.01`, the environment variables
`LOCALBATCH_TIMING` / `LOCALBATCH_TIMING_SCALE`, or at run time by `PUT /_localbatch/timing`.
Owns `Timing` and its parsing. May import: the standard library.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

REBOOT_SECONDS = 0.3
# Typical durations on Azure for a Linux marketplace image (seconds, before `scale`).
REALISTIC = {"allocate": 60.0, "boot": 90.0, "reboot": 60.0, "reimage": 120.0}
MODES = ("fast", "realistic")


@dataclass(frozen=True)
class Timing:
    """The durations the service applies (seconds, already scaled)."""

    mode: str = "fast"
    scale: float = 1.0
    allocate: float = 0.0
    boot: float = 0.0
    reboot: float = REBOOT_SECONDS
    reimage: float = REBOOT_SECONDS

    @property
    def realistic(self) -> bool:
        return self.mode == "realistic"

    def seconds(self, op: str) -> float:
        """How long the pending node operation `op` (create, start, reboot, reimage) takes."""
        return float({"create": self.allocate, "start": self.boot}.get(op, getattr(self, op, 0.0)))

    def resize_timeout(self, seconds: float) -> float:
        """A pool's `resizeTimeout` as this mode applies it."""
        return seconds * self.scale if self.realistic else seconds

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_timing(mode: str = "fast", scale: float = 1.0, **overrides: float) -> Timing:
    """A `Timing` for `mode` (`fast` / `realistic`), realistic durations (or `overrides`, in unscaled
    seconds) multiplied by `scale`. ValueError for an unknown mode, a scale not above zero, or a
    negative or unknown duration."""
    if mode not in MODES:
        raise ValueError(f"timing mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not scale > 0:
        raise ValueError(f"timing scale must be above zero, not {scale!r}")
    unknown = set(overrides) - set(REALISTIC)
    if unknown:
        raise ValueError(f"unknown durations {sorted(unknown)}; known: {sorted(REALISTIC)}")
    if any(float(v) < 0 for v in overrides.values()):
        raise ValueError("durations must not be negative")
    if mode == "fast":
        return Timing()
    durations = {name: float(overrides.get(name, base)) * scale for name, base in REALISTIC.items()}
    return Timing(mode="realistic", scale=scale, **durations)


def timing_from_json(body: Any) -> Timing:
    """A `Timing` from the admin route's JSON body: {"mode", "scale", and optional durations}."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    extra = {k: float(v) for k, v in body.items() if k not in ("mode", "scale")}
    return make_timing(str(body.get("mode", "fast")), float(body.get("scale", 1.0)), **extra)
