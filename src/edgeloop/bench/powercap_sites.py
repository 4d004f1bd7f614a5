"""The sites of the power-cap bench: a stand-in office building and the depot, each with its load controller.

`StandInBuilding` is a one-zone building (a thermal capacity, a loss to the outdoors, heat from people, equipment
and sun) with an inflexible load (lights, plugs) and a cooling plant whose electric power can be limited like
the chargers': `set_cooling` (kW) holds for `hold_s`, then the plant falls back to its thermostat capped at
`failsafe_kw`; never commanded, it is a plain thermostat at the setpoint. It stands in for the building simulator
of `edgeloop.sim.building` here because the bench needs a hard bound on a building's draw.

`BuildingSite` and `DepotSite` turn the limit from the power-cap protocol into commands (`edgeloop.fleet.flex`);
with no limit (the uncoordinated run) they send nothing and the plants run as they would with no agent.

>>> b = StandInBuilding("building-1", seed=0, start_ts=14 * 3600.0)
>>> b.step().ts, round(b.power_kw()) > 0
(50415.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edgeloop.fleet.flex import ChargingScheduler, CoolingScheduler
from edgeloop.sim.depot import DepotPlant
from edgeloop.sim.factory.plant import StepResult

HOUR = 3600.0
DAY = 86_400.0


def hour_of(ts: float) -> float:
    return (ts % DAY) / HOUR


class StandInBuilding:
    def __init__(
        self,
        site: str,
        seed: int,
        start_ts: float,
        interval_s: float = 15.0,
        hold_s: float = 60.0,
        failsafe_kw: float = 30.0,
    ) -> None:
        rng = np.random.default_rng([seed, sum(map(ord, site))])
        self.site = site
        self.now = start_ts
        self.interval_s = interval_s
        self.hold_s = hold_s
        self.failsafe_kw = failsafe_kw
        self.size = float(rng.uniform(0.85, 1.15))
        self.capacity_kwh_per_k = 70.0 * self.size
        self.ua_kw_per_k = 5.0 * self.size
        self.cop = 3.2
        self.max_kw = 75.0 * self.size
        self.phase_h = float(rng.uniform(-0.7, 0.7))
        self.temp_c = 24.0
        self.cooling = CoolingScheduler()
        self._command: float | None = None
        self._command_until = -math.inf
        self._power = 0.0
        self._base = 0.0
        self.comfort_h = 0.0

    def occupancy(self, ts: float) -> float:
        h = hour_of(ts) - self.phase_h
        return float(np.clip(min(h - 7.0, 19.0 - h), 0.0, 1.0))  # ramps up 7-8, down 18-19

    def outdoor_c(self, ts: float) -> float:
        return 27.0 + 7.0 * math.sin(2 * math.pi * (hour_of(ts) - 9.0) / 24.0)

    def base_kw(self, ts: float) -> float:
        """Lights and plugs: the load no agent can shift."""
        return self.size * (22.0 + 33.0 * self.occupancy(ts))

    def heat_kw(self, ts: float) -> float:
        """Heat into the zone: equipment and people, the sun, the outdoors."""
        sun = max(0.0, math.sin(math.pi * (hour_of(ts) - 6.0) / 14.0)) * 35.0 * self.size
        return 0.9 * self.base_kw(ts) + sun + self.ua_kw_per_k * (self.outdoor_c(ts) - self.temp_c)

    def thermostat_kw(self, ts: float) -> float:
        heat = self.heat_kw(ts)
        return min(self.max_kw, self.cooling.power_to_hold(24.0, self.temp_c, heat, self.capacity_kwh_per_k, self.cop))

    def set_cooling(self, kw: float) -> None:
        self._command = float(np.clip(kw, 0.0, self.max_kw))
        self._command_until = self.now + self.hold_s

    def step(self) -> StepResult:
        dt = self.interval_s
        self.now += dt
        ts = self.now
        if self._command is None:
            cool = self.thermostat_kw(ts)
        elif ts - dt < self._command_until:
            cool = self._command
        else:
            cool = min(self.failsafe_kw, self.thermostat_kw(ts))
        heat = self.heat_kw(ts)
        self.temp_c += (heat - cool * self.cop) * (dt / HOUR) / self.capacity_kwh_per_k
        self._base = self.base_kw(ts)
        self._power = self._base + cool
        if self.occupancy(ts) > 0 and self.temp_c > self.cooling.band_top_c + 0.5:
            self.comfort_h += dt / HOUR
        return StepResult(ts, [("cooling", {"power_kw": cool, "zone_temp": self.temp_c})], [])

    def power_kw(self) -> float:
        return self._power

    def reserve_kw(self) -> float:
        """The most the building draws with no agent: its largest inflexible load plus the fail-safe cooling."""
        return self.size * 55.0 + self.failsafe_kw


class SiteControl(Protocol):
    site: str

    def reserve_kw(self) -> float: ...
    def need(self, now: float) -> tuple[float, float]: ...
    def apply(self, now: float, limit_kw: float) -> None: ...
    def power_kw(self) -> float: ...
    def step(self) -> StepResult: ...


@dataclass(slots=True)
class BuildingSite:
    """Cooling under the site's limit: what is left after the inflexible load, with a small margin."""

    plant: StandInBuilding
    margin_kw: float = 1.5
    site: str = field(init=False)

    def __post_init__(self) -> None:
        self.site = self.plant.site

    def reserve_kw(self) -> float:
        return self.plant.reserve_kw()

    def need(self, now: float) -> tuple[float, float]:
        p = self.plant
        base = p.base_kw(now + p.interval_s) + self.margin_kw
        must, want = p.cooling.need(hour_of(now), p.temp_c, p.heat_kw(now), p.capacity_kwh_per_k, p.cop, p.max_kw)
        return base + must, base + want

    def apply(self, now: float, limit_kw: float) -> None:
        p = self.plant
        room = limit_kw - p.base_kw(now + p.interval_s) - self.margin_kw
        _, want = p.cooling.need(hour_of(now), p.temp_c, p.heat_kw(now), p.capacity_kwh_per_k, p.cop, p.max_kw)
        p.set_cooling(max(0.0, min(room, want)))

    def power_kw(self) -> float:
        return self.plant.power_kw()

    def step(self) -> StepResult:
        return self.plant.step()


def cheap_hour(ts: float) -> bool:
    h = hour_of(ts)
    return h >= 23.0 or h < 7.0


@dataclass(slots=True)
class DepotSite:
    """Charging under the site's limit, least laxity first, at full power only in the cheap night hours."""

    plant: DepotPlant
    scheduler: ChargingScheduler = field(default_factory=ChargingScheduler)
    site: str = field(init=False)

    def __post_init__(self) -> None:
        self.site = self.plant.site

    def reserve_kw(self) -> float:
        return len(self.plant.devices) * self.plant.failsafe_kw

    def need(self, now: float) -> tuple[float, float]:
        return self.scheduler.need(self.plant.sessions(), now, cheap_hour(now))

    def apply(self, now: float, limit_kw: float) -> None:
        plan = self.scheduler.plan(self.plant.sessions(), now, limit_kw, cheap_hour(now))
        for charger in self.plant.devices:
            kw = math.floor(plan.get(charger, 0.0) * 1e6) / 1e6  # never round up over the limit
            self.plant.command(charger, "set_power", {"kw": kw})

    def power_kw(self) -> float:
        return self.plant.power_kw()

    def step(self) -> StepResult:
        return self.plant.step()
