"""What every simulated plant keeps of a fault: the plan drawn up front and the record of how it played out.

Every fault's time, kind and severity is drawn before the run starts, from the device's own random stream, so
commands sent to one device (or an agent being there at all) never change when and which faults the others get:
a run with an agent and one without see the same faults start at the same times, which is what makes the ROI
comparison fair. Which kinds a device gets and how severe they are is each plant's own (`factory/faults.py`,
`building/faults.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOUR = 3600.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class PlannedFault:
    start_ts: float
    kind: str
    hours_to_failure: float  # developing faults, at full load
    magnitude: float  # how bad it is, in the plant's own terms (a spike's size, a drift per hour, a cycle in s)
    metric: str | None = None  # the sensor a sensor fault affects


@dataclass(slots=True)
class FaultRecord:
    """Ground truth of one fault as it played out.

    >>> record = FaultRecord("pump-001-f1", "pump-001", "bearing_wear", 100.0, developing=True)
    >>> record.active, record.to_json()["developing"]
    (True, True)
    >>> record.failure_ts = 200.0
    >>> record.active
    False
    """

    id: str
    device: str
    kind: str
    start_ts: float
    metric: str | None = None
    developing: bool = False  # ends in a failure if nobody acts
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
            "developing": self.developing, "start_ts": self.start_ts, "failure_ts": self.failure_ts,
            "cleared_ts": self.cleared_ts, "caught": self.caught, **self.detail,
        }  # fmt: skip


def poisson_starts(
    rng: np.random.Generator, start_ts: float, warmup_s: float, per_day: float, horizon_days: float = 60.0
) -> Iterator[float]:
    """The start times of a Poisson stream of faults after the warm-up, drawn one by one from `rng` (so the caller
    can draw each fault's kind and severity from the same stream in between). No faults if `per_day` is 0.

    >>> starts = list(poisson_starts(np.random.default_rng(0), 0.0, 3600.0, per_day=2.0, horizon_days=10))
    >>> len(starts) > 5, all(3600.0 < a < b for a, b in zip(starts, starts[1:]))
    (True, True)
    """
    if per_day <= 0:
        return
    t = start_ts + warmup_s
    end = start_ts + horizon_days * DAY
    while True:
        t += rng.exponential(DAY / per_day)
        if t >= end:
            return
        yield float(t)
