"""The fault schedule of one device, drawn up front from the device's own random stream.

Drawing every fault's time, kind and severity before the run starts means commands sent to one device (or an
agent being there at all) never change when and which faults other devices get: a run with an agent and one
without see the same faults start at the same times, which is what makes the ROI comparison fair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOUR = 3600.0

#: developing faults end in a failure if nobody acts; sensor faults lie about the process but break nothing
DEVELOPING = ("bearing_wear", "cavitation")
SENSOR = ("stuck", "spike", "drift")
KIND_WEIGHTS = {"bearing_wear": 0.45, "cavitation": 0.2, "stuck": 0.1, "spike": 0.15, "drift": 0.1}


@dataclass(frozen=True, slots=True)
class PlannedFault:
    start_ts: float
    kind: str
    metric: str | None  # the sensor a sensor fault affects
    hours_to_failure: float  # developing faults, at full speed
    magnitude: float  # sensor faults: spike size in sigmas, drift per hour (fraction of range)


@dataclass(slots=True)
class FaultRecord:
    """Ground truth of one fault as it played out."""

    id: str
    device: str
    kind: str
    metric: str | None
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
            "id": self.id, "device": self.device, "kind": self.kind, "metric": self.metric,
            "developing": self.kind in DEVELOPING, "start_ts": self.start_ts, "failure_ts": self.failure_ts,
            "cleared_ts": self.cleared_ts, "caught": self.caught, **self.detail,
        }  # fmt: skip


def plan_faults(
    rng: np.random.Generator,
    asset_type: str,
    sensors: tuple[str, ...],
    start_ts: float,
    warmup_s: float,
    per_day: float,
    horizon_days: float = 60.0,
) -> list[PlannedFault]:
    """A Poisson stream of faults after the warm-up. Motors have no pump hydraulics, so no cavitation."""
    kinds = [k for k in KIND_WEIGHTS if asset_type == "pump" or k != "cavitation"]
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    weights /= weights.sum()
    planned: list[PlannedFault] = []
    t = start_ts + warmup_s
    end = start_ts + horizon_days * 86_400
    while True:
        t += rng.exponential(86_400 / per_day)
        if t >= end:
            return planned
        kind = str(rng.choice(kinds, p=weights))
        metric = str(rng.choice(sensors)) if kind in SENSOR else None
        hours = float(rng.uniform(4.0, 10.0)) if kind == "bearing_wear" else float(rng.uniform(6.0, 14.0))
        magnitude = float(rng.uniform(6.0, 12.0)) if kind == "spike" else float(rng.uniform(0.01, 0.03))
        planned.append(PlannedFault(float(t), kind, metric, hours, magnitude))
