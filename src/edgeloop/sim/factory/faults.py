"""The fault schedule of one pump or motor, drawn up front from the device's own random stream
(see `edgeloop.sim.faults` for why up front)."""

from __future__ import annotations

import numpy as np

from edgeloop.sim.faults import HOUR, FaultRecord, PlannedFault, poisson_starts

__all__ = ["DEVELOPING", "HOUR", "KIND_WEIGHTS", "SENSOR", "FaultRecord", "PlannedFault", "plan_faults"]

#: developing faults end in a failure if nobody acts; sensor faults lie about the process but break nothing
DEVELOPING = ("bearing_wear", "cavitation")
SENSOR = ("stuck", "spike", "drift")
KIND_WEIGHTS = {"bearing_wear": 0.45, "cavitation": 0.2, "stuck": 0.1, "spike": 0.15, "drift": 0.1}


def plan_faults(
    rng: np.random.Generator,
    asset_type: str,
    sensors: tuple[str, ...],
    start_ts: float,
    warmup_s: float,
    per_day: float,
    horizon_days: float = 60.0,
) -> list[PlannedFault]:
    """A Poisson stream of faults after the warm-up. Motors have no pump hydraulics, so no cavitation.

    >>> plan = plan_faults(np.random.default_rng(0), "motor", ("current",), 0.0, 3600.0, 2.0, horizon_days=5)
    >>> "cavitation" in {p.kind for p in plan}, {p.metric for p in plan if p.kind in SENSOR}
    (False, {'current'})
    """
    kinds = [k for k in KIND_WEIGHTS if asset_type == "pump" or k != "cavitation"]
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    weights /= weights.sum()
    planned: list[PlannedFault] = []
    for t in poisson_starts(rng, start_ts, warmup_s, per_day, horizon_days):
        kind = str(rng.choice(kinds, p=weights))
        metric = str(rng.choice(sensors)) if kind in SENSOR else None
        hours = float(rng.uniform(4.0, 10.0)) if kind == "bearing_wear" else float(rng.uniform(6.0, 14.0))
        magnitude = float(rng.uniform(6.0, 12.0)) if kind == "spike" else float(rng.uniform(0.01, 0.03))
        planned.append(PlannedFault(t, kind, hours, magnitude, metric))
    return planned
