"""How a site shifts its flexible load under the limit the power-cap protocol gives it.

Two kinds of flexible load, each reduced to the same two numbers the protocol announces (`must`: the least
draw that keeps the site's promises, `want`: what it would draw with room and a fair price) and a plan under
the limit:

- **Charging** (`ChargingScheduler`): a bus must leave at its target state of charge. Its *must* rate is what
  still meets the deadline with a buffer, spread evenly: `energy / (hours_left - buffer_h)`, at most the charger's
  rating. Under a limit, buses get their must rate least-laxity first (laxity: hours left minus hours needed at
  full power), then what is left, in the same order, up to full power when energy is cheap.
- **Cooling** (`CoolingScheduler`): a zone must stay under the comfort band's top while people are in. Its must
  power holds the zone at the top of the band; its want holds the setpoint, or a pre-cooling setpoint in the
  hours before the expensive evening, so the building coasts through the peak on stored cold.

Both are pure: time and prices are arguments.

>>> from types import SimpleNamespace as Bus
>>> s = [Bus(charger="c1", energy_needed_kwh=100.0, deadline_ts=3600.0 * 5, max_kw=50.0),
...      Bus(charger="c2", energy_needed_kwh=40.0, deadline_ts=3600.0 * 8, max_kw=50.0)]
>>> sched = ChargingScheduler(buffer_h=1.0)
>>> [round(x, 1) for x in sched.need(s, now=0.0, cheap=False)]
[30.7, 30.7]
>>> {c: round(kw, 1) for c, kw in sched.plan(s, 0.0, limit_kw=30.0, cheap=True).items()}
{'c1': 25.0, 'c2': 5.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

HOUR = 3600.0


class Session(Protocol):
    """A connected vehicle as its charger sees it (`edgeloop.sim.depot.Session` is one)."""

    @property
    def charger(self) -> str: ...
    @property
    def energy_needed_kwh(self) -> float: ...
    @property
    def deadline_ts(self) -> float: ...
    @property
    def max_kw(self) -> float: ...


@dataclass(slots=True)
class ChargingScheduler:
    """Charging power per charger under a limit, by deadline slack."""

    buffer_h: float = 1.0

    def must_kw(self, session: Session, now: float) -> float:
        hours = max(0.25, (session.deadline_ts - now) / HOUR - self.buffer_h)
        return min(session.max_kw, session.energy_needed_kwh / hours)

    def need(self, sessions: Sequence[Session], now: float, cheap: bool) -> tuple[float, float]:
        """(must, want) of the depot's chargers, kW."""
        must = sum(self.must_kw(s, now) for s in sessions)
        want = sum(s.max_kw for s in sessions) if cheap else must
        return must, want

    def plan(self, sessions: Sequence[Session], now: float, limit_kw: float, cheap: bool) -> dict[str, float]:
        """kW per charger: must rates least-laxity first, then up to full power while cheap, within `limit_kw`."""
        order = sorted(sessions, key=lambda s: (s.deadline_ts - now) / HOUR - s.energy_needed_kwh / s.max_kw)
        left = max(0.0, limit_kw)
        out: dict[str, float] = {}
        for s in order:
            give = min(left, self.must_kw(s, now))
            out[s.charger] = give
            left -= give
        if cheap:
            for s in order:
                more = min(left, s.max_kw - out[s.charger])
                out[s.charger] += more
                left -= more
        return out


@dataclass(slots=True)
class CoolingScheduler:
    """Cooling power of one zone: hold the band's top (must), the setpoint or a pre-cooling setpoint (want).

    >>> cool = CoolingScheduler()
    >>> cool.setpoint(hour=14.0), cool.setpoint(hour=18.0), cool.setpoint(hour=3.0)
    (22.0, 25.0, 24.0)
    """

    setpoint_c: float = 24.0
    band_top_c: float = 25.0
    precool_c: float = 22.0
    precool_hours: tuple[float, float] = (12.0, 16.0)  # before the expensive evening
    peak_hours: tuple[float, float] = (16.0, 21.0)  # coast on stored cold: let the zone float to the band's top
    horizon_s: float = 900.0  # reach the target over this long

    def setpoint(self, hour: float) -> float:
        if self.precool_hours[0] <= hour < self.precool_hours[1]:
            return self.precool_c
        if self.peak_hours[0] <= hour < self.peak_hours[1]:
            return self.band_top_c
        return self.setpoint_c

    def power_to_hold(self, target_c: float, temp_c: float, heat_kw: float, capacity_kwh_per_k: float,
                      cop: float) -> float:  # fmt: skip
        """Electric kW that brings the zone to `target_c` over the horizon against `heat_kw` of heat gains."""
        pull_kw = capacity_kwh_per_k * (temp_c - target_c) / (self.horizon_s / HOUR)
        return max(0.0, (heat_kw + pull_kw) / cop)

    def need(self, hour: float, temp_c: float, heat_kw: float, capacity_kwh_per_k: float, cop: float,
             max_kw: float) -> tuple[float, float]:  # fmt: skip
        """(must, want) of the zone's cooling, kW."""
        must = min(max_kw, self.power_to_hold(self.band_top_c, temp_c, heat_kw, capacity_kwh_per_k, cop))
        want = min(max_kw, self.power_to_hold(self.setpoint(hour), temp_c, heat_kw, capacity_kwh_per_k, cop))
        return must, max(must, want)
