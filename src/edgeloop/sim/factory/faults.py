"""The fault schedule of one pump or motor, drawn up front from the device's own random stream
(see `edgeloop.sim.faults` for why up front).

The mix is meant to look like a real plant's (sources in docs/simulators.md):
- a share `NO_PRECURSOR_SHARE` of the faults that end in a failure give no sign before it (`sudden_failure`: an
  insulation breakdown, a seal that lets go, a foreign object): no learner can catch them, so no agent can
  avoid them;
- the others (`bearing_wear`, `cavitation`) give a precursor whose P-F interval (from the first detectable sign
  to the failure) varies by a factor of about nine between faults, as published P-F intervals do for one
  detection technique (vibration analysis: 1-9 months). Time in the simulator is compressed (faults come at
  a fraction per device-day, not per device-year), so `hours_to_failure` spans 1.5-13.5 h, log-uniform: the
  short end leaves the agent too little time to act.
"""

from __future__ import annotations

import numpy as np

from edgeloop.sim.faults import HOUR, FaultRecord, PlannedFault, poisson_starts

__all__ = [
    "DEVELOPING", "HOUR", "KIND_WEIGHTS", "NO_PRECURSOR", "NO_PRECURSOR_SHARE", "PF_HOURS", "SENSOR", "FaultRecord",
    "PlannedFault", "kind_weights", "plan_faults",
]  # fmt: skip

#: developing faults end in a failure if nobody acts; sensor faults lie about the process but break nothing
DEVELOPING = ("bearing_wear", "cavitation", "sudden_failure")
SENSOR = ("stuck", "spike", "drift")
#: the developing kinds that give no sign before the failure: no detector can catch them
NO_PRECURSOR = ("sudden_failure",)
#: the kinds with a precursor, and the sensor faults; `sudden_failure` is added per asset type (`kind_weights`)
KIND_WEIGHTS = {"bearing_wear": 0.45, "cavitation": 0.2, "stuck": 0.1, "spike": 0.15, "drift": 0.1}
#: the share of failure-causing faults with no detectable precursor
NO_PRECURSOR_SHARE = 0.4
#: the range of `hours_to_failure` of a fault with a precursor, drawn log-uniform (a factor of nine)
PF_HOURS = (1.5, 13.5)


def kind_weights(asset_type: str) -> dict[str, float]:
    """The kinds an asset type gets and their shares; motors have no pump hydraulics, so no cavitation.

    >>> w = kind_weights("motor")
    >>> "cavitation" in w, round(w["sudden_failure"] / (w["sudden_failure"] + w["bearing_wear"]), 2)
    (False, 0.4)
    """
    weights = {k: v for k, v in KIND_WEIGHTS.items() if asset_type == "pump" or k != "cavitation"}
    warned = sum(v for k, v in weights.items() if k in DEVELOPING)
    weights["sudden_failure"] = warned * NO_PRECURSOR_SHARE / (1 - NO_PRECURSOR_SHARE)
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


def plan_faults(
    rng: np.random.Generator,
    asset_type: str,
    sensors: tuple[str, ...],
    start_ts: float,
    warmup_s: float,
    per_day: float,
    horizon_days: float = 60.0,
) -> list[PlannedFault]:
    """A Poisson stream of faults after the warm-up.

    >>> plan = plan_faults(np.random.default_rng(0), "motor", ("current",), 0.0, 3600.0, 2.0, horizon_days=5)
    >>> "cavitation" in {p.kind for p in plan}, {p.metric for p in plan if p.kind in SENSOR}
    (False, {'current'})
    """
    shares = kind_weights(asset_type)
    kinds = list(shares)
    weights = np.array([shares[k] for k in kinds])
    low, high = np.log(PF_HOURS[0]), np.log(PF_HOURS[1])
    planned: list[PlannedFault] = []
    for t in poisson_starts(rng, start_ts, warmup_s, per_day, horizon_days):
        kind = str(rng.choice(kinds, p=weights))
        metric = str(rng.choice(sensors)) if kind in SENSOR else None
        hours = float(np.exp(rng.uniform(low, high))) if kind != "sudden_failure" else 0.0
        magnitude = float(rng.uniform(6.0, 12.0)) if kind == "spike" else float(rng.uniform(0.01, 0.03))
        planned.append(PlannedFault(t, kind, hours, magnitude, metric))
    return planned
