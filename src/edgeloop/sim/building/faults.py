"""The fault schedule of one building device, drawn up front from the device's own random stream.

As in the factory, every fault's time, kind and severity is drawn before the run starts, so commands sent to one
device (or an agent being there at all) never change when and which faults the others get.

Air handlers get `stuck_damper` (the outdoor-air damper freezes at a position), `leaking_valve` (the chilled-water
valve passes: cooling capacity is lost and chilled water is wasted, worse and worse until the valve fails) and
`sensor_drift` (the zone temperature sensor drifts, so the controller holds the wrong temperature). The chiller
gets `short_cycling` (it trips and restarts every few minutes; every start wears the compressor until it fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOUR = 3600.0

#: developing faults end in a failure if nobody acts; the others waste energy or comfort but break nothing
DEVELOPING = ("leaking_valve", "short_cycling")
KINDS = {
    "air_handler": {"stuck_damper": 0.35, "leaking_valve": 0.35, "sensor_drift": 0.3},
    "chiller": {"short_cycling": 1.0},
}


@dataclass(frozen=True, slots=True)
class PlannedFault:
    start_ts: float
    kind: str
    hours_to_failure: float  # developing faults
    magnitude: float  # stuck_damper: the stuck position; sensor_drift: K per hour (signed); short_cycling: cycle s


@dataclass(slots=True)
class FaultRecord:
    """Ground truth of one fault as it played out."""

    id: str
    device: str
    kind: str
    start_ts: float
    failure_ts: float | None = None
    cleared_ts: float | None = None
    caught: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.failure_ts is None and self.cleared_ts is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "device": self.device, "kind": self.kind, "metric": self.detail.get("metric"),
            "developing": self.kind in DEVELOPING, "start_ts": self.start_ts, "failure_ts": self.failure_ts,
            "cleared_ts": self.cleared_ts, "caught": self.caught, **self.detail,
        }  # fmt: skip


def plan_faults(
    rng: np.random.Generator,
    asset_type: str,
    start_ts: float,
    warmup_s: float,
    per_day: float,
    horizon_days: float = 60.0,
) -> list[PlannedFault]:
    """A Poisson stream of faults after the warm-up.

    >>> plan = plan_faults(np.random.default_rng(0), "chiller", 0.0, 3600.0, per_day=1.0, horizon_days=5)
    >>> {p.kind for p in plan}, all(p.start_ts >= 3600.0 for p in plan)
    ({'short_cycling'}, True)
    """
    if per_day <= 0:
        return []
    weights = KINDS[asset_type]
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds])
    p /= p.sum()
    planned: list[PlannedFault] = []
    t = start_ts + warmup_s
    end = start_ts + horizon_days * 86_400
    while True:
        t += rng.exponential(86_400 / per_day)
        if t >= end:
            return planned
        kind = str(rng.choice(kinds, p=p))
        hours = float(rng.uniform(10.0, 30.0))
        if kind == "stuck_damper":
            magnitude = float(rng.choice([0.0, 1.0]))
        elif kind == "sensor_drift":
            magnitude = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.12))
        else:
            magnitude = float(rng.uniform(240.0, 480.0))
        planned.append(PlannedFault(float(t), kind, hours, magnitude))
