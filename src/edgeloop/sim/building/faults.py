"""The fault schedule of one building device, drawn up front from the device's own random stream (see
`edgeloop.sim.faults` for why up front).

Air handlers get `stuck_damper` (the outdoor-air damper freezes at a position), `leaking_valve` (the chilled-water
valve passes: cooling capacity is lost and chilled water is wasted, worse and worse until the valve fails) and
`sensor_drift` (the zone temperature sensor drifts, so the controller holds the wrong temperature). The chiller
gets `short_cycling` (it trips and restarts every few minutes; every start wears the compressor until it fails).
"""

from __future__ import annotations

import numpy as np

from edgeloop.sim.faults import HOUR, FaultRecord, PlannedFault, poisson_starts

__all__ = ["DEVELOPING", "HOUR", "KINDS", "FaultRecord", "PlannedFault", "plan_faults"]

#: developing faults end in a failure if nobody acts; the others waste energy or comfort but break nothing
DEVELOPING = ("leaking_valve", "short_cycling")
KINDS = {
    "air_handler": {"stuck_damper": 0.35, "leaking_valve": 0.35, "sensor_drift": 0.3},
    "chiller": {"short_cycling": 1.0},
}


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
    weights = KINDS[asset_type]
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds])
    p /= p.sum()
    planned: list[PlannedFault] = []
    for t in poisson_starts(rng, start_ts, warmup_s, per_day, horizon_days):
        kind = str(rng.choice(kinds, p=p))
        hours = float(rng.uniform(10.0, 30.0))
        if kind == "stuck_damper":
            magnitude = float(rng.choice([0.0, 1.0]))
        elif kind == "sensor_drift":
            magnitude = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.12))
        else:
            magnitude = float(rng.uniform(240.0, 480.0))
        planned.append(PlannedFault(t, kind, hours, magnitude))
    return planned
